"""``aioavatar._keepalive``: rules 5 to 8 of the lifecycle (``_session.py``) against the emulators: beats
on schedule, late ones skipped, failures within the idle window, the server's end learnt by a beat, and
the ``max_session_duration`` deadline; and rule 4, a keep-alive that itself fails.

Every test that takes ``provider`` runs once per provider; the deadline is LiveAvatar's only."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import traceback
from typing import Any, cast

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioavatar import (
    BaseSession,
    EndReason,
    KalturaAvatarClient,
    KalturaTimeouts,
    LiveAvatarClient,
    LiveAvatarTimeouts,
    RetryPolicy,
    SessionEndedError,
    SessionTokenRequest,
    Timeout,
)
from aioavatar._keepalive import next_due as _next_due
from aioavatar.liveavatar._backend import LiveAvatarBackend
from aioavatar.testing import LiveAvatarEmulator, RecordedRequest

from .conftest import AVATAR_ID
from .leaks import wait_until
from .providers import API_KEY, KALTURA_AVATAR_ID, KS, Provider, session_on

pytestmark = pytest.mark.anyio


# --- beats on schedule (rule 5) ------------------------------------------------------------------------


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


async def test_sessions_opened_together_beat_at_random_phases(provider: Provider) -> None:
    """Rule 5: the first beat of each session is due at a random point of its first interval, so
    that sessions opened together (a service starting up) do not beat in lockstep."""
    interval = 10.0
    offsets: list[float] = []
    async with anyio.create_task_group() as tg:
        leave = anyio.Event()

        async def hold() -> None:
            async with provider.session(keep_alive_interval=interval) as session:
                keepalive = session._keepalive
                assert keepalive is not None
                assert keepalive._timer is not None  # the first beat is armed for its due time
                offsets.append(keepalive._due - anyio.current_time())
                await leave.wait()

        for _ in range(40):
            tg.start_soon(hold)
        await wait_until(lambda: len(offsets) == 40)
        leave.set()
    assert all(-1.0 < offset <= interval for offset in offsets)
    assert len({round(offset, 6) for offset in offsets}) == 40
    assert max(offsets) - min(offsets) > interval * 0.3  # uniform: 40 draws spread this far


async def test_missed_beats_are_skipped_not_queued(provider: Provider) -> None:
    """After the loop was blocked through several due beats, one beat goes out, not a burst; the
    others are counted in ``statistics().keep_alives_skipped``."""
    interval = 0.1

    def arrived_after(moment: float) -> list[RecordedRequest]:
        return [b for b in provider.emulator.requests("keep_alive") if b.at >= moment]

    async with provider.session(keep_alive_interval=interval) as session:
        await anyio.sleep(0.3)
        before = session.statistics().keep_alives_skipped
        time.sleep(0.6)  # noqa: ASYNC251 - blocking the loop on purpose: six beats fall due
        unblocked = time.monotonic()
        await wait_until(lambda: len(arrived_after(unblocked)) >= 4)
        # The beats that fell due in the block and were not sent are counted as skipped.
        assert session.statistics().keep_alives_skipped - before >= 4
    first_four = arrived_after(unblocked)[:4]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(first_four)]
    # The emulator shares the loop: a beat sent just before the block may arrive just after it, next
    # to the next due beat (one short gap). Queued beats would arrive as a burst of six: every gap
    # a few milliseconds. Beats due one interval apart are never closer than half an interval.
    assert sum(gap < interval / 2 for gap in gaps) <= 1, gaps


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


# --- failed beats and the idle window (rule 6) ---------------------------------------------------------


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


# --- the server's end, learnt by a beat (rule 7) -------------------------------------------------------


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


async def test_the_servers_end_leaves_the_tasks_cancellation_count_as_it_was(
    provider: Provider,
) -> None:
    """The block's scope takes back the cancellation it sent: an enclosing ``asyncio.timeout()`` still
    sees SessionEndedError (not a timeout of its own), and the task has no cancellation request left
    over (``cancelling()`` is 0 again)."""
    task = asyncio.current_task()
    assert task is not None
    with pytest.raises(SessionEndedError):
        async with asyncio.timeout(60):
            async with provider.session(keep_alive_interval=0.1) as session:
                provider.end_on_server(session.session_id)
                await anyio.sleep(10)
    assert task.cancelling() == 0
    await asyncio.sleep(0)  # no cancellation is pending either: this await is not interrupted


async def test_a_block_that_swallows_the_servers_cancellation_exits_quietly(
    provider: Provider,
) -> None:
    """A block that catches the cancellation and returns at once exits without SessionEndedError;
    end_reason says why, no stop is sent and the task is left with no cancellation request."""
    task = asyncio.current_task()
    assert task is not None
    caught = False
    async with provider.session(keep_alive_interval=0.1) as session:
        expected = provider.end_on_server(session.session_id)
        try:
            await anyio.sleep(10)
        except asyncio.CancelledError:
            caught = True
    assert caught
    assert session.end_reason is expected
    assert task.cancelling() == 0
    assert provider.emulator.requests(provider.stop_step) == []


async def test_a_cancellation_of_the_callers_own_beside_the_servers_end_propagates(
    provider: Provider,
) -> None:
    """The server ends the session and the caller's task is cancelled too, in the same loop turn:
    the caller's cancellation is not taken for the lifecycle's and propagates as CancelledError."""
    entered = asyncio.Event()
    session_box: list[Any] = []

    async def block() -> None:
        async with provider.session(keep_alive_interval=20) as session:
            session_box.append(session)
            entered.set()
            await anyio.sleep(3600)

    task = asyncio.get_running_loop().create_task(block())
    with anyio.fail_after(30):  # a hang, not a speed limit
        await entered.wait()
    (session,) = session_box
    # What a beat answered 404 does (rule 7), and at once a cancellation of the caller's own.
    session._on_server_end(EndReason.UNKNOWN)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert session.end_reason is EndReason.UNKNOWN
    assert provider.emulator.requests(provider.stop_step) == []


async def test_the_servers_end_is_not_lost_to_an_await_that_swallows_one_cancellation(
    provider: Provider,
) -> None:
    """Python 3.11's ``asyncio.wait_for`` returns a result that arrived in the same loop turn as a
    cancellation, and drops the cancellation: the block's cancellation is level-triggered, so the
    next await is cancelled again and the block still ends with SessionEndedError."""
    loop = asyncio.get_running_loop()
    reached_end = False
    with pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=20) as session:
            answer: asyncio.Future[str] = loop.create_future()

            def both() -> None:
                answer.set_result("answer")
                session._on_server_end(EndReason.UNKNOWN)  # what a beat answered 404 does

            loop.call_soon(both)
            await asyncio.wait_for(answer, 10)
            await anyio.sleep(30)
            reached_end = True
    assert not reached_end


async def test_a_shield_inside_the_block_holds_off_the_servers_end(provider: Provider) -> None:
    """A cleanup the block shields (``anyio.CancelScope(shield=True)``) runs to its end although the
    server ends the session meanwhile; the block is cancelled at its next await after it."""
    finished = reached_end = False
    with pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=0.05) as session:
            with anyio.CancelScope(shield=True):
                provider.end_on_server(session.session_id)
                await wait_until(lambda: session.end_reason is not None)
                await anyio.sleep(0.2)
                finished = True
            await anyio.sleep(30)
            reached_end = True
    assert finished
    assert not reached_end


def _raise_in_a_helper() -> None:
    raise ValueError("the block's own")


async def test_the_blocks_exception_keeps_its_own_traceback(provider: Provider) -> None:
    """Rule 12: the block's exception propagates unchanged, its traceback included: it starts in the
    block, not in the lifecycle's exit."""
    with pytest.raises(ValueError, match="the block's own") as info:
        async with provider.session(keep_alive_interval=20):
            _raise_in_a_helper()
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "_raise_in_a_helper"
    assert not {"__aexit__", "_finish"} & set(frames), frames


