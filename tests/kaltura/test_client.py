"""``KalturaAvatarClient`` (``kaltura/_client.py``) over real sockets against the emulator: the Kaltura
rules.

What only Kaltura has: two auth stages, ``success`` in the body, regions, 404/410 for ended sessions,
non-idempotent create and init-client, and multipart audio. The session is in ``test_session.py`` here,
the lifecycle both providers share in ``tests/test_session.py``, the sans-I/O decoding and multipart
encoding in ``tests/test_protocol.py``, and the emulator's own rules in ``tests/testing/``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aioavatar import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    KalturaAvatarClient,
    KalturaSessionRequest,
    NotFoundError,
    RetryPolicy,
    Secret,
    ServerError,
    TransportError,
)
from aioavatar.testing import KalturaEmulator

from ..conftest import FAST_RETRIES
from ..providers import KALTURA_AVATAR_ID, KS

pytestmark = pytest.mark.anyio

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8 + b"\r\n--\r\n"


async def open_session(client: KalturaAvatarClient) -> tuple[str, Secret]:
    created = await client.create_session(KALTURA_AVATAR_ID)
    return created.session_id, created.token


# --- the client, endpoint by endpoint ------------------------------------------------------------------


async def test_every_endpoint_sends_what_kaltura_expects(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """Create (KS) then init-client, keep-alive, say-audio, say-text, interrupt and end (Bearer)."""
    created = await kaltura_client.create_session(
        KALTURA_AVATAR_ID, voice_id="v-1", voice_speed=1.2
    )
    assert isinstance(created.token, Secret)
    sid, token = created.session_id, created.token
    info = await kaltura_client.init_client(sid, token=token)
    assert info.whep_url.startswith("https://")
    assert sid in info.whep_url
    assert info.turn.url.startswith("turn:")
    assert info.turn.username
    assert info.turn.credential
    await kaltura_client.keep_alive(sid, token=token)
    audio_turn = await kaltura_client.say_audio(sid, MP3, token=token, duration=2.5)
    text_turn = await kaltura_client.say_text(
        sid, "Hello", token=token, turn_id="t-2", is_final=False
    )
    await kaltura_client.interrupt(sid, token=token)
    assert await kaltura_client.end_session(sid, token=token) is True

    journal = kaltura_emulator.journal
    assert [(r.endpoint, r.auth, r.status) for r in journal] == [
        ("create", "ks", 200),
        ("init_client", "bearer", 200),
        ("keep_alive", "bearer", 200),
        ("say_audio", "bearer", 200),
        ("say_text", "bearer", 200),
        ("interrupt", "bearer", 200),
        ("end", "bearer", 200),
    ]
    assert journal[0].path == "/v1/avatar-session/create"
    assert journal[0].body == {
        # avatarId as the documentation names it, id as Kaltura's own SDK sends it
        "visualConfig": {"avatarId": KALTURA_AVATAR_ID, "id": KALTURA_AVATAR_ID},
        "voiceConfig": {"id": "v-1", "speed": 1.2},
    }
    assert [r.path for r in journal[1:]] == [
        f"/v1/avatar-session/{sid}/{action}"
        for action in ("init-client", "keep-alive", "say-audio", "say-text", "interrupt", "end")
    ]
    assert all(r.body == {} for r in journal if r.endpoint in ("init_client", "keep_alive", "end"))
    assert journal[4].body == {"text": "Hello", "turnId": "t-2", "isFinal": False}
    assert text_turn == "t-2"
    session = kaltura_emulator.sessions[sid]
    audio, text = session.turns
    assert (audio.kind, audio.turn_id, audio.duration, audio.audio) == (
        "audio",
        audio_turn,
        2.5,
        MP3,
    )
    assert (audio.filename, audio.content_type) == ("audio.mp3", "audio/mpeg")
    assert (text.kind, text.text, text.is_final) == ("text", "Hello", False)
    assert (session.streams, session.interrupts, session.ended_by) == (1, 1, "end")


async def test_create_with_a_ready_request(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """A ready KalturaSessionRequest is sent as is; mixing it with fields is refused before I/O."""
    await kaltura_client.create_session(request=KalturaSessionRequest(avatar_id="a-1"))
    assert kaltura_emulator.journal[0].body == {"visualConfig": {"avatarId": "a-1", "id": "a-1"}}
    with pytest.raises(ConfigurationError, match="request"):
        await kaltura_client.create_session("a-2", request=KalturaSessionRequest(avatar_id="a-1"))
    assert len(kaltura_emulator.journal) == 1


async def test_create_answered_404_is_sent_again_at_the_other_documented_path(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """A server without ``/create`` (404: nothing created) gets create at ``/v1/avatar-session``,
    the path one page of the documentation gives; the client starts there from then on, and a 404
    at both paths raises the first one, after one request to each."""
    kaltura_emulator.inject("create", status=404)
    first = await kaltura_client.create_session(KALTURA_AVATAR_ID)
    second = await kaltura_client.create_session(KALTURA_AVATAR_ID)
    assert [(r.path, r.status) for r in kaltura_emulator.journal] == [
        ("/v1/avatar-session/create", 404),
        ("/v1/avatar-session", 200),
        ("/v1/avatar-session", 200),
    ]
    assert set(kaltura_emulator.sessions) == {first.session_id, second.session_id}
    assert kaltura_emulator.journal[1].body == kaltura_emulator.journal[0].body
    kaltura_emulator.inject("create", status=404, body=b'{"success": false, "error": "first"}')
    kaltura_emulator.inject("create", status=404, body=b'{"success": false, "error": "second"}')
    with pytest.raises(NotFoundError) as info:
        await kaltura_client.create_session(KALTURA_AVATAR_ID)
    assert info.value.message == "first"  # the first answer is raised, not the fallback's
    assert [(r.path, r.status) for r in kaltura_emulator.journal[3:]] == [
        ("/v1/avatar-session", 404),
        ("/v1/avatar-session/create", 404),
    ]
    assert len(kaltura_emulator.sessions) == 2


@pytest.mark.parametrize("ended_status", [404, 410])
async def test_end_of_an_ended_session_means_already_ended(ended_status: int) -> None:
    """A second end answered 404 (live server) or 410 (docs) returns False, not an error."""
    async with (
        KalturaEmulator(ks=KS, ended_status=ended_status) as emulator,
        KalturaAvatarClient(KS, base_url=emulator.base_url) as client,
    ):
        sid, token = await open_session(client)
        assert await client.end_session(sid, token=token) is True
        assert await client.end_session(sid, token=token) is False
        with pytest.raises(APIError) as info:
            await client.keep_alive(sid, token=token)
    assert info.value.status == ended_status
    assert [r.status for r in emulator.requests("end")] == [200, ended_status]


async def test_error_body_on_http_200_is_an_error(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """success: false on HTTP 200 raises APIError with the server's message, for every call."""
    sid, token = await open_session(kaltura_client)
    error_body = b'{"success": false, "error": "Session expired"}'
    kaltura_emulator.inject("keep_alive", body=error_body)
    with pytest.raises(APIError, match="Session expired") as info:
        await kaltura_client.keep_alive(sid, token=token)
    assert info.value.status == 200
    kaltura_emulator.inject("create", body=error_body)
    with pytest.raises(APIError, match="Session expired"):
        await kaltura_client.create_session(KALTURA_AVATAR_ID)
    kaltura_emulator.inject("end", body=b'{"sessionId": "x"}')
    with pytest.raises(APIError, match="does not say success"):
        await kaltura_client.end_session(sid, token=token)


