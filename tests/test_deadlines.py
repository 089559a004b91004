"""The total time limit of a call kept on the client's one timer (``_deadlines.py``), over real sockets
against the emulator: a call past it raises ``RequestTimeout`` and leaves its task as it found it; a
shorter limit is kept while a longer one is in flight; a cancellation from outside goes through; and a
limit that ``connect`` does not end first is left to aiohttp, so that a call that got no connection in
time is still known as never sent."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from aioavatar import LiveAvatarClient, RequestTimeout, RetryPolicy, Timeout
from aioavatar._deadlines import Deadlines
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID
from .leaks import acquired_connections, wait_until

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(retries=0)
#: A total that ``connect`` ends before: the client's timer keeps it.
KEPT = Timeout(total=0.3, connect=0.1)


def test_only_a_total_that_connect_ends_before_is_kept_by_the_client() -> None:
    """aiohttp keeps the connect limit on an exact timer and no total when the client keeps it;
    else both, as given."""
    assert KEPT.own_total
    assert KEPT.client_timeout.total is None
    assert KEPT.client_timeout.connect == 0.1
    assert KEPT.client_timeout.ceil_threshold == float("inf")
    for given in (Timeout(total=0.3), Timeout(total=0.3, connect=0.3)):
        assert not given.own_total
        assert given.client_timeout.total == 0.3
        assert given.client_timeout.connect == given.connect


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
