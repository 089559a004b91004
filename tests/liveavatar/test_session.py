"""``AvatarSession`` (``liveavatar/_session.py``): the LiveAvatar face of the lifecycle, against the
emulator: its arguments, checked at construction, the token answer it trusts, and the environment it
reads. The rules both providers share are tested in ``tests/test_session.py``."""

from __future__ import annotations

import gc
import json
import math
from decimal import Decimal
from typing import Any

import anyio
import pytest

from aioavatar import (
    AvatarSession,
    ConfigurationError,
    EndReason,
    InsufficientCreditsError,
    LiveAvatarClient,
    ModeName,
    ResponseDecodeError,
    SessionEndedError,
)
from aioavatar._logging import MASK, mask_tracked
from aioavatar.liveavatar._models import SessionInfo, start_credentials
from aioavatar.testing import LiveAvatarEmulator

from ..conftest import API_KEY, AVATAR_ID
from ..providers import session_on

pytestmark = pytest.mark.anyio


def test_bad_arguments_fail_at_construction() -> None:
    """LiveAvatar: invalid arguments raise ConfigurationError before any network call."""
    with pytest.raises(ConfigurationError, match="avatar_id"):
        AvatarSession("nope", api_key=API_KEY)
    with pytest.raises(ConfigurationError, match="keep_alive_interval"):
        AvatarSession(AVATAR_ID, api_key=API_KEY, keep_alive_interval=0)
    with pytest.raises(ConfigurationError, match="stop_timeout"):
        AvatarSession(AVATAR_ID, api_key=API_KEY, stop_timeout=-1)
    with pytest.raises(ConfigurationError, match=r"video_settings\.quality"):
        AvatarSession(AVATAR_ID, api_key=API_KEY, video_settings={"quality": "8k"})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [10**12, 10**400, 86_401, 0, -1, 1.5, True, "600"])
def test_max_session_duration_is_checked_against_the_apis_range(value: object) -> None:
    """max_session_duration is an integer from 1 to 86,400 s, checked before any network call."""
    with pytest.raises(ConfigurationError, match="integer") as info:
        AvatarSession(AVATAR_ID, api_key=API_KEY, max_session_duration=value)  # type: ignore[arg-type]
    assert info.value.field == "max_session_duration"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("keep_alive_interval", 1e-12),
        ("keep_alive_interval", 0.001),
        ("keep_alive_interval", math.inf),
        ("keep_alive_interval", math.nan),
        ("keep_alive_interval", 10**400),
        ("keep_alive_interval", 151),
        ("stop_timeout", 1e-300),
        ("stop_timeout", 0.05),
        ("stop_timeout", math.inf),
        ("stop_timeout", 301),
        ("stop_timeout", None),
    ],
)
def test_every_session_duration_has_a_floor_and_a_ceiling(field: str, value: object) -> None:
    """keep_alive_interval (0.01 s to half the idle window: 150 s for LiveAvatar) and stop_timeout
    (0.1 to 300 s) refuse tiny, huge, infinite and NaN values, naming the field and the range."""
    with pytest.raises(ConfigurationError, match="number of seconds from") as info:
        options: dict[str, Any] = {field: value}
        AvatarSession(AVATAR_ID, api_key=API_KEY, **options)
    assert info.value.field == field


