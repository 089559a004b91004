"""The session lifecycle against the emulators: every exit path ends with exactly one stop.

Every test that takes ``provider`` runs once per provider (LiveAvatar and Kaltura): the lifecycle is
written once, and so is its test matrix. The few that only make sense for LiveAvatar (token creation
before start, ``max_session_duration``) use its fixtures directly.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import aiohttp
import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from aioavatar._keepalive import next_due as _next_due
from aioavatar.liveavatar._backend import LiveAvatarBackend
from aioavatar.testing import LiveAvatarEmulator, RecordedRequest

from .conftest import API_KEY, AVATAR_ID
from .leaks import wait_until
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


async def cancel_when(
    style: str, ready: Callable[[], bool], body: Callable[[], Awaitable[None]]
) -> None:
    """Run ``body`` and cancel it in the given style as soon as ``ready()`` holds (the block runs, or
    a request the emulator holds back has arrived); assert it was cancelled."""

    async def cancel_once_ready(cancel: Callable[[], object]) -> None:
        await wait_until(ready)
        cancel()

    if style == "scope":
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_once_ready, scope.cancel)
                await body()
        assert scope.cancelled_caught
    elif style == "task":
        task = asyncio.ensure_future(body())
        await cancel_once_ready(task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(None) as timeout, anyio.create_task_group() as tg:
                tg.start_soon(cancel_once_ready, lambda: timeout.reschedule(loop.time()))
                await body()


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_in_body_stops_with_user_disconnected(provider: Provider, style: str) -> None:
    """A cancelled block sends one stop with USER_DISCONNECTED and the cancellation propagates."""

    running = anyio.Event()

    async def body() -> None:
        async with provider.session():
            running.set()
            await anyio.sleep(30)

    await cancel_when(style, running.is_set, body)
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_during_token_sends_no_start(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, style: str
) -> None:
    """LiveAvatar: a cancel while the token is being created sends no start and no stop."""
    token = emulator.inject("token", delay=1.0)

    async def body() -> None:
        async with session_on(client):
            pytest.fail("the block must not run")

    await cancel_when(style, lambda: token.hits == 1, body)  # the token request is held
    await wait_until(lambda: len(emulator.requests("token")) == 1)  # and now answered
    await anyio.sleep(0.2)  # a start that followed the answer would arrive within this
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
    opening = provider.emulator.inject(step, delay=0.6)

    async def body() -> None:
        async with provider.session():
            pytest.fail("the block must not run")

    await cancel_when(style, lambda: opening.hits == 1, body)  # the request is held: in flight
    answered = 201 if step == "start" else 200  # LiveAvatar's start is a 201, Kaltura's calls 200s
    assert [r.status for r in provider.emulator.requests(step)] == [answered]
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_inside_a_beat(provider: Provider, style: str) -> None:
    """A cancel while a keep-alive is in flight still ends with exactly one stop."""
    beat = provider.emulator.inject("keep_alive", delay=5.0, times=100)

    async def body() -> None:
        async with provider.session(keep_alive_interval=0.1):
            await anyio.sleep(30)

    await cancel_when(style, lambda: beat.hits >= 1, body)  # a beat is held: in flight
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_inside_stop_still_delivers_it(provider: Provider, style: str) -> None:
    """A cancel that lands while the exit's stop is in flight does not abort the stop."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.6)

    async def body() -> None:
        async with provider.session():
            await anyio.sleep(0.2)

    await cancel_when(style, lambda: stop.hits == 1, body)  # the block has ended; its stop is held
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_hung_stop_is_abandoned_after_stop_timeout(provider: Provider) -> None:
    """A stop that hangs is given up after stop_timeout: SessionStopError with the session id."""
    stop = provider.emulator.inject(provider.stop_step, delay=3600.0)  # never answered in the test
    started = anyio.current_time()
    with pytest.raises(SessionStopError) as info:
        async with provider.session(stop_timeout=0.5) as session:
            pass
    assert anyio.current_time() - started >= 0.49  # stop_timeout was waited out (loop clock)
    assert stop.hits == 1  # the stop reached the server...
    assert provider.emulator.requests(provider.stop_step) == []  # ...which never answered it
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
        await wait_until(lambda: session.statistics().keep_alives_sent >= 1)
        stats = session.statistics()
    assert stats.keep_alives_sent >= 1
    assert stats.last_keep_alive_at is not None
    statuses = [r.status for r in provider.emulator.requests("keep_alive")]
    assert statuses[:4] == [503] * 4
    assert 200 in statuses
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_keep_alive_beats_on_schedule(provider: Provider) -> None:
    """Beats use the session token, are counted as they are answered, and are never closer together
    than the interval allows (they are due at fixed times, one interval apart)."""
    async with provider.session(keep_alive_interval=0.2) as session:
        await wait_until(lambda: session.statistics().keep_alives_sent >= 4)
        answered = session.statistics().keep_alives_sent
    beats = provider.emulator.requests("keep_alive")
    assert {b.auth for b in beats} == {"bearer"}
    assert answered <= len(beats) <= answered + 1  # at most one was in flight at the exit
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(beats)]
    assert min(gaps) >= 0.2 * 0.5  # due one interval apart; a late beat is skipped, never bunched


