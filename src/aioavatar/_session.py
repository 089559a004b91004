"""``BaseSession``: the ``async with`` lifecycle that never leaks a session, for every provider.

It knows no provider: each drives it through a :class:`SessionBackend` (create, start, keep-alive, stop).
``AvatarSession`` (LiveAvatar, ``_avatar_session.py``) and ``KalturaAvatarSession``
(``_kaltura_session.py``) are thin faces over it.

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
    session runs from there), unless the server says it is gone (404/410). When that stop is not
    confirmed either, ``async with`` raises :class:`SessionStopError` (the session id, "it may still be
    running") chained to open's error, and logs it at WARNING; a cancellation that arrived meanwhile
    propagates instead, with the same words added as a note and logged. When open may have opened a
    session whose id never arrived (Kaltura's create answer lost), nothing can be stopped: open's
    error propagates with a note saying a session may still run, also logged.
 4. While the block runs, a task group runs one background task: the keep-alive loop, which also
    watches the ``max_session_duration`` deadline. Nothing in that group raises into the block. If the
    background task itself fails (a bug, a broken dependency), that is never delivered as a bare
    cancellation: the block is cancelled, the session is stopped with ``SERVER_ERROR``, and
    ``async with`` raises the background task's error (the block's own exception, if it raised one,
    wins, with the failure logged and added to it as a note).
 5. Keep-alive: every ``keep_alive_interval`` seconds, from a random phase so that sessions started
    together do not beat in lockstep. Beats are due at fixed times; a beat still in flight when the next
    is due makes the next one skipped, never queued (the next due time is computed, not counted up to).
    Each beat's retries end before the next beat is due.
 6. A failed beat is counted and logged; it ends nothing while the provider's idle window (the time the
    server waits without keep-alive) can still be met. When no beat has succeeded for that long, the
    session is presumed lost: it is stopped with ``IDLE_TIMEOUT`` and treated as in rule 7, except
    that a stop that is not confirmed raises :class:`SessionStopError` (as at the deadline, rule 8).
 7. A beat answered 404 or 410 means the server ended the session: no more beats, no stop (there is
    nothing left to stop), the end reason is looked up (``UNKNOWN`` when it cannot be), and the block
    is cancelled; ``async with`` then raises :class:`SessionEndedError`. Only a block that the end
    interrupted raises it: a block awaiting ``wait_ended()`` in its own task is woken instead of
    cancelled, and a block that runs to its end exits quietly, ``end_reason`` saying why.
 8. At the deadline (``max_session_duration`` after start) the SDK stops the session with
    ``MAX_DURATION_REACHED`` itself, then proceeds as in rule 7. A duration that is not a finite
    number of seconds up to ten years (a hostile or broken answer) means no deadline: it is logged at
    WARNING and never ends or crashes the session.
 9. Exactly one stop per started session. The first of ``session.stop(reason)``, the deadline, the
    idle rule and the exit sends it; the others wait for it and send nothing. A stop that finds the
    session already ended (404 or 410: another client stopped it, say) looks up the server's end
    reason and records that one (``UNKNOWN`` when it cannot be known), not the reason it sent.
10. The exit's reason: a normal exit ``USER_CLOSED``; an exception ``SERVER_ERROR``; a cancellation
    ``USER_DISCONNECTED``; ``KeyboardInterrupt``/``SystemExit`` ``USER_CLOSED``; ``end_reason_for(exc)``
    overrides when it returns a known :class:`EndReason`. Whatever the callback does the stop is sent:
    an exception from it is logged and the table applies; a ``KeyboardInterrupt`` or ``SystemExit``
    from it is delivered after the stop. A cancellation that lands after the block has returned
    normally (while the background task is torn down) does not change the reason: ``USER_CLOSED``,
    and the cancellation is delivered after the stop.
11. Every stop runs shielded from cancellation (anyio scopes and native cancellation alike) and bounded by
    ``stop_timeout``. A cancellation that arrives during it is delivered once it is done.
12. The block's exception or cancellation propagates unchanged: never wrapped in an ``ExceptionGroup``,
    never replaced by a cleanup error. A stop that is not confirmed is logged at WARNING (once, with
    the session id and "it may still be running"); after a clean exit it raises
    :class:`SessionStopError`; an exception or cancellation that propagates instead carries the same
    words as a note. An unconfirmed stop leaves ``end_reason`` ``None``: the session is not known to
    have ended.
13. A session object is entered once; entering it again is a ``RuntimeError``. ``stop()`` twice is
    harmless. Durations are checked at construction: ``keep_alive_interval`` from 0.01 s to half the
    provider's idle window, ``stop_timeout`` from 0.1 to 300 s.

Rules 2 and 11 run their work through :func:`aioavatar._cancellation.finish_despite_cancellation`:
the module says why that is a task of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from enum import Enum
from typing import Any, Generic, Protocol, Self, TypeVar

import anyio
import attrs

from ._cancellation import Flag, finish_despite_cancellation
from ._enums import EndReason
from ._logging import describe_error
from ._transport import require_asyncio
from ._validation import check_seconds, usable_duration
from .exceptions import (
    APIError,
    ConfigurationError,
    SessionEndedError,
    SessionStopError,
)

__all__ = [
    "BaseSession",
    "SessionBackend",
    "SessionState",
    "SessionStatistics",
]

logger = logging.getLogger("aioavatar")

InfoT = TypeVar("InfoT")
T = TypeVar("T")

# How long to wait for the end reason after the server ended a session (rule 7).
END_REASON_LOOKUP_TIMEOUT = 5.0
#: The bounds of ``keep_alive_interval``: the floor keeps a beat meaningful; the ceiling is half the
#: provider's idle window (a beat, its retries and a skipped beat still fit in it).
MIN_KEEP_ALIVE_INTERVAL = 0.01
#: The bounds of ``stop_timeout``: a stop needs a round trip; past five minutes the server's own
#: idle timeout has ended the session anyway.
MIN_STOP_TIMEOUT = 0.1
MAX_STOP_TIMEOUT = 300.0


class SessionState(Enum):
    """Where a session is in its lifecycle."""

    STARTING = "starting"
    ACTIVE = "active"
    STOPPING = "stopping"
    ENDED = "ended"


@attrs.frozen
class SessionStatistics:
    """A snapshot of a session's keep-alive record.

    Attributes:
        keep_alives_sent: beats answered with success.
        keep_alives_failed: beats that failed (after their retries).
        last_keep_alive_at: when the last beat succeeded (UTC), if one has.
        started_at: when the start was confirmed (UTC).
        deadline: when ``max_session_duration`` runs out (UTC), if the session has one.
    """

    keep_alives_sent: int
    keep_alives_failed: int
    last_keep_alive_at: dt.datetime | None
    started_at: dt.datetime | None
    deadline: dt.datetime | None


class SessionBackend(Protocol[InfoT]):
    """What the lifecycle needs from a provider for one remote session.

    ``prepare`` must open nothing remotely; ``open`` opens the session; ``left_running`` tells whether a
    failed ``open`` may have left a session running (rule 3); ``max_duration`` gives the session's
    ``max_session_duration`` as the server or the request said it (anything; the lifecycle checks it,
    rule 8); ``keep_alive`` raises an :class:`APIError` with status 404 or 410 once the server has
    ended the session; ``close`` returns ``False`` when the session had already ended.
    """

    #: seconds the server waits without keep-alive before it ends a session (rule 6).
    idle_timeout: float

    @property
    def session_id(self) -> str | None: ...

    async def prepare(self) -> None: ...

    async def open(self) -> InfoT: ...

    def left_running(self, error: BaseException) -> bool: ...

    def max_duration(self, info: InfoT) -> object: ...

    async def keep_alive(self, *, timeout: float, deadline: float) -> None: ...

    async def close(self, reason: EndReason, *, deadline: float) -> bool: ...

    async def end_reason(self) -> EndReason: ...


def _server_ended(exc: BaseException) -> bool:
    return isinstance(exc, APIError) and exc.session_gone


def _error_text(error: BaseException | None) -> str:
    """An error's text, or its class name when it has none."""
    return (str(error) or type(error).__name__) if error is not None else "no detail"


