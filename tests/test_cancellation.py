"""``aioavatar._cancellation``: how a start or a stop runs to its end whatever cancels its caller, and
what that costs the loop: on Python 3.12 and later the protected work starts in the caller's turn of
the loop (an eager task), unless the loop has a task factory of its own, which then sees every task.
The rules it serves (11: a start or a stop is never cut short) are tested in ``test_stop.py`` and
``test_session.py``; here, the turns of the loop, and a session over the emulator with a factory."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

import pytest

from aioavatar import EndReason
from aioavatar._cancellation import EAGER_START, finish_despite_cancellation

from .providers import Provider

pytestmark = pytest.mark.anyio


def test_eager_start_is_used_exactly_where_python_has_it() -> None:
    """Eager tasks came with Python 3.12 (``asyncio.Task(..., eager_start=True)``)."""
    assert EAGER_START is (sys.version_info >= (3, 12))


async def test_the_protected_work_starts_in_the_callers_turn_where_python_can() -> None:
    """On 3.12 and later the work's first step runs before anything the loop had queued (its
    request goes out a turn earlier); on 3.11 it runs a turn later, after what was queued."""
    order: list[str] = []

    async def work() -> int:
        order.append("work started")
        await asyncio.sleep(0)
        return 7

    asyncio.get_running_loop().call_soon(order.append, "queued before")
    outcome = await finish_despite_cancellation(work())
    assert outcome.value == 7
    assert outcome.error is None
    assert outcome.cancelled is None
    if EAGER_START:
        assert order == ["work started", "queued before"]
    else:
        assert order == ["queued before", "work started"]


async def test_work_that_ends_without_waiting_gives_its_value_and_its_error() -> None:
    """Work that never waits (it ends within its eager first step on 3.12) still hands back its value,
    or its error, for the caller to raise."""

    async def value() -> str:
        return "done"

    async def failing() -> str:
        raise ValueError("refused")

    assert (await finish_despite_cancellation(value())).value == "done"
    error = (await finish_despite_cancellation(failing())).error
    assert isinstance(error, ValueError)
    assert str(error) == "refused"


async def test_a_cancellation_during_eager_work_is_handed_back_after_it() -> None:
    """The caller cancelled while the (eagerly started) work waits: the work finishes, and the
    cancellation comes back in the outcome, on every Python."""
    release = asyncio.Event()
    finished: list[str] = []

    async def work() -> None:
        await release.wait()
        finished.append("work")

    async def caller() -> BaseException | None:
        outcome = await finish_despite_cancellation(work())
        return outcome.cancelled

    task = asyncio.get_running_loop().create_task(caller())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    release.set()
    cancelled = await task
    assert finished == ["work"]
    assert isinstance(cancelled, asyncio.CancelledError)


class _Recorder:
    """A loop task factory that records the coroutine of every task it makes."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any],
        **kwargs: Any,
    ) -> asyncio.Task[Any]:
        self.names.append(getattr(coro, "__qualname__", type(coro).__name__))
        return asyncio.Task(coro, loop=loop, **kwargs)


async def test_a_loop_with_its_own_task_factory_sees_each_protected_task(
    provider: Provider,
) -> None:
    """An application's task factory (instrumentation, say) is never bypassed: a session's start and
    stop each go through it, on every Python, and the server still receives one start and one stop."""
    loop = asyncio.get_running_loop()
    recorder = _Recorder()
    previous = loop.get_task_factory()
    loop.set_task_factory(recorder)  # type: ignore[arg-type,unused-ignore]
    try:
        async with provider.session() as session:
            assert session.session_id
    finally:
        loop.set_task_factory(previous)
    assert recorder.names.count("Outcome._run") == 2, recorder.names  # the open, then the stop
    provider.assert_stopped_once(EndReason.USER_CLOSED)
