"""What every command shares: exit statuses, one-line errors, credentials, output helpers.

The signal handling of the commands that hold a session is in :mod:`.holding`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import anyio

from .. import (
    APIError,
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    EndReason,
    LiveAvatarClient,
    RateLimitedError,
    ResponseDecodeError,
    SessionStopError,
    TransportError,
)
from ..liveavatar import DEFAULT_BASE_URL

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Parser",
    "UsageError",
    "add_connection_options",
    "end_reason",
    "error_report",
    "liveavatar_client",
    "notice",
    "positive_seconds",
    "print_json",
    "require_api_key",
    "resolve_base_url",
    "session_id",
    "single",
    "stop_signals",
    "verbose_logging",
]

EXIT_OK = 0
EXIT_FAILURE = 1  # the API refused, no answer, a stop not confirmed, a session ended elsewhere
EXIT_USAGE = 2  # a mistake the user can fix: the message names the fix
EXIT_INTERRUPTED = 130

API_KEY_ENV = "LIVEAVATAR_API_KEY"
BASE_URL_ENV = "LIVEAVATAR_BASE_URL"

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
    """An argparse type: a session id (a UUID)."""
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


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """``--base-url`` (default ``$LIVEAVATAR_BASE_URL``, else the real API) and ``--verbose``."""
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the API root (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL}); "
        "point it at `aioavatar emulator` to try commands without an account",
    )
    add_verbose_option(parser)


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every request (method, path, status)"
    )


# --- credentials and clients ---------------------------------------------------------------------------


def require_api_key(hint: str = "") -> str:
    """The API key from ``LIVEAVATAR_API_KEY``.

    Raises:
        UsageError: the variable is unset or empty.
    """
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise UsageError(f"no API key: set {API_KEY_ENV} to your LiveAvatar API key{hint}")
    return key


def resolve_base_url(given: str | None) -> str:
    return given or os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL


def liveavatar_client(args: argparse.Namespace) -> LiveAvatarClient:
    """A client from ``LIVEAVATAR_API_KEY`` and ``--base-url``; enter it inside the running loop.

    Raises:
        UsageError: no API key; ConfigurationError: a bad base URL.
    """
    return LiveAvatarClient(require_api_key(), base_url=resolve_base_url(args.base_url))


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


def single(exc: BaseException) -> BaseException:
    """The only leaf of an exception group (task groups wrap even one error), else ``exc``."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def error_report(exc: BaseException) -> tuple[int, str] | None:
    """The exit status and the one line to print for ``exc``; ``None`` for anything unexpected.

    Messages come from the errors' plain fields, which never hold a credential.
    """
    exc = single(exc)
    if isinstance(exc, UsageError):
        return EXIT_USAGE, f"error: {exc}"
    if isinstance(exc, ConfigurationError):
        if exc.field == "base_url":
            return EXIT_USAGE, f"error: bad --base-url (or {BASE_URL_ENV}): {exc}"
        return EXIT_USAGE, f"error: {exc}"
    if isinstance(exc, APIError):
        line = f"API error: HTTP {exc.status}"
        if exc.code is not None:
            line += f", code {exc.code}"
        line += f": {exc.message or 'no message'} ({exc.method} {exc.path}"
        if exc.request_id:
            line += f", request id {exc.request_id}"
        line += ")"
        if isinstance(exc, AuthenticationError):
            line += f"; check {API_KEY_ENV}"
        elif isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            line += f"; retry in {exc.retry_after:g} s"
        return EXIT_FAILURE, line
    if isinstance(exc, TransportError):
        return EXIT_FAILURE, f"no answer from the API: {exc}"
    if isinstance(exc, ResponseDecodeError):
        return EXIT_FAILURE, f"unexpected answer from the API: {exc}"
    if isinstance(exc, SessionStopError):
        return EXIT_FAILURE, f"{exc}; retry with `aioavatar sessions stop {exc.session_id}`"
    if isinstance(exc, AvatarError):
        return EXIT_FAILURE, str(exc)
    return None
