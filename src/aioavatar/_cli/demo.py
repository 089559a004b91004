"""``aioavatar demo``: a whole session against the embedded LiveAvatar emulator, no account needed."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import TYPE_CHECKING

import anyio

from .._enums import EndReason
from ..liveavatar import SANDBOX_AVATAR_ID

if TYPE_CHECKING:
    from .common import Commands

__all__ = ["DEMO_AVATAR_ID", "add_parser", "command"]

DEMO_AVATAR_ID = SANDBOX_AVATAR_ID


def add_parser(commands: Commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="run a whole session against the embedded LiveAvatar emulator (no account, no network)",
    )
    demo.add_argument(
        "--duration", type=float, default=2.0, help="seconds to keep the session open"
    )
    demo.add_argument(
        "--keep-alive-interval", type=float, default=0.5, help="seconds between keep-alives"
    )
    demo.set_defaults(command=command)


def command(args: argparse.Namespace) -> int:
    if args.duration <= 0 or args.keep_alive_interval <= 0:
        print("aioavatar: --duration and --keep-alive-interval must be above 0", file=sys.stderr)
        return 2
    return anyio.run(_demo, args.duration, args.keep_alive_interval)


class _StepPrinter(logging.Handler):
    """Prints the SDK's own log records (method, path, status, timing) as the demo's steps."""

    def __init__(self, started: float) -> None:
        super().__init__(logging.DEBUG)
        self._started = started

    def emit(self, record: logging.LogRecord) -> None:
        print(f"  [{time.monotonic() - self._started:6.2f} s] {record.getMessage()}", flush=True)


async def _demo(duration: float, keep_alive_interval: float) -> int:
    from .._avatar_session import AvatarSession
    from ..testing import LiveAvatarEmulator

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
                f"(keep-alive every {keep_alive_interval:g} s):"
            )
            session = AvatarSession(
                DEMO_AVATAR_ID,
                api_key=emulator.api_key,
                base_url=emulator.base_url,
                is_sandbox=True,
                keep_alive_interval=keep_alive_interval,
            )
            async with session:
                print(f"Session {session.session_id} is live")
                print(f"  LiveKit URL: {session.info.livekit_url}")
                print("  (a viewer joins the room with that URL and the session's client token)")
                await anyio.sleep(duration)
                print("Leaving the `async with` block: the SDK stops the session")
            stats = session.statistics()
            print(
                f"Session ended with {session.end_reason.value if session.end_reason else '?'}; "
                f"{stats.keep_alives_sent} keep-alives sent, {stats.keep_alives_failed} failed"
            )
            print("What the emulator received:")
            for entry in emulator.journal:
                print(
                    f"  {entry.method:4} {entry.path:28} auth={entry.auth or '-':8} "
                    f"-> {entry.status}"
                )
            recorded = emulator.sessions[session.session_id]
            print(f"Emulator's record: state={recorded.state}, end_reason={recorded.end_reason}")
            ok = recorded.end_reason == EndReason.USER_CLOSED
            return 0 if ok else 1
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
