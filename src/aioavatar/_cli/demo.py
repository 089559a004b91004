"""``aioavatar demo``: a whole session against the embedded LiveAvatar emulator, no account needed.

Ctrl-C (or SIGTERM) stops the demo's session with ``USER_CLOSED``, as ``run`` does (:mod:`.holding`):
exit 130 after Ctrl-C, 0 after SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import time

from .. import SANDBOX_AVATAR_ID, AvatarSession, EndReason
from .common import EXIT_FAILURE, EXIT_OK
from .holding import Interrupts, exit_status, hold, output_closed, run_interruptible
from .options import Command, Parser, positive_seconds

__all__ = ["COMMAND", "DEMO_AVATAR_ID", "command"]

DEMO_AVATAR_ID = SANDBOX_AVATAR_ID


def _arguments(demo: Parser) -> None:
    demo.add_argument(
        "--duration",
        type=positive_seconds,
        default=2.0,
        metavar="S",
        help="seconds to keep the session open (default 2)",
    )
    demo.add_argument(
        "--keep-alive-interval",
        type=positive_seconds,
        default=0.5,
        metavar="S",
        help="seconds between keep-alives (default 0.5)",
    )


def command(args: argparse.Namespace) -> int:
    return run_interruptible(
        lambda interrupts: _demo(interrupts, args.duration, args.keep_alive_interval)
    )


class _StepPrinter(logging.Handler):
    """Prints the SDK's own log records (method, path, status, timing) as the demo's steps."""

    def __init__(self, started: float) -> None:
        super().__init__(logging.DEBUG)
        self._started = started

    def emit(self, record: logging.LogRecord) -> None:
        print(f"  [{time.monotonic() - self._started:6.2f} s] {record.getMessage()}", flush=True)


async def _demo(interrupts: Interrupts, duration: float, keep_alive_interval: float) -> int:
    from ..testing import LiveAvatarEmulator  # aiohttp.web: loaded only when a command needs it

    started = time.monotonic()
    logger = logging.getLogger("aioavatar")
    handler = _StepPrinter(started)
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        async with LiveAvatarEmulator() as emulator:
            print(f"LiveAvatar emulator listening on {emulator.base_url}")
            print(
                f"Opening a sandbox session for {duration:g} s "
                f"(keep-alive every {keep_alive_interval:g} s):",
                flush=True,
            )
            session = AvatarSession(
                DEMO_AVATAR_ID,
                api_key=emulator.api_key,
                base_url=emulator.base_url,
                is_sandbox=True,
                keep_alive_interval=keep_alive_interval,
                end_reason_for=output_closed,
            )

            def on_started() -> None:
                print(f"Session {session.session_id} is live")
                print(f"  LiveKit URL: {session.info.livekit_url}")
                print("  (a viewer joins the room with that URL and the session's client token)")
                print("  (Ctrl-C stops it now)", flush=True)

            held = await hold(session, interrupts, duration=duration, on_started=on_started)
            if not held.started:
                print("Interrupted before the session started: nothing to stop.")
            else:
                if held.ended_by_us:
                    print("Left the `async with` block: the SDK stopped the session")
                stats = session.statistics()
                reason = session.end_reason.value if session.end_reason else "?"
                print(
                    f"Session ended with {reason}; "
                    f"{stats.keep_alives_sent} keep-alives sent, {stats.keep_alives_failed} failed"
                )
            print("What the emulator received:")
            for entry in emulator.journal:
                print(
                    f"  {entry.method:4} {entry.path:28} auth={entry.auth or '-':8} "
                    f"-> {entry.status}"
                )
            status = exit_status(session, held, interrupts)
            if held.started:
                recorded = emulator.sessions[session.session_id]
                print(
                    f"Emulator's record: state={recorded.state}, end_reason={recorded.end_reason}",
                    flush=True,
                )
                if status == EXIT_OK and recorded.end_reason != EndReason.USER_CLOSED:
                    status = EXIT_FAILURE
            return status
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


COMMAND = Command(
    name="demo",
    help="run a whole session against the embedded LiveAvatar emulator (no account, no network)",
    description="Start an emulator of the LiveAvatar API inside this process, open a sandbox "
    "session on it, keep it alive for --duration seconds, stop it, and show each request the "
    "SDK sent and what the emulator recorded. No account and no network are needed. Ctrl-C "
    "stops the session early (with USER_CLOSED, as `aioavatar run` does).",
    arguments=_arguments,
    run=command,
)
