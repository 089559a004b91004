"""One client's timers: jobs due at given times on the loop's clock, run by a bounded pool of workers.

Every session of a client keeps alive through its client's :class:`Scheduler`. A session waiting for
its next beat holds no task, task group, cancel scope or loop timer of its own: its due time is an
entry ``(when, key)`` in the scheduler's heap (a tuple of two numbers, which the garbage collector
stops tracking) and its job is a value in a dict, keyed by ``key``. The scheduler holds one loop
timer, for its earliest entry. Ten thousand idle sessions therefore add nothing per session for the
collector to walk beyond the session's own objects, and a beat allocates nothing that outlives it.

When an entry is due, its job joins a queue that at most ``workers`` worker tasks drain; a worker
that finds no work for a moment ends, so an idle client holds no task either. The workers are plain
asyncio tasks owned by the scheduler (a task group would tie them to the task that entered the
client; a client is often entered in one task and used from many). They are cancelled and awaited by
:meth:`Scheduler.aclose`. A job must not raise: what a failed beat means is the lifecycle's business,
so an exception that escapes a job anyway is logged and dropped. An ``urgent`` job (a deadline's
stop) runs before the ordinary ones and gets a worker of its own when all are busy, so a saturated
pool never delays it; that worker ends with it (staying, it would widen the pool for good).

A job is called with ``urgent``, what it was scheduled with: one object can then be its own beat and
its own deadline without a bound method or a closure per timer.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable

from ._deadlines import EARLY

__all__ = ["Job", "Scheduler", "beat_workers"]

logger = logging.getLogger("aioavatar")

#: A scheduled job, called with the ``urgent`` it was scheduled with.
Job = Callable[[bool], Awaitable[None]]

#: How long a worker waits for more work before it ends (a burst of beats reuses the same workers).
_IDLE_WORKER_SECONDS = 1.0
#: Cancelled entries are swept out of the heap once they are this many and half of it (a session
#: that ends drops its entries at once, so a long deadline never keeps it in memory).
_SWEEP_AT = 256
#: The most workers a scheduler is given (a borrowed pool's limit may be anything).
MAX_WORKERS = 10_000


def beat_workers(request_limit: int, *, borrowed: bool = False) -> int:
    """How many workers a client's scheduler has: two thirds (rounded up) of the requests the
    client sends at once (100 of the default 150; the beats of ``connection_limit=1`` or ``2`` may
    take them all), and at most 64 on a ``borrowed`` pool, as before, since other clients, realtime
    sockets and the application's own requests may share it unseen.

    Beats take their connections from the same slots as the client's calls and stops
    (``_slots.py``), and a hanging beat holds its own for a whole attempt (10 s): a third is left to
    the others, so that beats never take the connections a start, a call or a stop needs. The rest
    grows with the limit: at most 64 whatever ``connection_limit``, as it was, kept a client from
    sending more than 64 beats per round trip, and a larger limit did not help. The default limit
    gives beats as many connections as bare aiohttp's default pool: 50,000 sessions at 60 s against
    a 100 ms API (833 beats a second) need 84.
    """
    return min(64 if borrowed else MAX_WORKERS, request_limit - request_limit // 3)


class Scheduler:
    """Jobs at given loop times, run by at most ``workers`` worker tasks (more for urgent ones)."""

    __slots__ = (
        "_closed",
        "_heap",
        "_idle",
        "_jobs",
        "_next_key",
        "_ready",
        "_reaper",
        "_size",
        "_stale",
        "_tasks",
        "_timer",
        "_timer_at",
        "_urgent",
    )

    def __init__(self, workers: int = 64) -> None:
        self._size = max(1, workers)
        self._heap: list[tuple[float, int]] = []  # (when, key); a key's lowest bit: urgent
        self._jobs: dict[int, Job] = {}  # the entries not cancelled
        self._next_key = 0
        self._stale = 0  # entries in the heap whose key was cancelled
        self._timer: asyncio.TimerHandle | None = None  # the loop's timer for the earliest entry
        self._timer_at = math.inf
        self._ready: deque[Job] = deque()
        self._urgent: deque[Job] = deque()
        # One per waiting worker, with when it began to wait; the latest to wait is woken first.
        self._idle: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._reaper: asyncio.TimerHandle | None = None  # ends the workers idle for too long
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def open(self) -> None:
        """Take jobs again after :meth:`aclose` (a client entered again)."""
        self._closed = False

    def call_at(self, when: float, job: Job, *, urgent: bool = False) -> int:
        """Run ``job(urgent)`` on a worker once the loop's clock reaches ``when``; returns the key that
        :meth:`cancel` takes."""
        key = self._next_key | urgent
        self._next_key += 2
        if self._closed:
            return key  # the client is closing: nothing runs any more
        self._jobs[key] = job
        heapq.heappush(self._heap, (when, key))
        if when < self._timer_at:
            self._arm(asyncio.get_running_loop(), when)
        return key

    def cancel(self, key: int) -> None:
        """Drop the entry ``key`` (nothing happens when it has run or was dropped already)."""
        if self._jobs.pop(key, None) is None:
            return
        self._stale += 1
        heap = self._heap
        if self._stale >= _SWEEP_AT and self._stale * 2 >= len(heap):
            jobs = self._jobs
            heap[:] = [entry for entry in heap if entry[1] in jobs]
            heapq.heapify(heap)
            self._stale = 0

    @property
    def workers(self) -> int:
        """The worker tasks alive now (for tests and statistics)."""
        return len(self._tasks)

    @property
    def pending(self) -> int:
        """The entries waiting for their time (for tests and statistics)."""
        return len(self._jobs)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        # The loop may run a timer a tick early (asyncio by its clock's resolution, uvloop by the
        # millisecond): what is due that soon runs now, not on a timer armed again and again for it.
        now = loop.time() + EARLY
        heap, jobs = self._heap, self._jobs
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            job = jobs.pop(key, None)
            if job is None:
                self._stale -= 1
            elif key & 1:
                self._urgent.append(job)
                self._dispatch(loop, urgent=True)
            else:
                self._ready.append(job)
                self._dispatch(loop, urgent=False)
        if heap:
            self._arm(loop, heap[0][0])

    def _dispatch(self, loop: asyncio.AbstractEventLoop, *, urgent: bool) -> None:
        """Wake an idle worker, or start one (beyond the pool's size for an urgent job)."""
        while self._idle:
            _, waiter = self._idle.pop()
            if not waiter.done():
                waiter.set_result(None)
                return
        if len(self._tasks) < self._size or urgent:
            task = loop.create_task(self._work())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _reap(self) -> None:
        """End the waits of the workers idle for ``_IDLE_WORKER_SECONDS``: the longest idle, as the
        latest to wait is woken first. One loop timer for them all, armed for the longest idle,
        not one per wait (a wait per beat, when beats are spread out)."""
        self._reaper = None
        loop = asyncio.get_running_loop()
        idle, expired = self._idle, loop.time() + EARLY - _IDLE_WORKER_SECONDS
        while idle and idle[0][0] <= expired:
            _, waiter = idle.popleft()
            if not waiter.done():
                waiter.set_exception(TimeoutError())
        if idle:
            self._reaper = loop.call_at(idle[0][0] + _IDLE_WORKER_SECONDS, self._reap)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._closed:
                if self._urgent:
                    job, urgent = self._urgent.popleft(), True
                elif self._ready:
                    job, urgent = self._ready.popleft(), False
                else:
                    waiter: asyncio.Future[None] = loop.create_future()
                    idle_since = loop.time()
                    self._idle.append((idle_since, waiter))
                    if self._reaper is None:
                        self._reaper = loop.call_at(idle_since + _IDLE_WORKER_SECONDS, self._reap)
                    try:
                        await waiter
                    except TimeoutError:
                        # No work for a while: end (the next job starts a worker again), unless
                        # work came in the turn the wait expired in: that job found this worker's
                        # wait done, and no room for a new worker while this one still counted.
                        if not (self._urgent or self._ready):
                            return
                    continue
                try:
                    await job(urgent)
                except Exception:  # not meant to raise: what it did wrong is logged, not lost
                    logger.exception("a scheduled job failed")
                if urgent and len(self._tasks) > self._size:
                    # The worker an urgent job got beyond the pool's size ends with it: it must not
                    # go on sending beats, or deadlines reached in an outage would widen the pool.
                    return
        finally:
            # Counted out in the step it ends in (its done-callback comes a turn later): a job
            # queued meanwhile finds room to start a worker instead of waiting for the next job.
            self._tasks.discard(asyncio.current_task())  # type: ignore[arg-type,unused-ignore]

    async def aclose(self) -> None:
        """Drop the due and queued jobs and end the workers (a job in progress is cancelled)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # No timer is armed: the first entry after an :meth:`open` arms one, whenever it is due (a
        # stale time left here, passed by then, kept every later entry from arming it: a client
        # entered again sent no beat and reached no deadline).
        self._timer_at = math.inf
        self._stale = 0
        self._heap.clear()
        self._jobs.clear()
        self._ready.clear()
        self._urgent.clear()
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        for _, waiter in self._idle:
            if not waiter.done():
                waiter.cancel()
        self._idle.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        # Cancelled workers come back as CancelledError results; a cancellation of our own caller
        # while it waits is raised by gather itself.
        await asyncio.gather(*tasks, return_exceptions=True)
