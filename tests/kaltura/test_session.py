"""``KalturaAvatarSession`` (``kaltura/_session.py``): the Kaltura face of the lifecycle, against the
emulator. The rules both providers share are tested in ``tests/test_session.py``."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest

from aioavatar import (
    KS_ENV,
    APIError,
    ConfigurationError,
    EndReason,
    KalturaAvatarClient,
    KalturaAvatarSession,
    ResponseDecodeError,
    SessionEndedError,
    SessionStopError,
    TransportError,
)
from aioavatar.testing import KalturaEmulator

from ..providers import KALTURA_AVATAR_ID, KS

pytestmark = pytest.mark.anyio

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8 + b"\r\n--\r\n"


async def test_the_library_reads_kaltura_avatar_base_url(
    kaltura_emulator: KalturaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KALTURA_AVATAR_BASE_URL (and the KS variable) are read by the library, as by the CLI: a
    session without base_url reaches the emulator, the docs' ``/v1`` form included; a bad value is a
    ConfigurationError naming the variable."""
    monkeypatch.setenv(KS_ENV, KS)
    monkeypatch.setenv("KALTURA_AVATAR_BASE_URL", kaltura_emulator.base_url + "/v1/")
    async with KalturaAvatarSession(KALTURA_AVATAR_ID) as session:
        pass
    assert kaltura_emulator.sessions[session.session_id].ended_by == "end"
    assert {r.endpoint for r in kaltura_emulator.journal} >= {"create", "init_client", "end"}
    monkeypatch.setenv("KALTURA_AVATAR_BASE_URL", "ftp://example")
    with pytest.raises(ConfigurationError) as info:
        KalturaAvatarClient()
    assert info.value.field == "KALTURA_AVATAR_BASE_URL"


async def test_session_defaults_and_speech(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """A Kaltura session beats every 10 s by default, and speaks through its own token."""
    session = kaltura_client.session(KALTURA_AVATAR_ID, voice_id="v-9")
    assert session.keep_alive_interval == 10.0
    with pytest.raises(RuntimeError, match="not started"):
        await session.interrupt()
    async with session:
        assert session.info.whep_url
        turn = await session.say_audio(MP3, duration=1.5, turn_id="t-1")
        await session.say_text("hi")
        await session.interrupt()
    emulated = kaltura_emulator.sessions[session.session_id]
    assert turn == "t-1"
    assert [t.kind for t in emulated.turns] == ["audio", "text"]
    assert emulated.interrupts == 1
    assert emulated.voice_id == "v-9"
    assert session.end_reason is EndReason.USER_CLOSED
    assert len(kaltura_emulator.requests("end")) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 410, 500])
async def test_init_client_refused_after_create_still_ends_the_session(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator, status: int
) -> None:
    """Create opened the session: whatever init-client answers, one end follows (a 404 or 410 too,
    which may come from a node that has not seen the new session yet), and nothing runs on."""
    kaltura_emulator.inject("init_client", status=status)
    with pytest.raises(APIError) as info:
        async with kaltura_client.session(KALTURA_AVATAR_ID):
            pytest.fail("the block must not run")
    assert info.value.status == status
    assert len(kaltura_emulator.requests("end")) == 1
    assert kaltura_emulator.active_sessions() == []


@pytest.mark.parametrize("flag", [None, "true", 1], ids=["missing", "as text", "as a number"])
async def test_a_create_answer_naming_its_session_without_the_flag_is_read_as_created(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator, flag: object
) -> None:
    """A create answer that names its session and token but not ``"success": true`` opened that
    session: it is read as created, the block runs, and the session is ended once at the exit
    (before, an APIError left it running, unended)."""
    opened = await kaltura_client.create_session(KALTURA_AVATAR_ID)
    answer: dict[str, object] = {
        "sessionId": opened.session_id,
        "token": opened.token.get_secret_value(),
    }
    if flag is not None:
        answer["success"] = flag
    kaltura_emulator.inject("create", body=json.dumps(answer).encode())
    async with kaltura_client.session(KALTURA_AVATAR_ID) as session:
        assert session.session_id == opened.session_id
    assert session.end_reason is EndReason.USER_CLOSED
    assert len(kaltura_emulator.requests("end", session_id=opened.session_id)) == 1
    assert kaltura_emulator.active_sessions() == []


