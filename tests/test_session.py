"""AvatarSession's lifecycle against the emulator: every exit path ends with exactly one stop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import anyio
import pytest

from aioavatar import (
    APIError,
    AuthenticationError,
    AvatarSession,
    BaseSession,
    ConfigurationError,
    EndReason,
    LiveAvatarClient,
    ResponseDecodeError,
    ServerError,
    SessionEndedError,
    SessionState,
    SessionStopError,
    SessionTokenRequest,
    TransportError,
)
from aioavatar.liveavatar._backend import LiveAvatarBackend
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID

pytestmark = pytest.mark.anyio


def session_on(client: LiveAvatarClient, **kw: Any) -> AvatarSession:
    kw.setdefault("keep_alive_interval", 0.2)
    kw.setdefault("stop_timeout", 2.0)
    return client.session(AVATAR_ID, is_sandbox=True, **kw)


def only_session(emulator: LiveAvatarEmulator) -> str:
    (sid,) = emulator.sessions
    return sid


def assert_stopped_once(emulator: LiveAvatarEmulator, reason: EndReason) -> None:
    sid = only_session(emulator)
    assert emulator.stop_reasons(sid) == [reason.value]
    assert emulator.sessions[sid].end_reason == reason
    assert emulator.active_sessions() == []


async def test_normal_exit_stops_with_user_closed(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A clean exit sends one stop with USER_CLOSED, after token and start."""
    session = session_on(client)
    async with session as s:
        assert s is session
        assert s.state is SessionState.ACTIVE
        assert s.info.livekit_url
        assert emulator.active_sessions()[0].id == s.session_id
    assert session.state is SessionState.ENDED
    assert session.end_reason is EndReason.USER_CLOSED
    assert_stopped_once(emulator, EndReason.USER_CLOSED)
    assert [r.endpoint for r in emulator.journal][:2] == ["token", "start"]
    assert emulator.requests("stop")[0].auth == "bearer"


