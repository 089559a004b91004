"""What aioavatar knows of aiohttp and of the bytes on the wire: aiohttp's errors translated into the
public tree (in one place), its own resend of idempotent requests switched off, an answer's body read
within the size cap (inflated by us, never by aiohttp), and the credential headers a request carries.

The only module besides ``_transport`` that touches aiohttp's request machinery.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Final

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from ._logging import error_chain
from .exceptions import APIError, ConfigurationError, RequestTimeout, TransportError

__all__ = [
    "CREDENTIAL_HEADERS",
    "IDEMPOTENT",
    "aiohttp_error",
    "answer_timeout",
    "failure_kind",
    "is_scrubbable",
    "may_be_resent_by_aiohttp",
    "may_have_acted",
    "no_hidden_resend",
    "read_body",
    "requests_per_attempt",
    "scrubbable",
    "sent_credentials",
    "stale_connection",
]

# Request headers that carry credentials (the API's own and Kaltura's "KS <ks>").
CREDENTIAL_HEADERS: Final = ("X-API-KEY", "Authorization")
_CREDENTIAL_HEADER_KEYS: Final = frozenset(name.lower() for name in CREDENTIAL_HEADERS)
# A sent credential shorter than this is not masked out of answers (it could match innocent text).
MIN_SCRUBBED_LENGTH: Final = 8


class _SendFailed(aiohttp.ClientError):
    """A send that failed on an established connection, carried past aiohttp's own resend.

    aiohttp resends an idempotent request (GET) once by itself when the connection drops; that doubled
    every attempt of ours. Raised from a request middleware as a plain ``ClientError``, the failure is
    not resent by aiohttp and reaches our retry loop, which alone decides (``original`` is the error).
    """

    def __init__(self, original: aiohttp.ClientError) -> None:
        super().__init__(type(original).__name__)
        self.original = original


async def no_hidden_resend(
    request: aiohttp.ClientRequest,
    handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
) -> aiohttp.ClientResponse:
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise  # never sent: aiohttp does not resend it either
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise _SendFailed(exc) from exc


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


def aiohttp_error(
    exc: Exception, method: str, path: str, url: str, total: float, connect: float | None
) -> TransportError | None:
    """The public error for an aiohttp or timeout error, caused by it (``None``: not one of those;
    let it be); ``total`` and ``connect`` are the call's limits, named by a timeout's message. The
    caller raises it as it is.

    Messages are built from plain fields on purpose: the ``repr`` of some aiohttp errors holds the
    request's headers, and with them the credentials.
    """
    caught = exc
    if isinstance(exc, _SendFailed):
        exc = exc.original
    error = _public_error(exc, method, path, url, total, connect)
    if error is not None:
        error.__cause__ = exc  # as ``raise error from exc`` (what the retry loop reads)
        # aiohttp's frames hold the request's headers as locals, the API key among them: a
        # traceback that shows each frame's locals (Sentry's) must not reach them. The chain of
        # what was caught holds the mapped error too (a _SendFailed is raised from it).
        for link in error_chain(caught):
            link.__traceback__ = None
    return error


def answer_timeout(method: str, path: str, url: str, total: float) -> RequestTimeout:
    """The error of a request sent (or maybe sent) and not answered within its ``total`` limit,
    whoever kept that limit (the client's timer, or aiohttp's)."""
    return RequestTimeout(f"no answer within {total:g} s", method=method, path=path, url=url)


def _public_error(
    exc: Exception, method: str, path: str, url: str, total: float, connect: float | None
) -> TransportError | None:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        # No connection in time (the pool wait included): the request never left.
        return RequestTimeout(
            f"no connection within {connect or total:g} s",
            method=method,
            path=path,
            url=url,
            sent=False,
        )
    if isinstance(exc, TimeoutError):  # asyncio's timeout and aiohttp's ServerTimeoutError alike
        return answer_timeout(method, path, url, total)
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return TransportError(
            f"cannot connect to {exc.host}:{exc.port}: {reason}",
            method=method,
            path=path,
            url=url,
            sent=False,
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TransportError(
            "the server closed the connection without answering", method=method, path=path, url=url
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        _forget_server_text(exc)
        return TransportError("the answer was cut short", method=method, path=path, url=url)
    if isinstance(exc, aiohttp.ClientResponseError):  # an answer aiohttp could not parse
        _forget_credentials(exc)
        detail = _forget_server_text(exc)
        return TransportError(
            f"the answer could not be parsed ({detail})", method=method, path=path, url=url
        )
    if isinstance(exc, aiohttp.ClientError):
        return TransportError(type(exc).__name__, method=method, path=path, url=url)
    return None


def _forget_server_text(exc: aiohttp.ClientError) -> str:
    """Drop what the server sent from the errors of an answer aiohttp could not read, in place, and
    say what went wrong as the class of the parser's error (``LineTooLong``, say).

    aiohttp quotes the bytes it choked on (a header line, a chunk's size line), cut at 100 of them:
    half a credential the server echoed, which no mask recognises, in the message of each error of
    the chain that ends at ours (the chain stays reachable as our error's ``__cause__``)."""
    detail = type(exc).__name__
    for error in error_chain(exc):
        name = type(error).__name__
        if isinstance(error, HttpProcessingError):
            if type(error) is not HttpProcessingError:
                detail = name  # aiohttp's copy of the parser's error is the plain class
            for attribute, value in list(vars(error).items()):
                if isinstance(value, str | bytes) or attribute == "headers":
                    setattr(error, attribute, None if attribute == "headers" else name)
            error.args = (name,)
        elif isinstance(error, aiohttp.ClientResponseError):
            error.message = name
            error.headers = None
        elif isinstance(error, aiohttp.ClientPayloadError):
            error.args = (name,)
        error.__traceback__ = None  # the parser's frames hold the bytes (locals a trace shows)
    return detail


def _forget_credentials(exc: aiohttp.ClientResponseError) -> None:
    """Drop the credential headers from the request an aiohttp error remembers: its ``repr`` (and its
    ``args``) show every request header, and the error stays reachable as our error's ``__cause__``."""
    info = exc.request_info
    headers = info.headers.copy()
    for name in CREDENTIAL_HEADERS:
        headers.popall(name, None)
    exc.request_info = info._replace(headers=type(info.headers)(headers))
    exc.args = (exc.request_info, exc.history)


def is_scrubbable(value: str) -> bool:
    """Whether a credential value is long enough to mask in what comes back (a short one would
    mask innocent text)."""
    return len(value) >= MIN_SCRUBBED_LENGTH


def with_bearer(bearer: str | None, credentials: tuple[str, ...]) -> tuple[str, ...]:
    """What a call sent with a session's ``bearer`` token carries, to mask in what comes back: the
    token first (when long enough to mask), then ``credentials`` (given without repeats) but the
    token, if it is one of them."""
    if bearer is None or not is_scrubbable(bearer):
        return credentials
    if bearer in credentials:
        return (bearer, *(known for known in credentials if known != bearer))
    return (bearer, *credentials)


def scrubbable(values: Iterable[str]) -> tuple[str, ...]:
    """The credential values long enough to mask in what comes back (:func:`is_scrubbable`)."""
    return tuple(value for value in values if is_scrubbable(value))


def sent_credentials(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credential values a request carries (the token of ``Authorization: <scheme> <token>``),
    those long enough to mask."""
    if not headers:  # a session's calls: their token travels as the request's bearer
        return ()
    found: list[str] = []
    for name, value in headers.items():
        if name in CREDENTIAL_HEADERS or name.lower() in _CREDENTIAL_HEADER_KEYS:
            scheme, _, credential = value.strip().partition(" ")
            # "Bearer <token>" and "KS <ks>" give the token; X-API-KEY's value is the key itself.
            found.append(credential.strip() or scheme)
    return scrubbable(found)


def failure_kind(exc: TransportError) -> str:
    """What went wrong, for a log line: ``timeout`` or the aiohttp error's class name, never its text."""
    if isinstance(exc, RequestTimeout):
        return "timeout"
    return type(exc.__cause__ or exc).__name__


def stale_connection(exc: TransportError) -> bool:
    """Whether the server had closed the connection before answering (a stale pooled one, typically)."""
    return isinstance(exc.__cause__, aiohttp.ServerDisconnectedError)


def may_be_resent_by_aiohttp(exc: TransportError) -> bool:
    """Whether aiohttp may already have resent this idempotent request once by itself (it does so on
    a dropped connection, unless our middleware stopped it: see ``_no_hidden_resend``)."""
    return isinstance(
        exc.__cause__, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError
    ) and not (isinstance(exc.__cause__, aiohttp.ClientConnectorError))


def requests_per_attempt(borrowed: bool, method: str) -> int:
    """The requests one attempt may be, counted against a policy's retries: on a borrowed session
    (which keeps its own middlewares, so ours cannot switch aiohttp's resend off) aiohttp may send
    an idempotent request twice."""
    return 2 if borrowed and method in IDEMPOTENT else 1


async def read_body(resp: aiohttp.ClientResponse, cap: int) -> tuple[bytes, str | None]:
    """The answer's body decoded from its content encoding, never more than the cap on the wire or
    once inflated (a small gzip bomb stops one byte past the cap); or ``b""`` and what is wrong
    with it (the protocol decides what a body that cannot be read means: no success). No body at
    all is an empty one, whatever encoding the headers name."""
    length = resp.content_length  # parsed from the header on each read: read once
    if length is not None:
        if length > cap:
            resp.close()  # never read it: close rather than drain into the pool
            return b"", _too_big(cap)
        wire = await resp.read()  # the parser stops at Content-Length: within the cap
    else:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > cap:
                resp.close()  # do not drain the rest into the pool
                return b"", _too_big(cap)
            chunks.append(chunk)
        wire = b"".join(chunks)
    encoding = resp.headers.get("Content-Encoding")
    if encoding is None or not wire:  # identity (what we ask for), or nothing to decode
        return wire, None
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return wire, None
    return _inflate(wire, encoding, cap)


def _inflate(wire: bytes, encoding: str, cap: int) -> tuple[bytes, str | None]:
    """``wire`` decompressed (gzip, several members included, or deflate), stopping one byte past
    ``cap``; or ``b""`` and why it cannot be read (too big once inflated, corrupt, cut short, or an
    encoding aioavatar does not read: it asks for ``identity``)."""
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS if wire[:1] == b"\x78" else -zlib.MAX_WBITS  # zlib-wrapped or raw
    else:
        return b"", (
            f"the answer is encoded as {encoding[:40]!r}, which aioavatar does not read "
            "(it asks for identity; gzip and deflate are accepted)"
        )
    body = bytearray()
    view, offset = memoryview(wire), 0
    for _ in range(_MAX_MEMBERS):
        inflater = zlib.decompressobj(wbits)
        try:
            # Fed a piece at a time: what follows a member is copied (``unused_data``) a piece at
            # most, not the rest of the body each time (quadratic in a body of many tiny members).
            while not inflater.eof and offset < len(wire):
                piece = view[offset : offset + _FEED]
                offset += len(piece)
                body += inflater.decompress(piece, cap + 1 - len(body))
                if len(body) > cap or inflater.unconsumed_tail:
                    return b"", _too_big(cap, inflated=True)
        except zlib.error:
            return b"", f"the {encoding} answer is corrupt"
        if not inflater.eof:
            return b"", f"the {encoding} answer was cut short"
        offset -= len(inflater.unused_data)  # the start of what followed the member
        if offset >= len(wire):
            return bytes(body), None
        if wbits < 0 or wire[offset : offset + 2] != b"\x1f\x8b":
            return b"", f"the {encoding} answer has trailing data"
        # Another gzip member follows: inflated into the same body, within the same cap.
    return b"", f"the {encoding} answer has more than {_MAX_MEMBERS} members"


#: What ``_inflate`` feeds the decompressor at a time, and the most gzip members it reads (a body is
#: one, in practice; a server that sends thousands of tiny ones is not read).
_FEED = 64 * 1024
_MAX_MEMBERS = 64


def _too_big(cap: int, *, inflated: bool = False) -> str:
    what = "once decompressed " if inflated else ""
    return f"the answer is {what}larger than the {cap} byte cap"


def may_have_acted(error: BaseException) -> bool:
    """Whether a call that failed with ``error`` may still have taken effect on the server.

    Not when the input was refused locally, the request surely never left the machine (no connection
    could be had), or the server definitely refused it (4xx). A timeout, a dropped connection, a 5xx,
    a 2xx that could not be read, anything unexpected: it may have.
    """
    if isinstance(error, ConfigurationError):
        return False
    if isinstance(error, TransportError):
        return error.sent
    if isinstance(error, APIError):
        return not 400 <= error.status < 500
    return True
