"""The Kaltura emulator over real sockets: the rules it enforces beyond what the SDK's client sends."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from aioavatar import KalturaAvatarClient, NotFoundError, Secret, ServerError
from aioavatar._request import encode_multipart
from aioavatar.testing import KalturaCatalogItem, KalturaEmulator

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
    headers = {**(headers or {}), "Content-Type": "application/json"}
    async with http.post(url, headers=headers, data=data) as response:
        return response.status, json.loads(await response.read())


async def test_each_auth_stage_refuses_the_other_stages_credential(
    http: aiohttp.ClientSession,
    kaltura_client: KalturaAvatarClient,
    kaltura_emulator: KalturaEmulator,
) -> None:
    """The admin KS on a session's call and a session's token on create are both refused with 401."""
    base = kaltura_emulator.base_url
    sid_a, token_a = await open_session(kaltura_client)
    async with http.post(
        f"{base}/v1/avatar-session/{sid_a}/keep-alive", headers={"Authorization": f"KS {KS}"}
    ) as r:
        assert r.status == 401
    async with http.post(
        f"{base}/v1/avatar-session/create",
        headers={"Authorization": f"Bearer {token_a.get_secret_value()}"},
    ) as r:
        assert r.status == 401


async def test_emulator_accepts_both_documented_create_shapes(
    kaltura_emulator: KalturaEmulator,
) -> None:
    """The docs' /v1/avatar-session and visualConfig.avatarId work too; a body without an avatar
    is 400; unknown routes are 404 with an error body."""
    base = kaltura_emulator.base_url + "/v1"  # the root: the paths carry /v1
    ks = {"Authorization": f"KS {KS}"}
    async with aiohttp.ClientSession() as http:
        status, body = await post(
            http, f"{base}/avatar-session", headers=ks, body={"visualConfig": {"avatarId": "a"}}
        )
        assert status == 200
        assert body["success"] is True
        assert set(body) == {"success", "sessionId", "token"}
        status, body = await post(http, f"{base}/avatar-session/create", headers=ks, body={})
        assert (status, body) == (
            400,
            {"success": False, "error": "visualConfig.avatarId is required"},
        )
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
    base = f"{kaltura_emulator.base_url}/v1/avatar-session/{sid}"
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


# ---- issue 15, items 10-12 ----------------------------------------------------------------------


@pytest.mark.parametrize("ended_status", [404, 410])
async def test_a_valid_token_for_a_missing_or_ended_session_is_404_or_410(
    ended_status: int, http: aiohttp.ClientSession
) -> None:
    """A valid token on an unknown session id is 404; on its own ended session `ended_status`; on
    another live session, or an unknown token anywhere, 401."""
    async with (
        KalturaEmulator(ks=KS, ended_status=ended_status) as emulator,
        KalturaAvatarClient(KS, base_url=emulator.base_url) as client,
    ):
        sid, token = await open_session(client)
        other, _ = await open_session(client)
        auth = {"Authorization": f"Bearer {token.get_secret_value()}"}
        base = f"{emulator.base_url}/v1/avatar-session"
        missing = "0123456789abcdef01234567"
        assert (await post(http, f"{base}/{missing}/keep-alive", headers=auth)) == (
            404,
            {"success": False, "error": "Session not found"},
        )
        assert (await post(http, f"{base}/{other}/keep-alive", headers=auth))[0] == 401
        wrong = {"Authorization": "Bearer not-a-token"}
        assert (await post(http, f"{base}/{missing}/keep-alive", headers=wrong))[0] == 401
        await client.end_session(sid, token=token)
        assert (await post(http, f"{base}/{sid}/keep-alive", headers=auth))[0] == ended_status
        assert (await post(http, f"{base}/{missing}/end", headers=auth))[0] == 404


def test_the_reaper_window_lets_a_silent_session_live_past_70_seconds() -> None:
    """By default a session lives 90 s without keep-alive: a live one was seen surviving 70 s."""
    assert KalturaEmulator().idle_timeout == 90.0
    assert KalturaEmulator(idle_timeout=5).idle_timeout == 5.0


@pytest.mark.parametrize("idle_timeout", [0, -1.0, float("nan")])
def test_an_idle_window_that_is_not_positive_is_refused(idle_timeout: float) -> None:
    """No window, a negative one or NaN (whose sessions the reaper would never end) is refused."""
    with pytest.raises(ValueError, match="idle_timeout"):
        KalturaEmulator(idle_timeout=idle_timeout)


async def list_catalog(
    http: aiohttp.ClientSession, emulator: KalturaEmulator, body: Any, ks: str = KS
) -> tuple[int, Any]:
    """POST catalog-item/list with ``ks``."""
    url = f"{emulator.base_url}/v1/catalog-item/list"
    return await post(http, url, headers={"Authorization": f"KS {ks}"}, body=body)


async def test_the_catalog_lists_avatars_and_voices(http: aiohttp.ClientSession) -> None:
    """catalog-item/list answers {objects, totalCount} with itemId, type and the name under
    attributes.visual or attributes.voice, filtered by typeEqual and paged by offset and limit."""
    async with KalturaEmulator(ks=KS, non_admin_ks="user") as emulator:
        status, answer = await list_catalog(http, emulator, {"filter": {"typeEqual": "Visual"}})
        assert status == 200
        assert answer["success"] is True
        assert answer["totalCount"] == 3
        first = answer["objects"][0]
        assert first == {
            "itemId": emulator.catalog[0].item_id,
            "type": "Visual",
            "attributes": {"visual": {"name": emulator.catalog[0].name}},
        }
        voices = {"filter": {"typeEqual": "Voice"}, "pager": {"offset": 1, "limit": 5}}
        status, answer = await list_catalog(http, emulator, voices)
        assert (answer["totalCount"], len(answer["objects"])) == (2, 1)
        assert set(answer["objects"][0]["attributes"]) == {"voice"}
        emulator.catalog.append(KalturaCatalogItem("aa" * 12, "Visual", "Mine"))
        status, answer = await list_catalog(http, emulator, {"pager": {"offset": 0, "limit": 2}})
        assert (answer["totalCount"], len(answer["objects"])) == (6, 2)
        assert (await list_catalog(http, emulator, {}, ks="user"))[0] == 403
        assert (await list_catalog(http, emulator, {}, ks="nope"))[0] == 401
        bad = {"filter": {"typeEqual": "Avatar"}}
        assert (await list_catalog(http, emulator, bad))[0] == 400
        assert (await list_catalog(http, emulator, {"pager": {"limit": 0}}))[0] == 400
    assert [r.endpoint for r in emulator.journal] == ["catalog_list"] * 7


async def test_a_json_body_is_read_only_as_application_json(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """As Express's JSON parser does: a body sent as ``text/plain`` (or with no ``Content-Type``)
    reaches the handlers empty, so create has no avatar and say-text no text (400); white space
    alone as JSON is refused as bad JSON."""
    sid, token = await open_session(kaltura_client)
    root = f"{kaltura_emulator.base_url}/v1/avatar-session"
    bearer = {"Authorization": f"Bearer {token.get_secret_value()}"}
    created = len(kaltura_emulator.sessions)
    speech = json.dumps({"text": "hi", "turnId": "t", "isFinal": True}).encode()
    async with aiohttp.ClientSession(skip_auto_headers=["Content-Type"]) as http:
        for content_type in ("text/plain", None):
            headers = {} if content_type is None else {"Content-Type": content_type}
            async with http.post(
                f"{root}/create",
                headers={"Authorization": f"KS {KS}", **headers},
                data=json.dumps({"visualConfig": {"id": KALTURA_AVATAR_ID}}).encode(),
            ) as r:
                assert r.status == 400
            async with http.post(
                f"{root}/{sid}/say-text", headers={**bearer, **headers}, data=speech
            ) as r:
                assert (r.status, (await r.json())["error"]) == (400, "Text is required")
    assert len(kaltura_emulator.sessions) == created
    assert kaltura_emulator.sessions[sid].turns == []
    # White space alone under application/json is a body, and not JSON (Express's parser refuses
    # it): a 400, not the empty body that would end the session.
    async with aiohttp.ClientSession() as http:
        for endpoint in ("say-text", "end"):
            async with http.post(
                f"{root}/{sid}/{endpoint}",
                headers={**bearer, "Content-Type": "application/json"},
                data=b" \n",
            ) as r:
                assert (r.status, (await r.json())["error"]) == (400, "Invalid JSON body")
    assert kaltura_emulator.sessions[sid].state == "active"


async def test_say_audio_takes_a_file_of_several_megabytes(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """No request size limit is documented: a 3 MB MP3 (about three minutes) is queued, not
    refused with aiohttp's default 1 MiB limit."""
    sid, token = await open_session(kaltura_client)
    audio = MP3 * (3_000_000 // len(MP3) + 1)
    await kaltura_client.say_audio(sid, audio, duration=180.0, token=token)
    [turn] = kaltura_emulator.sessions[sid].turns
    assert turn.audio == audio
