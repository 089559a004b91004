"""The total time limit of a call kept on the client's one timer (``_deadlines.py``), over real sockets
against the emulator: a call past it raises ``RequestTimeout`` and leaves its task as it found it
(a cleanup's call made while its task is being cancelled included); a shorter limit is kept while a
longer one is in flight; a cancellation from outside goes through; a client entered again keeps the
limits of the calls already in flight; aiohttp keeps only the connect limit."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TypeVarTuple

import aiohttp
import anyio
import pytest

from aioavatar import AvatarError, LiveAvatarClient, RequestTimeout, RetryPolicy, Timeout
from aioavatar._deadlines import BATCH, Deadlines
from aioavatar.testing import LiveAvatarEmulator

from .clocks import CoarseClockLoop, kept_busy
from .conftest import API_KEY, AVATAR_ID
from .leaks import acquired_connections, wait_until

pytestmark = pytest.mark.anyio
_Ts = TypeVarTuple("_Ts")

NO_RETRY = RetryPolicy(retries=0)
#: A total that ``connect`` ends before: the client's timer keeps it.
KEPT = Timeout(total=0.3, connect=0.1)


@pytest.mark.parametrize("given", [KEPT, Timeout(total=0.3), Timeout(total=0.3, connect=0.3)])
def test_aiohttp_keeps_only_the_connect_limit_and_on_an_exact_timer(given: Timeout) -> None:
    """The total is the client's to keep; aiohttp keeps the connect limit (or none), not rounded up
    to the next second (a request that got no connection in time is then known as never sent)."""
    assert given.client_timeout.total is None
    assert given.client_timeout.connect == given.connect
    assert given.client_timeout.ceil_threshold == float("inf")


async def test_a_call_past_its_total_times_out_and_leaves_its_task_as_it_found_it(
    emulator: LiveAvatarEmulator,
) -> None:
    """The request reached the server (``sent``), the error names the limit, the client's timer took
    back the cancellation it used (the task is not left cancelling: the next await goes on), and the
    connection is given back."""
    emulator.inject("get", drip=0.05)  # recorded at once, answered slowly
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY) as c:
        with pytest.raises(RequestTimeout, match=r"no answer within 0\.3 s") as info:
            await c.get_session(AVATAR_ID, timeout=KEPT)
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        await asyncio.sleep(0)  # no cancellation left pending
        assert info.value.sent
        assert len(emulator.requests("get")) == 1
        await wait_until(lambda: acquired_connections(c) == 0)
        await c.list_sessions("active", timeout=KEPT)  # the client goes on


async def test_a_shorter_total_is_kept_while_a_longer_one_is_in_flight(
    emulator: LiveAvatarEmulator,
) -> None:
    """The timer armed for a 30 s call is brought forward for a 0.3 s one: the short call times
    out while the long one is still waiting, and the long one, cancelled from outside, is cancelled
    (not taken for a timeout)."""
    emulator.inject("get", drip=0.1, times=2)
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY) as c:
        ended: list[BaseException] = []

        async def long_call() -> None:
            try:
                await c.get_session(AVATAR_ID, timeout=Timeout(total=30.0, connect=1.0))
            except BaseException as exc:
                ended.append(exc)
                raise

        async with anyio.create_task_group() as tg:
            tg.start_soon(long_call)
            await wait_until(lambda: len(emulator.requests("get")) == 1)
            with pytest.raises(RequestTimeout):
                await c.get_session(AVATAR_ID, timeout=KEPT)
            assert ended == []  # still waiting for its answer
            tg.cancel_scope.cancel()
        assert len(ended) == 1
        assert isinstance(ended[0], asyncio.CancelledError)


async def test_a_slow_drip_is_cut_at_the_kept_total_on_every_attempt(
    emulator: LiveAvatarEmulator,
) -> None:
    """Bytes trickling in do not stretch a call past the total its client keeps: three attempts,
    each timed out, then the error."""
    emulator.inject("get", drip=0.02, times=3)
    fast = RetryPolicy(retries=2, backoff_initial=0.001, backoff_max=0.005)
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=fast) as c:
        with pytest.raises(RequestTimeout):
            await c.get_session(AVATAR_ID, timeout=Timeout(total=0.25, connect=0.1))
        await wait_until(lambda: acquired_connections(c) == 0)
    assert len(emulator.requests("get")) == 3


async def test_a_cleanup_call_made_while_its_task_is_cancelled_times_out_as_any_call(
    emulator: LiveAvatarEmulator,
) -> None:
    """Cleanup code (``except CancelledError:``, or a shielded scope after its scope was cancelled)
    whose call runs out of time gets the call's ``RequestTimeout``, and goes on: the client compares
    the task's cancellations with those it started with, not with none."""
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY) as c:
        log: list[str] = []

        async def cleanup() -> None:
            emulator.inject("get", drip=0.05)
            try:
                await c.get_session(AVATAR_ID, timeout=KEPT)
            except AvatarError as exc:
                log.append(type(exc).__name__)
            log.append("went on")

        async def worker() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                await cleanup()
                raise

        task = asyncio.create_task(worker())
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert log == ["RequestTimeout", "went on"]

        log.clear()
        with anyio.move_on_after(0.02):
            try:
                await anyio.sleep(10)
            finally:
                with anyio.CancelScope(shield=True):
                    await cleanup()
        assert log == ["RequestTimeout", "went on"]
        current = asyncio.current_task()
        assert current is not None
        assert current.cancelling() == 0


