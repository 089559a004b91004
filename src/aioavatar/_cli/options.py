"""The command line's grammar: the parser, the sub-commands as data, the argument types, and the options
several commands share."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, Protocol, TypeVar

import attrs

from .. import EndReason
from .._secret import MASK
from .._validation import MIN_CREDENTIAL_LENGTH, shown
from ..kaltura import REGIONS
from ..liveavatar import DEFAULT_BASE_URL
from .common import (
    API_KEY_ENV,
    BASE_URL_ENV,
    EXIT_USAGE,
    INPUTS,
    LIVEAVATAR,
    PROVIDERS,
    UsageError,
)

__all__ = [
    "Arguments",
    "Command",
    "Parser",
    "add_api_key_option",
    "add_commands",
    "add_connection_options",
    "add_provider_option",
    "add_region_option",
    "check_session_id",
    "end_reason",
    "port",
    "positive_int",
    "positive_seconds",
    "session_id",
]

N = TypeVar("N", int, float)

_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_FLAGS_IN_PS = "flags are visible to other local users in `ps`: prefer the variable"


def _secret_flag(flag: str) -> bool:
    """Whether ``flag`` may carry a credential: ``--api-key``, ``--ks``, ``--token``, abbreviated
    (argparse takes ``--api``) or misspelt (``--apikey``, ``--api_key``, ``--key``)."""
    name = flag.lstrip("-").lower().replace("_", "-")
    full = ("api-key", "ks", "token")
    return bool(name) and (
        name.startswith(("api", "key", "ks", "tok", "secret"))
        or any(f.startswith(name) for f in full)
    )


def _without_secrets(message: str, argv: list[str]) -> str:
    """``message`` with the value of every credential-like flag of ``argv`` masked (argparse quotes
    the arguments it did not recognise: ``--ks <the KS>``, given to a command that takes none)."""
    for index, arg in enumerate(argv):
        flag, equals, value = arg.partition("=")
        if not flag.startswith("-") or not _secret_flag(flag):
            continue
        if equals:  # ``--ks=...``: the value, whatever it starts with, where the flag gives it
            secret = value
            message = message.replace(arg, f"{flag}={MASK}") if value else message
        else:  # ``--ks VALUE``, unless VALUE is the next long option
            secret = argv[index + 1] if index + 1 < len(argv) else ""
            if secret.startswith("--"):
                continue
        if len(secret) >= MIN_CREDENTIAL_LENGTH:  # anywhere (quoted, say): no word is cut into
            message = message.replace(secret, MASK)
        elif secret:  # shorter (a truncated paste): as a word of its own only
            message = re.sub(rf"(?<![^\s'\"]){re.escape(secret)}(?![^\s'\"])", MASK, message)
    return message


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block), exit status 2, and show no
    value given to a credential-like flag."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._argv: list[str] = []

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._argv = list(sys.argv[1:] if args is None else args)
        parsed, rest = super().parse_known_args(args, namespace)
        # How the user writes each input (a command's parser runs inside its parent's): an error
        # about a field is said in these words (``--keep-alive-interval``, ``AVATAR_ID``).
        inputs = getattr(parsed, INPUTS, {})
        for action in self._actions:
            if action.dest is not argparse.SUPPRESS and action.dest not in inputs:
                long = [o for o in action.option_strings if o.startswith("--")]
                inputs[action.dest] = long[-1] if long else str(action.metavar or action.dest)
        setattr(parsed, INPUTS, inputs)
        return parsed, rest

    def error(self, message: str) -> NoReturn:
        message = _without_secrets(message, self._argv)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


@attrs.frozen(kw_only=True)
class Command:
    """A sub-command: what ``--help`` says of it, the arguments it takes, and what runs it.

    ``run`` returns the exit status; a command whose own sub-commands run instead has none.
    """

    name: str
    help: str
    description: str | None = None
    arguments: Callable[[Parser], None]
    run: Callable[[argparse.Namespace], int] | None = None


def add_commands(parser: Parser, commands: Iterable[Command], *, dest: str, metavar: str) -> None:
    """Give ``parser`` the sub-commands ``commands`` (one is required); the name of the one given lands
    in ``dest``, what runs it in ``command``."""
    choices = parser.add_subparsers(dest=dest, required=True, metavar=metavar)
    for command in commands:
        sub = choices.add_parser(command.name, help=command.help, description=command.description)
        command.arguments(sub)
        if command.run is not None:
            sub.set_defaults(command=command.run)


# --- argument types ------------------------------------------------------------------------------------


def number(
    convert: Callable[[str], N], fits: Callable[[N], bool], expected: str
) -> Callable[[str], N]:
    """An argparse type: ``convert(value)`` where it ``fits``, else an error that says what was
    ``expected``."""

    def parse(value: str) -> N:
        try:
            parsed = convert(value)
        except ValueError:
            pass
        else:
            if fits(parsed):
                return parsed
        raise argparse.ArgumentTypeError(f"expected {expected}, got {shown(value)}")

    return parse


positive_seconds = number(float, lambda s: 0 < s < math.inf, "a number of seconds above 0")
positive_int = number(int, lambda n: n >= 1, "a whole number from 1")
port = number(int, lambda p: 0 <= p <= 65535, "a port from 0 to 65535")


def session_id(value: str) -> str:
    """An argparse type: a LiveAvatar session id (a UUID).

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    if _UUID.fullmatch(value) is None:
        raise argparse.ArgumentTypeError(
            f"{shown(value)} is not a session id: expected a UUID such as "
            "'3fa85f64-5717-4562-b3fc-2c963f66afa6' (`aioavatar sessions list` shows them)"
        )
    return value


