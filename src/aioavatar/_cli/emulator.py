"""``aioavatar emulator``: serve a provider's emulator until Ctrl-C, printing its base URL and a test key.

Every option of the emulators' constructors is a flag; a flag left out keeps the constructor's default,
so the defaults (and the checks of each value) are written once, in :mod:`aioavatar.testing`.
``python -m aioavatar.testing`` is this command.
"""

from __future__ import annotations

import argparse
import re
import sys
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import anyio
import anyio.abc

from .._base_url import host_name_ok
from .._validation import check_credential
from ..exceptions import ConfigurationError
from ..kaltura import KS_ENV
from .common import (
    API_KEY_ENV,
    BASE_URL_ENV,
    EXIT_FAILURE,
    EXIT_OK,
    JSON_FIELDS_URL,
    KALTURA,
    LIVEAVATAR,
    PROVIDERS,
    UsageError,
    emulator_for,
    print_json,
    single,
    stop_signals,
)
from .options import Command, Parser, add_provider_option, number, port, positive_seconds

__all__ = ["COMMAND", "DEFAULT_KEYS", "OPTIONS"]

#: The credential each emulator accepts unless --api-key says otherwise.
DEFAULT_KEYS: Final = {LIVEAVATAR: "emulator-api-key", KALTURA: "emulator-admin-ks"}
#: The constructor arguments each provider's flags feed (``idle_timeout`` is both providers').
OPTIONS: Final = {
    LIVEAVATAR: (
        "idle_timeout",
        "sandbox_max_duration",
        "tier_max_session_duration",
        "rate_limit",
        "time_scale",
        "connect_delay",
        "max_message_size",
        "credits",
    ),
    KALTURA: ("idle_timeout", "non_admin_ks", "ended_status", "say_text_unavailable"),
}


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(value) from None


#: Every flag but ``--provider``, by the name its value lands in (``--idle-timeout``: ``idle_timeout``),
#: and what argparse is told of it. Those of ``OPTIONS`` are ``None`` when left out: the constructor's
#: default holds. One provider's own are listed in that provider's group of ``--help``.
_FLAGS: Final[dict[str, dict[str, Any]]] = {
    "host": {"default": "127.0.0.1", "help": "the address to listen on (default 127.0.0.1)"},
    "port": {
        "type": port,
        "default": 8000,
        "metavar": "N",
        "help": "the port to listen on, 0 for any free one (default 8000)",
    },
    "api_key": {
        "metavar": "KEY",
        "help": "the test credential the emulator accepts: LiveAvatar's API key, Kaltura's admin KS "
        f"(default {DEFAULT_KEYS[LIVEAVATAR]}, {DEFAULT_KEYS[KALTURA]})",
    },
    "json": {
        "action": "store_true",
        "help": "print one JSON line {provider, base_url, api_key} once listening (fields: "
        f"{JSON_FIELDS_URL})",
    },
    "idle_timeout": {
        "type": positive_seconds,
        "metavar": "S",
        "help": "seconds a session lives without keep-alive (default: LiveAvatar 300, Kaltura 90)",
    },
    "sandbox_max_duration": {
        "type": positive_seconds,
        "metavar": "S",
        "help": "how long a sandbox session lasts at most (default 60)",
    },
    "tier_max_session_duration": {
        "type": int,
        "metavar": "S",
        "help": "the account tier's limit of max_session_duration, also what a session that asks "
        "for none gets (default 3600)",
    },
    "rate_limit": {
        "type": int,
        "metavar": "N",
        "help": "requests per caller (API key or session token), per endpoint, per second; beyond "
        "it 429 with Retry-After (default: no limit)",
    },
    "credits": {
        "type": number(_decimal, lambda d: d.is_finite() and d >= 0, "a number of credits from 0"),
        "metavar": "N",
        "help": "the account's starting credit balance; paying sessions draw it down (FULL 2 a "
        "minute, LITE 1), and running out ends them with NO_CREDITS (default 10000)",
    },
    "time_scale": {
        "type": float,
        "metavar": "X",
        "help": "how long LITE audio takes to play, relative to its duration (default 1; 0.1: ten "
        "times faster)",
    },
    "connect_delay": {
        "type": float,
        "metavar": "S",
        "help": "seconds between a LITE socket's `connecting` and `connected` (default 0.05)",
    },
    "max_message_size": {
        "type": int,
        "metavar": "BYTES",
        "help": "LITE frames longer than this close the socket with 1009 (default 1000000)",
    },
    "non_admin_ks": {
        "metavar": "KS",
        "help": "a valid KS that is not an admin one: create answers it 403",
    },
    "ended_status": {
        "type": int,
        "choices": (404, 410),
        "help": "what calls about an ended session answer: 404 (the live server, default) or 410 "
        "(the documentation)",
    },
    "say_text_unavailable": {
        "action": "store_const",
        "const": True,
        "help": "answer every say-text 503, as the live server has been seen to",
    },
}
_GROUPS: Final = {LIVEAVATAR: "LiveAvatar options", KALTURA: "Kaltura options"}


