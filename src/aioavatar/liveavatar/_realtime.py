"""``RealtimeConnection``: the LITE-mode WebSocket at ``ws_url``, over aiohttp.

The I/O half of realtime control; the JSON lives in ``aioavatar.liveavatar._realtime_protocol``. This is the
WebSocket counterpart of ``aioavatar._transport``: aiohttp errors of the socket are translated here, in
:func:`_map_ws_errors`, and nowhere else.

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
    whether it ran out of audio, was interrupted, or the connection was closed early.
 5. ``interrupt()`` drops the queued utterances, ends the one being sent (rule 4), then sends
    ``agent.interrupt``; every utterance not yet ended ends as interrupted.
 6. A socket that closes while the connection is open, and not because the session is being stopped, is
    reopened within ``reconnect_window`` seconds (rule 1 for each attempt). Utterances that had audio on the
    lost socket end as interrupted; queued ones go out on the new socket. When the server said
    ``closing``/``closed``, refused the reconnect with a 4xx, or the window ran out, the connection is lost:
    the session is told (it ends as if the server ended it) and the connection closes.
 7. Exiting ``async with`` is a normal close: rule 4, then a close frame, bounded by ``close_timeout`` and
    shielded from cancellation. Queued utterances are dropped; every waiter returns.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Self
from urllib.parse import urlsplit

import aiohttp
import anyio

from .._audio import check_pcm, pcm_duration
from .._logging import describe_error
from .._protocol import RawResponse, error_for_status
from .._validation import check_int, check_seconds
from ..exceptions import APIError, ConfigurationError, RequestTimeout, TransportError
from ._realtime_models import (
    ClientMessage,
    Interrupt,
    KeepAlive,
    RealtimeEvent,
    SessionStateUpdated,
    SocketState,
    SpeakAudio,
    SpeakEnd,
    SpeakEnded,
    SpeakInterrupted,
    SpeakStarted,
    StartListening,
    StopListening,
)
from ._realtime_protocol import decode_event, encode_message, new_event_id, split_audio

__all__ = ["RealtimeConnection", "Utterance"]

logger = logging.getLogger("aioavatar")

# Server frames are small JSON events; refuse anything absurd rather than buffer it.
_MAX_RECEIVE_SIZE = 4 * 1024 * 1024
_RECONNECT_BACKOFF_FIRST = 0.05
_RECONNECT_BACKOFF_MAX = 1.0
_CLOSED_TYPES = frozenset(
    {
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSING,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    }
)


class _Closed(Exception):
    """The connection closed while a task waited for the socket."""


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


class _EventStream:
    """The iterator of :meth:`RealtimeConnection.events`."""

    def __init__(self, connection: RealtimeConnection) -> None:
        self._connection = connection

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> RealtimeEvent:
        conn = self._connection
        while not conn._events:
            if conn._closed:
                raise StopAsyncIteration
            if conn._changed is None:
                raise RuntimeError(
                    "enter the realtime connection (`async with`) before reading events"
                )
            await conn._wait_change()
        return conn._events.popleft()


@contextmanager
def _map_ws_errors(path: str) -> Iterator[None]:
    """Translate aiohttp errors of the WebSocket handshake into the public tree.

    Messages are built from plain fields: aiohttp errors can hold the request, and the URL may hold a
    credential, so only the path is named.
    """
    try:
        yield
    except aiohttp.WSServerHandshakeError as exc:
        raw = RawResponse(method="GET", path=path, status=exc.status, body=b"")
        raise error_for_status(raw) from None
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        raise TransportError(
            f"cannot connect to {exc.host}:{exc.port}: {reason}", method="GET", path=path
        ) from None
    except (aiohttp.ClientError, ConnectionError) as exc:
        raise TransportError(type(exc).__name__, method="GET", path=path) from None


def _seconds(value: float, field: str) -> float:
    # Every realtime duration is a finite number of seconds from 10 ms to 5 minutes.
    return check_seconds(value, field, low=0.01, high=300.0)


class RealtimeConnection(anyio.AsyncContextManagerMixin):
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
        *,
        on_lost: Callable[[], Awaitable[None]],
        expect_close: Callable[[], bool],
        connect_timeout: float = 10.0,
        reconnect_window: float | None = 5.0,
        max_ahead: float = 2.0,
        close_timeout: float = 2.0,
        event_buffer: int = 1000,
    ) -> None:
        if not isinstance(ws_url, str):
            raise ConfigurationError("must be a ws:// or wss:// URL", field="ws_url")
        try:
            parts = urlsplit(ws_url)
            parts.port  # noqa: B018 - raises for a bad port
        except ValueError:
            raise ConfigurationError(
                f"is not a valid URL: {ws_url[:100]!r}", field="ws_url"
            ) from None
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ConfigurationError(
                f"must be a ws:// or wss:// URL, got scheme {parts.scheme!r}", field="ws_url"
            )
        self.connect_timeout = _seconds(connect_timeout, "connect_timeout")
        self.reconnect_window = (
            None if reconnect_window is None else _seconds(reconnect_window, "reconnect_window")
        )
        self.max_ahead = _seconds(max_ahead, "max_ahead")
        self.close_timeout = _seconds(close_timeout, "close_timeout")
        check_int(event_buffer, "event_buffer", low=1, high=1_000_000)
        self._http = http_session
        self._ws_url = ws_url
        self._path = parts.path or "/"
        self._on_lost = on_lost
        self._expect_close = expect_close
        self._entered = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._generation = 0  # counts the sockets that reached `connected`
        self._up = False  # a socket is connected and usable
        self._closing = False  # exit has begun
        self._closed = False  # over: nothing more is sent or received
        self._lost = False  # closed because the socket could not be kept
        self._server_closing = False  # the server said `closing` or `closed`
        self._queue: deque[Utterance] = deque()
        self._current: Utterance | None = None
        self._in_flight: dict[str, Utterance] = {}  # had audio sent, not ended yet
        self._events: deque[RealtimeEvent] = deque(maxlen=event_buffer)
        self._events_dropped = 0
        self._changed: anyio.Event | None = None
        self._send_lock: anyio.Lock | None = None
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

    # --- public accessors -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a socket is open and the server said ``connected`` on it."""
        return self._up

    @property
    def closed(self) -> bool:
        """Whether the connection is over (exited, or lost for good)."""
        return self._closed

    @property
    def is_open(self) -> bool:
        """Whether it has been entered and is not closed yet (it may be reconnecting)."""
        return self._entered and not self._closed

    @property
    def queued(self) -> int:
        """Utterances waiting for the sender (the one being sent not included)."""
        return len(self._queue)

    # --- speech and control ---------------------------------------------------------------------------

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
        self._check_usable()
        utterance = Utterance(new_event_id(), split_audio(data), pcm_duration(data))
        self._queue.append(utterance)
        self._notify()
        await anyio.lowlevel.checkpoint()
        return utterance

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
            utterance._end(interrupted=True)
        self._queue.clear()
        current = self._current
        if current is not None:
            current._cut = True  # the sender sends no more of it
        self._notify()
        event_id = new_event_id()
        await self._send_control(lambda: Interrupt(event_id), end_first=True)
        for utterance in [*self._in_flight.values(), *([current] if current else [])]:
            utterance._end(interrupted=True)
        self._in_flight.clear()
        self._play_end = anyio.current_time()  # the server dropped what was scheduled
        return event_id

    async def start_listening(self) -> str:
        """Put the avatar in its listening pose (``agent.start_listening``).

        Returns:
            The message's ``event_id``.

        Raises:
            RuntimeError: the connection is not open. TransportError: it was lost.
        """
        self._check_usable()
        event_id = new_event_id()
        await self._send_control(lambda: StartListening(event_id))
        return event_id

    async def stop_listening(self) -> str:
        """Leave the listening pose (``agent.stop_listening``).

        Returns:
            The message's ``event_id``.

        Raises:
            RuntimeError: the connection is not open. TransportError: it was lost.
        """
        self._check_usable()
        event_id = new_event_id()
        await self._send_control(lambda: StopListening(event_id))
        return event_id

    def events(self) -> AsyncIterator[RealtimeEvent]:
        """The server's events, in arrival order, each delivered once; the iteration ends when the
        connection closes.

        Known types arrive as typed events (:class:`SessionStateUpdated`, :class:`SpeakStarted`,
        :class:`SpeakEnded`, :class:`SpeakInterrupted`, :class:`AgentStateUpdated`, :class:`ErrorEvent`,
        :class:`WarningEvent`); any other message as a :class:`RawEvent`. Events are kept from the moment
        the socket opens; past 1000 unread events the oldest are dropped (with a warning).
        """
        return _EventStream(self)

    async def send_keep_alive(self, *, timeout: float) -> bool:
        """Send ``session.keep_alive`` if the socket is up; ``False`` when it could not be sent in time
        (the caller then uses the REST keep-alive)."""
        if not self._up or self._closing or self._send_lock is None:
            return False
        with anyio.move_on_after(timeout):
            async with self._send_lock:
                return self._up and await self._send_frame(KeepAlive(new_event_id()))
        return False

    # --- the context ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncIterator[Self]:
        if self._entered:
            raise RuntimeError("a RealtimeConnection can be entered only once; create a new one")
        self._entered = True
        self._changed = anyio.Event()
        self._send_lock = anyio.Lock()
        body_error: BaseException | None = None
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
        finally:
            self._closing = True
            # Rule 7: shielded, so that a cancelled block still ends its utterance and says goodbye.
            with anyio.CancelScope(shield=True), anyio.move_on_after(self.close_timeout):
                await self._close_socket()
            self._finish()
        if body_error is not None:
            raise body_error

    # --- internals --------------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._lost:
            raise TransportError("the realtime socket was lost", method="GET", path=self._path)
        if not self._entered or self._closing:
            raise RuntimeError("the realtime connection is not open: use it inside `async with`")
        if self._closed:
            raise RuntimeError("the realtime connection closed: the session is ending")

    def _notify(self) -> None:
        """Wake every task waiting for a change (queue, socket state, events, interrupt)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = anyio.Event()

    async def _wait_change(self, timeout: float | None = None) -> None:
        changed = self._changed
        assert changed is not None
        with anyio.move_on_after(timeout):
            await changed.wait()

    def _push_event(self, event: RealtimeEvent) -> None:
        if len(self._events) == self._events.maxlen:
            self._events_dropped += 1
            if self._events_dropped in (1, 10, 100) or self._events_dropped % 1000 == 0:
                logger.warning(
                    "realtime %s: %d unread events dropped (iterate rt.events())",
                    self._path,
                    self._events_dropped,
                )
        self._events.append(event)
        self._notify()

    async def _open_socket(self, timeout: float) -> aiohttp.ClientWebSocketResponse:
        """Connect and read until ``connected`` (rule 1); the events read meanwhile are kept."""
        ws: aiohttp.ClientWebSocketResponse | None = None
        try:
            with anyio.fail_after(timeout):
                with _map_ws_errors(self._path):
                    ws = await self._http.ws_connect(
                        self._ws_url,
                        heartbeat=None,  # rule 2
                        autoping=True,
                        max_msg_size=_MAX_RECEIVE_SIZE,
                    )
                await self._until_connected(ws)
        except TimeoutError:
            await self._discard(ws)
            raise RequestTimeout(
                f"the server did not report `connected` within {timeout:g} s",
                method="GET",
                path=self._path,
            ) from None
        except BaseException:
            await self._discard(ws)
            raise
        return ws

    async def _until_connected(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                event = decode_event(message.data)
                self._push_event(event)
                if isinstance(event, SessionStateUpdated):
                    if event.state is SocketState.CONNECTED:
                        return
                    if event.state in (SocketState.CLOSING, SocketState.CLOSED):
                        self._server_closing = True
                        raise TransportError(
                            f"the server is closing the socket ({event.state.value})",
                            method="GET",
                            path=self._path,
                        )
            elif message.type in _CLOSED_TYPES:
                code = ws.close_code
                raise TransportError(
                    "the server closed the socket before it was connected"
                    + (f" (code {code})" if code is not None else ""),
                    method="GET",
                    path=self._path,
                )

    @staticmethod
    async def _discard(ws: aiohttp.ClientWebSocketResponse | None) -> None:
        if ws is not None and not ws.closed:
            with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                await ws.close()

    def _socket_up(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._generation += 1
        self._up = True
        self._play_end = anyio.current_time()
        self._notify()

    def _socket_down(self) -> None:
        """The socket is gone: what had audio on it is cut (rule 6)."""
        self._up = False
        for utterance in self._in_flight.values():
            utterance._end(interrupted=True)
        self._in_flight.clear()
        self._notify()

    def _finish(self) -> None:
        """Over: every waiter returns, every utterance ends, the event iteration stops."""
        self._up = False
        self._closed = True
        for utterance in [*self._queue, *self._in_flight.values()]:
            utterance._end(interrupted=True)
        if self._current is not None:
            self._current._end(interrupted=True)
        self._queue.clear()
        self._in_flight.clear()
        self._notify()

    async def _close_socket(self) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            return
        lock = self._send_lock
        assert lock is not None
        async with lock:
            if self._up:
                await self._send_owed_ends()  # rule 4
            self._up = False
        with _suppress_ws_errors():
            await ws.close()

    async def _send_frame(self, message: ClientMessage) -> bool:
        """Send one message (the caller holds the send lock); ``False`` when the socket failed."""
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_str(encode_message(message))
        except (ConnectionError, aiohttp.ClientError) as exc:
            logger.debug("realtime %s: send failed: %s", self._path, type(exc).__name__)
            return False
        return True

    def _owes_end(self, utterance: Utterance) -> bool:
        """Rule 4: it had audio on the open socket and no ``agent.speak_end`` yet."""
        return (
            utterance._chunks_sent > 0
            and not utterance._end_sent
            and self._up
            and utterance._socket == self._generation
        )

    async def _wait_up(self) -> None:
        while not self._up:
            if self._closed or self._closing:
                raise _Closed
            await self._wait_change()

    async def _send_owed_ends(self) -> bool:
        """Rule 4 for every utterance that owes its ``agent.speak_end`` (the caller holds the lock)."""
        for utterance in list(self._in_flight.values()):
            if self._owes_end(utterance):
                utterance._end_sent = True
                if not await self._send_frame(SpeakEnd(utterance.event_id)):
                    return False
        return True

    async def _send_control(
        self, build: Callable[[], ClientMessage], *, end_first: bool = False
    ) -> None:
        """Send a control message once a socket is up; resent on the next socket if the send failed."""
        lock = self._send_lock
        assert lock is not None
        while True:
            try:
                await self._wait_up()
            except _Closed:
                self._check_usable()
                raise RuntimeError("the realtime connection closed") from None
            async with lock:
                if not self._up:
                    continue
                if end_first and not await self._send_owed_ends():
                    continue
                if await self._send_frame(build()):
                    return

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
        except _Closed:
            return

    async def _send_utterance(self, utterance: Utterance) -> None:
        lock = self._send_lock
        assert lock is not None
        for chunk in utterance._chunks:
            if not await self._send_chunk(utterance, chunk):
                break
        async with lock:
            if self._owes_end(utterance):  # rule 4
                utterance._end_sent = True
                await self._send_frame(SpeakEnd(utterance.event_id))

    async def _send_chunk(self, utterance: Utterance, chunk: bytes) -> bool:
        """Send one chunk when pacing allows; ``False`` when the utterance was cut."""
        lock = self._send_lock
        assert lock is not None
        seconds = pcm_duration(chunk)
        while True:
            if utterance._cut:
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
                if utterance._cut or not self._up:
                    continue
                if utterance._chunks_sent and utterance._socket != self._generation:
                    return False  # its first chunks went to a socket that is gone
                if not await self._send_frame(SpeakAudio(chunk, utterance.event_id)):
                    continue  # the reader will see the socket go
                if utterance._chunks_sent == 0:
                    utterance._socket = self._generation
                    self._in_flight[utterance.event_id] = utterance
                utterance._chunks_sent += 1
                self._play_end = max(self._play_end, anyio.current_time()) + seconds
                return True

    # --- the reader (rule 6) --------------------------------------------------------------------------

    async def _reader(self) -> None:
        try:
            while True:
                ws = self._ws
                assert ws is not None
                await self._read(ws)
                if self._closing:
                    return
                self._socket_down()
                if self._expect_close():  # the session is being stopped: the close is expected
                    break
                if self._server_closing or not await self._reconnect():
                    self._lost = True
                    break
        except Exception:
            logger.exception("realtime %s: the reader failed", self._path)
            self._lost = True
        self._finish()
        if self._lost and not self._expect_close():
            logger.warning("realtime %s: the socket is lost; the session ends", self._path)
            await self._on_lost()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                self._on_event(decode_event(message.data))
            elif message.type in _CLOSED_TYPES:
                logger.info("realtime %s: the socket closed (code %s)", self._path, ws.close_code)
                return

    def _on_event(self, event: RealtimeEvent) -> None:
        if isinstance(event, SpeakStarted):
            utterance = self._in_flight.get(event.event_id or "")
            if utterance is not None:
                utterance._start()
        elif isinstance(event, SpeakEnded):
            utterance = self._in_flight.pop(event.event_id or "", None)
            if utterance is not None:
                utterance._start()
                utterance._end(interrupted=False)
        elif isinstance(event, SpeakInterrupted):
            if event.event_id is not None:
                ended = [self._in_flight.pop(event.event_id, None)]
            else:  # the server did not say which: all it had is gone
                ended = list(self._in_flight.values())
                self._in_flight.clear()
            for utterance in ended:
                if utterance is not None:
                    utterance._end(interrupted=True)
        elif isinstance(event, SessionStateUpdated) and event.state in (
            SocketState.CLOSING,
            SocketState.CLOSED,
        ):
            self._server_closing = True
        self._push_event(event)

    async def _reconnect(self) -> bool:
        if self.reconnect_window is None:
            return False
        deadline = anyio.current_time() + self.reconnect_window
        delay = _RECONNECT_BACKOFF_FIRST
        while True:
            remaining = deadline - anyio.current_time()
            if remaining <= 0 or self._expect_close():
                return False
            try:
                ws = await self._open_socket(min(self.connect_timeout, remaining))
            except APIError as exc:
                if 400 <= exc.status < 500 and exc.status not in (408, 429):
                    logger.warning(
                        "realtime %s: reconnect refused: %s", self._path, describe_error(exc)
                    )
                    return False
                logger.info("realtime %s: reconnect failed: %s", self._path, describe_error(exc))
            except TransportError as exc:
                if self._server_closing:
                    return False
                logger.info("realtime %s: reconnect failed: %s", self._path, describe_error(exc))
            else:
                logger.info("realtime %s: reconnected", self._path)
                self._socket_up(ws)
                return True
            await anyio.sleep(max(0.0, min(delay, deadline - anyio.current_time())))
            delay = min(delay * 2, _RECONNECT_BACKOFF_MAX)


@contextmanager
def _suppress_ws_errors() -> Iterator[None]:
    try:
        yield
    except (ConnectionError, aiohttp.ClientError) as exc:
        logger.debug("realtime: close failed: %s", type(exc).__name__)
