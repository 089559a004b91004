"""What every command shares: exit statuses, the providers, one-line errors, output helpers, and the
embedded emulators.

The options and argument types are in :mod:`.options`, the clients in :mod:`.clients`; the signal
handling of the commands that hold a session is in :mod:`.holding`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from .. import (
    APIError,
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    RateLimitedError,
    ResponseDecodeError,
    SessionStopError,
    TransportError,
)
from ..kaltura import KS_ENV

if TYPE_CHECKING:
    from ..testing import KalturaEmulator, LiveAvatarEmulator

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "INPUTS",
    "KALTURA",
    "KALTURA_BASE_URL_ENV",
    "KALTURA_TOKEN_ENV",
    "KS_ENV",
    "LIVEAVATAR",
    "PROVIDERS",
    "UsageError",
    "base_url_source",
    "credential_name",
    "emulator_for",
    "error_report",
    "in_command_words",
    "names_base_url",
    "notice",
    "print_json",
    "silence_stdout",
    "single",
    "stop_signals",
    "verbose_logging",
]

#: Where the ``--json`` fields of every command are described.
JSON_FIELDS_URL = "https://aioavatar.readthedocs.io/guides/cli/#json-output"

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

#: The attribute of a parsed command line that maps each input's name to how the user writes it
#: (``--keep-alive-interval``, ``AVATAR_ID``): set by the parser, read by ``in_command_words``.
INPUTS = "cli_inputs"
#: The variable each credential is read from when its flag is not given.
_CREDENTIAL_ENV = {"api_key": API_KEY_ENV, "ks": KS_ENV, "token": KALTURA_TOKEN_ENV}

# ssl reasons for an answer that is not TLS at all: a plain-http server on an https:// URL.
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG"}
)


class UsageError(Exception):
    """A mistake the user can fix; printed as one line that names the fix, exit status 2."""


# --- logging and signals -----------------------------------------------------------------------------


@contextmanager
def verbose_logging(enabled: bool) -> Iterator[None]:
    """With ``--verbose`` the SDK's own log lines (each request, each session step) go to standard
    error while the command runs; without it, its warnings only (a keep-alive that failed, a stop
    not confirmed), each a line that says whose it is, as the command's own lines do."""
    if not enabled and logging.getLogger().handlers:
        yield  # a process that configured logging (``run()`` called in-process) shows them itself
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "aioavatar: %(message)s" if enabled else "aioavatar: warning: %(message)s"
        )
    )
    logger = logging.getLogger("aioavatar")
    previous = logger.level
    logger.addHandler(handler)
    if enabled:
        logger.setLevel(logging.DEBUG)
    else:
        handler.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _stop_signals() -> list[signal.Signals]:
    """The signals that stop a held session: SIGHUP too where there is one (POSIX), the way a
    process whose terminal closes is told; not when it is ignored (``nohup``, a parent's ``trap ''
    HUP``): whoever started the command asked it to outlive the terminal."""
    stops = [signal.SIGINT, signal.SIGTERM]
    hangup: signal.Signals | None = getattr(signal, "SIGHUP", None)
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        stops.append(hangup)
    return stops


@contextmanager
def stop_signals() -> Iterator[AsyncIterator[int] | None]:
    """SIGINT, SIGTERM and SIGHUP (the terminal closed, an SSH connection dropped) as they arrive, or
    ``None`` where this thread cannot receive them (Windows, a thread other than the main one):
    Ctrl-C then raises ``KeyboardInterrupt`` as usual."""
    try:
        receiver = anyio.open_signal_receiver(*_stop_signals())
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


def printable(text: str) -> str:
    """``text`` for a terminal: each control character (an escape sequence a hostile server wrote,
    which could move the cursor or retitle the window) shown as ``?``."""
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def notice(text: str) -> None:
    """A progress or error line on standard error (what a server wrote in it shown plainly, see
    :func:`printable`); lost, not raised, when standard error is closed."""
    with suppress(OSError, ValueError):
        print(printable(text), file=sys.stderr, flush=True)


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


# --- emulators -----------------------------------------------------------------------------------------


def emulator_for(
    provider: str, credential: str, **options: Any
) -> LiveAvatarEmulator | KalturaEmulator:
    """The emulator of ``provider`` that accepts ``credential`` (LiveAvatar's API key, Kaltura's admin
    KS), built with the constructor's ``options``.

    Raises:
        ValueError: an option the constructor refuses.
    """
    from ..testing import KalturaEmulator, LiveAvatarEmulator  # aiohttp.web: loaded only when used

    if provider == KALTURA:
        return KalturaEmulator(credential, **options)
    return LiveAvatarEmulator(credential, **options)


# --- errors --------------------------------------------------------------------------------------------


def names_base_url(exc: ConfigurationError) -> bool:
    """Whether ``exc`` is about the base URL (given as ``--base-url`` or by a variable)."""
    return exc.field in ("base_url", BASE_URL_ENV, KALTURA_BASE_URL_ENV)


def base_url_source(exc: ConfigurationError) -> str:
    """Where the base URL that ``exc`` is about came from: ``--base-url`` or the variable's name."""
    return "--base-url" if exc.field == "base_url" else str(exc.field)


def in_command_words(exc: ConfigurationError, args: argparse.Namespace | None) -> str:
    """``exc`` with the field it names said as the user gave it: the flag (``--keep-alive-interval``
    for ``keep_alive_interval``), the argument (``AVATAR_ID``), or the variable a credential came
    from when its flag was not given; the library's name for a field that is no input of the
    command."""
    field = exc.field
    inputs: dict[str, str] = getattr(args, INPUTS, {})
    if field is None or field not in inputs:
        return str(exc)
    source = inputs[field]
    if field in _CREDENTIAL_ENV and not getattr(args, field, None):  # as the reads: empty is unset
        source = _CREDENTIAL_ENV[field]
    return f"{source}: {str(exc).removeprefix(f'{field}: ')}"


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
            rule = str(exc).removeprefix(f"{exc.field}: ") if exc.field else str(exc)
            return EXIT_USAGE, f"error: bad {base_url_source(exc)}: {rule}"
        return EXIT_USAGE, f"error: {in_command_words(exc, args)}"
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
