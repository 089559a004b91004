"""Stand-ins: the tasks whose identity protected work takes on, and what its caller waits on.

:func:`~aioavatar._cancellation.finish_despite_cancellation` runs a start or a stop in its caller's own
steps, swapping the loop's current task to a :class:`StandIn` for each of the work's steps, so that
what the work enters cancels the stand-in, never the caller. A stand-in is a task parked on a future of
its own, whose coroutine is the stand-in object itself (no frame); cancelled, it hands the cancellation
to the work at its current wait (:meth:`ProtectedWait.forward`). The caller waits on a
:class:`ProtectedWait`, which asyncio treats as the future the work waits on, except that it refuses a
cancellation of the caller. A client keeps its idle stand-ins (:class:`StandIns`): making one per call
cost a task and a step of the loop each time.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["EAGER_START", "TASK_NAME", "ProtectedWait", "StandIn", "StandIns"]

#: Python 3.12 and later start a stand-in's task eagerly (it parks at once, in the caller's step),
#: unless the loop has a task factory of its own (whose task starts as the factory makes it).
EAGER_START = sys.version_info >= (3, 12)

#: The name of a stand-in's task: what ``asyncio.current_task()`` is inside protected work, and what
#: a task dump shows (asyncio's own, ``Task-<n>``, is formatted anew for each task).
TASK_NAME = "aioavatar: finishing despite cancellation"


class StandIn:
    """A stand-in: a task parked on a future of its own, and that task's coroutine (no frame).

    Cancelled (by what the work it stands in for entered), it hands the cancellation to that work
    (:meth:`ProtectedWait.forward`), and until the work has met it waits on futures that are done
    already, as a task whose wait was cancelled does: an anyio scope, which cancels a task again on
    every turn of the loop while its wait is not done, would otherwise cancel the work a second time
    after the scope had caught the first. Then it parks again; cancelled with no work, or retired,
    it ends.
    """

    __slots__ = ("_loop", "_parked", "_retired", "_taken", "task", "work")

    __name__ = "StandIn.parked"  # what a task dump shows for its coroutine

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop  # before the task: an eager one takes its first step as it is made
        self._parked: asyncio.Future[None] | None = None
        self._retired = False
        self._taken = False  # its parked wait's cancellation went to the work before its step
        self.work: ProtectedWait | None = None  # the wait of the work it stands in for now
        if loop.get_task_factory() is not None:  # an application's factory sees every task
            task: asyncio.Task[None] = loop.create_task(self)  # type: ignore[arg-type]
            task.set_name(TASK_NAME)  # not through create_task: a factory may refuse name=
        elif EAGER_START:
            task = asyncio.Task(self, loop=loop, eager_start=True, name=TASK_NAME)  # type: ignore[arg-type,call-arg,unused-ignore]
        else:
            task = asyncio.Task(self, loop=loop, name=TASK_NAME)  # type: ignore[arg-type]
        # Pending whenever its loop closes (parked, or retired a turn before): nothing to report.
        task._log_destroy_pending = False  # type: ignore[attr-defined]
        #: Its task, until that ends: then dropped, or the two would be a cycle left to the
        #: collector (a burst of stops beyond the pool's size retires hundreds at once).
        self.task: asyncio.Task[None] | None = task

    # The coroutine protocol, as a task drives it.
    def send(self, _: object) -> asyncio.Future[None]:
        if self._retired:
            self._end()
        work = self.work
        if work is not None and work.owed:
            return self._settled()
        return self._park()

    def throw(self, exc: BaseException, *_: object) -> asyncio.Future[None]:
        work = self.work
        if self._retired or not isinstance(exc, asyncio.CancelledError):
            self._end()
        if self._taken:  # the work met it already (:meth:`take_cancellation`)
            self._taken = False
            return self._park()
        if work is None:
            self._end()  # no work to hand it to (``asyncio.run``'s cleanup): it ends
        self._parked = None  # its cancellation handed on here, not again
        work.forward(exc)
        return self._settled()

    def close(self) -> None:
        self._retired = True

    def take_cancellation(self) -> BaseException | None:
        """A cancellation of its task that its step has not handed on yet (the work's wait ended in
        the same turn of the loop, and the work's step comes first): given to the work now, at its
        wait, as a task that was cancelled before its step would throw it."""
        parked = self._parked
        if parked is None or self._taken or not parked.cancelled():
            return None
        self._taken = True
        try:
            parked.result()
        except asyncio.CancelledError as exc:
            return exc
        return None  # pragma: no cover - a cancelled future raises

    def _end(self) -> NoReturn:
        """Its task's last step: what it holds is let go (no cycle through its task is left)."""
        self._retired = True
        self.task = self._parked = self.work = None
        raise StopIteration

    def __await__(self) -> StandIn:
        return self

    def __next__(self) -> asyncio.Future[None]:
        return self.send(None)

    def _park(self) -> asyncio.Future[None]:
        parked = self._parked = self._loop.create_future()
        parked._asyncio_future_blocking = True  # as ``Future.__await__`` yields it
        return parked

    def _settled(self) -> asyncio.Future[None]:
        """A future done already: the task takes its next step a turn later."""
        settled = self._loop.create_future()
        settled.set_result(None)
        settled._asyncio_future_blocking = True
        return settled

    @property
    def reusable(self) -> bool:
        """Parked with nothing owed: no cancellation on its way, none left counted."""
        task, parked = self.task, self._parked
        return (
            task is not None
            and not self._retired
            and task.cancelling() == 0
            and not task._must_cancel  # type: ignore[attr-defined]
            and (parked is None or not parked.done())
        )

    def retire(self) -> None:
        """End its task (at its next step): it stands in for nothing again."""
        self._retired = True
        parked = self._parked
        if parked is not None and not parked.done() and not parked.get_loop().is_closed():
            parked.set_result(None)


class StandIns:
    """A client's idle stand-ins, at most ``limit`` of them (one per protected call in flight is
    made when none is idle); closed with the client, reopened when it is entered again."""

    __slots__ = ("_closed", "_idle", "limit")

    def __init__(self, limit: int) -> None:
        self._idle: list[StandIn] = []
        self._closed = False
        self.limit = limit

    def __len__(self) -> int:
        return len(self._idle)

    def open(self) -> None:
        self._closed = False

    def take(self, loop: asyncio.AbstractEventLoop) -> StandIn:
        idle = self._idle
        while idle:
            standin = idle.pop()
            if standin._loop is loop and standin.reusable:
                return standin
            standin.retire()
        return StandIn(loop)

    def give_back(self, standin: StandIn) -> None:
        if not self._closed and len(self._idle) < self.limit and standin.reusable:
            self._idle.append(standin)
        else:
            standin.retire()

    def close(self) -> None:
        """Retire every idle stand-in (one in use is retired as it comes back)."""
        self._closed = True
        for standin in self._idle:
            standin.retire()
        self._idle.clear()


class ProtectedWait:
    """What the caller waits on while its protected work waits on a future: asyncio wakes the
    caller when that future is done, as if the caller waited on it, but a cancellation of the caller
    is refused (asyncio then delivers it at the caller's next step, which this brings forward). It is
    also where the stand-in hands the work's own cancellations (:meth:`forward`)."""

    __slots__ = (
        "_asyncio_future_blocking",
        "_cancelled",
        "_context",
        "_wakeup",
        "forwarded",
        "future",
    )

    def __init__(self) -> None:
        self._asyncio_future_blocking = False
        self.future: asyncio.Future[Any] | None = None  # what the work waits on now
        self.forwarded: BaseException | None = None  # a cancellation of the work, for its next step
        self._cancelled: asyncio.Future[Any] | None = None  # the wait a forward cancelled
        self._wakeup: Callable[..., object] | None = None
        self._context: contextvars.Context | None = None

    def __repr__(self) -> str:
        return f"<protected wait for {self.future!r}>"

    # What a task asks of the future it waits on.
    def get_loop(self) -> asyncio.AbstractEventLoop:
        assert self.future is not None
        return self.future.get_loop()

    def add_done_callback(
        self, wakeup: Callable[..., object], *, context: contextvars.Context | None = None
    ) -> None:
        assert self.future is not None
        self._wakeup, self._context = wakeup, context
        self.future.add_done_callback(wakeup, context=context)

    def remove_done_callback(self, wakeup: Callable[..., object]) -> int:
        return 0 if self.future is None else self.future.remove_done_callback(wakeup)

    def result(self) -> None:
        return None

    def done(self) -> bool:
        return self.future is not None and self.future.done()

    def cancelled(self) -> bool:
        """Whether the future it waits on was cancelled (the inner work's own, when protected
        work inside protected work waits on one): a cancellation of the caller it refuses."""
        return self.future is not None and self.future.cancelled()

    @property
    def owed(self) -> bool:
        """A cancellation forwarded to the work that it has not met yet."""
        return self.forwarded is not None or (
            self._cancelled is not None and self._cancelled is self.future
        )

    def cancel(self, msg: object = None) -> bool:
        """The caller is cancelled: refused (asyncio delivers it at the caller's next step), and
        that step comes now, not once the work's future is done."""
        future, wakeup = self.future, self._wakeup
        if future is not None and wakeup is not None and future.remove_done_callback(wakeup):
            self._wakeup = None
            future.get_loop().call_soon(wakeup, self, context=self._context)
        return False

    def forward(self, exc: BaseException) -> None:
        """A cancellation of the stand-in: the work's own, delivered at its wait as a task's is."""
        future = self.future
        message = exc.args[0] if exc.args else None
        if future is not None and not future.done() and future.cancel(msg=message):
            self._cancelled = future
            return  # the caller wakes, and the work meets it at its wait
        self.forwarded = self.forwarded or exc  # the work's next step gets it
