"""``BaseSession``: the ``async with`` lifecycle that never leaks a session, for every provider.

It knows no provider: each drives it through a :class:`SessionBackend` (create, start, keep-alive, stop).
``AvatarSession`` (``liveavatar/_session.py``) and ``KalturaAvatarSession`` (``kaltura/_session.py``)
are thin faces over it.

Rules (numbered so that code, tests and docs can point at them):

 1. Enter runs ``prepare`` (LiveAvatar: create the session token), then ``open`` (LiveAvatar: start;
    Kaltura: create, then init-client). ``prepare`` opens nothing remotely, so a cancellation during it
    propagates at once and no start is sent.
 2. Once ``open`` has begun it runs to completion (bounded by its own timeouts) even if the caller is
    cancelled meanwhile, natively (``task.cancel()``, ``asyncio.timeout``) or through an anyio scope. A
    cancellation that arrived during ``open`` is delivered after the session has been stopped again with
    ``USER_DISCONNECTED``.
 3. ``open`` failing is followed by a stop with ``SERVER_ERROR`` when the provider says the failure may
    have left a session running (``left_running``); then the original error propagates. LiveAvatar: any
    failure but a definite refusal of start (HTTP 4xx), since no answer, a timeout, a 5xx or a 2xx we
    could not read may hide a running session. Kaltura: any failure once create has answered (the
    session runs from there, whatever init-client says, a 404 or 410 too). When that stop is not
    confirmed either, ``async with`` raises :class:`SessionStopError` (the session id, "it may still
    be running") chained to open's error, and logs it at WARNING. A cancellation that arrived during
    open or that stop (rule 11) propagates instead of either, noted and logged as above when the
    stop was not confirmed. When open may have opened a session whose id never arrived (Kaltura's
    create answer lost), nothing can be stopped: open's error propagates with a note saying a
    session may still run, also logged.
 4. While the block runs, the session keeps alive and watches its ``max_session_duration`` deadline
    on its client's scheduler (``_keepalive.py``): entries in the client's timer heap, run by the
    client's bounded pool of workers; no task, task group or loop timer of its own while it waits
    (nor a cancel scope: the block is cancelled, when it must be, as a scope around it would cancel
    it, see ``_block.py``). Nothing there raises into the block. If the keep-alive itself fails (a
    bug, a broken dependency), that is never delivered as a bare cancellation: the block is
    cancelled, the session is stopped with ``SERVER_ERROR``, and ``async with`` raises that error
    (the block's own exception, if it raised one, wins, with the failure logged and added to it as
    a note).
 5. Keep-alive: every ``keep_alive_interval`` seconds, from a random phase so that sessions started
    together do not beat in lockstep. Beats are due at fixed times; a beat still in flight when the next
    is due makes the next one skipped, never queued (the next due time is computed, not counted up to).
    Each beat's retries end before the next beat is due.
 6. A failed beat is counted and logged; it ends nothing while the provider's idle window (the time the
    server waits without keep-alive) can still be met. When no beat has succeeded for that long, the
    session is presumed lost: it is stopped with ``IDLE_TIMEOUT`` and treated as in rule 7, except
    that a stop that is not confirmed raises :class:`SessionStopError` (as at the deadline, rule 8).
 7. A beat answered 404 or 410 means the server ended the session: no more beats, no stop (``stop()``
    sends none), the end reason is looked up (``UNKNOWN`` when it cannot be; a session listed as
    running is stopped as in rule 14), the block is cancelled and ``async with`` raises
    :class:`SessionEndedError`. Only a block the end interrupted raises it: a block awaiting
    ``wait_ended()`` in its own task is woken instead, and a block that runs to its end exits
    quietly, ``end_reason`` saying why.
 8. At the deadline (``max_session_duration`` after start) the SDK stops the session with
    ``MAX_DURATION_REACHED`` itself, then proceeds as in rule 7. A duration that is not a finite
    number of seconds up to ten years (a hostile or broken answer) means no deadline: it is logged at
    WARNING and never ends or crashes the session.
 9. Exactly one stop per started session. The first of ``session.stop(reason)``, the deadline, the
    idle rule and the exit sends it; the others wait for it and send nothing. A stop answered 404 or
    410 (another client stopped the session, say) records the end reason a lookup finds (``UNKNOWN``
    when it cannot be known), not the one it sent; if the lookup lists the session as running, the
    stop is not confirmed (rule 12). Only then may another go: a ``session.stop()`` called after a
    stop that was not confirmed tries again (nothing else does).
10. The exit's reason: a normal exit ``USER_CLOSED``; an exception ``SERVER_ERROR``; a cancellation
    ``USER_DISCONNECTED``; ``KeyboardInterrupt``/``SystemExit`` ``USER_CLOSED``; ``end_reason_for(exc)``
    overrides when it returns a known :class:`EndReason`. Whatever the callback does the stop is sent:
    an exception from it is logged and the table applies; a ``KeyboardInterrupt`` or ``SystemExit``
    from it is delivered after the stop. A cancellation that lands after the block has returned
    normally does not change the reason: ``USER_CLOSED``, and the cancellation is delivered after the
    stop.
11. Every stop runs shielded from cancellation (anyio scopes and native cancellation alike) and bounded by
    ``stop_timeout`` from the moment it holds one of the client's connections: waiting for one behind
    the client's other requests (thousands of sessions ending together) delays a stop, never abandons
    it. A cancellation that arrives during it is delivered once it is done; after an exception of the
    block, at the task's next wait, unless what requested it took it back as that exception passed
    (``asyncio.timeout``, a task group, an anyio scope): asyncio delivers a request only once.
12. The block's exception or cancellation propagates unchanged: never wrapped in an
    ``ExceptionGroup``, never replaced by a cleanup error. A stop that is not confirmed is logged at WARNING (once, with
    the session id and "it may still be running"); every ``stop()`` that waited for it raises
    :class:`SessionStopError`, and so does a clean exit unless the block's own ``stop()`` did; an
    exception or cancellation that propagates instead carries the same words as a note. An unconfirmed stop leaves ``end_reason`` ``None``: the session is not known to
    have ended.
13. A session object is entered once; entering it again is a ``RuntimeError``. It is entered and
    exited in one task (the task whose block rules 4, 6-8 and 14 cancel): exited in another task, it
    is stopped all the same (``SERVER_ERROR``) and a ``RuntimeError`` propagates. Durations are
    checked at construction: ``keep_alive_interval`` from 0.01 s to half the provider's idle window,
    ``stop_timeout`` from 0.1 to 300 s.
14. A connection the session depends on is lost for good (LiveAvatar's LITE socket, when it cannot be
    reopened within its reconnect window; the backend calls the hook the lifecycle handed it): the
    server is asked how the session stands. If it ended, that is rule 7, with the server's reason. If
    it still runs, or cannot say, nothing could drive it any more: the SDK stops it with
    ``SERVER_ERROR`` and proceeds as in rule 7 (an unconfirmed stop as in rule 6). A client that
    closes under it (``aclose()``) first stops it with ``USER_DISCONNECTED``, then as in rule 7,
    whatever cancels the close; a session whose ``open`` is under way is stopped so as soon as its
    block is entered, and no session opens on a closing client (``RuntimeError`` after ``prepare``).

The state (``STARTING``, ``ACTIVE``, ``STOPPING``, ``ENDED``) only moves forward, in one method. Rules
2 and 11 run their work in the session's own task, as a stand-in task (``_cancellation.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar, Unpack

from ._backend import SessionBackend, SessionHooks
from ._cancellation import close_despite_cancellation, finish_despite_cancellation, set_flag
from ._compact import Shape, compact, expand
from ._enums import EndReason, EndReasonName, SessionState
from ._keepalive import KeepAlive, SessionStatistics, statistics_of
from ._logging import describe_error, error_text
from ._options import LifecycleOptions
from ._stop import END_REASON_LOOKUP_TIMEOUT, Stopping
from ._transport import require_asyncio
from ._validation import check_options, check_seconds, usable_duration
from .exceptions import ConfigurationError, SessionStopError

__all__ = [
    "END_REASON_LOOKUP_TIMEOUT",
    "BaseSession",
    "LifecycleOptions",
    "SessionBackend",
    "SessionHooks",
    "SessionState",
    "SessionStatistics",
]

logger = logging.getLogger("aioavatar")
InfoT = TypeVar("InfoT")

#: ``keep_alive_interval``'s floor; its ceiling is half the provider's idle window (rule 13).
MIN_KEEP_ALIVE_INTERVAL = 0.01
#: ``stop_timeout``'s bounds: a round trip at least; by five minutes the idle timeout has ended it.
MIN_STOP_TIMEOUT = 0.1
MAX_STOP_TIMEOUT = 300.0
DEFAULT_STOP_TIMEOUT = 10.0


class BaseSession(Stopping[InfoT]):
    """The lifecycle shared by every provider: start on enter, keep alive, exactly one stop on exit.

    Built by a provider (:class:`~aioavatar.AvatarSession` for LiveAvatar,
    :class:`~aioavatar.KalturaAvatarSession`, ``client.session()`` of each client) over a
    :class:`SessionBackend`; the rules are the numbered block of this module's documentation.
    """

    __slots__ = (
        "_callback_interrupt",
        "_end_reason_for",
        "_entered",
        "_info",
        "_info_shape",
        "_owned_client",
        "_started_at",
        "keep_alive_interval",
    )

    #: Seconds between keep-alives when the session is not told otherwise (each provider sets its own).
    default_keep_alive_interval: ClassVar[float] = 60.0

    def __init__(
        self,
        backend: SessionBackend[InfoT],
        *,
        owned_client: Any = None,
        **lifecycle: Unpack[LifecycleOptions],
    ) -> None:
        check_options(lifecycle, LifecycleOptions)
        self.keep_alive_interval = check_seconds(
            lifecycle.get("keep_alive_interval", self.default_keep_alive_interval),
            "keep_alive_interval",
            low=MIN_KEEP_ALIVE_INTERVAL,
            high=backend.idle_timeout / 2,
        )
        stop_timeout = check_seconds(
            lifecycle.get("stop_timeout", DEFAULT_STOP_TIMEOUT),
            "stop_timeout",
            low=MIN_STOP_TIMEOUT,
            high=MAX_STOP_TIMEOUT,
        )
        end_reason_for = lifecycle.get("end_reason_for")
        if end_reason_for is not None and not callable(end_reason_for):
            raise ConfigurationError("must be callable", field="end_reason_for")
        super().__init__(backend, stop_timeout=stop_timeout)
        self._owned_client = owned_client
        self._end_reason_for = end_reason_for
        self._entered = False
        self._info: Any = None  # the start answer, as values the collector does not walk
        self._info_shape: Shape | None = None
        self._started_at: float | None = None  # time.time(): half a datetime's memory
        # Rule 10: a KeyboardInterrupt/SystemExit raised by end_reason_for, delivered after the stop.
        self._callback_interrupt: BaseException | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self._backend.session_id} state={self._state.value}>"

    # --- public accessors -----------------------------------------------------------------------------

    @property
    def info(self) -> InfoT:
        """The start response (LiveAvatar: ``livekit_url``, ``livekit_client_token``, ``ws_url``, ...;
        Kaltura: ``whep_url`` and ``turn``), built on each read: equal each time, not the same object.

        Raises:
            RuntimeError: before the session has started.
        """
        if self._info is None:
            raise RuntimeError("the session has not started: use it inside `async with`")
        info: InfoT = expand(self._info_shape, self._info)  # a new, equal model on each read
        return info

    @property
    def state(self) -> SessionState:
        """``STARTING``, ``ACTIVE``, ``STOPPING`` or ``ENDED``."""
        return self._state

    @property
    def end_reason(self) -> EndReason | None:
        """The reason the session ended with: ``None`` while it runs, and when its stop could not be
        confirmed (it may still run; the stop's error said so)."""
        return self._end_reason

    @property
    def may_still_run(self) -> bool:
        """Whether the session may still run on the server (and bill): its stop was not confirmed
        (and no ``stop()`` has been since), or its start may have opened one that no stop could
        follow (rule 12; said once at WARNING, and by the error or note that propagated)."""
        unconfirmed = self._unconfirmed_warned or self._stop_error is not None
        return unconfirmed and self._end_reason is None

    def statistics(self) -> SessionStatistics:
        """Keep-alives sent, failed and skipped, the last success, when the session started and its
        deadline."""
        return statistics_of(self._keepalive, self._started_at)

    async def wait_ended(self) -> None:
        """Return once the session has ended, for whatever reason (or once its lifecycle is over with a
        stop that could not be confirmed: then ``end_reason`` is ``None``).

        Awaited by the block itself, it returns normally when the server ends the session (rule 7):
        the block can go on to its end, and ``async with`` then raises nothing.
        """
        own = self._block_task is not None and asyncio.current_task() is self._block_task
        if own:
            self._block_waits += 1
        try:
            await self._ended_flag().wait()
        finally:
            if own:
                self._block_waits -= 1

    async def stop(self, reason: EndReason | EndReasonName = EndReason.USER_CLOSED) -> None:
        """End the session now with ``reason``; the exit then sends no second stop (rule 9).

        Safe to call twice and from several tasks: only the first sends a stop, the others wait for it
        and learn its outcome. Called after a stop that was not confirmed, it tries again (after the
        block's exit too, on a client still open).

        Raises:
            ConfigurationError: an unknown reason.
            RuntimeError: the session has not started.
            SessionStopError: the stop could not be confirmed: the session may still run.
        """
        try:
            known = EndReason.known(reason)
        except ValueError as exc:
            raise ConfigurationError(str(exc), field="reason") from None
        if self._info is None:
            raise RuntimeError("the session has not started: stop() is for use inside `async with`")
        if self._server_end is not None and not self._stop_started:
            return  # rule 7: the server ended it; nothing to stop
        await self._stop_protected(known, raise_cancel=True, again=True)
        self._raise_stop_error(by_stop=True)

    # --- the lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError(
                f"a {type(self).__name__} can be entered only once; create a new one"
            )
        require_asyncio()
        self._entered = True
        self._block_task = asyncio.current_task()
        try:
            if self._owned_client is not None:
                await self._owned_client.__aenter__()
            info = await self._start()  # rules 1-3 (the start answer: no rebuild from values)
            self._keepalive = KeepAlive(
                self,
                self._backend.scheduler,
                interval=self.keep_alive_interval,
                duration=self._deadline(info),
            )
            self._keepalive.start()  # rules 4-8
            self._backend.running.hold(self)  # until it ends: a closing client stops it (14)
            self._block_entered()  # in the try: a Ctrl-C landing here is the entry's, stopped
        except BaseException as error:
            try:
                await self._stop_if_running(error)
            finally:
                await self._end(failed=True)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:  # not a generator context manager (four more objects per session); never suppresses
            body_error = self._block_exited(exc)  # None: the block's own cancellation
        except BaseException as interrupt:  # noqa: BLE001 - a Ctrl-C landing in it: stop (rule 10)
            body_error = interrupt
        failed = exc is not None
        try:
            await self._finish(body_error)
        except BaseException as error:
            failed = True
            if error is not exc:
                raise
            assert exc is not None
            exc.__traceback__ = tb  # the block's own exception, as it was (rule 12)
        finally:
            await self._end(failed)

    async def _end(self, failed: bool) -> None:
        """Whatever way the lifecycle ends: no more beats, ``ENDED``, the owned client closed whatever
        cancels it (then raised after it, or delivered later when an exception leaves: rule 11)."""
        if self._keepalive is not None:
            self._keepalive.cancel()
        self._backend.running.let_go(self)
        self._move(SessionState.ENDED)
        cancelled = None
        try:
            if self._owned_client is not None:
                cancelled = await close_despite_cancellation(self._owned_client.aclose())
                if failed:  # rule 12: not raised in place of what leaves
                    self._owed, cancelled = self._owed or cancelled, None
        finally:
            self._ended = set_flag(self._ended)
            self._detach()  # nothing is relayed after this, and the session is no cycle
        if cancelled is not None:
            raise cancelled

    async def _start(self) -> InfoT:
        backend = self._backend
        await backend.prepare()  # rule 1: cancellable, opens nothing
        backend.running.starting(self)  # a closing client waits for open (rule 14)
        outcome = await finish_despite_cancellation(backend.open(), backend.standins)  # rule 2
        if outcome.error is not None:
            error = outcome.error
            if not backend.left_running(error):
                self._mark_ended(EndReason.SERVER_ERROR)
            elif backend.session_id is None:
                # Open may have opened a session whose answer never arrived: it cannot be stopped.
                self._unconfirmed = "its start may have opened a session whose id never arrived"
                self._warn_unconfirmed()
                self._note_unconfirmed(outcome.cancelled or error, error)
            else:
                late = await self._stop_protected(  # rule 3; a cancellation in it goes on (11)
                    EndReason.SERVER_ERROR, raise_cancel=False
                )
                if outcome.interrupt is None:  # else the interrupt the loop never saw goes on
                    outcome.cancelled = outcome.cancelled or late
                carrier = outcome.cancelled or outcome.interrupt  # what propagates, if not ours
                if self._stop_error is not None and carrier is None:
                    self._note_unconfirmed(error)
                    self._stop_error_reported = True
                    raise SessionStopError(
                        self.session_id,
                        f"its start failed ({describe_error(error)}) and the stop that followed "
                        f"was not confirmed ({error_text(self._stop_error)})",
                    ) from error
                if self._stop_error is not None and carrier is not None:
                    self._note_unconfirmed(carrier, error)
            raise outcome.interrupt or outcome.cancelled or error
        info = outcome.value
        assert info is not None
        self._info_shape, self._info = compact(info)
        self._started_at = time.time()
        if outcome.interrupt is not None:  # held while the start went on: stopped on the way out
            raise outcome.interrupt
        if outcome.cancelled is not None:
            await self._stop_protected(EndReason.USER_DISCONNECTED, raise_cancel=False)
            if self._stop_error is not None:
                self._note_unconfirmed(outcome.cancelled)
            raise outcome.cancelled
        self._move(SessionState.ACTIVE)
        logger.info("session %s started", backend.session_id)
        return info

    def _deadline(self, info: InfoT) -> float | None:
        """Rule 8: the session's duration in seconds when usable; otherwise no deadline (logged)."""
        value = self._backend.max_duration(info)
        seconds = usable_duration(value)
        if value is not None and seconds is None:
            logger.warning(
                "session %s: max_session_duration %.40r is not a usable number of seconds: "
                "no deadline",
                self._backend.session_id,
                value,
            )
        return seconds

    async def _finish(self, body_error: BaseException | None) -> None:
        if self._background_error is not None:  # rule 4
            await self._finish_after_background_failure(body_error)
            return
        if self._server_end is not None:  # rules 6-8, 14
            self._finish_after_server_end(body_error)
            return
        reason = self._exit_reason(body_error)
        cancelled = await self._stop_protected(reason, raise_cancel=body_error is None)
        interrupt = self._callback_interrupt
        if body_error is not None:
            if not isinstance(self._stop_error, KeyboardInterrupt | SystemExit):  # the loop ends
                self._owed = cancelled  # delivered once the lifecycle is over (_detach)
            if self._stop_error is not None:
                self._note_unconfirmed(body_error)
            if interrupt is not None:
                raise interrupt from body_error
            raise body_error
        self._raise_stop_error()

    def _exit_reason(self, exc: BaseException | None) -> EndReason:
        if exc is None:
            return EndReason.USER_CLOSED
        if self._end_reason_for is not None:
            try:
                chosen = self._end_reason_for(exc)
            except Exception:
                logger.exception("end_reason_for raised; using the default end reason")
            except BaseException as interrupt:  # noqa: BLE001 - rule 10: the stop is sent first
                logger.warning(
                    "end_reason_for raised %s; using the default end reason",
                    type(interrupt).__name__,
                )
                if isinstance(interrupt, KeyboardInterrupt | SystemExit):
                    self._callback_interrupt = interrupt
            else:
                if isinstance(chosen, EndReason) and chosen.is_known:
                    return chosen
        if isinstance(exc, asyncio.CancelledError):  # anyio's class on asyncio, without its lookup
            return EndReason.USER_DISCONNECTED
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            return EndReason.USER_CLOSED
        return EndReason.SERVER_ERROR
