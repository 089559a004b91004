"""The Kaltura half of the emulator's server: routes each request to its handler, and keeps time."""

from __future__ import annotations

from aiohttp import web

from .._contract import Outcome
from ._catalog import list_catalog
from ._handlers import SESSION_HANDLERS, admin_check, create, session_for
from ._requests import ENDPOINTS, Incoming, fail, parse_request
from ._state import KalturaState

__all__ = ["KalturaApi"]


class KalturaApi:
    """The Kaltura Avatar session API over ``state`` (an ``EmulatedApi``)."""

    endpoints = ENDPOINTS
    error_body = b'{"success": false, "error": "injected fault"}'
    malformed_body = b'{"success": true, "sessionId": '
    root_path = ""
    #: No limit is documented, and say-audio takes whole files (1 MiB is about a minute of MP3).
    max_request_size = 64 << 20

    def __init__(self, state: KalturaState) -> None:
        self._state = state

    def parse(self, request: web.Request, raw: bytes) -> Incoming:
        return parse_request(request, raw)

    def handle(self, incoming: Incoming) -> Outcome:
        if incoming.endpoint == "unknown":
            return fail(404, f"Cannot {incoming.method} {incoming.path}")
        if incoming.endpoint == "create":
            return create(self._state, incoming)
        if incoming.endpoint == "catalog_list":
            return admin_check(self._state, incoming) or list_catalog(self._state.catalog, incoming)
        found = session_for(self._state, incoming)
        if isinstance(found, Outcome):
            return found
        if incoming.body_error is not None:
            return fail(400, incoming.body_error, found.id)
        return SESSION_HANDLERS[incoming.endpoint](self._state, found, incoming)

    def session_of(self, incoming: Incoming) -> str | None:
        return incoming.path_id

    def auth_kind(self, incoming: Incoming) -> str | None:
        return incoming.auth_kind

    def sweep(self) -> None:
        self._state.sweep()

    def sweep_for(self, incoming: Incoming) -> None:
        if incoming.path_id is not None:
            session = self._state.sessions.get(incoming.path_id)
            if session is not None:
                self._state.sweep(session)

    def reap_period(self) -> float:
        return self._state.reap_period()

    def install_routes(self, app: web.Application) -> None:
        """No route beside the dispatcher's."""
