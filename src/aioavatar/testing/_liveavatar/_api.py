"""The LiveAvatar half of the emulator's server: routes each request to its handler, and keeps time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from aiohttp import web

from .._contract import Outcome
from ._lifecycle import keep_alive, start, stop, token
from ._reads import get, list_sessions, transcript
from ._resources import handle_resource
from ._routes import (
    ENDPOINTS,
    AuthKind,
    Incoming,
    auth_kind,
    caller,
    parse_request,
    session_of,
    too_many,
)
from ._routing import RESOURCE_ROUTE_NAMES
from ._state import LiveAvatarState
from ._ws import LiteSocketEmulator

__all__ = ["LiveAvatarApi"]

_HANDLERS: Final[dict[str, Callable[[LiveAvatarState, Incoming], Outcome]]] = {
    "token": token,
    "start": start,
    "keep_alive": keep_alive,
    "stop": stop,
    "list": list_sessions,
    "get": get,
    "transcript": transcript,
}


class LiveAvatarApi:
    """The LiveAvatar REST API over ``state``, with the LITE socket ``ws`` (an ``EmulatedApi``)."""

    endpoints = ENDPOINTS
    error_body = b'{"message": "injected fault"}'
    malformed_body = b'{"code": 1000, "data": {'
    root_path = ""
    max_request_size = 1 << 20  # aiohttp's default, as before: JSON bodies only

    def __init__(self, state: LiveAvatarState, ws: LiteSocketEmulator) -> None:
        self._state = state
        self._ws = ws

    def parse(self, request: web.Request, raw: bytes) -> Incoming:
        return parse_request(request, raw)

    def handle(self, incoming: Incoming) -> Outcome:
        handler = _HANDLERS.get(incoming.endpoint)
        if handler is None and incoming.endpoint in RESOURCE_ROUTE_NAMES:
            handler = handle_resource
        if handler is not None:
            limiter = self._state.limiter
            left = limiter.hit(caller(incoming), incoming.endpoint, time.monotonic())
            if left is not None and limiter.limit is not None:  # rate limits run before auth
                return too_many(limiter.limit, left, session_of(self._state, incoming))
            return handler(self._state, incoming)
        session_id = session_of(self._state, incoming)
        if incoming.allow is not None:
            return Outcome(
                status=405,
                payload={"detail": "Method Not Allowed"},
                session_id=session_id,
                headers={"Allow": incoming.allow},
            )
        return Outcome(status=404, payload={"detail": "Not Found"}, session_id=session_id)

    def session_of(self, incoming: Incoming) -> str | None:
        return session_of(self._state, incoming)

    def auth_kind(self, incoming: Incoming) -> AuthKind | None:
        return auth_kind(incoming)

    def sweep(self) -> None:
        self._state.sweep()

    def sweep_for(self, incoming: Incoming) -> None:
        """Only the list and the balance depend on every session (a start is paid for from the
        balance, kept up to date as sessions start and end); any other answer on its own session
        alone.

        Sweeping just that one keeps a request O(1) with thousands of sessions (the reaper ends every
        session that is due, and an ended session's ``ended_at`` is its deadline either way).
        """
        if incoming.endpoint in ("list", "credits"):  # they depend on every session
            self._state.sweep()
            return
        if incoming.endpoint == "start":  # paid for from the balance, which is kept as they run
            self._state.end_when_broke()
        session_id = session_of(self._state, incoming)
        if session_id is not None:
            self._state.live(session_id)

    def reap_period(self) -> float:
        return self._state.reap_period()

    def install_routes(self, app: web.Application) -> None:
        self._ws.install(app)
