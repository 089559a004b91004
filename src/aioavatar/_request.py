"""A request ready to send (:class:`PreparedRequest`), and the headers each request carries.

A pool of the client's own carries what every request sends (``User-Agent``, ``Accept-Encoding:
identity``: answers are decompressed by aioavatar, within the size cap) as its default headers, so that
aiohttp merges no per-call copy of them; a call then carries only its own headers, and its body brings
its ``Content-Type``. A borrowed pool's defaults are not ours (a ``Content-Type`` of its own, or one it
skips, would beat the body's): there every header is set on the call.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from types import MappingProxyType
from typing import NoReturn, TypeAlias

import attrs

from ._version import __version__

__all__ = [
    "NO_HEADERS",
    "POOL_HEADERS",
    "USER_AGENT",
    "PreparedRequest",
    "RequestParts",
    "call_headers",
    "encode_multipart",
]

USER_AGENT = f"aioavatar/{__version__}"
#: The default headers of a pool of our own: what every request of it carries.
POOL_HEADERS: Mapping[str, str] = MappingProxyType(
    {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
)
# Shared by every call with no header of its own (a session's: its token goes in ``bearer``), not a
# dict kept by each session's keep-alive.
NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_IDENTITY: Mapping[str, str] = MappingProxyType({"Accept-Encoding": "identity"})
_IDENTITY_JSON: Mapping[str, str] = MappingProxyType(
    {**_IDENTITY, "Content-Type": "application/json"}
)

#: The positional fields of a :class:`PreparedRequest`, in order (``Transport.request_parts``).
RequestParts: TypeAlias = tuple[
    str, str, str, Mapping[str, str], bytes | None, str | None, Mapping[str, str] | None,
    tuple[str, ...], str | None,
]  # fmt: skip


def call_headers(
    headers: Mapping[str, str], content_type: str | None, *, borrowed: bool
) -> Mapping[str, str]:
    """The headers a call sets itself: its own (``headers``), and on a borrowed pool also what a pool
    of our own carries by default and the body's ``content_type``."""
    if not borrowed:
        return headers or NO_HEADERS
    if not headers and content_type in (None, "application/json"):
        return _IDENTITY_JSON if content_type else _IDENTITY
    own = {**_IDENTITY, **headers}
    if content_type is not None:
        own["Content-Type"] = content_type
    return own


@attrs.define
class PreparedRequest:
    """A request ready to send: its line and URL, the headers it sets itself (``Authorization:
    Bearer`` is formed from ``bearer`` on each send; see :func:`call_headers`), body bytes and their
    content type, and the credentials it carries (masked out of whatever comes back). Not picklable,
    nor copied by ``copy``: it holds credentials.

    Read, never changed, once made. Not frozen: a frozen class sets each of its ten fields through
    ``object.__setattr__``, which made building one cost four times as much, and token, start,
    keep-alive and stop each build one per call."""

    method: str
    path: str
    url: str
    headers: Mapping[str, str] = attrs.field(repr=False)
    data: bytes | None = attrs.field(repr=False)
    content_type: str | None
    params: Mapping[str, str] | None
    credentials: tuple[str, ...] = attrs.field(repr=False)
    #: A token sent as ``Authorization: Bearer <token>``, the header formed per send: a call kept for
    #: a session's life refers to the token its session holds, and keeps no copy of it in a header.
    bearer: str | None = attrs.field(default=None, repr=False)

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"a {type(self).__name__} holds credentials and is not picklable; prepare it again"
        )


def encode_multipart(
    fields: Mapping[str, str], files: Mapping[str, tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """Encode a ``multipart/form-data`` body: the text ``fields``, then the ``files``.

    ``files`` maps a field name to ``(filename, content type, content)``. Quotes and line breaks in names
    and filenames are percent-encoded, as browsers do. Returns the body and its ``Content-Type`` value.
    """

    def quoted(text: str) -> str:
        return text.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")

    parts: list[tuple[str, bytes]] = [
        (f'Content-Disposition: form-data; name="{quoted(name)}"', value.encode())
        for name, value in fields.items()
    ]
    for name, (filename, content_type, content) in files.items():
        disposition = f'form-data; name="{quoted(name)}"; filename="{quoted(filename)}"'
        headers = f"Content-Disposition: {disposition}\r\nContent-Type: {quoted(content_type)}"
        parts.append((headers, content))
    boundary = secrets.token_hex(16)
    while any(boundary.encode() in content for _, content in parts):  # pragma: no cover - 2**-128
        boundary = secrets.token_hex(16)
    dash = f"--{boundary}".encode()
    chunks: list[bytes] = []
    for headers, content in parts:
        chunks += [dash, b"\r\n", headers.encode(), b"\r\n\r\n", content, b"\r\n"]
    chunks += [dash, b"--\r\n"]
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