async def test_a_client_entered_again_keeps_the_time_limit_of_a_call_in_flight(
    emulator: LiveAvatarEmulator,
) -> None:
    """A call sent before its client (on a borrowed pool, which outlives the exit) was left and
    entered again still times out at its limit, and leaves its task as it found it."""
    emulator.inject("get", drip=0.05)
    async with aiohttp.ClientSession() as http:
        client = LiveAvatarClient(
            API_KEY, base_url=emulator.base_url, http_session=http, retry_policy=NO_RETRY
        )
        outcome: list[object] = []

        async def call() -> None:
            try:
                await client.get_session(AVATAR_ID, timeout=KEPT)
            except RequestTimeout:
                outcome.append("RequestTimeout")
            task = asyncio.current_task()
            assert task is not None
            outcome.append(task.cancelling())

        async with client:
            in_flight = asyncio.create_task(call())
            await wait_until(lambda: len(emulator.requests("get")) == 1)
        async with client:
            await in_flight
        assert outcome == ["RequestTimeout", 0]


async def test_after_a_wait_for_a_connection_the_timeout_names_the_calls_limit(
    emulator: LiveAvatarEmulator,
) -> None:
    """The wait for a connection counts within the call's limit, and the error names that limit,
    not what was left of it after the wait."""
    async with LiveAvatarClient(
        API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY, connection_limit=1
    ) as c:
        emulator.inject("get", delay=0.2)
        emulator.inject("list", drip=0.05)
        async with anyio.create_task_group() as tg:
            tg.start_soon(hold_the_connection, c)
            await wait_until(lambda: acquired_connections(c) == 1)
            with pytest.raises(RequestTimeout, match=r"no answer within 0\.6 s"):
                await c.list_sessions("active", timeout=Timeout(total=0.6, connect=0.5))
        assert len(emulator.requests("list")) == 1


async def hold_the_connection(client: LiveAvatarClient) -> None:
    """A call that holds the pool's one connection while the emulator delays its answer."""
    with contextlib.suppress(AvatarError):
        await client.get_session(AVATAR_ID)


async def test_a_call_outside_any_task_is_refused_and_takes_no_connection() -> None:
    """A coroutine driven by hand, outside any task, is refused with a clear error before it takes
    one of the client's connection slots: the next call still gets one."""
    async with (
        LiveAvatarEmulator(api_key=API_KEY) as emulator,
        LiveAvatarClient(
            API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY, connection_limit=1
        ) as c,
    ):
        refused: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

        def drive() -> None:
            coro = c.get_session(AVATAR_ID)
            try:
                coro.send(None)
            except RuntimeError as exc:
                refused.set_result(exc)
            finally:
                coro.close()

        asyncio.get_running_loop().call_soon(drive)
        assert "inside an asyncio task" in str(await refused)
        await c.list_sessions("active", timeout=2.0)
        assert len(emulator.requests("list")) == 1


