"""``RealtimeConnection``: the LITE-mode WebSocket at ``ws_url``, over aiohttp.

What is said on the socket: speech, control, and how utterances end. The socket itself (opening, reading,
reconnecting, aiohttp's errors) is :class:`~aioavatar.liveavatar._realtime_socket.RealtimeSocket`'s, the JSON
``aioavatar.liveavatar._realtime_protocol``'s.

Rules:

 1. Nothing is sent before the server says ``session.state_updated`` ``connected`` (the server drops what
    comes earlier). A socket that does not get there within ``connect_timeout`` is closed and
    :class:`RequestTimeout` is raised. No credential is sent: the URL is the one the start answer gave.
 2. WebSocket ping/pong is off (``heartbeat=None``): some media servers stall pongs and the socket would be
    dropped with 1011. Pings from the server are still answered.
 3. One sender task drains the utterance queue in order: ``agent.speak`` chunks of about one second (the
    first about half a second), all with the utterance's ``event_id``, then ``agent.speak_end``. It keeps
    at most ``max_ahead`` seconds of audio ahead of real time.
 4. ``agent.speak_end`` follows every utterance that had a chunk sent on the socket that is still open,
    whether it ran out of audio, was interrupted, or the connection was closed early. An utterance the
    server says ended (``agent.speak_ended``) before all its audio was sent is not sent further: it ends
    as interrupted, with a warning.
 5. ``interrupt()`` drops the queued utterances, ends the one being sent (rule 4), then sends
    ``agent.interrupt``; every utterance not yet ended ends as interrupted.
 6. A socket that closes while the connection is open, and not because the session is being stopped, is
    reopened within ``reconnect_window`` seconds (rule 1 for each attempt, with a backoff from 50 ms to
    1 s; a socket that drops within a second of reopening continues the same outage, its window and
    backoff included, so a server that accepts and drops every socket ends it). A frame that cannot
    be written for 5 s drops its socket. Utterances that had audio on the lost socket end as
    interrupted; queued ones go out on the new socket. When the server said
    ``closing``/``closed``, refused the reconnect with a 4xx, or the window ran out, the connection is lost:
    the session is told (it ends as if the server ended it) and the connection closes.
 7. Exiting ``async with`` is a normal close: rule 4, then a close frame, bounded by ``close_timeout`` and
    shielded from cancellation. Queued utterances are dropped; every waiter returns.
 8. Once the session is being stopped or has ended, nothing more is spoken: every utterance not over ends
    as interrupted (rule 4 still holds), and ``speak()`` and the controls raise ``RuntimeError``. The
    server going back to ``connecting`` holds the sender until it says ``connected`` again, for at most
    ``connect_timeout``: a socket still there is dropped and reopened (rule 6). A socket the server
    keeps open after ``closed``, or ``close_timeout`` after ``closing``, is shut by us (rule 6).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Self, TypedDict, Unpack

import aiohttp
import anyio

from .._audio import check_pcm, pcm_duration
from .._backend import SessionHooks
from .._cancellation import close_despite_cancellation, deliver_later
from .._timeout import MAX_TIMEOUT, MIN_TIMEOUT
from .._validation import check_options, check_seconds
from ._realtime_models import (
    ClientMessage,
    Interrupt,
    KeepAlive,
    RealtimeEvent,
    SpeakAudio,
    SpeakEnd,
    SpeakEnded,
    SpeakInterrupted,
    SpeakStarted,
    StartListening,
    StopListening,
)
from ._realtime_protocol import new_event_id, split_audio
from ._realtime_socket import RealtimeSocket, SocketClosed, seconds
from ._utterance import Speech, Utterance

__all__ = ["RealtimeConnection", "RealtimeOptions", "Utterance"]

logger = logging.getLogger("aioavatar")


class RealtimeOptions(TypedDict, total=False):
    """The options of a realtime connection (:meth:`AvatarSession.realtime`).

    Attributes:
        connect_timeout: seconds to wait for ``connected``, on enter and on each reconnect (10).
        reconnect_window: seconds to reopen a dropped socket; ``None`` never reconnects (5).
        max_ahead: at most this many seconds of audio are sent ahead of real time (2).
        close_timeout: seconds the exit may take to end a half-sent utterance and close the socket (2).
        event_buffer: unread events kept for ``events()``; past it, or past about 2 MiB of memory
            held by them, the oldest are dropped (1000).
    """

    connect_timeout: float
    reconnect_window: float | None
    max_ahead: float
    close_timeout: float
    event_buffer: int


class RealtimeConnection(RealtimeSocket, anyio.AsyncContextManagerMixin):
    """Realtime control of a LITE session over its WebSocket: speak, interrupt, listen, and its events.

    Get one from :meth:`AvatarSession.realtime() <aioavatar.AvatarSession.realtime>` and enter it inside the
    session's block::

        async with session.realtime() as rt:
            utterance = await rt.speak(pcm)  # PCM 16-bit little-endian mono 24 kHz
            await utterance.wait_ended()

    Enter connects and waits for the server's ``connected`` (nothing is sent before). While it is open the
    session's keep-alive also goes over the socket. A socket that drops is reopened within
    ``reconnect_window``; when that fails the session ends as if the server ended it (its ``async with``
    raises :class:`~aioavatar.SessionEndedError`). Exit sends ``agent.speak_end`` for a half-sent utterance,
    drops the queued ones and closes the socket; it does not wait for queued audio to be spoken (await
    :meth:`Utterance.wait_ended` for that).

    Raises:
        RequestTimeout: on enter, the server did not say ``connected`` within ``connect_timeout``.
        TransportError: on enter, the socket could not be opened or closed before ``connected``.
        APIError: on enter, the server refused the WebSocket handshake (``NotFoundError`` for an ended
            session, ...).
        RuntimeError: entered twice.
    """

    def __init__(
        self,
        http_session: aiohttp.ClientSession,
        ws_url: str,
        session: SessionHooks,
        **options: Unpack[RealtimeOptions],
    ) -> None:
        check_options(options, RealtimeOptions)
        socket_options: dict[str, Any] = dict(options)
        max_ahead = socket_options.pop("max_ahead", 2.0)
        super().__init__(http_session, ws_url, session, **socket_options)
        self.max_ahead = seconds(max_ahead, "max_ahead")
        self._queue: deque[Speech] = deque()
        self._current: Speech | None = None
        self._in_flight: dict[str, Speech] = {}  # had audio sent, not ended yet
        self._play_end = 0.0  # when the audio sent so far has played, at real-time speed

    def __repr__(self) -> str:
        state = (
            "closed"
            if self._closed
            else "connected"
            if self._up
            else "reconnecting"
            if self._entered
            else "new"
        )
        return f"<RealtimeConnection {self._path} {state} queued={len(self._queue)}>"

    # --- public accessors, speech and control ---------------------------------------------------------

    @property
    def queued(self) -> int:
        """Utterances waiting for the sender (the one being sent not included)."""
        return len(self._queue)

    async def speak(self, pcm: bytes | bytearray | memoryview) -> Utterance:
        """Queue audio to speak and return at once; utterances are spoken in the order queued.

        Args:
            pcm: PCM 16-bit little-endian mono 24 kHz (see :func:`aioavatar.read_wav` for a WAV file).

        Returns:
            The :class:`Utterance`: wait for it with ``wait_started()`` / ``wait_ended()``.

        Raises:
            ConfigurationError: the audio is empty, has an odd number of bytes, or is a WAV file.
            RuntimeError: the connection is not open.
            TransportError: the connection was lost.
        """
        data = check_pcm(pcm)
        # Cancelled here, nothing is queued: no audio goes out for a call that raised.
        await anyio.lowlevel.checkpoint()
        self._check_usable()
        speech = Speech(new_event_id(), split_audio(data), pcm_duration(data))
        self._queue.append(speech)
        self._notify()
        return speech.utterance

    async def interrupt(self) -> str:
        """Stop speaking now: drop the queued utterances and tell the server (``agent.interrupt``).

        The utterance being sent gets its ``agent.speak_end`` first; every utterance not yet ended ends as
        interrupted. While the socket is being reopened, this waits for it.

        Returns:
            The ``event_id`` of the ``agent.interrupt`` message.

        Raises:
            RuntimeError: the connection is not open. TransportError: it was lost.
        """
        self._check_usable()
        for utterance in self._queue:
            utterance.end(interrupted=True)
        self._queue.clear()
        current = self._current
        if current is not None:
            current.cut = True  # the sender sends no more of it
        self._notify()
        event_id = await self._send_control(Interrupt, end_first=True)
        for utterance in [*self._in_flight.values(), *([current] if current else [])]:
            utterance.end(interrupted=True)
        self._in_flight.clear()
        self._play_end = anyio.current_time()  # the server dropped what was scheduled
        return event_id

    async def start_listening(self) -> str:
        """Put the avatar in its listening pose (``agent.start_listening``); returns the message's
        ``event_id`` and raises as :meth:`interrupt` does."""
        return await self._send_control(StartListening)

    async def stop_listening(self) -> str:
        """Leave the listening pose (``agent.stop_listening``); as :meth:`start_listening`."""
        return await self._send_control(StopListening)

    async def send_keep_alive(self, *, timeout: float) -> bool:
        """Send ``session.keep_alive`` if the socket is up; ``False`` when it could not be sent in time
        (the caller then uses the REST keep-alive).

        Raises:
            ConfigurationError: a ``timeout`` that is not a number of seconds from 0.001 to 3600.
        """
        timeout = check_seconds(timeout, "timeout", low=MIN_TIMEOUT, high=MAX_TIMEOUT)
        if not self._up or self._closing or self._send_lock is None:
            return False
        with anyio.move_on_after(timeout):
            async with self._send_lock:
                return self._up and await self._send_frame(KeepAlive(new_event_id()))
        return False

    # --- the context ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncIterator[Self]:
        self._enter()
        body_error: BaseException | None = None
        failing = True  # an open that fails leaves through the finally below
        try:
            self._socket_up(await self._open_socket(self.connect_timeout))  # rule 1
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._reader)
                    tg.start_soon(self._sender)
                    try:
                        yield self
                    except BaseException as exc:  # noqa: BLE001 - re-raised below, outside the group
                        body_error = exc
                    self._closing = True
                    tg.cancel_scope.cancel()
            except BaseException as exc:
                if body_error is None:
                    body_error = exc
                elif not isinstance(exc, anyio.get_cancelled_exc_class()):
                    logger.exception("realtime %s: a background task failed", self._path)
            failing = body_error is not None
        finally:
            self._closing = True
            # Rule 7, whatever cancels the exit (task.cancel() too, which no anyio shield holds off):
            # the cancellation raised after it, or at the next wait if an exception leaves.
            late = await close_despite_cancellation(self._close_socket())
            self._finish()
            if failing:
                deliver_later(late)
        if body_error is not None:
            raise body_error
        if late is not None:
            raise late

    # --- the socket's hooks ---------------------------------------------------------------------------

    def _socket_up(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._play_end = anyio.current_time()
        super()._socket_up(ws)

    def _socket_down(self) -> None:
        """The socket is gone: what had audio on it is cut (rule 6)."""
        for utterance in self._in_flight.values():
            utterance.end(interrupted=True)
        self._in_flight.clear()
        super()._socket_down()

    def _session_ending(self) -> None:
        """The session is being stopped or has ended: nothing more is spoken. Every utterance not yet
        over ends as interrupted (one with audio sent still gets its ``agent.speak_end``, rule 4),
        and ``speak()`` and the controls refuse."""
        self._end_utterances()
        self._notify()

    def _finish(self) -> None:
        """Over: every utterance ends, every waiter returns, the event iteration stops."""
        self._end_utterances()
        self._in_flight.clear()
        super()._finish()

    def _end_utterances(self) -> None:
        """Every utterance not over ends as interrupted; the queue is dropped."""
        for utterance in [*self._queue, *self._in_flight.values()]:
            utterance.end(interrupted=True)
        if self._current is not None:
            self._current.end(interrupted=True)
        self._queue.clear()

    def _on_event(self, event: RealtimeEvent, frame: str) -> None:
        if isinstance(event, SpeakStarted):
            utterance = self._in_flight.get(event.event_id or "")
            if utterance is not None:
                utterance.start()
        elif isinstance(event, SpeakEnded):
            utterance = self._in_flight.pop(event.event_id or "", None)
            if utterance is not None:
                utterance.start()
                # Before all its audio went out, the rest is not spoken: cut short (rule 4).
                early = not utterance.end_sent and utterance.chunks_sent < utterance.chunk_count
                if early:
                    logger.warning(
                        "realtime %s: the server ended utterance %s after %d of its %d chunks; "
                        "the rest is not sent",
                        self._path,
                        utterance.event_id,
                        utterance.chunks_sent,
                        utterance.chunk_count,
                    )
                utterance.end(interrupted=early)
        elif isinstance(event, SpeakInterrupted):
            if event.event_id is not None:
                ended = [self._in_flight.pop(event.event_id, None)]
            else:  # the server did not say which: all it had is gone
                ended = list(self._in_flight.values())
                self._in_flight.clear()
            for utterance in ended:
                if utterance is not None:
                    utterance.end(interrupted=True)
        super()._on_event(event, frame)

    async def _close_socket(self) -> None:
        lock = self._send_lock
        assert lock is not None
        with anyio.move_on_after(self.close_timeout):  # rule 7
            async with lock:
                if self._up:
                    await self._send_owed_ends()  # rule 4
                self._up = False
            await self._close_frame()

    def _owes_end(self, utterance: Speech) -> bool:
        """Rule 4: it had audio on the open socket and no ``agent.speak_end`` yet."""
        return (
            utterance.chunks_sent > 0
            and not utterance.end_sent
            and self._up
            and utterance.socket == self._generation
        )

    async def _send_owed_ends(self) -> bool:
        """Rule 4 for every utterance that owes its ``agent.speak_end`` (the caller holds the lock)."""
        for utterance in list(self._in_flight.values()):
            if self._owes_end(utterance):
                utterance.end_sent = True
                if not await self._send_frame(SpeakEnd(utterance.event_id)):
                    return False
        return True

    async def _send_control(
        self, build: Callable[[str], ClientMessage], *, end_first: bool = False
    ) -> str:
        """Send a control message (``build`` of a new ``event_id``) once a socket is up; resent on the next
        socket if the send failed.

        Returns:
            The message's ``event_id``.
        """
        self._check_usable()
        event_id = new_event_id()
        lock = self._send_lock
        assert lock is not None
        while True:
            try:
                await self._wait_up()
            except SocketClosed:
                self._check_usable()
                raise RuntimeError("the realtime connection closed") from None
            async with lock:
                if not self._up:
                    continue
                if end_first and not await self._send_owed_ends():
                    continue
                if await self._send_frame(build(event_id)):
                    return event_id

    # --- the sender (rule 3) -------------------------------------------------------------------------

    async def _sender(self) -> None:
        try:
            while True:
                while not self._queue:
                    if self._closing or self._closed:
                        return
                    await self._wait_change()
                utterance = self._queue.popleft()
                self._current = utterance  # left set if cancelled: _finish() ends it
                await self._send_utterance(utterance)
                self._current = None
        except SocketClosed:
            return

    async def _send_utterance(self, utterance: Speech) -> None:
        lock = self._send_lock
        assert lock is not None
        for chunk in utterance.chunks:
            if not await self._send_chunk(utterance, chunk):
                break
        # Sent or cut: the audio is not needed again (an utterance waits for the server's end
        # without it).
        utterance.chunks = []
        async with lock:
            if self._owes_end(utterance):  # rule 4
                utterance.end_sent = True
                await self._send_frame(SpeakEnd(utterance.event_id))

    async def _send_chunk(self, utterance: Speech, chunk: bytes) -> bool:
        """Send one chunk when pacing allows; ``False`` when the utterance was cut."""
        lock = self._send_lock
        assert lock is not None
        seconds = pcm_duration(chunk)
        while True:
            if utterance.cut:
                return False
            await self._wait_up()
            # Keep at most max_ahead seconds ahead of real time; a chunk longer than that waits for the
            # earlier audio to have played, no longer.
            wake = min(self._play_end, self._play_end - self.max_ahead + seconds)
            now = anyio.current_time()
            if wake > now:
                await self._wait_change(wake - now)
                continue  # re-check: interrupted, socket lost, or just time to go
            async with lock:
                if utterance.cut or not self._up:
                    continue
                if utterance.chunks_sent and utterance.socket != self._generation:
                    return False  # its first chunks went to a socket that is gone
                if not await self._send_frame(SpeakAudio(chunk, utterance.event_id)):
                    continue  # the reader will see the socket go
                if utterance.chunks_sent == 0:
                    utterance.socket = self._generation
                    self._in_flight[utterance.event_id] = utterance
                utterance.chunks_sent += 1
                self._play_end = max(self._play_end, anyio.current_time()) + seconds
                return True
