"""``aioavatar._cancellation``: how a start or a stop runs to its end whatever cancels its caller, and
what that costs the loop: the protected work runs in its caller's own steps, from the caller's turn of
the loop, as a stand-in task (made through the loop's task factory when it has one, and kept by the
client between calls), which what the work enters cancels instead of the caller.
The rules it serves (11: a start or a stop is never cut short) are tested in ``test_stop.py`` and
``test_session.py``; here, the turns of the loop, a session over the emulator with a factory, and a
``KeyboardInterrupt`` or ``SystemExit`` that lands in a start or a stop: in its eager first step
(in process) or after its first wait (a program under ``asyncio.run``, in a
subprocess), each ending with the stops and the reports rules 3 and 12 ask for: an interrupted
start's stop, a block's exception kept when its stop is cut short, and a failed enter's clean-up
that still ends the session and closes the client it owns."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import json
import logging
import subprocess
import sys
import time
import weakref
from collections.abc import Coroutine
from typing import Any

import anyio
import pytest

from aioavatar import AvatarSession, EndReason, LiveAvatarClient, SessionState
from aioavatar._cancellation import finish_despite_cancellation
from aioavatar._keepalive import KeepAlive
from aioavatar._standins import EAGER_START, TASK_NAME, StandIns
from aioavatar.liveavatar._backend import LiveAvatarBackend
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY
from .leaks import wait_until
from .providers import AVATAR_ID, Provider

pytestmark = pytest.mark.anyio


def test_pythons_own_eager_start_is_used_exactly_where_python_has_it() -> None:
    """Eager tasks came with Python 3.12 (``asyncio.Task(..., eager_start=True)``); 3.11 gets the
    same steps written out (the tests below run on every Python)."""
    assert EAGER_START is (sys.version_info >= (3, 12))


async def test_the_protected_work_starts_in_the_callers_turn_where_python_can() -> None:
    """The work's first step runs before anything the loop had queued (its request goes out a turn
    earlier), on every Python (it ran a turn later, after what was queued, on 3.11 before)."""
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
    assert order == ["work started", "queued before"]


async def test_the_protected_work_runs_in_a_task_named_for_what_it_is() -> None:
    """A task dump names the task a start or a stop runs in (not ``Task-<n>``, formatted anew for
    each task), whether the loop makes its tasks itself or through a task factory."""
    names: list[str] = []

    async def work() -> None:
        task = asyncio.current_task()
        assert task is not None
        names.append(task.get_name())
        await asyncio.sleep(0)

    await finish_despite_cancellation(work())
    loop = asyncio.get_running_loop()
    loop.set_task_factory(lambda loop, coro, **kw: asyncio.Task(coro, loop=loop, **kw))
    try:
        await finish_despite_cancellation(work())
    finally:
        loop.set_task_factory(None)
    assert names == [TASK_NAME, TASK_NAME]


class _LoopPassingNames(asyncio.SelectorEventLoop):
    """A loop that hands ``create_task``'s ``name`` on to its task factory, as Python 3.13.3 and 3.14
    do (3.11, 3.12 and other 3.13 releases name the task themselves, after the factory)."""

    def create_task(self, coro: Any, *, name: object = None, **kwargs: Any) -> Any:
        factory = self.get_task_factory()
        if factory is None:
            return super().create_task(coro, name=name, **kwargs)
        if name is not None:
            kwargs["name"] = name
        return factory(self, coro, **kwargs)


def test_protected_work_runs_under_a_task_factory_that_takes_no_name() -> None:
    """A task factory written to the signature ``(loop, coro)`` (the documented one before 3.14) still
    runs a start or a stop, on a loop that hands ``name=`` on to it as 3.13.3 and 3.14 do: the task
    is named after it is made (a ``TypeError`` there would leave a session unstopped)."""
    made: list[str] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[Any]:
        made.append("task")
        return asyncio.Task(coro, loop=loop)

    async def work() -> str:
        task = asyncio.current_task()
        assert task is not None
        await asyncio.sleep(0)
        return task.get_name()

    async def main() -> Any:
        asyncio.get_running_loop().set_task_factory(factory)
        return await finish_despite_cancellation(work())

    with asyncio.Runner(loop_factory=_LoopPassingNames) as runner:
        outcome = runner.run(main())
    assert outcome.error is None, outcome.error
    assert outcome.value == TASK_NAME
    assert made


async def test_work_that_ends_without_waiting_gives_its_value_and_its_error() -> None:
    """Work that never waits (it ends within its eager first step) still hands back its value, or its
    error, for the caller to raise."""

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
    back, also when the work ends within its eager first step (without the wait's one loop turn it
    reached the caller's next await instead, unnoted)."""

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


