"""``aioavatar emulator``: serve a provider's emulator until Ctrl-C, printing its base URL and a test key."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from ..kaltura import KS_ENV
from ..testing import KalturaEmulator, LiveAvatarEmulator
from ..testing.__main__ import serve as serve_liveavatar
from .common import (
    API_KEY_ENV,
    BASE_URL_ENV,
    EXIT_FAILURE,
    EXIT_OK,
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


def add_parser(commands: Commands) -> None:
    emulator = commands.add_parser(
        "emulator",
        help="serve an emulator of a provider's API until Ctrl-C",
        description="Serve a local emulator of a provider's session API until Ctrl-C (or SIGTERM), "
        "printing its base URL and the test API key it accepts.",
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
    emulator.set_defaults(command=command)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value!r}")
    return port


def command(args: argparse.Namespace) -> int:
    try:
        anyio.run(_serve, args)
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


async def _serve(args: argparse.Namespace) -> None:
    api_key = args.api_key or DEFAULT_KEYS[args.provider]
    async with anyio.create_task_group() as tg:
        await tg.start(_until_signal, tg.cancel_scope)
        if args.provider == "kaltura":
            async with KalturaEmulator(api_key, host=args.host, port=args.port) as kaltura:
                _announce("kaltura", kaltura.base_url, kaltura.ks, json_line=args.json)
                await anyio.sleep_forever()

        def announce(emulator: LiveAvatarEmulator) -> None:
            _announce("liveavatar", emulator.base_url, emulator.api_key, json_line=args.json)

        await serve_liveavatar(host=args.host, port=args.port, api_key=api_key, on_ready=announce)


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
