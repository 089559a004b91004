"""``RealtimeSocket``: the socket half of a realtime connection, over aiohttp.

It opens the LITE WebSocket and waits for ``connected`` (rule 1 of ``aioavatar.liveavatar._realtime``), reads
every frame into events, reopens a dropped socket within the reconnect window (rule 6), sends frames and
closes. What is said on the socket (speech, control) is :class:`~aioavatar.liveavatar.RealtimeConnection`'s,
which builds on this class. What it knows of aiohttp's WebSocket (its errors, translated in one place, and
shutting a socket down) is ``aioavatar.liveavatar._realtime_wire``'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import anyio

from .._backend import SessionHooks
from .._logging import describe_error
from .._validation import check_int, check_seconds
from ..exceptions import APIError, RequestTimeout, TransportError
from ._realtime_events import EventBuffer, EventStream
from ._realtime_models import ClientMessage, RealtimeEvent, SessionStateUpdated, SocketState
from ._realtime_protocol import decode_event, encode_message
from ._realtime_wire import (
    CLOSED_TYPES,
    MAX_RECEIVE_SIZE,
    check_ws_url,
    map_ws_errors,
    shut_down,
    suppress_ws_errors,
)

__all__ = ["RealtimeSocket", "SocketClosed", "seconds"]

logger = logging.getLogger("aioavatar")

#: How long one frame may wait to be written before the socket counts as lost (rule 6).
_STALL_SECONDS = 5.0
#: How long a reopened socket must stay up to end its outage (or the reconnect window, if shorter):
#: one that drops sooner continues it, its deadline and backoff included.
_STABLE_SECONDS = 1.0
_RECONNECT_BACKOFF_FIRST = 0.05
_RECONNECT_BACKOFF_MAX = 1.0
_SERVER_CLOSING = (SocketState.CLOSING, SocketState.CLOSED)


class SocketClosed(Exception):
    """The connection closed while a task waited for the socket."""


def seconds(value: float, field: str) -> float:
    """Check a realtime duration: a finite number of seconds from 10 ms to 5 minutes."""
    return check_seconds(value, field, low=0.01, high=300.0)


class RealtimeSocket:
    """One realtime connection's socket, across reconnects: its state, its events, its reader.

    Subclasses hear of the socket through :meth:`_socket_up`, :meth:`_socket_down`, :meth:`_on_event` and
    :meth:`_finish`, and send with :meth:`_send_frame` under ``_send_lock``.
    """

    def __init__(
        self,
        http_session: aiohttp.ClientSession,
        ws_url: str,
        session: SessionHooks,
        *,
        connect_timeout: float = 10.0,
        reconnect_window: float | None = 5.0,
        close_timeout: float = 2.0,
        event_buffer: int = 1000,
    ) -> None:
        self._path = check_ws_url(ws_url)
        self.connect_timeout = seconds(connect_timeout, "connect_timeout")
        self.reconnect_window = (
            None if reconnect_window is None else seconds(reconnect_window, "reconnect_window")
        )
        self.close_timeout = seconds(close_timeout, "close_timeout")
        check_int(event_buffer, "event_buffer", low=1, high=1_000_000)
        self._http = http_session
        self._ws_url = ws_url
        # Told when the socket is lost for good; says when a close is expected.
        self._session = session
        self._entered = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._generation = 0  # counts the sockets that reached `connected`
        self._up = False  # a socket is connected and usable
        self._closing = False  # exit has begun
        self._closed = False  # over: nothing more is sent or received
        self._lost = False  # closed because the socket could not be kept
        self._server_closing = False  # the server said `closing` or `closed`
        # Drops a socket the server left in `connecting` or `closing` for too long (_drop_later).
        self._drop_timer: asyncio.TimerHandle | None = None
        self._events = EventBuffer(event_buffer, self._path)
        # An outage lasts until a socket has stayed up for _STABLE_SECONDS: its deadline and backoff
        # go on across sockets that drop sooner (a server that accepts and closes at once).
        self._up_at = 0.0
        self._retry_until = 0.0  # the outage's deadline (0: none yet)
        self._retry_delay = 0.0  # the wait before its next attempt
        self._changed: anyio.Event | None = None
        self._send_lock: anyio.Lock | None = None

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

    def events(self) -> AsyncIterator[RealtimeEvent]:
        """The server's events, in arrival order, each delivered once; the iteration ends when the
        connection closes.

        Known types arrive as typed events (:class:`SessionStateUpdated`, :class:`SpeakStarted`,
        :class:`SpeakEnded`, :class:`SpeakInterrupted`, :class:`AgentStateUpdated`, :class:`ErrorEvent`,
        :class:`WarningEvent`); any other message as a :class:`RawEvent`. Events are kept from the moment
        the socket opens; past ``event_buffer`` unread events, or about 2 MiB of memory held by them
        (reckoned from their frames' text), the oldest are dropped (with a warning).
        """
        return EventStream(self)

    # --- state and waiting ----------------------------------------------------------------------------

    def _enter(self) -> None:
        if self._entered:
            raise RuntimeError("a RealtimeConnection can be entered only once; create a new one")
        self._entered = True
        self._changed = anyio.Event()
        self._send_lock = anyio.Lock()

    def _check_usable(self) -> None:
        if self._lost:
            raise TransportError("the realtime socket was lost", method="GET", path=self._path)
        if not self._entered or self._closing:
            raise RuntimeError("the realtime connection is not open: use it inside `async with`")
        if self._closed or self._session._ending:
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

    async def _wait_up(self) -> None:
        while not self._up:
            if self._closed or self._closing:
                raise SocketClosed
            await self._wait_change()

    def _push_event(self, event: RealtimeEvent, frame: str) -> None:
        self._events.push(event, frame)
        self._notify()

    # --- hooks for the subclass -----------------------------------------------------------------------

    def _socket_up(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._cancel_drop()  # a drop due for the socket before is no more
        self._up_at = anyio.current_time()
        self._ws = ws
        self._generation += 1
        self._up = True
        self._notify()

    def _socket_down(self) -> None:
        self._up = False
        self._notify()

    def _on_event(self, event: RealtimeEvent, frame: str) -> None:
        if isinstance(event, SessionStateUpdated):
            self._server_state(event.state)
        self._push_event(event, frame)

    def _server_state(self, state: SocketState | None) -> None:
        """What the server says of the socket after ``connected``: only ``connected`` takes what is
        sent (rule 1); ``closing`` and ``closed`` end it (rule 6). A socket still open after
        ``closed``, or ``close_timeout`` after ``closing``, is shut down by us, and one still in
        ``connecting`` after ``connect_timeout`` is dropped (and reopened, rule 6): the reader sees
        it go, and nothing waits on a socket that says it takes nothing."""
        ws = self._ws
        if state in _SERVER_CLOSING:
            self._server_closing = True
            self._up = False
            if ws is not None and not ws.closed:
                self._drop_later(ws, 0.0 if state is SocketState.CLOSED else self.close_timeout)
        elif state is SocketState.CONNECTING:
            self._up = False  # back to connecting: what is sent now would be dropped
            if ws is not None and not ws.closed and not self._server_closing:
                self._drop_later(ws, self.connect_timeout)
        elif state is SocketState.CONNECTED and not self._server_closing and not self._closing:
            self._up = ws is not None and not ws.closed
            self._cancel_drop()

    def _drop_later(self, ws: aiohttp.ClientWebSocketResponse, after: float) -> None:
        """Shut ``ws`` down ``after`` seconds from now unless it is back up by then; a drop already
        due sooner stands (a server repeating ``connecting`` does not put it off)."""
        loop = asyncio.get_running_loop()
        if self._drop_timer is not None and self._drop_timer.when() <= loop.time() + after:
            return
        self._cancel_drop()
        if not after:
            shut_down(ws)
            return

        def drop() -> None:
            self._drop_timer = None
            if ws is self._ws and not self._up and not ws.closed:
                logger.warning(
                    "realtime %s: the server said neither `connected` nor closed the socket "
                    "within %g s; dropping it",
                    self._path,
                    after,
                )
                shut_down(ws)

        self._drop_timer = loop.call_later(after, drop)

    def _cancel_drop(self) -> None:
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None

    def _finish(self) -> None:
        """Over: every waiter returns and the event iteration stops."""
        self._cancel_drop()
        self._up = False
        self._closed = True
        self._notify()

    # --- opening (rule 1) -----------------------------------------------------------------------------

    async def _open_socket(self, timeout: float) -> aiohttp.ClientWebSocketResponse:
        """Connect and read until ``connected``; the events read meanwhile are kept."""
        ws: aiohttp.ClientWebSocketResponse | None = None
        try:
            with anyio.fail_after(timeout):
                with map_ws_errors(self._path):
                    ws = await self._http.ws_connect(
                        self._ws_url,
                        heartbeat=None,  # rule 2
                        autoping=True,
                        max_msg_size=MAX_RECEIVE_SIZE,
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
                self._push_event(event, message.data)
                if isinstance(event, SessionStateUpdated):
                    if event.state is SocketState.CONNECTED:
                        return
                    if event.state in _SERVER_CLOSING:
                        self._server_closing = True
                        raise TransportError(
                            f"the server is closing the socket ({event.state.value})",
                            method="GET",
                            path=self._path,
                        )
            elif message.type in CLOSED_TYPES:
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

    # --- sending and closing --------------------------------------------------------------------------

    async def _send_frame(self, message: ClientMessage) -> bool:
        """Send one message (the caller holds the send lock); ``False`` when the socket failed.

        A frame that cannot be written for ``_STALL_SECONDS`` (the server stopped reading: the
        socket's buffers are full) drops the socket, which the reader then reopens (rule 6): a
        caller waiting to send is never held for good by a socket nobody reads.
        """
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            with anyio.fail_after(_STALL_SECONDS):
                await ws.send_str(encode_message(message))
        except TimeoutError:
            if ws is self._ws:  # not replaced meanwhile (the reader may have reopened it already)
                logger.warning(
                    "realtime %s: a frame could not be written for %g s; dropping the socket",
                    self._path,
                    _STALL_SECONDS,
                )
                self._socket_down()  # nothing more goes to it
                shut_down(ws)  # the reader sees it go, and reopens it
            return False
        except (ConnectionError, aiohttp.ClientError) as exc:
            logger.debug("realtime %s: send failed: %s", self._path, type(exc).__name__)
            return False
        return True

    async def _close_frame(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            with suppress_ws_errors():
                await ws.close()

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
                if self._session._ending:  # the session is being stopped: the close is expected
                    break
                if self._server_closing or not await self._reconnect():
                    # Lost, unless the reconnect gave up because a stop began meanwhile (rule 8:
                    # the controls then say the session is ending, not that the socket was lost).
                    self._lost = not self._session._ending
                    break
        except Exception:
            logger.exception("realtime %s: the reader failed", self._path)
            self._lost = True
        self._finish()
        if self._lost and not self._session._ending:
            logger.warning("realtime %s: the socket is lost; the session ends", self._path)
            await self._session._connection_lost()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                self._on_event(decode_event(message.data), message.data)
            elif message.type in CLOSED_TYPES:
                logger.info("realtime %s: the socket closed (code %s)", self._path, ws.close_code)
                return

    async def _reconnect(self) -> bool:
        if self.reconnect_window is None:
            return False
        now = anyio.current_time()
        stable = min(self.reconnect_window, _STABLE_SECONDS)
        if not self._retry_until or now - self._up_at >= stable:  # it held: a new outage
            self._retry_until, self._retry_delay = now + self.reconnect_window, 0.0
        deadline = self._retry_until
        delay = self._retry_delay  # the same outage goes on: its backoff too, before any attempt
        while True:
            await anyio.sleep(max(0.0, min(delay, deadline - anyio.current_time())))
            delay = min(max(delay * 2, _RECONNECT_BACKOFF_FIRST), _RECONNECT_BACKOFF_MAX)
            self._retry_delay = delay
            remaining = deadline - anyio.current_time()
            if remaining <= 0 or self._session._ending:
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