@pytest.mark.parametrize("status", [503, 500, 404])
async def test_a_create_answer_naming_its_session_is_read_as_created_whatever_its_status(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator, status: int
) -> None:
    """The guide's rule, "whatever the HTTP status": a create answered 5xx (or 404) whose body
    names its session and token, without ``"success": false``, opened that session. It is read as
    created and ended once at the exit; a 404 so answered is no missing route, so create is not
    sent again at the other path (which would open a second session). Until now the session was
    left running, reported as one "whose id never arrived"."""
    opened = await kaltura_client.create_session(KALTURA_AVATAR_ID)
    answer = {
        "success": True,
        "sessionId": opened.session_id,
        "token": opened.token.get_secret_value(),
    }
    kaltura_emulator.inject(
        "create", status=status, body=json.dumps(answer).encode(), content_type="application/json"
    )
    async with kaltura_client.session(KALTURA_AVATAR_ID) as session:
        assert session.session_id == opened.session_id
    assert session.end_reason is EndReason.USER_CLOSED
    assert len(kaltura_emulator.requests("end", session_id=opened.session_id)) == 1
    assert len(kaltura_emulator.requests("create")) == 2  # the one above, and this session's
    assert kaltura_emulator.active_sessions() == []


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (401, {"error": "Invalid Kaltura Session", "sessionId": "abc123"}),
        (403, {"error": "Kaltura Session not authorized", "sessionId": "abc123"}),
        (409, {"error": "conflict", "sessionId": "other-session-1", "token": "t" * 20}),
        (500, {"success": "false", "sessionId": "abc123", "token": "t" * 20}),
        (503, {"sessionId": None}),
        (503, {"sessionId": ""}),
    ],
    ids=["401", "403", "409", "500 success as text", "503 null id", "503 empty id"],
)
async def test_a_refusal_that_merely_names_a_session_stays_a_refusal(
    kaltura_client: KalturaAvatarClient,
    kaltura_emulator: KalturaEmulator,
    caplog: pytest.LogCaptureFixture,
    status: int,
    answer: dict[str, object],
) -> None:
    """Only a 5xx or 404 that names a session (a string, with ``success`` true or not given) is
    read as created: a 401, 403 or 409 that names one is the refusal it says, raised as such, with
    no end sent and no word of a session that may still run; a 5xx whose ``success`` is not
    ``true`` or whose id is empty is a server error, which may have opened one (as any 5xx)."""
    kaltura_emulator.inject(
        "create", status=status, body=json.dumps(answer).encode(), content_type="application/json"
    )
    session = kaltura_client.session(KALTURA_AVATAR_ID)
    with caplog.at_level(logging.WARNING, logger="aioavatar"), pytest.raises(APIError) as info:
        async with session:
            pytest.fail("the block must not run")
    assert info.value.status == status
    assert kaltura_emulator.requests("end") == []
    if status < 500:
        assert not getattr(info.value, "__notes__", [])
        assert not caplog.records


