"""A loop with a coarse clock, for the timers that must not fire again and again when the loop runs
them a tick early (uvloop's timers are whole milliseconds)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import time
from collections.abc import Callable, Iterator
from typing import TypeVarTuple, Unpack

_Ts = TypeVarTuple("_Ts")


class CoarseClockLoop(asyncio.SelectorEventLoop):
    """A loop whose clock ticks every millisecond (uvloop's timers are whole milliseconds) and which
    runs a timer up to one tick early, as asyncio does by its clock's resolution; it counts the
    timers armed with a method of ``counted`` (a ``Deadlines``, a ``Scheduler``)."""

    TICK = 0.001

    def __init__(self) -> None:
        super().__init__()
        self._clock_resolution = self.TICK  # what asyncio sets from such a clock's information
        self.counted: object = None
        self.armed = 0
        self.armed_names: list[str] = []  # the names of the methods armed, in order

    def time(self) -> float:
        return math.floor(time.monotonic() / self.TICK) * self.TICK

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[_Ts]], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        if self.counted is not None and getattr(callback, "__self__", None) is self.counted:
            self.armed += 1
            self.armed_names.append(getattr(callback, "__name__", "?"))
        return super().call_at(when, callback, *args, context=context)


@contextlib.contextmanager
def kept_busy() -> Iterator[None]:
    """Keep the running loop busy until the block ends: a loop with a callback ready every turn looks
    at its timers every turn, so at every tick of its clock."""
    loop = asyncio.get_running_loop()
    spinning = True

    def spin() -> None:
        if spinning:
            loop.call_soon(spin)

    spin()
    try:
        yield
    finally:
        spinning = False
