"""The session lifecycle against the emulators: every exit path ends with exactly one stop.

Every test that takes ``provider`` runs once per provider (LiveAvatar and Kaltura): the lifecycle is
written once, and so is its test matrix. The few that only make sense for LiveAvatar (token creation
before start, ``max_session_duration``) use its fixtures directly.
"""

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
    ConfigurationError,
    EndReason,
    LiveAvatarClient,
    ResponseDecodeError,
    ServerError,
    SessionEndedError,
    SessionState,
    SessionStopError,
    TransportError,
)
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID
from .providers import Provider

pytestmark = pytest.mark.anyio


def session_on(client: LiveAvatarClient, **kw: Any) -> AvatarSession:
    kw.setdefault("keep_alive_interval", 0.2)
    kw.setdefault("stop_timeout", 2.0)
    return client.session(AVATAR_ID, is_sandbox=True, **kw)


async def test_normal_exit_stops_with_user_closed(provider: Provider) -> None:
    """A clean exit sends one stop with USER_CLOSED, after the session was opened."""
    session = provider.session()
    async with session as s:
        assert s is session
        assert s.state is SessionState.ACTIVE
        assert s.info is not None
        assert provider.active() == [s.session_id]
    assert session.state is SessionState.ENDED
    provider.assert_stopped_once(EndReason.USER_CLOSED)
    steps = len(provider.enter_steps)
    assert [r.endpoint for r in provider.emulator.journal][:steps] == list(provider.enter_steps)
    assert provider.emulator.requests(provider.stop_step)[0].auth == "bearer"


async def test_explicit_stop_is_the_only_stop(provider: Provider) -> None:
    """stop(reason) ends the session with that reason; a second stop() and the exit send nothing."""
    async with provider.session() as session:
        await session.stop(EndReason.AGENT_HANG_UP)
        assert session.state is SessionState.ENDED
        await session.stop(EndReason.USER_CLOSED)
        await session.wait_ended()
        await anyio.sleep(0.5)  # no keep-alive after the stop
    provider.assert_stopped_once(EndReason.AGENT_HANG_UP)
    stop_at = provider.emulator.requests(provider.stop_step)[0].at
    assert all(r.at < stop_at for r in provider.emulator.requests("keep_alive"))


async def test_exception_propagates_unchanged_with_server_error(provider: Provider) -> None:
    """The block's exception comes out as the same object (no group) and the stop says SERVER_ERROR."""
    boom = KeyError("boom")
    with pytest.raises(KeyError) as info:
        async with provider.session():
            raise boom
    assert info.value is boom
    provider.assert_stopped_once(EndReason.SERVER_ERROR)


async def test_user_exception_group_is_not_unwrapped(provider: Provider) -> None:
    """A group the user raises comes out as that group."""
    group = ExceptionGroup("mine", [ValueError(1), ValueError(2)])
    with pytest.raises(ExceptionGroup) as info:
        async with provider.session():
            raise group
    assert info.value is group
    provider.assert_stopped_once(EndReason.SERVER_ERROR)


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
async def test_interrupts_stop_with_user_closed(
    provider: Provider, exc_type: type[BaseException]
) -> None:
    """KeyboardInterrupt and SystemExit propagate and the stop says USER_CLOSED."""
    caught: BaseException | None = None
    try:
        async with provider.session():
            raise exc_type()
    except (KeyboardInterrupt, SystemExit) as exc:
        caught = exc
    assert isinstance(caught, exc_type)
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_end_reason_for(provider: Provider) -> None:
    """end_reason_for's answer wins; None or a failing mapper falls back to the table."""

    def mapper(exc: BaseException) -> EndReason | None:
        return EndReason.AGENT_HANG_UP if isinstance(exc, LookupError) else None

    with pytest.raises(KeyError):
        async with provider.session(end_reason_for=mapper):
            raise KeyError("x")
    with pytest.raises(ZeroDivisionError):
        async with provider.session(end_reason_for=mapper):
            raise ZeroDivisionError

    def broken(exc: BaseException) -> EndReason:
        raise RuntimeError("mapper bug")

    with pytest.raises(OSError, match="disk"):
        async with provider.session(end_reason_for=broken):
            raise OSError("disk")
    expected = [EndReason.AGENT_HANG_UP, EndReason.SERVER_ERROR, EndReason.SERVER_ERROR]
    for session, reason in zip(provider.made, expected, strict=True):
        provider.assert_stopped_once(reason, session)


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
async def test_cancel_in_body_stops_with_user_disconnected(provider: Provider, style: str) -> None:
    """A cancelled block sends one stop with USER_DISCONNECTED and the cancellation propagates."""

    async def body() -> None:
        async with provider.session():
            await anyio.sleep(30)

    await cancel_after(style, 0.5, body)
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_during_token_sends_no_start(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, style: str
) -> None:
    """LiveAvatar: a cancel while the token is being created sends no start and no stop."""
    emulator.inject("token", delay=1.0)

    async def body() -> None:
        async with session_on(client):
            pytest.fail("the block must not run")

    await cancel_after(style, 0.2, body)
    await anyio.sleep(1.0)  # let the delayed token request finish server side
    assert emulator.requests("start") == []
    assert emulator.requests("stop") == []
    assert emulator.active_sessions() == []