async def test_explicit_stop_is_the_only_stop(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """stop(reason) ends the session with that reason; a second stop() and the exit send nothing."""
    async with session_on(client) as session:
        await session.stop(EndReason.AGENT_HANG_UP)
        assert session.state is SessionState.ENDED
        await session.stop(EndReason.USER_CLOSED)
        await session.wait_ended()
        await anyio.sleep(0.5)  # no keep-alive after the stop
    assert session.end_reason is EndReason.AGENT_HANG_UP
    assert_stopped_once(emulator, EndReason.AGENT_HANG_UP)
    stop_at = emulator.requests("stop")[0].at
    assert all(r.at < stop_at for r in emulator.requests("keep_alive"))


async def test_exception_propagates_unchanged_with_server_error(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The block's exception comes out as the same object (no group) and the stop says SERVER_ERROR."""
    boom = KeyError("boom")
    with pytest.raises(KeyError) as info:
        async with session_on(client):
            raise boom
    assert info.value is boom
    assert_stopped_once(emulator, EndReason.SERVER_ERROR)


async def test_user_exception_group_is_not_unwrapped(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A group the user raises comes out as that group."""
    group = ExceptionGroup("mine", [ValueError(1), ValueError(2)])
    with pytest.raises(ExceptionGroup) as info:
        async with session_on(client):
            raise group
    assert info.value is group
    assert_stopped_once(emulator, EndReason.SERVER_ERROR)


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
async def test_interrupts_stop_with_user_closed(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, exc_type: type[BaseException]
) -> None:
    """KeyboardInterrupt and SystemExit propagate and the stop says USER_CLOSED."""
    caught: BaseException | None = None
    try:
        async with session_on(client):
            raise exc_type()
    except (KeyboardInterrupt, SystemExit) as exc:
        caught = exc
    assert isinstance(caught, exc_type)
    assert_stopped_once(emulator, EndReason.USER_CLOSED)


async def test_end_reason_for(client: LiveAvatarClient, emulator: LiveAvatarEmulator) -> None:
    """end_reason_for's answer wins; None or a failing mapper falls back to the table."""

    def mapper(exc: BaseException) -> EndReason | None:
        return EndReason.AGENT_HANG_UP if isinstance(exc, LookupError) else None

    with pytest.raises(KeyError):
        async with session_on(client, end_reason_for=mapper):
            raise KeyError("x")
    with pytest.raises(ZeroDivisionError):
        async with session_on(client, end_reason_for=mapper):
            raise ZeroDivisionError

    def broken(exc: BaseException) -> EndReason:
        raise RuntimeError("mapper bug")

    with pytest.raises(OSError, match="disk"):
        async with session_on(client, end_reason_for=broken):
            raise OSError("disk")
    reasons = [emulator.stop_reasons(sid) for sid in emulator.sessions]
    assert reasons == [["AGENT_HANG_UP"], ["SERVER_ERROR"], ["SERVER_ERROR"]]


# --- cancellation --------------------------------------------------------------------------------------

CANCEL_STYLES = ["scope", "task", "timeout"]


async def cancel_after(style: str, delay: float, body: Callable[[], Awaitable[None]]) -> None:
    """Run ``body`` and cancel it after ``delay`` seconds in the given style; assert it was cancelled."""
    if style == "scope":
        with anyio.move_on_after(delay) as scope:
            await body()
        assert scope.cancelled_caught
    elif style == "task":
        task = asyncio.ensure_future(body())
        await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(delay):
                await body()


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_in_body_stops_with_user_disconnected(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, style: str
) -> None:
    """A cancelled block sends one stop with USER_DISCONNECTED and the cancellation propagates."""

    async def body() -> None:
        async with session_on(client):
            await anyio.sleep(30)

    await cancel_after(style, 0.5, body)
    assert_stopped_once(emulator, EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_during_token_sends_no_start(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, style: str
) -> None:
    """A cancel while the token is being created sends no start and no stop."""
    emulator.inject("token", delay=1.0)

    async def body() -> None:
        async with session_on(client):
            pytest.fail("the block must not run")

    await cancel_after(style, 0.2, body)
    await anyio.sleep(1.0)  # let the delayed token request finish server side
    assert emulator.requests("start") == []
    assert emulator.requests("stop") == []
    assert emulator.active_sessions() == []


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_during_start_lets_start_finish_then_stops(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, style: str
) -> None:
    """A cancel while start is in flight waits for start, then stops that session once."""
    emulator.inject("start", delay=0.6)

    async def body() -> None:
        async with session_on(client):
            pytest.fail("the block must not run")

    await cancel_after(style, 0.3, body)
    assert [r.status for r in emulator.requests("start")] == [201]
    assert_stopped_once(emulator, EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_inside_a_beat(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, style: str
) -> None:
    """A cancel while a keep-alive is in flight still ends with exactly one stop."""
    emulator.inject("keep_alive", delay=5.0, times=100)

    async def body() -> None:
        async with session_on(client, keep_alive_interval=0.1):
            await anyio.sleep(30)

    await cancel_after(style, 0.6, body)
    assert_stopped_once(emulator, EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_inside_stop_still_delivers_it(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, style: str
) -> None:
    """A cancel that lands while the exit's stop is in flight does not abort the stop."""
    emulator.inject("stop", delay=0.6)

    async def body() -> None:
        async with session_on(client):
            await anyio.sleep(0.2)

    await cancel_after(style, 0.5, body)  # the block ended at 0.2 s; the stop is in flight at 0.5 s
    assert_stopped_once(emulator, EndReason.USER_CLOSED)


async def test_hung_stop_is_abandoned_after_stop_timeout(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A stop that hangs is given up after stop_timeout: SessionStopError with the session id."""
    emulator.inject("stop", delay=10.0)
    started = anyio.current_time()
    with pytest.raises(SessionStopError) as info:
        async with session_on(client, stop_timeout=0.5) as session:
            pass
    assert anyio.current_time() - started < 5.0
    assert info.value.session_id == session.session_id
    assert session.state is SessionState.ENDED


async def test_failed_stop_after_an_exception_is_logged_not_raised(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """After an exception, a failed stop is a WARNING and the user's exception wins."""
    emulator.inject("stop", status=500, times=10)
    with caplog.at_level(logging.WARNING, logger="aioavatar"), pytest.raises(KeyError):
        async with session_on(client):
            raise KeyError("original")
    assert any("may still be running" in r.getMessage() for r in caplog.records)


# --- the server side ----------------------------------------------------------------------------------


async def test_server_ended_session_cancels_block(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Keep-alive 404: the block is cancelled, SessionEndedError carries the server's reason, no stop."""
    reached_end = False
    with pytest.raises(SessionEndedError) as info:
        async with session_on(client, keep_alive_interval=0.1) as session:
            emulator.end_session(session.session_id, EndReason.ZOMBIE_SESSION_REAP)
            await anyio.sleep(10)
            reached_end = True
    assert not reached_end
    assert info.value.end_reason is EndReason.ZOMBIE_SESSION_REAP
    assert info.value.session_id == session.session_id
    assert session.end_reason is EndReason.ZOMBIE_SESSION_REAP
    assert emulator.requests("stop") == []


async def test_keep_alive_410_ends_with_unknown_reason_when_lookup_has_none(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """410 on keep-alive means gone; without a recorded reason the end reason is UNKNOWN."""
    emulator.inject("keep_alive", status=410)
    with pytest.raises(SessionEndedError) as info:
        async with session_on(client, keep_alive_interval=0.1):
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.UNKNOWN
    assert emulator.requests("stop") == []


async def test_keep_alive_5xx_burst_recovers(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Transient keep-alive failures are retried and counted; the session carries on."""
    emulator.inject("keep_alive", status=503, times=4)
    async with session_on(client, keep_alive_interval=0.15) as session:
        await anyio.sleep(1.5)
        stats = session.statistics()
    assert stats.keep_alives_sent >= 1
    assert stats.last_keep_alive_at is not None
    statuses = [r.status for r in emulator.requests("keep_alive")]
    assert statuses[:4] == [503] * 4
    assert 200 in statuses
    assert_stopped_once(emulator, EndReason.USER_CLOSED)


async def test_keep_alive_beats_on_schedule(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Beats arrive about every interval and use the session token."""
    async with session_on(client, keep_alive_interval=0.2) as session:
        await anyio.sleep(1.1)
    beats = emulator.requests("keep_alive")
    assert 4 <= len(beats) <= 7
    assert {b.auth for b in beats} == {"bearer"}
    assert session.statistics().keep_alives_sent == len(beats)


async def test_deadline_stops_with_max_duration(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """At max_session_duration the SDK stops the session and the block ends with SessionEndedError."""
    with pytest.raises(SessionEndedError) as info:
        async with session_on(client, max_session_duration=1) as session:
            assert session.statistics().deadline is not None
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.MAX_DURATION_REACHED
    sid = only_session(emulator)
    assert emulator.stop_reasons(sid) in ([], ["MAX_DURATION_REACHED"])
    assert emulator.sessions[sid].end_reason is EndReason.MAX_DURATION_REACHED


# --- start failures ----------------------------------------------------------------------------------


async def test_bad_key_fails_on_enter_and_leaves_nothing(emulator: LiveAvatarEmulator) -> None:
    """401 on token: AuthenticationError from the async with line; no start, no stop."""
    with pytest.raises(AuthenticationError):
        async with AvatarSession(AVATAR_ID, api_key="nope", base_url=emulator.base_url):
            pytest.fail("the block must not run")
    assert emulator.requests("start") == []
    assert emulator.sessions == {}


async def test_start_refused_with_4xx_sends_no_stop(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A definite refusal of start stops nothing (nothing runs)."""
    emulator.inject("start", status=400)
    with pytest.raises(APIError) as info:
        async with session_on(client):
            pytest.fail("the block must not run")
    assert info.value.status == 400
    assert emulator.requests("stop") == []
    assert emulator.active_sessions() == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 503}, ServerError),
        ({"drop": True}, TransportError),
        ({"malformed": True}, ResponseDecodeError),
    ],
)
async def test_ambiguous_start_failure_is_followed_by_a_stop(
    client: LiveAvatarClient,
    emulator: LiveAvatarEmulator,
    fault: dict[str, Any],
    error: type[Exception],
) -> None:
    """When start may have worked (5xx, no answer, unreadable 2xx), the session is stopped anyway."""
    emulator.inject("start", apply=True, **fault)
    with pytest.raises(error):
        async with session_on(client):
            pytest.fail("the block must not run")
    assert_stopped_once(emulator, EndReason.SERVER_ERROR)


# --- shapes and sharing -------------------------------------------------------------------------------


async def test_reentering_is_an_error(client: LiveAvatarClient) -> None:
    """A session object is entered once."""
    session = session_on(client)
    async with session:
        pass
    with pytest.raises(RuntimeError, match="once"):
        async with session:
            pass


def test_bad_arguments_fail_at_construction() -> None:
    """Invalid arguments raise ConfigurationError before any network call."""
    with pytest.raises(ConfigurationError, match="avatar_id"):
        AvatarSession("nope", api_key=API_KEY)
    with pytest.raises(ConfigurationError, match="keep_alive_interval"):
        AvatarSession(AVATAR_ID, api_key=API_KEY, keep_alive_interval=0)
    with pytest.raises(ConfigurationError, match="stop_timeout"):
        AvatarSession(AVATAR_ID, api_key=API_KEY, stop_timeout=-1)
    with pytest.raises(ConfigurationError, match=r"video_settings\.quality"):
        AvatarSession(AVATAR_ID, api_key=API_KEY, video_settings={"quality": "8k"})


async def test_own_client_with_borrowed_http_session(emulator: LiveAvatarEmulator) -> None:
    """A session that makes its own client closes it, but leaves a borrowed aiohttp session open."""
    async with aiohttp.ClientSession() as http:
        async with AvatarSession(
            AVATAR_ID, api_key=API_KEY, base_url=emulator.base_url, http_session=http
        ) as session:
            assert session.session_id
        assert not http.closed
    assert_stopped_once(emulator, EndReason.USER_CLOSED)


async def test_two_hundred_sessions_on_one_client(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """200 concurrent sessions on one pool: each started once and stopped exactly once."""

    async def one(i: int) -> None:
        async with session_on(client, keep_alive_interval=0.3):
            await anyio.sleep(0.5 + (i % 5) * 0.1)

    async with anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(one, i)
    assert len(emulator.sessions) == 200
    for sid in emulator.sessions:
        assert emulator.stop_reasons(sid) == ["USER_CLOSED"]
    assert emulator.active_sessions() == []


async def test_wait_ended_returns_after_stop(client: LiveAvatarClient) -> None:
    """wait_ended() returns once another task stopped the session."""
    async with session_on(client) as session, anyio.create_task_group() as tg:

        async def stopper() -> None:
            await anyio.sleep(0.2)
            await session.stop(EndReason.USER_CLOSED)

        tg.start_soon(stopper)
        with anyio.fail_after(5):
            await session.wait_ended()
    assert session.end_reason is EndReason.USER_CLOSED


async def test_missed_beats_are_skipped_not_queued(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """After the loop was blocked through several due beats, one beat goes out, not a burst."""
    async with session_on(client, keep_alive_interval=0.1):
        await anyio.sleep(0.3)
        time.sleep(0.6)  # noqa: ASYNC251 - blocking the loop on purpose: six beats fall due
        unblocked = time.monotonic()
        await anyio.sleep(0.35)
    burst = [b for b in emulator.requests("keep_alive") if unblocked <= b.at < unblocked + 0.08]
    # The emulator shares the loop: a beat sent just before the block may arrive just after it, next
    # to the one due beat. Queued beats would arrive as a burst of six.
    assert len(burst) <= 2
    after = [b for b in emulator.requests("keep_alive") if b.at >= unblocked]
    assert 2 <= len(after) <= 5


class _QuickIdleBackend(LiveAvatarBackend):
    """The LiveAvatar backend with a short idle window, to test rule 6 without waiting 5 minutes."""

    idle_timeout = 0.6


async def test_keep_alive_failing_past_the_idle_window_ends_the_session(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """When no beat has succeeded for the provider's idle window, the session is stopped with
    IDLE_TIMEOUT and the block ends with SessionEndedError."""
    emulator.inject("keep_alive", status=503, times=1000)
    backend = _QuickIdleBackend(client, SessionTokenRequest(avatar_id=AVATAR_ID, is_sandbox=True))
    session = BaseSession(backend, keep_alive_interval=0.1, stop_timeout=2.0, end_reason_for=None)
    with pytest.raises(SessionEndedError) as info:
        async with session:
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.IDLE_TIMEOUT
    assert session.statistics().keep_alives_failed >= 2
    assert_stopped_once(emulator, EndReason.IDLE_TIMEOUT)
