"""A client's connection slots: how many of its requests may be on the wire at once, and who waits.

aiohttp's own pool queues a request past its limit and counts the wait in that request's timeout, so
thousands of sessions stopping together would abandon the stops at the back of the queue. The client's
own pool is unlimited instead and :class:`ConnectionSlots` is the queue (first come, first served): a
request waits for a slot within its timeout, while a task that :meth:`~ConnectionSlots.reserved` one (a
stop) waits as long as it takes and keeps it for every request it sends meanwhile, its time limits
starting once it holds it. Every wait is bounded in the end: a slot is held by one request at a time,
and every request is bounded. The stop's own bound is the reservation's too (``with reservation:``),
kept on the client's request deadlines (``_deadlines.py``).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Any, Self

from ._deadlines import Deadlines

__all__ = ["ConnectionSlots", "Reservation"]


class ConnectionSlots:
    """At most ``limit`` requests at once (``None``: no limit of ours), and tasks that hold one.

    A counter and a queue of waiters, first come, first served: a free slot is taken without
    suspending (most requests find one: no coroutine, no lock), and a slot given back goes straight to
    the longest waiter, so that a slot is free only when nobody waits. A waiter that gives up stays in
    the queue, done, and is skipped there (no search of a long queue per timeout); the queue is swept
    once most of it has given up, so that timeouts behind a long wait do not pile up.
    """

    __slots__ = ("_free", "_gave_up", "_holders", "_waiters", "deadlines", "limit")

    def __init__(self, limit: int | None, deadlines: Deadlines | None = None) -> None:
        self.limit = limit or None  # 0, like None: no limit of ours
        #: The client's request deadlines, on which a reservation keeps its bound.
        self.deadlines = deadlines if deadlines is not None else Deadlines()
        self._free = limit or 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._gave_up = 0  # waiters in the queue that gave up
        self._holders: set[asyncio.Task[object]] = set()

    def take_now(self) -> bool | None:
        """Take a slot for a request of the current task without waiting: ``None`` when it needs
        none (no limit of ours, or the task holds a reservation), ``True`` when it took one,
        ``False`` when none is free (then :meth:`take`). One call on every request's path."""
        if self.limit is None or (self._holders and asyncio.current_task() in self._holders):
            return None
        if not self._free:  # a slot is free only when nobody waits: give_back hands it over first
            return False
        self._free -= 1
        return True

    def try_take(self) -> bool:
        """Take a free slot now, without waiting; ``False`` when none is free."""
        if not self._free:  # a slot is free only when nobody waits: give_back hands it over first
            return False
        self._free -= 1
        return True

    async def take(self, timeout: float) -> float:
        """Take a slot for one request, waiting at most ``timeout`` seconds; return the seconds waited.

        Raises:
            TimeoutError: no slot came free in time.
        """
        if self.try_take():
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self._wait(timeout)
        return loop.time() - started

    async def _wait(self, timeout: float | None = None) -> None:
        """Queue for a slot and wait until one is handed over (call only when none is free), at most
        ``timeout`` seconds (``TimeoutError``).

        The time limit is a loop timer that fails the wait itself, not a cancel scope: a scope would
        cancel the task, and leave anyio's state of it (two more objects for the collector) on the
        task of every session that queued for its token at scale."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        timer = None if timeout is None else loop.call_at(loop.time() + timeout, _expire, waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a slot, then interrupted before it could use it: the next in line gets it.
                self.give_back()
            else:  # it stays queued, given up, and is skipped; the queue is swept when mostly so
                waiter.cancel()
                self._gave_up += 1
                if self._gave_up > 64 and self._gave_up * 2 > len(self._waiters):
                    self._waiters = deque(w for w in self._waiters if not w.done())
                    self._gave_up = 0
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def give_back(self) -> None:
        """Return the slot :meth:`take` (or :meth:`try_take`) gave: to the longest waiter, if any."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
            self._gave_up -= 1
        self._free += 1

    def reserved(self, bound: float | None = None) -> Reservation:
        """Hold a slot for the current task: its requests meanwhile take none. Waits for one without
        a time limit (see the module docs); a task that already holds one just goes on. ``bound``:
        seconds from the moment the slot is held (``Reservation.deadline``), kept by
        ``with reservation:``."""
        return Reservation(self, bound)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no connection slot came free in time"))


class Reservation:
    """``async with slots.reserved(bound)``: one object per stop (not a generator context manager's
    four), which is also the stop's bound.

    ``with reservation:`` limits its block to ``deadline`` as ``asyncio.timeout_at`` would (the task
    cancelled at the deadline, ``TimeoutError`` raised from that cancellation, any other cancellation
    let through), but on the client's one timer (``Deadlines``) instead of a loop timer of its own:
    on time, or up to 50 ms late when that timer has just timed a request out (``_deadlines.BATCH``).
    """

    __slots__ = ("_bound", "_cancelling", "_held", "_slots", "_task", "deadline")

    def __init__(self, slots: ConnectionSlots, bound: float | None = None) -> None:
        self._slots = slots
        self._bound = bound
        self._held: asyncio.Task[object] | None = None
        self._task: asyncio.Task[Any] | None = None  # the task the bound cancels, while it runs
        self._cancelling = 0
        #: When the bound runs out (loop time), from the moment the slot is held; ``inf`` without one.
        self.deadline = math.inf

    async def __aenter__(self) -> Self:
        slots = self._slots
        task = asyncio.current_task()
        if slots.limit is not None and task is not None and task not in slots._holders:
            if not slots.try_take():
                await slots._wait()
            slots._holders.add(task)
            self._held = task
        if self._bound is not None:
            self.deadline = asyncio.get_running_loop().time() + self._bound
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        task = self._held
        if task is not None:
            self._held = None
            self._slots._holders.discard(task)
            self._slots.give_back()

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if self._bound is not None and task is not None:
            self._task, self._cancelling = task, task.cancelling()
            self._slots.deadlines.entered(self, self.deadline)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        task = self._task
        if task is None:
            return
        expired = self._slots.deadlines.left(self)  # its cancellation taken back if it came
        self._task = None
        if expired and exc_type is asyncio.CancelledError and task.cancelling() <= self._cancelling:
            raise TimeoutError from exc

    # What the deadlines ask of what they limit (``Limited``): the task is cancelled and uncancelled.
    def cancel(self, msg: Any = None) -> bool:
        return self._task is not None and self._task.cancel(msg)

    def uncancel(self) -> int:
        return self._task.uncancel() if self._task is not None else 0
