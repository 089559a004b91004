"""The Kaltura Avatar session endpoints: create (admin KS), then init-client, say-text, say-audio,
interrupt, keep-alive and end (the session's own token)."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from .._contract import Outcome
from .._tokens import jwt_like
from ._requests import Incoming, fail, succeed
from ._state import KalturaEmulatedSession, KalturaState, KalturaTurn

__all__ = ["SESSION_HANDLERS", "admin_check", "create", "session_for"]

_WHEP_BASE: Final = "https://whep.emulator.invalid/v1/whep"
_TURN_URL: Final = "turn:turn.emulator.invalid:3478"


def admin_check(state: KalturaState, incoming: Incoming) -> Outcome | None:
    """``None`` for the admin KS; 403 for the non-admin one, 401 for anything else."""
    if incoming.ks is not None and secrets.compare_digest(incoming.ks.encode(), state.ks.encode()):
        return None
    if state.non_admin_ks is not None and incoming.ks == state.non_admin_ks:
        return fail(403, "Kaltura Session not authorized")
    return fail(401, "Invalid Kaltura Session")


def create(state: KalturaState, incoming: Incoming) -> Outcome:
    """``POST /v1/avatar-session/create``: open a session and mint its token."""
    denied = admin_check(state, incoming)
    if denied is not None:
        return denied
    if incoming.body_error is not None:
        return fail(400, incoming.body_error)
    body = incoming.body if incoming.has_body else {}
    if not isinstance(body, dict):
        return fail(400, "The body must be a JSON object")
    visual = body.get("visualConfig")
    avatar_id = None
    if isinstance(visual, Mapping):
        given = [visual[k] for k in ("id", "avatarId") if k in visual]
        if given and all(_non_empty_string(v) for v in given) and len(set(given)) == 1:
            avatar_id = given[0]
    if avatar_id is None:
        return fail(400, "visualConfig.avatarId is required")
    voice_id = voice_speed = None
    if "voiceConfig" in body:
        voice = body["voiceConfig"]
        if not isinstance(voice, Mapping) or not _non_empty_string(voice.get("id")):
            return fail(400, "voiceConfig.id is required")
        if "speed" in voice and not _positive_number(voice["speed"]):
            return fail(400, "voiceConfig.speed must be a positive number")
        voice_id, voice_speed = voice["id"], voice.get("speed")
    now = time.monotonic()
    session_id = secrets.token_hex(12)
    issued = int(time.time())
    token = jwt_like({"sessionId": session_id, "iat": issued, "exp": issued + 86400})
    state.add(
        KalturaEmulatedSession(
            id=session_id,
            token=token,
            avatar_id=avatar_id,
            voice_id=voice_id,
            voice_speed=voice_speed,
            created_at=now,
            last_activity=now,
            create_request=body,
        )
    )
    return succeed(session_id, sessionId=session_id, token=token)


def session_for(state: KalturaState, incoming: Incoming) -> KalturaEmulatedSession | Outcome:
    """The session of a Bearer route, or the error to answer.

    No token, or one the emulator never minted, is 401; a valid token for a session id that does not
    exist 404; another session's token 401; the session's own token once it ended ``ended_status``.
    """
    assert incoming.path_id is not None
    if incoming.bearer is None:
        message = "A session token is required" if incoming.ks else "Unauthorized"
        return fail(401, message, incoming.path_id)
    owner = state.token_owner(incoming.bearer)
    if owner is None:
        return fail(401, "Invalid session token", incoming.path_id)
    session = state.sessions.get(incoming.path_id)
    if session is None:  # a valid token, for a session that is not there
        return fail(404, "Session not found", incoming.path_id)
    if owner != session.id:
        return fail(401, "Invalid session token", incoming.path_id)
    if not session.is_active:
        return fail(state.ended_status, "Session has ended", session.id)
    return session


def _init_client(
    state: KalturaState, session: KalturaEmulatedSession, incoming: Incoming
) -> Outcome:
    session.streams += 1
    turn = {
        "url": _TURN_URL,
        "username": f"{int(time.time()) + 86400}:{session.id}",
        "credential": secrets.token_urlsafe(16),
    }
    whep_url = f"{_WHEP_BASE}/{session.id}/{session.streams}"
    return succeed(session.id, whepUrl=whep_url, turn=turn)


def _say_text(state: KalturaState, session: KalturaEmulatedSession, incoming: Incoming) -> Outcome:
    if state.say_text_unavailable:
        return fail(503, "Service Unavailable", session.id)
    body = incoming.body if incoming.has_body else {}
    if not isinstance(body, dict) or not _non_empty_string(body.get("text")):
        return fail(400, "Text is required", session.id)
    if not _non_empty_string(body.get("turnId")):
        return fail(400, "turnId is required", session.id)
    if not isinstance(body.get("isFinal"), bool):
        return fail(400, "isFinal is required and must be a boolean", session.id)
    return _said(session, "text", body["turnId"], text=body["text"], is_final=body["isFinal"])


def _say_audio(state: KalturaState, session: KalturaEmulatedSession, incoming: Incoming) -> Outcome:
    form = incoming.body
    if not isinstance(form, dict) or "audio" not in incoming.files:
        return fail(400, "A multipart form with an audio file is required", session.id)
    if not _non_empty_string(form.get("turnId")):
        return fail(400, "turnId is required", session.id)
    try:
        duration = float(form.get("duration", ""))
    except (TypeError, ValueError):
        duration = math.nan
    if not _positive_number(duration):
        return fail(400, "duration must be a positive number of seconds", session.id)
    filename, content_type, content = incoming.files["audio"]
    if not content:
        return fail(400, "audio is empty", session.id)
    return _said(
        session,
        "audio",
        form["turnId"],
        duration=duration,
        audio=content,
        filename=filename,
        content_type=content_type,
    )


def _said(
    session: KalturaEmulatedSession, kind: Literal["text", "audio"], turn_id: str, **what: Any
) -> Outcome:
    """Record the turn the avatar was just asked to say (``what`` it says), and answer success."""
    session.turns.append(KalturaTurn(kind=kind, turn_id=turn_id, at=time.monotonic(), **what))
    return succeed(session.id)


def _interrupt(state: KalturaState, session: KalturaEmulatedSession, incoming: Incoming) -> Outcome:
    session.interrupts += 1
    return succeed(session.id)


def _keep_alive(
    state: KalturaState, session: KalturaEmulatedSession, incoming: Incoming
) -> Outcome:
    session.last_activity = time.monotonic()
    return succeed(session.id)


def _end(state: KalturaState, session: KalturaEmulatedSession, incoming: Incoming) -> Outcome:
    state.end(session, "end", time.monotonic())
    return succeed(session.id)


SessionHandler = Callable[[KalturaState, KalturaEmulatedSession, Incoming], Outcome]

#: The handlers of the session routes, by endpoint: each runs once :func:`session_for` found the session.
SESSION_HANDLERS: Final[dict[str, SessionHandler]] = {
    "init_client": _init_client,
    "say_text": _say_text,
    "say_audio": _say_audio,
    "interrupt": _interrupt,
    "keep_alive": _keep_alive,
    "end": _end,
}


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )
