"""``Utterance``: one piece of speech queued on a realtime connection, and how it ends."""

from __future__ import annotations

import anyio

__all__ = ["Utterance"]


class Utterance:
    """One piece of speech queued by :meth:`RealtimeConnection.speak`.

    Attributes:
        event_id: the ``event_id`` of every message of this utterance.
        duration: seconds of audio.
    """

    def __init__(self, event_id: str, chunks: list[bytes], duration: float) -> None:
        self.event_id = event_id
        self.duration = duration
        self._chunks = chunks
        self._chunks_sent = 0
        self._end_sent = False
        self._socket: int | None = None  # the socket generation its chunks went to
        self._cut = False  # no more chunks go out
        self._started = anyio.Event()
        self._ended = anyio.Event()
        self._interrupted = False

    def __repr__(self) -> str:
        state = "ended" if self.ended else "started" if self.started else "queued"
        extra = " interrupted" if self._interrupted else ""
        return f"<Utterance {self.event_id} {self.duration:.2f} s {state}{extra}>"

    @property
    def started(self) -> bool:
        """Whether the server said ``agent.speak_started`` for it."""
        return self._started.is_set()

    @property
    def ended(self) -> bool:
        """Whether it is over: spoken, interrupted, dropped, or its connection closed."""
        return self._ended.is_set()

    @property
    def interrupted(self) -> bool:
        """Whether it ended without the server's ``agent.speak_ended``: interrupted, dropped from the
        queue, or cut short by a lost or closed connection."""
        return self._interrupted

    @property
    def chunks(self) -> int:
        """How many ``agent.speak`` messages it takes."""
        return len(self._chunks)

    @property
    def chunks_sent(self) -> int:
        """How many of them have been sent."""
        return self._chunks_sent

    async def wait_started(self) -> bool:
        """Wait until the avatar starts speaking it, or until it ends without having started.

        Returns:
            ``True`` when it started, ``False`` when it ended first (interrupted or dropped).
        """
        async with anyio.create_task_group() as tg:

            async def on(event: anyio.Event) -> None:
                await event.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(on, self._started)
            tg.start_soon(on, self._ended)
        return self.started

    async def wait_ended(self) -> None:
        """Wait until it is over (see :attr:`ended`); :attr:`interrupted` then says how it ended."""
        await self._ended.wait()

    def _start(self) -> None:
        self._started.set()

    def _end(self, *, interrupted: bool) -> None:
        if not self._ended.is_set():
            self._cut = True
            self._interrupted = interrupted
            self._ended.set()
