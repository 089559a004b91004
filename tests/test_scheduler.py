"""``_scheduler.py``: one client's timers and its bounded pool of workers, alone and under the sessions
of a client (issue 14: one keep-alive scheduler per client instead of a task per session)."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest

from aioavatar import AvatarSession, EndReason, LiveAvatarClient, SessionEndedError
from aioavatar import _scheduler as scheduler_module
from aioavatar._keepalive import KeepAlive
from aioavatar._scheduler import Scheduler, beat_workers
from aioavatar.testing import LiveAvatarEmulator

from .clocks import CoarseClockLoop, kept_busy
from .conftest import API_KEY, AVATAR_ID
from .leaks import wait_until

pytestmark = pytest.mark.anyio


async def test_due_jobs_run_on_at_most_the_pool_of_workers() -> None:
    """Twenty jobs due at once, each blocked until released, run four at a time on a pool of four;
    once released every one has run, in the order they were due."""
    scheduler = Scheduler(workers=4)
    release = asyncio.Event()
    started: list[int] = []
    loop = asyncio.get_running_loop()

    def job(index: int) -> object:
        async def run(urgent: bool) -> None:
            started.append(index)
            await release.wait()

        return run

    now = loop.time()
    for index in range(20):
        scheduler.call_at(now + index * 1e-6, job(index))  # type: ignore[arg-type]
    await wait_until(lambda: len(started) == 4)
    assert scheduler.workers == 4
    await anyio.sleep(0.05)  # more loop turns: still no fifth worker
    assert len(started) == 4
    assert scheduler.workers == 4
    release.set()
    await wait_until(lambda: len(started) == 20)
    assert started == list(range(20))
    await scheduler.aclose()
    assert scheduler.workers == 0


async def test_an_urgent_job_gets_a_worker_of_its_own_when_all_are_busy() -> None:
    """A deadline's stop must not wait behind a saturated pool: an urgent job starts a worker beyond
    the pool's size, and runs before the queued ordinary jobs; that worker ends with it."""
    scheduler = Scheduler(workers=1)
    release = asyncio.Event()
    ran: list[str] = []

    async def blocking(urgent: bool) -> None:
        ran.append("blocking")
        await release.wait()

    async def ordinary(urgent: bool) -> None:
        ran.append("ordinary, told it was urgent" if urgent else "ordinary")

    async def urgent(urgent: bool) -> None:
        ran.append("urgent" if urgent else "urgent, told it was not")

    now = asyncio.get_running_loop().time()
    scheduler.call_at(now, blocking)
    await wait_until(lambda: ran == ["blocking"])
    scheduler.call_at(now, ordinary)
    scheduler.call_at(now, urgent, urgent=True)
    await wait_until(lambda: "urgent" in ran)
    # The urgent job ran first, on a worker beyond the pool (the only one is still blocked), which
    # ended with it: it does not go on with the queue, or every deadline reached while the pool is
    # busy would widen it for good.
    await wait_until(lambda: scheduler.workers == 1)
    await anyio.sleep(0.05)  # more loop turns: the ordinary job waits for the pool's worker
    assert ran == ["blocking", "urgent"]
    release.set()
    await wait_until(lambda: ran == ["blocking", "urgent", "ordinary"])
    await scheduler.aclose()


async def test_a_cancelled_timer_never_runs_its_job() -> None:
    """Cancelling the key ``call_at`` returned drops the job (a session that stops drops its beat)."""
    scheduler = Scheduler(workers=2)
    ran: list[str] = []

    async def dropped(urgent: bool) -> None:
        ran.append("dropped")

    async def kept(urgent: bool) -> None:
        ran.append("kept")

    now = asyncio.get_running_loop().time()
    scheduler.cancel(scheduler.call_at(now + 0.01, dropped))
    scheduler.call_at(now + 0.02, kept)
    await wait_until(lambda: ran == ["kept"])
    await anyio.sleep(0.05)
    assert ran == ["kept"]
    await scheduler.aclose()


