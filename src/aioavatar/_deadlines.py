"""The total time limit of a client's requests in flight, kept on one loop timer per client.

aiohttp bounds each request's total time with a loop timer of its own: pushed onto the loop's timer
heap when the request starts and cancelled when it ends. On a loop whose heap holds timers of other
horizons (other clients' 300 s limits, this client's 10 s and 30 s ones) every push and pop sifts past
them, a Python-level comparison at each step, on every request. :class:`Deadlines` keeps the requests in
flight in a dict instead, and one timer, armed at the earliest deadline and left armed when a request
ends in time: in steady traffic a timer is pushed about once per time limit, not once per request.

A request past its deadline has its task cancelled, as ``asyncio.timeout`` does it; :meth:`left` tells
the request it was its deadline (and takes that cancellation back), so that it raises its timeout
error, while a cancellation from anywhere else still goes through. A session's stop keeps its bound
here too (``_slots.Reservation``, which cancels the stop's task the same way): no loop timer, timeout
object and heap entry per stop, which thousands of sessions stopping together each pushed past the
others, with a Python-level comparison at each step.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Protocol

__all__ = ["BATCH", "EARLY", "Deadlines", "Limited"]


class Limited(Protocol):
    """What a deadline is kept for: a request's task, or a stop's bound, which cancels its task."""

    def cancel(self, msg: Any = None) -> bool: ...

    def uncancel(self) -> int: ...


#: After the timer cancelled a request, it fires again no sooner than this (seconds): a deadline
#: falling in that while is kept up to this late, and a thousand requests hung with deadlines a
#: millisecond apart cost a few dozen walks of the requests in flight per second, not a thousand.
#: A firing that found nobody late (the earliest request ended in time) arms the timer at the
#: earliest deadline left, exactly: a stop's bound just after it is kept on time.
BATCH = 0.05
#: The loop may run a timer up to its clock's resolution early (asyncio does; uvloop rounds to the
#: millisecond): a deadline that close is taken as passed, or the timer would find nobody late and
#: be armed again a batch later.
EARLY = max(time.get_clock_info("monotonic").resolution, 0.001)


class Deadlines:
    """The deadlines (in loop time) of the requests in flight, one per task (and of the stops' bounds),
    and the timer that cancels the task of each past its own."""

    __slots__ = ("_due", "_expired", "_timer", "_timer_at")

    def __init__(self) -> None:
        self._due: dict[Limited, float] = {}
        self._expired: set[Limited] = set()  # cancelled for their deadline, not yet left
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def __len__(self) -> int:
        """The requests in flight, and the stops' bounds running."""
        return len(self._due)

    def entered(self, task: Limited, deadline: float) -> None:
        """A request of ``task`` (or a stop's bound) started, to end by ``deadline`` (loop time)."""
        self._due[task] = deadline
        if deadline < self._timer_at:
            self._arm(deadline)

    def left(self, task: Limited) -> bool:
        """The request of ``task`` ended: whether its deadline passed first. Then its task was
        cancelled for it, and that cancellation is taken back here (``task.uncancel()``): a
        ``CancelledError`` the request raises is its timeout when ``task.cancelling()`` is back to
        what it was when the request started (a cleanup's request starts with 1)."""
        if self._due.pop(task, None) is not None or task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        return True

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(at, self._expire)
        self._timer_at = at

    def _expire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if not self._due:
            return
        now = asyncio.get_running_loop().time()
        late = [task for task, at in self._due.items() if at <= now + EARLY]
        for task in late:
            del self._due[task]
            self._expired.add(task)
            task.cancel()
        if self._due:  # next at the earliest deadline left; after a cancellation, a batch away
            earliest = min(self._due.values())
            self._arm(max(earliest, now + BATCH) if late else earliest)
