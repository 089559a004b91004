"""``aioavatar._block``: the block of ``async with`` cancelled from outside (rules 4, 6-8, 14) without
a cancel scope per session, as an anyio scope around the block would cancel it: in a plain asyncio
task as in an anyio one, through the scopes and task groups nested in it and a scope of its own that
cancels itself, held off by a shield inside it (without spinning) but not by one around it, and
losing to a cancelled scope around it. Each against both
emulators; the server's end is what ends the block (``end_on_server``, learnt by a beat)."""

from __future__ import annotations

import asyncio
import contextlib

import anyio
import anyio.lowlevel
import pytest
from anyio._backends import _asyncio as anyio_asyncio

from aioavatar import EndReason, SessionEndedError
from aioavatar._block import BlockCancellation, scope_cancelled

from .leaks import wait_until
from .providers import Provider

pytestmark = pytest.mark.anyio


async def test_a_block_in_a_plain_asyncio_task_is_cancelled_and_its_count_restored(
    provider: Provider,
) -> None:
    """A task anyio has never seen (no scope, no task group: a bot's own task) holds the block: the
    server's end cancels it, ``async with`` raises SessionEndedError, and the task is left with no
    cancellation request (its next await runs)."""
    outcome: list[object] = []

    async def hold() -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            async with provider.session(keep_alive_interval=0.05) as session:
                provider.end_on_server(session.session_id)
                await asyncio.sleep(30)
        except SessionEndedError as error:
            outcome.append(error.end_reason)
        outcome.append(task.cancelling())
        await asyncio.sleep(0)  # not interrupted: no cancellation is left pending
        outcome.append("after")

    await asyncio.get_running_loop().create_task(hold())
    assert outcome[0] in (EndReason.ZOMBIE_SESSION_REAP, EndReason.UNKNOWN)
    assert outcome[1:] == [0, "after"]


async def test_a_shield_around_the_session_does_not_hold_off_the_servers_end(
    provider: Provider,
) -> None:
    """A shield entered before the session protects what is around it from outer cancellations, not
    the block from its own: the server's end still cancels the block."""
    reached_end = False
    with anyio.CancelScope(shield=True), pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=0.05) as session:
            provider.end_on_server(session.session_id)
            await anyio.sleep(30)
            reached_end = True
    assert not reached_end
    assert provider.stops(session.session_id) == 0


async def test_scopes_and_task_groups_inside_the_block_pass_the_servers_end_on(
    provider: Provider,
) -> None:
    """A ``move_on_after`` scope and an anyio task group inside the block neither swallow nor stop
    the block's cancellation: the task group's children are cancelled, the scope is left as not
    cancelled itself, and ``async with`` raises SessionEndedError."""
    children_cancelled = 0
    scope_caught: list[bool] = []

    async def child() -> None:
        nonlocal children_cancelled
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            children_cancelled += 1
            raise

    with pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=0.05) as session:
            with anyio.move_on_after(3600) as scope:
                try:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(child)
                        tg.start_soon(child)
                        provider.end_on_server(session.session_id)
                        await anyio.sleep(30)
                finally:
                    scope_caught.append(scope.cancelled_caught)
    assert children_cancelled == 2
    assert scope_caught == [False]


@pytest.mark.parametrize("scope_first", [False, True], ids=["end-first", "scope-first"])
async def test_a_scope_inside_the_block_cancelled_in_the_same_turn_passes_the_end_on(
    provider: Provider, scope_first: bool
) -> None:
    """The server ends the session and, in the same loop turn (before or after), a scope inside the
    block is cancelled: the scope does not catch the cancellation as its own (it sees the block's
    beside it, as it would see a cancelled scope around it), and ``async with`` raises
    SessionEndedError."""
    after_scope = False
    loop = asyncio.get_running_loop()
    with pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=20) as session:
            with anyio.CancelScope() as inner:

                def both() -> None:
                    if scope_first:
                        inner.cancel()
                    session._on_server_end(EndReason.UNKNOWN)  # what a beat answered 404 does
                    if not scope_first:
                        inner.cancel()

                loop.call_soon(both)
                await anyio.sleep(30)
            after_scope = True
    assert not inner.cancelled_caught
    assert not after_scope