async def test_a_job_that_raises_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A job is not meant to raise; one that does is logged with its traceback and dropped, and the
    worker goes on with the next job."""
    scheduler = Scheduler(workers=1)
    ran: list[str] = []

    async def broken(urgent: bool) -> None:
        raise RuntimeError("boom")

    async def fine(urgent: bool) -> None:
        ran.append("fine")

    now = asyncio.get_running_loop().time()
    with caplog.at_level(logging.ERROR, logger="aioavatar"):
        scheduler.call_at(now, broken)
        scheduler.call_at(now, fine)
        await wait_until(lambda: ran == ["fine"])
    assert any("scheduled job failed" in r.getMessage() and r.exc_info for r in caplog.records)
    await scheduler.aclose()


async def test_aclose_cancels_a_job_in_progress_and_drops_the_queue() -> None:
    """Closing the scheduler (the client closing) ends its workers, a job in progress included, and
    runs nothing that was still queued or due later."""
    scheduler = Scheduler(workers=1)
    ran: list[str] = []
    cancelled = asyncio.Event()

    async def hanging(urgent: bool) -> None:
        ran.append("hanging")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def queued(urgent: bool) -> None:
        ran.append("queued")

    now = asyncio.get_running_loop().time()
    scheduler.call_at(now, hanging)
    scheduler.call_at(now, queued)
    scheduler.call_at(now + 0.01, queued)
    await wait_until(lambda: ran == ["hanging"])
    await scheduler.aclose()
    assert cancelled.is_set()
    assert scheduler.workers == 0
    await anyio.sleep(0.05)
    assert ran == ["hanging"]


def test_a_timer_run_early_by_the_loops_clock_runs_the_job_due() -> None:
    """On a coarse clock the loop runs the scheduler's timer up to a tick before the job is due:
    the job runs in that firing, instead of the timer being armed again for the same moment,
    turn after turn, until the clock catches up (a loop spinning on one timer)."""
    scheduler = Scheduler(workers=1)
    ran = asyncio.Event()

    async def job(urgent: bool) -> None:
        ran.set()

    async def scheduled() -> None:
        loop = asyncio.get_running_loop()
        try:
            with kept_busy():
                scheduler.call_at(loop.time() + 0.1005, job)  # between ticks: it runs a tick early
                await ran.wait()
        finally:
            await scheduler.aclose()

    with asyncio.Runner(loop_factory=CoarseClockLoop) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, CoarseClockLoop)
        loop.counted = scheduler
        runner.run(scheduled())
        # Its own timer once; then the timer that ends idle workers, the worker having run the job.
        assert loop.armed_names == ["_on_timer", "_reap"]


async def _four_workers_released(scheduler: Scheduler, *, apart: float = 0.0) -> None:
    """Four jobs at once on ``scheduler``, released ``apart`` seconds one after the other: four
    workers, which then go idle."""
    loop = asyncio.get_running_loop()
    releases = [asyncio.Event() for _ in range(4)]
    started: list[int] = []

    def blocked(index: int) -> Any:
        async def run(urgent: bool) -> None:
            started.append(index)
            await releases[index].wait()

        return run

    for index in range(4):
        scheduler.call_at(loop.time(), blocked(index))
    await wait_until(lambda: len(started) == 4)
    assert scheduler.workers == 4
    for release in releases:
        release.set()
        await anyio.sleep(apart)


async def test_jobs_one_at_a_time_reuse_the_latest_idle_worker_and_arm_no_timer_per_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beats spread out over time (the usual case: thousands of sessions at random phases) find the
    pool idle. Each job goes to the worker that went idle last, so that the others can end, and a
    worker's wait arms no loop timer of its own (that was one timer pushed on the loop's heap, and
    cancelled, per beat): the only timers armed are the scheduler's, one per due entry."""
    monkeypatch.setattr(scheduler_module, "_IDLE_WORKER_SECONDS", 1000.0)  # none ends here
    scheduler = Scheduler(workers=4)
    loop = asyncio.get_running_loop()
    await _four_workers_released(scheduler)
    await wait_until(lambda: len(scheduler._idle) == 4)
    armed: list[Any] = []  # the callbacks of the timers armed
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
        armed.append(getattr(callback, "__qualname__", callback))
        return call_at(when, callback, *args, **kwargs)

    ran_on: list[asyncio.Task[Any] | None] = []
    done = asyncio.Event()

    async def one(urgent: bool) -> None:
        ran_on.append(asyncio.current_task())
        done.set()

    with monkeypatch.context() as patch:
        patch.setattr(loop, "call_at", counting_call_at)
        for _ in range(20):  # one at a time, each after the last has ended
            done.clear()
            scheduler.call_at(loop.time(), one)
            await done.wait()
            await anyio.lowlevel.checkpoint()  # its worker waits again
    assert len(set(ran_on)) == 1, "each job went to the worker that went idle last"
    assert armed == ["Scheduler._on_timer"] * 20
    await scheduler.aclose()