async def test_a_create_refused_with_http_200_and_success_false_says_nothing_more(
    kaltura_client: KalturaAvatarClient,
    kaltura_emulator: KalturaEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The host's HTTP 200 error body (``"success": false``) refuses the create: the APIError says
    so, and no note or WARNING claims that a session may still run."""
    kaltura_emulator.inject("create", body=b'{"success": false, "error": "Avatar not found"}')
    session = kaltura_client.session("avatar-1")
    error = await _failed_entry(session, APIError, caplog)
    assert isinstance(error, APIError)
    assert error.status == 200
    assert str(error).endswith("HTTP 200: Avatar not found")
    assert not getattr(error, "__notes__", [])
    assert not caplog.records
    assert not session.may_still_run
    assert kaltura_emulator.requests("end") == []


async def test_session_reaped_by_the_server_raises_session_ended() -> None:
    """A session the server reaped (keep-alives stopped) answers 404: SessionEndedError, UNKNOWN."""
    async with (
        KalturaEmulator(ks=KS, idle_timeout=0.3) as emulator,
        KalturaAvatarClient(KS, base_url=emulator.base_url) as client,
    ):
        with pytest.raises(SessionEndedError) as info:
            async with client.session(KALTURA_AVATAR_ID, keep_alive_interval=0.2) as session:
                emulator.inject("keep_alive", delay=0.5, times=10)  # beats arrive too late
                await anyio.sleep(10)
    assert info.value.end_reason is EndReason.UNKNOWN
    assert emulator.sessions[session.session_id].ended_by == "idle"
    assert emulator.requests("end") == []


def test_session_arguments_fail_at_construction() -> None:
    """Invalid session arguments raise ConfigurationError before any network call."""
    client = KalturaAvatarClient(KS, base_url="http://127.0.0.1:9/v1")  # never entered
    assert KalturaAvatarSession(KALTURA_AVATAR_ID, client=client).keep_alive_interval == 10.0
    with pytest.raises(ConfigurationError, match="avatar_id"):
        KalturaAvatarSession(ks=KS)
    with pytest.raises(ConfigurationError, match="region"):
        KalturaAvatarSession(KALTURA_AVATAR_ID, ks=KS, region="eu")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="keep_alive_interval"):
        KalturaAvatarSession(KALTURA_AVATAR_ID, ks=KS, keep_alive_interval=0)
    with pytest.raises(ConfigurationError, match="client"):
        KalturaAvatarSession(KALTURA_AVATAR_ID, ks=KS, client=client)
    with pytest.raises(ConfigurationError, match="client"):
        KalturaAvatarSession(KALTURA_AVATAR_ID, client="nope")  # type: ignore[arg-type]


def test_a_kaltura_keep_alive_interval_fits_its_idle_window() -> None:
    """Kaltura's presumed idle window is 60 s: an interval over 30 s is refused."""
    from aioavatar import KalturaAvatarSession

    with pytest.raises(ConfigurationError, match=r"from 0\.01 to 30") as info:
        KalturaAvatarSession("avatar-1", ks="test-admin-ks-0001", keep_alive_interval=31)
    assert info.value.field == "keep_alive_interval"


async def _failed_entry(
    session: KalturaAvatarSession, error: type[BaseException], caplog: pytest.LogCaptureFixture
) -> BaseException:
    """Enter ``session``, whose open fails with ``error``, capturing the WARNINGs; the error."""
    with caplog.at_level(logging.WARNING, logger="aioavatar"), pytest.raises(error) as info:
        async with session:
            pytest.fail("the block must not run")
    return info.value


async def test_a_lost_kaltura_create_answer_says_a_session_may_run(
    kaltura_client: KalturaAvatarClient,
    kaltura_emulator: KalturaEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Kaltura's create took effect but its answer was lost: the id never arrived, so nothing can be
    stopped; the error says (as a note, and a WARNING) that a session may still run."""
    kaltura_emulator.inject("create", apply=True, drop=True)
    session = kaltura_client.session("avatar-1", stop_timeout=0.5)
    error = await _failed_entry(session, TransportError, caplog)
    assert session.may_still_run
    notes = getattr(error, "__notes__", [])
    assert any("id never arrived" in note and "may still be running" in note for note in notes)
    assert any("id never arrived" in r.getMessage() for r in caplog.records)
    assert not any("None" in note for note in notes)  # "session (id unknown)", not "session None"
    assert len(kaltura_emulator.active_sessions()) == 1  # it does run


@pytest.mark.parametrize("token", [None, "", 5], ids=["missing", "empty", "a number"])
async def test_a_kaltura_create_answered_without_a_usable_token_names_its_session(
    kaltura_client: KalturaAvatarClient,
    kaltura_emulator: KalturaEmulator,
    caplog: pytest.LogCaptureFixture,
    token: object,
) -> None:
    """Create answered with a session id but no usable token: that session runs and nothing can
    end it (its end needs the token). The user learns its id: the SessionStopError (chained to the
    ResponseDecodeError, which carries ``session_id`` too) and the WARNING name it; no end is sent."""
    answer: dict[str, object] = {"success": True, "sessionId": "sess-42"}
    if token is not None:
        answer["token"] = token
    kaltura_emulator.inject("create", body=json.dumps(answer).encode())
    session = kaltura_client.session("avatar-1", stop_timeout=0.5)
    error = await _failed_entry(session, SessionStopError, caplog)
    assert isinstance(error, SessionStopError)
    assert error.session_id == "sess-42"
    assert isinstance(error.__cause__, ResponseDecodeError)
    assert error.__cause__.session_id == "sess-42"
    assert session.may_still_run
    assert any("sess-42" in r.getMessage() for r in caplog.records)
    assert kaltura_emulator.requests("end") == []


async def test_a_refused_kaltura_create_says_nothing_more(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """A create the server refused (4xx) opened nothing: no note, no stop."""
    kaltura_emulator.inject("create", status=400)
    with pytest.raises(APIError) as info:
        async with kaltura_client.session("avatar-1"):
            pytest.fail("the block must not run")
    assert not getattr(info.value, "__notes__", [])
    assert kaltura_emulator.requests("end") == []


@pytest.mark.parametrize("fault", [{"drop": True}, {"status": 500}], ids=["lost", "5xx"])
async def test_a_kaltura_end_whose_answer_was_lost_is_confirmed_by_the_retrys_401(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator, fault: dict[str, Any]
) -> None:
    """The end took effect but its answer was lost (or answered 5xx); the end invalidated the token,
    so its retry is refused 401. That refusal says the end was this session's own: the stop is
    confirmed (USER_CLOSED), not reported as a session that may still run, whose ``stop()`` could
    never confirm it again with the dead token."""
    kaltura_emulator.inject("end", apply=True, **fault)
    kaltura_emulator.inject("end", status=401)
    async with kaltura_client.session(KALTURA_AVATAR_ID) as session:
        pass
    assert session.end_reason is EndReason.USER_CLOSED
    assert not session.may_still_run
    assert kaltura_emulator.sessions[session.session_id].ended_by == "end"
    assert [r.status for r in kaltura_emulator.requests("end")][-1] == 401