# Every request that opens a session remotely: a cancel while one is in flight lets it finish.
OPEN_STEPS = [("liveavatar", "start"), ("kaltura", "create"), ("kaltura", "init_client")]


@pytest.mark.parametrize("style", CANCEL_STYLES)
@pytest.mark.parametrize(("provider", "step"), OPEN_STEPS, indirect=["provider"])
async def test_cancel_during_open_lets_it_finish_then_stops(
    provider: Provider, step: str, style: str
) -> None:
    """A cancel while a request of open is in flight waits for open, then stops that session once."""
    provider.emulator.inject(step, delay=0.6)

    async def body() -> None:
        async with provider.session():
            pytest.fail("the block must not run")

    await cancel_after(style, 0.3, body)
    assert [r.status for r in provider.emulator.requests(step)] in ([200], [201])
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_inside_a_beat(provider: Provider, style: str) -> None:
    """A cancel while a keep-alive is in flight still ends with exactly one stop."""
    provider.emulator.inject("keep_alive", delay=5.0, times=100)

    async def body() -> None:
        async with provider.session(keep_alive_interval=0.1):
            await anyio.sleep(30)

    await cancel_after(style, 0.6, body)
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_inside_stop_still_delivers_it(provider: Provider, style: str) -> None:
    """A cancel that lands while the exit's stop is in flight does not abort the stop."""
    provider.emulator.inject(provider.stop_step, delay=0.6)

    async def body() -> None:
        async with provider.session():
            await anyio.sleep(0.2)

    await cancel_after(style, 0.5, body)  # the block ended at 0.2 s; the stop is in flight at 0.5 s
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_hung_stop_is_abandoned_after_stop_timeout(provider: Provider) -> None:
    """A stop that hangs is given up after stop_timeout: SessionStopError with the session id."""
    provider.emulator.inject(provider.stop_step, delay=10.0)
    started = anyio.current_time()
    with pytest.raises(SessionStopError) as info:
        async with provider.session(stop_timeout=0.5) as session:
            pass
    assert anyio.current_time() - started < 5.0
    assert info.value.session_id == session.session_id
    assert session.state is SessionState.ENDED


