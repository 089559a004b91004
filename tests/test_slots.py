"""``aioavatar._slots``: a client's connection slots. Many sessions ending together are every one
stopped exactly once, however long a stop waits for a connection behind the others'."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pytest

from aioavatar import (
    AvatarError,
    EndReason,
    KalturaAvatarClient,
    LiveAvatarClient,
    RetryPolicy,
    SessionState,
)
from aioavatar._slots import ConnectionSlots
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .leaks import wait_until
from .providers import API_KEY, AVATAR_ID, KALTURA_AVATAR_ID, KS

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(backoff_initial=0.01, backoff_max=0.05)
SESSIONS = 30
STOP_LATENCY = 0.05  # each stop is answered after this, two at a time: 0.75 s for all
STOP_TIMEOUT = 0.2  # far less than the last stop waits for a connection


async def _open(stack: AsyncExitStack, provider: str) -> tuple[Any, Any, str]:
    """An emulator, a client on it whose pool holds two connections, and the stop's endpoint."""
    if provider == "liveavatar":
        emulator: Any = await stack.enter_async_context(LiveAvatarEmulator(api_key=API_KEY))
        client: Any = await stack.enter_async_context(
            LiveAvatarClient(
                API_KEY, base_url=emulator.base_url, connection_limit=2, retry_policy=FAST
            )
        )
        return emulator, client, "stop"
    emulator = await stack.enter_async_context(KalturaEmulator(ks=KS))
    client = await stack.enter_async_context(
        KalturaAvatarClient(KS, base_url=emulator.base_url, connection_limit=2, retry_policy=FAST)
    )
    return emulator, client, "end"


@pytest.mark.parametrize("provider", ["liveavatar", "kaltura"])
async def test_sessions_leaving_together_behind_a_small_pool_are_all_stopped_once(
    provider: str,
) -> None:
    """Thirty blocks exit at once on a two-connection pool, each stop answered after 50 ms and bounded
    by 0.2 s: the wait for a connection is not counted, so every stop reaches the server once and no
    session is reported unconfirmed."""
    async with AsyncExitStack() as stack:
        emulator, client, stop_step = await _open(stack, provider)
        emulator.inject(stop_step, delay=STOP_LATENCY, times=SESSIONS)
        if isinstance(client, LiveAvatarClient):
            sessions = [
                client.session(AVATAR_ID, is_sandbox=True, stop_timeout=STOP_TIMEOUT)
                for _ in range(SESSIONS)
            ]
        else:
            sessions = [
                client.session(KALTURA_AVATAR_ID, stop_timeout=STOP_TIMEOUT)
                for _ in range(SESSIONS)
            ]
        inside = 0
        all_inside = anyio.Event()
        leave = anyio.Event()
        errors: list[AvatarError] = []

        async def hold(session: Any) -> None:
            nonlocal inside
            try:
                async with session:
                    inside += 1
                    if inside == SESSIONS:
                        all_inside.set()
                    await leave.wait()
            except AvatarError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            for session in sessions:
                tg.start_soon(hold, session)
            with anyio.fail_after(60):  # a hang, not a speed limit
                await all_inside.wait()
            leave.set()

        assert errors == []
        for session in sessions:
            assert session.end_reason is EndReason.USER_CLOSED
            assert len(emulator.requests(stop_step, session_id=session.session_id)) == 1
        assert emulator.active_sessions() == []


