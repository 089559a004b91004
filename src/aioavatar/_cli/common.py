"""What every command shares: exit statuses, one-line errors, credentials and clients, output helpers.

The signal handling of the commands that hold a session is in :mod:`.holding`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias
from urllib.parse import urlsplit

import anyio

from .. import (
    APIError,
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    EndReason,
    RateLimitedError,
    ResponseDecodeError,
    SessionStopError,
    TransportError,
)
from ..kaltura import KS_ENV, REGIONS
from ..liveavatar import DEFAULT_BASE_URL

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "KALTURA",
    "KALTURA_BASE_URL_ENV",
    "KALTURA_TOKEN_ENV",
    "KS_ENV",
    "LIVEAVATAR",
    "PROVIDERS",
    "Parser",
    "UsageError",
    "add_api_key_option",
    "add_connection_options",
    "add_region_option",
    "base_url_source",
    "credential_name",
    "end_reason",
    "error_report",
    "names_base_url",
    "notice",
    "positive_seconds",
    "print_json",
    "session_id",
    "silence_stdout",
    "single",
    "stop_signals",
    "verbose_logging",
]

EXIT_OK = 0
EXIT_FAILURE = 1  # the API refused, no answer, a stop not confirmed, a session ended elsewhere
EXIT_USAGE = 2  # a mistake the user can fix: the message names the fix
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process that Ctrl-C ended
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: standard output was closed (`aioavatar ... | head -1`)

LIVEAVATAR = "liveavatar"
KALTURA = "kaltura"
PROVIDERS = (LIVEAVATAR, KALTURA)

API_KEY_ENV = "LIVEAVATAR_API_KEY"
BASE_URL_ENV = "LIVEAVATAR_BASE_URL"
KALTURA_BASE_URL_ENV = "KALTURA_AVATAR_BASE_URL"
#: The variable `sessions stop --provider kaltura` reads a session's own token from.
KALTURA_TOKEN_ENV = "KALTURA_AVATAR_SESSION_TOKEN"  # noqa: S105 - a name, not a secret

# ssl reasons for an answer that is not TLS at all: a plain-http server on an https:// URL.
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG"}
)

_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class UsageError(Exception):
    """A mistake the user can fix; printed as one line that names the fix, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


if TYPE_CHECKING:
    #: What each command module's ``add_parser`` receives (generic only in the type stubs).
    Commands: TypeAlias = argparse._SubParsersAction[Parser]


# --- argument types ------------------------------------------------------------------------------------


def session_id(value: str) -> str:
    """An argparse type: a LiveAvatar session id (a UUID).

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    if _UUID.fullmatch(value) is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a session id: expected a UUID such as "
            "'3fa85f64-5717-4562-b3fc-2c963f66afa6' (`aioavatar sessions list` shows them)"
        )
    return value


def end_reason(value: str) -> EndReason:
    """An argparse type: a known end reason, any case."""
    try:
        return EndReason.known(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown end reason {value!r}: use one of {', '.join(m.value for m in EndReason)}"
        ) from None


def positive_seconds(value: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {value!r}")
    return seconds


# --- options -------------------------------------------------------------------------------------------

_FLAGS_IN_PS = "flags are visible to other local users in `ps`: prefer the variable"


def add_api_key_option(parser: argparse._ActionsContainer) -> None:
    """``--api-key`` (default ``$LIVEAVATAR_API_KEY``)."""
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"the LiveAvatar API key (default: ${API_KEY_ENV}; {_FLAGS_IN_PS})",
    )


def add_connection_options(
    parser: argparse._ActionsContainer, *, base_url_help: str | None = None
) -> None:
    """``--base-url`` (default ``$LIVEAVATAR_BASE_URL``, else the real API), ``--allow-insecure`` and
    ``--verbose``."""
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help=base_url_help
        or f"the API root (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL}); "
        "point it at `aioavatar emulator` to try commands without an account",
    )
    _add_insecure_and_verbose(parser)


def add_region_option(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--region",
        type=str.lower,
        choices=list(REGIONS),
        help="Kaltura's region: nvp1 (US, the default) or frp2 (EU); --base-url wins over it",
    )


def _add_insecure_and_verbose(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--allow-insecure",
        action="store_true",
        help="accept an http:// base URL to a host other than this machine (an emulator in another "
        "container, say): the credential then travels in clear",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every request (method, path, status)"
    )


# --- logging and signals -----------------------------------------------------------------------------


@contextmanager
def verbose_logging(enabled: bool) -> Iterator[None]:
    """With ``--verbose`` the SDK's own log lines (each request, each session step) go to standard
    error while the command runs."""
    if not enabled:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("aioavatar: %(message)s"))
    logger = logging.getLogger("aioavatar")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@contextmanager
def stop_signals() -> Iterator[AsyncIterator[int] | None]:
    """SIGINT and SIGTERM as they arrive, or ``None`` where this thread cannot receive them (Windows, a
    thread other than the main one): Ctrl-C then raises ``KeyboardInterrupt`` as usual."""
    try:
        receiver = anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM)
        signals = receiver.__enter__()
    except (NotImplementedError, RuntimeError, ValueError):
        yield None
        return
    try:
        yield signals
    finally:
        receiver.__exit__(None, None, None)


# --- output --------------------------------------------------------------------------------------------


def print_json(value: Any) -> None:
    """One JSON document on one line of standard output."""
    print(json.dumps(value, separators=(",", ":"), sort_keys=False), flush=True)


def notice(text: str) -> None:
    """A progress line on standard error; lost, not raised, when standard error is closed."""
    with suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def silence_stdout() -> None:
    """Point standard output at the null device: once the reader has gone (``| head -1``), what is
    still buffered, and Python's flush at exit, must not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (captured output): nothing to do
        pass