@pytest.mark.parametrize("end_first", [True, False], ids=["end-first", "scope-first"])
async def test_a_scope_around_the_session_cancelled_with_the_servers_end_wins(
    provider: Provider, end_first: bool
) -> None:
    """A cancelled anyio scope around the session wins over the server's end delivered in the same
    loop turn, whichever came first: the block's cancellation propagates to that scope, which
    catches it, and the code after it runs."""
    loop = asyncio.get_running_loop()
    with anyio.CancelScope() as outer:
        async with provider.session(keep_alive_interval=20) as session:

            def both() -> None:
                if not end_first:
                    outer.cancel()
                session._on_server_end(EndReason.UNKNOWN)
                if end_first:
                    outer.cancel()

            loop.call_soon(both)
            await anyio.sleep(30)
    assert outer.cancelled_caught
    assert session.end_reason is EndReason.UNKNOWN


async def test_the_block_ending_its_own_session_is_cancelled_at_its_next_await(
    provider: Provider,
) -> None:
    """The server's end learnt by the block's own task (a command answered 404 does that) does not
    interrupt the code that learnt it: the block runs on to its next await, which is cancelled."""
    steps: list[str] = []
    with pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=20) as session:
            session._on_server_end(EndReason.UNKNOWN)
            steps.append("learnt")
            await anyio.sleep(30)
            steps.append("slept")  # pragma: no cover - the failure this test looks for
    assert steps == ["learnt"]


async def test_a_block_awaiting_in_a_shield_is_cancelled_once_the_shield_is_left(
    provider: Provider,
) -> None:
    """The block is held off for as long as it waits inside a shield, and cancelled at an await
    after it."""
    shielded_waits = 0
    with pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=20) as session:
            with anyio.CancelScope(shield=True):
                session._on_server_end(EndReason.UNKNOWN)
                for _ in range(20):
                    await asyncio.sleep(0)
                    shielded_waits += 1
            await wait_until(lambda: False, within=30)
    assert shielded_waits == 20


