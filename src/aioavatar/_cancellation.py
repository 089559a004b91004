"""Running work to its end whatever cancels the caller, and a cheap one-way flag.

How :func:`finish_despite_cancellation` holds a cancellation off: the work runs in its caller's own
steps of the loop, under the identity of a *stand-in*: a parked task that the loop's current task is
swapped to for each of the work's steps and back. What the work enters (aiohttp's connect timeout, the
client's request deadlines, the stop's bound, an anyio scope) takes the stand-in for its task and
cancels it, never the caller; the stand-in (or the caller, when its own step comes first) hands
such a cancellation to the work at its current wait, as a task of its own would. What cancels the
caller (``task.cancel()``, ``asyncio.timeout``, an anyio scope) finds it waiting on a
``ProtectedWait`` (``_standins.py``), which refuses it: asyncio then delivers it at the caller's next
step, which the wait brings forward; the caller notes it, shields itself from anyio scopes and goes
on waiting for the work. The cancellations that arrived are handed back, for the
caller to deliver after its cleanup.

Why not a task per piece of work (as before): a start and a stop each made one, took its first step
and woke the caller a turn of the loop after the work's last step, so that a call's frees and the next
call's allocations fell in different steps and drove the collector's count to its threshold more
often. At concurrency 50 that was a third of what a session cost beyond its four calls, half of it in
young collections. A client keeps its idle stand-ins (``StandIns``); without one, a stand-in is made
for the call and retired after it.

Why not an anyio shield or a task group: anyio shields hold off anyio cancel scopes but not
``task.cancel()``, and a task group's host is the task being cancelled.
"""

from __future__ import annotations

import asyncio
import contextvars
import types

# The loop's current task, swapped as 3.12's eager tasks swap it (asyncio's own functions).
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

import anyio

from ._block import scope_cancelled
from ._standins import ProtectedWait, StandIn, StandIns

__all__ = [
    "Flag",
    "Outcome",
    "close_despite_cancellation",
    "deliver_later",
    "finish_despite_cancellation",
    "set_flag",
]

T = TypeVar("T")


class Outcome(Generic[T]):
    """What a protected piece of work gave: its value or error, the cancellation of the caller that
    arrived meanwhile (to deliver after the cleanup), and a ``KeyboardInterrupt`` or ``SystemExit``
    (the work's own, or one that landed while it was driven) for the caller to raise after its
    cleanup: the loop never saw it."""

    __slots__ = ("cancelled", "error", "interrupt", "value")

    def __init__(self) -> None:
        self.value: T | None = None
        self.error: BaseException | None = None
        self.cancelled: BaseException | None = None
        self.interrupt: BaseException | None = None


async def finish_despite_cancellation(
    work: Coroutine[Any, Any, T], standins: StandIns | None = None
) -> Outcome[T]:
    """Run ``work`` (a coroutine, not yet awaited) to completion whatever cancels the caller
    meanwhile (``work`` bounds its own time), in the caller's own steps, as a stand-in task (one of
    ``standins``, a client's, or one made for the call): see the module's documentation.

    Returns its result or error, and the cancellation of the caller that arrived meanwhile (the
    caller re-raises it after its cleanup). Its first step runs at once, in the caller's turn of the
    loop; work that ends within it still gives the caller one loop turn, in which a cancellation
    already pending on the caller is taken, as a wait would take it. A ``KeyboardInterrupt`` or
    ``SystemExit`` raised by the work ends it and comes back as the outcome's ``interrupt`` (and
    ``error``), for the caller to raise after its cleanup (the loop never saw it); one landing while
    the caller's task is swapped for the stand-in's is held the same way while the work goes on, or,
    before the work's first step, closes the work and is raised.

    The caller's wait is shielded from anyio cancel scopes only once a cancellation has reached it: a
    cancelled scope delivers its cancellation again on every loop turn until the task leaves it, and
    the shield stops that, but a wait nothing cancels (nearly all of them) does not pay for a scope.

    Raises:
        RuntimeError: not awaited in a task (a coroutine driven by hand).
    """
    loop = asyncio.get_running_loop()
    caller = asyncio.current_task(loop)
    if caller is None:
        work.close()
        raise RuntimeError("protected work is awaited inside an asyncio task")
    try:
        standin = standins.take(loop) if standins is not None else StandIn(loop)
    except BaseException:  # a task factory that failed, say: the work never starts
        work.close()
        raise
    outcome: Outcome[T] = Outcome()
    wait = standin.work = ProtectedWait()
    try:
        await _drive(work, wait, standin, caller, outcome)
    finally:
        standin.work = None
        if standins is None:
            standin.retire()
        else:
            standins.give_back(standin)
    # An anyio scope cancelled while the work ended (its delivery skips a task whose wait is done):
    # taken here, as anyio's checkpoint would, but looked up without its backend lookup first.
    if outcome.cancelled is None and outcome.interrupt is None and scope_cancelled(caller):
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except anyio.get_cancelled_exc_class() as exc:  # an anyio scope was cancelled meanwhile
            outcome.cancelled = exc
    return outcome


