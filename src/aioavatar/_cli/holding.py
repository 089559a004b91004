"""Holding a session from the command line: SIGINT, SIGTERM and SIGHUP, and the exit status (``demo``,
``run``).

The commands own the process, so they catch SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal
closed; as SIGTERM) themselves, for the whole of
their event loop, instead of letting asyncio turn Ctrl-C into a cancellation (which the library stops
with ``USER_DISCONNECTED``). What a signal does depends on when it arrives:

1. Before a session exists (an embedded emulator starting, say): the command is abandoned; exit 130.
2. While the session starts: the start is abandoned. Before start is sent nothing has been opened;
   once it is sent, the library lets it finish and stops the session at once with
   ``USER_DISCONNECTED`` (its rule 2). Exit 130.
3. While the session runs: it is stopped with ``USER_CLOSED``; exit 130 for SIGINT, 0 for SIGTERM
   (and SIGHUP).
4. While it stops, or once it has ended: nothing more; the stop under way is awaited and a SIGINT
   still makes the exit status 130.

A session that ended elsewhere (the server, or another client's stop, found by a keep-alive or by our
own stop) exits 1 whatever signal came, its reason printed. ``MAX_DURATION_REACHED`` exits 0 (130
after a SIGINT). A session that may still run (its stop not confirmed, an abandoned start's
included) exits 1 whatever signal came, with the line that says so (``SessionStopError``).
"""

from __future__ import annotations

import contextlib
import enum
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn

import anyio
import attrs

from .. import (
    AvatarError,
    BaseSession,
    EndReason,
    SessionEndedError,
    SessionState,
    SessionStopError,
)
from .common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    notice,
    print_json,
    printable,
    silence_stdout,
    single,
    stop_signals,
)

__all__ = [
    "Held",
    "Interrupts",
    "conclude",
    "exit_status",
    "hold",
    "keeping",
    "output_closed",
    "raise_unconfirmed",
    "report_ended",
    "run_interruptible",
]


class _Phase(enum.Enum):
    BEFORE = "before"  # no session yet: a signal abandons the command
    HOLDING = "holding"  # a session: what a signal does depends on its state
    AFTER = "after"  # the session is over: a signal is only recorded


