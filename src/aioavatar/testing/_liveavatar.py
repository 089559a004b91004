"""An in-process emulator of the LiveAvatar session REST API, served by ``aiohttp.web``.

The emulator validates requests on its own (hand-written checks, no SDK models), keeps a state
machine per session (``created`` -> ``started`` -> ``ended``), enforces the idle timeout and the
maximum duration with real timers, records every request in a journal, and can inject faults
(error statuses, delays, dropped connections, malformed bodies) into the next calls of an endpoint.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import urlencode

import attrs
from aiohttp import web

from aioavatar._enums import EndReason, Mode
from aioavatar.testing._liveavatar_ws import LiteSocketEmulator
from aioavatar.testing._server import EmulatorServer, Fault, RecordedRequest
from aioavatar.testing._server import Outcome as _Outcome

__all__ = ["ENDPOINTS", "EmulatedSession", "Fault", "LiveAvatarEmulator", "RecordedRequest"]

ENDPOINTS: Final[tuple[str, ...]] = (
    "token",
    "start",
    "keep_alive",
    "stop",
    "list",
    "get",
    "transcript",
    "delete",
    "unknown",
)
"""Endpoint names used by :meth:`LiveAvatarEmulator.inject` and in the journal."""

AuthKind = Literal["api_key", "bearer"]
SessionState = Literal["created", "started", "ended"]

_LIVEKIT_URL: Final = "wss://livekit.emulator.invalid"
_SUCCESS_CODE: Final = 1000
_BAD_REQUEST_CODE: Final = 4000
_MALFORMED_BODY: Final = b'{"code": 1000, "data": {'
_FAULT_BODY: Final = b'{"message": "injected fault"}'
_CREDITS_PER_MINUTE: Final = {"FULL": 2.0, "LITE": 1.0}

# Value sets of the token body, written out here on purpose (not taken from the SDK's models) so
# that the SDK's tests against the emulator check the SDK's own encoding.
_MODES: Final = ("FULL", "LITE")
_VIDEO_QUALITIES: Final = ("very_high", "high", "medium", "low")
_VIDEO_ENCODINGS: Final = ("VP8", "H264")
_INTERACTIVITY_TYPES: Final = ("CONVERSATIONAL", "PUSH_TO_TALK")
_VOICE_PROVIDERS: Final = ("elevenLabs", "fish")
_ELEVENLABS_MODELS: Final = ("eleven_flash_v2_5", "eleven_multilingual_v2")
_FISH_MODELS: Final = ("s1", "s2")
_FISH_LATENCY_MODES: Final = ("normal", "balanced")
_STT_PROVIDERS: Final = ("deepgram", "assembly_ai", "gladia", "elevenlabs")
_CONNECTORS: Final = (
    "livekit_config",
    "agora_config",
    "elevenlabs_agent_config",
    "openai_realtime_config",
    "gemini_realtime_config",
)
# LITE sessions driven by a hosted connector get no WebSocket: the connector speaks for the avatar.
_HOSTED_CONNECTORS: Final = (
    "elevenlabs_agent_config",
    "openai_realtime_config",
    "gemini_realtime_config",
)
_MAX_DYNAMIC_VARIABLES: Final = 50
_MAX_DYNAMIC_KEY: Final = 64
_MAX_DYNAMIC_VALUE: Final = 1000
_SESSION_TYPES: Final = ("active", "historic")

_ID_PATH: Final = re.compile(r"^/v1/sessions/(?P<id>[^/]+)$")
_TRANSCRIPT_PATH: Final = re.compile(r"^/v1/sessions/(?P<id>[^/]+)/transcript$")
_FIXED_ROUTES: Final = {
    "/v1/sessions/token": ("POST", "token"),
    "/v1/sessions/start": ("POST", "start"),
    "/v1/sessions/keep-alive": ("POST", "keep_alive"),
    "/v1/sessions/stop": ("POST", "stop"),
    "/v1/sessions": ("GET", "list"),
}


@attrs.define(kw_only=True)
class EmulatedSession:
    """The emulator's state for one session (mutable; owned by the emulator).

    Times (``created_at``, ``updated_at``, ``started_at``, ``ended_at``, ``last_activity``) are on
    the ``time.monotonic()`` clock. ``max_session_duration`` is what the token request asked for;
    ``duration_limit`` is the limit actually enforced (the sandbox cap applies to sandbox sessions).
    ``token_request`` is the JSON body of the token request that created the session.
    """

    id: str
    token: str = attrs.field(repr=False)
    avatar_id: str
    mode: Mode
    is_sandbox: bool
    max_session_duration: int | None
    duration_limit: float | None
    context_id: str | None
    has_ws: bool
    created_at: float
    updated_at: float
    last_activity: float
    state: SessionState = "created"
    started_at: float | None = None
    ended_at: float | None = None
    end_reason: EndReason | None = None
    token_request: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def is_active(self) -> bool:
        """Whether the session is started and not ended."""
        return self.state == "started"

    def duration_at(self, now: float) -> float:
        """Seconds between start and end (or ``now`` while running); ``0.0`` if never started."""
        if self.started_at is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, end - self.started_at)

    @property
    def duration(self) -> float:
        """Seconds between start and end (or now while running); ``0.0`` if never started."""
        return self.duration_at(time.monotonic())

    def credits_at(self, now: float) -> float:
        """Credits used by ``now``: 0 in the sandbox, else 2/min (FULL) or 1/min (LITE) pro rata."""
        if self.is_sandbox:
            return 0.0
        rate = _CREDITS_PER_MINUTE.get(self.mode.value, 2.0)
        return round(rate * self.duration_at(now) / 60.0, 4)


# --------------------------------------------------------------------------------------------
# Request parsing and validation helpers (FastAPI / pydantic v2 style error items)
# --------------------------------------------------------------------------------------------

Loc = tuple[str | int, ...]


class _Errors:
    """Collects FastAPI-style validation error items."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(
        self, type_: str, loc: Loc, msg: str, input_: Any, ctx: dict[str, Any] | None = None
    ) -> None:
        item: dict[str, Any] = {"type": type_, "loc": list(loc), "msg": msg, "input": input_}
        if ctx is not None:
            item["ctx"] = ctx
        self.items.append(item)

    def __bool__(self) -> bool:
        return bool(self.items)

    def missing(self, loc: Loc, input_: Any) -> None:
        self.add("missing", loc, "Field required", input_)

    def uuid(self, value: Any, loc: Loc) -> str | None:
        if not isinstance(value, str):
            self.add("uuid_type", loc, "UUID input should be a string, bytes or UUID object", value)
            return None
        parsed = _parse_uuid(value)
        if parsed is None:
            self.add("uuid_parsing", loc, "Input should be a valid UUID, invalid format", value)
        return parsed

    def string(self, value: Any, loc: Loc, *, max_length: int | None = None) -> str | None:
        if not isinstance(value, str):
            self.add("string_type", loc, "Input should be a valid string", value)
            return None
        if max_length is not None and len(value) > max_length:
            self.add(
                "string_too_long",
                loc,
                f"String should have at most {max_length} characters",
                value,
                {"max_length": max_length},
            )
            return None
        return value

    def boolean(self, value: Any, loc: Loc) -> bool | None:
        if not isinstance(value, bool):
            self.add("bool_type", loc, "Input should be a valid boolean", value)
            return None
        return value

    def positive_int(self, value: Any, loc: Loc) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add("int_type", loc, "Input should be a valid integer", value)
            return None
        if value <= 0:
            self.add("greater_than", loc, "Input should be greater than 0", value, {"gt": 0})
            return None
        return value

    def number(
        self, value: Any, loc: Loc, *, ge: float | None = None, le: float | None = None
    ) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add("float_type", loc, "Input should be a valid number", value)
            return None
        if ge is not None and value < ge:
            msg = f"Input should be greater than or equal to {ge}"
            self.add("greater_than_equal", loc, msg, value, {"ge": ge})
            return None
        if le is not None and value > le:
            msg = f"Input should be less than or equal to {le}"
            self.add("less_than_equal", loc, msg, value, {"le": le})
            return None
        return float(value)

    def choice(self, value: Any, choices: tuple[str, ...], loc: Loc) -> str | None:
        if not isinstance(value, str) or value not in choices:
            expected = _expected(choices)
            self.add("enum", loc, f"Input should be {expected}", value, {"expected": expected})
            return None
        return value

    def model(self, value: Any, loc: Loc, class_name: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(
                "model_type",
                loc,
                f"Input should be a valid dictionary or instance of {class_name}",
                value,
                {"class_name": class_name},
            )
            return None
        return value

    def str_dict(self, value: Any, loc: Loc) -> dict[str, str] | None:
        if not isinstance(value, dict):
            self.add("dict_type", loc, "Input should be a valid dictionary", value)
            return None
        before = len(self.items)
        for key, item in value.items():
            self.string(key, (*loc, key, "[key]"), max_length=_MAX_DYNAMIC_KEY)
            self.string(item, (*loc, key), max_length=_MAX_DYNAMIC_VALUE)
        if len(value) > _MAX_DYNAMIC_VARIABLES:
            self.add(
                "too_long",
                loc,
                f"Dictionary should have at most {_MAX_DYNAMIC_VARIABLES} items after "
                f"validation, not {len(value)}",
                value,
                {
                    "field_type": "Dictionary",
                    "max_length": _MAX_DYNAMIC_VARIABLES,
                    "actual_length": len(value),
                },
            )
        return value if len(self.items) == before else None


def _expected(choices: tuple[str, ...]) -> str:
    quoted = [f"'{c}'" for c in choices]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _parse_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _present(body: Mapping[str, Any], key: str) -> bool:
    """A field counts as given when present and not ``null`` (``null`` means "use the default")."""
    return body.get(key) is not None


def _validate_token_body(body: dict[str, Any], errors: _Errors) -> None:
    """Validate a ``POST /v1/sessions/token`` body; append error items to ``errors``."""
    b: Loc = ("body",)
    if "avatar_id" not in body:
        errors.missing((*b, "avatar_id"), body)
    else:
        errors.uuid(body["avatar_id"], (*b, "avatar_id"))
    if _present(body, "mode"):
        errors.choice(body["mode"], _MODES, (*b, "mode"))
    if _present(body, "is_sandbox"):
        errors.boolean(body["is_sandbox"], (*b, "is_sandbox"))
    if _present(body, "video_settings"):
        video = errors.model(body["video_settings"], (*b, "video_settings"), "VideoSettings")
        if video is not None:
            if _present(video, "quality"):
                errors.choice(video["quality"], _VIDEO_QUALITIES, (*b, "video_settings", "quality"))
            if _present(video, "encoding"):
                loc = (*b, "video_settings", "encoding")
                errors.choice(video["encoding"], _VIDEO_ENCODINGS, loc)
    if _present(body, "max_session_duration"):
        errors.positive_int(body["max_session_duration"], (*b, "max_session_duration"))
    if _present(body, "avatar_persona"):
        _validate_persona(body["avatar_persona"], (*b, "avatar_persona"), errors)
    if _present(body, "voice_agent"):
        _validate_voice_agent(body["voice_agent"], (*b, "voice_agent"), errors)
    if _present(body, "interactivity_type"):
        errors.choice(body["interactivity_type"], _INTERACTIVITY_TYPES, (*b, "interactivity_type"))
    if _present(body, "llm_configuration_id"):
        errors.uuid(body["llm_configuration_id"], (*b, "llm_configuration_id"))
    if _present(body, "dynamic_variables"):
        errors.str_dict(body["dynamic_variables"], (*b, "dynamic_variables"))
    if _present(body, "memory"):
        memory = errors.model(body["memory"], (*b, "memory"), "MemoryConfig")
        if memory is not None:
            for key in ("prev_session_id", "session_memory_id"):
                if _present(memory, key):
                    errors.uuid(memory[key], (*b, "memory", key))
    for key in _CONNECTORS:
        if _present(body, key):
            errors.model(body[key], (*b, key), "".join(p.title() for p in key.split("_")))
    if errors:
        return
    # Model-level rules run only once every field is valid, as pydantic's "after" validators do.
    if _present(body, "avatar_persona") and _present(body, "voice_agent"):
        errors.add(
            "value_error",
            b,
            "Value error, avatar_persona and voice_agent are mutually exclusive",
            body,
        )
    connectors = [key for key in _CONNECTORS if _present(body, key)]
    if len(connectors) > 1:
        errors.add(
            "value_error",
            b,
            f"Value error, at most one of {', '.join(_CONNECTORS)} may be given, "
            f"got {', '.join(connectors)}",
            body,
        )


def _validate_persona(value: Any, loc: Loc, errors: _Errors) -> None:
    persona = errors.model(value, loc, "AvatarPersona")
    if persona is None:
        return
    for key in ("voice_id", "context_id"):
        if _present(persona, key):
            errors.uuid(persona[key], (*loc, key))
    if _present(persona, "language"):
        errors.string(persona["language"], (*loc, "language"))
    if _present(persona, "voice_settings"):
        _validate_voice_settings(persona["voice_settings"], (*loc, "voice_settings"), errors)
    if _present(persona, "stt_config"):
        stt = errors.model(persona["stt_config"], (*loc, "stt_config"), "SttConfig")
        if stt is not None and _present(stt, "provider"):
            errors.choice(stt["provider"], _STT_PROVIDERS, (*loc, "stt_config", "provider"))


def _validate_voice_settings(value: Any, loc: Loc, errors: _Errors) -> None:
    if not isinstance(value, dict):
        errors.add(
            "model_attributes_type",
            loc,
            "Input should be a valid dictionary or object to extract fields from",
            value,
        )
        return
    provider = value.get("provider")
    if provider is None:
        errors.add(
            "union_tag_not_found",
            loc,
            "Unable to extract tag using discriminator 'provider'",
            value,
            {"discriminator": "'provider'"},
        )
        return
    if provider not in _VOICE_PROVIDERS:
        expected = ", ".join(f"'{p}'" for p in _VOICE_PROVIDERS)
        errors.add(
            "union_tag_invalid",
            loc,
            f"Input tag '{provider}' found using 'provider' does not match any of the "
            f"expected tags: {expected}",
            value,
            {"discriminator": "'provider'", "tag": str(provider), "expected_tags": expected},
        )
        return
    here: Loc = (*loc, provider)
    if provider == "elevenLabs":
        if _present(value, "speed"):
            errors.number(value["speed"], (*here, "speed"), ge=0.8, le=1.2)
        for key in ("stability", "similarity_boost", "style"):
            if _present(value, key):
                errors.number(value[key], (*here, key))
        for key in ("use_speaker_boost", "apply_language_text_normalization"):
            if _present(value, key):
                errors.boolean(value[key], (*here, key))
        if _present(value, "model"):
            errors.choice(value["model"], _ELEVENLABS_MODELS, (*here, "model"))
    else:
        if _present(value, "speed"):
            errors.number(value["speed"], (*here, "speed"))
        if _present(value, "model"):
            errors.choice(value["model"], _FISH_MODELS, (*here, "model"))
        if _present(value, "latency_mode"):
            errors.choice(value["latency_mode"], _FISH_LATENCY_MODES, (*here, "latency_mode"))


def _validate_voice_agent(value: Any, loc: Loc, errors: _Errors) -> None:
    agent = errors.model(value, loc, "VoiceAgent")
    if agent is None:
        return
    if "id" not in agent:
        errors.missing((*loc, "id"), agent)
    else:
        errors.uuid(agent["id"], (*loc, "id"))
    if _present(agent, "language"):
        errors.string(agent["language"], (*loc, "language"))
    if _present(agent, "dynamic_variables"):
        errors.str_dict(agent["dynamic_variables"], (*loc, "dynamic_variables"))


def _jwt_like(claims: dict[str, Any]) -> str:
    """A random token shaped like a JWT (header.payload.signature, base64url without padding)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{b64(secrets.token_bytes(32))}"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class _Incoming:
    """What the dispatcher parsed from a request before handling it."""

    method: str
    path: str
    endpoint: str
    path_id: str | None
    allow: str | None
    query: dict[str, str]
    body: Any
    raw_body: str | None
    has_body: bool
    json_error: tuple[int, str] | None
    api_key: str | None
    bearer: str | None


class LiveAvatarEmulator(EmulatorServer[_Incoming]):
    """A local, faithful emulator of the LiveAvatar session REST API.

    Use it as an async context manager: entering starts an ``aiohttp.web`` server on ``host``
    (``port=0`` picks a free port) plus a background reaper that ends sessions on idle timeout and
    maximum duration; leaving stops both. Point a client at :attr:`base_url` with :attr:`api_key`.

    ``idle_timeout`` is how long a started session lives without keep-alive (the real API: 300 s);
    ``sandbox_max_duration`` caps sandbox sessions (the real API: about 60 s).

    Inspect what happened through :attr:`journal` (every request, in arrival order, once answered),
    :meth:`requests`, :meth:`stop_reasons` and :attr:`sessions`; make the next calls of an endpoint
    fail with :meth:`inject`.

    Behaviour where the real API is not documented, as emulated:

    * Validation is strict about JSON types (``"60"`` or ``60.0`` is not an int, ``"true"`` not a
      bool) where pydantic might coerce, so that an SDK's encoding mistakes show up; ``null``
      counts as "not given" for every optional field; unknown keys are ignored.
    * Auth runs before validation (401 wins over 422). When a request carries both credentials,
      the session token is used where it is accepted, else the API key.
    * ``type`` is required on the list call; results are newest first; a page past the end is
      empty. ``embed_id`` never matches (API sessions have no embed). A session stopped before it
      was started is listed as historic (duration 0); a created, never started session is in
      neither list.
    * The transcript of an ended session answers 200 with ``session_active: false``.
    * Start of an already started or ended session: 400 ``{"code": 4000}``; keep-alive of a
      created session: 400. Created sessions never expire.
    * Credits are pro rata to the second; ``max_session_duration`` in the start answer is the
      enforced limit (the sandbox cap when lower); connector sessions
      (``elevenlabs_agent_config``, ``openai_realtime_config``, ``gemini_realtime_config``) get no
      ``ws_url``. The LITE WebSocket is served at ``ws_url``: see :attr:`ws`.
    * Wrong method on a known path: 405 with ``Allow``; unknown path: 404
      ``{"detail": "Not Found"}`` (both journaled as ``"unknown"``, except ``DELETE`` of a session,
      journaled as ``"delete"``).
    """

    endpoints = ENDPOINTS
    fault_body = _FAULT_BODY
    malformed_body = _MALFORMED_BODY

    def __init__(
        self,
        api_key: str = "emulator-api-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout: float = 300.0,
        sandbox_max_duration: float = 60.0,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        if idle_timeout <= 0:
            raise ValueError("idle_timeout must be > 0")
        if sandbox_max_duration <= 0:
            raise ValueError("sandbox_max_duration must be > 0")
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.idle_timeout = float(idle_timeout)
        self.sandbox_max_duration = float(sandbox_max_duration)
        self.sessions: dict[str, EmulatedSession] = {}
        """Every session created through the token endpoint, by id."""
        self._tokens: dict[str, str] = {}
        self._wall0 = datetime.now(UTC)
        self._mono0 = time.monotonic()
        self.ws = LiteSocketEmulator(self)
        """The LITE WebSocket served at each LITE session's ``ws_url``: settings, journal, controls."""

    def __repr__(self) -> str:
        where = self.base_url if self._bound_port is not None else "not running"
        return f"<LiveAvatarEmulator {where} sessions={len(self.sessions)}>"

    # ---- lifecycle -------------------------------------------------------------------------

    def _install_routes(self, app: web.Application) -> None:
        self.ws.install(app)

    def _reap_period(self) -> float:
        return max(0.001, min(0.05, self.idle_timeout / 10, self.sandbox_max_duration / 10))

    # ---- inspection ------------------------------------------------------------------------

    def stop_reasons(self, session_id: str) -> list[str]:
        """The ``reason`` of every stop request received for ``session_id``, in arrival order.

        Counts every stop request the journal holds for the session, whatever it was answered
        (including faulted and rejected ones); a stop without a reason counts as ``"UNKNOWN"``,
        the API's default. Requests whose body is not a JSON object are skipped.
        """
        reasons: list[str] = []
        for r in self.requests("stop", session_id=session_id):
            if r.body is None and r.raw_body is None:
                reasons.append(EndReason.UNKNOWN.value)
            elif isinstance(r.body, dict):
                reason = r.body.get("reason")
                reasons.append(EndReason.UNKNOWN.value if reason is None else str(reason))
        return reasons

    def active_sessions(self) -> list[EmulatedSession]:
        """Sessions that are started and not ended (timers are enforced first)."""
        self._enforce_timers()
        return [s for s in self.sessions.values() if s.state == "started"]

    def end_session(
        self, session_id: str, reason: EndReason = EndReason.ZOMBIE_SESSION_REAP
    ) -> None:
        """End a session server side, as the platform would (no request is journaled).

        Raises ``KeyError`` for an unknown id; ending an already ended session does nothing.
        """
        session = self.sessions[session_id]
        self._enforce_timers()
        if session.state != "ended":
            self._end(session, reason, time.monotonic())

    # ---- time --------------------------------------------------------------------------------

    def _iso(self, mono: float) -> str:
        return (self._wall0 + timedelta(seconds=mono - self._mono0)).isoformat()

    def _enforce_timers(self, only: EmulatedSession | None = None) -> None:
        """End the started sessions (or just ``only``) whose idle or duration deadline has passed."""
        now = time.monotonic()
        for session in self.sessions.values() if only is None else (only,):
            if session.state != "started" or session.started_at is None:
                continue
            deadline = session.last_activity + self.idle_timeout
            reason = EndReason.IDLE_TIMEOUT
            if session.duration_limit is not None:
                max_deadline = session.started_at + session.duration_limit
                if max_deadline <= deadline:
                    deadline, reason = max_deadline, EndReason.MAX_DURATION_REACHED
            if deadline <= now:
                self._end(session, reason, deadline)

    def _end(self, session: EmulatedSession, reason: EndReason, at: float) -> None:
        session.state = "ended"
        session.end_reason = reason
        session.ended_at = at
        session.updated_at = at
        self.ws.session_ended(session.id)  # its sockets say `closed` and close

    # ---- dispatch ------------------------------------------------------------------------------

    def _enforce_request_timers(self, incoming: _Incoming) -> None:
        """Enforce the timers a request's answer depends on.

        Only the list answer depends on every session; any other answer depends on its own session
        alone. Sweeping just that one keeps a request O(1) with thousands of sessions (the reaper
        still sweeps them all, and an ended session's ``ended_at`` is its deadline either way).
        """
        if incoming.endpoint == "list":
            self._enforce_timers()
            return
        session_id = self._resolve_session_id(incoming)
        session = self.sessions.get(session_id) if session_id is not None else None
        if session is not None:
            self._enforce_timers(session)

    def _parse(self, request: web.Request, raw: bytes) -> _Incoming:
        method, path = request.method, request.path
        endpoint, path_id, allow = self._route(method, path)
        body: Any = None
        raw_body: str | None = None
        json_error: tuple[int, str] | None = None
        has_body = bool(raw.strip())
        if has_body:
            try:
                body = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raw_body = raw.decode("utf-8", "replace")
                json_error = (exc.start, "Invalid UTF-8")
            except json.JSONDecodeError as exc:
                raw_body = raw.decode("utf-8", "replace")
                json_error = (exc.pos, exc.msg)
        api_key = request.headers.get("X-API-KEY")
        authorization = request.headers.get("Authorization", "")
        scheme, _, credential = authorization.partition(" ")
        bearer = credential.strip() if scheme.lower() == "bearer" else None
        return _Incoming(
            method=method,
            path=path,
            endpoint=endpoint,
            path_id=path_id,
            allow=allow,
            query=dict(request.query),
            body=body,
            raw_body=raw_body,
            has_body=has_body,
            json_error=json_error,
            api_key=api_key,
            bearer=bearer,
        )

    @staticmethod
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
        if match is not None:
            return "unknown", None, "GET"
        if transcript is not None:
            return "unknown", None, "GET"
        return "unknown", None, None

    _ACCEPTS: Final[Mapping[str, frozenset[AuthKind]]] = {
        "token": frozenset({"api_key"}),
        "list": frozenset({"api_key"}),
        "get": frozenset({"api_key"}),
        "transcript": frozenset({"api_key"}),
        "start": frozenset({"bearer"}),
        "keep_alive": frozenset({"api_key", "bearer"}),
        "stop": frozenset({"api_key", "bearer"}),
    }

    def _auth_kind(self, incoming: _Incoming) -> AuthKind | None:
        """The credential kind a request presented (the accepted one first, if it has both)."""
        accepts = self._ACCEPTS.get(incoming.endpoint, frozenset({"api_key", "bearer"}))
        if incoming.bearer is not None and "bearer" in accepts:
            return "bearer"
        if incoming.api_key is not None:
            return "api_key"
        if incoming.bearer is not None:
            return "bearer"
        return None

    def _resolve_session_id(self, incoming: _Incoming) -> str | None:
        """The session a request is about, without touching any state."""
        if incoming.path_id is not None:
            return _parse_uuid(incoming.path_id)
        if incoming.bearer is not None and self._auth_kind(incoming) == "bearer":
            token_session = self._tokens.get(incoming.bearer)
            if token_session is not None:
                return token_session
        if isinstance(incoming.body, dict):
            value = incoming.body.get("session_id")
            if isinstance(value, str):
                return _parse_uuid(value)
        return None

    # ---- handlers ----------------------------------------------------------------------------

    def _handle(self, incoming: _Incoming) -> _Outcome:
        handlers: dict[str, Callable[[_Incoming], _Outcome]] = {
            "token": self._token,
            "start": self._start,
            "keep_alive": self._keep_alive,
            "stop": self._stop,
            "list": self._list,
            "get": self._get,
            "transcript": self._transcript,
        }
        handler = handlers.get(incoming.endpoint)
        if handler is not None:
            return handler(incoming)
        session_id = self._resolve_session_id(incoming)
        if incoming.allow is not None:
            return _Outcome(
                status=405,
                payload={"detail": "Method Not Allowed"},
                session_id=session_id,
                headers={"Allow": incoming.allow},
            )
        return _Outcome(status=404, payload={"detail": "Not Found"}, session_id=session_id)

    @staticmethod
    def _ok(data: Any, *, status: int = 200, session_id: str | None = None) -> _Outcome:
        payload = {"code": _SUCCESS_CODE, "data": data, "message": "Success"}
        return _Outcome(status=status, payload=payload, session_id=session_id)

    @staticmethod
    def _unauthorized(message: str, session_id: str | None = None) -> _Outcome:
        return _Outcome(
            status=401, payload={"code": 401, "message": message}, session_id=session_id
        )

    @staticmethod
    def _invalid(errors: _Errors, session_id: str | None = None) -> _Outcome:
        return _Outcome(status=422, payload={"detail": errors.items}, session_id=session_id)

    @staticmethod
    def _not_found(session_id: str | None) -> _Outcome:
        return _Outcome(status=404, payload={"message": "Session not found"}, session_id=session_id)

    @staticmethod
    def _bad_request(message: str, session_id: str | None) -> _Outcome:
        payload = {"code": _BAD_REQUEST_CODE, "message": message}
        return _Outcome(status=400, payload=payload, session_id=session_id)

    def _check_api_key(self, incoming: _Incoming) -> _Outcome | None:
        """``None`` when the request carries the right API key, else the 401 to answer."""
        session_id = self._resolve_session_id(incoming)
        if incoming.api_key is None:
            if incoming.bearer is not None:
                return self._unauthorized("This endpoint requires the API key", session_id)
            return self._unauthorized("Missing API key", session_id)
        if not secrets.compare_digest(incoming.api_key.encode(), self.api_key.encode()):
            return self._unauthorized("Invalid API key", session_id)
        return None

    @staticmethod
    def _body_object(incoming: _Incoming, errors: _Errors, *, required: bool) -> dict[str, Any]:
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

    def _token(self, incoming: _Incoming) -> _Outcome:
        denied = self._check_api_key(incoming)
        if denied is not None:
            return denied
        errors = _Errors()
        body = self._body_object(incoming, errors, required=True)
        if not errors:
            _validate_token_body(body, errors)
        if errors:
            return self._invalid(errors)
        now = time.monotonic()
        session_id = str(uuid.uuid4())
        token = _jwt_like(
            {"session_id": session_id, "iat": int(time.time()), "jti": secrets.token_hex(16)}
        )
        is_sandbox = bool(body.get("is_sandbox") or False)
        requested: int | None = body.get("max_session_duration")
        limit: float | None = float(requested) if requested is not None else None
        if is_sandbox:
            limit = min(limit, self.sandbox_max_duration) if limit else self.sandbox_max_duration
        persona = body.get("avatar_persona") or {}
        context_id = persona.get("context_id")
        mode = Mode(body.get("mode") or "FULL")
        session = EmulatedSession(
            id=session_id,
            token=token,
            avatar_id=str(uuid.UUID(body["avatar_id"])),
            mode=mode,
            is_sandbox=is_sandbox,
            max_session_duration=requested,
            duration_limit=limit,
            context_id=str(uuid.UUID(context_id)) if context_id else None,
            has_ws=mode is Mode.LITE and not any(_present(body, k) for k in _HOSTED_CONNECTORS),
            created_at=now,
            updated_at=now,
            last_activity=now,
            token_request=body,
        )
        self.sessions[session_id] = session
        self._tokens[token] = session_id
        return self._ok({"session_id": session_id, "session_token": token}, session_id=session_id)

    def _session_by_bearer(self, incoming: _Incoming) -> EmulatedSession | _Outcome:
        """The session a valid bearer token belongs to, or the 401 to answer."""
        assert incoming.bearer is not None
        session_id = self._tokens.get(incoming.bearer)
        if session_id is None:
            return self._unauthorized("Invalid session token", self._resolve_session_id(incoming))
        return self.sessions[session_id]

    def _start(self, incoming: _Incoming) -> _Outcome:
        # The start endpoint declares no body: FastAPI ignores whatever is sent.
        session_id = self._resolve_session_id(incoming)
        if incoming.bearer is None:
            if incoming.api_key is not None:
                return self._unauthorized("This endpoint requires a session token", session_id)
            return self._unauthorized("Missing session token", session_id)
        found = self._session_by_bearer(incoming)
        if isinstance(found, _Outcome):
            return found
        session = found
        if session.state == "started":
            return self._bad_request("Session already started", session.id)
        if session.state == "ended":
            return self._bad_request("Session already ended", session.id)
        now = time.monotonic()
        session.state = "started"
        session.started_at = session.last_activity = session.updated_at = now
        data: dict[str, Any] = {
            "session_id": session.id,
            "livekit_url": _LIVEKIT_URL,
            "livekit_client_token": _jwt_like({"room": session.id, "sub": "client"}),
            "livekit_agent_token": _jwt_like({"room": session.id, "sub": "agent"}),
        }
        if session.duration_limit is not None:
            data["max_session_duration"] = _number(session.duration_limit)
        if session.has_ws:
            ws_base = "ws" + self.base_url.removeprefix("http")
            data["ws_url"] = f"{ws_base}/v1/sessions/{session.id}/ws"
        return self._ok(data, status=201, session_id=session.id)

    def _target_session(
        self, incoming: _Incoming, errors: _Errors, body: dict[str, Any]
    ) -> EmulatedSession | _Outcome:
        """Resolve the session of a keep-alive or stop (credential, body id), or the error."""
        body_id: str | None = None
        if _present(body, "session_id"):
            body_id = errors.uuid(body["session_id"], ("body", "session_id"))
        if incoming.bearer is not None:
            found = self._session_by_bearer(incoming)
            if isinstance(found, _Outcome):
                return found
            if errors:
                return self._invalid(errors, found.id)
            if body_id is not None and body_id != found.id:
                return self._unauthorized("Session token does not match session_id", found.id)
            return found
        denied = self._check_api_key(incoming)
        if denied is not None:
            return denied
        if body_id is None and not errors:
            errors.missing(("body", "session_id"), body)
        if errors:
            return self._invalid(errors, body_id)
        assert body_id is not None
        session = self.sessions.get(body_id)
        if session is None:
            return self._not_found(body_id)
        return session

    def _keep_alive(self, incoming: _Incoming) -> _Outcome:
        errors = _Errors()
        body = self._body_object(incoming, errors, required=False)
        found = self._target_session(incoming, errors, body)
        if isinstance(found, _Outcome):
            return found
        session = found
        if session.state == "ended":
            return self._not_found(session.id)
        if session.state == "created":
            return self._bad_request("Session not started", session.id)
        session.last_activity = session.updated_at = time.monotonic()
        return self._ok(None, session_id=session.id)

    def _stop(self, incoming: _Incoming) -> _Outcome:
        errors = _Errors()
        body = self._body_object(incoming, errors, required=False)
        reason = EndReason.UNKNOWN
        if "reason" in body:
            raw_reason = body["reason"]
            choices = tuple(EndReason._value2member_map_)
            if errors.choice(raw_reason, choices, ("body", "reason")) is not None:
                reason = EndReason.known(raw_reason)
        found = self._target_session(incoming, errors, body)
        if isinstance(found, _Outcome):
            return found
        session = found
        if session.state == "ended":
            return self._not_found(session.id)
        self._end(session, reason, time.monotonic())
        return self._ok(None, session_id=session.id)

    def _entry(self, session: EmulatedSession, now: float) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": session.id,
            "created_at": self._iso(session.created_at),
            "updated_at": self._iso(session.updated_at),
            "duration": round(session.duration_at(now), 3),
            "source": "API",
            "mode": session.mode.value,
            "is_sandbox": session.is_sandbox,
            "credits_consumed": _number(session.credits_at(now)),
        }
        if session.state == "ended" and session.ended_at is not None:
            entry["end_at"] = self._iso(session.ended_at)
            entry["end_reason"] = session.end_reason.value if session.end_reason else None
        return entry

    def _path_session_id(self, incoming: _Incoming, errors: _Errors) -> str | None:
        assert incoming.path_id is not None
        return errors.uuid(incoming.path_id, ("path", "session_id"))

    @staticmethod
    def _query_int(
        query: Mapping[str, str], name: str, default: int, errors: _Errors, *, le: int | None
    ) -> int:
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

    def _list(self, incoming: _Incoming) -> _Outcome:
        denied = self._check_api_key(incoming)
        if denied is not None:
            return denied
        query = incoming.query
        errors = _Errors()
        if "type" not in query:
            errors.missing(("query", "type"), None)
        else:
            errors.choice(query["type"], _SESSION_TYPES, ("query", "type"))
        page = self._query_int(query, "page", 1, errors, le=None)
        page_size = self._query_int(query, "page_size", 20, errors, le=100)
        filters: dict[str, str] = {}
        for name in ("avatar_id", "context_id"):
            if name in query:
                parsed = errors.uuid(query[name], ("query", name))
                if parsed is not None:
                    filters[name] = parsed
        embed_id = query.get("embed_id")
        if errors:
            return self._invalid(errors)
        wanted: SessionState = "started" if query["type"] == "active" else "ended"
        selected = [
            s
            for s in reversed(self.sessions.values())  # newest first
            if s.state == wanted
            and ("avatar_id" not in filters or s.avatar_id == filters["avatar_id"])
            and ("context_id" not in filters or s.context_id == filters["context_id"])
            # Sessions made through the API never belong to an embed.
            and embed_id is None
        ]
        now = time.monotonic()
        start = (page - 1) * page_size
        results = [self._entry(s, now) for s in selected[start : start + page_size]]

        def link(target: int) -> str:
            params = {k: v for k, v in query.items() if k not in ("page", "page_size")}
            params.update(page=str(target), page_size=str(page_size))
            return f"/v1/sessions?{urlencode(params)}"

        has_next = start + page_size < len(selected)
        has_previous = page > 1 and len(selected) > 0
        data = {
            "count": len(selected),
            "next": link(page + 1) if has_next else None,
            "previous": link(min(page - 1, max(1, -(-len(selected) // page_size))))
            if has_previous
            else None,
            "results": results,
        }
        return self._ok(data)

    def _get(self, incoming: _Incoming) -> _Outcome:
        denied = self._check_api_key(incoming)
        if denied is not None:
            return denied
        errors = _Errors()
        session_id = self._path_session_id(incoming, errors)
        if errors or session_id is None:
            return self._invalid(errors)
        session = self.sessions.get(session_id)
        if session is None:
            return self._not_found(session_id)
        return self._ok(self._entry(session, time.monotonic()), session_id=session_id)

    def _transcript(self, incoming: _Incoming) -> _Outcome:
        denied = self._check_api_key(incoming)
        if denied is not None:
            return denied
        errors = _Errors()
        session_id = self._path_session_id(incoming, errors)
        for name in ("start_timestamp", "end_timestamp"):
            raw = incoming.query.get(name)
            if raw is None:
                continue
            try:
                float(raw)
            except ValueError:
                msg = "Input should be a valid number, unable to parse string as a number"
                errors.add("float_parsing", ("query", name), msg, raw)
        if errors or session_id is None:
            return self._invalid(errors, session_id)
        session = self.sessions.get(session_id)
        if session is None:
            return self._not_found(session_id)
        data: dict[str, Any] = {
            "session_active": session.state == "started",
            "next_timestamp": None,
            "transcript_data": [],
        }
        return self._ok(data, session_id=session_id)
