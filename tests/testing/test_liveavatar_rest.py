"""The LiveAvatar emulator's REST API over real sockets, with plain aiohttp: what each request is answered
and what the emulator records."""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from typing import Any

import aiohttp
import anyio
import attrs
import pytest

from aioavatar import EndReason, Mode
from aioavatar.testing import EmulatedSession, LiveAvatarEmulator, RecordedRequest

from .helpers import (
    API_KEY,
    AVATAR,
    CONTEXT,
    JWT,
    KEY,
    OTHER_AVATAR,
    bearer,
    call,
    create,
    ok,
    start,
    wait_until,
)

pytestmark = pytest.mark.anyio


# ---- lifecycle ---------------------------------------------------------------------------------


async def test_base_url_and_lifecycle() -> None:
    """base_url exists only while entered; entering twice is refused."""
    emulator = LiveAvatarEmulator()
    assert emulator.api_key == "emulator-api-key"
    with pytest.raises(RuntimeError):
        _ = emulator.base_url
    async with emulator:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emulator.base_url)
        assert emulator.base_url in repr(emulator)
        with pytest.raises(RuntimeError):
            await emulator.__aenter__()
    with pytest.raises(RuntimeError):
        _ = emulator.base_url


def test_constructor_rejects_bad_arguments() -> None:
    """An empty API key or a duration not above 0 is a ValueError naming it."""
    with pytest.raises(ValueError, match="api_key"):
        LiveAvatarEmulator("")
    with pytest.raises(ValueError, match="idle_timeout"):
        LiveAvatarEmulator(idle_timeout=0)
    with pytest.raises(ValueError, match="sandbox_max_duration"):
        LiveAvatarEmulator(sandbox_max_duration=-1)


# ---- success paths -----------------------------------------------------------------------------


