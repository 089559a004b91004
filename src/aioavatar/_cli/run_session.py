"""``aioavatar run``: open a session, print where to join it, keep it alive until Ctrl-C or ``--duration``.

LiveAvatar here; ``--provider kaltura`` in :mod:`.run_kaltura`. How it ends, and the exit status, is
written once for both in :mod:`.holding`:

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
from .clients import liveavatar_client, require_api_key
from .common import (
    KALTURA,
    LIVEAVATAR,
    PROVIDERS,
    UsageError,
    add_api_key_option,
    add_connection_options,
    add_region_option,
    positive_seconds,
    print_json,
)
from .holding import (
    Interrupts,
    conclude,
    hold,
    keeping,
    output_closed,
    run_interruptible,
)
from .run_kaltura import command as run_kaltura_command

if TYPE_CHECKING:
    from .common import Commands

__all__ = ["add_parser"]

# The flags of one provider, refused with the other: dest -> flag.
_ONLY = {
    LIVEAVATAR: {"sandbox": "--sandbox", "mode": "--mode", "api_key": "--api-key"},
    KALTURA: {"ks": "--ks", "region": "--region"},
}


def add_parser(commands: Commands) -> None:
    run = commands.add_parser(
        "run",
        help="open a session, print where a viewer joins it, keep it alive until Ctrl-C",
        description="Open a session, print what a viewer joins it with (LiveAvatar: the LiveKit URL "
        "and client token, and the WebSocket URL of a LITE session; Kaltura: the WHEP URL and TURN "
        "server), keep it alive, and stop it on Ctrl-C, SIGTERM or after --duration, printing the "
        "end reason. Credentials come from the environment (LIVEAVATAR_API_KEY, KALTURA_AVATAR_KS) "
        "or --api-key/--ks; --emulator needs none.",
    )
    run.add_argument(
        "avatar_id",
        nargs="?",
        metavar="AVATAR_ID",
        help="the avatar: a UUID for LiveAvatar, a catalog id for Kaltura (optional with --emulator)",
    )
    run.add_argument(
        "--provider",
        type=str.lower,
        choices=PROVIDERS,
        default=LIVEAVATAR,
        help="whose API to use (default liveavatar)",
    )
    run.add_argument(
        "--duration",
        type=positive_seconds,
        metavar="S",
        help="stop the session after S seconds (default: run until Ctrl-C)",
    )
    run.add_argument(
        "--keep-alive-interval",
        type=positive_seconds,
        metavar="S",
        help="seconds between keep-alives (default: LiveAvatar 60, Kaltura 10)",
    )
    run.add_argument(
        "--emulator",
        action="store_true",
        help="run against an embedded emulator of the provider: no account, no network",
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print JSON lines: a `started` event, then an `ended` event (fields in the README)",
    )
    liveavatar = run.add_argument_group("LiveAvatar only")
    liveavatar.add_argument(
        "--sandbox", action="store_true", help="a sandbox session (no credits used)"
    )
    liveavatar.add_argument(
        "--mode",
        type=str.upper,
        choices=[m.value for m in Mode],
        help="FULL (LiveAvatar runs STT, LLM and TTS; the default) or LITE (you send the audio "
        "over the WebSocket whose URL is printed)",
    )
    add_api_key_option(liveavatar)
    kaltura = run.add_argument_group("Kaltura only")
    kaltura.add_argument(
        "--ks",
        metavar="KS",
        help="an admin Kaltura Session (default: $KALTURA_AVATAR_KS; flags are visible to other "
        "local users in `ps`: prefer the variable)",
    )
    add_region_option(kaltura)
    add_connection_options(
        run,
        base_url_help="the API root (default: $LIVEAVATAR_BASE_URL or $KALTURA_AVATAR_BASE_URL, "
        "else the provider's; Kaltura: --region's)",
    )
    run.set_defaults(command=command)


def command(args: argparse.Namespace) -> int:
    _check_flags(args)
    if args.emulator and args.base_url is not None:
        raise UsageError("--emulator and --base-url exclude each other: give one")
    if args.provider == KALTURA:
        return run_kaltura_command(args)
    if args.emulator:
        return run_interruptible(lambda interrupts: _on_emulator(args, interrupts))
    if args.avatar_id is None:
        raise UsageError(
            "give the avatar's id: `aioavatar run AVATAR_ID` (or try `aioavatar run --emulator`)"
        )
    client = liveavatar_client(
        args, api_key=require_api_key(args, " (or try `aioavatar run --emulator` without one)")
    )
    session = _session(client, args.avatar_id, args)  # its arguments checked before any request
    return run_interruptible(lambda interrupts: _hold(client, session, args, interrupts))


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse the other provider's flags, and a credential with --emulator (it brings its own)."""
    other = KALTURA if args.provider == LIVEAVATAR else LIVEAVATAR
    given = [
        flag for dest, flag in _ONLY[other].items() if getattr(args, dest) not in (None, False)
    ]
    if given:
        raise UsageError(
            f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} for --provider {other} "
            f"only (this run is --provider {args.provider})"
        )
    credential = "--api-key" if args.provider == LIVEAVATAR else "--ks"
    if args.emulator and getattr(args, "api_key" if args.provider == LIVEAVATAR else "ks"):
        raise UsageError(f"--emulator brings its own credential: drop {credential}")


def _session(client: LiveAvatarClient, avatar_id: str, args: argparse.Namespace) -> AvatarSession:
    return client.session(
        avatar_id,
        is_sandbox=args.sandbox,
        mode=args.mode or Mode.FULL,
        keep_alive_interval=args.keep_alive_interval or 60.0,
        end_reason_for=output_closed,
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
                "ws_url": info.ws_url,
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
    if info.ws_url:
        print(f"WebSocket URL (LITE): {info.ws_url}")
    print(f"A viewer joins the room with the first two. {keeping(duration)}", flush=True)
