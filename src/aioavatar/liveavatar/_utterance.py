"""One piece of speech on a realtime connection: what the sender knows of it (:class:`Speech`) and what the
user sees of it (:class:`Utterance`)."""

from __future__ import annotations

import anyio

__all__ = ["Speech", "Utterance"]


class Speech:
    """The sender's record of one utterance: its chunks, how far they went, and how it ended.

    :class:`~aioavatar.liveavatar.RealtimeConnection` moves it; :attr:`utterance` is the face it hands out.
    """

    __slots__ = (
        "chunk_count",
        "chunks",
        "chunks_sent",
        "cut",
        "end_sent",
        "ended",
        "interrupted",
        "socket",
        "started",
        "utterance",
    )

    def __init__(self, event_id: str, chunks: list[bytes], duration: float) -> None:
        self.chunks = chunks  # emptied once sent or cut: the audio is let go of
        self.chunk_count = len(chunks)
        self.chunks_sent = 0
        self.end_sent = False
        self.socket: int | None = None  # the socket generation its chunks went to
        self.cut = False  # no more chunks go out
        self.started = anyio.Event()
        self.ended = anyio.Event()
        self.interrupted = False
        self.utterance = Utterance(event_id, duration, self)

    @property
    def event_id(self) -> str:
        """The ``event_id`` of every message of this utterance."""
        return self.utterance.event_id

    def start(self) -> None:
        """The server said ``agent.speak_started`` (or ``agent.speak_ended``) for it."""
        self.started.set()

    def end(self, *, interrupted: bool) -> None:
        """It is over; the first call says how, and no more chunks go out."""
        if not self.ended.is_set():
            self.cut = True
            self.interrupted = interrupted
            self.ended.set()


class Utterance:
    """One piece of speech queued by :meth:`RealtimeConnection.speak`.

    Attributes:
        event_id: the ``event_id`` of every message of this utterance.
        duration: seconds of audio.
    """

    __slots__ = ("_speech", "duration", "event_id")

    def __init__(self, event_id: str, duration: float, speech: Speech) -> None:
        self.event_id = event_id
        self.duration = duration
        self._speech = speech

    def __repr__(self) -> str:
        state = "ended" if self.ended else "started" if self.started else "queued"
        extra = " interrupted" if self.interrupted else ""
        return f"<Utterance {self.event_id} {self.duration:.2f} s {state}{extra}>"

    @property
    def started(self) -> bool:
        """Whether the server said ``agent.speak_started`` for it."""
        return self._speech.started.is_set()

    @property
    def ended(self) -> bool:
        """Whether it is over: spoken, interrupted, dropped, or its connection closed."""
        return self._speech.ended.is_set()

    @property
    def interrupted(self) -> bool:
        """Whether it ended before all of it was spoken: interrupted, dropped from the queue, cut
        short by a lost or closed connection or by the session's end, or ended by the server
        (``agent.speak_ended``) before all of its audio was sent."""
        return self._speech.interrupted

    @property
    def chunks(self) -> int:
        """How many ``agent.speak`` messages it takes."""
        return self._speech.chunk_count

    @property
    def chunks_sent(self) -> int:
        """How many of them have been sent."""
        return self._speech.chunks_sent

    async def wait_started(self) -> bool:
        """Wait until the avatar starts speaking it, or until it ends without having started.

        Returns:
            ``True`` when it started, ``False`` when it ended first (interrupted or dropped).
        """
        async with anyio.create_task_group() as tg:

            async def on(event: anyio.Event) -> None:
                await event.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(on, self._speech.started)
            tg.start_soon(on, self._speech.ended)
        return self.started

    async def wait_ended(self) -> None:
        """Wait until it is over (see :attr:`ended`); :attr:`interrupted` then says how it ended.

        Over means the server said so, an interrupt, or the connection's end: a server that never
        says ``agent.speak_ended`` leaves this waiting while the connection is open (bound it with
        ``anyio.fail_after(utterance.duration + grace)`` where that matters)."""
        await self._speech.ended.wait()
