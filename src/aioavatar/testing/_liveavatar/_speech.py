"""The avatar behind one LITE socket: its audio queue, what it is playing, and its agent state.

Rules, as the real avatar plays audio (what real clients rely on):

 1. Audio is one queue. Every ``agent.speak`` chunk joins the *open* utterance, whatever its
    ``event_id`` (the livekit plugin sends a new one per chunk; GetStream's plugin none); the first chunk
    after the last ``agent.speak_end`` opens a new utterance, which takes that chunk's ``event_id``.
 2. ``agent.speak_end`` closes the open utterance (whatever its ``event_id``); with none open it does
    nothing.
 3. Utterances play one after another, each taking its audio's duration times ``time_scale``:
    ``agent.speak_started`` when one begins, ``agent.speak_ended`` once all its audio has played and it
    is closed. Without ``agent.speak_end`` the avatar waits for more audio, as the real one never returns
    to listening. Both events carry the utterance's ``event_id`` and ``task.id``.
 4. ``agent.interrupt`` ends the playing utterance with ``agent.speak_interrupted`` and drops the queued
    and open ones; audio that arrives later is a new utterance (clients drop their own queued chunks).
 5. The agent state is ``idle``, ``listening`` or ``talking``: ``talking`` while an utterance plays, then
    ``listening`` if the listening pose was asked for (``agent.start_listening``, which waits for the
    speech playing or queued to end) else ``idle``. Each change is one ``agent.state_updated`` carrying both shapes peers
    read: ``{state}`` and ``{previous_state, new_state}``.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio
import attrs

__all__ = ["Avatar", "Utterance"]

_BYTES_PER_SECOND: Final = 24_000 * 2  # PCM 16-bit mono 24 kHz


@attrs.define(eq=False)
class Utterance:
    """One utterance: the ``event_id`` of its first chunk, its task id, the bytes received so far, and
    whether ``agent.speak_end`` closed it."""

    event_id: str | None
    task_id: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    received: int = 0
    closed: bool = False
    scope: anyio.CancelScope | None = None


class Avatar:
    """One socket's avatar (see the module's rules). ``send`` sends a message on the socket;
    ``time_scale`` is read for each stretch of audio, so a test may change it mid-utterance."""

    def __init__(
        self,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        time_scale: Callable[[], float],
    ) -> None:
        self._send = send
        self._time_scale = time_scale
        self.state = "idle"
        self.listening = False
        self._queue: deque[Utterance] = deque()
        self._open: Utterance | None = None
        self._current: Utterance | None = None
        self._changed = anyio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    # ---- what the client sends ---------------------------------------------------------------------

    def add_audio(self, size: int, event_id: str | None) -> None:
        """Rule 1: ``size`` bytes of audio join the open utterance (or open one)."""
        if self._open is None:
            self._open = Utterance(event_id)
            self._queue.append(self._open)
        self._open.received += size
        self._notify()

    def end_audio(self) -> None:
        """Rule 2: ``agent.speak_end``."""
        if self._open is not None:
            self._open.closed = True
            self._open = None
            self._notify()

    async def interrupt(self) -> None:
        """Rule 4: ``agent.interrupt``."""
        self._queue.clear()
        self._open = None
        current, self._current = self._current, None
        if current is not None and current.scope is not None:
            current.scope.cancel()
            await self._send(_speech_event("agent.speak_interrupted", current))
            await self._settle()
        self._notify()

    async def start_listening(self) -> None:
        """Rule 5: the listening pose, now or once the speech ends."""
        self.listening = True
        if self._current is None and not self._queue:  # speech playing or queued ends first
            await self._become("listening")

    async def stop_listening(self) -> None:
        """Rule 5: leave the listening pose."""
        self.listening = False
        if self.state == "listening":
            await self._become("idle")

    # ---- playing -------------------------------------------------------------------------------------

    async def play(self) -> None:
        """Rule 3, until cancelled."""
        while True:
            while not self._queue:
                await self._changed.wait()
            utterance = self._current = self._queue.popleft()
            with anyio.CancelScope() as utterance.scope:
                await self._send(_speech_event("agent.speak_started", utterance))
                await self._become("talking")
                played = 0
                while True:
                    if utterance.received > played:
                        fresh = utterance.received - played
                        await anyio.sleep(fresh / _BYTES_PER_SECOND * self._time_scale())
                        played += fresh
                    elif utterance.closed:
                        break
                    else:
                        await self._changed.wait()
                self._current = None
                await self._send(_speech_event("agent.speak_ended", utterance))
                if not self._queue:
                    await self._settle()

    async def _settle(self) -> None:
        """After speech: listening if the pose was asked for, else idle."""
        await self._become("listening" if self.listening else "idle")

    async def _become(self, state: str) -> None:
        previous, self.state = self.state, state
        if previous != state:
            await self._send(
                {
                    "type": "agent.state_updated",
                    "state": state,
                    "previous_state": previous,
                    "new_state": state,
                }
            )


def _speech_event(kind: str, utterance: Utterance) -> dict[str, Any]:
    return {"type": kind, "event_id": utterance.event_id, "task": {"id": utterance.task_id}}
