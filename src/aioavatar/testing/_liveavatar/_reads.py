"""The LiveAvatar endpoints that read sessions (API key only): list, get and transcript."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from .._contract import Outcome
from ._routes import (
    Incoming,
    check_api_key,
    invalid,
    json_number,
    not_found,
    ok,
    paged,
    query_int,
)
from ._state import EmulatedSession, LiveAvatarState, SessionState
from ._validation import Errors

__all__ = ["get", "list_sessions", "transcript"]

_SESSION_TYPES: Final = ("active", "historic")


def list_sessions(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    """``GET /v1/sessions?type=active|historic``: a page of entries, newest first."""
    denied = check_api_key(state, incoming)
    if denied is not None:
        return denied
    query = incoming.query
    errors = Errors()
    if "type" not in query:
        errors.missing(("query", "type"), None)
    else:
        errors.choice(query["type"], _SESSION_TYPES, ("query", "type"))
    page = query_int(query, "page", 1, errors, le=None)
    page_size = query_int(query, "page_size", 20, errors, le=100)
    filters: dict[str, str] = {}
    for name in ("avatar_id", "context_id"):
        if name in query:
            parsed = errors.uuid(query[name], ("query", name))
            if parsed is not None:
                filters[name] = parsed
    embed_id = query.get("embed_id")
    if errors:
        return invalid(errors)
    wanted: SessionState = "started" if query["type"] == "active" else "ended"
    selected = [
        s
        for s in reversed(state.sessions.values())  # newest first
        if s.state == wanted
        and ("avatar_id" not in filters or s.avatar_id == filters["avatar_id"])
        and ("context_id" not in filters or s.context_id == filters["context_id"])
        # Sessions made through the API never belong to an embed.
        and embed_id is None
    ]
    now = time.monotonic()
    data = paged(incoming, selected, page, page_size, lambda s: _entry(state, s, now))
    return ok(data)


def get(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    """``GET /v1/sessions/{id}``: the session's entry (historic ones with ``end_reason``)."""
    session = _path_session(state, incoming)
    if isinstance(session, Outcome):
        return session
    return ok(_entry(state, session, time.monotonic()), session_id=session.id)


def transcript(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    """``GET /v1/sessions/{id}/transcript``: always empty (the emulator runs no FULL-mode agent)."""
    session = _path_session(state, incoming, _check_timestamps)
    if isinstance(session, Outcome):
        return session
    data: dict[str, Any] = {
        "session_active": session.state == "started",
        "next_timestamp": None,
        "transcript_data": [],
    }
    return ok(data, session_id=session.id)


def _path_session(
    state: LiveAvatarState,
    incoming: Incoming,
    check_query: Callable[[Mapping[str, str], Errors], None] | None = None,
) -> EmulatedSession | Outcome:
    """The session of a ``/v1/sessions/{id}`` read, or the error: 401 without the API key, 422 for
    an id that is not a UUID (or a query ``check_query`` refuses), 404 for an unknown session."""
    denied = check_api_key(state, incoming)
    if denied is not None:
        return denied
    errors = Errors()
    assert incoming.path_id is not None
    session_id = errors.uuid(incoming.path_id, ("path", "session_id"))
    if check_query is not None:
        check_query(incoming.query, errors)
    if errors or session_id is None:
        return invalid(errors, session_id)
    session = state.sessions.get(session_id)
    if session is None:
        return not_found(session_id)
    return session


def _check_timestamps(query: Mapping[str, str], errors: Errors) -> None:
    """The transcript's ``start_timestamp`` and ``end_timestamp``, when given, must be numbers."""
    for name in ("start_timestamp", "end_timestamp"):
        raw = query.get(name)
        if raw is None:
            continue
        try:
            float(raw)
        except ValueError:
            msg = "Input should be a valid number, unable to parse string as a number"
            errors.add("float_parsing", ("query", name), msg, raw)


def _entry(state: LiveAvatarState, session: EmulatedSession, now: float) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": session.id,
        "created_at": state.iso(session.created_at),
        "updated_at": state.iso(session.updated_at),
        "duration": round(session.duration_at(now), 3),
        "source": "API",
        "mode": session.mode.value,
        "is_sandbox": session.is_sandbox,
        "credits_consumed": json_number(session.credits_at(now)),
    }
    if session.state == "ended" and session.ended_at is not None:
        entry["end_at"] = state.iso(session.ended_at)
        entry["end_reason"] = session.end_reason.value if session.end_reason else None
    return entry