async def test_failed_stop_after_an_exception_is_logged_not_raised(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    """After an exception, a failed stop is a WARNING and the user's exception wins."""
    provider.emulator.inject(provider.stop_step, status=500, times=10)
    with caplog.at_level(logging.WARNING, logger="aioavatar"), pytest.raises(KeyError):
        async with provider.session():
            raise KeyError("original")
    assert any("may still be running" in r.getMessage() for r in caplog.records)


# --- the server side ----------------------------------------------------------------------------------


async def test_server_ended_session_cancels_block(provider: Provider) -> None:
    """Keep-alive 404: the block is cancelled, SessionEndedError carries the reason the server can
    tell (LiveAvatar's own, Kaltura none: UNKNOWN), and no stop is sent."""
    reached_end = False
    with pytest.raises(SessionEndedError) as info:
        async with provider.session(keep_alive_interval=0.1) as session:
            expected = provider.end_on_server(session.session_id)
            await anyio.sleep(10)
            reached_end = True
    assert not reached_end
    assert info.value.end_reason is expected
    assert info.value.session_id == session.session_id
    assert session.end_reason is expected
    assert provider.emulator.requests(provider.stop_step) == []


async def test_keep_alive_410_ends_with_unknown_reason_when_lookup_has_none(
    provider: Provider,
) -> None:
    """410 on keep-alive means gone; without a recorded reason the end reason is UNKNOWN."""
    provider.emulator.inject("keep_alive", status=410)
    with pytest.raises(SessionEndedError) as info:
        async with provider.session(keep_alive_interval=0.1):
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.UNKNOWN
    assert provider.emulator.requests(provider.stop_step) == []


async def test_keep_alive_5xx_burst_recovers(provider: Provider) -> None:
    """Transient keep-alive failures are retried and counted; the session carries on."""
    provider.emulator.inject("keep_alive", status=503, times=4)
    async with provider.session(keep_alive_interval=0.15) as session:
        await anyio.sleep(1.5)
        stats = session.statistics()
    assert stats.keep_alives_sent >= 1
    assert stats.last_keep_alive_at is not None
    statuses = [r.status for r in provider.emulator.requests("keep_alive")]
    assert statuses[:4] == [503] * 4
    assert 200 in statuses
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_keep_alive_beats_on_schedule(provider: Provider) -> None:
    """Beats arrive about every interval and use the session token."""
    async with provider.session(keep_alive_interval=0.2) as session:
        await anyio.sleep(1.1)
    beats = provider.emulator.requests("keep_alive")
    assert 4 <= len(beats) <= 7
    assert {b.auth for b in beats} == {"bearer"}
    assert session.statistics().keep_alives_sent == len(beats)


async def test_deadline_stops_with_max_duration(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """LiveAvatar: at max_session_duration the SDK stops the session and the block ends with
    SessionEndedError."""
    with pytest.raises(SessionEndedError) as info:
        async with session_on(client, max_session_duration=1) as session:
            assert session.statistics().deadline is not None
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.MAX_DURATION_REACHED
    (sid,) = emulator.sessions
    assert emulator.stop_reasons(sid) in ([], ["MAX_DURATION_REACHED"])
    assert emulator.sessions[sid].end_reason is EndReason.MAX_DURATION_REACHED


# --- start failures ----------------------------------------------------------------------------------


async def test_bad_credential_fails_on_enter_and_leaves_nothing(provider: Provider) -> None:
    """401 on the first call: AuthenticationError from the async with line; nothing opened."""
    with pytest.raises(AuthenticationError):
        async with provider.own_session(credential="nope"):
            pytest.fail("the block must not run")
    assert [r.endpoint for r in provider.emulator.journal] == [provider.enter_steps[0]]
    assert provider.emulator.sessions == {}


# The first request that can open a session: refused, it leaves nothing to stop.
FIRST_OPEN_STEPS = [("liveavatar", "start"), ("kaltura", "create")]
# The last request of open: when it fails in a way that may hide a running session, a stop follows.
LAST_OPEN_STEPS = [("liveavatar", "start"), ("kaltura", "init_client")]


@pytest.mark.parametrize(("provider", "step"), FIRST_OPEN_STEPS, indirect=["provider"])
async def test_open_refused_with_4xx_sends_no_stop(provider: Provider, step: str) -> None:
    """A definite refusal of the request that opens the session stops nothing (nothing runs)."""
    provider.emulator.inject(step, status=400)
    with pytest.raises(APIError) as info:
        async with provider.session():
            pytest.fail("the block must not run")
    assert info.value.status == 400
    assert provider.emulator.requests(provider.stop_step) == []
    assert provider.active() == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 503}, ServerError),
        ({"drop": True}, TransportError),
        ({"malformed": True}, ResponseDecodeError),
    ],
)
@pytest.mark.parametrize(("provider", "step"), LAST_OPEN_STEPS, indirect=["provider"])
async def test_ambiguous_open_failure_is_followed_by_a_stop(
    provider: Provider, step: str, fault: dict[str, Any], error: type[Exception]
) -> None:
    """When open may have worked (5xx, no answer, unreadable 2xx), the session is stopped anyway,
    and the request that may have opened a second stream is not repeated."""
    provider.emulator.inject(step, apply=True, **fault)
    with pytest.raises(error):
        async with provider.session():
            pytest.fail("the block must not run")
    assert len(provider.emulator.requests(step)) == 1
    provider.assert_stopped_once(EndReason.SERVER_ERROR)


