"""Counting the Python functions a piece of work runs (a count, not a time: the machines are shared
and noisy), for the tests that hold a path's cost within a budget."""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def functions_run(counted: Callable[[types.CodeType], bool]) -> Iterator[list[int]]:
    """Count, in ``[n]``, the calls of the functions whose code ``counted`` accepts, run in this
    thread within the block (a coroutine's every resumption counts)."""
    calls = [0]

    def count(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call" and counted(frame.f_code):
            calls[0] += 1

    sys.setprofile(count)
    try:
        yield calls
    finally:
        sys.setprofile(None)