async def test_deadline_stops_with_max_duration(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """LiveAvatar: at max_session_duration the SDK stops the session and the block ends with
    SessionEndedError."""
    # Beats fail softly (503), so that none learns of the server's own end (it runs out the same
    # second) first: the SDK's stop at the deadline is what ends the session, every time.
    emulator.inject("keep_alive", status=503, times=1000)
    with pytest.raises(SessionEndedError) as info:
        async with session_on(client, max_session_duration=1) as session:
            assert session.statistics().deadline is not None
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.MAX_DURATION_REACHED
    (sid,) = emulator.sessions
    assert emulator.stop_reasons(sid) == ["MAX_DURATION_REACHED"]
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
    interval = 0.1

    def arrived_after(moment: float) -> list[RecordedRequest]:
        return [b for b in provider.emulator.requests("keep_alive") if b.at >= moment]

    async with provider.session(keep_alive_interval=interval):
        await anyio.sleep(0.3)
        time.sleep(0.6)  # noqa: ASYNC251 - blocking the loop on purpose: six beats fall due
        unblocked = time.monotonic()
        await wait_until(lambda: len(arrived_after(unblocked)) >= 4)
    first_four = arrived_after(unblocked)[:4]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(first_four)]
    # The emulator shares the loop: a beat sent just before the block may arrive just after it, next
    # to the next due beat (one short gap). Queued beats would arrive as a burst of six: every gap
    # a few milliseconds. Beats due one interval apart are never closer than half an interval.
    assert sum(gap < interval / 2 for gap in gaps) <= 1, gaps


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


# --- lost answers, hostile answers, absurd inputs ---------------------------------------------------


