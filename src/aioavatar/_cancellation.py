"""Running work to its end whatever cancels the caller, and a cheap one-way flag.

Why a bare asyncio task in :func:`finish_despite_cancellation`: anyio shields hold off anyio cancel
scopes but not ``task.cancel()``, and a task group cannot help because its host is the task being
cancelled. The work runs in its own task and the caller waits for it, however often it is cancelled;
the cancellations that arrived meanwhile are handed back, for the caller to deliver after its cleanup.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, Generic, TypeVar

import anyio

from ._block import scope_cancelled

__all__ = [
    "Flag",
    "Outcome",
    "close_despite_cancellation",
    "deliver_later",
    "finish_despite_cancellation",
    "set_flag",
]

T = TypeVar("T")

#: Python 3.12 and later can start a task eagerly: its first step runs at once, in the caller's turn of
#: the loop, instead of one turn later (``asyncio.Task(..., eager_start=True)``); on 3.11
#: :func:`_start_eagerly` does the same.
EAGER_START = sys.version_info >= (3, 12)

#: The name of the task a protected piece of work runs in: what a task dump shows (asyncio's own,
#: ``Task-<n>``, is formatted anew for each task).
TASK_NAME = "aioavatar: finishing despite cancellation"

if not EAGER_START:  # asyncio's own bookkeeping of the current task, as 3.12's eager start uses it
    from asyncio.tasks import _enter_task, _leave_task


class Outcome(Generic[T]):
    """What a protected piece of work gave: its value or error, and the cancellation that arrived
    meanwhile (to deliver after the cleanup).

    It is also the work's runner while it runs (one object per protected call, no closure, no cells):
    :meth:`_run` awaits the work in its own task and wakes the caller's current wait as it ends.
    """

    __slots__ = ("_done", "_starting", "_wake", "cancelled", "error", "interrupt", "value")

    def __init__(self) -> None:
        self.value: T | None = None
        self.error: BaseException | None = None
        self.cancelled: BaseException | None = None
        # A KeyboardInterrupt or SystemExit of the work's eager first step, which the loop never
        # saw: the caller raises it after its cleanup.
        self.interrupt: BaseException | None = None
        self._done = False
        self._starting = False  # the work's first step runs within the caller's (eager start)
        self._wake: asyncio.Future[None] | None = None  # the caller's current wait

    async def _run(self, work: Awaitable[T]) -> None:
        try:
            self.value = await work
        except asyncio.CancelledError:  # the work itself was cancelled (the loop shutting down)
            self.error = asyncio.CancelledError()
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which raises it
            self.error = exc
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: also reach the loop as usual
            self.error = exc
            if not self._starting:
                raise
            # Raised within the caller's own step (an eager start): kept for the caller, which raises
            # it after its cleanup (a start that may have opened a session is stopped first). Raised
            # here, it would leave the task's constructor and skip that cleanup.
            self.interrupt = exc
        finally:
            self._done = True
            wake = self._wake
            # Not when the loop has closed under it (the work closed as its task is collected).
            if wake is not None and not wake.done() and not wake.get_loop().is_closed():
                wake.set_result(None)


async def finish_despite_cancellation(work: Awaitable[T]) -> Outcome[T]:
    """Run ``work`` (a coroutine, not yet awaited) to completion whatever cancels the caller
    meanwhile (``work`` bounds its own time).

    Returns its result or error, and the cancellation that arrived meanwhile (the caller re-raises it
    after its cleanup). The work wakes its caller itself as it ends (one loop turn, not the two of a
    done-callback and a waiter: a start and a stop each pay this on every session).

    The work starts eagerly (see :func:`_start`); a ``KeyboardInterrupt``
    or ``SystemExit`` raised in that first step comes back as the outcome's ``interrupt`` (and
    ``error``) for the caller to raise, since the loop never saw it, and work that ends within that
    step still gives the caller one loop turn in which a pending cancellation is taken. Raised after
    the first step, an interrupt reaches the loop as usual and is only the outcome's ``error``.

    The caller's wait is shielded from anyio cancel scopes only once a cancellation has reached it: a
    cancelled scope delivers its cancellation again on every loop turn until the task leaves it, and
    the shield stops that, but a wait nothing cancels (nearly all of them) does not pay for a scope.
    """
    loop = asyncio.get_running_loop()
    outcome: Outcome[T] = Outcome()
    outcome._starting = True
    try:
        task = _start(loop, outcome._run(work))
    except BaseException:  # an interrupt before the work took its first step: it never will
        if _unstarted(work):
            work.close()  # type: ignore[attr-defined]
        raise
    finally:
        outcome._starting = False
    if outcome.interrupt is not None:
        return outcome  # the program is being interrupted: no turn of the loop first
    shield: anyio.CancelScope | None = None
    try:
        if outcome._done:
            # Ended within its eager first step: one turn of the loop all the same, so that a
            # cancellation already pending on the caller is taken here, as a lazy start takes it.
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError as exc:
                outcome.cancelled = exc
        while not outcome._done:
            wake = outcome._wake = loop.create_future()
            try:
                await wake
            except asyncio.CancelledError as exc:  # native or an anyio scope's: finish first
                outcome.cancelled = outcome.cancelled or exc
                if shield is None:  # no await in between: the next delivery finds it
                    shield = anyio.CancelScope(shield=True)
                    shield.__enter__()
    finally:
        if shield is not None:
            shield.__exit__(None, None, None)
    outcome._wake = None
    del task  # held until here: the loop keeps only a weak reference to a running task
    # An anyio scope cancelled while the work ended (its delivery skips a task whose wait is done):
    # taken here, as anyio's checkpoint would, but looked up without its backend lookup first.
    if outcome.cancelled is None and scope_cancelled(asyncio.current_task()):
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except anyio.get_cancelled_exc_class() as exc:  # an anyio scope was cancelled meanwhile
            outcome.cancelled = exc
    return outcome


async def close_despite_cancellation(work: Awaitable[None]) -> BaseException | None:
    """Run a close (a coroutine, not yet awaited, bounded by its own time limits) to its end whatever
    cancels the caller meanwhile, native ``task.cancel()`` included; return the cancellation that
    arrived, for the caller to raise or deliver once it is done.

    Raises:
        KeyboardInterrupt, SystemExit: raised in the close's first step (the loop never saw it).
        Exception: the close's own error (a bug: not swallowed).
    """
    outcome = await finish_despite_cancellation(work)
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
    task = asyncio.current_task()
    if cancelled is None or task is None or not task.cancelling():
        return
    message = cancelled.args[0] if cancelled.args else None
    asyncio.get_running_loop().call_soon(_deliver, task, task.cancelling(), message)


def _deliver(task: asyncio.Task[Any], pending: int, message: object) -> None:
    if not task.done() and task.cancelling() >= pending:
        task.uncancel()  # the same request, delivered again: the count stays
        task.cancel(message)


def _start(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """``work`` in a task of its own, started eagerly where the loop makes its tasks itself: the
    request of a start or a stop goes out in this turn of the loop, not the next. A loop with a task
    factory of its own (instrumentation, say) gets ``create_task``, so that the factory still sees
    every task.

    Python 3.12 and later start it with ``eager_start=True``; 3.11 by :func:`_start_eagerly`, the
    same steps written out. Besides the turn, the eager step keeps a call's allocations in the same
    step of the loop as the frees of the call before it: a step later, each came in a step of its
    own, and the collector, whose count those steps move, ran more often (opening 10,000 sessions
    100 at a time on 3.11: about 590 young collections instead of 830-930; the performance guide).
    """
    if loop.get_task_factory() is not None:
        # Named after, not through create_task: Python 3.13.3 and 3.14 hand ``name=`` on to the
        # factory, and one written to the older signature ``(loop, coro)`` would refuse it.
        task = loop.create_task(work)
        task.set_name(TASK_NAME)
        return task
    if EAGER_START:
        return asyncio.Task(work, loop=loop, eager_start=True, name=TASK_NAME)  # type: ignore[call-arg,unused-ignore]
    return _start_eagerly(loop, work)


def _start_eagerly(
    loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]
) -> asyncio.Task[None]:
    """Python 3.11's eager start, as 3.12's ``Task.__eager_start`` does it: the task is made first,
    and ``work``'s first step runs now, in the task's context and as the loop's current task (so
    that what it enters, an ``asyncio.timeout`` say, belongs to the task); the task then takes
    ``work`` on from where that step left it (:func:`_continue`)."""
    caller = asyncio.current_task(loop)
    if caller is None:  # not run by a task (a coroutine driven by hand): nothing to swap with
        return loop.create_task(work, name=TASK_NAME)
    context = contextvars.copy_context()
    rest = _continue(work)
    next(rest)  # primed: a cancellation before the task's first step reaches ``work`` too
    task = asyncio.Task(rest, loop=loop, context=context, name=TASK_NAME)  # no create_task: as 3.12
    try:
        _leave_task(loop, caller)
        _enter_task(loop, task)
        rest.send(context.run(work.send, None))
    except StopIteration:  # the work ended within its first step: the task's first step ends too
        rest.close()
    except BaseException:  # an interrupt (an Outcome's runner keeps what its own step raises)
        if _unstarted(work):  # the task ends at its first step; the work took none
            rest.close()
            work.close()
        raise  # otherwise the work goes on in its task, as after an eager start on 3.12
    finally:
        # The swap back as the first step leaves it (nearly always): two swaps, no look first.
        # Written here, not in a function: an interrupt can land as a function begins, before its
        # ``try``, and would leave the work's task current.
        try:
            _leave_task(loop, task)
            _enter_task(loop, caller)
        except RuntimeError:  # the swaps did not get that far (an interrupt before them)
            _restore(loop, caller, task, None)
        except (KeyboardInterrupt, SystemExit) as exc:  # landing between the two
            _restore(loop, caller, task, exc)
    return task


def _restore(
    loop: asyncio.AbstractEventLoop,
    caller: asyncio.Task[Any],
    task: asyncio.Task[Any],
    interrupt: BaseException | None,
) -> None:
    """Make ``caller`` the loop's current task again, however far the swaps got: an interrupt can
    land after any call returns (a second Ctrl-C), here too; one that does, or ``interrupt``, is
    raised at the end."""
    while True:
        try:
            current = asyncio.current_task(loop)
            if current is task:
                _leave_task(loop, task)
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


@types.coroutine
def _continue(work: Coroutine[Any, Any, None]) -> Generator[Any, Any, None]:
    """The coroutine of a task whose ``work`` took its first step already (:func:`_start_eagerly`):
    it hands the task what that step waits on, then lets the task drive ``work``. What the task
    throws in before that is handled as a task that had taken the step itself would: a cancellation
    cancels the future the work waits on (whose callbacks clean up, a socket's wait say), and
    ``GeneratorExit`` closes the work."""
    pending = yield  # what the first step yielded (a future, or None for a bare yield)
    try:
        yield  # until the task's first step
    except GeneratorExit:
        work.close()
        raise
    except asyncio.CancelledError as exc:  # cancelled before that step (asyncio.run's cleanup, say)
        if not _cancel_wait(pending, exc):
            try:
                pending = work.throw(exc)
            except StopIteration:
                return
    while True:
        try:
            yield pending  # the task waits on it as if ``work`` had yielded it in this step
        except GeneratorExit:
            work.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - thrown at the work's wait: the work's
            try:
                pending = work.throw(exc)
            except StopIteration:
                return
        else:
            break
    yield from work  # its value is None: an Outcome's runner keeps its own


def _cancel_wait(pending: Any, cancellation: asyncio.CancelledError) -> bool:
    """Cancel the future the work waits on, as ``Task.cancel`` does; False if there is none (a bare
    yield), it is another loop's, or it refuses (done already): the cancellation is then thrown
    into the work, as a task does with nothing to cancel."""
    if getattr(pending, "_asyncio_future_blocking", None) is not True:
        return False
    if pending.get_loop() is not asyncio.get_running_loop():  # not ours to cancel from here
        return False
    cancelled: bool = pending.cancel(msg=cancellation.args[0] if cancellation.args else None)
    return cancelled


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
