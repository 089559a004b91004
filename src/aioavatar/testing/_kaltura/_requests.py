"""How the Kaltura emulator reads a request (route, credentials, JSON or multipart body) and the two
answer shapes, ``{"success": true, ...}`` and ``{"success": false, "error": ...}``."""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from typing import Any, Final

import attrs
from aiohttp import web

from .._server import Outcome

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
class Incoming:
    """What the dispatcher parsed from a request before handling it."""

    method: str
    path: str
    endpoint: str
    path_id: str | None
    query: dict[str, str]
    body: Any
    raw_body: str | None
    has_body: bool
    body_error: str | None
    files: dict[str, tuple[str | None, str, bytes]] = attrs.field(factory=dict, repr=False)
    ks: str | None
    bearer: str | None

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
    """Route a request and read its credential and body (``raw``)."""
    method, path = request.method, request.path
    endpoint, path_id = "unknown", None
    if method == "POST":
        match = _SESSION_PATH.match(path)
        if path in _CREATE_PATHS:
            endpoint = "create"
        elif path == _CATALOG_PATH:
            endpoint = "catalog_list"
        elif match is not None:
            endpoint, path_id = _ACTIONS[match["action"]], match["id"]
    authorization = request.headers.get("Authorization", "")
    scheme, _, credential = authorization.partition(" ")
    incoming = Incoming(
        method=method,
        path=path,
        endpoint=endpoint,
        path_id=path_id,
        query=dict(request.query),
        body=None,
        raw_body=None,
        has_body=bool(raw.strip()),
        body_error=None,
        ks=credential.strip() if scheme.upper() == "KS" else None,
        bearer=credential.strip() if scheme.lower() == "bearer" else None,
    )
    if not incoming.has_body:
        return incoming
    if request.content_type == "multipart/form-data":
        _parse_form(incoming, request.headers.get("Content-Type", ""), raw)
        return incoming
    try:
        incoming.body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        incoming.raw_body = raw.decode("utf-8", "replace")
        incoming.body_error = "Invalid JSON body"
    return incoming


def _parse_form(incoming: Incoming, content_type: str, raw: bytes) -> None:
    """Parse a multipart form with the standard library (an independent check of the SDK's)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        incoming.body_error = "Invalid multipart body"
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
