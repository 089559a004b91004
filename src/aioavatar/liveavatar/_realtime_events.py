"""The unread events of a realtime connection: bounded by their count and by their frames' text, and
read by the iterator ``events()`` returns."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from typing import Protocol, Self

import anyio

from ._realtime_models import RealtimeEvent
from ._realtime_protocol import MAX_EVENT_CHARS

__all__ = ["EVENT_MEMORY", "EventBuffer", "EventStream", "weight"]

logger = logging.getLogger("aioavatar")

#: The memory the unread events may hold (besides their count), as :func:`weight` reckons it.
EVENT_MEMORY = 2 * 1024 * 1024


def weight(frame: str) -> int:
    """What an event read from ``frame`` holds in memory, reckoned from its text: parsed, an object
    takes about 200 bytes, a list 72, an item 36 and a string 50 besides its characters (measured
    on Python 3.11 over frames of empty and small objects, lists, short and long strings and
    numbers: no frame took more than 0.9 of this; one of empty objects takes 24 times its length,
    one of text about its length). A frame over MAX_EVENT_CHARS keeps its first 1,000 characters:
    it counts as that much."""
    if len(frame) > MAX_EVENT_CHARS:
        return 1000
    return (
        len(frame)
        + 200 * frame.count("{")
        + 72 * frame.count("[")
        + 36 * frame.count(",")
        + 25 * frame.count('"')  # 50 per string: two quotes each
    )


class EventBuffer:
    """Unread events, oldest first: past ``limit`` of them, or :data:`EVENT_MEMORY` of what they
    hold, the oldest are dropped (with a warning at the 1st, 10th, 100th and every 1,000th)."""

    __slots__ = ("_events", "_held", "_limit", "_path", "_sizes", "dropped")

    def __init__(self, limit: int, path: str) -> None:
        self._events: deque[RealtimeEvent] = deque()
        self._sizes: deque[int] = deque()
        self._held = 0
        self._limit = limit
        self._path = path  # for the warning
        self.dropped = 0

    def __bool__(self) -> bool:
        return bool(self._events)

    def __iter__(self) -> Iterator[RealtimeEvent]:
        return iter(self._events)

    def push(self, event: RealtimeEvent, frame: str) -> None:
        """Keep ``event``, read from ``frame``; drop the oldest past either bound."""
        events, sizes = self._events, self._sizes
        events.append(event)
        sizes.append(weight(frame))
        self._held += sizes[-1]
        while len(events) > self._limit or (self._held > EVENT_MEMORY and len(events) > 1):
            events.popleft()
            self._held -= sizes.popleft()
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                logger.warning(
                    "realtime %s: %d unread events dropped (iterate rt.events())",
                    self._path,
                    self.dropped,
                )

    def pop(self) -> RealtimeEvent:
        """The oldest unread event (there must be one)."""
        self._held -= self._sizes.popleft()
        return self._events.popleft()


class _Source(Protocol):
    """What the iterator reads of its connection (``RealtimeSocket``)."""

    _events: EventBuffer
    _closed: bool
    _changed: anyio.Event | None

    async def _wait_change(self, timeout: float | None = None) -> None: ...


class EventStream:
    """The iterator of ``RealtimeSocket.events()``: each unread event once, until the connection
    closes."""

    def __init__(self, socket: _Source) -> None:
        self._socket = socket

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> RealtimeEvent:
        socket = self._socket
        while not socket._events:
            if socket._closed:
                raise StopAsyncIteration
            if socket._changed is None:
                raise RuntimeError(
                    "enter the realtime connection (`async with`) before reading events"
                )
            await socket._wait_change()
        return socket._events.pop()
