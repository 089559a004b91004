"""``aioavatar._cancellation``: how a start or a stop runs to its end whatever cancels its caller, and
what that costs the loop: on Python 3.12 and later the protected work starts in the caller's turn of
the loop (an eager task), unless the loop has a task factory of its own, which then sees every task.
The rules it serves (11: a start or a stop is never cut short) are tested in ``test_stop.py`` and
``test_session.py``; here, the turns of the loop, and a session over the emulator with a factory."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any

import pytest

from aioavatar import EndReason, LiveAvatarClient
from aioavatar._cancellation import EAGER_START, finish_despite_cancellation
from aioavatar.liveavatar._backend import LiveAvatarBackend
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY
from .providers import AVATAR_ID, Provider

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


async def test_a_cancellation_pending_when_the_work_ends_at_once_is_handed_back() -> None:
    """A cancellation already requested of the caller is taken by the protected wait and handed
    back, also when the work ends within its eager first step (3.12 and later: without the wait's
    one loop turn it reached the caller's next await instead, unnoted)."""

    async def at_once() -> int:
        return 3

    async def caller() -> tuple[int | None, BaseException | None]:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # pending: delivered at this task's next wait
        outcome = await finish_despite_cancellation(at_once())
        return outcome.value, outcome.cancelled

    value, cancelled = await asyncio.get_running_loop().create_task(caller())
    assert value == 3
    assert isinstance(cancelled, asyncio.CancelledError)


@pytest.mark.skipif(not EAGER_START, reason="lazy start: an interrupt in a task leaves the loop")
async def test_an_interrupt_in_the_eager_first_step_is_handed_to_the_caller() -> None:
    """A ``KeyboardInterrupt`` raised before the work first waits comes back as the outcome's error
    (the caller raises it after its cleanup) instead of out of the task's constructor."""

    async def interrupted() -> None:
        raise KeyboardInterrupt

    outcome = await finish_despite_cancellation(interrupted())
    assert isinstance(outcome.error, KeyboardInterrupt)
    assert outcome.cancelled is None


@pytest.mark.skipif(not EAGER_START, reason="lazy start: an interrupt in a task leaves the loop")
async def test_a_start_interrupted_in_its_first_step_is_stopped_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rule 3 on 3.12 and later: a ``KeyboardInterrupt`` in the start's eager first step (the token
    exists, the start may have gone out) is followed by one stop with ``SERVER_ERROR`` before the
    interrupt propagates (it skipped the stop before: nothing was sent, nothing said)."""

    async def interrupted_open(self: LiveAvatarBackend) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(LiveAvatarBackend, "open", interrupted_open)
    async with (
        LiveAvatarEmulator(api_key=API_KEY) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        session = client.session(AVATAR_ID, is_sandbox=True)
        with pytest.raises(KeyboardInterrupt):
            async with session:
                pytest.fail("the block must not run")
        stops = emulator.requests("stop")
    assert [r.body["reason"] for r in stops] == ["SERVER_ERROR"]
    assert stops[0].session_id == session.session_id


@pytest.mark.skipif(not EAGER_START, reason="lazy start: an interrupt in a task leaves the loop")
async def test_a_stop_interrupted_in_its_first_step_says_the_session_may_still_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Rule 12 on 3.12 and later: a ``KeyboardInterrupt`` in the stop's eager first step (before
    any answer) propagates from the exit, and the user learns the session's id and that it may still
    run (a WARNING, and a note on the interrupt); the server indeed still runs it."""

    async def interrupted_close(
        self: LiveAvatarBackend, reason: EndReason, *, deadline: float
    ) -> bool:
        raise KeyboardInterrupt

    async with (
        LiveAvatarEmulator(api_key=API_KEY) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        session = client.session(AVATAR_ID, is_sandbox=True)
        with pytest.raises(KeyboardInterrupt) as raised, caplog.at_level(logging.WARNING):
            async with session:
                monkeypatch.setattr(LiveAvatarBackend, "close", interrupted_close)
        assert emulator.requests("stop") == []
        assert session.session_id in [s.id for s in emulator.active_sessions()]
    notes = getattr(raised.value, "__notes__", [])
    assert any(session.session_id in n and "may still be running" in n for n in notes), notes
    assert any(
        session.session_id in r.getMessage() and "may still be running" in r.getMessage()
        for r in caplog.records
    )
    assert session.end_reason is None


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
    assert len(provider.emulator.requests(provider.enter_steps[-1])) == 1
    provider.assert_stopped_once(EndReason.USER_CLOSED)