def single(exc: BaseException) -> BaseException:
    """The only leaf of an exception group (task groups wrap even one error), else ``exc``."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


# --- errors --------------------------------------------------------------------------------------------


def names_base_url(exc: ConfigurationError) -> bool:
    """Whether ``exc`` is about the base URL (given as ``--base-url`` or by a variable)."""
    return exc.field in ("base_url", BASE_URL_ENV, KALTURA_BASE_URL_ENV)


def base_url_source(exc: ConfigurationError) -> str:
    """Where the base URL that ``exc`` is about came from: ``--base-url`` or the variable's name."""
    return "--base-url" if exc.field == "base_url" else str(exc.field)


def credential_name(args: argparse.Namespace | None) -> str:
    """The credential a command sent, as the fix names it."""
    if args is not None and getattr(args, "provider", LIVEAVATAR) == KALTURA:
        if getattr(args, "action", None) == "stop":
            return f"the session token ({KALTURA_TOKEN_ENV} or --token)"
        return f"the KS ({KS_ENV} or --ks; it must be an admin KS)"
    return f"the API key ({API_KEY_ENV} or --api-key)"


def error_report(
    exc: BaseException, args: argparse.Namespace | None = None
) -> tuple[int, str] | None:
    """The exit status and the one line to print for ``exc``; ``None`` for anything unexpected.

    Messages come from the errors' plain fields, which never hold a credential.
    """
    exc = single(exc)
    if isinstance(exc, UsageError):
        return EXIT_USAGE, f"error: {exc}"
    if isinstance(exc, ConfigurationError):
        if names_base_url(exc):
            return EXIT_USAGE, f"error: bad {base_url_source(exc)}: {exc}"
        return EXIT_USAGE, f"error: {exc}"
    if isinstance(exc, APIError):
        line = f"API error: HTTP {exc.status}"
        if exc.code is not None:
            line += f", code {exc.code}"
        line += f": {exc.message or 'no message'} ({exc.method} {exc.url}"
        if exc.request_id:
            line += f", request id {exc.request_id}"
        line += ")"
        if isinstance(exc, AuthenticationError):
            line += f"; check {credential_name(args)}"
        elif isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            line += f"; retry in {exc.retry_after:g} s"
        return EXIT_FAILURE, line
    if isinstance(exc, TransportError):
        plain = _plain_http_port(exc)
        if plain is not None:
            return EXIT_FAILURE, plain
        return EXIT_FAILURE, f"no answer from the API: {exc}"
    if isinstance(exc, ResponseDecodeError):
        return EXIT_FAILURE, f"unexpected answer from the API: {exc}"
    if isinstance(exc, SessionStopError):
        if args is not None and getattr(args, "provider", LIVEAVATAR) == KALTURA:
            return EXIT_FAILURE, f"{exc} (Kaltura ends it once its keep-alives stop)"
        return EXIT_FAILURE, f"{exc}; retry with `aioavatar sessions stop {exc.session_id}`"
    if isinstance(exc, AvatarError):
        return EXIT_FAILURE, str(exc)
    return None


def _plain_http_port(exc: TransportError) -> str | None:
    """The line for an https:// URL whose server answered in plain http (a local emulator, usually);
    ``None`` for any other failure."""
    cause = exc.__cause__
    while cause is not None:
        if (
            isinstance(cause, ssl.SSLError)
            and not isinstance(cause, ssl.SSLCertVerificationError)
            and getattr(cause, "reason", None) in _NOT_TLS
        ):
            break
        cause = cause.__cause__
    else:
        return None
    parts = urlsplit(exc.url)
    root = f"http://{parts.netloc}"
    return (
        f"no answer from the API: {parts.netloc} does not speak TLS on that port ({exc.method} "
        f"{exc.url}); if it is a local emulator, use {root} (plain http is fine on this machine)"
    )