async def test_idle_workers_end_one_after_the_other_on_one_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers that went idle at different times each end once idle for ``_IDLE_WORKER_SECONDS``:
    the one timer for them all is armed again for the next to end."""
    monkeypatch.setattr(scheduler_module, "_IDLE_WORKER_SECONDS", 0.05)
    scheduler = Scheduler(workers=4)
    await _four_workers_released(scheduler, apart=0.02)
    await wait_until(lambda: scheduler.workers == 0)
    assert not scheduler._idle
    await scheduler.aclose()


async def _one_idle_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Scheduler, Any, list[str]]:
    """A scheduler of one worker that ran a job and now waits, idle, for at most 0.05 s; the job
    (it records ``"job"`` in the list returned) to schedule again."""
    monkeypatch.setattr(scheduler_module, "_IDLE_WORKER_SECONDS", 0.05)
    scheduler = Scheduler(workers=1)
    ran: list[str] = []

    async def job(urgent: bool) -> None:
        ran.append("job")

    # The worker waits once it has run the job. A stall of the test's own loop (a loaded machine)
    # can outlast that wait, and the worker ends unseen: then the job is scheduled again.
    def waiting_or_ended() -> bool:
        return len(scheduler._idle) == 1 or scheduler.workers == 0

    for _ in range(20):
        scheduler.call_at(asyncio.get_running_loop().time(), job)
        await wait_until(lambda: bool(ran) and waiting_or_ended())
        assert ran == ["job"]
        if len(scheduler._idle) == 1:
            break
        ran.clear()
    assert len(scheduler._idle) == 1, "the worker was never seen waiting"
    return scheduler, job, ran


async def test_a_job_due_in_the_turn_an_idle_worker_expires_in_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loop stall makes an idle worker's expiry and the next job's timer fall due in one turn of
    the loop, the expiry first: the job finds that worker's wait done and no room for a new worker
    while it still counts. The worker must take the job rather than end, or a single session (or a
    pool of one or two) never beats again."""
    scheduler, job, ran = await _one_idle_worker(monkeypatch)
    loop = asyncio.get_running_loop()
    scheduler.call_at(loop.time() + 0.08, job)  # due after the worker's expiry (at most 0.05 s)
    time.sleep(0.2)  # noqa: ASYNC251 - the stall: both timers fall due in the next turn
    await wait_until(lambda: ran == ["job", "job"])
    await scheduler.aclose()