async def test_keep_alive_410_ends_with_unknown_reason_when_lookup_has_none(
    provider: Provider,
) -> None:
    """410 on keep-alive means gone; without a recorded reason (LiveAvatar's lookup gives an
    ``end_at`` alone; Kaltura has no lookup) the end reason is UNKNOWN, and no stop is sent."""
    with pytest.raises(SessionEndedError) as info:
        async with provider.session(keep_alive_interval=0.1) as session:
            if provider.name == "liveavatar":
                entry = {"id": session.session_id, "end_at": "2026-12-05T03:00:00Z"}
                body = json.dumps({"code": 1000, "data": entry}).encode()
                provider.emulator.inject("get", body=body)
            provider.emulator.inject("keep_alive", status=410)
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.UNKNOWN
    assert provider.emulator.requests(provider.stop_step) == []


@pytest.mark.parametrize("status", [404, 410])
async def test_a_beat_answered_gone_for_a_session_listed_as_running_stops_it(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, status: int
) -> None:
    """Rule 7 against the lookup: a beat answered 404 or 410 (a proxy's answer, a replica behind)
    while the server still lists the session as running. The answer is not believed: the session
    is stopped once with SERVER_ERROR, as in rule 14, and the block ends as in rule 7."""
    with pytest.raises(SessionEndedError) as info:
        async with session_on(client, keep_alive_interval=0.1) as session:
            emulator.inject("keep_alive", status=status)
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.SERVER_ERROR
    assert session.end_reason is EndReason.SERVER_ERROR
    assert len(emulator.requests("get", session_id=session.session_id)) == 1
    assert emulator.stop_reasons(session.session_id) == ["SERVER_ERROR"]
    assert session.session_id not in [s.id for s in emulator.active_sessions()]


