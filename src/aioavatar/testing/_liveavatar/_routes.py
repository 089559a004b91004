"""How the LiveAvatar emulator reads a request: its route, its credentials, its body; and the answers
every handler shares (the envelope, 401, 404, 400 and 422).

Routing imitates Starlette's: a known path with the wrong method is 405 with ``Allow``, an unknown path
404 ``{"detail": "Not Found"}``, and ``GET /v1/sessions/stop`` is matched by ``/v1/sessions/{id}``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlencode

import attrs
from aiohttp import web

from .._contract import Incoming as BaseIncoming
from .._contract import Outcome
from .._ratelimit import retry_after
from ._routing import RESOURCE_ROUTE_NAMES, route_resource
from ._state import EmulatedSession, LiveAvatarState
from ._validation import Errors, parse_uuid

__all__ = [
    "ENDPOINTS",
    "AuthKind",
    "Incoming",
    "auth_kind",
    "bad_request",
    "body_object",
    "caller",
    "check_api_key",
    "invalid",
    "json_number",
    "not_found",
    "ok",
    "paged",
    "parse_request",
    "query_int",
    "session_by_bearer",
    "session_of",
    "too_many",
    "unauthorized",
]

ENDPOINTS: Final[tuple[str, ...]] = (
    "token",
    "start",
    "keep_alive",
    "stop",
    "list",
    "get",
    "transcript",
    "delete",
    *RESOURCE_ROUTE_NAMES,
    "unknown",
)
"""Endpoint names used by :meth:`LiveAvatarEmulator.inject` and in the journal."""

AuthKind = Literal["api_key", "bearer"]

_SUCCESS_CODE: Final = 1000
_BAD_REQUEST_CODE: Final = 4000
_ID_PATH: Final = re.compile(r"^/v1/sessions/(?P<id>[^/]+)$")
_TRANSCRIPT_PATH: Final = re.compile(r"^/v1/sessions/(?P<id>[^/]+)/transcript$")
_FIXED_ROUTES: Final = {
    "/v1/sessions/token": ("POST", "token"),
    "/v1/sessions/start": ("POST", "start"),
    "/v1/sessions/keep-alive": ("POST", "keep_alive"),
    "/v1/sessions/stop": ("POST", "stop"),
    "/v1/sessions": ("GET", "list"),
}
_SESSION_PATHS: Final = frozenset({"get", "transcript", "delete"})
_ACCEPTS: Final[Mapping[str, frozenset[AuthKind]]] = {
    "token": frozenset({"api_key"}),
    "list": frozenset({"api_key"}),
    "get": frozenset({"api_key"}),
    "transcript": frozenset({"api_key"}),
    "start": frozenset({"bearer"}),
    "keep_alive": frozenset({"api_key", "bearer"}),
    "stop": frozenset({"api_key", "bearer"}),
}


@attrs.define(kw_only=True)
class Incoming(BaseIncoming):
    """What the dispatcher parsed from a request before handling it.

    ``allow`` is the ``Allow`` header of a 405 (a known path, the wrong method); ``api_key`` the
    ``X-API-KEY`` header. ``origin`` is the scheme-less ``host[:port]`` the client reached (the
    ``Host`` header), from which the ``ws_url`` of a LITE session is built; ``peer`` is the client's
    address.
    """

    allow: str | None
    api_key: str | None = attrs.field(repr=False)
    origin: str
    peer: str


def parse_request(request: web.Request, raw: bytes) -> Incoming:
    """Route a request and read its credentials and JSON body (``raw``).

    As FastAPI does, the body is read as JSON only without a ``Content-Type`` or with
    ``application/json`` or ``application/*+json``: any other (``text/plain``, a form) leaves the
    body as text, which a body model refuses (422, ``model_attributes_type``).
    """
    endpoint, path_id, allow = _route(request.method, request.path)
    as_json = _read_as_json(request.headers.get("Content-Type"))
    incoming = Incoming.read(
        request,
        raw,
        route=(endpoint, path_id),
        json_body=as_json,
        allow=allow,
        api_key=request.headers.get("X-API-KEY"),
        origin=request.host,
        peer=request.remote or "",
    )
    if not as_json and incoming.has_body:
        incoming.body = raw.decode("utf-8", "replace")
    return incoming


def _read_as_json(content_type: str | None) -> bool:
    if not content_type:  # none, or empty: FastAPI reads JSON
        return True
    kind, _, subtype = content_type.partition(";")[0].strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _route(method: str, path: str) -> tuple[str, str | None, str | None]:
    """Return (endpoint, path id, Allow header for a 405) like Starlette's router would."""
    fixed = _FIXED_ROUTES.get(path)
    if fixed is not None and fixed[0] == method:
        return fixed[1], None, None
    match = _ID_PATH.match(path)
    if match is not None:
        if method == "GET":
            return "get", match["id"], None
        if method == "DELETE":
            return "delete", match["id"], "GET"
    transcript = _TRANSCRIPT_PATH.match(path)
    if transcript is not None and method == "GET":
        return "transcript", transcript["id"], None
    if fixed is not None:
        return "unknown", None, fixed[0]
    if match is not None or transcript is not None:
        return "unknown", None, "GET"
    return route_resource(method, path) or ("unknown", None, None)


def auth_kind(incoming: Incoming) -> AuthKind | None:
    """The credential kind a request presented (the accepted one first, if it has both)."""
    accepts = _ACCEPTS.get(incoming.endpoint, frozenset({"api_key", "bearer"}))
    if incoming.bearer is not None and "bearer" in accepts:
        return "bearer"
    if incoming.api_key is not None:
        return "api_key"
    if incoming.bearer is not None:
        return "bearer"
    return None


def session_of(state: LiveAvatarState, incoming: Incoming) -> str | None:
    """The session a request is about, without touching any state."""
    if incoming.path_id is not None:
        # Only the session routes carry a session in their path (not /v1/avatars/{id}, say).
        return parse_uuid(incoming.path_id) if incoming.endpoint in _SESSION_PATHS else None
    if incoming.bearer is not None and auth_kind(incoming) == "bearer":
        session = state.by_token(incoming.bearer)
        if session is not None:
            return session.id
    if isinstance(incoming.body, dict):
        value = incoming.body.get("session_id")
        if isinstance(value, str):
            return parse_uuid(value)
    return None


# ---- answers ------------------------------------------------------------------------------------


def ok(data: Any, *, status: int = 200, session_id: str | None = None) -> Outcome:
    """A success in the envelope: ``{"code": 1000, "data": ..., "message": "Success"}``."""
    payload = {"code": _SUCCESS_CODE, "data": data, "message": "Success"}
    return Outcome(status=status, payload=payload, session_id=session_id)


def unauthorized(message: str, session_id: str | None = None) -> Outcome:
    """401 ``{"code": 401, "message": ...}``."""
    return Outcome(status=401, payload={"code": 401, "message": message}, session_id=session_id)


def invalid(errors: Errors, session_id: str | None = None) -> Outcome:
    """422 ``{"detail": [...]}``, FastAPI's ``HTTPValidationError``."""
    return Outcome(status=422, payload={"detail": errors.items}, session_id=session_id)


def not_found(session_id: str | None) -> Outcome:
    """404 ``{"message": "Session not found"}``."""
    return Outcome(status=404, payload={"message": "Session not found"}, session_id=session_id)


def bad_request(message: str, session_id: str | None = None) -> Outcome:
    """400 ``{"code": 4000, "message": ...}``."""
    payload = {"code": _BAD_REQUEST_CODE, "message": message}
    return Outcome(status=400, payload=payload, session_id=session_id)


def json_number(value: float) -> int | float:
    """A number as JSON shows it: ``60`` for ``60.0``, ``0.5`` as is."""
    return int(value) if float(value).is_integer() else value


def caller(incoming: Incoming) -> str:
    """Who a request counts against for rate limits: the credential it presents (the one the endpoint
    accepts first), else its address."""
    kind = auth_kind(incoming)
    if kind == "bearer" and incoming.bearer is not None:
        return f"bearer:{incoming.bearer}"
    if kind == "api_key" and incoming.api_key is not None:
        return f"key:{incoming.api_key}"
    return f"peer:{incoming.peer}"


def too_many(limit: int, seconds_left: float, session_id: str | None) -> Outcome:
    """429 with ``Retry-After`` and ``X-RateLimit-Reset`` (the seconds left in the window, whole)."""
    wait = retry_after(seconds_left)
    return Outcome(
        status=429,
        payload={"code": 429, "message": f"Rate limit exceeded: {limit} per 1 second"},
        session_id=session_id,
        headers={"Retry-After": wait, "X-RateLimit-Reset": wait},
    )


def check_api_key(state: LiveAvatarState, incoming: Incoming) -> Outcome | None:
    """``None`` when the request carries the right API key, else the 401 to answer."""
    session_id = session_of(state, incoming)
    if incoming.api_key is None:
        if incoming.bearer is not None:
            return unauthorized("This endpoint requires the API key", session_id)
        return unauthorized("Missing API key", session_id)
    if not secrets.compare_digest(incoming.api_key.encode(), state.api_key.encode()):
        return unauthorized("Invalid API key", session_id)
    return None


def session_by_bearer(state: LiveAvatarState, incoming: Incoming) -> EmulatedSession | Outcome:
    """The session a valid bearer token belongs to, or the 401 to answer."""
    assert incoming.bearer is not None
    session = state.by_token(incoming.bearer)
    if session is None:
        return unauthorized("Invalid session token", session_of(state, incoming))
    return session


def body_object(incoming: Incoming, errors: Errors, *, required: bool) -> dict[str, Any]:
    """The JSON object body (``{}`` when absent and optional); appends errors otherwise."""
    if incoming.json_error is not None:
        pos, msg = incoming.json_error
        errors.add("json_invalid", ("body", pos), "JSON decode error", {}, {"error": msg})
        return {}
    if not incoming.has_body:
        if required:
            errors.missing(("body",), None)
        return {}
    if not isinstance(incoming.body, dict):
        errors.add(
            "model_attributes_type",
            ("body",),
            "Input should be a valid dictionary or object to extract fields from",
            incoming.body,
        )
        return {}
    return incoming.body


def query_int(
    query: Mapping[str, str], name: str, default: int, errors: Errors, *, le: int | None
) -> int:
    """An integer query parameter from 1 (to ``le``), ``default`` when absent; 422 items otherwise."""
    raw = query.get(name)
    if raw is None:
        return default
    loc = ("query", name)
    try:
        value = int(raw.strip())
    except ValueError:
        msg = "Input should be a valid integer, unable to parse string as an integer"
        errors.add("int_parsing", loc, msg, raw)
        return default
    if value < 1:
        msg = "Input should be greater than or equal to 1"
        errors.add("greater_than_equal", loc, msg, raw, {"ge": 1})
    elif le is not None and value > le:
        msg = f"Input should be less than or equal to {le}"
        errors.add("less_than_equal", loc, msg, raw, {"le": le})
    return value


T = TypeVar("T")


def paged(
    incoming: Incoming,
    selected: Sequence[T],
    page: int,
    page_size: int,
    show: Callable[[T], Any],
) -> dict[str, Any]:
    """The ``data`` of a paged list: ``{count, next, previous, results}``, the links absolute (as
    the real API's are) and keeping the request's other query parameters (a client should not
    follow them blindly); a page past the end is empty."""
    start = (page - 1) * page_size
    results = [show(item) for item in selected[start : start + page_size]]

    def link(target: int) -> str:
        params = {k: v for k, v in incoming.query.items() if k not in ("page", "page_size")}
        params.update(page=str(target), page_size=str(page_size))
        return f"http://{incoming.origin}{incoming.path}?{urlencode(params)}"

    has_next = start + page_size < len(selected)
    has_previous = page > 1 and len(selected) > 0
    last_page = max(1, -(-len(selected) // page_size))
    return {
        "count": len(selected),
        "next": link(page + 1) if has_next else None,
        "previous": link(min(page - 1, last_page)) if has_previous else None,
        "results": results,
    }