def _is_cancellation(exc: BaseException) -> bool:
    return isinstance(exc, anyio.get_cancelled_exc_class() | asyncio.CancelledError)


def _next_due(due: float, interval: float, now: float) -> float:
    """The first time ``due + k * interval`` (k >= 1) after ``now``, computed, not counted up to."""
    nxt = due + interval
    if nxt > now:
        return nxt
    nxt = due + interval * (math.floor((now - due) / interval) + 1)
    return nxt if nxt > now else nxt + interval  # a rounding step short of now


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BaseSession(Generic[InfoT]):
    """The lifecycle shared by every provider: start on enter, keep alive, exactly one stop on exit.

    Built by a provider (:class:`AvatarSession` for LiveAvatar, ``client.session()`` of each client) over
    a :class:`SessionBackend`; the rules are the numbered block of this module's documentation.
    """

    def __init__(
        self,
        backend: SessionBackend[InfoT],
        *,
        owned_client: Any = None,
        keep_alive_interval: float,
        stop_timeout: float,
        end_reason_for: Callable[[BaseException], EndReason | None] | None,
    ) -> None:
        self._setup(
            backend,
            owned_client=owned_client,
            keep_alive_interval=keep_alive_interval,
            stop_timeout=stop_timeout,
            end_reason_for=end_reason_for,
        )

    def _setup(
        self,
        backend: SessionBackend[InfoT],
        *,
        owned_client: Any,
        keep_alive_interval: float,
        stop_timeout: float,
        end_reason_for: Callable[[BaseException], EndReason | None] | None,
    ) -> None:
        interval = check_seconds(
            keep_alive_interval,
            "keep_alive_interval",
            low=MIN_KEEP_ALIVE_INTERVAL,
            high=backend.idle_timeout / 2,
        )
        stop_after = check_seconds(
            stop_timeout, "stop_timeout", low=MIN_STOP_TIMEOUT, high=MAX_STOP_TIMEOUT
        )
        if end_reason_for is not None and not callable(end_reason_for):
            raise ConfigurationError("must be callable", field="end_reason_for")
        self._backend = backend
        self._owned_client = owned_client
        self.keep_alive_interval = interval
        self.stop_timeout = stop_after
        self._end_reason_for = end_reason_for
        self._state = SessionState.STARTING
        self._entered = False
        self._info: InfoT | None = None
        self._end_reason: EndReason | None = None
        self._ended = Flag()
        # Rule 9: the one stop.
        self._stop_started = False
        self._stop_done = Flag()
        self._stop_error: BaseException | None = None
        self._stop_error_reported = False
        # Rule 10: a KeyboardInterrupt/SystemExit raised by end_reason_for, delivered after the stop.
        self._callback_interrupt: BaseException | None = None
        # Rule 4: the background task's own failure; rule 7: the task running the block, and how many
        # of its awaits are in wait_ended() (woken, not cancelled, by the server's end).
        self._background_error: Exception | None = None
        # Rule 12: what to say when the session may still run (default: the stop's failure), once.
        self._unconfirmed: str | None = None
        self._unconfirmed_warned = False
        self._block_task: asyncio.Task[Any] | None = None
        self._block_waits = 0
        self._background_scope: anyio.CancelScope | None = None
        self._deadline: float | None = None
        # Rules 6-8: why the server side ended, when it did.
        self._server_end: EndReason | None = None
        self._body_scope: anyio.CancelScope | None = None
        self._keep_alives_sent = 0
        self._keep_alives_failed = 0
        self._last_keep_alive_at: dt.datetime | None = None
        self._last_success: float = 0.0
        self._started_at: dt.datetime | None = None
        self._deadline_at: dt.datetime | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self._backend.session_id} state={self._state.value}>"

    # --- public accessors -----------------------------------------------------------------------------

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

    @property
    def info(self) -> InfoT:
        """The start response (LiveAvatar: ``livekit_url``, ``livekit_client_token``, ``ws_url``, ...;
        Kaltura: ``whep_url`` and ``turn`` from init-client).

        Raises:
            RuntimeError: before the session has started.
        """
        if self._info is None:
            raise RuntimeError("the session has not started: use it inside `async with`")
        return self._info

    @property
    def state(self) -> SessionState:
        """``STARTING``, ``ACTIVE``, ``STOPPING`` or ``ENDED``."""
        return self._state

    @property
    def end_reason(self) -> EndReason | None:
        """The reason the session ended with: ``None`` while it runs, and when its stop could not be
        confirmed (it may still run; the stop's error said so)."""
        return self._end_reason

    def statistics(self) -> SessionStatistics:
        """Keep-alives sent and failed, the last success, when the session started and its deadline."""
        return SessionStatistics(
            keep_alives_sent=self._keep_alives_sent,
            keep_alives_failed=self._keep_alives_failed,
            last_keep_alive_at=self._last_keep_alive_at,
            started_at=self._started_at,
            deadline=self._deadline_at,
        )

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
            await self._ended.wait()
        finally:
            if own:
                self._block_waits -= 1

    async def stop(self, reason: EndReason | str = EndReason.USER_CLOSED) -> None:
        """End the session now with ``reason``; the exit then sends no second stop (rule 9).

        Safe to call twice and from several tasks: only the first call sends a stop, the others wait for
        it.

        Raises:
            ConfigurationError: an unknown reason.
            RuntimeError: the session has not started.
            SessionStopError: the stop could not be confirmed; the session may still run.
        """
        try:
            known = EndReason.known(reason)
        except ValueError as exc:
            raise ConfigurationError(str(exc), field="reason") from None
        if self._info is None:
            raise RuntimeError("the session has not started: stop() is for use inside `async with`")
        await self._stop_protected(known, raise_cancel=True)
        self._raise_stop_error()

    # --- the lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("an AvatarSession can be entered only once; create a new one")
        require_asyncio()
        self._entered = True
        self._cm = self._lifecycle()
        return await self._cm.__aenter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool | None:
        return await self._cm.__aexit__(exc_type, exc, tb)

    @asynccontextmanager
    async def _lifecycle(self) -> AsyncIterator[Self]:
        self._block_task = asyncio.current_task()
        try:
            if self._owned_client is not None:
                await self._owned_client.__aenter__()
            await self._start()  # rules 1-3
            body_error: BaseException | None = None
            late_cancel: BaseException | None = None
            returned = False
            task = asyncio.current_task()
            cancel_requests = task.cancelling() if task is not None else 0
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._background)
                    try:
                        with anyio.CancelScope() as self._body_scope:
                            yield self
                        returned = True
                    except BaseException as exc:  # noqa: BLE001 - handled below, outside the group (rule 12)
                        body_error = exc
                    tg.cancel_scope.cancel()
            except BaseException as exc:
                # The group waits for the background tasks even when cancelled, then re-raises the
                # cancellation of an enclosing scope: that is the block's outcome unless it has one,
                # or unless the block had already returned (rule 10: the reason stays USER_CLOSED).
                if returned and body_error is None and _is_cancellation(exc):
                    late_cancel = exc
                elif body_error is None:
                    body_error = exc
                elif not _is_cancellation(exc):
                    logger.exception("session %s: background task failed", self._backend.session_id)
            else:
                if returned and task is not None and task.cancelling() > cancel_requests:
                    # anyio before 4.16 swallows a task.cancel() that lands while the group waits
                    # for its cancelled children; the request is still counted: deliver it.
                    late_cancel = asyncio.CancelledError()
            await self._finish(body_error, late_cancel)
        finally:
            self._state = SessionState.ENDED
            await self._close_owned_client()
            self._ended.set()

    async def _start(self) -> None:
        self._state = SessionState.STARTING
        await self._backend.prepare()  # rule 1: cancellable, opens nothing
        outcome = await finish_despite_cancellation(self._backend.open)  # rule 2
        if outcome.error is not None:
            error = outcome.error
            if not self._backend.left_running(error):
                self._mark_ended(EndReason.SERVER_ERROR)
            elif self._backend.session_id is None:
                # Open may have opened a session whose answer never arrived: it cannot be stopped.
                self._unconfirmed = "its start may have opened a session whose id never arrived"
                self._warn_unconfirmed()
                self._note_unconfirmed(outcome.cancelled or error)
            else:
                await self._stop_protected(EndReason.SERVER_ERROR, raise_cancel=False)  # rule 3
                if self._stop_error is not None and outcome.cancelled is None:
                    self._note_unconfirmed(error)
                    self._stop_error_reported = True
                    raise SessionStopError(
                        self.session_id,
                        f"its start failed ({describe_error(error)}) and the stop that followed "
                        f"was not confirmed ({_error_text(self._stop_error)})",
                    ) from error
                if self._stop_error is not None and outcome.cancelled is not None:
                    self._note_unconfirmed(outcome.cancelled)
            raise outcome.cancelled or error
        info = outcome.value
        assert info is not None
        self._info = info
        self._started_at = _now()
        if outcome.cancelled is not None:
            await self._stop_protected(EndReason.USER_DISCONNECTED, raise_cancel=False)
            if self._stop_error is not None:
                self._note_unconfirmed(outcome.cancelled)
            raise outcome.cancelled
        self._state = SessionState.ACTIVE
        self._last_success = anyio.current_time()
        duration = self._usable_deadline(self._backend.max_duration(info))
        if duration is not None:
            self._deadline = anyio.current_time() + duration
            self._deadline_at = self._started_at + dt.timedelta(seconds=duration)
        logger.info("session %s started", self._backend.session_id)

    def _usable_deadline(self, value: object) -> float | None:
        """Rule 8: the duration as seconds when usable; otherwise no deadline (logged)."""
        seconds = usable_duration(value)
        if value is not None and seconds is None:
            logger.warning(
                "session %s: max_session_duration %.40r is not a usable number of seconds: "
                "no deadline",
                self._backend.session_id,
                value,
            )
        return seconds

    # --- an unconfirmed stop: reported at one place, as a WARNING and as a note ---------------------

    def _unconfirmed_text(self) -> str:
        what = self._unconfirmed or (
            f"its stop was not confirmed ({describe_error(self._stop_error or RuntimeError())})"
        )
        return (
            f"aioavatar: session {self._backend.session_id}: {what}: it may still be running "
            "(and billing) until the server's idle timeout ends it"
        )

    def _warn_unconfirmed(self) -> None:
        if not self._unconfirmed_warned:
            self._unconfirmed_warned = True
            logger.warning("%s", self._unconfirmed_text().removeprefix("aioavatar: "))

    def _note_unconfirmed(self, carrier: BaseException) -> None:
        """Say on ``carrier``, the exception that propagates, that the session may still run."""
        text = self._unconfirmed_text()
        if text not in getattr(carrier, "__notes__", ()):
            carrier.add_note(text)

    async def _finish(
        self, body_error: BaseException | None, late_cancel: BaseException | None = None
    ) -> None:
        if self._background_error is not None:  # rule 4
            await self._finish_after_background_failure(body_error)
            return
        if self._server_end is not None:  # rules 6-8
            self._finish_after_server_end(body_error, late_cancel)
            return
        reason = self._exit_reason(body_error)
        # After a clean exit a cancellation that arrived during the stop is delivered (rule 11);
        # after an exception the exception wins (rule 12).
        await self._stop_protected(reason, raise_cancel=body_error is None and late_cancel is None)
        interrupt = self._callback_interrupt
        if body_error is not None:
            if self._stop_error is not None:
                self._note_unconfirmed(body_error)
            if interrupt is not None:
                raise interrupt from body_error
            raise body_error
        if late_cancel is not None:
            if self._stop_error is not None:
                self._note_unconfirmed(late_cancel)
            raise late_cancel
        self._raise_stop_error()

    def _finish_after_server_end(
        self, body_error: BaseException | None, late_cancel: BaseException | None
    ) -> None:
        """Rules 6-8: the server ended the session, or the SDK stopped it at its deadline or idle
        window; the block was cancelled unless it was awaiting wait_ended()."""
        if self._stop_error is not None:  # the SDK's own stop (deadline, idle) was not confirmed
            if body_error is not None:
                self._note_unconfirmed(body_error)
                raise body_error
            self._raise_stop_error()
        assert self._server_end is not None
        self._end_reason = self._end_reason or self._server_end
        if body_error is not None:
            raise body_error
        if self._body_scope is not None and self._body_scope.cancelled_caught:
            raise SessionEndedError(self.session_id, self._server_end)
        if late_cancel is not None:
            raise late_cancel
        # The block ran to its end after the session ended: end_reason says why.

    async def _finish_after_background_failure(self, body_error: BaseException | None) -> None:
        """Rule 4: the background task failed; stop with SERVER_ERROR, raise its error."""
        failure = self._background_error
        assert failure is not None
        await self._stop_protected(EndReason.SERVER_ERROR, raise_cancel=False)
        carrier = body_error or failure
        if self._stop_error is not None:
            self._note_unconfirmed(carrier)
        if body_error is not None:
            body_error.add_note(
                f"aioavatar: session {self._backend.session_id}: its background task failed "
                f"meanwhile ({type(failure).__name__})"
            )
        raise carrier

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
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            return EndReason.USER_DISCONNECTED
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            return EndReason.USER_CLOSED
        return EndReason.SERVER_ERROR

    def _raise_stop_error(self) -> None:
        error = self._stop_error
        if error is not None and not self._stop_error_reported:
            self._stop_error_reported = (
                True  # stop() already told the caller: exit does not repeat it
            )
            raise SessionStopError(self.session_id, _error_text(error)) from error

    async def _stop_protected(self, reason: EndReason, *, raise_cancel: bool) -> None:
        """Rule 11: the stop, shielded and bounded; a cancellation meanwhile is re-raised or dropped.

        Rule 12: a stop that was not confirmed is logged at WARNING here, once, and noted on the
        cancellation it re-raises.
        """
        outcome = await finish_despite_cancellation(lambda: self._stop_once(reason))
        if self._stop_error is not None:
            self._warn_unconfirmed()
        if raise_cancel and outcome.cancelled is not None:
            if self._stop_error is not None:
                self._note_unconfirmed(outcome.cancelled)
            raise outcome.cancelled

    async def _stop_once(self, reason: EndReason) -> None:
        """Rule 9: the first caller sends the stop; the others wait for its outcome."""
        if self._stop_started:
            await self._stop_done.wait()
            return
        self._stop_started = True
        self._state = SessionState.STOPPING
        deadline = anyio.current_time() + self.stop_timeout
        try:
            with anyio.fail_after(self.stop_timeout):
                stopped = await self._backend.close(reason, deadline=deadline)
        except TimeoutError as exc:
            self._stop_error = TimeoutError(f"no confirmation within {self.stop_timeout:g} s")
            self._stop_error.__cause__ = exc
        except Exception as exc:  # noqa: BLE001 - kept and reported by the caller (rule 12)
            self._stop_error = exc
        else:
            if stopped:
                logger.info("session %s stopped (%s)", self._backend.session_id, reason.value)
            else:
                reason = await self._lookup_end_reason()
                logger.info(
                    "session %s had already ended (%s)", self._backend.session_id, reason.value
                )
            self._mark_ended(reason)
        finally:
            self._state = SessionState.ENDED
            self._ended.set()
            self._stop_done.set()
            if self._background_scope is not None:  # no keep-alive after the stop
                self._background_scope.cancel()

    def _mark_ended(self, reason: EndReason) -> None:
        if self._end_reason is None:
            self._end_reason = reason
        self._state = SessionState.ENDED
        self._ended.set()

    # --- background -----------------------------------------------------------------------------------

    async def _background(self) -> None:
        # One task for the beats and the deadline, in a scope of its own, so that a stop can end them
        # without touching the user's block (a nested task group per session cost memory at scale).
        try:
            with anyio.CancelScope() as scope:
                self._background_scope = scope
                if self._stop_started:
                    scope.cancel()
                await self._keep_alive_loop()
        except Exception as exc:  # noqa: BLE001 - rule 4: reported by the exit, never as a cancellation
            logger.warning(
                "session %s: the background task failed: %s; stopping it",
                self._backend.session_id,
                describe_error(exc),
            )
            self._background_error = exc
            if self._body_scope is not None:
                self._body_scope.cancel()
        finally:
            # Left: a later stop has nothing to cancel (anyio's cancel() formats the calling task's
            # repr, ~20 us, even for a scope that has exited).
            self._background_scope = None

    async def _keep_alive_loop(self) -> None:
        interval = self.keep_alive_interval
        timeout = min(10.0, interval / 2)
        deadline = math.inf if self._deadline is None else self._deadline
        due = anyio.current_time() + random.uniform(0.0, interval)  # noqa: S311 - rule 5: random phase
        while not self._stop_started:
            await anyio.sleep_until(min(due, deadline))
            if self._stop_started:
                return
            if deadline == math.inf:  # no cancel scope per beat when there is no deadline
                if not await self._beat(timeout, due + interval):
                    return
            elif anyio.current_time() < deadline:
                # Rule 8: a beat in flight never delays the deadline.
                with anyio.CancelScope(deadline=deadline):
                    if not await self._beat(timeout, due + interval):
                        return
            if anyio.current_time() >= deadline:
                if not self._stop_started:
                    await self._stop_protected(EndReason.MAX_DURATION_REACHED, raise_cancel=False)
                    self._on_server_end(EndReason.MAX_DURATION_REACHED)
                return
            # Rule 5: the next due time after now, skipping the beats that are late (never queued).
            due = _next_due(due, interval, anyio.current_time())

    async def _beat(self, timeout: float, retry_deadline: float) -> bool:
        """One keep-alive; ``False`` when the session is over and the loop must end."""
        try:
            await self._backend.keep_alive(timeout=timeout, deadline=retry_deadline)
        except Exception as exc:  # noqa: BLE001 - rule 4: recorded, never raised into the block
            if self._stop_started:
                return False
            if _server_ended(exc):  # rule 7
                self._on_server_end(await self._lookup_end_reason())
                return False
            self._keep_alives_failed += 1
            silent_for = anyio.current_time() - self._last_success
            logger.warning(
                "session %s: keep-alive failed (%s); %.0f s since the last success",
                self._backend.session_id,
                describe_error(exc),
                silent_for,
            )
            if silent_for >= self._backend.idle_timeout:  # rule 6
                await self._stop_protected(EndReason.IDLE_TIMEOUT, raise_cancel=False)
                self._on_server_end(EndReason.IDLE_TIMEOUT)
                return False
        else:
            self._keep_alives_sent += 1
            self._last_success = anyio.current_time()
            self._last_keep_alive_at = _now()
        return True

    async def _lookup_end_reason(self) -> EndReason:
        with anyio.move_on_after(END_REASON_LOOKUP_TIMEOUT):
            try:
                return await self._backend.end_reason()
            except Exception as exc:  # noqa: BLE001 - a failed lookup only loses the detail
                logger.info(
                    "session %s: end reason lookup failed: %s",
                    self._backend.session_id,
                    describe_error(exc),
                )
        return EndReason.UNKNOWN

    def _on_server_end(self, reason: EndReason) -> None:
        if self._server_end is None:
            self._server_end = reason
            if self._stop_error is None:  # an unconfirmed stop of ours leaves it unknown (rule 12)
                self._end_reason = self._end_reason or reason
            self._state = SessionState.ENDED
            self._ended.set()
            logger.warning(
                "session %s ended by the server: %s", self._backend.session_id, reason.value
            )
            if self._body_scope is not None and not self._block_waits:
                self._body_scope.cancel()  # a block awaiting wait_ended() is woken instead

    async def _close_owned_client(self) -> None:
        if self._owned_client is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(self.stop_timeout):
                await self._owned_client.aclose()
