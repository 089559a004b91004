"""Cancelling a session's block from outside it (rules 4, 6-8 and 14 of ``_session.py``).

When the server ends a session, its deadline comes or its keep-alive fails, the block inside
``async with`` is cancelled. Not with an anyio cancel scope per block: an idle session would hold
one, with its two sets and, for a task anyio had never seen, its record of the task and a weak
reference: up to five more objects for the garbage collector to walk at every full collection (a
quarter of its time at 10,000 idle sessions) and 0.7 KB, for a cancellation that nearly never
comes. A block records only its task and anyio's innermost scope of that task when it was entered
(its boundary); a block that must be cancelled then gets a :class:`BlockCancellation`, which
cancels that task as an anyio scope would:

- level-triggered: again on every loop turn until the block is left, so an await that swallows one
  ``CancelledError`` (``asyncio.wait_for`` on Python 3.11 for one) does not lose it;
- held off while an anyio scope entered inside the block shields it (a cleanup of the user's or the
  SDK's own), looked at again after 1 ms, then 2, 4 ... up to every 20 ms (anyio restarts its
  delivery when the shield is left; nothing tells this module, and a wait per loop turn would spin a
  core for as long as the shield lasts);
- counted: the block's exit takes its requests back (``task.uncancel()``) and, as ``asyncio.timeout``
  does, a ``CancelledError`` is the block's own only when no request is left beyond those the task
  had when the block was entered, and no anyio scope the error would reach next was cancelled
  (then the caller's cancellation, or that scope's, propagates). A scope inside the block that
  cancels itself sees the block's request beside its own and passes the cancellation on, as it
  would see a cancelled scope around it;
- worded as a scope's: each request carries the message by which anyio's scopes know a cancellation
  of a scope's ("Cancelled via cancel scope ..."), so that a cancelled scope around the block, to
  which the block's cancellation then propagates, catches it (a bare ``CancelledError`` would go
  through it and cancel the task beyond).

What an anyio scope would also do and this does not: cancel the tasks of a task group inside the block
while the block itself waits in a shield (they are cancelled once it leaves the shield and its task
group is cancelled); cancel the block at its first wait after a shield (here the block runs on until
the next look, up to 20 ms later, and a block that ends meanwhile exits quietly, rule 7: its
``end_reason`` says the server ended it); and a shield left, in a scope that had cancelled itself,
without a wait after it lets that scope catch its own cancellation (again a quiet exit).

It reads anyio's record of which scopes a task is in (a private name of its asyncio backend, read the
way anyio's own delivery reads it, and only once that backend is loaded); this module is the only code
of the package that reads it. Were that record gone or renamed (a later anyio), the block would still
be cancelled, shields unseen, and ``tests/test_block.py`` would fail.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["BlockCancellation", "cancelled_around", "innermost_scope", "scope_cancelled"]


#: While a shield holds the block's cancellation off: the first wait, and the longest.
_FIRST_WAIT = 0.001
_LONGEST_WAIT = 0.02


#: What :func:`_scope_of` gives when anyio's record of a task cannot be read (a later anyio).
_UNREAD: Any = object()


def _scope_of(task: asyncio.Task[Any] | None) -> Any:
    """The innermost anyio cancel scope ``task`` is in now, ``None`` when it is in none, or
    ``_UNREAD`` when anyio's record (or the field read in it) is not what this was written against."""
    backend = sys.modules.get("anyio._backends._asyncio")
    if backend is None or task is None:  # anyio has not run on asyncio: no scope of its holds it
        return None
    states = getattr(backend, "_task_states", None)
    if states is None:
        return _UNREAD
    state = states.get(task)
    return None if state is None else getattr(state, "cancel_scope", _UNREAD)


def innermost_scope(task: asyncio.Task[Any]) -> Any:
    """The innermost anyio cancel scope ``task`` is in now, or ``None`` (also when anyio's record
    cannot be read: no scope seen)."""
    scope = _scope_of(task)
    return None if scope is _UNREAD else scope


def scope_cancelled(task: asyncio.Task[Any] | None) -> bool:
    """Whether a cancelled anyio scope holds ``task`` (up to a shield): whether anyio's
    ``checkpoint_if_cancelled`` would raise in it. Read without a trip through anyio's backend
    lookup; ``True`` when anyio's record cannot be read, so that the caller asks anyio itself."""
    scope = _scope_of(task)
    return scope is _UNREAD or cancelled_around(scope, unreadable=True)


def _chain(scope: Any, until: object | None = None) -> Iterator[Any]:
    """``scope`` and the scopes around it, innermost first, up to ``until`` (left out); none more
    once anyio's scopes are not what this was written against."""
    try:
        while scope is not None and scope is not until:
            yield scope
            scope = scope._parent_scope
    except AttributeError:
        return


def cancelled_around(boundary: Any, *, unreadable: bool = False) -> bool:
    """Whether ``boundary``, or a scope around it up to a shield, was cancelled (what anyio's
    ``checkpoint_if_cancelled`` looks at); ``unreadable`` once anyio's scopes are not what this was
    written against. A plain loop, not :func:`_chain`: every protected start and stop asks."""
    scope = boundary
    try:
        while scope is not None:
            if scope.cancel_called:
                return True
            if scope.shield:
                return False
            scope = scope._parent_scope
    except AttributeError:
        return unreadable
    return False


class BlockCancellation:
    """The cancellation of one block's task, delivered until :meth:`close` (see the module)."""

    __slots__ = ("_boundary", "_handle", "_message", "_task", "_wait", "requests")

    def __init__(self, task: asyncio.Task[Any], boundary: object | None) -> None:
        self._task = task
        self._boundary = boundary
        self._handle: asyncio.Handle | None = None
        self._wait = 0.0  # the current wait while a shield holds the cancellation off
        self._message = f"Cancelled via cancel scope {id(self):x}; reason: the session ended"
        #: The ``task.cancel()`` calls made, for the block's exit to take back.
        self.requests = 0
        self._deliver()

    def _shielded(self) -> bool:
        """A scope entered inside the block shields the task."""
        return any(scope.shield for scope in _chain(innermost_scope(self._task), self._boundary))

    def _deliver(self) -> None:
        task = self._task
        self._handle = None
        if task.done():
            return
        loop = task.get_loop()
        if task is asyncio.current_task():
            # Not the running task: it is cancelled at its next wait, a loop turn later.
            self._handle = loop.call_soon(self._deliver)
            return
        if self._shielded():
            self._wait = min(self._wait * 2, _LONGEST_WAIT) if self._wait else _FIRST_WAIT
            self._handle = loop.call_at(loop.time() + self._wait, self._deliver)
            return
        self._wait = 0.0
        if task._must_cancel:  # type: ignore[attr-defined]
            # Bound to be cancelled before it runs again: by this, nothing more; by somebody else
            # (a scope inside the block cancelling itself), the block's request joins theirs, so
            # that scope sees it and passes the cancellation on.
            if task._cancel_message != self._message:  # type: ignore[attr-defined]
                task.cancel(self._message)
                self.requests += 1
        else:
            # Not a wait whose result is in (the result would be lost, as anyio's delivery
            # knows); a wait cancelled by somebody else gets the block's request beside theirs.
            waiter = task._fut_waiter  # type: ignore[attr-defined]
            if not isinstance(waiter, asyncio.Future) or not waiter.done() or waiter.cancelled():
                task.cancel(self._message)
                self.requests += 1
        self._handle = loop.call_soon(self._deliver)

    def close(self) -> int:
        """No more deliveries; the number of ``task.cancel()`` calls made."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        return self.requests