def _arguments(emulator: Parser) -> None:
    add_provider_option(emulator, help="which API to emulate (default liveavatar)")
    groups = {p: emulator.add_argument_group(title) for p, title in _GROUPS.items()}
    for name, flag in _FLAGS.items():
        owners = [p for p in PROVIDERS if name in OPTIONS[p]]
        where = groups[owners[0]] if len(owners) == 1 else emulator
        where.add_argument(_flag(name), **flag)


def _flag(name: str) -> str:
    """The flag whose value lands in ``name``: ``--idle-timeout`` for ``idle_timeout``."""
    return "--" + name.replace("_", "-")


def _in_flags(message: str, options: dict[str, Any]) -> str:
    """The constructor's refusal in the user's words: each option it names is named as its flag
    (``time_scale must be >= 0``: ``--time-scale must be >= 0``), and the rest of it plainly."""
    flags = {name: _flag(name) for name in options} | {"ks": "--api-key", "api_key": "--api-key"}
    for name in sorted(flags, key=len, reverse=True):
        message = re.sub(rf"(?<![\w-]){name}\b", flags[name], message)
    return message.replace(", or None for no limit", "")


def emulator_options(args: argparse.Namespace) -> dict[str, Any]:
    """The constructor arguments the flags give for ``args.provider``.

    Raises:
        UsageError: a flag of the other provider was given.
    """
    mine = OPTIONS[args.provider]
    for name in {n for names in OPTIONS.values() for n in names} - set(mine):
        if getattr(args, name) is not None:
            raise UsageError(f"{_flag(name)} is not an option of the {args.provider} emulator")
    return {name: getattr(args, name) for name in mine if getattr(args, name) is not None}


def command(args: argparse.Namespace) -> int:
    options = emulator_options(args)
    try:
        anyio.run(_serve, args, options)
    except (OSError, BaseExceptionGroup) as group:
        exc = single(group)  # the task group wraps the error of the bind
        if not isinstance(exc, OSError) or isinstance(exc, BrokenPipeError):
            raise  # a closed standard output is the caller's to report (141), not a bind failure
        print(
            f"aioavatar: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
            "pick another address or port with --host/--port",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


async def _serve(args: argparse.Namespace, options: dict[str, Any]) -> None:
    api_key = DEFAULT_KEYS[args.provider] if args.api_key is None else args.api_key
    if not args.host.strip():  # aiohttp's versions differ on what an empty host listens on
        raise UsageError("--host must be an address (0.0.0.0 listens on every one)")
    if not host_name_ok(args.host):
        raise UsageError(
            "--host must be an address or a host name (no empty label, none over 63 characters)"
        )
    try:
        check_credential(api_key, "--api-key")  # what the SDK would refuse to send
        if options.get("non_admin_ks") is not None:
            check_credential(options["non_admin_ks"], "--non-admin-ks")
        emulator = emulator_for(args.provider, api_key, host=args.host, port=args.port, **options)
    except (ValueError, ConfigurationError) as exc:
        raise UsageError(_in_flags(str(exc), options)) from None
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
    if provider == KALTURA:
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


COMMAND = Command(
    name="emulator",
    help="serve an emulator of a provider's API until Ctrl-C",
    description="Serve a local emulator of a provider's session API until Ctrl-C (or SIGTERM), "
    "printing its base URL and the test API key it accepts. Options left out keep the "
    "emulator's defaults.",
    arguments=_arguments,
    run=command,
)