async def test_the_eager_first_step_runs_as_the_works_own_task_in_its_own_context() -> None:
    """The work's first step runs in the caller's turn but as the work's task, as every later step:
    a timeout it enters there (aiohttp's request timer and the stop's bound are such) cancels the
    work, never the caller, and a context variable it sets stays with the work."""
    caller = asyncio.current_task()
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="caller's")
    seen: list[object] = []

    async def work() -> None:
        seen.append(asyncio.current_task())
        variable.set("work's")
        async with asyncio.timeout(0):  # expires at the work's first wait, before this sleep ends
            seen.append(asyncio.current_task())
            await asyncio.sleep(1)

    outcome = await finish_despite_cancellation(work())
    assert isinstance(outcome.error, TimeoutError)  # the work's timeout, in the work's task
    assert outcome.cancelled is None  # the caller was not cancelled
    assert seen[0] is seen[1]
    assert seen[0] is not caller
    assert isinstance(seen[0], asyncio.Task)
    assert asyncio.current_task() is caller
    assert variable.get() == "caller's"


async def test_work_whose_task_is_cancelled_before_its_next_step_ends_and_wakes_the_caller() -> (
    None
):
    """The work's own task cancelled within its eager first step (as ``asyncio.run``'s cleanup may
    cancel every task): as for a task that had taken that step itself, the future the work waits on
    is cancelled (its callbacks run: a socket's wait, say, is unregistered), the work gets the
    cancellation, with its message, at its wait and ends, and its caller gets the outcome instead of
    waiting for ever."""
    reached: list[str] = []

    async def work() -> None:
        task = asyncio.current_task()
        assert task is not None
        waited = asyncio.get_running_loop().create_future()
        waited.add_done_callback(lambda f: reached.append(f"wait cancelled: {f.cancelled()}"))
        task.cancel("shutting down")  # before the task took any step of its own
        try:
            await waited
        except asyncio.CancelledError as exc:
            reached.append(f"work cancelled: {exc.args}")
            raise

    outcome = await finish_despite_cancellation(work())
    assert reached == ["wait cancelled: True", "work cancelled: ('shutting down',)"]
    assert isinstance(outcome.error, asyncio.CancelledError)
    assert outcome.cancelled is None


def test_a_protected_task_left_behind_by_a_closed_loop_closes_its_work() -> None:
    """A loop closed while protected work waits, its task never finished: when that task and its work
    are collected (in either order), the work is closed, as ``yield from`` would close it, with no
    error about a coroutine awaited twice."""
    closed: list[str] = []

    async def work() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            closed.append("work closed")

    async def caller() -> None:
        await finish_despite_cancellation(work())

    loop = asyncio.new_event_loop()
    task = loop.create_task(caller())
    for _ in range(3):  # the caller's step, the work's task's first step
        loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    del task
    gc.collect()
    assert closed == ["work closed"]


async def test_the_swap_back_enters_no_function_an_interrupt_could_land_at_the_start_of() -> None:
    """An interrupt can land as a Python function begins, before its ``try``. The swap back after
    each of the work's steps enters no helper (one that did left the stand-in current when an
    interrupt landed there, and the loop stopped): here an interrupt is raised as any function of
    the module begins between the work's step and the caller's wait, and none does."""
    from aioavatar import _cancellation

    entered: list[str] = []
    started = False

    def until_returned(frame: Any, event: str, arg: Any) -> Any:
        nonlocal started
        if event == "return":  # the driver yields to the caller's wait (or ends)
            started = False
        return until_returned

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        code = frame.f_code
        if code is _cancellation._drive.__code__:
            return until_returned
        if started and event == "call" and code.co_filename == _cancellation.__file__:
            entered.append(code.co_name)
            raise KeyboardInterrupt
        return None

    async def work() -> None:
        nonlocal started
        started = True  # its first step: from here to the swap back
        await asyncio.sleep(0)

    caller = asyncio.current_task()
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        await finish_despite_cancellation(work())
    except KeyboardInterrupt:
        pass
    finally:
        sys.settrace(previous)
        started = False
    assert asyncio.current_task() is caller
    assert entered == []