async def test_create_and_init_client_are_never_retried_once_sent(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """create and init-client get one request each on a 503 or a dropped answer; keep-alive is
    retried."""
    kaltura_emulator.inject("create", status=503)
    with pytest.raises(ServerError):
        await kaltura_client.create_session(KALTURA_AVATAR_ID)
    kaltura_emulator.inject("create", drop=True, apply=True)
    with pytest.raises(TransportError):
        await kaltura_client.create_session(KALTURA_AVATAR_ID)
    assert len(kaltura_emulator.requests("create")) == 2
    assert len(kaltura_emulator.sessions) == 1  # the dropped answer's session exists
    sid, token = await open_session(kaltura_client)
    kaltura_emulator.inject("init_client", status=503)
    with pytest.raises(ServerError):
        await kaltura_client.init_client(sid, token=token)
    assert len(kaltura_emulator.requests("init_client")) == 1
    kaltura_emulator.inject("keep_alive", status=503)
    await kaltura_client.keep_alive(sid, token=token)
    assert [r.status for r in kaltura_emulator.requests("keep_alive")] == [503, 200]
    kaltura_emulator.inject("keep_alive", status=503)  # a call's own policy wins over the client's
    with pytest.raises(ServerError):
        await kaltura_client.keep_alive(sid, token=token, retry_policy=RetryPolicy(retries=0))
    assert len(kaltura_emulator.requests("keep_alive")) == 3


async def test_say_text_503_says_the_endpoint_is_unavailable() -> None:
    """The live server's 503 on say-text becomes a ServerError that says so; it is not retried."""
    async with (
        KalturaEmulator(ks=KS, say_text_unavailable=True) as emulator,
        KalturaAvatarClient(KS, base_url=emulator.base_url, retry_policy=FAST_RETRIES) as client,
    ):
        sid, token = await open_session(client)
        with pytest.raises(ServerError, match="say-text is unavailable") as info:
            await client.say_text(sid, "hello", token=token)
        assert info.value.status == 503
        assert len(emulator.requests("say_text")) == 1
        await client.say_audio(sid, MP3, token=token, duration=1.0)  # the way that works
        assert [t.kind for t in emulator.sessions[sid].turns] == ["audio"]


async def test_say_audio_with_quotes_in_the_filename(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """The multipart form survives a filename with quotes and another media type."""
    sid, token = await open_session(kaltura_client)
    await kaltura_client.say_audio(
        sid, MP3, token=token, duration=3, filename='my "best".wav', content_type="audio/wav"
    )
    (turn,) = kaltura_emulator.sessions[sid].turns
    assert (turn.filename, turn.content_type, turn.audio, turn.duration) == (
        "my %22best%22.wav",
        "audio/wav",
        MP3,
        3.0,
    )


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"duration": 0}, "duration"),
        ({"duration": -1.0}, "duration"),
        ({"duration": float("nan")}, "duration"),
        ({"duration": "1.5"}, "duration"),
        ({"duration": True}, "duration"),
        ({"audio": b""}, "audio"),
        ({"audio": "text"}, "audio"),
        ({"turn_id": ""}, "turn_id"),
        ({"filename": " "}, "filename"),
        ({"content_type": "audio/mpeg\r\nX-Evil: 1"}, "content_type"),
        ({"session_id": "../other"}, "session_id"),
        ({"session_id": "a/b"}, "session_id"),
        ({"session_id": ""}, "session_id"),
        ({"token": ""}, "token"),
    ],
)
async def test_bad_say_audio_arguments_fail_before_any_request(
    kaltura_client: KalturaAvatarClient,
    kaltura_emulator: KalturaEmulator,
    call: dict[str, Any],
    field: str,
) -> None:
    """Every bad argument of say_audio is a ConfigurationError naming it, and nothing is sent."""
    args: dict[str, Any] = {
        "session_id": "abc",
        "audio": MP3,
        "token": "t",
        "duration": 1.0,
        **call,
    }
    with pytest.raises(ConfigurationError) as info:
        await kaltura_client.say_audio(
            args.pop("session_id"), args.pop("audio"), token=args.pop("token"), **args
        )
    assert info.value.field == field
    assert kaltura_emulator.journal == []


