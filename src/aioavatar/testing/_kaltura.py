"""An in-process emulator of the Kaltura Avatar session REST API, served by ``aiohttp.web``.

The emulator checks requests on its own (hand-written checks, no SDK models), keeps a state per session
(``active`` -> ``ended``), reaps a session whose keep-alives stop for longer than its window, records every
request in a journal, and can inject faults into the next calls of an endpoint (see
:class:`~aioavatar.testing._server.EmulatorServer`).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import math
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs
from aiohttp import web

from ._liveavatar import _jwt_like
from ._server import EmulatorServer, Outcome

__all__ = ["ENDPOINTS", "KalturaEmulatedSession", "KalturaEmulator", "KalturaTurn"]

ENDPOINTS: Final[tuple[str, ...]] = (
    "create",
    "init_client",
    "say_text",
    "say_audio",
    "interrupt",
    "keep_alive",
    "end",
    "unknown",
)
"""Endpoint names used by :meth:`KalturaEmulator.inject` and in the journal."""

SessionState = Literal["active", "ended"]
EndedBy = Literal["end", "idle", "server"]

# Both create paths the documentation gives.
_CREATE_PATHS: Final = frozenset({"/v1/avatar-session/create", "/v1/avatar-session"})
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
_WHEP_BASE: Final = "https://whep.emulator.invalid/v1/whep"
_TURN_URL: Final = "turn:turn.emulator.invalid:3478"


@attrs.frozen(kw_only=True)
class KalturaTurn:
    """One utterance a session accepted: ``kind`` ``"text"`` (``text``, ``is_final``) or ``"audio"``
    (``duration``, ``audio``, ``filename``, ``content_type``). ``at`` is on ``time.monotonic()``."""

    kind: Literal["text", "audio"]
    turn_id: str
    at: float
    text: str | None = None
    is_final: bool | None = None
    duration: float | None = None
    audio: bytes | None = attrs.field(default=None, repr=False)
    filename: str | None = None
    content_type: str | None = None


@attrs.define(kw_only=True)
class KalturaEmulatedSession:
    """The emulator's state for one session (mutable; owned by the emulator).

    ``ended_by`` says how it ended: ``"end"`` (an end call), ``"idle"`` (reaped after its keep-alive
    window) or ``"server"`` (:meth:`KalturaEmulator.end_session`). ``streams`` counts the init-client
    calls answered (each may open a stream); ``turns`` holds what the avatar was asked to say and
    ``interrupts`` how often it was interrupted. Times are on the ``time.monotonic()`` clock;
    ``create_request`` is the JSON body of the create call.
    """

    id: str
    token: str = attrs.field(repr=False)
    avatar_id: str
    voice_id: str | None
    voice_speed: float | None
    created_at: float
    last_activity: float
    state: SessionState = "active"
    ended_at: float | None = None
    ended_by: EndedBy | None = None
    streams: int = 0
    turns: list[KalturaTurn] = attrs.field(factory=list)
    interrupts: int = 0
    create_request: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def is_active(self) -> bool:
        """Whether the session has not ended."""
        return self.state == "active"


@attrs.define(kw_only=True)
class _Incoming:
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


def _fail(status: int, error: str, session_id: str | None = None) -> Outcome:
    return Outcome(status=status, payload={"success": False, "error": error}, session_id=session_id)


def _ok(session_id: str | None, **data: Any) -> Outcome:
    return Outcome(status=200, payload={"success": True, **data}, session_id=session_id)


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


class KalturaEmulator(EmulatorServer[_Incoming]):
    """A local, faithful emulator of the Kaltura Avatar session REST API.

    Use it as an async context manager: entering starts an ``aiohttp.web`` server on ``host``
    (``port=0`` picks a free port) plus a reaper that ends sessions whose keep-alives stopped;
    leaving stops both. Point a client at :attr:`base_url` (the root, as the region URLs are: the
    paths carry ``/v1``) with :attr:`ks`.

    Args:
        ks: the admin KS that ``create`` accepts.
        non_admin_ks: a KS that is valid but not an admin one: ``create`` answers it 403.
        idle_timeout: seconds a session lives without keep-alive (Kaltura publishes none; a live
            session was seen to survive 70 s).
        ended_status: the status calls about an ended session get: 404 (what the live server answers)
            or 410 (what the documentation says).
        say_text_unavailable: answer every say-text 503, as the live server has been seen to.

    Inspect what happened through :attr:`journal` (every request, in arrival order, once answered),
    :meth:`requests`, :attr:`sessions` and :meth:`active_sessions`; make the next calls of an
    endpoint fail with :meth:`inject`.

    Behaviour, as emulated:

    * Every route is ``POST``; answers are ``{"success": true, ...}`` or
      ``{"success": false, "error": "..."}``. Anything else: 404 (journaled as ``"unknown"``).
    * ``create`` (``/v1/avatar-session/create``, or ``/v1/avatar-session`` as one page of the
      documentation has it) takes only ``Authorization: KS <ks>``: none or an unknown one 401
      "Invalid Kaltura Session", ``non_admin_ks`` 403 "Kaltura Session not authorized". The avatar
      is ``visualConfig.id`` (Kaltura's SDK) or ``visualConfig.avatarId`` (the documentation);
      ``voiceConfig`` needs an ``id`` and takes a positive ``speed``; otherwise 400.
    * Every other route takes only ``Authorization: Bearer <token>``, the token of that very
      session: none, a KS, an unknown token or another session's token 401. Once a session has
      ended every call about it answers ``ended_status``.
    * ``say-text`` needs ``text`` (400 "Text is required"), ``turnId`` and boolean ``isFinal``.
      ``say-audio`` needs a multipart form with ``turnId``, a positive ``duration`` and a non-empty
      ``audio`` file. An empty body counts as ``{}`` where none is needed.
    * ``init-client`` answers every call (a second one opens a second stream: ``streams`` counts).
    """

    endpoints = ENDPOINTS
    fault_body = b'{"success": false, "error": "injected fault"}'
    malformed_body = b'{"success": true, "sessionId": '
    root_path = ""

    def __init__(
        self,
        ks: str = "emulator-admin-ks",
        *,
        non_admin_ks: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout: float = 60.0,
        ended_status: int = 404,
        say_text_unavailable: bool = False,
    ) -> None:
        if not ks:
            raise ValueError("ks must not be empty")
        if non_admin_ks is not None and (not non_admin_ks or non_admin_ks == ks):
            raise ValueError("non_admin_ks must be a non-empty KS other than ks")
        if idle_timeout <= 0:
            raise ValueError("idle_timeout must be > 0")
        if ended_status not in (404, 410):
            raise ValueError("ended_status must be 404 or 410")
        super().__init__(host=host, port=port)
        self.ks = ks
        self.non_admin_ks = non_admin_ks
        self.idle_timeout = float(idle_timeout)
        self.ended_status = ended_status
        self.say_text_unavailable = say_text_unavailable
        self.sessions: dict[str, KalturaEmulatedSession] = {}
        """Every session created, by id."""
        self._tokens: dict[str, str] = {}

    def __repr__(self) -> str:
        where = self.base_url if self._bound_port is not None else "not running"
        return f"<KalturaEmulator {where} sessions={len(self.sessions)}>"

    # ---- inspection ------------------------------------------------------------------------

    def active_sessions(self) -> list[KalturaEmulatedSession]:
        """Sessions that have not ended (the keep-alive window is enforced first)."""
        self._enforce_timers()
        return [s for s in self.sessions.values() if s.is_active]

    def end_session(self, session_id: str) -> None:
        """End a session server side, as the platform would (no request is journaled).

        Raises ``KeyError`` for an unknown id; ending an ended session does nothing.
        """
        session = self.sessions[session_id]
        self._enforce_timers()
        if session.is_active:
            self._end(session, "server", time.monotonic())

    # ---- time --------------------------------------------------------------------------------

    def _reap_period(self) -> float:
        return max(0.001, min(0.05, self.idle_timeout / 10))

    def _enforce_timers(self, only: KalturaEmulatedSession | None = None) -> None:
        now = time.monotonic()
        for session in self.sessions.values() if only is None else (only,):
            deadline = session.last_activity + self.idle_timeout
            if session.is_active and deadline <= now:
                self._end(session, "idle", deadline)

    def _enforce_request_timers(self, incoming: _Incoming) -> None:
        session = self.sessions.get(incoming.path_id) if incoming.path_id is not None else None
        if session is not None:
            self._enforce_timers(session)

    @staticmethod
    def _end(session: KalturaEmulatedSession, by: EndedBy, at: float) -> None:
        session.state = "ended"
        session.ended_by = by
        session.ended_at = at

    # ---- parsing -----------------------------------------------------------------------------

    def _parse(self, request: web.Request, raw: bytes) -> _Incoming:
        method, path = request.method, request.path
        endpoint, path_id = "unknown", None
        if method == "POST":
            match = _SESSION_PATH.match(path)
            if path in _CREATE_PATHS:
                endpoint = "create"
            elif match is not None:
                endpoint, path_id = _ACTIONS[match["action"]], match["id"]
        authorization = request.headers.get("Authorization", "")
        scheme, _, credential = authorization.partition(" ")
        incoming = _Incoming(
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
            self._parse_form(incoming, request.headers.get("Content-Type", ""), raw)
            return incoming
        try:
            incoming.body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            incoming.raw_body = raw.decode("utf-8", "replace")
            incoming.body_error = "Invalid JSON body"
        return incoming

    @staticmethod
    def _parse_form(incoming: _Incoming, content_type: str, raw: bytes) -> None:
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

    # ---- dispatch helpers ------------------------------------------------------------------

    def _auth_kind(self, incoming: _Incoming) -> str | None:
        if incoming.ks is not None:
            return "ks"
        if incoming.bearer is not None:
            return "bearer"
        return None

    def _resolve_session_id(self, incoming: _Incoming) -> str | None:
        return incoming.path_id

    def _handle(self, incoming: _Incoming) -> Outcome:
        if incoming.endpoint == "unknown":
            return _fail(404, f"Cannot {incoming.method} {incoming.path}")
        if incoming.endpoint == "create":
            return self._create(incoming)
        found = self._session_for(incoming)
        if isinstance(found, Outcome):
            return found
        session = found
        if incoming.body_error is not None:
            return _fail(400, incoming.body_error, session.id)
        handler = {
            "init_client": self._init_client,
            "say_text": self._say_text,
            "say_audio": self._say_audio,
            "interrupt": self._interrupt,
            "keep_alive": self._keep_alive,
            "end": self._end_call,
        }[incoming.endpoint]
        return handler(session, incoming)

    def _session_for(self, incoming: _Incoming) -> KalturaEmulatedSession | Outcome:
        """The session of a Bearer route, or the error to answer (auth first, then state)."""
        assert incoming.path_id is not None
        if incoming.bearer is None:
            message = "A session token is required" if incoming.ks else "Unauthorized"
            return _fail(401, message, incoming.path_id)
        owner = self._tokens.get(incoming.bearer)
        if owner is None or owner != incoming.path_id:
            return _fail(401, "Invalid session token", incoming.path_id)
        session = self.sessions[owner]
        if not session.is_active:
            return _fail(self.ended_status, "Session has ended", session.id)
        return session

    # ---- handlers ----------------------------------------------------------------------------

    def _create(self, incoming: _Incoming) -> Outcome:
        if incoming.ks is None or not secrets.compare_digest(
            incoming.ks.encode(), self.ks.encode()
        ):
            if self.non_admin_ks is not None and incoming.ks == self.non_admin_ks:
                return _fail(403, "Kaltura Session not authorized")
            return _fail(401, "Invalid Kaltura Session")
        if incoming.body_error is not None:
            return _fail(400, incoming.body_error)
        body = incoming.body if incoming.has_body else {}
        if not isinstance(body, dict):
            return _fail(400, "The body must be a JSON object")
        visual = body.get("visualConfig")
        avatar_id = None
        if isinstance(visual, Mapping):
            given = [visual[k] for k in ("id", "avatarId") if k in visual]
            if given and all(_non_empty_string(v) for v in given) and len(set(given)) == 1:
                avatar_id = given[0]
        if avatar_id is None:
            return _fail(400, "visualConfig.id is required")
        voice_id = voice_speed = None
        if "voiceConfig" in body:
            voice = body["voiceConfig"]
            if not isinstance(voice, Mapping) or not _non_empty_string(voice.get("id")):
                return _fail(400, "voiceConfig.id is required")
            if "speed" in voice and not _positive_number(voice["speed"]):
                return _fail(400, "voiceConfig.speed must be a positive number")
            voice_id, voice_speed = voice["id"], voice.get("speed")
        now = time.monotonic()
        session_id = secrets.token_hex(12)
        token = _jwt_like(
            {"sessionId": session_id, "iat": int(time.time()), "exp": int(time.time()) + 86400}
        )
        self.sessions[session_id] = KalturaEmulatedSession(
            id=session_id,
            token=token,
            avatar_id=avatar_id,
            voice_id=voice_id,
            voice_speed=voice_speed,
            created_at=now,
            last_activity=now,
            create_request=body,
        )
        self._tokens[token] = session_id
        return _ok(session_id, sessionId=session_id, token=token)

    def _init_client(self, session: KalturaEmulatedSession, incoming: _Incoming) -> Outcome:
        session.streams += 1
        turn = {
            "url": _TURN_URL,
            "username": f"{int(time.time()) + 86400}:{session.id}",
            "credential": secrets.token_urlsafe(16),
        }
        whep_url = f"{_WHEP_BASE}/{session.id}/{session.streams}"
        return _ok(session.id, whepUrl=whep_url, turn=turn)

    def _say_text(self, session: KalturaEmulatedSession, incoming: _Incoming) -> Outcome:
        if self.say_text_unavailable:
            return _fail(503, "Service Unavailable", session.id)
        body = incoming.body if incoming.has_body else {}
        if not isinstance(body, dict) or not _non_empty_string(body.get("text")):
            return _fail(400, "Text is required", session.id)
        if not _non_empty_string(body.get("turnId")):
            return _fail(400, "turnId is required", session.id)
        if not isinstance(body.get("isFinal"), bool):
            return _fail(400, "isFinal is required and must be a boolean", session.id)
        session.turns.append(
            KalturaTurn(
                kind="text",
                turn_id=body["turnId"],
                at=time.monotonic(),
                text=body["text"],
                is_final=body["isFinal"],
            )
        )
        return _ok(session.id)

    def _say_audio(self, session: KalturaEmulatedSession, incoming: _Incoming) -> Outcome:
        form = incoming.body
        if not isinstance(form, dict) or "audio" not in incoming.files:
            return _fail(400, "A multipart form with an audio file is required", session.id)
        if not _non_empty_string(form.get("turnId")):
            return _fail(400, "turnId is required", session.id)
        try:
            duration = float(form.get("duration", ""))
        except (TypeError, ValueError):
            duration = math.nan
        if not _positive_number(duration):
            return _fail(400, "duration must be a positive number of seconds", session.id)
        filename, content_type, content = incoming.files["audio"]
        if not content:
            return _fail(400, "audio is empty", session.id)
        session.turns.append(
            KalturaTurn(
                kind="audio",
                turn_id=form["turnId"],
                at=time.monotonic(),
                duration=duration,
                audio=content,
                filename=filename,
                content_type=content_type,
            )
        )
        return _ok(session.id)

    def _interrupt(self, session: KalturaEmulatedSession, incoming: _Incoming) -> Outcome:
        session.interrupts += 1
        return _ok(session.id)

    def _keep_alive(self, session: KalturaEmulatedSession, incoming: _Incoming) -> Outcome:
        session.last_activity = time.monotonic()
        return _ok(session.id)

    def _end_call(self, session: KalturaEmulatedSession, incoming: _Incoming) -> Outcome:
        self._end(session, "end", time.monotonic())
        return _ok(session.id)