#: What a step of the work gave before it was taken.
_UNSET: Any = object()


@types.coroutine
def _drive(
    work: Coroutine[Any, Any, T],
    wait: ProtectedWait,
    stand_in: StandIn,
    caller: asyncio.Task[Any],
    outcome: Outcome[T],
) -> Generator[Any, None, None]:
    """The caller's side of :func:`finish_despite_cancellation`: each step of ``work`` taken as
    ``stand_in``'s task in its own context, each of its waits waited on through ``wait``."""
    standin = stand_in.task
    assert standin is not None  # a stand-in taken, or made, is not retired
    loop = standin.get_loop()
    run = contextvars.copy_context().run
    thrown: BaseException | None = None
    waited = False
    seen = caller.cancelling()  # the caller's cancellations so far: more means a new one came
    shield: anyio.CancelScope | None = None
    try:
        while True:
            yielded = _UNSET
            if thrown is None and waited:
                thrown = stand_in.take_cancellation()  # its task's, if its step is still to come
            try:
                _leave_task(loop, caller)
                _enter_task(loop, standin)
                try:
                    yielded = run(work.send, None) if thrown is None else run(work.throw, thrown)
                finally:
                    # Swapped back here, not in a function: an interrupt can land as a function
                    # begins, before its ``try``, and would leave the stand-in current.
                    try:
                        _leave_task(loop, standin)
                        _enter_task(loop, caller)
                    except RuntimeError:  # the swaps did not get that far (an interrupt before)
                        _back_to(loop, caller, standin)
                    except (KeyboardInterrupt, SystemExit):
                        _back_to(loop, caller, standin)
                        raise
            except StopIteration as done:
                outcome.value = done.value
                break
            except asyncio.CancelledError:  # the work's own (its stand-in's, or the loop closing)
                outcome.error = asyncio.CancelledError()
                break
            except Exception as exc:  # noqa: BLE001 - handed to the caller, which raises it
                outcome.error = exc
                break
            except BaseException as exc:  # KeyboardInterrupt, SystemExit
                _back_to(loop, caller, standin)
                if getattr(work, "cr_frame", None) is None:  # the work's own, or after its end
                    outcome.error = outcome.interrupt = exc
                    break
                if not waited and yielded is _UNSET and _unstarted(work):
                    work.close()  # before its first step: it never takes one
                    raise
                outcome.interrupt = outcome.interrupt or exc  # held: the work goes on
                if yielded is _UNSET:
                    continue  # the step it landed before (an interrupt during the swap to it)
            thrown, waited = None, True
            if getattr(yielded, "_asyncio_future_blocking", None) is not None:
                wait.future, awaited = yielded, wait  # a future: waited on through ``wait``
                wait._asyncio_future_blocking = yielded._asyncio_future_blocking
                yielded._asyncio_future_blocking = False  # as the task would have reset it
            else:
                wait.future, awaited = None, yielded  # a bare yield (or a bad one: the task says)
            while True:
                try:
                    yield awaited
                except asyncio.CancelledError as exc:
                    future = wait.future
                    if future is None or not future.cancelled() or caller.cancelling() > seen:
                        # The caller's own: noted, and the caller shielded from anyio scopes.
                        seen = caller.cancelling()
                        outcome.cancelled = outcome.cancelled or exc
                        if shield is None:  # no await in between: the next delivery finds it
                            shield = anyio.CancelScope(shield=True)
                            shield.__enter__()
                    if future is not None and not future.done():  # ``ProtectedWait.cancel``
                        wait._asyncio_future_blocking = True  # woken early: the wait goes on
                        continue
                except GeneratorExit:
                    raise
                except BaseException as exc:  # noqa: BLE001 - the task's verdict on the yield
                    thrown = exc  # a bad yield, a future of another loop: the work's to handle
                else:
                    future = wait.future
                    if future is not None and not future.done() and wait.forwarded is None:
                        wait._asyncio_future_blocking = True  # woken early for nothing of ours
                        continue
                break
            thrown = thrown or wait.forwarded
            wait.forwarded = None
        if not waited or caller.cancelling() > seen:
            # Ended within its first step, or the caller was cancelled during its last: one turn of
            # the loop, so that a cancellation pending on the caller is taken here, as a wait would.
            try:
                yield None
            except asyncio.CancelledError as exc:
                outcome.cancelled = exc
    except GeneratorExit:  # the caller's coroutine is closed (its loop is gone): so is the work
        work.close()
        shield = None  # no loop to leave it in
        raise
    finally:
        wait.future = None
        if shield is not None:
            shield.__exit__(None, None, None)