async def test_the_lookup_after_a_stop_that_found_the_session_ended_uses_the_stops_connection() -> (
    None
):
    """Sessions the server ended meanwhile leave together on a one-connection pool: each stop is
    answered 404 and looks the server's reason up on the connection that stop holds, before the
    next stop gets it, not behind every other stop (where the lookup's own time limit ran out and
    hundreds of sessions recorded UNKNOWN). Every session records the server's reason."""
    async with (
        LiveAvatarEmulator(api_key=API_KEY) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url, connection_limit=1) as client,
    ):
        sessions = [client.session(AVATAR_ID, keep_alive_interval=60.0) for _ in range(10)]
        entered = 0
        all_inside = anyio.Event()
        leave = anyio.Event()

        async def hold(session: Any) -> None:
            nonlocal entered
            async with session:
                entered += 1
                if entered == len(sessions):
                    all_inside.set()
                await leave.wait()

        async with anyio.create_task_group() as tg:
            for session in sessions:
                tg.start_soon(hold, session)
            with anyio.fail_after(60):  # a hang, not a speed limit
                await all_inside.wait()
            for session in sessions:
                emulator.end_session(session.session_id, EndReason.ZOMBIE_SESSION_REAP)
            leave.set()
    assert [s.end_reason for s in sessions] == [EndReason.ZOMBIE_SESSION_REAP] * 10
    exits = [(r.endpoint, r.session_id) for r in emulator.journal if r.endpoint in ("stop", "get")]
    assert len(exits) == 20
    # Each lookup follows its own stop at once: stop, get, stop, get... by session.
    assert [endpoint for endpoint, _ in exits] == ["stop", "get"] * 10
    assert all(exits[i][1] == exits[i + 1][1] for i in range(0, 20, 2))


async def test_a_reservation_is_held_across_the_requests_of_its_task() -> None:
    """A task holding a reservation sends without taking a slot (so its retries never queue behind
    others), other tasks wait for the slot it holds, and it is given back on exit."""
    slots = ConnectionSlots(1)
    order: list[str] = []
    waiting = anyio.Event()

    async def other() -> None:
        assert slots.take_now() is False  # the reservation holds the one slot
        waiting.set()
        await slots.take(timeout=5.0)
        order.append("other sent")
        slots.give_back()

    async with anyio.create_task_group() as tg, slots.reserved():
        assert slots.take_now() is None  # its own requests take nothing
        async with slots.reserved():  # nested: the same slot
            tg.start_soon(other)
            await anyio.sleep(0.05)
            order.append("stop sent")
        # given back: the other task gets it now
    assert order == ["stop sent", "other sent"]


async def test_a_request_waits_for_a_slot_at_most_its_timeout() -> None:
    """With every slot taken, take() gives up after its timeout with TimeoutError and leaves the
    count as it was."""
    slots = ConnectionSlots(1)
    await slots.take(timeout=1.0)
    with pytest.raises(TimeoutError):
        await slots.take(timeout=0.05)
    slots.give_back()
    assert await slots.take(timeout=1.0) == 0.0


async def _take_note_and_give_back(
    slots: ConnectionSlots, seen: list[object], name: object
) -> None:
    """A request that waits for a slot as long as it takes, notes ``name`` once it has one, and gives
    it back."""
    await slots.take(timeout=30.0)
    seen.append(name)
    slots.give_back()


async def _give_up_waiting(slots: ConnectionSlots, count: int) -> int:
    """``count`` requests at once, each waiting 10 ms for a slot nobody gives back: how many gave up
    with TimeoutError."""
    refused = 0

    async def request() -> None:
        nonlocal refused
        try:
            await slots.take(timeout=0.01)
        except TimeoutError:
            refused += 1

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(request)
    return refused


async def test_a_slot_given_back_goes_to_the_longest_waiter() -> None:
    """Three requests queue, one after the other, for the one slot: each slot given back goes to the
    one that waited longest, and none is taken by a newcomer past them."""
    slots = ConnectionSlots(1)
    assert slots.try_take()
    order: list[object] = []
    async with anyio.create_task_group() as tg:
        for number in range(3):
            tg.start_soon(_take_note_and_give_back, slots, order, number)
            await anyio.wait_all_tasks_blocked()  # queued in this order
        assert not slots.try_take()  # the waiters come first
        slots.give_back()
    assert order == [0, 1, 2]
    assert slots.try_take()
    assert not slots.try_take()  # one slot, as before


async def test_a_slot_handed_to_a_waiter_cancelled_before_it_ran_goes_to_the_next() -> None:
    """A slot handed to a waiter whose task is cancelled before it runs (asyncio's own cancel, which
    interrupts it even with its slot in hand) is not lost: it goes to the next waiter, and the count
    is whole afterwards."""
    slots = ConnectionSlots(1)
    assert slots.try_take()
    got: list[object] = []
    first = asyncio.create_task(_take_note_and_give_back(slots, got, "first"))
    await anyio.wait_all_tasks_blocked()
    second = asyncio.create_task(_take_note_and_give_back(slots, got, "second"))
    await anyio.wait_all_tasks_blocked()
    slots.give_back()  # handed to the first waiter ...
    first.cancel()  # ... whose task is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await second
    assert got == ["second"]
    assert slots.try_take()
    assert not slots.try_take()