async def test_a_job_due_in_the_turn_after_an_idle_worker_expired_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other order of the race above: the idle worker's expiry runs, then a stall in the same
    turn lets the next job fall due; in the next turn the worker wakes first, finds nothing queued
    and ends, and the job's timer runs after it, in that turn. The ended worker no longer counts
    then (its done-callback comes a turn later): the job gets a worker of its own."""
    scheduler, job, ran = await _one_idle_worker(monkeypatch)
    loop = asyncio.get_running_loop()
    idle_since = loop.time()  # its expiry is due at most 0.05 s from here
    loop.call_at(idle_since + 0.06, time.sleep, 0.3)  # the stall, after the expiry, same turn
    scheduler.call_at(idle_since + 0.2, job)  # falls due during that stall
    time.sleep(0.1)  # noqa: ASYNC251 - the expiry and the stall become due in one turn
    await wait_until(lambda: ran == ["job", "job"])
    await scheduler.aclose()


async def _beats_to_its_deadline(client: LiveAvatarClient, emulator: LiveAvatarEmulator) -> None:
    """A session of ``client`` beats and reaches its deadline (a closed scheduler, or one whose
    timer is never armed, would neither beat nor end the block: the wait would time out)."""
    with pytest.raises(SessionEndedError) as info:
        async with client.session(
            AVATAR_ID, keep_alive_interval=0.05, max_session_duration=1
        ) as session:
            await wait_until(
                lambda: len(emulator.requests("keep_alive", session_id=session.session_id)) >= 2
            )
            await anyio.sleep_forever()
    assert info.value.end_reason is EndReason.MAX_DURATION_REACHED
    # The SDK's deadline stop, or (on a loaded machine) the emulator's own end of the session at
    # that deadline, which a beat then found: never another reason or two stops.
    assert emulator.stop_reasons(session.session_id) in ([], ["MAX_DURATION_REACHED"])


@pytest.mark.parametrize("first_use", ["ended at its deadline", "left before its next beat"])
async def test_a_client_entered_again_keeps_its_sessions_alive(
    emulator: LiveAvatarEmulator, first_use: str
) -> None:
    """Leaving a client closes its scheduler; entering the client again opens it again, so that
    the sessions of its second use beat and reach their deadline as those of the first did. The
    usual first use leaves a block before its session's next beat, the scheduler's timer still
    armed for it: entered again once that time has passed, no new entry armed the timer (its
    stale time was kept)."""
    client = LiveAvatarClient(API_KEY, base_url=emulator.base_url)
    if first_use == "ended at its deadline":
        async with client:
            await _beats_to_its_deadline(client, emulator)
    else:
        async with client, client.session(AVATAR_ID, keep_alive_interval=0.05):
            pass
        await anyio.sleep(0.1)  # past the beat the timer was armed for
    async with client:
        await _beats_to_its_deadline(client, emulator)


def _sdk_tasks() -> list[str]:
    """The tasks running aioavatar's own code (not the emulator's server, not the test's), by the
    qualified name of their coroutine."""
    names = []
    for task in asyncio.all_tasks():
        code: Any = getattr(task.get_coro(), "cr_code", None)
        path = code.co_filename if code is not None else ""
        if "/aioavatar/" in path and "/testing/" not in path:
            names.append(code.co_qualname)
    return names


async def test_the_sessions_of_a_client_hold_no_task_of_their_own_while_idle(
    emulator: LiveAvatarEmulator,
) -> None:
    """Fifty sessions of one client, beating every 50 ms, run no task of aioavatar's beyond the
    client's scheduler workers (their beats are timers, sent by the shared pool), and every one of
    them beats."""
    count = 50
    release = anyio.Event()
    opened = 0
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client:

        async def hold() -> None:
            nonlocal opened
            async with client.session(AVATAR_ID, keep_alive_interval=0.05):
                opened += 1
                await release.wait()

        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(hold)
            await wait_until(lambda: opened == count)
            await wait_until(
                lambda: (
                    len({r.session_id for r in emulator.journal if r.endpoint == "keep_alive"})
                    == count
                )
            )
            # Between beats: the holders, and at most the scheduler's workers (a worker that found no
            # work lately is ending); never one task per session beside its holder.
            ours = _sdk_tasks()
            assert ours  # the workers that send the beats
            assert set(ours) == {"Scheduler._work"}
            assert len(ours) == client.scheduler.workers <= 100  # two thirds of the default 150
            release.set()
    assert len(emulator.requests("stop")) == count


@pytest.mark.parametrize(
    "pool", ["own", "borrowed", "borrowed per host"], ids=lambda pool: f"{pool} pool"
)
async def test_beats_due_together_use_two_thirds_of_the_connections_past_64(
    emulator: LiveAvatarEmulator, pool: str
) -> None:
    """160 sessions, each beat held by the server until it times out: on a client of its own 120
    connections, 80 beats are on the wire at once (two thirds), never more; on a borrowed pool, 64
    (others may share it), and its slots are the smaller of its total and per-host limits (240 and
    120: aiohttp would queue a stop past the per-host limit, in a wait that counts against its
    ``stop_timeout``). Every session is stopped once. The scheduler sent at most 64 at once whatever
    ``connection_limit``; letting beats take every connection made hanging beats time calls out."""
    count = 160
    async with AsyncExitStack() as stack:
        options: dict[str, Any] = {"connection_limit": 120}
        if pool != "own":
            connector = (
                aiohttp.TCPConnector(limit=120)
                if pool == "borrowed"
                else aiohttp.TCPConnector(limit=240, limit_per_host=120)
            )
            http = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
            options = {"http_session": http}
        client = await stack.enter_async_context(
            LiveAvatarClient(API_KEY, base_url=emulator.base_url, **options)
        )
        assert client._transport.slots.limit == 120
        for _ in range(count):
            # Each beat times out after a quarter of a second and is retried within its interval:
            # every session wants a worker nearly all the time once the server holds its beats.
            await stack.enter_async_context(client.session(AVATAR_ID, keep_alive_interval=0.5))
        workers = 80 if pool == "own" else 64
        held = emulator.inject("keep_alive", delay=3600.0, times=1_000_000)
        await wait_until(lambda: client.scheduler.workers == workers, within=30.0)
        await wait_until(lambda: held.hits >= workers)
        await anyio.sleep(0.05)  # more loop turns: never more beats at once
        assert client.scheduler.workers == workers
        emulator.clear_faults()
    assert len(emulator.requests("stop")) == count


async def test_by_default_beats_get_aiohttps_default_pool_and_calls_fifty_more(
    emulator: LiveAvatarEmulator,
) -> None:
    """A client with the default ``connection_limit`` (150), every beat held by the server: the
    beats take at most 100 of its connections (bare aiohttp's default pool, what a loop per session
    gets) and at least 50 stay free for calls and stops, at every look while 160 sessions beat; a
    token call goes out beside them. Every session is stopped once."""
    count = 160
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            LiveAvatarClient(API_KEY, base_url=emulator.base_url)
        )
        slots = client._transport.slots
        assert slots.limit == 150
        for _ in range(count):
            await stack.enter_async_context(client.session(AVATAR_ID, keep_alive_interval=0.5))
        held = emulator.inject("keep_alive", delay=3600.0, times=1_000_000)
        await wait_until(lambda: client.scheduler.workers == 100, within=30.0)
        await wait_until(lambda: held.hits >= 100)
        busiest = 0
        for turn in range(400):  # loop turns and short sleeps across beats timing out and retrying
            await (anyio.sleep(0.005) if turn % 4 == 0 else anyio.lowlevel.checkpoint())
            busiest = max(busiest, 150 - slots._free)
            assert slots._free >= 50
        assert 67 < busiest <= 100  # more than the 67 of the old default 100, and no more
        assert client.scheduler.workers == 100
        tokens = len(emulator.requests("token"))
        token = await client.create_session_token(AVATAR_ID, timeout=5.0)
        assert [r.session_id for r in emulator.requests("token")[tokens:]] == [token.session_id]
        emulator.clear_faults()
    assert len(emulator.requests("stop")) == count


def test_a_client_sends_two_thirds_as_many_beats_at_once_as_requests() -> None:
    """``beat_workers``: two thirds of the connections, rounded up (all of one or two), at most 64 on
    a borrowed pool."""
    assert [beat_workers(n) for n in (1, 2, 3, 100, 120, 10_000)] == [1, 2, 2, 67, 80, 6_667]
    assert beat_workers(10**6) == 10_000
    assert [beat_workers(n, borrowed=True) for n in (30, 96, 100, 10**6)] == [20, 64, 64, 64]


async def test_a_session_without_a_client_has_a_scheduler_of_its_own(
    emulator: LiveAvatarEmulator,
) -> None:
    """``AvatarSession(...)`` without ``client=`` opens its own client, hence its own scheduler, and
    closes both with the session: no worker is left behind."""
    async with AvatarSession(
        AVATAR_ID, api_key=API_KEY, base_url=emulator.base_url, keep_alive_interval=0.05
    ) as session:
        await wait_until(
            lambda: len(emulator.requests("keep_alive", session_id=session.session_id)) >= 2
        )
        scheduler = session._backend.scheduler  # what the session owns
        assert scheduler.workers >= 1
    assert scheduler.workers == 0


class _Owner:
    """A lifecycle as the keep-alive sees it, recording what it is asked (``_keepalive.Owner``)."""

    session_id = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    _stopping = False
    _idle_timeout = 300.0

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def _beat(self, *, timeout: float, deadline: float) -> None:
        self.asked.append("keep_alive")

    async def _server_ended(self) -> None:
        self.asked.append("server_ended")

    async def _presumed_lost(self) -> None:
        self.asked.append("presumed_lost")

    async def _deadline_reached(self) -> None:
        self.asked.append("deadline_reached")

    def _background_failed(self, error: Exception) -> None:
        self.asked.append("background_failed")


async def _pool_of_one_held_busy() -> tuple[Scheduler, asyncio.Event]:
    """A scheduler whose only worker runs a job that waits until the event returned is set."""
    scheduler = Scheduler(workers=1)
    release = asyncio.Event()

    async def blocking(urgent: bool) -> None:
        await release.wait()

    scheduler.call_at(asyncio.get_running_loop().time(), blocking)
    await wait_until(lambda: scheduler.workers == 1)
    return scheduler, release


async def test_a_beat_already_queued_sends_nothing_once_the_session_has_ended() -> None:
    """A beat that fell due while every worker was busy waits in the queue; the server ends the
    session meanwhile (rule 7: ``KeepAlive.cancel()``): once a worker is free, it sends nothing."""
    scheduler, release = await _pool_of_one_held_busy()
    owner = _Owner()
    keepalive = KeepAlive(owner, scheduler, interval=0.02, duration=None)
    keepalive.start()
    await wait_until(lambda: scheduler.pending == 0)  # due: queued behind the blocked worker
    keepalive.cancel()
    after: list[str] = []

    async def marker(urgent: bool) -> None:
        after.append("ran")

    scheduler.call_at(asyncio.get_running_loop().time(), marker)  # queued after the beat
    release.set()
    await wait_until(lambda: after == ["ran"])  # one worker, first in first out: the beat ran
    assert owner.asked == []
    await scheduler.aclose()


async def test_a_deadline_far_past_the_next_beat_is_not_held_back_by_a_busy_pool() -> None:
    """Every worker of the pool busy (slow beats, the stops of lost sessions): a session's deadline,
    due several beats after its next one, still runs when it is due, on a worker of its own (rule
    8). It is armed from the start: had a beat to reach a worker to arm it, it would wait for the
    pool (a lazier arming tried once did)."""
    scheduler, release = await _pool_of_one_held_busy()
    owner = _Owner()
    keepalive = KeepAlive(owner, scheduler, interval=0.05, duration=0.3)
    keepalive.start()
    await wait_until(lambda: "deadline_reached" in owner.asked)
    assert owner.asked == ["deadline_reached"]  # no beat reached the pool's only worker
    assert not release.is_set()
    release.set()
    keepalive.cancel()
    await scheduler.aclose()


async def test_a_session_whose_beats_are_all_skipped_is_presumed_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rule 6 counts skipped beats too: beats that reach a worker only once they are late (a pool
    saturated by hanging beats) are skipped, never sent, and once no beat has succeeded for the
    idle window the session is presumed lost, not believed alive for as long as the pool is busy."""
    scheduler, release = await _pool_of_one_held_busy()
    owner = _Owner()
    owner._idle_timeout = 0.2
    keepalive = KeepAlive(owner, scheduler, interval=0.05, duration=None)
    keepalive.start()
    await wait_until(lambda: scheduler.pending == 0)  # due: queued behind the blocked worker
    await anyio.sleep(0.25)  # the idle window passes with the beat still queued
    release.set()
    await wait_until(lambda: owner.asked != [])
    assert owner.asked == ["presumed_lost"]  # nothing was sent: the late beat was skipped
    (line,) = [r.getMessage() for r in caplog.records if "presuming it lost" in r.getMessage()]
    assert owner.session_id in line  # the WARNING says why a session with no failed beat ended
    keepalive.cancel()
    await scheduler.aclose()


