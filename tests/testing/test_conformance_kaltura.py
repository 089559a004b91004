"""What Kaltura Avatar clients send, replayed request for request against the emulator, asserting what
the real API answers (the reference), so that the emulator cannot drift back.

Kaltura's own JavaScript SDK is on neither registry this project can reach, so its requests are written
from the reference (its create body, the documentation's variants, the keep-alive it sends, the catalog
list) rather than recorded; the raw requests against each documented rule are the reference's own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp
import pytest

from aioavatar._request import encode_multipart
from aioavatar.testing import KalturaEmulator

from ..providers import KS

pytestmark = pytest.mark.anyio

#: Kaltura's SDK names the avatar by its 24-hex catalog id under visualConfig.id.
SDK_CREATE: Final[dict[str, dict[str, Any]]] = {"visualConfig": {"id": "65f1a2b3c4d5e6f708192a3b"}}
#: The documentation's create body: visualConfig.avatarId and a voice with a speed.
DOCS_CREATE: Final[dict[str, dict[str, Any]]] = {
    "visualConfig": {"avatarId": "65f1a2b3c4d5e6f708192a3c"},
    "voiceConfig": {"id": "65f1a2b3c4d5e6f708192b01", "speed": 1.1},
}
CATALOG_AVATARS: Final = {"filter": {"typeEqual": "Visual"}, "pager": {"offset": 0, "limit": 100}}
CATALOG_VOICES: Final = {"filter": {"typeEqual": "Voice"}, "pager": {"offset": 0, "limit": 100}}
MP3: Final = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4


@pytest.fixture
async def emulator() -> AsyncIterator[KalturaEmulator]:
    """A Kaltura emulator with its default settings (the reaper window among them)."""
    async with KalturaEmulator(ks=KS) as running:
        yield running


class Kaltura:
    """Requests exactly as Kaltura's clients send them: POST, JSON or multipart, one auth header."""

    def __init__(self, http: aiohttp.ClientSession, emulator: KalturaEmulator) -> None:
        self.http = http
        self.base = (
            emulator.base_url + "/v1"
        )  # the API root, and the version every path starts with

    async def post(
        self, path: str, auth: str, body: Any = None, *, form: tuple[bytes, str] | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": auth}
        data: bytes | None = None
        if form is not None:
            data, headers["Content-Type"] = form
        elif body is not None:
            data, headers["Content-Type"] = _json(body), "application/json"
        async with self.http.post(self.base + path, headers=headers, data=data) as response:
            return response.status, await response.json(content_type=None)


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


async def test_kaltura_sdk_session(http: aiohttp.ClientSession, emulator: KalturaEmulator) -> None:
    """Kaltura's SDK: the catalog (admin KS) names the avatar, create with it, init-client once,
    keep-alive, say-audio (multipart, mp3), interrupt, end; a second end is 404 (the live server)."""
    client = Kaltura(http, emulator)
    ks = f"KS {KS}"
    status, avatars = await client.post("/catalog-item/list", ks, CATALOG_AVATARS)
    assert status == 200
    assert avatars["totalCount"] == len(avatars["objects"]) >= 1
    assert {item["type"] for item in avatars["objects"]} == {"Visual"}
    assert all(item["attributes"]["visual"]["name"] for item in avatars["objects"])
    assert SDK_CREATE["visualConfig"]["id"] in {item["itemId"] for item in avatars["objects"]}
    status, created = await client.post("/avatar-session/create", ks, SDK_CREATE)
    assert (status, set(created)) == (200, {"success", "sessionId", "token"})
    session = f"/avatar-session/{created['sessionId']}"
    token = f"Bearer {created['token']}"
    status, init = await client.post(f"{session}/init-client", token, {})
    assert (status, init["success"]) == (200, True)
    assert init["whepUrl"].startswith("https://")
    assert set(init["turn"]) == {"url", "username", "credential"}
    assert await client.post(f"{session}/keep-alive", token, {}) == (200, {"success": True})
    form = encode_multipart(
        {"turnId": "t-1", "duration": "1.5"}, {"audio": ("a.mp3", "audio/mpeg", MP3)}
    )
    assert await client.post(f"{session}/say-audio", token, form=form) == (200, {"success": True})
    assert await client.post(f"{session}/interrupt", token, {}) == (200, {"success": True})
    assert await client.post(f"{session}/end", token, {}) == (200, {"success": True})
    assert (await client.post(f"{session}/end", token, {}))[0] == 404
    (recorded,) = emulator.sessions.values()
    assert [(t.kind, t.duration) for t in recorded.turns] == [("audio", 1.5)]


async def test_the_documented_variants(
    http: aiohttp.ClientSession, emulator: KalturaEmulator
) -> None:
    """The documentation's create path and body, the voice catalog, and say-text with all three fields
    (400 "Text is required" without text)."""
    client = Kaltura(http, emulator)
    status, voices = await client.post("/catalog-item/list", f"KS {KS}", CATALOG_VOICES)
    assert status == 200
    assert {item["type"] for item in voices["objects"]} == {"Voice"}
    assert DOCS_CREATE["voiceConfig"]["id"] in {item["itemId"] for item in voices["objects"]}
    status, created = await client.post("/avatar-session", f"KS {KS}", DOCS_CREATE)
    assert status == 200
    session = f"/avatar-session/{created['sessionId']}"
    token = f"Bearer {created['token']}"
    say = {"text": "Hello", "turnId": "t-1", "isFinal": True}
    assert await client.post(f"{session}/say-text", token, say) == (200, {"success": True})
    assert await client.post(f"{session}/say-text", token, {"turnId": "t-2", "isFinal": True}) == (
        400,
        {"success": False, "error": "Text is required"},
    )


async def test_the_documented_errors(http: aiohttp.ClientSession) -> None:
    """401 for an invalid KS, 403 for a non-admin one, 401 for a session call without its token, 404
    for a valid token on a session id that does not exist, 410 once the session ended (as documented)."""
    async with KalturaEmulator(ks=KS, non_admin_ks="user-ks", ended_status=410) as emulator:
        client = Kaltura(http, emulator)
        assert (await client.post("/avatar-session/create", "KS wrong", SDK_CREATE))[0] == 401
        assert (await client.post("/avatar-session/create", "KS user-ks", SDK_CREATE))[0] == 403
        assert (await client.post("/catalog-item/list", "KS user-ks", CATALOG_AVATARS))[0] == 403
        _, created = await client.post("/avatar-session/create", f"KS {KS}", SDK_CREATE)
        session = f"/avatar-session/{created['sessionId']}"
        token = f"Bearer {created['token']}"
        assert (await client.post(f"{session}/keep-alive", f"KS {KS}", {}))[0] == 401
        missing = "/avatar-session/ffffffffffffffffffffffff"
        assert (await client.post(f"{missing}/keep-alive", token, {}))[0] == 404
        await client.post(f"{session}/end", token, {})
        for action in ("keep-alive", "init-client", "interrupt", "end"):
            assert (await client.post(f"{session}/{action}", token, {}))[0] == 410


def test_a_session_silent_for_70_seconds_is_still_alive_by_default() -> None:
    """A live session was seen surviving 70 s without keep-alive: the default window is longer."""
    assert KalturaEmulator().idle_timeout > 70