async def test_waiters_that_gave_up_are_skipped_and_cost_no_slot() -> None:
    """A hundred requests give up waiting (their timeouts run out): the slot given back afterwards
    is free for the next request, and there is still exactly one."""
    slots = ConnectionSlots(1)
    assert slots.try_take()
    assert await _give_up_waiting(slots, 100) == 100
    slots.give_back()
    assert await slots.take(timeout=30.0) == 0.0
    assert not slots.try_take()


async def test_a_wait_ended_by_anything_but_a_cancellation_costs_no_slot() -> None:
    """A waiter whose coroutine is closed while it waits (``GeneratorExit``, not a cancellation) is
    given up like a cancelled one: the slot given back afterwards is free, not handed to it."""
    slots = ConnectionSlots(1)
    assert slots.try_take()
    waiting = slots._wait()
    waiting.send(None)  # suspended on its place in the queue
    waiting.close()
    slots.give_back()
    assert slots.try_take()
    assert not slots.try_take()


async def test_a_long_queue_of_waiters_that_gave_up_is_swept() -> None:
    """A thousand requests give up behind a slot held all along (a stop's reservation, say): the
    queue does not keep them all, and the slot given back afterwards is free."""
    slots = ConnectionSlots(1)
    assert slots.try_take()
    assert await _give_up_waiting(slots, 1000) == 1000
    assert len(slots._waiters) <= 1000 // 2
    slots.give_back()
    assert slots.try_take()
    assert not slots.try_take()


# --- the stop's bound: the reservation's, on the client's request deadlines ---------------------------


async def test_a_bound_run_out_raises_timeout_from_its_cancellation_and_leaves_the_task_as_found() -> (
    None
):
    """``with reservation:`` past its deadline: the block is cancelled, ``TimeoutError`` is raised
    from that cancellation (as ``asyncio.timeout_at`` would), the task is not left cancelling, and the
    deadlines hold nothing more. The deadline counts from the moment the slot is held."""
    slots = ConnectionSlots(1)
    loop = asyncio.get_running_loop()
    before = loop.time()
    async with slots.reserved(0.05) as window:
        assert window.deadline >= before + 0.05
        with pytest.raises(TimeoutError) as info, window:
            assert len(slots.deadlines) == 1
            await asyncio.sleep(10)
    assert isinstance(info.value.__cause__, asyncio.CancelledError)
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0)  # no cancellation left pending
    assert len(slots.deadlines) == 0
    assert slots.take_now() is True  # the slot was given back


async def test_a_block_that_ends_within_its_bound_leaves_nothing_to_cancel() -> None:
    """A block done before its deadline is forgotten at once: the timer later cancels nothing."""
    slots = ConnectionSlots(1)
    async with slots.reserved(0.05) as window:
        with window:
            await asyncio.sleep(0)
        assert len(slots.deadlines) == 0
        await asyncio.sleep(0.1)  # past the deadline: the armed timer fires, for nobody
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0)


@pytest.mark.parametrize("cancel_at", [0.01, 0.0], ids=["before_the_deadline", "in_its_turn"])
async def test_a_cancellation_from_outside_within_a_bound_goes_through_as_itself(
    cancel_at: float,
) -> None:
    """Cancelled from outside before its deadline, the block raises ``CancelledError``, not
    ``TimeoutError``; cancelled from outside in the same turn as its deadline, too (the task is still
    cancelling once the bound took its own cancellation back). Fresh slots each time: the client's
    timer is armed at this bound's own deadline."""
    slots = ConnectionSlots(None)
    loop = asyncio.get_running_loop()

    async def bounded() -> None:
        async with slots.reserved(0.05) as window:
            task = asyncio.current_task()
            assert task is not None
            loop.call_at(
                window.deadline if cancel_at == 0 else loop.time() + cancel_at, task.cancel
            )
            with window:
                await asyncio.sleep(10)

    task = asyncio.create_task(bounded())
    await asyncio.wait([task])
    assert task.cancelled()
    assert len(slots.deadlines) == 0