# --- shapes and sharing -------------------------------------------------------------------------------


async def test_reentering_is_an_error(provider: Provider) -> None:
    """A session object is entered once."""
    session = provider.session()
    async with session:
        pass
    with pytest.raises(RuntimeError, match="once"):
        async with session:
            pass


def test_bad_arguments_fail_at_construction() -> None:
    """LiveAvatar: invalid arguments raise ConfigurationError before any network call."""
    with pytest.raises(ConfigurationError, match="avatar_id"):
        AvatarSession("nope", api_key=API_KEY)
    with pytest.raises(ConfigurationError, match="keep_alive_interval"):
        AvatarSession(AVATAR_ID, api_key=API_KEY, keep_alive_interval=0)
    with pytest.raises(ConfigurationError, match="stop_timeout"):
        AvatarSession(AVATAR_ID, api_key=API_KEY, stop_timeout=-1)
    with pytest.raises(ConfigurationError, match=r"video_settings\.quality"):
        AvatarSession(AVATAR_ID, api_key=API_KEY, video_settings={"quality": "8k"})


async def test_own_client_with_borrowed_http_session(provider: Provider) -> None:
    """A session that makes its own client closes it, but leaves a borrowed aiohttp session open."""
    async with aiohttp.ClientSession() as http:
        async with provider.own_session(
            credential=provider.credential, http_session=http
        ) as session:
            assert session.session_id
        assert not http.closed
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_two_hundred_sessions_on_one_client(provider: Provider) -> None:
    """200 concurrent sessions on one pool: each started once and stopped exactly once."""

    async def one(i: int) -> None:
        async with provider.session(keep_alive_interval=0.3):
            await anyio.sleep(0.5 + (i % 5) * 0.1)

    async with anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(one, i)
    assert len(provider.emulator.sessions) == 200
    for session in provider.made:
        provider.assert_stopped_once(EndReason.USER_CLOSED, session)
    assert provider.active() == []


async def test_wait_ended_returns_after_stop(provider: Provider) -> None:
    """wait_ended() returns once another task stopped the session."""
    async with provider.session() as session, anyio.create_task_group() as tg:

        async def stopper() -> None:
            await anyio.sleep(0.2)
            await session.stop(EndReason.USER_CLOSED)

        tg.start_soon(stopper)
        with anyio.fail_after(5):
            await session.wait_ended()
    assert session.end_reason is EndReason.USER_CLOSED


async def test_missed_beats_are_skipped_not_queued(provider: Provider) -> None:
    """After the loop was blocked through several due beats, one beat goes out, not a burst."""
    async with provider.session(keep_alive_interval=0.1):
        await anyio.sleep(0.3)
        time.sleep(0.6)  # noqa: ASYNC251 - blocking the loop on purpose: six beats fall due
        unblocked = time.monotonic()
        await anyio.sleep(0.35)
    beats = provider.emulator.requests("keep_alive")
    burst = [b for b in beats if unblocked <= b.at < unblocked + 0.08]
    # The emulator shares the loop: a beat sent just before the block may arrive just after it, next
    # to the one due beat. Queued beats would arrive as a burst of six.
    assert len(burst) <= 2
    after = [b for b in beats if b.at >= unblocked]
    assert 2 <= len(after) <= 5


async def test_keep_alive_failing_past_the_idle_window_ends_the_session(
    provider: Provider,
) -> None:
    """When no beat has succeeded for the provider's idle window, the session is stopped with
    IDLE_TIMEOUT and the block ends with SessionEndedError."""
    provider.emulator.inject("keep_alive", status=503, times=1000)
    session = provider.session_with_idle_window(0.6)
    with pytest.raises(SessionEndedError) as info:
        async with session:
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.IDLE_TIMEOUT
    assert session.statistics().keep_alives_failed >= 2
    provider.assert_stopped_once(EndReason.IDLE_TIMEOUT)
