"""What runs on one client: the sessions opening or running on it, which its close ends first (rule 14).

A session counts as *starting* from the moment its ``open`` may send anything (after ``prepare``, which
opens nothing) until it is *held* (its start succeeded: it runs until its end) or let go of (its start
failed: whatever rule 3 stops is stopped by then). The client's close (:meth:`Running.end_all`) refuses
new starts, has every held session end itself (``_client_closing``: a stop, or the stop under way
waited for), and waits for the starts under way: each session they open is ended the same way as soon
as it is held. Its pool closes after that, so no start or stop is cut short by it, even when the close
itself is cancelled (a shutdown deadline): the cancellation is raised once all is over.

Sets of members, not counts: a member is let go of whatever happened to it, and letting go of one that
was never counted changes nothing, so an interrupt landing anywhere cannot leave a close waiting for
a start that is over.
"""

from __future__ import annotations

from typing import Protocol

import anyio
import anyio.abc

from ._cancellation import close_despite_cancellation

__all__ = ["Member", "Running"]


class Member(Protocol):
    """A session, as the client's close sees it."""

    async def _client_closing(self) -> None:
        """Stop (``USER_DISCONNECTED``) and end the block as when the server ends the session, or
        wait for the stop under way."""
        ...


class Running:
    """The sessions starting and running on one client."""

    __slots__ = ("_closers", "_closing", "_done", "_held", "_over", "_starting")

    def __init__(self) -> None:
        self._starting: set[Member] = set()
        self._held: set[Member] = set()
        self._closing = False  # no session starts any more
        self._closers: anyio.abc.TaskGroup | None = None  # while a close runs: ends what is held
        self._over: anyio.Event | None = None  # set once no start is under way, while closing
        self._done: anyio.Event | None = None  # set once the close under way has ended them all

    def starting(self, member: Member) -> None:
        """``member``'s ``open`` begins: counted until :meth:`hold` or :meth:`let_go`.

        Raises:
            RuntimeError: the client is closing or closed.
        """
        if self._closing:
            raise RuntimeError(
                "the client is closing or closed: no session starts on it (use it inside "
                "`async with client:`)"
            )
        self._starting.add(member)

    def hold(self, member: Member) -> None:
        """``member`` runs until :meth:`let_go`; on a closing client it is ended at once."""
        self._held.add(member)
        if self._closers is not None:
            self._closers.start_soon(member._client_closing)
        self._started(member)

    def let_go(self, member: Member) -> None:
        """``member`` ended, or its start failed (nothing happens for one never counted)."""
        self._held.discard(member)
        self._started(member)

    def _started(self, member: Member) -> None:
        starting = self._starting
        if member in starting:
            starting.discard(member)
            if not starting and self._over is not None:
                self._over.set()
                self._over = None

    async def end_all(self) -> BaseException | None:
        """End every session of the client, all at once: no session starts any more, each held one
        is ended (``_client_closing``) and so is each that a start under way opens. Returns once all
        of that is over, whatever cancels the caller meanwhile (each start and stop is bounded by its
        own timeouts), with the cancellation that arrived, for the caller to raise once closed."""
        return await close_despite_cancellation(self._end_all())

    async def _end_all(self) -> None:
        self._closing = True
        if self._done is not None:  # a close under way ends them: this one waits for all of it
            await self._done.wait()
            return
        done = self._done = anyio.Event()
        try:
            async with anyio.create_task_group() as closers:
                self._closers = closers
                for member in list(self._held):
                    closers.start_soon(member._client_closing)
                if self._starting:
                    self._over = anyio.Event()
                    await self._over.wait()
        finally:
            self._closers = self._done = None
            done.set()

    def open(self) -> None:
        """Let sessions start again (the client entered again after its close)."""
        self._closing = False