def check_session_id(value: str) -> None:
    """Refuse what is no LiveAvatar session id (:func:`session_id`) as a usage error, for an id
    checked once the provider is known.

    Raises:
        UsageError: not a UUID.
    """
    try:
        session_id(value)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(str(exc)) from None


def end_reason(value: str) -> EndReason:
    """An argparse type: a known end reason, any case."""
    try:
        return EndReason.known(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown end reason {shown(value)}: use one of {', '.join(m.value for m in EndReason)}"
        ) from None


class Arguments(Protocol):
    """What options are added to: a parser, a sub-command's parser or a group of either."""

    def add_argument(self, *names: str, **settings: Any) -> argparse.Action: ...


# --- options -------------------------------------------------------------------------------------------


def add_provider_option(parser: Arguments, *, help: str) -> None:
    """``--provider liveavatar|kaltura`` (any case; default liveavatar)."""
    parser.add_argument(
        "--provider", type=str.lower, choices=PROVIDERS, default=LIVEAVATAR, help=help
    )


def add_api_key_option(parser: Arguments) -> None:
    """``--api-key`` (default ``$LIVEAVATAR_API_KEY``)."""
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"the LiveAvatar API key (default: ${API_KEY_ENV}; {_FLAGS_IN_PS})",
    )


def add_connection_options(parser: Arguments, *, base_url_help: str | None = None) -> None:
    """``--base-url`` (default ``$LIVEAVATAR_BASE_URL``, else the real API), ``--allow-insecure`` and
    ``--verbose``."""
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help=base_url_help
        or f"the API root (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL}); "
        "point it at `aioavatar emulator` to try commands without an account",
    )
    parser.add_argument(
        "--allow-insecure",
        action="store_true",
        help="accept an http:// base URL to a host other than this machine (an emulator in another "
        "container, say): the credential then travels in clear",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every request (method, path, status)"
    )


def add_region_option(parser: Arguments) -> None:
    """``--region nvp1|frp2`` (Kaltura's; any case)."""
    parser.add_argument(
        "--region",
        type=str.lower,
        choices=list(REGIONS),
        help="Kaltura's region: nvp1 (US, the default) or frp2 (EU); --base-url wins over it",
    )