async def test_bad_arguments_of_the_other_calls_fail_before_any_request(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """Empty text, a non-bool is_final, a voice speed without a voice: ConfigurationError, no I/O."""
    client = kaltura_client
    cases: list[tuple[Callable[[], Awaitable[Any]], str]] = [
        (lambda: client.say_text("abc", "", token="tok-0001"), "text"),
        (lambda: client.say_text("abc", "hi", token="tok-0001", is_final="yes"), "is_final"),  # type: ignore[arg-type]
        (lambda: client.create_session(KALTURA_AVATAR_ID, voice_speed=1.1), "voice_speed"),
        (lambda: client.create_session("a", voice_id="v", voice_speed=0), "voice_speed"),
        (lambda: client.create_session(""), "avatar_id"),
        (lambda: client.create_session(), "avatar_id"),
        (lambda: client.keep_alive("x y", token="tok-0001"), "session_id"),
        (lambda: client.init_client("abc", token=Secret(" ")), "token"),
        (lambda: client.end_session("abc", token="tok-0001", timeout=0), "timeout"),
    ]
    for call, field in cases:
        with pytest.raises(ConfigurationError) as info:
            await call()
        assert info.value.field == field
    assert kaltura_emulator.journal == []


# --- credentials, regions and base URLs --------------------------------------------------------------


async def test_auth_stages(kaltura_emulator: KalturaEmulator) -> None:
    """Create takes only a valid admin KS (401, 403); the rest only the session's own token (401)."""
    base = kaltura_emulator.base_url
    async with KalturaAvatarClient("wrong-ks", base_url=base) as client:
        with pytest.raises(AuthenticationError, match="Invalid Kaltura Session") as info:
            await client.create_session(KALTURA_AVATAR_ID)
        assert info.value.status == 401
    async with (
        KalturaEmulator(ks=KS, non_admin_ks="user-ks-0001") as emulator,
        KalturaAvatarClient("user-ks-0001", base_url=emulator.base_url) as client,
    ):
        with pytest.raises(AuthenticationError, match="not authorized") as info:
            await client.create_session(KALTURA_AVATAR_ID)
        assert info.value.status == 403
    async with KalturaAvatarClient(KS, base_url=base) as client:
        sid_a, token_a = await open_session(client)
        sid_b, token_b = await open_session(client)
        with pytest.raises(AuthenticationError):  # another session's token
            await client.keep_alive(sid_b, token=token_a)
        with pytest.raises(AuthenticationError):  # a token the server never gave
            await client.keep_alive(sid_a, token=Secret("x-never-given"))
        await client.keep_alive(sid_b, token=token_b)
    assert kaltura_emulator.sessions[sid_b].is_active


async def test_ks_from_the_environment(
    kaltura_emulator: KalturaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ks=..., KALTURA_AVATAR_KS is used; without either, create and a session refuse
    before any request."""
    monkeypatch.setenv("KALTURA_AVATAR_KS", KS)
    async with KalturaAvatarClient(base_url=kaltura_emulator.base_url) as client:
        assert client.has_ks
        await open_session(client)
    monkeypatch.delenv("KALTURA_AVATAR_KS")
    async with KalturaAvatarClient(base_url=kaltura_emulator.base_url) as client:
        assert not client.has_ks
        with pytest.raises(ConfigurationError, match="KALTURA_AVATAR_KS") as info:
            await client.create_session(KALTURA_AVATAR_ID)
        assert info.value.field == "ks"
        with pytest.raises(ConfigurationError, match="KALTURA_AVATAR_KS"):
            client.session(KALTURA_AVATAR_ID)
    with pytest.raises(ConfigurationError, match="ks"):
        KalturaAvatarClient("  ")
    assert len(kaltura_emulator.journal) == 1


def test_regions_and_base_urls() -> None:
    """nvp1 is the default, frp2 the EU; base_url wins; unknown regions list the valid ones;
    plain http only for loopback."""
    assert KalturaAvatarClient(KS).base_url == "https://api.avatar.us.kaltura.ai"
    assert KalturaAvatarClient(KS, region="frp2").base_url == "https://api.avatar.eu.kaltura.ai"
    assert KalturaAvatarClient(KS, region="FRP2").base_url == "https://api.avatar.eu.kaltura.ai"
    legacy = KalturaAvatarClient(KS, base_url="https://api.avatar.eu.kaltura.ai/v1/")
    assert legacy.base_url == "https://api.avatar.eu.kaltura.ai"  # the docs' form, /v1 included
    custom = KalturaAvatarClient(KS, region="frp2", base_url="https://proxy.example/v1/")
    assert custom.base_url == "https://proxy.example"
    with pytest.raises(ConfigurationError) as info:
        KalturaAvatarClient(KS, region="us")  # type: ignore[arg-type]
    assert info.value.field == "region"
    assert "'nvp1', 'frp2'" in str(info.value)
    with pytest.raises(ConfigurationError, match="base_url"):
        KalturaAvatarClient(KS, base_url="http://api.example/v1")
    assert KalturaAvatarClient(KS, base_url="http://127.0.0.1:9/v1").base_url.startswith("http:")
    assert KalturaAvatarClient(KS, base_url="http://localhost:9/v1").base_url.startswith("http:")


async def test_a_prepared_keep_alive_is_sent_as_prepared(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """prepare_keep_alive() once, send() twice: two keep-alives of that session reach the server
    with its token and the documented empty body; the call refers to the session's token and holds
    no copy of it in a header."""
    created = await kaltura_client.create_session(KALTURA_AVATAR_ID)
    call = kaltura_client.prepare_keep_alive(created.session_id, token=created.token)
    for _ in range(2):
        await kaltura_client.send(call)
    beats = kaltura_emulator.requests("keep_alive", session_id=created.session_id)
    assert [(beat.status, beat.body) for beat in beats] == [(200, {})] * 2
    assert {beat.auth for beat in beats} == {"bearer"}
    assert call.bearer is created.token.get_secret_value()
    assert not any(created.token.get_secret_value() in v for v in call.headers.values())
    await kaltura_client.end_session(created.session_id, token=created.token)
