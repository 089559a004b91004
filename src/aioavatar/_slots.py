"""A client's connection slots: how many of its requests may be on the wire at once, and who waits.

aiohttp's own pool queues a request past its limit and counts the wait in that request's timeout, so
thousands of sessions stopping together would abandon the stops at the back of the queue. The client's
own pool is unlimited instead and :class:`ConnectionSlots` is the queue (first come, first served): a
request waits for a slot within its timeout, while a task that :meth:`~ConnectionSlots.reserved` one (a
stop) waits as long as it takes and keeps it for every request it sends meanwhile, its time limits
starting once it holds it. Every wait is bounded in the end: a slot is held by one request at a time,
and every request is bounded.
"""

from __future__ import annotations

import asyncio

import anyio

__all__ = ["ConnectionSlots"]


class ConnectionSlots:
    """At most ``limit`` requests at once (``None``: no limit of ours), and tasks that hold one."""

    __slots__ = ("_free", "_holders", "limit")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._free = asyncio.Semaphore(limit) if limit else None
        self._holders: set[asyncio.Task[object]] = set()

    def needed(self) -> bool:
        """Whether a request of the current task must take a slot (not when it holds a reservation)."""
        if self._free is None:
            return False
        return not self._holders or asyncio.current_task() not in self._holders

    async def take(self, timeout: float) -> float:
        """Take a slot for one request, waiting at most ``timeout`` seconds; return the seconds waited.

        Raises:
            TimeoutError: no slot came free in time.
        """
        free = self._free
        assert free is not None
        if not free.locked():
            await free.acquire()  # free now: returns without suspending
            return 0.0
        started = anyio.current_time()
        with anyio.fail_after(timeout):
            await free.acquire()
        return anyio.current_time() - started

    def give_back(self) -> None:
        """Return the slot :meth:`take` gave."""
        assert self._free is not None
        self._free.release()

    def reserved(self) -> _Reservation:
        """Hold a slot for the current task: its requests meanwhile take none. Waits for one without
        a time limit (see the module docs); a task that already holds one just goes on."""
        return _Reservation(self)


class _Reservation:
    """``async with slots.reserved()``: one object per stop (not a generator context manager's four)."""

    __slots__ = ("_held", "_slots")

    def __init__(self, slots: ConnectionSlots) -> None:
        self._slots = slots
        self._held: asyncio.Task[object] | None = None

    async def __aenter__(self) -> None:
        slots = self._slots
        free = slots._free
        task = asyncio.current_task()
        if free is None or task is None or task in slots._holders:
            return
        await free.acquire()
        slots._holders.add(task)
        self._held = task

    async def __aexit__(self, *exc_info: object) -> None:
        task = self._held
        if task is not None:
            self._held = None
            self._slots._holders.discard(task)
            assert self._slots._free is not None
            self._slots._free.release()
