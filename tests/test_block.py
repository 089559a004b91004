"""``aioavatar._block``: the block of ``async with`` cancelled from outside (rules 4, 6-8, 14) without
a cancel scope per session, as an anyio scope around the block would cancel it: in a plain asyncio
task as in an anyio one, through the scopes and task groups nested in it, after a scope of its own
that cancels itself, held off by a shield inside it but not by one around it. Each against both
emulators; the server's end is what ends the block (``end_on_server``, learnt by a beat)."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from aioavatar import EndReason, SessionEndedError

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


async def test_a_scope_inside_the_block_cancelling_itself_first_keeps_its_own(
    provider: Provider,
) -> None:
    """The server ends the session and, in the same loop turn, a scope inside the block is cancelled:
    the scope catches its own cancellation (the block's is held off meanwhile, as an anyio scope
    around the block would hold it off), and the block's next await is cancelled: SessionEndedError."""
    after_scope = reached_end = False
    with pytest.raises(SessionEndedError):
        async with provider.session(keep_alive_interval=20) as session:
            with anyio.CancelScope() as inner:
                session._on_server_end(EndReason.UNKNOWN)  # what a beat answered 404 does
                inner.cancel()  # after: the block's cancellation would be the first delivered
                await anyio.sleep(30)
            after_scope = True
            await anyio.sleep(30)
            reached_end = True
    assert inner.cancelled_caught
    assert after_scope
    assert not reached_end


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
    """The block is held off for as long as it waits inside a shield, polled loop turn after loop
    turn, and not a turn more: the first await after the shield is cancelled."""
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