async def test_a_beats_retries_end_before_the_next_beat_is_due() -> None:
    """Rule 5: a beat's call is told no retry may start later than the next beat's due time less
    one attempt's time limit, so a retry ends before that beat is due (the transport starts no
    attempt after the deadline: ``test_a_passed_deadline_allows_one_attempt_and_no_retry``)."""
    scheduler = Scheduler(workers=1)
    owner = _Owner()
    asked: list[tuple[float, float, float]] = []
    keepalive = KeepAlive(owner, scheduler, interval=0.08, duration=None)

    async def beat(*, timeout: float, deadline: float) -> None:
        asked.append((timeout, deadline, keepalive._due))

    owner._beat = beat  # type: ignore[method-assign]
    keepalive.start()
    await wait_until(lambda: len(asked) >= 2)
    for timeout, deadline, due in asked:
        assert timeout == pytest.approx(0.04)
        assert deadline + timeout == pytest.approx(due + 0.08)
    keepalive.cancel()
    await scheduler.aclose()


async def test_cancelled_entries_do_not_pile_up() -> None:
    """Sessions that end long before their deadline drop their entries at once (nothing of theirs
    is kept until the entry's time) and the heap is swept: 100,000 entries due in an hour and
    cancelled beside 1,000 live ones leave the heap at most about twice the live ones."""
    scheduler = Scheduler(workers=1)

    async def job(urgent: bool) -> None:
        raise AssertionError("nothing here is due within the test")

    later = asyncio.get_running_loop().time() + 3600
    for index in range(1_000):
        scheduler.call_at(later + index, job)
    for index in range(100_000):
        scheduler.cancel(scheduler.call_at(later, job, urgent=bool(index % 2)))
    assert scheduler.pending == 1_000
    assert len(scheduler._heap) <= 2 * 1_000 + 256
    await scheduler.aclose()
