"""What the shared server and a provider's half of an emulator exchange.

The server (:mod:`._server`) hands each request to the provider's :class:`EmulatedApi`, which reads it
into an :class:`Incoming` (the parts every API has are read here, once), answers it with an
:class:`Outcome`, and keeps its sessions in an :class:`EmulatedState`. What the server recorded of the
request is a :class:`RecordedRequest` in the journal.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, Self, TypeVar

import attrs
from aiohttp import web

__all__ = [
    "EmulatedApi",
    "EmulatedState",
    "Incoming",
    "IncomingT",
    "Outcome",
    "RecordedRequest",
    "SessionRecord",
    "SessionT",
]


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request an emulator received, as recorded in its ``journal``.

    ``auth`` is the kind of credential the request presented (LiveAvatar: ``"api_key"`` or
    ``"bearer"``; Kaltura: ``"ks"`` or ``"bearer"``; ``None`` for none), whether or not it was
    valid; the credential itself is never recorded. ``body`` is the parsed body (JSON, or the
    fields of a multipart form with each file summarized; ``None`` when there was no body or it
    could not be parsed, the text of such a body is kept in ``raw_body``). ``session_id`` is the
    session the request was about (for a request that created one, that session), or ``None``.
    ``status`` is the HTTP status answered (``None`` when the connection was dropped), ``fault``
    tells whether an injected fault matched the request, and ``at`` is the arrival time on the
    ``time.monotonic()`` clock. ``headers`` are the request's headers but the credential ones
    (``Authorization`` and ``X-API-KEY`` are never recorded).
    """

    method: str
    path: str
    endpoint: str
    auth: str | None
    body: Any = attrs.field(repr=False)  # may hold what the client sent as a secret_value
    raw_body: str | None = attrs.field(repr=False)
    query: dict[str, str]
    session_id: str | None
    status: int | None
    fault: bool
    at: float
    headers: dict[str, str] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class Outcome:
    """An answer computed by a handler, before it is turned into an HTTP response."""

    status: int
    payload: Any
    session_id: str | None = None
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class Incoming:
    """What every API reads of a request before handling it; a provider's subclass adds its own.

    ``scheme`` and ``credential`` are the two parts of the ``Authorization`` header (``""`` without
    one). ``body`` is the JSON body, ``None`` when there is none or it is not JSON: then ``raw_body``
    holds its text and ``json_error`` the offset and the reason.
    """

    method: str
    path: str
    endpoint: str
    path_id: str | None
    query: dict[str, str]
    scheme: str
    credential: str = attrs.field(repr=False)
    has_body: bool
    body: Any = None
    raw_body: str | None = None
    json_error: tuple[int, str] | None = None

    @property
    def bearer(self) -> str | None:
        """The token of ``Authorization: Bearer <token>``, else ``None``."""
        return self.credential if self.scheme.lower() == "bearer" else None

    @classmethod
    def read(
        cls,
        request: web.Request,
        raw: bytes,
        *,
        route: tuple[str, str | None],
        json_body: bool = True,
        **own: Any,
    ) -> Self:
        """Read ``request`` (``raw`` is its whole body), routed to ``(endpoint, path id)``, with the
        subclass's fields ``own``; the body is decoded as JSON unless ``json_body`` is false."""
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        endpoint, path_id = route
        incoming = cls(
            method=request.method,
            path=request.path,
            endpoint=endpoint,
            path_id=path_id,
            query=dict(request.query),
            scheme=scheme,
            credential=credential.strip(),
            has_body=bool(raw),  # white space alone is a body (not JSON), as both servers read it
            **own,
        )
        if incoming.has_body and json_body:
            try:
                incoming.body = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                incoming.raw_body = raw.decode("utf-8", "replace")
                incoming.json_error = (exc.start, "Invalid UTF-8")
            except json.JSONDecodeError as exc:
                incoming.raw_body = raw.decode("utf-8", "replace")
                incoming.json_error = (exc.pos, exc.msg)
        return incoming


IncomingT = TypeVar("IncomingT", bound=Incoming)


class EmulatedApi(Protocol[IncomingT]):
    """The provider's half of an emulator (see :mod:`._server`).

    ``endpoints`` names the endpoints (for ``inject`` and the journal), ``error_body`` is the body
    of an injected error status, ``malformed_body`` a truncated success body, ``root_path`` is
    appended to the server's ``base_url``, and a request body over ``max_request_size`` bytes is
    answered 413 unread.
    """

    endpoints: tuple[str, ...]
    error_body: bytes
    malformed_body: bytes
    root_path: str
    max_request_size: int

    def parse(self, request: web.Request, raw: bytes) -> IncomingT:
        """Parse a request (``raw`` is its whole body) and name its endpoint."""
        ...

    def handle(self, incoming: IncomingT) -> Outcome:
        """Answer a request, changing the emulated state as the API would."""
        ...

    def session_of(self, incoming: IncomingT) -> str | None:
        """The session a request is about, without touching any state."""
        ...

    def auth_kind(self, incoming: IncomingT) -> str | None:
        """The kind of credential a request presented, for the journal."""
        ...

    def sweep(self) -> None:
        """End every session whose timers have run out (the reaper calls this)."""
        ...

    def sweep_for(self, incoming: IncomingT) -> None:
        """Enforce the timers the answer to ``incoming`` depends on."""
        ...

    def reap_period(self) -> float:
        """Seconds between two sweeps of the reaper."""
        ...

    def install_routes(self, app: web.Application) -> None:
        """Add routes served before the catch-all dispatcher (a WebSocket, say)."""
        ...


class SessionRecord(Protocol):
    """What the server reads of an emulated session."""

    @property
    def state(self) -> str:
        """The provider's name of where the session is; ``"ended"`` once it has ended."""
        ...

    @property
    def is_active(self) -> bool:
        """Whether the session runs: started (LiveAvatar) and not ended."""
        ...


SessionT = TypeVar("SessionT", bound=SessionRecord)


class EmulatedState(Protocol[SessionT]):
    """What the server reads of a provider's state: its sessions and the timers that end them."""

    @property
    def sessions(self) -> dict[str, SessionT]:
        """Every session created, by id."""
        ...

    @property
    def idle_timeout(self) -> float:
        """Seconds a session lives without keep-alive."""
        ...

    def sweep(self) -> None:
        """End every session whose timers have run out."""
        ...
