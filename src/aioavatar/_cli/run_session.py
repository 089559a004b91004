"""``aioavatar run``: open a session, print where to join it, keep it alive until Ctrl-C or ``--duration``.

The flags and their checks here; what each provider prints in :mod:`.run_liveavatar` and
:mod:`.run_kaltura`, the flow they share in :mod:`.runner`. How it ends, and the exit status, is written
once for both in :mod:`.holding`:

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
from typing import Any, Final

from .. import Mode
from .common import JSON_FIELDS_URL, KALTURA, LIVEAVATAR, UsageError
from .options import (
    Command,
    Parser,
    add_api_key_option,
    add_connection_options,
    add_provider_option,
    add_region_option,
    positive_seconds,
)
from .run_kaltura import KALTURA_RUNNER
from .run_liveavatar import LIVEAVATAR_RUNNER
from .runner import Runner, run_with

__all__ = ["COMMAND"]

_RUNNERS: Final[dict[str, Runner[Any, Any]]] = {
    LIVEAVATAR: LIVEAVATAR_RUNNER,
    KALTURA: KALTURA_RUNNER,
}
# The flags of one provider, refused with the other: dest -> flag.
_ONLY: Final = {
    LIVEAVATAR: {"sandbox": "--sandbox", "mode": "--mode", "api_key": "--api-key"},
    KALTURA: {"ks": "--ks", "region": "--region"},
}


def _arguments(run: Parser) -> None:
    run.add_argument(
        "avatar_id",
        nargs="?",
        metavar="AVATAR_ID",
        help="the avatar: a UUID for LiveAvatar, a catalog id for Kaltura (optional with "
        "--emulator, and with --sandbox: the sandbox avatar; `aioavatar avatars list --public` "
        "and `aioavatar catalog list` show the others)",
    )
    add_provider_option(run, help="whose API to use (default liveavatar)")
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
        help="print JSON lines: a `started` event, then an `ended` event (fields: "
        f"{JSON_FIELDS_URL})",
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


def command(args: argparse.Namespace) -> int:
    _check_flags(args)
    if args.emulator and args.base_url is not None:
        raise UsageError("--emulator and --base-url exclude each other: give one")
    return run_with(_RUNNERS[args.provider], args)


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


COMMAND = Command(
    name="run",
    help="open a session, print where a viewer joins it, keep it alive until Ctrl-C",
    description="Open a session, print what a viewer joins it with (LiveAvatar: the LiveKit URL "
    "and client token, and the WebSocket URL of a LITE session; Kaltura: the WHEP URL and TURN "
    "server), keep it alive, and stop it on Ctrl-C, SIGTERM or after --duration, printing the "
    "end reason. Credentials come from the environment (LIVEAVATAR_API_KEY, KALTURA_AVATAR_KS) "
    "or --api-key/--ks; --emulator needs none.",
    arguments=_arguments,
    run=command,
)