@pytest.mark.parametrize(("provider", "step"), LAST_OPEN_STEPS, indirect=["provider"])
async def test_lost_open_answer_and_failed_stop_say_the_session_may_run(
    provider: Provider, step: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Open's answer is lost after it took effect and the stop that follows fails until
    stop_timeout: SessionStopError with the session id, chained to open's error, a WARNING, and no
    end reason (the session is not known to have ended)."""
    provider.emulator.inject(step, apply=True, drop=True)
    provider.emulator.inject(provider.stop_step, status=503, times=1000)
    session = provider.session(stop_timeout=0.5)
    with (
        caplog.at_level(logging.WARNING, logger="aioavatar"),
        pytest.raises(SessionStopError) as info,
    ):
        async with session:
            pytest.fail("the block must not run")
    sid = session.session_id
    assert info.value.session_id == sid
    assert isinstance(info.value.__cause__, TransportError)
    assert "may still be running" in str(info.value)
    assert session.end_reason is None
    assert provider.active() == [sid]  # it does run: the user was told so
    assert provider.stops(sid) >= 1
    assert any(
        sid in r.getMessage() and "may still be running" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize(("provider", "step"), OPEN_STEPS, indirect=["provider"])
async def test_cancelled_open_with_a_failed_stop_notes_the_session_on_the_cancellation(
    provider: Provider, step: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A start cancelled while in flight whose stop then fails: the cancellation propagates (it must)
    with a note naming the session and saying it may still run, and a WARNING says the same."""
    opening = provider.emulator.inject(step, delay=1.0)
    provider.emulator.inject(provider.stop_step, status=503, times=1000)
    session = provider.session(stop_timeout=0.5)

    async def body() -> None:
        async with session:
            pytest.fail("the block must not run")

    with caplog.at_level(logging.WARNING, logger="aioavatar"):
        task = asyncio.ensure_future(body())
        await wait_until(lambda: opening.hits == 1)  # the open request is in flight (held 1 s)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    sid = session.session_id
    notes = getattr(info.value, "__notes__", [])
    assert any(sid in note and "may still be running" in note for note in notes)
    assert session.end_reason is None
    assert any(sid in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


@pytest.mark.parametrize(
    "duration", [b"1" + b"0" * 12, b"1" + b"0" * 400, b"1e308", b"-5", b"0", b'"soon"', b"true"]
)
async def test_an_absurd_duration_from_the_server_means_no_deadline(
    client: LiveAvatarClient,
    emulator: LiveAvatarEmulator,
    duration: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A start answer whose max_session_duration is huge (1e12, 1e400), negative, zero or not a
    number gives no deadline: the session runs, is kept alive, and stops once with USER_CLOSED."""
    answer = (
        b'{"code": 1000, "data": {"session_id": "' + AVATAR_ID.encode() + b'", '
        b'"livekit_url": "wss://x", "livekit_client_token": "t", '
        b'"max_session_duration": ' + duration + b"}}"
    )
    emulator.inject("start", apply=True, body=answer)
    with caplog.at_level(logging.WARNING, logger="aioavatar"):
        async with session_on(client, keep_alive_interval=0.05) as session:
            assert session.statistics().deadline is None
            await wait_until(lambda: session.statistics().keep_alives_sent >= 2)
    assert session.end_reason is EndReason.USER_CLOSED
    assert emulator.stop_reasons(session.session_id) == ["USER_CLOSED"]
    if duration not in (b'"soon"', b"true"):  # a non-number reads as "not given", silently
        assert any("not a usable number" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("duration", [b"1" + b"0" * 12, b"-1", b"0", b"1e-6"])
async def test_an_absurd_server_duration_keeps_the_callers_own_limit(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, duration: bytes
) -> None:
    """The caller asked for max_session_duration=1 and the start answer carries an absurd value: the
    caller's own limit still holds (the session is stopped with MAX_DURATION_REACHED)."""
    answer = (
        b'{"code": 1000, "data": {"session_id": "' + AVATAR_ID.encode() + b'", '
        b'"livekit_url": "wss://x", "livekit_client_token": "t", '
        b'"max_session_duration": ' + duration + b"}}"
    )
    emulator.inject("start", apply=True, body=answer)
    # Beats fail softly (503), so that none learns of the server's own end (it runs out the same
    # second) first: the SDK's stop at the deadline is what ends the session, every time.
    emulator.inject("keep_alive", status=503, times=1000)
    async with session_on(client, max_session_duration=1) as session:
        assert session.statistics().deadline is not None
        await session.wait_ended()
    assert session.end_reason is EndReason.MAX_DURATION_REACHED
    assert emulator.stop_reasons(session.session_id) == ["MAX_DURATION_REACHED"]


@pytest.mark.parametrize("value", [10**12, 10**400, 86_401, 0, -1, 1.5, True, "600"])
def test_max_session_duration_is_checked_against_the_apis_range(value: object) -> None:
    """max_session_duration is an integer from 1 to 86,400 s, checked before any network call."""
    with pytest.raises(ConfigurationError, match="integer") as info:
        AvatarSession(AVATAR_ID, api_key=API_KEY, max_session_duration=value)  # type: ignore[arg-type]
    assert info.value.field == "max_session_duration"


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


@pytest.mark.parametrize("raised", [asyncio.CancelledError, KeyboardInterrupt, SystemExit])
async def test_end_reason_for_raising_anything_still_sends_the_stop(
    provider: Provider, raised: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    """end_reason_for raising CancelledError, KeyboardInterrupt or SystemExit: the stop is sent once
    with the table's reason; KeyboardInterrupt and SystemExit are then delivered, a CancelledError
    (which a plain function cannot receive from the loop) is logged and the block's error wins."""

    def mapper(exc: BaseException) -> EndReason:
        raise raised()

    expected: type[BaseException] = KeyError if raised is asyncio.CancelledError else raised
    with caplog.at_level(logging.WARNING, logger="aioavatar"), pytest.raises(expected) as info:
        async with provider.session(end_reason_for=mapper):
            raise KeyError("the block failed")
    provider.assert_stopped_once(EndReason.SERVER_ERROR)
    if expected is not KeyError:
        assert isinstance(info.value.__cause__, KeyError)
    assert any("end_reason_for raised" in r.getMessage() for r in caplog.records)


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


@given(
    due=st.floats(0, 1e6),
    interval=st.floats(0.01, 150),
    late=st.floats(0, 1e9),
)
@settings(max_examples=300, deadline=None)
def test_the_next_beat_is_computed_not_counted(due: float, interval: float, late: float) -> None:
    """The next due time is after now and at most one interval later, whatever the lateness (a
    loop that counted up to it froze on tiny intervals)."""
    now = due + late
    nxt = _next_due(due, interval, now)
    assert nxt > now
    assert nxt - now <= interval * (1 + 1e-9) + 1e-6


@pytest.mark.parametrize("style", ["task", "scope"])
@pytest.mark.parametrize("turns", [1, 2])
async def test_a_cancellation_after_a_clean_return_keeps_user_closed(
    provider: Provider, style: str, turns: int
) -> None:
    """A cancellation that lands one or two loop turns after the block returned normally (while the
    background task is torn down) stops with USER_CLOSED, and is delivered after the stop."""
    loop = asyncio.get_running_loop()

    def later(action: Callable[[], object], n: int) -> None:
        loop.call_soon(action if n == 1 else (lambda: later(action, n - 1)))

    if style == "task":

        async def body() -> None:
            task = asyncio.current_task()
            assert task is not None
            async with provider.session():
                later(task.cancel, turns)

        with pytest.raises(asyncio.CancelledError):
            await asyncio.ensure_future(body())
    else:
        with anyio.CancelScope() as scope:
            async with provider.session():
                later(scope.cancel, turns)
        assert scope.cancel_called
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_a_204_on_stop_is_a_confirmed_stop(provider: Provider) -> None:
    """A stop answered 204 No Content (the server stopped the session) is a success: no
    SessionStopError, the end reason recorded."""
    provider.emulator.inject(provider.stop_step, apply=True, status=204)
    async with provider.session() as session:
        pass
    provider.assert_stopped_once(EndReason.USER_CLOSED, session)


async def test_a_session_outside_asyncio_says_so() -> None:
    """Under trio, entering a session raises a RuntimeError that names asyncio."""

    async def enter() -> None:
        async with AvatarSession(AVATAR_ID, api_key=API_KEY, base_url="http://127.0.0.1:9"):
            pass  # pragma: no cover - never reached

    with pytest.raises(RuntimeError, match="aioavatar runs on asyncio"):
        await anyio.to_thread.run_sync(lambda: anyio.run(enter, backend="trio"))


# --- how a session ends, as a new user meets it --------------------------------------------------


class _BrokenLoopBackend(LiveAvatarBackend):
    """A backend whose idle window cannot be read once the session runs: the keep-alive loop itself
    fails (as it did when a dependency lacked a function), not a call it makes."""

    reads = 0

    @property  # a plain attribute in the protocol
    def idle_timeout(self) -> float:  # type: ignore[override]
        self.reads += 1
        if self.reads > 1:  # the first read is the constructor's check
            raise AttributeError("module 'anyio' has no attribute 'move_on_at'")
        return 300.0


async def test_a_failing_background_task_is_raised_not_a_bare_cancellation(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The keep-alive loop itself fails: the block is cancelled, the session is stopped with
    SERVER_ERROR, and async with raises the loop's real error, not a CancelledError."""
    backend = _BrokenLoopBackend(client, SessionTokenRequest(avatar_id=AVATAR_ID, is_sandbox=True))
    session: BaseSession[Any] = BaseSession(
        cast(Any, backend), keep_alive_interval=0.05, stop_timeout=2.0, end_reason_for=None
    )
    emulator.inject("keep_alive", status=503, times=100)  # a failed beat reads the idle window
    reached_end = False
    with pytest.raises(AttributeError, match="move_on_at"):
        async with session:
            await anyio.sleep(30)
            reached_end = True
    assert not reached_end
    assert session.end_reason is EndReason.SERVER_ERROR
    assert emulator.stop_reasons(session.session_id) == ["SERVER_ERROR"]


async def test_a_block_awaiting_wait_ended_exits_quietly_when_the_server_ends_it(
    provider: Provider,
) -> None:
    """The README's first pattern: the block awaits wait_ended(), the server ends the session, the
    block runs to its end, and async with raises nothing; end_reason says why."""
    after = False
    async with provider.session(keep_alive_interval=0.05) as session:
        expected = provider.end_on_server(session.session_id)
        await session.wait_ended()
        after = True
    assert after
    assert session.end_reason is expected
    assert provider.emulator.requests(provider.stop_step) == []


async def test_the_deadline_wakes_a_block_awaiting_wait_ended(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """max_session_duration runs out while the block awaits wait_ended(): the SDK stops the
    session, wait_ended() returns, and the block ends without SessionEndedError."""
    # Beats fail softly (503), so that none learns of the server's own end (it runs out the same
    # second) first: the SDK's stop at the deadline is what ends the session, every time.
    emulator.inject("keep_alive", status=503, times=1000)
    async with session_on(client, max_session_duration=1, keep_alive_interval=0.2) as session:
        await session.wait_ended()
    assert session.end_reason is EndReason.MAX_DURATION_REACHED
    assert emulator.stop_reasons(session.session_id) == ["MAX_DURATION_REACHED"]


async def test_a_stop_that_finds_the_session_stopped_elsewhere_reports_the_servers_reason(
    provider: Provider,
) -> None:
    """Another client stopped the session while the block held it: our stop answers 404 (or 410),
    and end_reason is the reason the server recorded (UNKNOWN where the API cannot say), not ours."""
    async with provider.session(keep_alive_interval=25.0) as session:
        expected = provider.end_on_server(session.session_id)  # no beat will notice it in time
    assert session.end_reason is expected
    assert provider.stops(session.session_id) == 1
    if provider.name == "liveavatar":
        assert expected is EndReason.ZOMBIE_SESSION_REAP
        lookups = provider.emulator.requests("get", session_id=session.session_id)
        assert len(lookups) == 1


async def test_stopped_elsewhere_with_agent_hang_up(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """`aioavatar sessions stop ID --reason agent_hang_up` from another process: the holder learns
    AGENT_HANG_UP."""
    async with (
        session_on(client, keep_alive_interval=60.0) as session,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as other,
    ):
        await other.stop_session(session.session_id, reason="agent_hang_up")
    assert session.end_reason is EndReason.AGENT_HANG_UP
    assert emulator.stop_reasons(session.session_id) == ["AGENT_HANG_UP", "USER_CLOSED"]


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


def test_an_unknown_field_suggests_the_closest_and_lists_the_accepted_ones() -> None:
    """A misspelt field names the closest accepted one and lists them all."""
    with pytest.raises(ConfigurationError, match="did you mean 'video_settings'") as info:
        AvatarSession(AVATAR_ID, api_key=API_KEY, vidoe_settings={})  # type: ignore[call-arg]
    assert "max_session_duration" in str(info.value)
    with pytest.raises(ConfigurationError, match="did you mean 'quality'") as nested:
        AvatarSession(AVATAR_ID, api_key=API_KEY, video_settings={"qualty": "high"})
    assert nested.value.field == "video_settings"


def test_the_sandbox_avatar_id_is_exported() -> None:
    """The one avatar of sandbox sessions is a constant of the package."""
    import aioavatar

    assert aioavatar.SANDBOX_AVATAR_ID == "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
    assert aioavatar.liveavatar.SANDBOX_AVATAR_ID == aioavatar.SANDBOX_AVATAR_ID


async def test_a_cancellation_during_a_failing_stop_carries_the_news(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    """The block returns, the stop fails slowly, and a cancellation lands meanwhile: the
    cancellation propagates with a note naming the session and saying it may still run, and a
    WARNING says the same; end_reason stays None."""
    provider.emulator.inject(provider.stop_step, status=503, delay=0.2, times=1000)
    session = provider.session(stop_timeout=1.0)

    async def body() -> None:
        async with session:
            pass

    with caplog.at_level(logging.WARNING, logger="aioavatar"):
        task = asyncio.ensure_future(body())
        await wait_until(lambda: session.state is SessionState.STOPPING)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    sid = session.session_id
    assert any(sid in note and "may still be running" in note for note in info.value.__notes__)
    assert session.end_reason is None
    assert any(
        sid in r.getMessage() and "may still be running" in r.getMessage() for r in caplog.records
    )


async def test_a_deadline_stop_that_fails_raises_session_stop_error(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """At max_session_duration the SDK's stop is answered 503 until stop_timeout: async with raises
    SessionStopError (the session may still run), not SessionEndedError, and end_reason stays None."""
    emulator.inject("stop", status=503, times=1000)
    # Beats fail softly (503), so that none learns of the server's own end at the same second first.
    emulator.inject("keep_alive", status=503, times=1000)
    with pytest.raises(SessionStopError) as info:
        async with session_on(client, max_session_duration=1, stop_timeout=0.5) as session:
            await anyio.sleep(30)
    assert info.value.session_id == session.session_id
    assert session.end_reason is None
    assert emulator.stop_reasons(session.session_id)[0] == "MAX_DURATION_REACHED"


async def test_an_idle_stop_that_fails_raises_session_stop_error(provider: Provider) -> None:
    """Every beat fails past the idle window and so does the stop that follows: SessionStopError
    with the session id, end_reason None."""
    session = provider.session_with_idle_window(0.3)
    provider.emulator.inject("keep_alive", status=503, times=10_000)
    provider.emulator.inject(provider.stop_step, status=503, times=10_000)
    with pytest.raises(SessionStopError) as info:
        async with session:
            await anyio.sleep(30)
    assert info.value.session_id == session.session_id
    assert session.end_reason is None