def _back_to(
    loop: asyncio.AbstractEventLoop, caller: asyncio.Task[Any], standin: asyncio.Task[Any]
) -> None:
    """Make ``caller`` the loop's current task again, however far the swaps got: an interrupt can
    land after any call returns (a second Ctrl-C), here too; one that does is raised at the end."""
    interrupt: BaseException | None = None
    while True:
        try:
            current = asyncio.current_task(loop)
            if current is standin:
                _leave_task(loop, standin)
            elif current is None:
                _enter_task(loop, caller)
            else:
                break  # the caller (or, never expected, a task of someone else's: left as it is)
        except (KeyboardInterrupt, SystemExit) as exc:
            interrupt = interrupt or exc
    if interrupt is not None:
        raise interrupt


def _unstarted(coroutine: Any) -> bool:
    """Whether ``coroutine`` was never started (closing it then spares a "never awaited" warning)."""
    return (
        getattr(coroutine, "cr_frame", None) is not None
        and not coroutine.cr_suspended
        and not coroutine.cr_running
    )


async def close_despite_cancellation(
    work: Coroutine[Any, Any, None], standins: StandIns | None = None
) -> BaseException | None:
    """Run a close (a coroutine, not yet awaited, bounded by its own time limits) to its end whatever
    cancels the caller meanwhile, native ``task.cancel()`` included; return the cancellation that
    arrived, for the caller to raise or deliver once it is done.

    Raises:
        KeyboardInterrupt, SystemExit: raised in the close's first step (the loop never saw it).
        Exception: the close's own error (a bug: not swallowed).
    """
    outcome = await finish_despite_cancellation(work, standins)
    if outcome.interrupt is not None:
        raise outcome.interrupt
    if isinstance(outcome.error, Exception):
        raise outcome.error
    return outcome.cancelled


def deliver_later(cancelled: BaseException | None) -> None:
    """Rule 11 after an exception of the block: ``cancelled``, a cancellation that arrived during
    the stop, is not raised in place of that exception (rule 12) but delivered again at the task's
    next wait, once the exception has left, unless whatever requested it took it back as the
    exception passed through it (``asyncio.timeout``, a task group, an anyio scope: each
    ``uncancel()`` their own). asyncio delivers a request once: dropped, a ``task.cancel()`` would
    never reach a task that catches the exception and goes on (a worker's loop, which a task
    group then waits for forever)."""
    if cancelled is None:  # nearly always: nothing to deliver, no task to look up
        return
    task = asyncio.current_task()
    if task is None or not task.cancelling():
        return
    message = cancelled.args[0] if cancelled.args else None
    asyncio.get_running_loop().call_soon(_deliver, task, task.cancelling(), message)


def _deliver(task: asyncio.Task[Any], pending: int, message: object) -> None:
    if not task.done() and task.cancelling() >= pending:
        task.uncancel()  # the same request, delivered again: the count stays
        task.cancel(message)


class Flag:
    """A one-way event whose ``anyio.Event`` exists only once somebody waits (two per session, each
    with a deque, were a visible part of a session's memory at 10,000 sessions)."""

    __slots__ = ("_event", "_is_set")

    def __init__(self) -> None:
        self._event: anyio.Event | None = None
        self._is_set = False

    @property
    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        self._is_set = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if self._is_set:
            await anyio.lowlevel.checkpoint()
            return
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()


#: Set once and for all, and shared: what :func:`set_flag` gives where nobody waited.
_SET = Flag()
_SET.set()


def set_flag(flag: Flag | None) -> Flag:
    """``flag``, set; with none made yet (nobody waited on it), the shared flag that is set already:
    no object made per session for a wait that never came."""
    if flag is None:
        return _SET
    flag.set()
    return flag