class Interrupts:
    """The SIGINT/SIGTERM a command received, and what each one did (see the module docs). A command
    holds one session at most."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._phase = _Phase.BEFORE
        self._command = anyio.CancelScope()
        self._session: BaseSession[Any] | None = None
        self._waiting = anyio.CancelScope()
        self._starting = anyio.CancelScope()

    @property
    def interrupted(self) -> bool:
        """Whether a SIGINT (Ctrl-C) arrived."""
        return signal.SIGINT in self.received

    def _on_signal(self, signum: int) -> None:
        self.received.append(signum)
        if self._phase is _Phase.BEFORE:
            self._command.cancel()
            return
        if self._phase is _Phase.AFTER or self._session is None:
            return
        state = self._session.state
        if state is SessionState.ACTIVE and not self._waiting.cancel_called:
            notice("Stopping the session...")
            self._waiting.cancel()
        elif state is SessionState.STARTING and not self._starting.cancel_called:
            # The start's answer is awaited (up to its timeout): it may open a session to stop.
            notice("Abandoning the start: the session it opens is stopped once the server answers.")
            self._starting.cancel()
        elif state is SessionState.STARTING:
            notice("Still waiting for the start's answer, to stop the session it opens.")
        else:
            notice("Already stopping; waiting for the confirmation.")

    async def _watch(self, signals: AsyncIterator[int]) -> None:
        async for signum in signals:
            self._on_signal(signum)


async def _run(main: Callable[[Interrupts], Awaitable[int]]) -> int:
    interrupts = Interrupts()
    status = EXIT_INTERRUPTED
    with stop_signals() as signals:
        async with anyio.create_task_group() as tg:
            if signals is not None:  # else Ctrl-C raises KeyboardInterrupt: 130 all the same
                tg.start_soon(interrupts._watch, signals)
            with interrupts._command:
                status = await main(interrupts)
            tg.cancel_scope.cancel()
    if interrupts._command.cancelled_caught:
        notice("Interrupted.")
    return status


def run_interruptible(main: Callable[[Interrupts], Awaitable[int]]) -> int:
    """Run ``main`` in a new event loop with SIGINT and SIGTERM caught from the first moment to the
    last; return its exit status (130 when a signal abandoned it)."""
    return anyio.run(_run, main)


@attrs.frozen
class Held:
    """How holding a session ended.

    Attributes:
        started: the session started (and so was stopped, or ended, since).
        abandoned: a signal abandoned the start.
        ended_by_us: the wait was ended by a signal or ``--duration``, not by the session's end.
    """

    started: bool
    abandoned: bool
    ended_by_us: bool


def output_closed(exc: BaseException) -> EndReason | None:
    """``end_reason_for`` of the CLI's sessions: standard output closed or unwritable under the block
    (the reader of ``aioavatar run --json | ...`` gone, a full disk) ends it as a user who went away,
    not as a server error: the block does nothing but print and wait."""
    return EndReason.USER_DISCONNECTED if isinstance(exc, OSError) else None


async def hold(
    session: BaseSession[Any],
    interrupts: Interrupts,
    *,
    duration: float | None,
    on_started: Callable[[], None],
) -> Held:
    """Enter ``session``, call ``on_started``, and keep it until a signal, ``duration`` or its end.

    Raises:
        what ``async with session`` raises (it cannot start; its stop is not confirmed), but
        ``SessionEndedError``: a session that ended elsewhere is reported by its ``end_reason``.
    """
    interrupts._session = session
    interrupts._phase = _Phase.HOLDING
    try:
        with interrupts._starting, contextlib.suppress(SessionEndedError):
            async with session:
                on_started()
                if duration is not None:
                    interrupts._waiting.deadline = anyio.current_time() + duration
                with interrupts._waiting:
                    await session.wait_ended()
    finally:
        interrupts._phase = _Phase.AFTER
    return Held(
        started=session.statistics().started_at is not None,
        abandoned=interrupts._starting.cancelled_caught,
        ended_by_us=interrupts._waiting.cancelled_caught,
    )


def exit_status(session: BaseSession[Any], held: Held, interrupts: Interrupts) -> int:
    """The exit status of a command that held ``session`` (see the module docs)."""
    if session.may_still_run:
        return EXIT_FAILURE
    if held.abandoned or not held.started:
        return EXIT_INTERRUPTED
    reason = session.end_reason
    ours = reason is EndReason.MAX_DURATION_REACHED or (
        held.ended_by_us and reason is EndReason.USER_CLOSED
    )
    if not ours:
        return EXIT_FAILURE  # ended elsewhere: the server, or another client (its reason printed)
    return EXIT_INTERRUPTED if interrupts.interrupted else EXIT_OK


def keeping(duration: float | None) -> str:
    """The sentence that says how long the session is kept."""
    until = f"for {duration:g} s" if duration is not None else "until Ctrl-C"
    return f"Keeping the session alive {until}."


def report_ended(session: BaseSession[Any], json_lines: bool) -> None:
    """``run``'s ``ended`` event, or its line: the same for every provider."""
    stats = session.statistics()
    reason = session.end_reason.value if session.end_reason is not None else None
    if json_lines:
        print_json(
            {
                "event": "ended",
                "session_id": session.session_id,
                "end_reason": reason,
                "keep_alives_sent": stats.keep_alives_sent,
                "keep_alives_failed": stats.keep_alives_failed,
            }
        )
        return
    print(
        printable(  # the reason is the server's, any text
            f"Session ended: {reason} "
            f"({stats.keep_alives_sent} keep-alives sent, {stats.keep_alives_failed} failed)."
        ),
        flush=True,
    )


def raise_unconfirmed(
    session: BaseSession[Any], json_lines: bool, cause: BaseException | None = None
) -> NoReturn:
    """Raise what the user of a session that may still run must learn, whatever ended its block
    (``cause``: standard output closed, say): the :class:`SessionStopError` naming it (after the
    ``ended`` event, ``end_reason`` null, under ``--json``: lost, not raised, when standard output
    has gone), or, when its start may have opened one whose id never arrived, an error saying so."""
    error: AvatarError
    if isinstance(cause, SessionStopError):
        error = cause
    else:
        try:
            error = SessionStopError(session.session_id, "its stop was not confirmed")
        except RuntimeError:  # no id
            error = AvatarError(
                "a session may still be running: its start may have opened one whose id never "
                "arrived"
            )
    if cause is not None and isinstance(single(cause), OSError):  # the reader of stdout has gone
        silence_stdout()
    elif json_lines and isinstance(error, SessionStopError):
        try:
            report_ended(session, json_lines=True)
        except OSError:
            silence_stdout()
    if error is cause:
        raise error
    raise error from cause


def conclude(
    session: BaseSession[Any], held: Held, interrupts: Interrupts, *, json_lines: bool
) -> int:
    """``run``'s last words (the ``ended`` event, or that nothing started) and its exit status.

    Raises:
        SessionStopError: the session may still run (a stop not confirmed after a signal abandoned
            its start, say): after the ``ended`` event, with ``end_reason`` null, under ``--json``.
    """
    if session.may_still_run:
        raise_unconfirmed(session, json_lines)
    if held.started or session.end_reason is not None:  # a start that failed after the signal
        report_ended(session, json_lines)  # was stopped (rule 3): said, with its reason
    elif not json_lines:
        print("Interrupted before the session started: nothing to stop.", flush=True)
    return exit_status(session, held, interrupts)
