"""Cancelling a session's block from outside it (rules 4, 6-8 and 14 of ``_session.py``).

When the server ends a session, its deadline comes or its keep-alive fails, the block inside
``async with`` is cancelled. Not with an anyio cancel scope per block: an idle session would hold
one, with its two sets and anyio's state of a task that had none, four more objects for the garbage
collector to walk at every full collection (a third of its time at 10,000 sessions) and 0.7 KB, for
a cancellation that nearly never comes. A block records only its task and anyio's innermost scope
of that task when it was entered (its boundary); a block that must be cancelled then gets a
:class:`BlockCancellation`, which cancels that task as an anyio scope would:

- level-triggered: again on every loop turn until the block is left, so an await that swallows one
  ``CancelledError`` (``asyncio.wait_for`` on Python 3.11 for one) does not lose it;
- held off while an anyio scope entered inside the block shields it (a cleanup of the user's or the
  SDK's own) or delivers a cancellation of its own;
- counted: the block's exit takes its requests back (``task.uncancel()``) and, as ``asyncio.timeout``
  does, a ``CancelledError`` is the block's own only when no other request is left (a caller that
  cancelled the task meanwhile gets its cancellation).

It reads anyio's record of which scopes a task is in (a private name of its asyncio backend, read the
way anyio's own delivery reads it, and only once that backend is loaded); this module is the only code
of the package that reads it, and the tests that shield, nest and swallow pin it.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

__all__ = ["BlockCancellation", "innermost_scope"]


def innermost_scope(task: asyncio.Task[Any]) -> object | None:
    """The innermost anyio cancel scope ``task`` is in now, or ``None``."""
    backend = sys.modules.get("anyio._backends._asyncio")
    if backend is None:  # anyio has not run on asyncio: no task is in a scope of its
        return None
    state = backend._task_states.get(task)
    return None if state is None else state.cancel_scope


class BlockCancellation:
    """The cancellation of one block's task, delivered until :meth:`close` (see the module)."""

    __slots__ = ("_boundary", "_handle", "_task", "requests")

    def __init__(self, task: asyncio.Task[Any], boundary: object | None) -> None:
        self._task = task
        self._boundary = boundary
        self._handle: asyncio.Handle | None = None
        #: The ``task.cancel()`` calls made, for the block's exit to take back.
        self.requests = 0
        self._deliver()

    def _held_off(self) -> bool:
        """A scope entered inside the block shields the task or is delivering its own cancellation."""
        scope: Any = innermost_scope(self._task)
        while scope is not None and scope is not self._boundary:
            if scope.shield or scope.cancel_called:
                return True
            scope = scope._parent_scope
        return False

    def _deliver(self) -> None:
        task = self._task
        self._handle = None
        if task.done():
            return
        # As anyio's delivery: not the running task (it is cancelled at its next wait, a loop turn
        # later), not twice before the task ran, not a wait whose result is already in.
        if not task._must_cancel and task is not asyncio.current_task() and not self._held_off():  # type: ignore[attr-defined]
            waiter = task._fut_waiter  # type: ignore[attr-defined]
            if not isinstance(waiter, asyncio.Future) or not waiter.done():
                task.cancel()
                self.requests += 1
        self._handle = task.get_loop().call_soon(self._deliver)

    def close(self) -> int:
        """No more deliveries; the number of ``task.cancel()`` calls made."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        return self.requests
