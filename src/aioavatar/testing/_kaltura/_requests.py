"""How the Kaltura emulator reads a request (route, credentials, JSON or multipart body) and the two
answer shapes, ``{"success": true, ...}`` and ``{"success": false, "error": ...}``."""

from __future__ import annotations

import email.parser
import email.policy
import re
from typing import Any, Final

import attrs
from aiohttp import web

from .._contract import Incoming as BaseIncoming
from .._contract import Outcome

__all__ = ["ENDPOINTS", "Incoming", "fail", "parse_request", "succeed"]

ENDPOINTS: Final[tuple[str, ...]] = (
    "create",
    "init_client",
    "say_text",
    "say_audio",
    "interrupt",
    "keep_alive",
    "end",
    "catalog_list",
    "unknown",
)
"""Endpoint names used by :meth:`KalturaEmulator.inject` and in the journal."""

# Both create paths the documentation gives.
_CREATE_PATHS: Final = frozenset({"/v1/avatar-session/create", "/v1/avatar-session"})
_CATALOG_PATH: Final = "/v1/catalog-item/list"
_SESSION_PATH: Final = re.compile(
    r"^/v1/avatar-session/(?P<id>[^/]+)/"
    r"(?P<action>init-client|say-text|say-audio|interrupt|keep-alive|end)$"
)
_ACTIONS: Final = {
    "init-client": "init_client",
    "say-text": "say_text",
    "say-audio": "say_audio",
    "interrupt": "interrupt",
    "keep-alive": "keep_alive",
    "end": "end",
}


@attrs.define(kw_only=True)
class Incoming(BaseIncoming):
    """What the dispatcher parsed from a request before handling it: Kaltura's credentials, and the
    files of a multipart form (``form_error`` when it could not be read)."""

    files: dict[str, tuple[str | None, str, bytes]] = attrs.field(factory=dict, repr=False)
    form_error: str | None = None

    @property
    def ks(self) -> str | None:
        """The KS of ``Authorization: KS <ks>``, else ``None``."""
        return self.credential if self.scheme.upper() == "KS" else None

    @property
    def body_error(self) -> str | None:
        """Why the body could not be read (the 400 to answer), else ``None``."""
        return "Invalid JSON body" if self.json_error is not None else self.form_error

    @property
    def auth_kind(self) -> str | None:
        """``"ks"``, ``"bearer"`` or ``None``: the credential the request presented."""
        if self.ks is not None:
            return "ks"
        if self.bearer is not None:
            return "bearer"
        return None


def fail(status: int, error: str, session_id: str | None = None) -> Outcome:
    """An error answer: ``{"success": false, "error": ...}``."""
    return Outcome(status=status, payload={"success": False, "error": error}, session_id=session_id)


def succeed(session_id: str | None, **data: Any) -> Outcome:
    """A success answer: 200 ``{"success": true, **data}``."""
    return Outcome(status=200, payload={"success": True, **data}, session_id=session_id)


def parse_request(request: web.Request, raw: bytes) -> Incoming:
    """Route a request and read its credential and body (``raw``): JSON, or a multipart form.

    As Express's JSON parser does, a body is read as JSON only with ``Content-Type:
    application/json``: any other type (``text/plain``, none) leaves the handlers an empty body.
    """
    content_type = request.content_type  # aiohttp's: the media type alone, lowercase
    form = content_type == "multipart/form-data"
    as_json = content_type == "application/json" and "Content-Type" in request.headers
    route = _route(request.method, request.path)
    incoming = Incoming.read(request, raw, route=route, json_body=as_json)
    if form and incoming.has_body:
        _parse_form(incoming, request.headers.get("Content-Type", ""), raw)
    elif not as_json and incoming.has_body:
        incoming.body = {}
    return incoming


def _route(method: str, path: str) -> tuple[str, str | None]:
    """The endpoint and the session id of the path (every route is ``POST``)."""
    if method == "POST":
        match = _SESSION_PATH.match(path)
        if path in _CREATE_PATHS:
            return "create", None
        if path == _CATALOG_PATH:
            return "catalog_list", None
        if match is not None:
            return _ACTIONS[match["action"]], match["id"]
    return "unknown", None


def _parse_form(incoming: Incoming, content_type: str, raw: bytes) -> None:
    """Parse a multipart form with the standard library (an independent check of the SDK's)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        incoming.form_error = "Invalid multipart body"
        incoming.raw_body = raw[:200].decode("utf-8", "replace")
        return
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(content, bytes):
            continue
        filename = part.get_filename()
        if filename is None and part.get_content_type() == "text/plain":
            fields[name] = content.decode("utf-8", "replace")
        else:
            incoming.files[name] = (filename, part.get_content_type(), content)
            fields[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "size": len(content),
            }
    incoming.body = fields