async def test_a_block_awaiting_wait_ended_exits_quietly_when_the_server_ends_it(
    provider: Provider,
) -> None:
    """The lifecycle guide's first pattern: the block awaits wait_ended(), the server ends the session, the
    block runs to its end, and async with raises nothing; end_reason says why."""
    after = False
    async with provider.session(keep_alive_interval=0.05) as session:
        expected = provider.end_on_server(session.session_id)
        await session.wait_ended()
        after = True
    assert after
    assert session.end_reason is expected
    assert provider.emulator.requests(provider.stop_step) == []


# --- the deadline (rule 8) -----------------------------------------------------------------------------


async def test_a_deadline_stop_that_finds_the_session_ended_raises_the_servers_reason(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The server reaps the session just before its deadline, and no beat notices: the deadline's
    stop is answered 404 and the server's reason is looked up (rule 9). ``SessionEndedError`` and
    ``end_reason`` both say that reason, not the MAX_DURATION_REACHED the stop sent."""
    # Beats fail softly (503): a first beat drawn within the second would learn of the end first.
    emulator.inject("keep_alive", status=503, times=1000)
    with pytest.raises(SessionEndedError) as info:
        async with session_on(client, keep_alive_interval=60.0, max_session_duration=1) as session:
            emulator.end_session(session.session_id, EndReason.ZOMBIE_SESSION_REAP)
            await anyio.sleep_forever()
    assert info.value.end_reason is EndReason.ZOMBIE_SESSION_REAP
    assert session.end_reason is EndReason.ZOMBIE_SESSION_REAP
    assert emulator.stop_reasons(session.session_id) == ["MAX_DURATION_REACHED"]


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
    # The SDK stopped it: the error does not say the server did.
    assert str(info.value) == f"session {sid} ended: MAX_DURATION_REACHED"
    assert emulator.stop_reasons(sid) == ["MAX_DURATION_REACHED"]
    assert emulator.sessions[sid].end_reason is EndReason.MAX_DURATION_REACHED


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
    number gives no deadline, logged at WARNING (rule 8; a non-number was not logged until now): the
    session runs, is kept alive, and stops once with USER_CLOSED."""
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


# --- a keep-alive that itself fails (rule 4) -----------------------------------------------------------


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


async def test_a_beat_takes_no_longer_than_the_clients_keep_alive_limit(provider: Provider) -> None:
    """A client's ``timeouts.keep_alive`` bounds its sessions' beats as it bounds
    ``client.keep_alive()``: with a 0.2 s limit, a beat the server answers after 0.6 s fails, although
    half the interval (1 s, the beats' own bound) would have waited for it."""
    limit = Timeout(total=0.2, connect=0.2)
    client: LiveAvatarClient | KalturaAvatarClient
    if isinstance(provider.client, LiveAvatarClient):
        client = LiveAvatarClient(
            API_KEY,
            base_url=provider.emulator.base_url,
            timeouts=LiveAvatarTimeouts(keep_alive=limit),
            retry_policy=RetryPolicy(retries=0),
        )
    else:
        client = KalturaAvatarClient(
            ks=KS,
            base_url=provider.emulator.base_url,
            timeouts=KalturaTimeouts(keep_alive=limit),
            retry_policy=RetryPolicy(retries=0),
        )
    beat = "keep_alive"
    provider.emulator.inject(beat, delay=0.6, times=1000)
    async with client:
        options: dict[str, Any] = {"keep_alive_interval": 2.0, "stop_timeout": 2.0}
        if isinstance(client, LiveAvatarClient):
            session: Any = client.session(AVATAR_ID, is_sandbox=True, **options)
        else:
            session = client.session(KALTURA_AVATAR_ID, **options)
        async with session:
            await wait_until(lambda: session.statistics().keep_alives_failed >= 1, within=30)
            assert session.statistics().keep_alives_sent == 0
