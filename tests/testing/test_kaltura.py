"""The Kaltura emulator over real sockets: the rules it enforces beyond what the SDK's client sends."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from aioavatar import KalturaAvatarClient, NotFoundError, Secret, ServerError
from aioavatar._protocol import encode_multipart
from aioavatar.testing import KalturaEmulator

from ..providers import KALTURA_AVATAR_ID, KS

pytestmark = pytest.mark.anyio

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8


async def open_session(client: KalturaAvatarClient) -> tuple[str, Secret]:
    """Create a session through the SDK; return its id and token."""
    created = await client.create_session(KALTURA_AVATAR_ID)
    return created.session_id, created.token


async def post(
    http: aiohttp.ClientSession,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    """POST ``body`` as JSON; return the status and the parsed answer."""
    data = json.dumps(body).encode() if body is not None else None
    async with http.post(url, headers=headers, data=data) as response:
        return response.status, json.loads(await response.read())


async def test_emulator_accepts_both_documented_create_shapes(
    kaltura_emulator: KalturaEmulator,
) -> None:
    """The docs' /v1/avatar-session and visualConfig.avatarId work too; a body without an avatar
    is 400; unknown routes are 404 with an error body."""
    base = kaltura_emulator.base_url
    ks = {"Authorization": f"KS {KS}"}
    async with aiohttp.ClientSession() as http:
        status, body = await post(
            http, f"{base}/avatar-session", headers=ks, body={"visualConfig": {"avatarId": "a"}}
        )
        assert status == 200
        assert body["success"] is True
        assert set(body) == {"success", "sessionId", "token"}
        status, body = await post(http, f"{base}/avatar-session/create", headers=ks, body={})
        assert (status, body) == (400, {"success": False, "error": "visualConfig.id is required"})
        status, body = await post(
            http,
            f"{base}/avatar-session/create",
            headers=ks,
            body={"visualConfig": {"id": "a"}, "voiceConfig": {"speed": 1}},
        )
        assert (status, body["error"]) == (400, "voiceConfig.id is required")
        status, body = await post(http, f"{base}/avatar-session/list", headers=ks)
        assert (status, body["success"]) == (404, False)
        async with http.get(f"{base}/avatar-session/create", headers=ks) as response:
            assert response.status == 404
    assert [r.endpoint for r in kaltura_emulator.journal] == [
        "create",
        "create",
        "create",
        "unknown",
        "unknown",
    ]


async def test_emulator_checks_speech_bodies(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """say-text without text is 400 "Text is required"; say-audio needs a form with an audio file
    and a positive duration; an empty keep-alive body counts as {}."""
    sid, token = await open_session(kaltura_client)
    base = f"{kaltura_emulator.base_url}/avatar-session/{sid}"
    bearer = {"Authorization": f"Bearer {token.get_secret_value()}"}
    async with aiohttp.ClientSession() as http:
        status, body = await post(
            http, f"{base}/say-text", headers=bearer, body={"turnId": "t", "isFinal": True}
        )
        assert (status, body["error"]) == (400, "Text is required")
        status, body = await post(http, f"{base}/say-audio", headers=bearer, body={"turnId": "t"})
        assert status == 400
        form, content_type = encode_multipart(
            {"turnId": "t", "duration": "0"}, {"audio": ("a.mp3", "audio/mpeg", MP3)}
        )
        async with http.post(
            f"{base}/say-audio", headers={**bearer, "Content-Type": content_type}, data=form
        ) as r:
            assert r.status == 400
        async with http.post(f"{base}/keep-alive", headers=bearer) as r:
            assert r.status == 200
    assert kaltura_emulator.sessions[sid].turns == []


async def test_emulator_injected_error_body_and_server_side_end(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """An injected status answers Kaltura's error shape; end_session ends it like the platform."""
    sid, token = await open_session(kaltura_client)
    kaltura_emulator.inject("interrupt", status=500, times=3)  # every attempt
    with pytest.raises(ServerError, match="injected fault"):
        await kaltura_client.interrupt(sid, token=token, timeout=5)
    kaltura_emulator.end_session(sid)
    with pytest.raises(NotFoundError):
        await kaltura_client.interrupt(sid, token=token)
    assert kaltura_emulator.sessions[sid].ended_by == "server"
    assert kaltura_emulator.active_sessions() == []
    with pytest.raises(ValueError, match="unknown endpoint"):
        kaltura_emulator.inject("stop", status=500)