async def test_a_server_session_id_that_is_not_a_uuid_is_refused_before_start(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A token answer whose session_id is not a UUID is a ResponseDecodeError and nothing starts:
    an id the SDK could not later stop with never gets a running session."""
    emulator.inject(
        "token",
        body=b'{"code": 1000, "data": {"session_id": "../../admin", "session_token": "abcdefghij"}}',
    )
    with pytest.raises(ResponseDecodeError, match="session_id"):
        async with session_on(client):
            pytest.fail("the block must not run")
    assert emulator.requests("start") == []
    assert emulator.requests("stop") == []


async def test_the_library_reads_liveavatar_base_url(
    emulator: LiveAvatarEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LIVEAVATAR_BASE_URL (and LIVEAVATAR_API_KEY) are read by the library, as by the CLI: a
    session without base_url reaches the emulator; a base URL ending in /v1 works the same."""
    monkeypatch.setenv("LIVEAVATAR_API_KEY", API_KEY)
    monkeypatch.setenv("LIVEAVATAR_BASE_URL", emulator.base_url + "/v1/")
    async with AvatarSession(AVATAR_ID, is_sandbox=True) as session:
        pass
    assert emulator.stop_reasons(session.session_id) == ["USER_CLOSED"]
    assert {r.path for r in emulator.journal} == {
        "/v1/sessions/token",
        "/v1/sessions/start",
        "/v1/sessions/stop",
    }
    monkeypatch.setenv("LIVEAVATAR_BASE_URL", "ftp://example")
    with pytest.raises(ConfigurationError) as info:
        LiveAvatarClient(API_KEY)
    assert info.value.field == "LIVEAVATAR_BASE_URL"


def test_session_refuses_a_client_and_its_own_credentials() -> None:
    """client= together with api_key/base_url/http_session is ambiguous: refused before any I/O."""
    from aioavatar import AvatarSession

    client = LiveAvatarClient(API_KEY, base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="client"):
        AvatarSession(AVATAR_ID, client=client, api_key="other")
    with pytest.raises(ConfigurationError, match="client"):
        AvatarSession(AVATAR_ID, client=client, base_url="https://other.example")


# ---- check_credits -----------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "needed"), [("FULL", 2), ("LITE", 1)])
async def test_check_credits_refuses_before_anything_is_created(
    mode: ModeName, needed: int
) -> None:
    """With ``check_credits=True`` and a balance short of one minute of the mode, ``async with``
    raises InsufficientCreditsError naming the balance; only the balance was read, nothing created."""
    async with (
        LiveAvatarEmulator(api_key=API_KEY, credits="0.5") as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        with pytest.raises(InsufficientCreditsError) as info:
            async with client.session(AVATAR_ID, mode=mode, check_credits=True):
                pytest.fail("the session started")
        assert [r.endpoint for r in emulator.journal] == ["credits"]
        assert emulator.sessions == {}
    error = info.value
    assert (error.credits_left, error.required, error.mode) == (
        Decimal("0.5"),
        Decimal(needed),
        mode,
    )
    assert "0.5" in str(error)
    assert mode in str(error)


async def test_check_credits_lets_a_session_the_balance_pays_for_start() -> None:
    """Enough for one LITE minute but not a FULL one: LITE starts, after one balance read."""
    async with (
        LiveAvatarEmulator(api_key=API_KEY, credits=1) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        async with client.session(AVATAR_ID, mode="LITE", check_credits=True) as session:
            assert session.session_id in emulator.sessions
        assert [r.endpoint for r in emulator.journal][:3] == ["credits", "token", "start"]


async def test_sandbox_sessions_and_the_default_do_not_read_the_balance(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A sandbox session costs nothing, so ``check_credits`` reads no balance; without the option no
    session reads it."""
    async with client.session(AVATAR_ID, is_sandbox=True, check_credits=True):
        pass
    async with client.session(AVATAR_ID, mode="LITE"):
        pass
    assert emulator.requests("credits") == []


def test_check_credits_must_be_a_bool() -> None:
    """``check_credits`` is refused at construction when it is not True or False."""
    with pytest.raises(ConfigurationError) as info:
        AvatarSession(AVATAR_ID, api_key=API_KEY, check_credits="yes")  # type: ignore[arg-type]
    assert info.value.field == "check_credits"


async def test_a_session_that_runs_out_of_credits_ends_with_no_credits() -> None:
    """When the balance runs out (here: drained by another spender while the session runs) the
    emulator ends every paying session with NO_CREDITS, and the session reports that reason."""
    async with (
        LiveAvatarEmulator(api_key=API_KEY, credits=3) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        async with client.session(AVATAR_ID, keep_alive_interval=0.05) as session:
            emulator.add_credits(-3)
            await session.wait_ended()
        assert session.end_reason is EndReason.NO_CREDITS
        assert emulator.sessions[session.session_id].end_reason is EndReason.NO_CREDITS
        assert emulator.credits_left() <= 0
        assert emulator.requests("stop") == []  # the server ended it: nothing to stop


async def test_the_end_reason_survives_a_lookup_answer_with_loose_fields() -> None:
    """Rule 7 with a lookup answer that writes its amounts as decimal strings (as the API writes
    credits) and its times as numbers: the session reports the server's reason (NO_CREDITS), not
    UNKNOWN, and the SDK sends no stop."""
    async with (
        LiveAvatarEmulator(api_key=API_KEY, credits=3) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        with pytest.raises(SessionEndedError) as info:
            async with client.session(AVATAR_ID, keep_alive_interval=0.05) as session:
                entry = {
                    "id": session.session_id,
                    "credits_consumed": "2.5000",
                    "duration": "61",
                    "created_at": 1733367600,
                    "end_at": 1733367661,
                    "end_reason": "NO_CREDITS",
                }
                body = {"code": 1000, "message": "ok", "data": entry}
                emulator.inject("get", body=json.dumps(body).encode())
                emulator.add_credits(-3)
                await anyio.sleep_forever()
        assert info.value.end_reason is EndReason.NO_CREDITS
        assert session.end_reason is EndReason.NO_CREDITS
        assert [r.status for r in emulator.requests("get")] == [200]
        assert emulator.requests("stop") == []


SESSION = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


async def test_the_start_answers_credentials_are_masked_while_the_session_runs(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The room token a start answers with is masked, as the session's own token is, for as long
    as the session runs (the answer's model is long gone: the session keeps its values), and let go
    of once the session is known to have ended: a server that echoes it (an error, a LITE event)
    shows it to no log, error or event."""
    async with client.session(AVATAR_ID, mode="LITE") as session:
        room_token = session.info.livekit_client_token
        gc.collect()
        assert mask_tracked(f"echo {room_token}") == f"echo {MASK}"
    gc.collect()
    assert mask_tracked(f"echo {room_token}") == f"echo {room_token}"


@pytest.mark.parametrize(
    ("ws_url", "expected"),
    [
        (None, ()),
        ("wss://lite.example/v1/ws", ()),
        ("wss://lite.example/v1/ws?token=" + "t" * 40, ("t" * 40,)),
        (f"wss://lite.example/ws?session_id={SESSION}&mode=realtime&access_token=abc", ("abc",)),
        ("wss://lite.example/ws?Sig=s1&api_key=k1&jwt=j1&id=7", ("s1", "k1", "j1")),
        ("wss://[::1/ws?token=x", ()),  # no URL: the socket says so when it is opened
    ],
)
def test_a_start_answers_credentials_are_its_room_tokens_and_its_socket_urls_tokens(
    ws_url: str | None, expected: tuple[str, ...]
) -> None:
    """What a session holds masked of its start answer: the room's viewer and agent tokens, and the
    token-like parameters of the socket URL's query, never the session's id or a plain setting (a
    session id masked hid it from the session's own warnings and reads)."""
    info = SessionInfo(SESSION, "wss://room", "viewer-token", "agent-token", ws_url=ws_url)
    assert start_credentials(info) == ("viewer-token", "agent-token", *expected)
