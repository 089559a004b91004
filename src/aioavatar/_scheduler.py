"""One client's timers: jobs due at given times on the loop's clock, run by a bounded pool of workers.

Every session of a client keeps alive through its client's :class:`Scheduler`. A session waiting for
its next beat holds one loop timer (``loop.call_at``), not a task, a task group or a cancel scope:
ten thousand idle sessions are ten thousand timer handles in the loop's own heap, which the garbage
collector barely notices. When a timer fires, its job joins a queue that at most ``workers`` worker
tasks drain; a worker that finds no work for a moment ends, so an idle client holds no task either.

The workers are plain asyncio tasks owned by the scheduler (a task group would tie them to the task
that entered the client; a client is often entered in one task and used from many). They are
cancelled and awaited by :meth:`Scheduler.aclose`. A job must not raise: what a failed beat means is
the lifecycle's business, so an exception that escapes a job anyway is logged and dropped. An
``urgent`` job (a deadline's stop) gets a worker of its own when all are busy, so a saturated pool
never delays it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["Job", "Scheduler"]

logger = logging.getLogger("aioavatar")

Job = Callable[[], Awaitable[None]]

#: How long a worker waits for more work before it ends (a burst of beats reuses the same workers).
_IDLE_WORKER_SECONDS = 1.0


class Scheduler:
    """Jobs at given loop times, run by at most ``workers`` worker tasks (more for urgent ones)."""

    __slots__ = ("_closed", "_context", "_fire", "_idle", "_ready", "_size", "_tasks")

    def __init__(self, workers: int = 64) -> None:
        self._size = max(1, workers)
        # Every timer fires in this one context and calls this one bound method: a timer costs the
        # garbage collector its handle and its arguments, not a context copy and a method object too.
        self._context = contextvars.Context()
        self._fire = self._enqueue
        self._ready: deque[Job] = deque()
        self._idle: deque[asyncio.Future[None]] = deque()  # one per waiting worker
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def call_at(self, when: float, job: Job, *, urgent: bool = False) -> asyncio.TimerHandle:
        """Run ``job`` on a worker once the loop's clock reaches ``when``; cancel the returned handle
        to drop it."""
        loop = asyncio.get_running_loop()
        return loop.call_at(when, self._fire, job, urgent, context=self._context)

    @property
    def workers(self) -> int:
        """The worker tasks alive now (for tests and statistics)."""
        return len(self._tasks)

    def _enqueue(self, job: Job, urgent: bool) -> None:
        if self._closed:
            return
        if urgent:
            self._ready.appendleft(job)
        else:
            self._ready.append(job)
        while self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if len(self._tasks) < self._size or urgent:
            task = asyncio.get_running_loop().create_task(self._work())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            if not self._ready:
                waiter: asyncio.Future[None] = loop.create_future()
                self._idle.append(waiter)
                handle = loop.call_later(_IDLE_WORKER_SECONDS, _expire, waiter)
                try:
                    await waiter
                except TimeoutError:
                    return  # no work for a while: end; the next job starts a worker again
                finally:
                    handle.cancel()
                continue
            job = self._ready.popleft()
            try:
                await job()
            except Exception:  # a job is not meant to raise: what it did wrong is logged, not lost
                logger.exception("a scheduled job failed")

    async def aclose(self) -> None:
        """Drop the queued jobs and end the workers (a job in progress is cancelled)."""
        self._closed = True
        self._ready.clear()
        for waiter in self._idle:
            if not waiter.done():
                waiter.cancel()
        self._idle.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        # Cancelled workers come back as CancelledError results; a cancellation of our own caller
        # while it waits is raised by gather itself.
        await asyncio.gather(*tasks, return_exceptions=True)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
