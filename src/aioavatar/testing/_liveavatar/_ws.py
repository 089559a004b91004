"""The LITE-mode WebSocket of :class:`~aioavatar.testing.LiveAvatarEmulator`, at the ``ws_url`` it hands
out.

Reached as ``emulator.ws`` (a :class:`LiteSocketEmulator`). Like the REST emulator it checks messages on
its own (hand-written, no SDK models), records what it received, and has controls for tests:

* On connect it sends ``session.state_updated`` ``connecting``, then ``connected`` after
  :attr:`~LiteSocketEmulator.connect_delay` seconds (``math.inf``: never). Messages that arrive before
  ``connected`` are dropped, as the real server does, and journaled with ``dropped=True``.
* ``agent.speak`` audio plays from the avatar's queue as the real avatar plays it, with
  ``agent.speak_started`` / ``agent.speak_ended`` per utterance and ``agent.state_updated`` as the agent
  goes ``talking`` / ``listening`` / ``idle``: see :mod:`._speech` for the rules (an utterance runs from
  its first chunk to ``agent.speak_end``, whatever the chunks' ``event_id``; playing takes the audio's
  duration times :attr:`~LiteSocketEmulator.time_scale`). ``agent.interrupt`` cuts it short;
  ``agent.start_listening`` / ``agent.stop_listening`` set the listening pose.
* ``event_id`` is optional on every client message. The reference marks it required on ``agent.speak``,
  but GetStream's plugin sends ``agent.speak`` and ``agent.speak_end`` without one and its audio plays:
  where the sources disagree the emulator accepts. A ``start`` frame (``{"type": "start", "encoding":
  "pcm_s16le", "sample_rate": 24000, "channels": 1}``, sent on connect by the official Python starter and
  GetStream's plugin) is accepted and answered with nothing.
* Any frame a client sends counts as activity and restarts the session's idle window, not only
  ``session.keep_alive``. Assumed, not documented: the livekit plugin resets its keep-alive timer on
  every send, so a session that talks without pause sends no keep-alive, and live sessions driven by it
  do not end with ``IDLE_TIMEOUT``.
* A message of more than :attr:`~LiteSocketEmulator.max_message_size` bytes ("at most 1 MB") closes the socket with 1009; an
  unknown type, bad JSON, a binary frame or audio that is not base64 of 16-bit PCM gets an ``error`` event.
* When the session ends (stop, idle timeout, maximum duration, ``end_session``) the server sends
  ``session.state_updated`` ``closed`` and closes the socket (1000). A handshake for an unknown, ended or
  FULL session is refused with 404, for a session not started yet with 400.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import time
from collections import deque
from typing import Any, Final

import anyio
import attrs
from aiohttp import WSCloseCode, WSMsgType, web

from ._speech import Avatar
from ._state import LiveAvatarState
from ._validation import parse_uuid

__all__ = ["LiteSocketEmulator", "RecordedHandshake", "RecordedMessage"]

_HARD_FRAME_LIMIT: Final = 16 * 1024 * 1024  # aiohttp's own cap, far above the emulated limit
_CLOSE_TIMEOUT: Final = 1.0
_INVALID: Final = "invalid_request_error"
# Accepted and answered with nothing: activity alone (keep-alive) or a format announcement (start).
_SILENT: Final = frozenset({"session.keep_alive", "start"})


@attrs.frozen(kw_only=True)
class RecordedMessage:
    """One frame the emulator received on a session's socket (see :meth:`LiteSocketEmulator.messages`).

    ``connection`` numbers the session's sockets from 1 (2 after a reconnect, ...). ``type`` is the
    message's ``type`` when it is a JSON object with a string type, else ``None``; ``message`` the parsed
    JSON (``None`` when it is not JSON). ``size`` is the frame's length in bytes. ``dropped`` marks a
    message that arrived before ``connected`` (ignored, as the real server does); ``rejected`` one that
    was refused (over the size limit, or binary). ``at`` is on the ``time.monotonic()`` clock.
    """

    session_id: str
    connection: int
    type: str | None
    message: Any = attrs.field(repr=False)
    size: int
    dropped: bool
    rejected: bool
    at: float

    @property
    def event_id(self) -> str | None:
        """The message's ``event_id``, when it has a string one."""
        value = self.message.get("event_id") if isinstance(self.message, dict) else None
        return value if isinstance(value, str) else None

    @property
    def audio(self) -> bytes | None:
        """The decoded audio of an ``agent.speak`` message (``None`` for others or bad base64)."""
        if self.type != "agent.speak" or not isinstance(self.message, dict):
            return None
        try:
            return base64.b64decode(self.message.get("audio", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            return None


@attrs.frozen(kw_only=True)
class RecordedHandshake:
    """One WebSocket handshake: for which session, the HTTP status answered (101 when accepted), and
    whether it presented a credential (``X-API-KEY`` or ``Authorization``; it needs none)."""

    session_id: str
    status: int
    credentials: bool
    at: float


@attrs.define(eq=False)
class _Socket:
    session_id: str
    number: int
    ws: web.WebSocketResponse
    request: web.Request
    avatar: Avatar
    connected: bool = False
    ended: anyio.Event = attrs.field(factory=anyio.Event)
    lock: anyio.Lock = attrs.field(factory=anyio.Lock)


class LiteSocketEmulator:
    """The LITE WebSocket of a :class:`~aioavatar.testing.LiveAvatarEmulator` (``emulator.ws``).

    Settings (given to the emulator's constructor; change them here before the socket connects):

    * ``connect_delay``: seconds between ``connecting`` and ``connected`` (``math.inf``: never).
    * ``time_scale``: how long audio takes to play, relative to its duration (``0.1``: ten times faster).
    * ``max_message_size``: frames longer than this close the socket with 1009 (1 MB, as the server).

    Inspect with :meth:`messages`, :meth:`sent`, :attr:`handshakes` and :meth:`connected`; misbehave with
    :meth:`drop`, :meth:`refuse`, :meth:`flap`, :meth:`stall`, :meth:`going_away` and :meth:`send`.
    """

    def __init__(
        self,
        state: LiveAvatarState,
        *,
        connect_delay: float = 0.05,
        time_scale: float = 1.0,
        max_message_size: int = 1_000_000,
    ) -> None:
        self._state = state
        state.on_end.append(self.session_ended)
        self.connect_delay = connect_delay
        self.time_scale = time_scale
        self.max_message_size = max_message_size
        self.journal: list[RecordedMessage] = []
        """Every frame received, on every session's sockets, in arrival order."""
        self.handshakes: list[RecordedHandshake] = []
        """Every handshake, accepted or refused, in arrival order."""
        self._sent: list[tuple[str, int, dict[str, Any]]] = []
        self._sockets: dict[str, list[_Socket]] = {}
        self._counts: dict[str, int] = {}
        self._refusals: deque[int] = deque()
        self._flaps = 0

    def install(self, app: web.Application) -> None:
        """Add the WebSocket route (before any catch-all route) and close the sockets on shutdown."""
        app.router.add_get("/v1/sessions/{session_id}/ws", self._handle)
        app.on_shutdown.append(self._close_all)

    # ---- inspection ------------------------------------------------------------------------------

    def messages(
        self,
        session_id: str | None = None,
        *,
        type: str | None = None,
        dropped: bool | None = False,
    ) -> list[RecordedMessage]:
        """Frames received, optionally of one session and/or of one ``type``, in arrival order.

        By default the dropped ones (sent before ``connected``) are left out; ``dropped=True`` gives only
        those, ``dropped=None`` all.
        """
        return [
            m
            for m in self.journal
            if (session_id is None or m.session_id == session_id)
            and (type is None or m.type == type)
            and (dropped is None or m.dropped == dropped)
        ]

    def sent(self, session_id: str) -> list[dict[str, Any]]:
        """Every message the emulator sent on the session's sockets, in order."""
        return [message for sid, _, message in self._sent if sid == session_id]

    def connected(self, session_id: str) -> bool:
        """Whether the session has a socket past ``connected`` right now."""
        return any(s.connected and not s.ws.closed for s in self._sockets.get(session_id, ()))

    def connections(self, session_id: str) -> int:
        """How many sockets the session has had accepted."""
        return self._counts.get(session_id, 0)

    # ---- controls --------------------------------------------------------------------------------

    def drop(self, session_id: str) -> int:
        """Cut the session's open sockets without a close frame, as a network failure would.

        Returns how many were cut. The session itself keeps running.
        """
        transports = self._transports(session_id)
        for transport in transports:
            transport.abort()
        return len(transports)

    def _transports(self, session_id: str) -> list[asyncio.Transport]:
        """The transports under the session's open sockets."""
        found = (socket.request.transport for socket in self._sockets.get(session_id, ()))
        return [transport for transport in found if transport is not None]

    def refuse(self, times: int = 1, *, status: int = 503) -> None:
        """Refuse the next ``times`` handshakes (of any session) with ``status``."""
        if times < 1:
            raise ValueError("times must be >= 1")
        if not 400 <= status <= 599:
            raise ValueError("status must be within 400..599")
        self._refusals.extend([status] * times)

    def stall(self, session_id: str) -> int:
        """Stop reading the session's open sockets, as a server that hangs: once their buffers are
        full, the client's writes wait. Returns how many. The session itself keeps running."""
        transports = self._transports(session_id)
        for transport in transports:
            transport.pause_reading()
        return len(transports)

    def going_away(self, session_id: str, code: int = 1001) -> int:
        """Write a close frame with ``code`` on the session's open sockets (a proxy going away), at
        once, whether or not they are read (:meth:`stall`); the session keeps running. Returns how
        many."""
        transports = self._transports(session_id)
        for transport in transports:
            transport.write(b"\x88\x02" + code.to_bytes(2, "big"))
        return len(transports)

    def flap(self, times: int = 1) -> None:
        """Make the next ``times`` sockets (of any session) close right after saying ``connected``,
        without a close frame: a server that accepts every reconnect and drops it at once."""
        if times < 1:
            raise ValueError("times must be >= 1")
        self._flaps += times

    async def send(self, session_id: str, message: dict[str, Any]) -> int:
        """Send ``message`` (any JSON object) on the session's connected sockets; returns how many."""
        sockets = [s for s in self._sockets.get(session_id, ()) if s.connected and not s.ws.closed]
        for socket in sockets:
            await self._send(socket, message)
        return len(sockets)

    # ---- the emulator's hooks ---------------------------------------------------------------------

    def session_ended(self, session_id: str) -> None:
        """The session ended (any way): its sockets say ``closed`` and close."""
        for socket in self._sockets.get(session_id, ()):
            socket.ended.set()

    async def _close_all(self, app: web.Application) -> None:
        for sockets in list(self._sockets.values()):
            for socket in sockets:
                with anyio.move_on_after(_CLOSE_TIMEOUT):
                    await socket.ws.close(code=WSCloseCode.GOING_AWAY)

    # ---- the socket ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        at = time.monotonic()
        raw_id = request.match_info["session_id"]
        credentials = "X-API-KEY" in request.headers or "Authorization" in request.headers
        session_id = parse_uuid(raw_id) or raw_id
        session = self._state.live(session_id)
        status, message = 101, ""
        if self._refusals:
            status, message = self._refusals.popleft(), "injected fault"
        elif session is None or session.state == "ended" or not session.has_ws:
            status, message = 404, "Session not found"
        elif session.state != "started":
            status, message = 400, "Session not started"
        self.handshakes.append(
            RecordedHandshake(session_id=session_id, status=status, credentials=credentials, at=at)
        )
        if status != 101:
            return web.json_response({"message": message}, status=status)
        ws = web.WebSocketResponse(
            timeout=_CLOSE_TIMEOUT, heartbeat=None, max_msg_size=_HARD_FRAME_LIMIT
        )
        await ws.prepare(request)
        number = self._counts.get(session_id, 0) + 1
        self._counts[session_id] = number

        async def send(message: dict[str, Any]) -> None:
            await self._send(socket, message)

        socket = _Socket(session_id, number, ws, request, Avatar(send, lambda: self.time_scale))
        self._sockets.setdefault(session_id, []).append(socket)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._greet, socket)
                tg.start_soon(socket.avatar.play)
                tg.start_soon(self._watch_end, socket)
                await self._receive(socket)
                tg.cancel_scope.cancel()
        finally:
            self._sockets[session_id].remove(socket)
            socket.connected = False
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
                await ws.close()
        return ws

    async def _send(self, socket: _Socket, message: dict[str, Any]) -> None:
        if socket.ws.closed:
            return
        async with socket.lock:
            try:
                await socket.ws.send_str(json.dumps(message))
            except ConnectionError:
                return
        self._sent.append((socket.session_id, socket.number, message))

    async def _session_state(self, socket: _Socket, state: str) -> None:
        await self._send(socket, {"type": "session.state_updated", "state": state})

    async def _greet(self, socket: _Socket) -> None:
        await self._session_state(socket, "connecting")
        if math.isinf(self.connect_delay):
            await anyio.sleep_forever()
        await anyio.sleep(self.connect_delay)
        socket.connected = True
        await self._session_state(socket, "connected")
        if self._flaps:
            self._flaps -= 1
            transport = socket.request.transport
            if transport is not None:
                transport.abort()

    async def _watch_end(self, socket: _Socket) -> None:
        await socket.ended.wait()
        socket.connected = False
        await self._session_state(socket, "closed")
        with anyio.move_on_after(_CLOSE_TIMEOUT):
            await socket.ws.close(code=WSCloseCode.OK, message=b"session ended")

    async def _receive(self, socket: _Socket) -> None:
        session = self._state.sessions[socket.session_id]
        async for frame in socket.ws:
            at = time.monotonic()
            self._state.touch(session, at)  # any client message is activity
            if frame.type is WSMsgType.TEXT:
                text: str = frame.data
                size = len(text.encode())
                if size > self.max_message_size:
                    self._record(socket, None, size, at, rejected=True)
                    await socket.ws.close(code=WSCloseCode.MESSAGE_TOO_BIG, message=b"too big")
                    return
                try:
                    message: Any = json.loads(text)
                except ValueError:
                    message = None
                self._record(socket, message, size, at)
                if socket.connected:
                    await self._handle_message(socket, message)
            elif frame.type is WSMsgType.BINARY:
                self._record(socket, None, len(frame.data), at, rejected=True)
                if socket.connected:
                    await self._error(socket, "binary frames are not accepted", None)

    def _record(
        self, socket: _Socket, message: Any, size: int, at: float, *, rejected: bool = False
    ) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        self.journal.append(
            RecordedMessage(
                session_id=socket.session_id,
                connection=socket.number,
                type=kind if isinstance(kind, str) else None,
                message=message,
                size=size,
                dropped=not socket.connected and not rejected,
                rejected=rejected,
                at=at,
            )
        )

    async def _error(self, socket: _Socket, message: str, event_id: str | None) -> None:
        error = {"type": _INVALID, "message": message, "event_id": event_id}
        await self._send(socket, {"type": "error", "error": error})

    async def _handle_message(self, socket: _Socket, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self._error(socket, "expected a JSON object with a string type", None)
            return
        kind: str = message["type"]
        raw_id = message.get("event_id")
        event_id = raw_id if isinstance(raw_id, str) else None
        avatar = socket.avatar
        if kind == "agent.speak":
            await self._speak(socket, message, event_id)
        elif kind == "agent.speak_end":
            avatar.end_audio()
        elif kind == "agent.interrupt":
            await avatar.interrupt()
        elif kind == "agent.start_listening":
            await avatar.start_listening()
        elif kind == "agent.stop_listening":
            await avatar.stop_listening()
        elif kind not in _SILENT:
            await self._error(socket, f"unknown message type {kind!r}", event_id)

    async def _speak(self, socket: _Socket, message: dict[str, Any], event_id: str | None) -> None:
        try:
            audio = base64.b64decode(message.get("audio"), validate=True)  # type: ignore[arg-type]
        except (binascii.Error, TypeError, ValueError):
            await self._error(socket, "audio must be base64", event_id)
            return
        if not audio or len(audio) % 2:
            await self._error(
                socket, "audio must be 16-bit PCM (an even number of bytes)", event_id
            )
            return
        socket.avatar.add_audio(len(audio), event_id)