async def test_a_task_cancelled_from_outside_as_its_deadline_passes_stays_cancelled() -> None:
    """When a cancellation from outside lands in the same turn of the loop as the deadline's, the
    request learns its deadline passed, and its task is still cancelling: the transport raises the
    cancellation, not the timeout."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()

    async def request() -> tuple[bool, int]:
        task = asyncio.current_task()
        assert task is not None
        at = loop.time() + 0.05
        deadlines.entered(task, at)
        loop.call_at(at, task.cancel)  # due in the same turn as the deadline's timer
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return deadlines.left(task), task.cancelling()
        raise AssertionError("not cancelled")  # pragma: no cover

    assert await asyncio.create_task(request()) == (True, 1)
    assert len(deadlines) == 0


async def test_a_request_that_ends_in_time_leaves_nothing_for_the_timer() -> None:
    """A request that ended before its deadline is forgotten: the timer, when it fires, cancels
    nothing, and arms no other."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    deadlines.entered(task, loop.time() + 0.01)
    assert len(deadlines) == 1
    assert not deadlines.left(task)
    await asyncio.sleep(0.05)  # past the deadline: the armed timer fires
    assert task.cancelling() == 0
    await asyncio.sleep(0)
    assert len(deadlines) == 0


async def test_requests_hung_with_deadlines_apart_are_timed_out_in_batches() -> None:
    """Two hundred requests whose deadlines fall a millisecond apart are cancelled by a few firings
    of the timer (each walks every request in flight), not by one firing each: after a firing, the
    next comes no sooner than ``BATCH`` later. Counted in turns of the loop, not in time."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    turns = 0
    spinning = True

    def spin() -> None:  # counts the loop's turns
        nonlocal turns
        turns += 1
        if spinning:
            loop.call_soon(spin)

    woken: list[int] = []

    async def request(deadline: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        deadlines.entered(task, deadline)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            assert deadlines.left(task)
            woken.append(turns)

    spin()
    first = loop.time() + 0.05
    count, apart = 200, 0.001
    await asyncio.gather(*(request(first + i * apart) for i in range(count)))
    spinning = False
    firings = len(set(woken))
    assert len(woken) == count
    assert firings <= count * apart / BATCH + 2  # 6, where one firing each would be 200
    assert len(deadlines) == 0


def test_a_timer_run_early_by_the_loops_clock_still_times_out_the_request() -> None:
    """On a coarse clock the timer runs up to a tick before the deadline: the request is timed out
    by that firing, not by one armed again a batch (50 ms) later: one timer, not two."""
    deadlines = Deadlines()

    async def request() -> bool:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        with kept_busy():
            deadlines.entered(task, loop.time() + 0.1005)  # between ticks: it runs a tick early
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                return deadlines.left(task)
        raise AssertionError("not cancelled")  # pragma: no cover

    with asyncio.Runner(loop_factory=CoarseClockLoop) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, CoarseClockLoop)
        loop.counted = deadlines
        assert runner.run(request())
        assert loop.armed == 1


class _Limit:
    """Something a deadline is kept for (``Limited``), which counts what was asked of it."""

    def __init__(self) -> None:
        self.cancelled = 0

    def cancel(self, msg: object = None) -> bool:
        self.cancelled += 1
        return True

    def uncancel(self) -> int:
        self.cancelled -= 1
        return self.cancelled


async def test_a_deadline_just_after_a_firing_that_found_nobody_late_is_kept_on_time() -> None:
    """The timer armed for a request that then ended in time fires for nobody: it is armed again at
    the earliest deadline left, exactly, not a batch later (a stop's bound falling within ``BATCH``
    of it was kept up to 50 ms late). After a firing that cancelled someone it still waits a batch
    (``test_requests_hung_with_deadlines_apart_are_timed_out_in_batches``)."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    ended, bound = _Limit(), _Limit()
    stale = loop.time() + 0.01
    kept = stale + BATCH / 2
    deadlines.entered(ended, stale)
    deadlines.entered(bound, kept)
    assert not deadlines.left(ended)  # it ended in time; the timer stays armed at its deadline
    assert deadlines._timer_at == stale
    await wait_until(lambda: deadlines._timer_at != stale)  # it fired, for nobody
    assert deadlines._timer_at == kept
    assert bound.cancelled == 0
    await wait_until(lambda: bound.cancelled == 1)
    assert deadlines.left(bound)
    assert (ended.cancelled, bound.cancelled, len(deadlines)) == (0, 0, 0)
