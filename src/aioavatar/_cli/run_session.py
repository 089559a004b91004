"""``aioavatar run``: open a session, print where to join it, keep it alive until Ctrl-C or ``--duration``.

How it ends, and the end reason sent:

* Ctrl-C (SIGINT) or SIGTERM once the session runs, or ``--duration`` elapsed: ``USER_CLOSED``; exit 0.
* Ctrl-C while the session is starting: the start is abandoned before it is sent, or, once sent, the
  session is stopped right after with ``USER_DISCONNECTED``; exit 130.
* The session reaches its ``max_session_duration`` (sandbox sessions: about a minute): the SDK stops it
  with ``MAX_DURATION_REACHED``; exit 0.
* The server ends it (idle timeout, credits, ...): no stop, its reason is printed; exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from .._avatar_session import AvatarSession
from .._enums import EndReason, Mode
from .._session import SessionState
from ..exceptions import SessionEndedError
from ..liveavatar import LiveAvatarClient
from ..testing import LiveAvatarEmulator
from .common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    add_connection_options,
    positive_seconds,
    print_json,
    require_api_key,
    resolve_base_url,
    stop_signals,
)
from .demo import DEMO_AVATAR_ID

if TYPE_CHECKING:
    from .common import Commands

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    run = commands.add_parser(
        "run",
        help="open a session, print the LiveKit URL and client token, keep it alive until Ctrl-C",
        description="Open a LiveAvatar session (API key from LIVEAVATAR_API_KEY), print the LiveKit "
        "URL and client token a viewer joins with, keep the session alive, and stop it on Ctrl-C or "
        "after --duration, printing the end reason.",
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
        avatar_id = args.avatar_id or DEMO_AVATAR_ID
        return anyio.run(_on_emulator, avatar_id, args)
    if args.avatar_id is None:
        raise UsageError(
            "give the avatar's id: `aioavatar run AVATAR_ID` (or try `aioavatar run --emulator`)"
        )
    client = LiveAvatarClient(
        require_api_key(" (or try `aioavatar run --emulator` without one)"),
        base_url=resolve_base_url(args.base_url),
    )
    return anyio.run(_with_client, client, args.avatar_id, args)


async def _on_emulator(avatar_id: str, args: argparse.Namespace) -> int:
    async with LiveAvatarEmulator(api_key=secrets.token_urlsafe(16)) as emulator:
        if not args.json:
            print(f"Embedded LiveAvatar emulator at {emulator.base_url}")
        client = LiveAvatarClient(emulator.api_key, base_url=emulator.base_url)
        return await _with_client(client, avatar_id, args)


async def _with_client(client: LiveAvatarClient, avatar_id: str, args: argparse.Namespace) -> int:
    # The session is built (and its arguments checked) before any request is sent.
    session = client.session(
        avatar_id,
        is_sandbox=args.sandbox,
        mode=args.mode,
        keep_alive_interval=args.keep_alive_interval,
    )
    async with client:
        return await hold(session, duration=args.duration, json_lines=args.json)


async def hold(session: AvatarSession, *, duration: float | None, json_lines: bool) -> int:
    """Run ``session`` until a stop signal, ``duration`` or its end; report; return the exit status."""
    # The wait inside the block: cancelled by a stop signal, or at the end of --duration.
    waiting = anyio.CancelScope()
    received: list[int] = []  # the signals that arrived, in order
    aborted = False
    async with anyio.create_task_group() as tg:

        def abort() -> None:
            nonlocal aborted
            aborted = True
            tg.cancel_scope.cancel()

        await tg.start(_watch_signals, session, waiting, abort, received)
        with contextlib.suppress(SessionEndedError):  # the server's end interrupted the block
            async with session:
                _report_started(session, duration, json_lines)
                if duration is not None:
                    waiting.deadline = anyio.current_time() + duration
                with waiting:
                    await session.wait_ended()
        tg.cancel_scope.cancel()  # the signal watcher
    if session.statistics().started_at is None:  # a signal during the token request
        if not json_lines:
            print("Interrupted before the session started: nothing to stop.")
        return EXIT_INTERRUPTED
    _report_ended(session, json_lines)
    if aborted or (received and received[0] == signal.SIGINT):
        return (
            EXIT_INTERRUPTED  # Ctrl-C: stopped with USER_CLOSED, then 130 as for any interruption
        )
    ours = waiting.cancelled_caught and session.end_reason is EndReason.USER_CLOSED
    if ours or session.end_reason is EndReason.MAX_DURATION_REACHED:
        return EXIT_OK
    return EXIT_FAILURE  # ended elsewhere: the server, or another client (its reason was printed)


async def _watch_signals(
    session: AvatarSession,
    waiting: anyio.CancelScope,
    abort: Callable[[], None],
    received: list[int],
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """SIGINT/SIGTERM: stop a running session (``USER_CLOSED``); abandon one that is starting."""
    with stop_signals() as signals:
        task_status.started()
        if signals is None:  # Ctrl-C cancels the whole run instead: USER_DISCONNECTED
            return
        async for signum in signals:
            received.append(signum)
            if session.state is SessionState.ACTIVE:
                print("Stopping the session...", file=sys.stderr, flush=True)
                waiting.cancel()
            elif session.state is SessionState.STARTING:
                print("Abandoning the start...", file=sys.stderr, flush=True)
                abort()
            else:
                print(
                    "Already stopping; waiting for the confirmation.", file=sys.stderr, flush=True
                )


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
    until = f"for {duration:g} s" if duration is not None else "until Ctrl-C"
    limit = (
        f" (the server ends it after {info.max_session_duration} s)"
        if info.max_session_duration
        else ""
    )
    print(f"Session {session.session_id} is live{limit}.")
    print(f"LiveKit URL:          {info.livekit_url}")
    print(f"LiveKit client token: {info.livekit_client_token}")
    print(f"A viewer joins the room with these two. Keeping the session alive {until}.", flush=True)


def _report_ended(session: AvatarSession, json_lines: bool) -> None:
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
        f"Session ended: {reason} "
        f"({stats.keep_alives_sent} keep-alives sent, {stats.keep_alives_failed} failed).",
        flush=True,
    )