@pytest.mark.parametrize(
    "swap",
    [1, 2, 3, 4],
    ids=["leaving-the-caller", "entering-the-task", "leaving-the-task", "entering-the-caller"],
)
async def test_an_interrupt_after_any_swap_of_the_current_task_leaves_the_caller_current(
    monkeypatch: pytest.MonkeyPatch, swap: int
) -> None:
    """An interrupt landing just after any of the four swaps of the loop's current task around the
    work's first step (a second Ctrl-C can land after any call returns) leaves the caller the current
    task again, so its step ends as usual and the loop goes on. Before that step it propagates and
    the work is closed, never started (no "never awaited" warning); after it, it is held while the
    work goes on to its end, and comes back as the outcome's interrupt for the caller to raise."""
    from aioavatar import _cancellation

    calls = 0

    def interrupting(swap_task: Any) -> Any:
        def swapped(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
            nonlocal calls
            swap_task(loop, task)
            calls += 1
            if calls == swap:
                raise KeyboardInterrupt

        return swapped

    finished = asyncio.Event()
    go = asyncio.get_running_loop().create_future()

    async def work() -> None:
        await go  # a future its task must be handed
        finished.set()

    caller = asyncio.current_task()
    for name in ("_enter_task", "_leave_task"):
        monkeypatch.setattr(_cancellation, name, interrupting(vars(_cancellation)[name]))
    unstarted = work()
    if swap <= 2:
        with pytest.raises(KeyboardInterrupt):
            await finish_despite_cancellation(unstarted)
        monkeypatch.undo()
        assert asyncio.current_task() is caller
        assert inspect.getcoroutinestate(unstarted) == inspect.CORO_CLOSED
        assert not finished.is_set()
    else:
        protected = asyncio.get_running_loop().create_task(finish_despite_cancellation(unstarted))
        for _ in range(5):  # the work waits for ``go``, its interrupt held
            await asyncio.sleep(0)
        monkeypatch.undo()
        assert not protected.done()
        go.set_result(None)
        outcome = await protected
        assert finished.is_set()  # the work went on to its end
        assert isinstance(outcome.interrupt, KeyboardInterrupt)
        assert outcome.error is None
    await asyncio.sleep(0)  # the caller's step ended and the loop took it on again


async def test_an_interrupt_in_the_eager_first_step_is_handed_to_the_caller() -> None:
    """A ``KeyboardInterrupt`` raised before the work first waits comes back as the outcome's error
    (the caller raises it after its cleanup) instead of out of the task's constructor."""

    async def interrupted() -> None:
        raise KeyboardInterrupt

    outcome = await finish_despite_cancellation(interrupted())
    assert isinstance(outcome.error, KeyboardInterrupt)
    assert outcome.interrupt is outcome.error  # the caller's to raise: the loop never saw it
    assert outcome.cancelled is None


async def _interrupted_open(self: LiveAvatarBackend) -> None:
    raise KeyboardInterrupt


async def _interrupted_close(
    self: LiveAvatarBackend, reason: EndReason, *, deadline: float
) -> bool:
    raise KeyboardInterrupt


@pytest.mark.parametrize("stop_fails", [False, True], ids=["stop-confirmed", "stop-refused"])
async def test_a_start_interrupted_in_its_first_step_is_stopped_once(
    monkeypatch: pytest.MonkeyPatch, stop_fails: bool
) -> None:
    """Rule 3: a ``KeyboardInterrupt`` in the start's eager first step (the token
    exists, the start may have gone out) is followed by one stop with ``SERVER_ERROR`` before the
    interrupt propagates (it skipped the stop before: nothing was sent, nothing said). When that stop
    is refused, the interrupt still propagates (not a ``SessionStopError``, which a program may catch
    and go on), with the note that names the session as possibly still running."""
    monkeypatch.setattr(LiveAvatarBackend, "open", _interrupted_open)
    async with (
        LiveAvatarEmulator(api_key=API_KEY) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        if stop_fails:
            emulator.inject("stop", status=400, times=10)  # refused: not retried, not confirmed
        session = client.session(AVATAR_ID, is_sandbox=True)
        with pytest.raises(KeyboardInterrupt) as raised:
            async with session:
                pytest.fail("the block must not run")
        stops = emulator.requests("stop")
    assert [r.body["reason"] for r in stops] == ["SERVER_ERROR"]
    assert stops[0].session_id == session.session_id
    notes = getattr(raised.value, "__notes__", [])
    named = any(session.session_id in n and "may still be running" in n for n in notes)
    assert named is stop_fails, notes


async def test_a_start_interrupted_in_its_first_step_keeps_its_interrupt_over_a_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rules 3 and 10: the start's eager first step meets a ``KeyboardInterrupt`` (the loop never
    saw it), and the task is cancelled while the stop that follows is in flight. The interrupt
    propagates after that one stop, not the cancellation (which replaced it, and the program never
    learnt of its Ctrl-C)."""
    monkeypatch.setattr(LiveAvatarBackend, "open", _interrupted_open)
    me = asyncio.current_task()
    assert me is not None
    async with (
        LiveAvatarEmulator(api_key=API_KEY) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        emulator.inject("stop", delay=0.3)
        session = client.session(AVATAR_ID, is_sandbox=True)

        async def cancel_during_the_stop() -> None:
            await wait_until(lambda: session.state is SessionState.STOPPING)
            me.cancel()

        canceller = asyncio.get_running_loop().create_task(cancel_during_the_stop())
        with pytest.raises(KeyboardInterrupt):
            async with session:
                pytest.fail("the block must not run")
        await canceller
        me.uncancel()  # the cancellation the interrupt went on instead of
        stops = emulator.requests("stop")
    assert [r.body["reason"] for r in stops] == ["SERVER_ERROR"]


async def test_a_stop_interrupted_in_its_first_step_says_the_session_may_still_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Rule 12: a ``KeyboardInterrupt`` in the stop's eager first step (before
    any answer) propagates from the exit, and the user learns the session's id and that it may still
    run (a WARNING, and a note on the interrupt); the server indeed still runs it."""

    async with (
        LiveAvatarEmulator(api_key=API_KEY) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        session = client.session(AVATAR_ID, is_sandbox=True)
        with pytest.raises(KeyboardInterrupt) as raised, caplog.at_level(logging.WARNING):
            async with session:
                monkeypatch.setattr(LiveAvatarBackend, "close", _interrupted_close)
        assert emulator.requests("stop") == []
        assert session.session_id in [s.id for s in emulator.active_sessions()]
    notes = getattr(raised.value, "__notes__", [])
    assert any(session.session_id in n and "may still be running" in n for n in notes), notes
    assert any(
        session.session_id in r.getMessage() and "may still be running" in r.getMessage()
        for r in caplog.records
    )
    assert session.end_reason is None


async def test_an_entry_whose_cleanup_stop_is_interrupted_still_ends_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rules 9 and 12: the session started, then what follows fails (a bug: its
    keep-alive cannot start), so the entry's cleanup stops it with ``SERVER_ERROR``; that stop meets
    a ``KeyboardInterrupt`` in its first step. The interrupt propagates, naming the session, and the
    session still ends: ``ENDED``, and the client it owns closed (that close was skipped before)."""
    aclose, closed = LiveAvatarClient.aclose, []

    def broken_start(self: KeepAlive) -> None:
        raise RuntimeError("a bug")

    async def counted_aclose(self: LiveAvatarClient) -> None:
        closed.append(self)
        await aclose(self)

    monkeypatch.setattr(KeepAlive, "start", broken_start)
    monkeypatch.setattr(LiveAvatarBackend, "close", _interrupted_close)
    monkeypatch.setattr(LiveAvatarClient, "aclose", counted_aclose)
    async with LiveAvatarEmulator(api_key=API_KEY) as emulator:
        session = AvatarSession(
            AVATAR_ID, api_key=API_KEY, base_url=emulator.base_url, is_sandbox=True
        )
        with pytest.raises(KeyboardInterrupt) as raised:
            async with session:
                pytest.fail("the block must not run")
        assert session.session_id in [s.id for s in emulator.active_sessions()]
    notes = getattr(raised.value, "__notes__", [])
    assert any(session.session_id in n and "may still be running" in n for n in notes), notes
    assert session.state is SessionState.ENDED
    assert len(closed) == 1


@pytest.mark.parametrize("where", ["after_open", "block_entered", "at_exit"])
async def test_an_interrupt_in_the_callers_own_frames_still_stops_the_session(
    provider: Provider, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Rule 10 at the points of the caller's own frames a Ctrl-C (a second one under
    ``asyncio.run``, any under ``run_until_complete``) can land at, as a call there returns: after
    open has started the session but before it is ``ACTIVE`` (its answer being kept), as the entry
    ends, and as the block's exit begins, before its stop. The session is stopped once, ``USER_CLOSED``, before the
    interrupt propagates; it was left running, unsaid, before."""
    from aioavatar import _stop
    from aioavatar._compact import compact

    def interrupting(original: Any) -> Any:
        def call(*args: Any) -> Any:
            original(*args)
            monkeypatch.undo()  # once
            raise KeyboardInterrupt

        return call

    if where == "after_open":
        monkeypatch.setattr("aioavatar._session.compact", interrupting(compact))
    if where == "block_entered":  # the entry's last call
        entered = interrupting(_stop.Stopping._block_entered)
        monkeypatch.setattr(_stop.Stopping, "_block_entered", entered)
    session = provider.session()
    with pytest.raises(KeyboardInterrupt):
        async with session:
            if where == "at_exit":
                exited = interrupting(_stop.Stopping._block_exited)
                monkeypatch.setattr(_stop.Stopping, "_block_exited", exited)
    provider.assert_stopped_once(EndReason.USER_CLOSED, session)
    assert session.state is SessionState.ENDED
    assert provider.active() == []


#: A program of three sessions under ``asyncio.run``. Sessions 1 and 2 enter and wait; then session
#: 0 meets an interrupt (a second Ctrl-C; a SIGTERM handler's ``sys.exit``). ``stop``: session 0
#: leaves its block and its stop is cut short after its first wait (the interrupt leaves the loop, as
#: any interrupt does); ``block-error``: the same after its block raised. ``start``: session 0's
#: start is interrupted in its first step, then its rule-3 stop after its first wait.
#: ``late-start``: its start is interrupted after its first wait, and its rule-3 stop runs;
#: ``late-start-refused``: the same in a program of that one session, whose stop the server refuses.
#: It prints what the emulator then saw, and how each session's task ended, as JSON.
_INTERRUPTED_PROGRAM = """
import asyncio, json, logging, sys, threading
from aioavatar import LiveAvatarClient
from aioavatar.liveavatar._backend import LiveAvatarBackend
from aioavatar.testing import LiveAvatarEmulator

API_KEY, AVATAR_ID, KIND, MODE = sys.argv[1:5]
INTERRUPT = SystemExit if KIND == "exit" else KeyboardInterrupt
warnings = []
handler = logging.Handler(logging.WARNING)
handler.emit = lambda record: warnings.append(record.getMessage())
logging.getLogger("aioavatar").addHandler(handler)
ready, done, box = threading.Event(), threading.Event(), {}

def serve():
    async def run():
        async with LiveAvatarEmulator(api_key=API_KEY) as emulator:
            box["emulator"] = emulator
            ready.set()
            while not done.is_set():
                await asyncio.sleep(0.01)
    asyncio.run(run())

threading.Thread(target=serve, daemon=True).start()
ready.wait()
emulator = box["emulator"]
close, armed = LiveAvatarBackend.close, []

async def interrupted_close(self, reason, *, deadline):
    if armed:
        armed.clear()
        await asyncio.sleep(0)
        raise INTERRUPT()
    return await close(self, reason, deadline=deadline)

async def interrupted_open(self):
    box["first"] = self.session_id
    if MODE.startswith("late-start"):
        await asyncio.sleep(0)  # after its first wait: the interrupt reaches the loop
    raise INTERRUPT()

LiveAvatarBackend.close = interrupted_close
ids, ended = {}, {}

async def one(client, index, entered):
    session = client.session(AVATAR_ID, is_sandbox=True, stop_timeout=5.0)
    try:
        async with session:
            ids[index] = session.session_id
            entered.set()
            if index:
                await asyncio.sleep(3600)
            armed.append(True)
            if MODE == "block-error":
                raise ValueError("the block failed")
    except BaseException as exc:
        ended[index] = [type(exc).__name__, getattr(exc, "__notes__", [])]
        raise

async def main():
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client:
        async with asyncio.TaskGroup() as group:
            for index in () if MODE == "late-start-refused" else (1, 2):
                entered = asyncio.Event()
                group.create_task(one(client, index, entered))
                await entered.wait()
            if MODE in ("start", "late-start", "late-start-refused"):
                LiveAvatarBackend.open = interrupted_open
            if MODE == "start":
                armed.append(True)  # a second interrupt cuts the rule-3 stop short
            if MODE == "late-start-refused":
                emulator.inject("stop", status=400, times=10)  # refused: not retried
            group.create_task(one(client, 0, asyncio.Event()))

raised, notes = None, []
try:
    asyncio.run(main())
except BaseException as exc:
    raised, notes = type(exc).__name__, getattr(exc, "__notes__", [])
stops = {}
for request in emulator.requests("stop"):
    stops.setdefault(request.session_id, []).append(request.body["reason"])
active = [s.id for s in emulator.active_sessions()]
done.set()
print(json.dumps({"raised": raised, "notes": notes, "first": ids.get(0, box.get("first")),
                  "others": [ids[i] for i in (1, 2) if i in ids], "stops": stops,
                  "active": active, "warnings": warnings, "ended": ended}))
"""


def _interrupted_program(kind: str, mode: str) -> dict[str, Any]:
    """Run :data:`_INTERRUPTED_PROGRAM` in a fresh interpreter; what it saw."""
    done = subprocess.run(  # noqa: S603 - this interpreter, a program of our own
        [sys.executable, "-c", _INTERRUPTED_PROGRAM, API_KEY, AVATAR_ID, kind, mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["raised"] == ("SystemExit" if kind == "exit" else "KeyboardInterrupt")
    others = 0 if mode == "late-start-refused" else 2  # that program has one session
    assert [seen["stops"].get(other) for other in seen["others"]] == [
        ["USER_DISCONNECTED"]
    ] * others
    assert not set(seen["others"]) & set(seen["active"])
    return seen


@pytest.mark.parametrize("kind", ["keyboard", "exit"])
def test_an_interrupt_after_a_stops_first_wait_leaves_the_loop_once(kind: str) -> None:
    """An interrupt that cuts a stop short after its first wait reaches the loop as any interrupt
    does, and is not raised a second time by the session during ``asyncio.run``'s cleanup (that cut
    the cleanup short, and the other sessions' stops with it): the other two sessions are stopped
    once each, and the interrupted one is named as possibly still running (WARNING, and a note on
    the interrupt), on every Python."""
    seen = _interrupted_program(kind, "stop")
    first = seen["first"]
    assert first not in seen["stops"]
    assert first in seen["active"]
    assert any(first in w and "may still be running" in w for w in seen["warnings"])
    assert any(first in note for note in seen["notes"]), seen["notes"]


@pytest.mark.parametrize("refused", [False, True], ids=["stop-confirmed", "stop-refused"])
def test_a_start_interrupted_after_its_first_wait_is_stopped_once(refused: bool) -> None:
    """Rule 3 when the interrupt reaches the loop (after the start's first wait): the start is followed by one stop with ``SERVER_ERROR`` during ``asyncio.run``'s cleanup,
    beside the program's other sessions' stops. When the server refuses that stop (a program of that
    one session), the interrupt the program gets names the session as possibly still running, as
    does a WARNING (the note went only on a cancellation nobody saw before)."""
    seen = _interrupted_program("keyboard", "late-start-refused" if refused else "late-start")
    first = seen["first"]
    assert seen["stops"][first] == ["SERVER_ERROR"]
    named = [n for n in seen["notes"] if first in n and "may still be running" in n]
    assert bool(named) is refused, seen["notes"]
    warned = [w for w in seen["warnings"] if first in w and "may still be running" in w]
    assert bool(warned) is refused, seen["warnings"]


def test_an_interrupt_that_cuts_a_blocks_stop_short_ends_its_task_with_the_note() -> None:
    """Rules 10 and 12: the block raised, and its stop was cut short after its first wait by an
    interrupt, which the exit raises once that stop is over (the block's exception its context): the
    session's task ends with it, not with ``asyncio.run``'s cleanup cancellation, noted with the
    session's id, as is the interrupt the program gets; the other sessions are stopped once each."""
    seen = _interrupted_program("keyboard", "block-error")
    first = seen["first"]
    assert first not in seen["stops"]
    assert first in seen["active"]
    ended, notes = seen["ended"]["0"]
    assert ended == "KeyboardInterrupt"
    assert any(first in n and "may still be running" in n for n in notes), notes
    assert any(first in n for n in seen["notes"]), seen["notes"]


@pytest.mark.parametrize("kind", ["keyboard", "exit"])
def test_a_second_interrupt_during_an_interrupted_starts_stop_ends_its_task(kind: str) -> None:
    """An interrupt in a start's eager first step, then another cutting its rule-3 stop short after
    its first wait (which reaches the loop): the session's task ends with the cleanup's
    cancellation instead of raising the first interrupt during ``asyncio.run``'s cleanup, so the
    program's other sessions are still stopped once each."""
    seen = _interrupted_program(kind, "start")
    assert seen["first"] not in seen["stops"]


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
    """An application's task factory (instrumentation, say) is never bypassed: the stand-in that a
    session's start and stop run as is made through it (one, kept by the client for both), on every
    Python, and the server still receives one start and one stop."""
    loop = asyncio.get_running_loop()
    recorder = _Recorder()
    previous = loop.get_task_factory()
    loop.set_task_factory(recorder)  # type: ignore[arg-type,unused-ignore]
    try:
        async with provider.session() as session:
            assert session.session_id
    finally:
        loop.set_task_factory(previous)
    assert recorder.names.count("StandIn") == 1, recorder.names  # the open's, then the stop's
    assert len(provider.emulator.requests(provider.enter_steps[-1])) == 1
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_the_caller_resumes_in_the_step_its_work_ends_in() -> None:
    """The work runs in its caller's own steps (as a stand-in task): when it ends, the caller goes on
    in the same step of the loop, before anything the work's last step queued. With a task of its
    own, the caller was woken a turn later: a call's frees and the next call's allocations then came
    in different steps, and the collector ran more often."""
    order: list[str] = []
    loop = asyncio.get_running_loop()

    async def work() -> None:
        await asyncio.sleep(0)
        loop.call_soon(order.append, "queued by the work's last step")

    await finish_despite_cancellation(work())
    order.append("caller resumed")
    await asyncio.sleep(0)
    assert order == ["caller resumed", "queued by the work's last step"]


async def test_a_client_keeps_one_stand_in_for_its_sessions_and_ends_it_as_it_closes(
    provider: Provider,
) -> None:
    """Three sessions one after another, each a start and a stop, run as one stand-in task, made
    once (through the loop's task factory) and kept by the client; closing the client ends it."""
    loop = asyncio.get_running_loop()
    recorder = _Recorder()
    previous = loop.get_task_factory()
    loop.set_task_factory(recorder)  # type: ignore[arg-type,unused-ignore]
    standins: list[object] = []
    try:
        for _ in range(3):
            async with provider.session():
                pass
            standins.extend(
                t for t in asyncio.all_tasks() if t.get_name() == TASK_NAME and t not in standins
            )
    finally:
        loop.set_task_factory(previous)
    assert recorder.names.count("StandIn") == 1, recorder.names
    assert len(standins) == 1
    assert len(provider.client.standins) == 1
    await provider.client.aclose()
    await wait_until(
        lambda: all(t.done() for t in asyncio.all_tasks() if t.get_name() == TASK_NAME)
    )
    assert len(provider.client.standins) == 0


async def test_an_anyio_scope_inside_the_work_cancels_the_work_not_the_caller() -> None:
    """An anyio scope the work enters (the end reason lookup's bound is one) belongs to the stand-in:
    its deadline cancels the work's wait and the scope catches that, while the caller is neither
    cancelled nor woken before the work ends."""

    async def work() -> str:
        with anyio.move_on_after(0) as scope:
            await asyncio.sleep(3600)
        assert scope.cancelled_caught
        await asyncio.sleep(0)
        return "went on"

    outcome = await finish_despite_cancellation(work())
    assert outcome.value == "went on"
    assert outcome.error is None
    assert outcome.cancelled is None
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_stand_in_left_cancelled_by_its_work_is_not_used_again() -> None:
    """Work that cancels its own task (the stand-in) and ends before that cancellation reaches it:
    the stand-in goes back with a cancellation owed, so it is retired, not kept; the next call gets
    another stand-in, and its work is not cancelled."""
    pool = StandIns(limit=4)
    seen: list[asyncio.Task[Any]] = []

    async def cancels_itself() -> None:
        task = asyncio.current_task()
        assert task is not None
        seen.append(task)
        task.cancel()

    async def waits() -> str:
        task = asyncio.current_task()
        assert task is not None
        seen.append(task)
        await asyncio.sleep(0.01)
        return "not cancelled"

    first = await finish_despite_cancellation(cancels_itself(), pool)
    assert first.error is None
    assert len(pool) == 0  # retired, not kept
    second = await finish_despite_cancellation(waits(), pool)
    assert second.value == "not cancelled"
    assert second.cancelled is None
    assert seen[0] is not seen[1]
    assert len(pool) == 1
    pool.close()
    await wait_until(lambda: all(t.done() for t in seen))


async def test_an_interrupt_landing_during_a_start_is_raised_after_its_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rule 10: a ``KeyboardInterrupt`` landing as the caller's task is swapped back after the
    start's first step (a second Ctrl-C) is held while the start goes on to its answer; then the
    session, started, is stopped once with ``USER_CLOSED`` and the interrupt propagates."""
    from aioavatar import _cancellation

    calls = 0
    leave = vars(_cancellation)["_leave_task"]

    def interrupting(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        nonlocal calls
        leave(loop, task)
        calls += 1
        if calls == 2:  # the swap back after the start's first step (the first is to the stand-in)
            raise KeyboardInterrupt

    async with (
        LiveAvatarEmulator(api_key=API_KEY) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
    ):
        session = client.session(AVATAR_ID, is_sandbox=True)
        monkeypatch.setattr(_cancellation, "_leave_task", interrupting)  # the token's call: none
        with pytest.raises(KeyboardInterrupt):
            async with session:
                pytest.fail("the block must not run")
        monkeypatch.undo()
        assert len(emulator.requests("start")) == 1
        assert [r.body["reason"] for r in emulator.requests("stop")] == ["USER_CLOSED"]
        assert session.end_reason is EndReason.USER_CLOSED


async def test_a_timeout_of_protected_work_inside_protected_work_cancels_neither_caller() -> None:
    """Protected work inside protected work (a session that owns its client closes it, and the
    client's close protects its own parts): the inner work's own timeout cancels the inner work only;
    neither the outer work nor the caller is told of a cancellation nobody asked for (found by
    review: the outer caller took the inner wait's cancellation for its own)."""

    async def inner() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(3600)
        except TimeoutError:
            return "inner timed out"
        return "not timed out"

    async def outer() -> tuple[object, object]:
        outcome = await finish_despite_cancellation(inner())
        return outcome.value, outcome.cancelled

    outcome = await finish_despite_cancellation(outer())
    assert outcome.value == ("inner timed out", None)
    assert outcome.cancelled is None
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_retired_stand_in_is_freed_without_the_collector() -> None:
    """A stand-in beyond what the client keeps is retired after its call; its task's last step lets
    go of what it held, so that the stand-in and its task are freed at once, not left as a cycle
    for the collector (found measuring: a thousand sessions cancelled at once among 50,000 retired
    hundreds, and a full collection fell in their stops)."""
    pool = StandIns(limit=0)
    tasks: list[weakref.ref[asyncio.Task[Any]]] = []

    async def work() -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(weakref.ref(task))
        await asyncio.sleep(0)

    gc.collect()
    gc.disable()
    try:
        await finish_despite_cancellation(work(), pool)
        await wait_until(lambda: tasks[0]() is None)
    finally:
        gc.enable()


async def test_a_timeout_that_fires_as_the_works_wait_ends_is_met_inside_it() -> None:
    """A timeout the work entered expires in the very turn its wait ends (the wait's callback runs
    first): as in a task of its own, the work meets the cancellation at that wait, inside the
    timeout, which turns it into ``TimeoutError``; it is not thrown at a later wait, outside (found
    by review: the stand-in handed it on a step late, after the timeout had exited)."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []

    async def work() -> str:
        done = loop.create_future()
        now = loop.time()
        loop.call_at(now + 0.01, done.set_result, None)  # due first ...
        try:
            async with asyncio.timeout_at(now + 0.011):  # ... and this, in the same turn
                await done
        except TimeoutError:
            seen.append("TimeoutError")
            return "timed out"
        await asyncio.sleep(0.02)  # a later wait, outside the timeout
        return "not timed out"

    protected = finish_despite_cancellation(work())
    # Both timers fall due while the loop is held up, so that they run in one turn.
    loop.call_soon(time.sleep, 0.03)
    outcome = await protected
    assert outcome.error is None, outcome.error
    assert outcome.value == "timed out"
    assert seen == ["TimeoutError"]
