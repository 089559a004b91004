"""``aioavatar run``: open a session, print where to join it, keep it alive until Ctrl-C or ``--duration``.

How it ends, and the exit status, is written once for ``run`` and ``demo`` in :mod:`.holding`:

* Ctrl-C (SIGINT) or SIGTERM once the session runs, or ``--duration`` elapsed: stopped with
  ``USER_CLOSED``; exit 130 after Ctrl-C, else 0.
* A signal while the session is starting: the start is abandoned before it is sent, or, once sent, the
  session is stopped right after with ``USER_DISCONNECTED``; exit 130.
* The session reaches its ``max_session_duration`` (sandbox sessions: about a minute): the SDK stops it
  with ``MAX_DURATION_REACHED``; exit 0.
* It ended elsewhere (the server: idle timeout, credits; another client's stop, noticed by a keep-alive
  or by our own stop): the server's reason is printed; exit 1.
"""

from __future__ import annotations

import argparse
import secrets
from typing import TYPE_CHECKING

from .. import SANDBOX_AVATAR_ID, AvatarSession, LiveAvatarClient, Mode
from .common import (
    UsageError,
    add_connection_options,
    positive_seconds,
    print_json,
    require_api_key,
    resolve_base_url,
)
from .holding import Interrupts, conclude, hold, keeping, run_interruptible

if TYPE_CHECKING:
    from .common import Commands

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    run = commands.add_parser(
        "run",
        help="open a session, print the LiveKit URL and client token, keep it alive until Ctrl-C",
        description="Open a LiveAvatar session (API key from LIVEAVATAR_API_KEY), print the LiveKit "
        "URL and client token a viewer joins with, keep the session alive, and stop it on Ctrl-C, "
        "SIGTERM or after --duration, printing the end reason.",
    )
    run.add_argument(
        "avatar_id",
        nargs="?",
        metavar="AVATAR_ID",
        help="the avatar's UUID (optional with --emulator)",
    )
    run.add_argument("--sandbox", action="store_true", help="a sandbox session (no credits used)")
    run.add_argument(
        "--duration",
        type=positive_seconds,
        metavar="S",
        help="stop the session after S seconds (default: run until Ctrl-C)",
    )
    run.add_argument(
        "--mode",
        type=str.upper,
        choices=[m.value for m in Mode],
        default=Mode.FULL.value,
        help="FULL (LiveAvatar runs STT, LLM and TTS; the default) or LITE (you send the audio)",
    )
    run.add_argument(
        "--keep-alive-interval",
        type=positive_seconds,
        default=60.0,
        metavar="S",
        help="seconds between keep-alives (default 60)",
    )
    run.add_argument(
        "--emulator",
        action="store_true",
        help="run against an embedded emulator: no account, no network",
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print JSON lines: a `started` event, then an `ended` event (fields in the README)",
    )
    add_connection_options(run)
    run.set_defaults(command=command)


def command(args: argparse.Namespace) -> int:
    if args.emulator:
        if args.base_url is not None:
            raise UsageError("--emulator and --base-url exclude each other: give one")
        return run_interruptible(lambda interrupts: _on_emulator(args, interrupts))
    if args.avatar_id is None:
        raise UsageError(
            "give the avatar's id: `aioavatar run AVATAR_ID` (or try `aioavatar run --emulator`)"
        )
    client = LiveAvatarClient(
        require_api_key(" (or try `aioavatar run --emulator` without one)"),
        base_url=resolve_base_url(args.base_url),
    )
    session = _session(client, args.avatar_id, args)  # its arguments checked before any request
    return run_interruptible(lambda interrupts: _hold(client, session, args, interrupts))


def _session(client: LiveAvatarClient, avatar_id: str, args: argparse.Namespace) -> AvatarSession:
    return client.session(
        avatar_id,
        is_sandbox=args.sandbox,
        mode=args.mode,
        keep_alive_interval=args.keep_alive_interval,
    )


async def _on_emulator(args: argparse.Namespace, interrupts: Interrupts) -> int:
    from ..testing import LiveAvatarEmulator  # aiohttp.web: loaded only when a command needs it

    async with LiveAvatarEmulator(api_key=secrets.token_urlsafe(16)) as emulator:
        if not args.json:
            print(f"Embedded LiveAvatar emulator at {emulator.base_url}", flush=True)
        client = LiveAvatarClient(emulator.api_key, base_url=emulator.base_url)
        session = _session(client, args.avatar_id or SANDBOX_AVATAR_ID, args)
        return await _hold(client, session, args, interrupts)


async def _hold(
    client: LiveAvatarClient,
    session: AvatarSession,
    args: argparse.Namespace,
    interrupts: Interrupts,
) -> int:
    async with client:
        held = await hold(
            session,
            interrupts,
            duration=args.duration,
            on_started=lambda: _report_started(session, args.duration, args.json),
        )
    return conclude(session, held, interrupts, json_lines=args.json)


def _report_started(session: AvatarSession, duration: float | None, json_lines: bool) -> None:
    info = session.info
    if json_lines:
        print_json(
            {
                "event": "started",
                "session_id": session.session_id,
                "livekit_url": info.livekit_url,
                "livekit_client_token": info.livekit_client_token,
                "max_session_duration": info.max_session_duration,
            }
        )
        return
    limit = (
        f" (the server ends it after {info.max_session_duration:g} s)"
        if info.max_session_duration
        else ""
    )
    print(f"Session {session.session_id} is live{limit}.")
    print(f"LiveKit URL:          {info.livekit_url}")
    print(f"LiveKit client token: {info.livekit_client_token}")
    print(f"A viewer joins the room with these two. {keeping(duration)}", flush=True)