async def test_an_error_raised_past_the_bound_is_not_turned_into_a_timeout() -> None:
    """A block that catches its bound's cancellation and raises something else raises that (as
    ``asyncio.timeout_at`` lets it), and its task is left as it was found."""
    slots = ConnectionSlots(None)
    async with slots.reserved(0.02) as window:
        with pytest.raises(ValueError, match="instead"), window:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                raise ValueError("instead") from None
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    assert len(slots.deadlines) == 0


async def test_a_bound_entered_by_a_task_already_cancelling_still_times_out() -> None:
    """A stop made in a cleanup, its task already cancelling once: past its bound it raises
    ``TimeoutError`` (the count back to what it was on entry), and the task is still cancelling
    once, for the cleanup's own cancellation to go on."""
    slots = ConnectionSlots(None)

    async def cleanup() -> tuple[bool, int]:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            async with slots.reserved(0.02) as window:
                try:
                    with window:
                        await asyncio.sleep(10)
                except TimeoutError:
                    return True, task.cancelling()
        return False, task.cancelling()

    assert await asyncio.create_task(cleanup()) == (True, 1)
    assert len(slots.deadlines) == 0


async def test_a_bound_counts_from_the_moment_the_slot_is_held() -> None:
    """Queued behind another holder of the only slot, the reservation's deadline is its bound from
    the moment that slot came to it, not from when it began to wait."""
    slots = ConnectionSlots(1)
    loop = asyncio.get_running_loop()
    assert slots.try_take()  # someone else holds the only slot
    waiting = asyncio.create_task(slots.reserved(0.5).__aenter__())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    handed_over = loop.time()
    slots.give_back()  # to the waiting reservation
    window = await waiting
    assert window.deadline >= handed_over + 0.5
    await window.__aexit__(None, None, None)
    assert slots.take_now() is True


async def test_without_a_bound_a_reservation_keeps_no_deadline() -> None:
    """``reserved()`` alone (``reserved_connection()``): no deadline, and ``with`` it bounds nothing."""
    slots = ConnectionSlots(1)
    async with slots.reserved() as window:
        assert window.deadline == float("inf")
        with window:
            assert len(slots.deadlines) == 0
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("provider", ["liveavatar", "kaltura"])
async def test_a_stop_past_its_bound_is_cut_on_the_clients_timer_and_reported(
    provider: str,
) -> None:
    """A stop the server never answers within ``stop_timeout``: the session's exit raises
    ``SessionStopError`` naming the session and the bound, the stop reached the server once, and its
    bound was kept beside its request on the client's deadlines (no loop timer of its own)."""
    async with AsyncExitStack() as stack:
        emulator, client, stop = await _open(stack, provider)
        emulator.inject(stop, drip=0.5)  # recorded at once, answered far past the bound
        seen: set[int] = set()
        deadlines = client._transport.slots.deadlines

        async def watch() -> None:  # what the deadlines hold while the stop is on its way
            while session.state is not SessionState.ENDED:
                if session.state is SessionState.STOPPING:
                    seen.add(len(deadlines))
                await asyncio.sleep(0.005)

        if provider == "liveavatar":
            session = client.session(AVATAR_ID, is_sandbox=True, stop_timeout=0.3)
        else:
            session = client.session(KALTURA_AVATAR_ID, stop_timeout=0.3)
        watcher = asyncio.create_task(watch())
        with pytest.raises(AvatarError) as info:
            async with session:
                pass
        await watcher
        assert session.session_id in str(info.value)
        assert "no confirmation within 0.3 s" in str(info.value)
        assert len(emulator.requests(stop)) == 1
        assert max(seen) == 2  # the stop's request and its bound, nothing more
        assert session.end_reason is None
        assert session.may_still_run
        await wait_until(lambda: len(deadlines) == 0)  # the stop's request let go too
