"""Messages of the LITE-mode WebSocket (``ws_url``), as frozen attrs classes.

Client messages are what :class:`~aioavatar.RealtimeConnection` sends; events are what the server sends
and :meth:`~aioavatar.RealtimeConnection.events` yields. The JSON shapes live in
``aioavatar.liveavatar._realtime_protocol`` only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from .._enums import TolerantEnum

__all__ = [
    "AgentStateUpdated",
    "ClientMessage",
    "ErrorEvent",
    "Interrupt",
    "KeepAlive",
    "RawEvent",
    "RealtimeEvent",
    "SessionStateUpdated",
    "SocketState",
    "SpeakAudio",
    "SpeakEnd",
    "SpeakEnded",
    "SpeakInterrupted",
    "SpeakStarted",
    "SpeechEvent",
    "StartListening",
    "StopListening",
    "WarningEvent",
]


class SocketState(TolerantEnum):
    """The socket's state in ``session.state_updated``. Unknown values become pseudo-members."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSING = "closing"
    CLOSED = "closed"


# --- client to server ----------------------------------------------------------------------------------


@attrs.frozen
class SpeakAudio:
    """``agent.speak``: one chunk of PCM 16-bit mono 24 kHz audio of the utterance ``event_id``."""

    type: ClassVar[str] = "agent.speak"
    audio: bytes = attrs.field(repr=lambda audio: f"<{len(audio)} bytes>")
    event_id: str


@attrs.frozen
class SpeakEnd:
    """``agent.speak_end``: the utterance ``event_id`` has no more audio."""

    type: ClassVar[str] = "agent.speak_end"
    event_id: str


@attrs.frozen
class Interrupt:
    """``agent.interrupt``: drop all scheduled speech."""

    type: ClassVar[str] = "agent.interrupt"
    event_id: str | None = None


@attrs.frozen
class StartListening:
    """``agent.start_listening``: the listening pose."""

    type: ClassVar[str] = "agent.start_listening"
    event_id: str


@attrs.frozen
class StopListening:
    """``agent.stop_listening``: leave the listening pose."""

    type: ClassVar[str] = "agent.stop_listening"
    event_id: str


@attrs.frozen
class KeepAlive:
    """``session.keep_alive``: reset the session's idle timer over the socket."""

    type: ClassVar[str] = "session.keep_alive"
    event_id: str


ClientMessage = SpeakAudio | SpeakEnd | Interrupt | StartListening | StopListening | KeepAlive

# --- server to client ----------------------------------------------------------------------------------
# Every event keeps the whole message as ``data`` (left out of repr and comparisons), so that fields the
# server adds later are not lost.


def _data_field() -> Any:
    return attrs.field(factory=dict, eq=False, repr=False, kw_only=True)


@attrs.frozen
class SessionStateUpdated:
    """``session.state_updated``: the socket is ``connecting``, ``connected``, ``closing`` or ``closed``.

    Nothing sent before ``connected`` reaches the avatar; ``closing``/``closed`` mean the session ends.
    """

    type: ClassVar[str] = "session.state_updated"
    state: SocketState | None
    data: dict[str, Any] = _data_field()


@attrs.frozen
class SpeechEvent:
    """The base of :class:`SpeakStarted`, :class:`SpeakEnded` and :class:`SpeakInterrupted`: the utterance's
    ``event_id`` (when the server names it) and the server's ``task_id``."""

    type: ClassVar[str]
    event_id: str | None = None
    task_id: str | None = None
    data: dict[str, Any] = _data_field()


@attrs.frozen
class SpeakStarted(SpeechEvent):
    """``agent.speak_started``: the avatar began to speak the utterance ``event_id``."""

    type: ClassVar[str] = "agent.speak_started"


@attrs.frozen
class SpeakEnded(SpeechEvent):
    """``agent.speak_ended``: the avatar finished speaking the utterance ``event_id``."""

    type: ClassVar[str] = "agent.speak_ended"


@attrs.frozen
class SpeakInterrupted(SpeechEvent):
    """``agent.speak_interrupted``: speech was cut short (``event_id`` when the server names it)."""

    type: ClassVar[str] = "agent.speak_interrupted"


@attrs.frozen
class AgentStateUpdated:
    """``agent.state_updated``: the avatar's own state (``idle``, ``listening``, ``talking``, ...), as sent.

    Servers have sent it in two shapes, ``{state}`` and ``{previous_state, new_state}``: ``state`` is
    ``new_state`` when the message has one, else its ``state``; ``previous_state`` is ``None`` when not
    sent.
    """

    type: ClassVar[str] = "agent.state_updated"
    state: str | None
    previous_state: str | None = None
    data: dict[str, Any] = _data_field()


@attrs.frozen
class ErrorEvent:
    """``error``: the server refused something (``event_id`` names the message, when it says so)."""

    type: ClassVar[str] = "error"
    error_type: str | None
    message: str | None
    event_id: str | None = None
    data: dict[str, Any] = _data_field()


@attrs.frozen
class WarningEvent:
    """``warning``: something the server thinks the client should know."""

    type: ClassVar[str] = "warning"
    message: str | None
    data: dict[str, Any] = _data_field()


@attrs.frozen
class RawEvent:
    """Any other message, passed through untouched: ``type`` as sent and the whole message as ``data``.

    A frame that is not a JSON object arrives as ``RawEvent(type="", data={"text": <the frame>})``; a
    frame over 65,536 characters is not read at all: ``RawEvent(type="", data={"text": <its first 1,000
    characters>, "size": <its length>})`` (no event of the API comes near that size).
    """

    type: str
    data: dict[str, Any] = attrs.field(factory=dict, repr=False)


RealtimeEvent = (
    SessionStateUpdated
    | SpeakStarted
    | SpeakEnded
    | SpeakInterrupted
    | AgentStateUpdated
    | ErrorEvent
    | WarningEvent
    | RawEvent
)
