"""When the emulators' sessions may end on their own: a heap of due times, so that a sweep looks only at
the sessions whose timers may have run out, not at every session the emulator ever held.

A sweep used to pass over every session, ended ones included, and the reaper sweeps every 50 ms: at
50,000 sessions that was a pass of milliseconds twenty times a second, in the server's one thread, growing
with every session a long test run or benchmark had created.

An entry is a session's earliest possible end as of when it was added. Activity (a keep-alive) only moves a
session's end later and its limits do not shrink, so an entry is never late: one that comes due early is
looked at and added again at the session's new end, once per idle window at most.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Generic, TypeVar

__all__ = ["DueTimes"]

T = TypeVar("T")


class DueTimes(Generic[T]):
    """Items by the time they come due (a heap; ties in the order they were added)."""

    __slots__ = ("_count", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._count = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, at: float, item: T) -> None:
        """``item`` comes due at ``at``."""
        heapq.heappush(self._heap, (at, next(self._count), item))

    def pop_due(self, now: float) -> list[T]:
        """Take out and return the items due by ``now``, earliest first."""
        heap = self._heap
        due: list[T] = []
        while heap and heap[0][0] <= now:
            due.append(heapq.heappop(heap)[2])
        return due
