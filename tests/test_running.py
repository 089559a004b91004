"""``_running.py``: what a client's close ends first (rule 14), alone, with members that record what
the close asks of them. The same behaviour through real sessions and emulators: ``tests/test_stop.py``
(``test_a_client_clos*``, ``test_a_cancelled_close_*``, ``test_no_session_opens_on_a_closing_client``)."""

from __future__ import annotations

import anyio
import pytest

from aioavatar._running import Running

from .leaks import wait_until

pytestmark = pytest.mark.anyio


class Member:
    """A session as the close sees it: counts the ends asked of it."""

    def __init__(self) -> None:
        self.ends = 0

    async def _client_closing(self) -> None:
        self.ends += 1


async def test_a_session_opened_during_a_close_is_ended_while_other_starts_are_under_way() -> None:
    """Two starts are under way when the close begins: the one that succeeds first is ended as soon
    as it is held, not once the other is over; the close returns only once both are."""
    running = Running()
    first, second = Member(), Member()
    running.starting(first)
    running.starting(second)
    closed = anyio.Event()

    async def close() -> None:
        assert await running.end_all() is None
        closed.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(close)
        await wait_until(lambda: running._closing)
        running.hold(first)
        await wait_until(lambda: first.ends == 1)
        assert not closed.is_set()  # the second start is still under way
        running.let_go(second)  # its start failed: nothing to end
        await closed.wait()
    assert (first.ends, second.ends) == (1, 0)


async def test_members_are_counted_whatever_order_they_are_let_go_of_in() -> None:
    """Letting go of a member never counted, or twice, changes nothing; the close waits for exactly
    the starts under way, and refuses new ones until the client is opened again."""
    running = Running()
    stranger, member = Member(), Member()
    running.let_go(stranger)
    running.starting(member)
    running.let_go(member)
    running.let_go(member)
    with anyio.fail_after(5):  # nothing is under way: the close does not wait
        await running.end_all()
    with pytest.raises(RuntimeError, match="closing or closed"):
        running.starting(Member())
    running.open()
    running.starting(member)
    running.hold(member)
    await running.end_all()
    assert member.ends == 1


async def test_a_cancelled_close_ends_everything_and_returns_the_cancellation() -> None:
    """The close is cancelled while a start is under way: it still ends what is held and what that
    start opens, then returns the cancellation for its caller to raise."""
    running = Running()
    held, opening = Member(), Member()
    running.starting(held)
    running.hold(held)
    running.starting(opening)
    outcome: list[BaseException | None] = []

    async def close() -> None:
        outcome.append(await running.end_all())

    async with anyio.create_task_group() as tg:
        tg.start_soon(close)
        await wait_until(lambda: held.ends == 1)
        tg.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.05)
            running.hold(opening)
            await wait_until(lambda: bool(outcome))
    assert (held.ends, opening.ends) == (1, 1)
    assert outcome[0] is not None