async def test_a_shield_holding_the_cancellation_off_does_not_spin_the_loop(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a shield holds the block's cancellation off, the delivery looks again after a growing
    wait (1 ms, doubling, at most 20 ms), not on every loop turn: through a shielded half second it
    runs a few dozen times (a wait per loop turn ran it about 70,000 times, a core at 100 %)."""
    deliveries = 0
    deliver = BlockCancellation._deliver

    def counted(self: BlockCancellation) -> None:
        nonlocal deliveries
        deliveries += 1
        deliver(self)

    monkeypatch.setattr(BlockCancellation, "_deliver", counted)
    with pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=20) as session:
            with anyio.CancelScope(shield=True):
                session._on_server_end(EndReason.UNKNOWN)
                await asyncio.sleep(0.5)
            await anyio.sleep(30)
    assert 0 < deliveries <= 0.5 / 0.02 + 20, deliveries


async def test_a_session_exited_in_another_task_takes_its_requests_back_from_the_first(
    provider: Provider,
) -> None:
    """Rule 13 with the server's end in between: the task that entered the session (and was
    cancelled for the block) is left with no cancellation request of the session's when another
    task exits it."""
    session = provider.session(keep_alive_interval=20)
    loop = asyncio.get_running_loop()
    entered = asyncio.Event()

    async def enter_and_wait() -> None:
        await session.__aenter__()
        entered.set()
        await asyncio.sleep(30)

    first = loop.create_task(enter_and_wait())
    await entered.wait()
    session._on_server_end(EndReason.UNKNOWN)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert first.cancelling() > 0  # the session's requests, until the exit takes them back
    with pytest.raises(RuntimeError, match="different task"):
        await loop.create_task(session.__aexit__(None, None, None))
    assert first.cancelling() == 0


async def test_a_session_that_outlives_the_scope_it_was_entered_in_still_raises_its_end(
    provider: Provider,
) -> None:
    """Entered through an exit stack inside an anyio task group that is then cancelled and left
    (the usual way to stop one), the session outlives that scope: the server's end still raises
    SessionEndedError, judged against the scopes the error goes through, not the cancelled one it
    was entered in, and no cancellation is left over."""
    task = asyncio.current_task()
    assert task is not None
    with pytest.raises(SessionEndedError):
        async with contextlib.AsyncExitStack() as stack:
            async with anyio.create_task_group() as tg:
                session = await stack.enter_async_context(provider.session(keep_alive_interval=20))
                tg.start_soon(anyio.sleep, 30)
                tg.cancel_scope.cancel()
            session._on_server_end(EndReason.UNKNOWN)
            await anyio.sleep(30)
    assert task.cancelling() == 0


async def test_a_scope_cancelling_a_task_about_to_run_passes_the_end_on(
    provider: Provider,
) -> None:
    """A scope inside the block cancels itself while the task waits to run (after ``sleep(0)``)
    and the server ends the session in the same turn: the block's request joins the scope's
    pending one, so the scope passes the cancellation on and ``async with`` raises
    SessionEndedError."""
    loop = asyncio.get_running_loop()
    after_scope = False
    with pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=20) as session:
            with anyio.CancelScope() as inner:

                def both() -> None:
                    inner.cancel()
                    session._on_server_end(EndReason.UNKNOWN)

                loop.call_soon(both)
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                await asyncio.sleep(30)
            after_scope = True
    assert not after_scope


async def test_a_task_with_a_request_left_over_still_gets_the_sessions_end(
    provider: Provider,
) -> None:
    """A task that once caught a cancellation without taking it back (``cancelling()`` is 1) opens a
    session: the block's cancellation is still told from a caller's by the requests it added, and
    ``async with`` raises SessionEndedError, the task left with the one request it had."""
    task = asyncio.current_task()
    assert task is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(30)
    assert task.cancelling() == 1
    try:
        with pytest.raises(SessionEndedError):
            async with provider.session(keep_alive_interval=20) as session:
                session._on_server_end(EndReason.UNKNOWN)
                await asyncio.sleep(30)
        assert task.cancelling() == 1
    finally:
        task.uncancel()


async def test_scope_cancelled_reads_what_anyios_checkpoint_would_raise_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``scope_cancelled`` (asked after every protected start and stop) says whether a cancelled
    scope holds the task up to a shield, as ``checkpoint_if_cancelled`` walks it; when anyio's
    record of the task's scopes is gone or unlike the one it reads (a later anyio) it says yes, so
    that anyio itself is asked."""
    task = asyncio.current_task()
    assert not scope_cancelled(task)
    assert not scope_cancelled(None)
    with anyio.CancelScope() as outer:
        outer.cancel()
        assert scope_cancelled(task)
        with anyio.CancelScope(shield=True):
            assert not scope_cancelled(task)
            with anyio.CancelScope() as inner:
                inner.cancel()
                assert scope_cancelled(task)
                await anyio.lowlevel.checkpoint()  # raises: what was read, anyio agrees with
            await anyio.lowlevel.checkpoint()  # the shield holds
        await anyio.lowlevel.checkpoint()
    assert inner.cancelled_caught
    assert outer.cancelled_caught
    seen: list[bool] = []

    async def child() -> None:
        seen.append(scope_cancelled(asyncio.current_task()))
        await anyio.sleep(30)

    async with anyio.create_task_group() as tg:  # a task group's child: its scope, then ours
        tg.start_soon(child)
        await wait_until(lambda: len(seen) == 1)
        tg.cancel_scope.cancel()
        seen.append(scope_cancelled(task))
    assert seen == [False, True]
    # A record whose entries lack the field this reads, or no record at all: anyio is asked.
    monkeypatch.setattr(anyio_asyncio, "_task_states", {task: object()})
    assert scope_cancelled(task)
    monkeypatch.delattr(anyio_asyncio, "_task_states")
    assert scope_cancelled(task)
