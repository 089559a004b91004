"""``aioavatar emulator``: serve a provider's emulator until Ctrl-C, printing its base URL and a test key.

Every option of the emulators' constructors is a flag; a flag left out keeps the constructor's default,
so the defaults (and the checks of each value) are written once, in :mod:`aioavatar.testing`.
``python -m aioavatar.testing`` is this command.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from ..kaltura import KS_ENV
from ..testing import KalturaEmulator, LiveAvatarEmulator
from .common import (
    API_KEY_ENV,
    BASE_URL_ENV,
    EXIT_FAILURE,
    EXIT_OK,
    UsageError,
    positive_seconds,
    print_json,
    single,
    stop_signals,
)

if TYPE_CHECKING:
    from .common import Commands

__all__ = ["add_parser"]

PROVIDERS = ("liveavatar", "kaltura")
#: The credential each emulator accepts unless --api-key says otherwise.
DEFAULT_KEYS = {"liveavatar": "emulator-api-key", "kaltura": "emulator-admin-ks"}
#: The constructor arguments each provider's flags feed (``idle_timeout`` is both providers').
OPTIONS = {
    "liveavatar": (
        "idle_timeout",
        "sandbox_max_duration",
        "tier_max_session_duration",
        "rate_limit",
        "time_scale",
        "connect_delay",
        "max_message_size",
    ),
    "kaltura": ("idle_timeout", "non_admin_ks", "ended_status", "say_text_unavailable"),
}


def add_parser(commands: Commands) -> None:
    emulator = commands.add_parser(
        "emulator",
        help="serve an emulator of a provider's API until Ctrl-C",
        description="Serve a local emulator of a provider's session API until Ctrl-C (or SIGTERM), "
        "printing its base URL and the test API key it accepts. Options left out keep the "
        "emulator's defaults.",
    )
    emulator.add_argument(
        "--provider",
        choices=PROVIDERS,
        default="liveavatar",
        help="which API to emulate (default liveavatar)",
    )
    emulator.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    emulator.add_argument(
        "--port",
        type=_port,
        default=8000,
        metavar="N",
        help="the port to listen on, 0 for any free one (default 8000)",
    )
    emulator.add_argument(
        "--api-key",
        metavar="KEY",
        help="the test credential the emulator accepts: LiveAvatar's API key, Kaltura's admin KS "
        f"(default {DEFAULT_KEYS['liveavatar']}, {DEFAULT_KEYS['kaltura']})",
    )
    emulator.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line {provider, base_url, api_key} once listening (fields in the README)",
    )
    emulator.add_argument(
        "--idle-timeout",
        type=positive_seconds,
        metavar="S",
        help="seconds a session lives without keep-alive (default: LiveAvatar 300, Kaltura 90)",
    )
    liveavatar = emulator.add_argument_group("LiveAvatar options")
    liveavatar.add_argument(
        "--sandbox-max-duration",
        type=positive_seconds,
        metavar="S",
        help="how long a sandbox session lasts at most (default 60)",
    )
    liveavatar.add_argument(
        "--tier-max-session-duration",
        type=int,
        metavar="S",
        help="the account tier's limit of max_session_duration, also what a session that asks for "
        "none gets (default 3600)",
    )
    liveavatar.add_argument(
        "--rate-limit",
        type=int,
        metavar="N",
        help="requests per caller (API key or session token), per endpoint, per second; beyond "
        "it 429 with Retry-After (default: no limit)",
    )
    liveavatar.add_argument(
        "--time-scale",
        type=float,
        metavar="X",
        help="how long LITE audio takes to play, relative to its duration (default 1; 0.1: ten "
        "times faster)",
    )
    liveavatar.add_argument(
        "--connect-delay",
        type=float,
        metavar="S",
        help="seconds between a LITE socket's `connecting` and `connected` (default 0.05)",
    )
    liveavatar.add_argument(
        "--max-message-size",
        type=int,
        metavar="BYTES",
        help="LITE frames this long or longer close the socket with 1009 (default 1000000)",
    )
    kaltura = emulator.add_argument_group("Kaltura options")
    kaltura.add_argument(
        "--non-admin-ks",
        metavar="KS",
        help="a valid KS that is not an admin one: create answers it 403",
    )
    kaltura.add_argument(
        "--ended-status",
        type=int,
        choices=(404, 410),
        help="what calls about an ended session answer: 404 (the live server, default) or 410 "
        "(the documentation)",
    )
    kaltura.add_argument(
        "--say-text-unavailable",
        action="store_const",
        const=True,
        help="answer every say-text 503, as the live server has been seen to",
    )
    emulator.set_defaults(command=command)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value!r}")
    return port


def emulator_options(args: argparse.Namespace) -> dict[str, Any]:
    """The constructor arguments the flags give for ``args.provider``.

    Raises:
        UsageError: a flag of the other provider was given.
    """
    mine = OPTIONS[args.provider]
    for name in {n for names in OPTIONS.values() for n in names} - set(mine):
        if getattr(args, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"{flag} is not an option of the {args.provider} emulator")
    return {name: getattr(args, name) for name in mine if getattr(args, name) is not None}


def command(args: argparse.Namespace) -> int:
    options = emulator_options(args)
    try:
        anyio.run(_serve, args, options)
    except (OSError, BaseExceptionGroup) as group:
        exc = single(group)  # the task group wraps the error of the bind
        if not isinstance(exc, OSError):
            raise
        print(
            f"aioavatar: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
            "pick another address or port with --host/--port",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


async def _serve(args: argparse.Namespace, options: dict[str, Any]) -> None:
    api_key = args.api_key or DEFAULT_KEYS[args.provider]
    emulator: LiveAvatarEmulator | KalturaEmulator
    try:
        if args.provider == "kaltura":
            emulator = KalturaEmulator(api_key, host=args.host, port=args.port, **options)
        else:
            emulator = LiveAvatarEmulator(api_key, host=args.host, port=args.port, **options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    async with anyio.create_task_group() as tg:
        await tg.start(_until_signal, tg.cancel_scope)
        async with emulator:
            _announce(args.provider, emulator.base_url, api_key, json_line=args.json)
            await anyio.sleep_forever()


async def _until_signal(
    scope: anyio.CancelScope, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    with stop_signals() as signals:
        task_status.started()
        if signals is None:  # Ctrl-C raises KeyboardInterrupt instead, handled by the caller
            return
        async for _ in signals:
            scope.cancel()
            return


def _announce(provider: str, base_url: str, api_key: str, *, json_line: bool) -> None:
    if json_line:
        print_json({"provider": provider, "base_url": base_url, "api_key": api_key})
        return
    if provider == "kaltura":
        print(f"Kaltura Avatar emulator listening on {base_url}")
        print(f"Test admin KS: {api_key}")
        print(
            f"Try: KalturaAvatarClient({api_key!r}, base_url={base_url!r}) (or {KS_ENV}={api_key})"
        )
    else:
        print(f"LiveAvatar emulator listening on {base_url}")
        print(f"Test API key: {api_key}")
        print(f"Try: {BASE_URL_ENV}={base_url} {API_KEY_ENV}={api_key} aioavatar sessions list")
    print("Press Ctrl-C to stop.", flush=True)