async def test_token(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """A token request creates a `created` session with a JWT-shaped token; unknown keys are ignored."""
    body = {"avatar_id": AVATAR, "avatar_persona": {"context_id": CONTEXT}, "unknown_key": 1}
    reply = await call(http, emulator, "POST", "/v1/sessions/token", headers=KEY, json_body=body)
    data = ok(reply)
    assert set(data) == {"session_id", "session_token"}
    session_id = data["session_id"]
    assert str(uuid.UUID(session_id)) == session_id
    assert JWT.match(data["session_token"])
    session = emulator.sessions[session_id]
    assert isinstance(session, EmulatedSession)
    assert session.state == "created"
    assert session.mode is Mode.FULL
    assert session.avatar_id == AVATAR
    assert session.context_id == CONTEXT
    assert session.is_sandbox is False
    assert session.max_session_duration is None
    assert session.token == data["session_token"]
    assert session.token not in repr(session)
    assert session.token_request == body
    other_id, other_token = await create(http, emulator)
    assert other_id != session_id
    assert other_token != data["session_token"]
    assert emulator.active_sessions() == []


async def test_start_full(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """Start answers 201 with the LiveKit room and tokens, and the session becomes active."""
    session_id, token = await create(http, emulator)
    reply = await call(http, emulator, "POST", "/v1/sessions/start", headers=bearer(token))
    data = ok(reply, 201)
    assert set(data) == {
        "session_id",
        "livekit_url",
        "livekit_client_token",
        "livekit_agent_token",
        "max_session_duration",
    }
    assert data["max_session_duration"] == 3600  # the tier's default: none was asked for
    assert data["session_id"] == session_id
    assert data["livekit_url"] == "wss://livekit.emulator.invalid"
    assert JWT.match(data["livekit_client_token"])
    assert data["livekit_client_token"] != data["livekit_agent_token"]
    assert emulator.sessions[session_id].state == "started"
    assert emulator.active_sessions() == [emulator.sessions[session_id]]


async def test_start_lite_and_max_duration(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """A LITE session gets a ws_url on the emulator; a hosted-connector session gets none."""
    session_id, _, data = await start(http, emulator, mode="LITE", max_session_duration=120)
    port = emulator.base_url.rsplit(":", 1)[1]
    assert data["ws_url"] == f"ws://127.0.0.1:{port}/v1/sessions/{session_id}/ws"
    assert data["max_session_duration"] == 120
    assert emulator.sessions[session_id].mode is Mode.LITE
    # A LITE session driven by a hosted connector has no WebSocket.
    _, _, data = await start(
        http, emulator, mode="LITE", elevenlabs_agent_config={"secret_id": "s", "agent_id": "a"}
    )
    assert "ws_url" not in data


async def test_keep_alive(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """Keep-alive with the session token or the API key (any case of the id) resets the idle timer."""
    session_id, token, _ = await start(http, emulator)
    before = emulator.sessions[session_id].last_activity
    await anyio.sleep(0.01)
    reply = await call(http, emulator, "POST", "/v1/sessions/keep-alive", headers=bearer(token))
    assert ok(reply) is None
    after_bearer = emulator.sessions[session_id].last_activity
    assert after_bearer > before
    reply = await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/keep-alive",
        headers=bearer(token),
        json_body={"session_id": session_id},
    )
    assert ok(reply) is None
    await anyio.sleep(0.01)
    reply = await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/keep-alive",
        headers=KEY,
        json_body={"session_id": session_id.upper()},
    )
    assert ok(reply) is None
    assert emulator.sessions[session_id].last_activity > after_bearer


@pytest.mark.parametrize("path", ["/v1/sessions/keep-alive", "/v1/sessions/stop"])
async def test_a_null_session_id_is_refused_as_the_schema_says(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator, path: str
) -> None:
    """``session_id`` is ``type: string, format: uuid`` in the documented OpenAPI of keep-alive and
    stop, with no ``null``: ``{"session_id": null}`` is a 422 (``uuid_type``), as a server built
    from that schema answers, and the session runs on. Until now it counted as "not given" (200)."""
    session_id, token, _ = await start(http, emulator)
    reply = await call(
        http, emulator, "POST", path, headers=bearer(token), json_body={"session_id": None}
    )
    assert reply.status == 422, reply.body
    [item] = reply.body["detail"]
    assert (item["type"], item["loc"]) == ("uuid_type", ["body", "session_id"])
    assert emulator.sessions[session_id].state == "started"


async def test_an_integer_written_with_a_fraction_of_zero_is_an_integer(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """OpenAPI 3.1's (JSON Schema's) integer is a number with no fractional part: a token request
    with ``"max_session_duration": 60.0`` (what a Python client computing it as a float sends) is
    accepted as 60, as the documented schema and FastAPI both take it."""
    body = {"avatar_id": AVATAR, "max_session_duration": 60.0}
    reply = await call(http, emulator, "POST", "/v1/sessions/token", headers=KEY, json_body=body)
    session_id = ok(reply)["session_id"]
    assert emulator.sessions[session_id].max_session_duration == 60


async def test_stop(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """Stop ends the session with its reason (UNKNOWN by default, USER_CLOSED with no body); a second
    stop or keep-alive is 404."""
    session_id, token, _ = await start(http, emulator)
    reply = await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/stop",
        headers=bearer(token),
        json_body={"session_id": session_id, "reason": "USER_CLOSED"},
    )
    assert ok(reply) is None
    session = emulator.sessions[session_id]
    assert session.state == "ended"
    assert session.end_reason is EndReason.USER_CLOSED
    # An ended session is "not found" for stop and keep-alive.
    for path in ("/v1/sessions/stop", "/v1/sessions/keep-alive"):
        reply = await call(http, emulator, "POST", path, headers=bearer(token))
        assert reply.status == 404
        assert reply.body == {"message": "Session not found"}
    # Start of an ended session is a 400.
    reply = await call(http, emulator, "POST", "/v1/sessions/start", headers=bearer(token))
    assert reply.status == 400
    assert reply.body["code"] == 4000
    # With the API key and no reason: the field's default, UNKNOWN.
    other_id, _, _ = await start(http, emulator)
    reply = await call(
        http, emulator, "POST", "/v1/sessions/stop", headers=KEY, json_body={"session_id": other_id}
    )
    assert ok(reply) is None
    assert emulator.sessions[other_id].end_reason is EndReason.UNKNOWN
    # No body at all (the web SDK's stop): the OpenAPI's body default, USER_CLOSED.
    third_id, third_token, _ = await start(http, emulator)
    ok(await call(http, emulator, "POST", "/v1/sessions/stop", headers=bearer(third_token)))
    assert emulator.sessions[third_id].end_reason is EndReason.USER_CLOSED
    assert emulator.stop_reasons(third_id) == ["USER_CLOSED"]
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED", "USER_CLOSED"]
    assert emulator.stop_reasons(other_id) == ["UNKNOWN"]
    reply = await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/stop",
        headers=KEY,
        json_body={"session_id": str(uuid.uuid4())},
    )
    assert reply.status == 404


async def test_created_session_rules(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """A created session cannot keep alive, starts once, and stopped before start is historic."""
    session_id, token = await create(http, emulator)
    reply = await call(http, emulator, "POST", "/v1/sessions/keep-alive", headers=bearer(token))
    assert reply.status == 400
    assert reply.body["code"] == 4000
    reply = await call(http, emulator, "POST", "/v1/sessions/start", headers=bearer(token))
    ok(reply, 201)
    reply = await call(http, emulator, "POST", "/v1/sessions/start", headers=bearer(token))
    assert reply.status == 400
    assert reply.body == {"code": 4000, "message": "Session already started"}
    # A stop of a created (never started) session ends it; it is then listed as historic.
    created_id, created_token = await create(http, emulator)
    reply = await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/stop",
        headers=bearer(created_token),
        json_body={"reason": "USER_DISCONNECTED"},
    )
    ok(reply)
    assert emulator.sessions[created_id].state == "ended"
    reply = await call(
        http, emulator, "GET", "/v1/sessions", headers=KEY, params={"type": "historic"}
    )
    [entry] = ok(reply)["results"]
    assert entry["id"] == created_id
    assert entry["duration"] == 0
    assert entry["end_reason"] == "USER_DISCONNECTED"
    assert session_id in {s.id for s in emulator.active_sessions()}


async def test_get_entry(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """The session entry has the documented fields, end_reason once ended, 404 and 422 otherwise."""
    session_id, token, _ = await start(http, emulator, mode="LITE")
    await anyio.sleep(0.05)
    reply = await call(http, emulator, "GET", f"/v1/sessions/{session_id}", headers=KEY)
    entry = ok(reply)
    assert set(entry) == {
        "id",
        "created_at",
        "updated_at",
        "duration",
        "source",
        "mode",
        "is_sandbox",
        "credits_consumed",
    }
    assert entry["id"] == session_id
    assert entry["source"] == "API"
    assert entry["mode"] == "LITE"
    assert entry["is_sandbox"] is False
    assert entry["duration"] >= 0.05
    assert 0 < entry["credits_consumed"] < 0.1
    for key in ("created_at", "updated_at"):
        assert entry[key].endswith("+00:00")
    await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/stop",
        headers=bearer(token),
        json_body={"reason": "USER_CLOSED"},
    )
    reply = await call(http, emulator, "GET", f"/v1/sessions/{session_id}", headers=KEY)
    entry = ok(reply)
    assert entry["end_reason"] == "USER_CLOSED"
    assert entry["end_at"] >= entry["created_at"]
    reply = await call(http, emulator, "GET", f"/v1/sessions/{uuid.uuid4()}", headers=KEY)
    assert reply.status == 404
    assert reply.body == {"message": "Session not found"}
    reply = await call(http, emulator, "GET", "/v1/sessions/not-a-uuid", headers=KEY)
    assert reply.status == 422
    [item] = reply.body["detail"]
    assert item["loc"] == ["path", "session_id"]
    assert item["type"] == "uuid_parsing"
    assert item["input"] == "not-a-uuid"


async def test_transcript(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """The transcript is empty, says whether the session is active, and validates its query."""
    session_id, token, _ = await start(http, emulator)
    path = f"/v1/sessions/{session_id}/transcript"
    reply = await call(http, emulator, "GET", path, headers=KEY, params={"start_timestamp": "0"})
    assert ok(reply) == {"session_active": True, "next_timestamp": None, "transcript_data": []}
    await call(http, emulator, "POST", "/v1/sessions/stop", headers=bearer(token))
    reply = await call(http, emulator, "GET", path, headers=KEY)
    assert ok(reply)["session_active"] is False
    reply = await call(
        http, emulator, "GET", f"/v1/sessions/{uuid.uuid4()}/transcript", headers=KEY
    )
    assert reply.status == 404
    reply = await call(http, emulator, "GET", path, headers=KEY, params={"end_timestamp": "soon"})
    assert reply.status == 422
    assert reply.body["detail"][0]["loc"] == ["query", "end_timestamp"]


async def test_delete_is_405_and_keeps_session(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """DELETE of a session answers 405 with Allow: GET and leaves it running."""
    session_id, _, _ = await start(http, emulator)
    reply = await call(http, emulator, "DELETE", f"/v1/sessions/{session_id}", headers=KEY)
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET"
    assert emulator.sessions[session_id].state == "started"
    [record] = emulator.requests("delete")
    assert record.session_id == session_id
    assert record.status == 405


async def test_unknown_routes(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """Unknown paths are 404, wrong methods 405 with Allow, as Starlette routes them."""
    reply = await call(http, emulator, "GET", "/v2/nothing", headers=KEY)
    assert reply.status == 404
    assert reply.body == {"detail": "Not Found"}
    reply = await call(http, emulator, "GET", "/v1/sessions/stop", headers=KEY)
    assert reply.status == 422  # matched by GET /v1/sessions/{session_id}, as on FastAPI
    reply = await call(http, emulator, "PUT", "/v1/sessions/token", headers=KEY)
    assert reply.status == 405
    assert reply.headers["Allow"] == "POST"
    assert [r.endpoint for r in emulator.journal] == ["unknown", "get", "unknown"]


# ---- authentication ----------------------------------------------------------------------------


async def test_missing_or_wrong_credentials(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """No, a wrong or a foreign credential is 401 on every endpoint, and changes nothing."""
    session_id, token = await create(http, emulator)
    calls = [
        ("POST", "/v1/sessions/token", {"avatar_id": AVATAR}),
        ("POST", "/v1/sessions/start", None),
        ("POST", "/v1/sessions/keep-alive", {"session_id": session_id}),
        ("POST", "/v1/sessions/stop", {"session_id": session_id}),
        ("GET", "/v1/sessions?type=active", None),
        ("GET", f"/v1/sessions/{session_id}", None),
        ("GET", f"/v1/sessions/{session_id}/transcript", None),
    ]
    wrong_key = {"X-API-KEY": "nope"}
    wrong_token = bearer(token[:-4] + "AAAA")
    for method, path, body in calls:
        for headers in ({}, wrong_key, wrong_token):
            reply = await call(http, emulator, method, path, headers=headers, json_body=body)
            assert reply.status == 401, (method, path, headers)
            assert reply.body["code"] == 401
            assert isinstance(reply.body["message"], str)
    assert emulator.sessions[session_id].state == "created"
    assert len(emulator.sessions) == 1
    kinds = {r.auth for r in emulator.requests()[1:]}
    assert kinds == {None, "api_key", "bearer"}


async def test_credential_scope(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """Each endpoint takes only its documented credential; a token cannot act on another session."""
    session_id, token, _ = await start(http, emulator)
    other_id, other_token, _ = await start(http, emulator)
    # The API key cannot start a session; a session token cannot mint one nor use key-only calls.
    created_id, _ = await create(http, emulator)
    reply = await call(http, emulator, "POST", "/v1/sessions/start", headers=KEY)
    assert reply.status == 401
    reply = await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/token",
        headers=bearer(token),
        json_body={"avatar_id": AVATAR},
    )
    assert reply.status == 401
    for path in ("/v1/sessions?type=active", f"/v1/sessions/{session_id}"):
        reply = await call(http, emulator, "GET", path, headers=bearer(token))
        assert reply.status == 401
    # A session token used for another session's id.
    for path in ("/v1/sessions/keep-alive", "/v1/sessions/stop"):
        reply = await call(
            http, emulator, "POST", path, headers=bearer(token), json_body={"session_id": other_id}
        )
        assert reply.status == 401
    assert emulator.sessions[other_id].state == "started"
    assert emulator.sessions[created_id].state == "created"
    # The API key needs a session id on keep-alive and stop.
    for path in ("/v1/sessions/keep-alive", "/v1/sessions/stop"):
        reply = await call(http, emulator, "POST", path, headers=KEY, json_body={})
        assert reply.status == 422
        assert reply.body["detail"][0]["loc"] == ["body", "session_id"]
        assert reply.body["detail"][0]["type"] == "missing"
    # The token still works for its own session.
    reply = await call(http, emulator, "POST", "/v1/sessions/stop", headers=bearer(other_token))
    ok(reply)


# ---- validation --------------------------------------------------------------------------------


_TOO_MANY = {f"k{i}": "v" for i in range(51)}
ROOM = {"livekit_url": "wss://mine.example", "livekit_room": "r", "livekit_client_token": "t"}
AGORA = {"agora_app_id": "a", "agora_token": "t", "agora_channel": "c", "agora_uid": 7}
REALTIME = {"secret_id": "s", "voice": "alloy"}
_INVALID_TOKEN_BODIES: list[tuple[dict[str, Any], str, list[str | int]]] = [
    ({}, "missing", ["body", "avatar_id"]),
    ({"avatar_id": "nope"}, "uuid_parsing", ["body", "avatar_id"]),
    ({"avatar_id": 42}, "uuid_type", ["body", "avatar_id"]),
    ({"mode": "CUSTOM"}, "enum", ["body", "mode"]),
    ({"is_sandbox": "yes"}, "bool_type", ["body", "is_sandbox"]),
    ({"video_settings": {"quality": "ultra"}}, "enum", ["body", "video_settings", "quality"]),
    ({"video_settings": {"encoding": "AV1"}}, "enum", ["body", "video_settings", "encoding"]),
    ({"video_settings": "high"}, "model_type", ["body", "video_settings"]),
    ({"max_session_duration": 0}, "greater_than", ["body", "max_session_duration"]),
    ({"max_session_duration": "60"}, "int_type", ["body", "max_session_duration"]),
    ({"max_session_duration": 1.5}, "int_from_float", ["body", "max_session_duration"]),
    # No documented field is nullable (OpenAPI 3.1 would say `anyOf [..., {type: 'null'}]`).
    ({"max_session_duration": None}, "int_type", ["body", "max_session_duration"]),
    ({"is_sandbox": None}, "bool_type", ["body", "is_sandbox"]),
    ({"mode": None}, "enum", ["body", "mode"]),
    ({"avatar_persona": {"voice_id": "x"}}, "uuid_parsing", ["body", "avatar_persona", "voice_id"]),
    ({"avatar_persona": {"language": 1}}, "string_type", ["body", "avatar_persona", "language"]),
    (
        {"avatar_persona": {"voice_settings": {"provider": "azure"}}},
        "union_tag_invalid",
        ["body", "avatar_persona", "voice_settings"],
    ),
    (
        {"avatar_persona": {"voice_settings": {"speed": 1.0}}},
        "union_tag_not_found",
        ["body", "avatar_persona", "voice_settings"],
    ),
    (
        {"avatar_persona": {"voice_settings": {"provider": "elevenLabs", "speed": 2}}},
        "less_than_equal",
        ["body", "avatar_persona", "voice_settings", "elevenLabs", "speed"],
    ),
    (
        {"avatar_persona": {"voice_settings": {"provider": "fish", "model": "s9"}}},
        "enum",
        ["body", "avatar_persona", "voice_settings", "fish", "model"],
    ),
    (
        {"avatar_persona": {"stt_config": {"provider": "whisper"}}},
        "enum",
        ["body", "avatar_persona", "stt_config", "provider"],
    ),
    ({"voice_agent": {}}, "missing", ["body", "voice_agent", "id"]),
    (
        {"avatar_persona": {}, "voice_agent": {"id": AVATAR}},
        "value_error",
        ["body"],
    ),
    ({"interactivity_type": "PTT"}, "enum", ["body", "interactivity_type"]),
    ({"llm_configuration_id": "x"}, "uuid_parsing", ["body", "llm_configuration_id"]),
    ({"dynamic_variables": ["a"]}, "dict_type", ["body", "dynamic_variables"]),
    ({"dynamic_variables": _TOO_MANY}, "too_long", ["body", "dynamic_variables"]),
    (
        {"dynamic_variables": {"k" * 65: "v"}},
        "string_too_long",
        ["body", "dynamic_variables", "k" * 65, "[key]"],
    ),
    (
        {"dynamic_variables": {"k": "v" * 1001}},
        "string_too_long",
        ["body", "dynamic_variables", "k"],
    ),
    ({"dynamic_variables": {"k": 1}}, "string_type", ["body", "dynamic_variables", "k"]),
    ({"memory": {"prev_session_id": "x"}}, "uuid_parsing", ["body", "memory", "prev_session_id"]),
    ({"livekit_config": "x"}, "model_type", ["body", "livekit_config"]),
    ({"mode": "LITE", "livekit_config": ROOM, "agora_config": AGORA}, "value_error", ["body"]),
    # Connector configs (issue 15, item 6): required fields and temperature ranges.
    (
        {"livekit_config": {"livekit_url": "u", "livekit_room": "r"}},
        "missing",
        ["body", "livekit_config", "livekit_client_token"],
    ),
    (
        {"livekit_config": {**ROOM, "livekit_room": 5}},
        "string_type",
        ["body", "livekit_config", "livekit_room"],
    ),
    (
        {"agora_config": {**AGORA, "agora_uid": None}},
        "string_type",
        ["body", "agora_config", "agora_uid"],
    ),
    (
        {"elevenlabs_agent_config": {"secret_id": "s"}},
        "missing",
        ["body", "elevenlabs_agent_config", "agent_id"],
    ),
    (
        {"openai_realtime_config": {"secret_id": "s"}},
        "missing",
        ["body", "openai_realtime_config", "voice"],
    ),
    (
        {"openai_realtime_config": {**REALTIME, "temperature": 0.5}},
        "greater_than_equal",
        ["body", "openai_realtime_config", "temperature"],
    ),
    (
        {"openai_realtime_config": {**REALTIME, "temperature": 1.3}},
        "less_than_equal",
        ["body", "openai_realtime_config", "temperature"],
    ),
    (
        {"gemini_realtime_config": {**REALTIME, "temperature": -0.1}},
        "greater_than_equal",
        ["body", "gemini_realtime_config", "temperature"],
    ),
    (
        {"gemini_realtime_config": {**REALTIME, "temperature": 2.1}},
        "less_than_equal",
        ["body", "gemini_realtime_config", "temperature"],
    ),
    (
        {"gemini_realtime_config": {**REALTIME, "context_id": "c"}},
        "uuid_parsing",
        ["body", "gemini_realtime_config", "context_id"],
    ),
]


@pytest.mark.parametrize(("extra", "error_type", "loc"), _INVALID_TOKEN_BODIES)
async def test_token_body_validation(
    http: aiohttp.ClientSession,
    emulator: LiveAvatarEmulator,
    extra: dict[str, Any],
    error_type: str,
    loc: list[str | int],
) -> None:
    """Each invalid token body is one 422 item of the right type and loc, and no session."""
    body = {"avatar_id": AVATAR, **extra} if extra else {}
    reply = await call(http, emulator, "POST", "/v1/sessions/token", headers=KEY, json_body=body)
    assert reply.status == 422, reply.body
    [item] = reply.body["detail"]
    assert item["type"] == error_type
    assert item["loc"] == loc
    assert isinstance(item["msg"], str)
    assert "input" in item
    assert emulator.sessions == {}


async def test_token_body_accepts_a_full_request(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """A token body using every documented field is accepted."""
    body = {
        "avatar_id": AVATAR,
        "mode": "FULL",
        "is_sandbox": False,
        "video_settings": {"quality": "very_high", "encoding": "VP8"},
        "max_session_duration": 600,
        "avatar_persona": {
            "voice_id": str(uuid.uuid4()),
            "context_id": CONTEXT,
            "language": "en",
            "voice_settings": {
                "provider": "elevenLabs",
                "speed": 1.1,
                "model": "eleven_flash_v2_5",
            },
            "stt_config": {"provider": "deepgram"},
        },
        "interactivity_type": "PUSH_TO_TALK",
        "llm_configuration_id": str(uuid.uuid4()),
        "dynamic_variables": {"name": "Ada"},
        "memory": {"prev_session_id": str(uuid.uuid4())},
    }
    reply = await call(http, emulator, "POST", "/v1/sessions/token", headers=KEY, json_body=body)
    session_id = ok(reply)["session_id"]
    assert emulator.sessions[session_id].max_session_duration == 600


async def test_body_shapes(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """Bad JSON (white space alone included), no body, a non-object body and a body over 1 MiB are
    refused as FastAPI would."""
    path = "/v1/sessions/token"
    reply = await call(http, emulator, "POST", path, headers=KEY, data=b"{not json")
    assert reply.status == 422
    [item] = reply.body["detail"]
    assert item["type"] == "json_invalid"
    assert item["loc"] == ["body", 1]
    reply = await call(http, emulator, "POST", path, headers=KEY)
    assert reply.status == 422
    assert reply.body["detail"][0]["type"] == "missing"
    assert reply.body["detail"][0]["loc"] == ["body"]
    reply = await call(http, emulator, "POST", path, headers=KEY, json_body=[AVATAR])
    assert reply.status == 422
    assert reply.body["detail"][0]["type"] == "model_attributes_type"
    url = emulator.base_url + path
    async with http.post(url, headers=KEY, data=io.BytesIO(b" " * (1 << 20 | 1))) as response:
        assert response.status == 413
    assert emulator.journal[-1].status == 413
    # keep-alive and stop validate their (optional) body too.
    session_id, token, _ = await start(http, emulator)
    reply = await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/stop",
        headers=bearer(token),
        json_body={"reason": "BORED"},
    )
    assert reply.status == 422
    [item] = reply.body["detail"]
    assert item["type"] == "enum"
    assert item["loc"] == ["body", "reason"]
    assert item["input"] == "BORED"
    assert "'AGENT_HANG_UP'" in item["msg"]
    reply = await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/keep-alive",
        headers=KEY,
        json_body={"session_id": "abc"},
    )
    assert reply.status == 422
    assert reply.body["detail"][0]["loc"] == ["body", "session_id"]
    reply = await call(
        http, emulator, "POST", "/v1/sessions/stop", headers=bearer(token), data=b"]"
    )
    assert reply.status == 422
    assert emulator.sessions[session_id].state == "started"
    [record] = emulator.requests("stop", session_id=session_id)[-1:]
    assert record.body is None
    assert record.raw_body == "]"
    # A body of white space is a body (FastAPI reads any non-empty one), and not JSON: not the
    # absent body whose defaults would stop the session.
    reply = await call(
        http, emulator, "POST", "/v1/sessions/stop", headers=bearer(token), data=b" \n"
    )
    assert reply.status == 422
    [item] = reply.body["detail"]
    assert (item["type"], item["loc"]) == ("json_invalid", ["body", 2])
    assert emulator.sessions[session_id].state == "started"


# ---- timers ------------------------------------------------------------------------------------


async def test_idle_timeout(http: aiohttp.ClientSession) -> None:
    """A started session with no keep-alive ends with IDLE_TIMEOUT; a kept one runs on."""
    async with LiveAvatarEmulator(API_KEY, idle_timeout=0.3) as emulator:
        idle_id, _, _ = await start(http, emulator)
        kept_id, kept_token, _ = await start(http, emulator)
        with anyio.fail_after(5):
            while emulator.sessions[idle_id].state != "ended":
                await call(
                    http, emulator, "POST", "/v1/sessions/keep-alive", headers=bearer(kept_token)
                )
                await anyio.sleep(0.03)
        # No request about idle_id: the reaper ended it, as of its deadline.
        idle = emulator.sessions[idle_id]
        assert idle.end_reason is EndReason.IDLE_TIMEOUT
        assert idle.duration == pytest.approx(0.3, abs=0.001)
        assert emulator.sessions[kept_id].state == "started"
        reply = await call(http, emulator, "GET", f"/v1/sessions/{idle_id}", headers=KEY)
        assert ok(reply)["end_reason"] == "IDLE_TIMEOUT"
        assert [s.id for s in emulator.active_sessions()] == [kept_id]


async def test_max_duration(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """A session ends with MAX_DURATION_REACHED exactly at its max_session_duration."""
    session_id, token, data = await start(http, emulator, max_session_duration=1)
    assert data["max_session_duration"] == 1
    await wait_until(lambda: not emulator.active_sessions())  # enforces timers
    session = emulator.sessions[session_id]
    assert session.state == "ended"
    assert session.end_reason is EndReason.MAX_DURATION_REACHED
    assert session.duration == pytest.approx(1.0, abs=0.001)  # not a moment early or late
    reply = await call(http, emulator, "POST", "/v1/sessions/keep-alive", headers=bearer(token))
    assert reply.status == 404


async def test_sandbox_cap(http: aiohttp.ClientSession) -> None:
    """Sandbox sessions are capped at sandbox_max_duration and cost no credits."""
    async with LiveAvatarEmulator(API_KEY, sandbox_max_duration=0.3) as emulator:
        capped_id, _, data = await start(http, emulator, is_sandbox=True, max_session_duration=5)
        assert data["max_session_duration"] == 0.3
        plain_id, _, data = await start(http, emulator, is_sandbox=True)
        assert data["max_session_duration"] == 0.3
        await wait_until(lambda: not emulator.active_sessions())
        for session_id in (capped_id, plain_id):
            session = emulator.sessions[session_id]
            assert session.end_reason is EndReason.MAX_DURATION_REACHED
            reply = await call(http, emulator, "GET", f"/v1/sessions/{session_id}", headers=KEY)
            entry = ok(reply)
            assert entry["is_sandbox"] is True
            assert entry["credits_consumed"] == 0


# ---- listing -----------------------------------------------------------------------------------


async def test_list_paging_and_filters(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """The list pages newest first with next/previous links and filters by avatar and context."""
    ids = []
    for index in range(5):
        persona = {"context_id": CONTEXT} if index < 2 else {}
        avatar = OTHER_AVATAR if index < 2 else AVATAR
        session_id, _ = await create(http, emulator, avatar_id=avatar, avatar_persona=persona)
        token = emulator.sessions[session_id].token
        await call(http, emulator, "POST", "/v1/sessions/start", headers=bearer(token))
        ids.append(session_id)
    await create(http, emulator)  # created, not started: neither active nor historic

    async def page(**params: str) -> Any:
        reply = await call(http, emulator, "GET", "/v1/sessions", headers=KEY, params=params)
        return ok(reply)

    first = await page(type="active", page_size="2")
    assert first["count"] == 5
    assert [e["id"] for e in first["results"]] == ids[::-1][:2]  # newest first
    assert first["previous"] is None
    assert first["next"] == emulator.base_url + "/v1/sessions?type=active&page=2&page_size=2"
    reply = await call(
        http, emulator, "GET", first["next"].removeprefix(emulator.base_url), headers=KEY
    )
    second = ok(reply)
    assert [e["id"] for e in second["results"]] == ids[::-1][2:4]
    assert second["previous"] == emulator.base_url + "/v1/sessions?type=active&page=1&page_size=2"
    last = await page(type="active", page="3", page_size="2")
    assert [e["id"] for e in last["results"]] == [ids[0]]
    assert last["next"] is None
    assert (await page(type="active", page="9"))["results"] == []

    by_avatar = await page(type="active", avatar_id=OTHER_AVATAR)
    assert {e["id"] for e in by_avatar["results"]} == set(ids[:2])
    by_context = await page(type="active", context_id=CONTEXT, page_size="1")
    assert by_context["count"] == 2
    assert by_context["next"] == (
        f"{emulator.base_url}/v1/sessions?type=active&context_id={CONTEXT}&page=2&page_size=1"
    )
    assert (await page(type="active", embed_id="embed"))["count"] == 0
    assert (await page(type="historic"))["count"] == 0

    emulator.end_session(ids[0], EndReason.USER_CLOSED)
    historic = await page(type="historic")
    [entry] = historic["results"]
    assert entry["id"] == ids[0]
    assert entry["end_reason"] == "USER_CLOSED"
    assert "end_at" in entry
    assert (await page(type="active"))["count"] == 4


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({}, ["query", "type"]),
        ({"type": "all"}, ["query", "type"]),
        ({"type": "active", "page_size": "0"}, ["query", "page_size"]),
        ({"type": "active", "page_size": "101"}, ["query", "page_size"]),
        ({"type": "active", "page": "0"}, ["query", "page"]),
        ({"type": "active", "page": "one"}, ["query", "page"]),
        ({"type": "active", "avatar_id": "x"}, ["query", "avatar_id"]),
    ],
)
async def test_list_validation(
    http: aiohttp.ClientSession,
    emulator: LiveAvatarEmulator,
    params: dict[str, str],
    loc: list[str],
) -> None:
    """Bad list queries are 422 items naming the query parameter."""
    reply = await call(http, emulator, "GET", "/v1/sessions", headers=KEY, params=params)
    assert reply.status == 422
    [item] = reply.body["detail"]
    assert item["loc"] == loc


# ---- server-side end ---------------------------------------------------------------------------


async def test_end_session(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """end_session ends a session server side once (ZOMBIE_SESSION_REAP by default)."""
    session_id, token, _ = await start(http, emulator)
    emulator.end_session(session_id)
    assert emulator.sessions[session_id].end_reason is EndReason.ZOMBIE_SESSION_REAP
    emulator.end_session(session_id, EndReason.USER_CLOSED)  # already ended: no change
    assert emulator.sessions[session_id].end_reason is EndReason.ZOMBIE_SESSION_REAP
    reply = await call(http, emulator, "POST", "/v1/sessions/keep-alive", headers=bearer(token))
    assert reply.status == 404
    with pytest.raises(KeyError):
        emulator.end_session(str(uuid.uuid4()))


# ---- journal -----------------------------------------------------------------------------------


async def test_journal(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """The journal records method, path, endpoint, credential kind, body, query and session, no secret."""
    session_id, token, _ = await start(http, emulator)
    await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/keep-alive",
        headers=KEY,
        json_body={"session_id": session_id},
    )
    await call(
        http, emulator, "GET", "/v1/sessions", headers=KEY, params={"type": "active", "page": "1"}
    )
    await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/stop",
        headers=bearer(token),
        json_body={"reason": "AGENT_HANG_UP"},
    )
    journal = emulator.journal
    assert all(isinstance(r, RecordedRequest) for r in journal)
    assert [(r.method, r.path, r.endpoint, r.auth, r.status) for r in journal] == [
        ("POST", "/v1/sessions/token", "token", "api_key", 200),
        ("POST", "/v1/sessions/start", "start", "bearer", 201),
        ("POST", "/v1/sessions/keep-alive", "keep_alive", "api_key", 200),
        ("GET", "/v1/sessions", "list", "api_key", 200),
        ("POST", "/v1/sessions/stop", "stop", "bearer", 200),
    ]
    assert [r.session_id for r in journal] == [session_id] * 3 + [None, session_id]
    assert journal[0].body == {"avatar_id": AVATAR}
    assert journal[1].body == {}
    assert journal[3].query == {"type": "active", "page": "1"}
    assert journal[3].body is None
    assert not any(r.fault for r in journal)
    assert [r.at for r in journal] == sorted(r.at for r in journal)
    assert emulator.requests(session_id=session_id) == [journal[i] for i in (0, 1, 2, 4)]
    assert emulator.requests("stop") == [journal[4]]
    assert emulator.stop_reasons(session_id) == ["AGENT_HANG_UP"]
    assert API_KEY not in repr(journal)
    assert token not in repr(journal)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        journal[0].status = 500  # type: ignore[misc]


# ---- what the account allows (issue 15, items 5, 6, 8, 9) ------------------------------------------------


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded as the web SDK decodes it."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.parametrize(
    ("extra", "mode", "agent_type"),
    [
        ({}, "FULL", "FULL"),
        ({"mode": "LITE"}, "LITE", "FULL"),
        ({"mode": "LITE", "livekit_config": ROOM}, "LITE", "FULL"),
        (
            {"mode": "LITE", "elevenlabs_agent_config": {"secret_id": "s", "agent_id": "a"}},
            "LITE",
            "ELEVENLABS_AGENT",
        ),
        ({"mode": "LITE", "openai_realtime_config": REALTIME}, "LITE", "OPENAI_REALTIME"),
        ({"mode": "LITE", "gemini_realtime_config": REALTIME}, "LITE", "GEMINI_REALTIME"),
    ],
)
async def test_session_token_carries_the_start_data_claims(
    http: aiohttp.ClientSession,
    emulator: LiveAvatarEmulator,
    extra: dict[str, Any],
    mode: str,
    agent_type: str,
) -> None:
    """The session token's claims hold start_session_data: the mode, the connector configs and the
    agent_type, which the web SDK reads to tell LITE from FULL."""
    session_id, token = await create(http, emulator, **extra)
    payload = claims(token)
    assert payload["session_id"] == session_id
    data = payload["start_session_data"]
    assert (data["mode"], data["agent_type"]) == (mode, agent_type)
    connectors = {key: config for key, config in extra.items() if key.endswith("_config")}
    assert data == {"mode": mode, "agent_type": agent_type, **connectors}  # nothing more


async def test_the_sandbox_serves_one_avatar(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """A sandbox session with another avatar is 400 {code, message} and creates nothing; the sandbox
    avatar, or any avatar outside the sandbox, is fine."""
    body = {"avatar_id": OTHER_AVATAR, "is_sandbox": True}
    reply = await call(http, emulator, "POST", "/v1/sessions/token", headers=KEY, json_body=body)
    assert reply.status == 400
    assert reply.body["code"] == 4000
    assert AVATAR in reply.body["message"]
    assert emulator.sessions == {}
    assert emulator.SANDBOX_AVATAR_ID == AVATAR
    await create(http, emulator, is_sandbox=True)
    await create(http, emulator, avatar_id=OTHER_AVATAR)
    assert len(emulator.sessions) == 2


async def test_memory_ids_must_resolve_to_the_same_memory(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """prev_session_id alone reuses the prior session's memory; with session_memory_id both must name
    the same memory, else 400."""
    memory = str(uuid.uuid4())
    first, _ = await create(http, emulator, memory={"session_memory_id": memory})
    second, _ = await create(http, emulator, memory={"prev_session_id": first})
    assert emulator.sessions[first].memory_id == emulator.sessions[second].memory_id == memory
    both = {"prev_session_id": first, "session_memory_id": memory.upper()}
    third, _ = await create(http, emulator, memory=both)
    assert emulator.sessions[third].memory_id == memory
    for other in (
        {"prev_session_id": first, "session_memory_id": str(uuid.uuid4())},
        {"prev_session_id": str(uuid.uuid4()), "session_memory_id": memory},
    ):
        reply = await call(
            http,
            emulator,
            "POST",
            "/v1/sessions/token",
            headers=KEY,
            json_body={"avatar_id": AVATAR, "memory": other},
        )
        assert reply.status == 400
        assert reply.body == {
            "code": 4000,
            "message": "prev_session_id and session_memory_id do not resolve to the same memory",
        }
    assert len(emulator.sessions) == 3


async def test_the_tier_caps_and_supplies_max_session_duration(http: aiohttp.ClientSession) -> None:
    """Outside the sandbox a session that asks for no duration gets the tier's, announced at start;
    asking for more than the tier allows is 400."""
    async with LiveAvatarEmulator(API_KEY, tier_max_session_duration=1200) as emulator:
        assert emulator.tier_max_session_duration == 1200
        session_id, _, data = await start(http, emulator)
        assert data["max_session_duration"] == 1200
        assert emulator.sessions[session_id].duration_limit == 1200
        _, _, data = await start(http, emulator, max_session_duration=1200)
        assert data["max_session_duration"] == 1200
        body = {"avatar_id": AVATAR, "max_session_duration": 1201}
        reply = await call(
            http, emulator, "POST", "/v1/sessions/token", headers=KEY, json_body=body
        )
        assert reply.status == 400
        assert "1200" in reply.body["message"]
        _, _, data = await start(http, emulator, is_sandbox=True)  # the sandbox has its own cap
        assert data["max_session_duration"] == 60


async def test_a_lite_session_in_its_own_room_gets_that_room(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """With livekit_config a LITE session starts in the caller's room (its livekit_url) and still has a
    ws_url; a FULL request's livekit_config is not for it."""
    _, _, data = await start(http, emulator, mode="LITE", livekit_config=ROOM)
    assert data["livekit_url"] == ROOM["livekit_url"]
    assert data["ws_url"].startswith("ws://127.0.0.1:")
    _, _, data = await start(http, emulator, livekit_config=ROOM)
    assert data["livekit_url"] == "wss://livekit.emulator.invalid"


# ---- the account's resources and credits ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key_needed"),
    [
        ("/v1/avatars", True),
        ("/v1/avatars/public", False),
        ("/v1/voices", True),
        ("/v1/contexts", True),
        ("/v1/llm-configurations", True),
        ("/v1/secrets", True),
        ("/v1/memory", True),
        ("/v1/languages", False),
        ("/v1/users/credits", True),
    ],
)
async def test_resource_reads_need_the_api_key_but_two(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator, path: str, key_needed: bool
) -> None:
    """Every account read answers 401 without the key (or with a session token) except the public
    avatars and the languages; with the key every one answers in the envelope."""
    bare = await call(http, emulator, "GET", path)
    if key_needed:
        assert bare.status == 401
        assert bare.body == {"code": 401, "message": "Missing API key"}
        assert (
            await call(http, emulator, "GET", path, headers={"X-API-KEY": "wrong"})
        ).status == 401
    else:
        ok(bare)
    ok(await call(http, emulator, "GET", path, headers=KEY))
    assert emulator.requests()[-1].auth == "api_key"


async def test_resource_lists_page_with_links(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """The account's avatars page like the sessions: count, next and previous keeping the filters,
    a page past the end empty, page_size above 100 a 422."""
    for index in range(4):
        emulator.add_avatar(f"A{index}")
    first = ok(
        await call(http, emulator, "GET", "/v1/avatars", headers=KEY, params={"page_size": "2"})
    )
    assert (first["count"], len(first["results"]), first["previous"]) == (5, 2, None)
    assert first["next"] == emulator.base_url + "/v1/avatars?page=2&page_size=2"
    second = ok(
        await call(
            http, emulator, "GET", first["next"].removeprefix(emulator.base_url), headers=KEY
        )
    )
    assert second["previous"] == emulator.base_url + "/v1/avatars?page=1&page_size=2"
    past = ok(await call(http, emulator, "GET", "/v1/avatars", headers=KEY, params={"page": "9"}))
    assert past["results"] == []
    refused = await call(
        http, emulator, "GET", "/v1/avatars", headers=KEY, params={"page_size": "101"}
    )
    assert refused.status == 422
    assert refused.body["detail"][0]["loc"] == ["query", "page_size"]
    voices = await call(
        http, emulator, "GET", "/v1/voices", headers=KEY, params={"voice_type": "x"}
    )
    assert voices.status == 422


async def test_resource_creates_validate_like_fastapi(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """A create missing a field or with a wrong type is 422 naming it; a secret's value is never
    echoed in a 422, nor answered by a create or a list."""
    missing = await call(
        http, emulator, "POST", "/v1/contexts", headers=KEY, json_body={"name": "n"}
    )
    assert missing.status == 422
    assert {tuple(d["loc"]) for d in missing.body["detail"]} == {
        ("body", "prompt"),
        ("body", "opening_text"),
    }
    value = "sk-emulator-never-echoed-0001"
    bad = await call(
        http,
        emulator,
        "POST",
        "/v1/secrets",
        headers=KEY,
        json_body={"secret_name": 3, "secret_value": value, "secret_type": "NOPE"},
    )
    assert bad.status == 422
    assert value.encode() not in bad.raw
    made = await call(
        http,
        emulator,
        "POST",
        "/v1/secrets",
        headers=KEY,
        json_body={"secret_name": "n", "secret_value": value, "secret_type": "OPENAI_API_KEY"},
    )
    listed = await call(http, emulator, "GET", "/v1/secrets", headers=KEY)
    assert value.encode() not in made.raw + listed.raw
    assert ok(listed)[0]["secret_name"] == "n"
    assert emulator.resources("secrets")[0]["secret_value"] == value


async def test_memory_delete_is_204_without_a_body(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """Deleting a memory answers 204 with an empty body (no envelope); again, 404."""
    session_id, _ = await create(http, emulator)
    memory = ok(
        await call(
            http, emulator, "POST", "/v1/memory", headers=KEY, json_body={"session_id": session_id}
        )
    )
    gone = await call(http, emulator, "DELETE", f"/v1/memory/{memory['id']}", headers=KEY)
    assert (gone.status, gone.raw) == (204, b"")
    again = await call(http, emulator, "DELETE", f"/v1/memory/{memory['id']}", headers=KEY)
    assert (again.status, again.body) == (404, {"message": "Memory not found"})


async def test_wrong_method_on_a_resource_is_405_with_allow(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """A known resource path with a method it does not take is 405 with ``Allow``, journaled as
    ``unknown``."""
    reply = await call(http, emulator, "GET", f"/v1/secrets/{CONTEXT}", headers=KEY)
    assert (reply.status, reply.headers["Allow"]) == (405, "DELETE")
    assert emulator.journal[-1].endpoint == "unknown"


async def test_credits_are_drawn_down_per_minute_by_mode(
    http: aiohttp.ClientSession,
) -> None:
    """A FULL session costs 2 credits a minute and a LITE one 1, pro rata; a sandbox one nothing:
    after the same time, the FULL session's share is twice the LITE one's."""
    async with LiveAvatarEmulator(api_key=API_KEY, credits=100) as emulator:
        full, _, _ = await start(http, emulator, avatar_id=OTHER_AVATAR)
        lite, _, _ = await start(http, emulator, avatar_id=OTHER_AVATAR, mode="LITE")
        await start(http, emulator, is_sandbox=True)
        await anyio.sleep(0.2)
        for session_id in (full, lite):
            await call(
                http,
                emulator,
                "POST",
                "/v1/sessions/stop",
                headers=KEY,
                json_body={"session_id": session_id},
            )
        used = {s: emulator.sessions[s].credits_at(0) for s in (full, lite)}
        assert used[full] == pytest.approx(2 * used[lite], rel=0.05)
        balance = ok(await call(http, emulator, "GET", "/v1/users/credits", headers=KEY))
        assert isinstance(balance["credits_left"], str)
        assert float(balance["credits_left"]) == pytest.approx(
            100 - used[full] - used[lite], abs=1e-3
        )


async def test_a_start_the_balance_cannot_pay_a_minute_of_is_refused(
    http: aiohttp.ClientSession,
) -> None:
    """With 1.5 credits a FULL start (2 a minute) is 400 and starts nothing; a LITE one (1) starts."""
    async with LiveAvatarEmulator(api_key=API_KEY, credits="1.5") as emulator:
        _, token = await create(http, emulator, avatar_id=OTHER_AVATAR)
        refused = await call(http, emulator, "POST", "/v1/sessions/start", headers=bearer(token))
        assert refused.status == 400
        assert refused.body["code"] == 4000
        assert "Insufficient credits" in refused.body["message"]
        assert emulator.active_sessions() == []
        await start(http, emulator, avatar_id=OTHER_AVATAR, mode="LITE")
        await start(http, emulator, is_sandbox=True)  # the sandbox is free


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain; charset=utf-8", 422),
        ("application/x-www-form-urlencoded", 422),
        ("application/json; charset=utf-8", 200),
        ("application/vnd.api+json", 200),
        ("", 200),  # empty: FastAPI reads JSON, as without one
        (None, 200),
    ],
)
async def test_a_json_body_is_read_only_under_a_json_content_type(
    emulator: LiveAvatarEmulator, content_type: str | None, status: int
) -> None:
    """As FastAPI reads a body: as JSON without a ``Content-Type`` or with a JSON one; under any
    other (the ``text/plain`` aiohttp gives ``data=json.dumps(...)``) a body model refuses the text,
    422 ``model_attributes_type``, and nothing is created."""
    raw = json.dumps({"avatar_id": AVATAR}).encode()
    headers = dict(KEY)
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with (
        aiohttp.ClientSession(skip_auto_headers=["Content-Type"]) as http,
        http.post(emulator.base_url + "/v1/sessions/token", headers=headers, data=raw) as response,
    ):
        assert response.status == status
        answer = await response.json()
    if status == 422:
        [item] = answer["detail"]
        assert (item["type"], item["loc"]) == ("model_attributes_type", ["body"])
        assert emulator.sessions == {}
    else:
        assert answer["data"]["session_id"] in emulator.sessions
