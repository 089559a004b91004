"""What a realtime socket knows of aiohttp's WebSocket: its errors, translated into the public tree here
and nowhere else (the WebSocket counterpart of ``aioavatar._wire``), the frames that end a socket, shutting
one down under whatever waits on it, and the checks of a ``ws_url``."""

from __future__ import annotations

import logging
import os
import socket as socket_module
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

import aiohttp

from .._base_url import host_name_ok
from .._protocol import error_for_status
from .._response import RawResponse
from ..exceptions import ConfigurationError, TransportError

__all__ = [
    "CLOSED_TYPES",
    "MAX_RECEIVE_SIZE",
    "check_ws_url",
    "map_ws_errors",
    "shut_down",
    "suppress_ws_errors",
]

logger = logging.getLogger("aioavatar")

#: Server frames are small JSON events; anything absurd is refused rather than buffered.
MAX_RECEIVE_SIZE = 4 * 1024 * 1024
#: What aiohttp gives a reader whose socket is over.
CLOSED_TYPES = frozenset(
    {
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSING,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    }
)


@contextmanager
def map_ws_errors(path: str) -> Iterator[None]:
    """Translate aiohttp errors of the WebSocket handshake into the public tree.

    Messages are built from plain fields: aiohttp errors can hold the request, and the URL may hold a
    credential, so only the path is named.
    """
    try:
        yield
    except aiohttp.WSServerHandshakeError as exc:
        raw = RawResponse(method="GET", path=path, status=exc.status, body=b"")
        raise error_for_status(raw) from None
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        raise TransportError(
            f"cannot connect to {exc.host}:{exc.port}: {reason}", method="GET", path=path
        ) from None
    except (aiohttp.ClientError, ConnectionError) as exc:
        raise TransportError(type(exc).__name__, method="GET", path=path) from None


def shut_down(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Shut the socket under ``ws`` down for both directions, through a duplicate of its file
    descriptor (a loop's transport socket may refuse ``shutdown``: uvloop's does); the transport
    then sees the end, whatever it was waiting for."""
    with (
        suppress(AttributeError, OSError, TypeError, ValueError),
        socket_module.socket(fileno=os.dup(ws.get_extra_info("socket").fileno())) as dup,
    ):
        dup.shutdown(socket_module.SHUT_RDWR)


@contextmanager
def suppress_ws_errors() -> Iterator[None]:
    try:
        yield
    except (ConnectionError, aiohttp.ClientError) as exc:
        logger.debug("realtime: close failed: %s", type(exc).__name__)


def check_ws_url(ws_url: object) -> str:
    if not isinstance(ws_url, str):
        raise ConfigurationError("must be a ws:// or wss:// URL", field="ws_url")
    try:
        parts = urlsplit(ws_url)
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        # Not quoted: the URL may hold a credential (a token in its query).
        raise ConfigurationError("is not a valid URL", field="ws_url") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigurationError(
            f"must be a ws:// or wss:// URL, got scheme {parts.scheme!r}", field="ws_url"
        )
    if not host_name_ok(parts.hostname):  # else opening it fails on the lookup's UnicodeError
        raise ConfigurationError(
            "has a host name that cannot be looked up (an empty label, or one over 63 characters)",
            field="ws_url",
        )
    return parts.path or "/"
