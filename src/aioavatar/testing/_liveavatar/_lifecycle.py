"""The LiveAvatar session lifecycle endpoints: token, start, keep-alive and stop.

Auth runs before validation (401 wins over 422). Business rules that are not the body's shape answer
400 ``{"code": 4000, "message": ...}`` once the body is valid.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any, Final

from aioavatar._enums import EndReason
from aioavatar.liveavatar._enums import Mode

from .._contract import Outcome
from .._tokens import jwt_like
from ._routes import (
    Incoming,
    bad_request,
    body_object,
    check_api_key,
    invalid,
    json_number,
    not_found,
    ok,
    session_by_bearer,
    session_of,
    unauthorized,
)
from ._state import CREDITS_PER_MINUTE, SANDBOX_AVATAR_ID, EmulatedSession, LiveAvatarState
from ._validation import (
    CONNECTORS,
    END_REASONS,
    HOSTED_CONNECTORS,
    Errors,
    present,
    validate_token_body,
)

__all__ = ["cannot_pay", "keep_alive", "start", "stop", "token"]

_LIVEKIT_URL: Final = "wss://livekit.emulator.invalid"
#: The ``agent_type`` claim of a session driven by each hosted connector (any other: ``FULL``).
_AGENT_TYPES: Final = {
    "elevenlabs_agent_config": "ELEVENLABS_AGENT",
    "openai_realtime_config": "OPENAI_REALTIME",
    "gemini_realtime_config": "GEMINI_REALTIME",
}


def token(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    """``POST /v1/sessions/token`` (API key): validate the body, create the session, mint its token."""
    denied = check_api_key(state, incoming)
    if denied is not None:
        return denied
    errors = Errors()
    body = body_object(incoming, errors, required=True)
    if not errors:
        validate_token_body(body, errors)
    if errors:
        return invalid(errors)
    refused = _refusal(state, body)
    if isinstance(refused, Outcome):
        return refused
    memory_id = refused
    now = time.monotonic()
    session_id = str(uuid.uuid4())
    is_sandbox = bool(body.get("is_sandbox") or False)
    requested: int | None = body.get("max_session_duration")
    if is_sandbox:
        cap = state.sandbox_max_duration
        limit = min(requested, cap) if requested else cap
    else:
        limit = float(requested or state.tier_max_session_duration)
    persona = body.get("avatar_persona") or {}
    context_id = persona.get("context_id")
    mode = Mode(body.get("mode") or "FULL")
    session = EmulatedSession(
        id=session_id,
        token=_session_token(session_id, body, mode),
        avatar_id=str(uuid.UUID(body["avatar_id"])),
        mode=mode,
        is_sandbox=is_sandbox,
        max_session_duration=requested,
        duration_limit=limit,
        context_id=str(uuid.UUID(context_id)) if context_id else None,
        has_ws=mode is Mode.LITE and not any(present(body, k) for k in HOSTED_CONNECTORS),
        created_at=now,
        updated_at=now,
        last_activity=now,
        memory_id=memory_id,
        token_request=body,
    )
    state.add(session)
    data = {"session_id": session_id, "session_token": session.token}
    return ok(data, session_id=session_id)


def _refusal(state: LiveAvatarState, body: dict[str, Any]) -> Outcome | str | None:
    """The 400 a valid token body still gets, else the memory the session attaches to (or ``None``).

    The sandbox serves one avatar; ``max_session_duration`` is capped by the tier; ``prev_session_id``
    and ``session_memory_id`` given together must resolve to the same memory.
    """
    if body.get("is_sandbox") and str(uuid.UUID(body["avatar_id"])) != SANDBOX_AVATAR_ID:
        return bad_request(f"Sandbox sessions can only use avatar {SANDBOX_AVATAR_ID}")
    requested = body.get("max_session_duration")
    tier = state.tier_max_session_duration
    if not body.get("is_sandbox") and requested is not None and requested > tier:
        return bad_request(
            f"max_session_duration {requested} exceeds the limit of your subscription tier "
            f"({tier} seconds)"
        )
    memory = body.get("memory") or {}
    prev = memory.get("prev_session_id")
    attached = memory.get("session_memory_id")
    prior = state.sessions.get(str(uuid.UUID(prev))) if prev else None
    resolved = prior.memory_id if prior is not None else None
    if attached:
        attached = str(uuid.UUID(attached))
        if prev and resolved != attached:
            return bad_request(
                "prev_session_id and session_memory_id do not resolve to the same memory"
            )
        return attached
    if prev:
        return resolved or str(uuid.uuid4())  # reuse the prior session's memory, or seed one
    return None


def _session_token(session_id: str, body: dict[str, Any], mode: Mode) -> str:
    """A JWT-shaped session token whose claims say how the session starts, as the real one's do.

    The official web SDK decodes it and reads ``start_session_data``: ``mode``, the connector configs,
    and ``agent_type`` (which it otherwise infers from the connector given, as written here). The
    claims hold those and nothing more: a token is sent with every call of its session, and clients
    may scan for it in what they receive.
    """
    start_data: dict[str, Any] = {"mode": mode.value}
    start_data.update((key, body[key]) for key in CONNECTORS if present(body, key))
    start_data["agent_type"] = next(
        (agent for key, agent in _AGENT_TYPES.items() if present(body, key)), "FULL"
    )
    claims = {
        "session_id": session_id,
        "iat": int(time.time()),
        "jti": secrets.token_hex(16),
        "start_session_data": start_data,
    }
    return jwt_like(claims)


def start(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    """``POST /v1/sessions/start`` (session token only): 201 with the room and, for LITE, ``ws_url``.

    The room is the emulator's, or the caller's own (``livekit_config.livekit_url``) for a LITE session
    that brought one; the LiveKit tokens are always minted here. ``max_session_duration`` is the limit
    enforced. The endpoint declares no body: FastAPI ignores whatever is sent.
    """
    session_id = session_of(state, incoming)
    if incoming.bearer is None:
        if incoming.api_key is not None:
            return unauthorized("This endpoint requires a session token", session_id)
        return unauthorized("Missing session token", session_id)
    found = session_by_bearer(state, incoming)
    if isinstance(found, Outcome):
        return found
    session = found
    if session.state == "started":
        return bad_request("Session already started", session.id)
    if session.state == "ended":
        return bad_request("Session already ended", session.id)
    if not session.is_sandbox and (broke := cannot_pay(state, session.mode.value)) is not None:
        broke.session_id = session.id
        return broke
    state.start(session, time.monotonic())
    own_room = session.token_request.get("livekit_config") if session.mode is Mode.LITE else None
    data: dict[str, Any] = {
        "session_id": session.id,
        "livekit_url": own_room["livekit_url"] if own_room else _LIVEKIT_URL,
        "livekit_client_token": jwt_like({"room": session.id, "sub": "client"}),
        "livekit_agent_token": jwt_like({"room": session.id, "sub": "agent"}),
    }
    if session.duration_limit is not None:
        data["max_session_duration"] = json_number(session.duration_limit)
    if session.has_ws:
        data["ws_url"] = f"ws://{incoming.origin}/v1/sessions/{session.id}/ws"
    return ok(data, status=201, session_id=session.id)


def cannot_pay(state: LiveAvatarState, mode: str) -> Outcome | None:
    """The 400 a start gets when the balance cannot pay one minute of ``mode``, else ``None``."""
    needed = CREDITS_PER_MINUTE.get(mode, 2.0)
    left = state.credits_left()
    if left >= needed:
        return None
    return bad_request(
        f"Insufficient credits: {max(left, 0):.4f} left, a {mode} session needs {needed:g} a minute"
    )


def keep_alive(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    """``POST /v1/sessions/keep-alive`` (API key or session token): the idle window starts again."""
    errors = Errors()
    body = body_object(incoming, errors, required=False)
    session = _target_session(state, incoming, errors, body)
    if isinstance(session, Outcome):
        return session
    if session.state == "created":
        return bad_request("Session not started", session.id)
    state.touch(session)
    return ok(None, session_id=session.id)


def stop(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    """``POST /v1/sessions/stop`` (API key or session token): end the session with ``reason``."""
    errors = Errors()
    body = body_object(incoming, errors, required=False)
    # The OpenAPI's body default is {"reason": "USER_CLOSED"}: a stop with no body at all (the web
    # SDK's) uses it; a body without a reason gets the field's own default, UNKNOWN.
    reason = EndReason.UNKNOWN if incoming.has_body else EndReason.USER_CLOSED
    if "reason" in body:
        raw_reason = body["reason"]
        if errors.choice(raw_reason, END_REASONS, ("body", "reason")) is not None:
            reason = EndReason(raw_reason)
    session = _target_session(state, incoming, errors, body)
    if isinstance(session, Outcome):
        return session
    state.end(session, reason, time.monotonic())
    return ok(None, session_id=session.id)


def _target_session(
    state: LiveAvatarState, incoming: Incoming, errors: Errors, body: dict[str, Any]
) -> EmulatedSession | Outcome:
    """Resolve the session of a keep-alive or stop (credential, body id), or the error: 404 once it
    has ended."""
    body_id: str | None = None
    if present(body, "session_id"):
        body_id = errors.uuid(body["session_id"], ("body", "session_id"))
    if incoming.bearer is not None:
        session = session_by_bearer(state, incoming)
        if isinstance(session, Outcome):
            return session
        if errors:
            return invalid(errors, session.id)
        if body_id is not None and body_id != session.id:
            return unauthorized("Session token does not match session_id", session.id)
    else:
        denied = check_api_key(state, incoming)
        if denied is not None:
            return denied
        if body_id is None and not errors:
            errors.missing(("body", "session_id"), body)
        if errors:
            return invalid(errors, body_id)
        assert body_id is not None
        known = state.sessions.get(body_id)
        if known is None:
            return not_found(body_id)
        session = known
    if session.state == "ended":
        return not_found(session.id)
    return session
