"""The one stop of a session and every other way it ends (rules 4, 6-9, 11, 12 and 14 of
``_session.py``): :class:`Stopping`, the part of the lifecycle that owns the session's state, its one
stop, the server's end and the report of a stop that could not be confirmed.

:class:`~aioavatar.BaseSession` builds on it; the rules themselves are written in ``_session.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

import anyio

from ._backend import SessionBackend
from ._block import BlockCancellation, cancelled_around, innermost_scope
from ._cancellation import Flag, deliver_later, finish_despite_cancellation, set_flag
from ._enums import EndReason, SessionState
from ._keepalive import KeepAlive
from ._logging import describe_error
from ._unconfirmed import Unconfirmed
from .exceptions import AvatarError, NotFoundError, SessionEndedError

__all__ = ["END_REASON_LOOKUP_TIMEOUT", "Stopping"]

logger = logging.getLogger("aioavatar")

InfoT = TypeVar("InfoT")

# How long to wait for the end reason after the server ended a session (rules 7, 9, 14).
END_REASON_LOOKUP_TIMEOUT = 5.0
_Reason = EndReason | None


_ORDER = {state: rank for rank, state in enumerate(SessionState)}


class Stopping(Unconfirmed, Generic[InfoT]):
    """The session's state, its one stop and every other ending."""

    # Slots: no dict per session (~1.4 KB, and one more object for the collector to walk).
    __slots__ = (
        "__weakref__",
        "_attached",
        "_backend",
        "_background_error",
        "_block_boundary",
        "_block_cancellation",
        "_block_cancelled",
        "_block_cancelling",
        "_block_open",
        "_block_task",
        "_block_waits",
        "_end_reason",
        "_ended",
        "_keepalive",
        "_owed",
        "_server_end",
        "_state",
        "_stop_done",
        "_stop_error",
        "_stop_started",
        "stop_timeout",
    )

    _backend: SessionBackend[InfoT]

    def __init__(self, backend: SessionBackend[InfoT], *, stop_timeout: float) -> None:
        self._backend = backend
        self.stop_timeout = stop_timeout
        self._state = SessionState.STARTING
        self._end_reason: EndReason | None = None
        self._ended: Flag | None = None  # made once somebody waits (else a shared one once it ends)
        self._keepalive: KeepAlive | None = None
        # Rule 11: a cancellation that came during the stop after an exception, delivered once the
        # lifecycle is over (``_detach``): before, it would cut the rest of the exit short.
        self._owed: BaseException | None = None
        # Rule 9: the one stop, and what it found.
        self._stop_started = False
        self._stop_done: Flag | None = None  # made if a second stop waits; shared once done
        self._stop_error: BaseException | None = None
        Unconfirmed.__init__(self)  # rule 12
        # Rule 4: the keep-alive's own failure. Rules 6-8, 14: why the server ended it; the block
        # (then cancelled, see _cancel_block) and its awaits in wait_ended() (woken instead).
        self._background_error: Exception | None = None
        self._server_end: EndReason | None = None
        self._block_task: asyncio.Task[Any] | None = None
        self._block_waits = 0
        self._block_open = False
        self._block_boundary: object | None = None  # anyio's innermost scope when it was entered
        self._block_cancelling = 0  # the task's cancellation requests when it was entered
        self._block_cancellation: BlockCancellation | None = None  # made only when needed
        self._block_cancelled = False  # the block ended by its own cancellation
        # Rules 4, 6-8, 14: the session is its keep-alive's owner and its backend's hooks (through
        # the private members below); ``_detach`` ends both relations once the lifecycle is over.
        self._attached = True
        backend.attach(self)

    @property
    def session_id(self) -> str:
        """The session's id (known once the token has been created).

        Raises:
            RuntimeError: before the session has an id.
        """
        sid = self._backend.session_id
        if sid is None:
            raise RuntimeError("the session has no id yet: use it inside `async with`")
        return sid

    def _move(self, state: SessionState) -> None:
        """The one place the state changes: forward only."""
        if _ORDER[state] > _ORDER[self._state]:
            self._state = state

    async def _stop_protected(
        self,
        reason: EndReason,
        *,
        raise_cancel: bool,
        again: bool = False,
    ) -> BaseException | None:
        """Rule 11: the stop, shielded and bounded; a cancellation meanwhile is re-raised, or
        returned for the caller to deliver or drop.

        Rule 12: a stop that was not confirmed is logged at WARNING here, once, and noted on the
        cancellation it re-raises. A ``KeyboardInterrupt`` or ``SystemExit`` that cut the stop short
        counts as such a stop, and is raised here (the loop never saw it: the stop runs in the
        caller's own steps)."""
        outcome = await finish_despite_cancellation(
            self._stop_once(reason, again=again), self._backend.standins
        )
        error = outcome.error  # an interrupt, or the work's own cancellation: never a failure
        interrupt = error if isinstance(error, KeyboardInterrupt | SystemExit) else None
        if interrupt is not None and self._stop_error is None and self._end_reason is None:
            self._stop_error = interrupt  # cut short before its answer: it may not have arrived
        if self._stop_error is not None:
            self._warn_unconfirmed()
        if interrupt is not None and self._stop_error is interrupt:
            self._note_unconfirmed(interrupt)
        if outcome.interrupt is not None:
            raise outcome.interrupt
        if raise_cancel and outcome.cancelled is not None:
            if self._stop_error is not None:
                self._note_unconfirmed(outcome.cancelled)
            raise outcome.cancelled
        return outcome.cancelled

    async def _stop_if_running(self, error: BaseException) -> None:
        """Rule 9 when what follows a successful open fails (a bug; a Ctrl-C before ``ACTIVE``): the
        session runs: stopped before ``error`` propagates, ``SERVER_ERROR`` (a Ctrl-C's rule 10)."""
        running = self._backend.opened and self._state is not SessionState.ENDED
        if running and not self._stop_started:
            interrupted = isinstance(error, KeyboardInterrupt | SystemExit)
            reason = EndReason.USER_CLOSED if interrupted else EndReason.SERVER_ERROR
            cancelled = await self._stop_protected(reason, raise_cancel=False)
            if not interrupted:  # rule 11, as after a block's exception
                self._owed = cancelled
            if self._stop_error is not None:
                self._note_unconfirmed(error)

    async def _stop_once(self, reason: EndReason, *, again: bool = False) -> None:
        """Rule 9: the first caller sends the stop; the others wait for its outcome. ``again``
        (``stop()``) sends another after one unconfirmed, whose error stands until replaced."""
        done = self._stop_done
        if self._stop_started:
            if not (again and self._stop_error is not None and done is not None and done.is_set):
                if done is None:
                    done = self._stop_done = Flag()
                await done.wait()
                return
            self._stop_error_reported, self._stop_done = False, None
        self._stop_started = True
        self._move(SessionState.STOPPING)
        self._quiet()
        found: EndReason | None = reason
        try:
            # The bound starts once a connection is ours: a stop queued behind thousands of others
            # is sent late, never abandoned (_slots.py). It runs as a stand-in task, in no scope of
            # the caller's (finish_despite_cancellation): the reservation's bound, as asyncio's
            # timeout would but on the client's one timer, cancels that task.
            async with self._backend.reserved_connection(self.stop_timeout) as window:
                deadline = window.deadline
                with window:
                    stopped = await self._backend.close(reason, deadline=deadline)
                if not stopped:  # looked up on the stop's connection (not behind the other stops)
                    found = EndReason.UNKNOWN  # and within its bound (rule 11), or not known
                    with anyio.CancelScope(deadline=deadline):
                        found = await self._server_reason()
        except TimeoutError as exc:
            if isinstance(exc, AvatarError):  # the last attempt's own limit, the retries spent
                self._stop_error = exc
            else:  # the stop's own bound
                self._stop_error = TimeoutError(f"no confirmation within {self.stop_timeout:g} s")
                self._stop_error.__cause__ = exc
        except Exception as exc:  # noqa: BLE001 - kept and reported by the caller (rule 12)
            self._stop_error = exc
        else:
            if found is None:  # answered "gone", yet listed as running: not confirmed
                self._stop_error = RuntimeError("answered 'already ended', yet listed as running")
                return
            what = "stopped" if stopped else "had already ended"
            logger.info("session %s %s (%s)", self._backend.session_id, what, found._value_)
            self._stop_error = None  # confirmed: a failed attempt before this one is over
            self._mark_ended(found)
        finally:
            self._move(SessionState.ENDED)
            self._ended = set_flag(self._ended)
            self._stop_done = set_flag(self._stop_done)

    def _mark_ended(self, reason: EndReason) -> None:
        if self._end_reason is None:
            self._end_reason = reason
        self._move(SessionState.ENDED)
        self._ended = set_flag(self._ended)

    def _ended_flag(self) -> Flag:
        """The flag ``wait_ended()`` waits on (not made for an idle session nobody waits on)."""
        if self._ended is None:
            self._ended = Flag()
        return self._ended

    async def _server_reason(self, failed: _Reason = EndReason.UNKNOWN) -> _Reason:
        """The end reason the server recorded; ``None`` while it lists the session as running;
        ``failed`` when the lookup fails (after a 404 or 410 that only loses the detail)."""
        with anyio.move_on_after(END_REASON_LOOKUP_TIMEOUT):
            try:
                return await self._backend.end_reason()
            except NotFoundError:
                return failed  # gone without a trace: known no better than by a failed lookup
            except Exception as exc:  # noqa: BLE001 - a failed lookup only loses the detail
                logger.info(
                    "session %s: end reason lookup failed: %s",
                    self._backend.session_id,
                    describe_error(exc),
                )
        return failed

    # --- how the block ends after the server ended the session, or the keep-alive failed ---------

    def _finish_after_server_end(self, body_error: BaseException | None) -> None:
        """Rules 6-8: the server ended the session, or the SDK stopped it at its deadline or idle
        window; the block was cancelled unless it was awaiting wait_ended()."""
        if self._stop_error is not None:  # the SDK's own stop (deadline, idle) was not confirmed
            if body_error is not None:
                self._note_unconfirmed(body_error)
                raise body_error
            self._raise_stop_error()
            return  # the block's own stop() was told; the session is not known to have ended
        assert self._server_end is not None
        self._end_reason = self._end_reason or self._server_end
        if body_error is not None:
            raise body_error
        if self._block_cancelled:
            raise SessionEndedError(self.session_id, self._server_end)
        # The block ran to its end after the session ended: end_reason says why.

    async def _finish_after_background_failure(self, body_error: BaseException | None) -> None:
        """Rule 4: the background task failed; stop with SERVER_ERROR, raise its error."""
        failure = self._background_error
        assert failure is not None
        self._owed = await self._stop_protected(EndReason.SERVER_ERROR, raise_cancel=False)
        carrier = body_error or failure
        if self._stop_error is not None:
            self._note_unconfirmed(carrier)
        if body_error is not None:
            body_error.add_note(
                f"aioavatar: session {self._backend.session_id}: its background task failed "
                f"meanwhile ({type(failure).__name__})"
            )
        try:
            raise carrier
        finally:
            # This frame, in the traceback of what it raises, holds the session: no local may hold
            # that error too (a cycle only the collector would free).
            del failure, carrier, body_error

    # --- the endings the keep-alive and the backend report (rules 4, 6-8, 14) -------------------------
    # The session as its keep-alive (``_keepalive.Owner``) and its backend (``SessionHooks``) see it:
    # private members, none of it on the public session, and no relay object between. Once the
    # lifecycle is over, ``_detach`` makes it report itself as ending and drops the backend's and the
    # keep-alive's references to it (its only reference cycles): an ended session is freed as soon
    # as nobody holds it, not left for the garbage collector.

    def _quiet(self) -> None:
        """Ending (a stop begins, or the server ended it): no beat after this, and what the backend
        runs on the session (a realtime connection) takes nothing more."""
        if self._keepalive is not None:
            self._keepalive.cancel()
        self._backend.ending()

    def _detach(self) -> None:
        self._attached = False
        self._background_error = None  # raised (rule 4): its traceback's frames hold the session
        # Only a session known to have ended unmasks its token: one whose stop failed, or was
        # cancelled with the loop, may still run. (A cancelled keep-alive forgot its owner already.)
        self._backend.detach(may_run=self._end_reason is None)
        owed, self._owed = self._owed, None
        deliver_later(owed)  # rule 11: at the task's next wait, the exit done

    @property
    def _stopping(self) -> bool:
        return not self._attached or self._stop_started

    @property
    def _ending(self) -> bool:
        return self._stopping or self._server_end is not None

    @property
    def _idle_timeout(self) -> float:
        return self._backend.idle_timeout

    def _beat(self, *, timeout: float, deadline: float) -> Coroutine[Any, Any, None]:
        """The provider's beat (its coroutine: no level of its own above every beat)."""
        if not self._attached:
            raise RuntimeError("the session's lifecycle is over")
        limit = min(timeout, self._backend.keep_alive_limit)  # the client's timeouts.keep_alive
        return self._backend.keep_alive(timeout=limit, deadline=deadline)

    async def _presumed_lost(self) -> None:
        await self._stop_and_end(EndReason.IDLE_TIMEOUT)  # rule 6

    async def _deadline_reached(self) -> None:
        await self._stop_and_end(EndReason.MAX_DURATION_REACHED)  # rule 8

    async def _server_ended(self) -> None:
        """Rule 7: a beat was answered 404 or 410 (stopped as in rule 14 if listed as running)."""
        if self._attached:
            await self._ended_as(await self._server_reason())

    async def _stop_and_end(self, reason: EndReason) -> None:
        """Rules 6, 8 and 14: the SDK stops the session itself, then ends the block as in rule 7."""
        if self._stopping:
            return
        await self._stop_protected(reason, raise_cancel=False)
        self._on_server_end(self._end_reason or reason)  # the server's, when our stop found it

    async def _client_closing(self) -> None:
        """Rule 14: the client closes under the session: it is stopped with ``USER_DISCONNECTED``
        and its block ends as when the server ends it; a stop under way is waited for (the pool
        it goes through closes after)."""
        if self._stop_started:
            await self._stop_protected(EndReason.USER_DISCONNECTED, raise_cancel=False)
        elif self._attached and self._server_end is None:  # the server's end: no stop (rule 7)
            await self._stop_and_end(EndReason.USER_DISCONNECTED)

    async def _connection_lost(self) -> None:
        """Rule 14."""
        if self._ending:
            return
        reason = await self._server_reason(failed=None)
        if self._stop_started:
            return  # the block is ending on its own meanwhile
        await self._ended_as(reason)

    async def _ended_as(self, reason: _Reason) -> None:
        """Rules 7 and 14: the end the server recorded; a session it lists as running is stopped."""
        if reason is None:
            await self._stop_and_end(EndReason.SERVER_ERROR)
        else:
            self._on_server_end(reason)

    def _background_failed(self, error: Exception) -> None:
        """Rule 4."""
        if not self._attached:
            return
        logger.warning(
            "session %s: the keep-alive failed: %s; stopping the session",
            self._backend.session_id,
            describe_error(error),
        )
        self._background_error = error
        self._cancel_block()

    def _on_server_end(self, reason: EndReason) -> None:
        if self._server_end is None:
            self._server_end = reason
            if self._stop_error is None:  # an unconfirmed stop of ours leaves it unknown (rule 12)
                self._end_reason = self._end_reason or reason
            self._move(SessionState.ENDED)
            self._quiet()
            self._ended = set_flag(self._ended)
            logger.warning(
                "session %s ended under its block: %s", self._backend.session_id, reason.value
            )
            if not self._block_waits:
                self._cancel_block()  # a block awaiting wait_ended() is woken instead

    # --- the block's cancellation (rules 4, 6-8, 14): see ``_block.py`` ------------------------------
    # Like any cancel scope, the block is entered and exited in one task; a session exited in
    # another task gets a RuntimeError as the block's exception (and is stopped, SERVER_ERROR).

    def _block_entered(self) -> None:
        task = self._block_task
        assert task is not None
        self._block_boundary = innermost_scope(task)
        self._block_cancelling = task.cancelling()
        self._block_open = True

    def _cancel_block(self) -> None:
        """Cancel the block while it runs (rules 4, 6-8, 14)."""
        task = self._block_task
        if self._block_open and self._block_cancellation is None and task is not None:
            self._block_cancellation = BlockCancellation(task, self._block_boundary)

    def _block_exited(self, exc: BaseException | None) -> BaseException | None:
        """The block's exception, or ``None`` when it is the block's own cancellation."""
        if not self._block_open:
            return exc
        self._block_open = False  # no cancellation after this, whatever the exit says
        cancellation, self._block_cancellation = self._block_cancellation, None
        requests = 0 if cancellation is None else cancellation.close()
        self._block_boundary = None
        task = self._block_task
        assert task is not None
        for _ in range(requests):  # taken back from the task they were made on, whichever exits
            task.uncancel()
        if task is not asyncio.current_task():
            return RuntimeError(
                "a session's block was exited in a different task than it was entered in"
            )
        if (
            requests
            and isinstance(exc, asyncio.CancelledError)
            and task.cancelling() <= self._block_cancelling
            # the scope the error would reach next, not the one the block was entered in: that
            # one may be gone (an exit stack that outlived a task group it was entered in)
            and not cancelled_around(innermost_scope(task))
        ):
            self._block_cancelled = True
            return None
        return exc
