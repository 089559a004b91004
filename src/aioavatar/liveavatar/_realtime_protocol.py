"""Sans-I/O: the JSON of the LITE-mode WebSocket and how audio is cut into messages. No aiohttp here.

Pure functions of bytes and strings, tested without a network: the I/O in
``aioavatar.liveavatar._realtime`` sends what :func:`encode_message` builds and hands every text frame it
receives to :func:`decode_event`, which never raises.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .._audio import PCM_BYTES_PER_SECOND, PCM_SAMPLE_WIDTH
from .._json import dump_json, parse_json
from .._logging import mask_tracked, may_hold_tracked
from .._protocol import map_strings
from ._realtime_models import (
    AgentStateUpdated,
    ClientMessage,
    ErrorEvent,
    RawEvent,
    RealtimeEvent,
    SessionStateUpdated,
    SocketState,
    SpeakAudio,
    SpeakEnded,
    SpeakInterrupted,
    SpeakStarted,
    WarningEvent,
)

__all__ = [
    "CHUNK_SECONDS",
    "FIRST_CHUNK_SECONDS",
    "MAX_EVENT_CHARS",
    "MAX_MESSAGE_BYTES",
    "decode_event",
    "encode_message",
    "new_event_id",
    "split_audio",
]

#: The first chunk of an utterance is short, so that the avatar starts speaking soon (reference: 400-600 ms).
FIRST_CHUNK_SECONDS = 0.5
#: Every later chunk carries about one second of audio.
CHUNK_SECONDS = 1.0
#: The server takes messages of at most 1 MB (1,000,000 bytes) and refuses longer ones.
MAX_MESSAGE_BYTES = 1_000_000
#: The longest frame from the server that is read as JSON: a longer one (no event of the API comes
#: near it) is kept as its first 1,000 characters, neither parsed (time on the loop) nor kept whole
#: (memory: parsed, a frame of empty objects takes about 25 times its length).
MAX_EVENT_CHARS = 64 * 1024


def new_event_id() -> str:
    """A fresh ``event_id``."""
    return str(uuid.uuid4())


def split_audio(
    pcm: bytes, *, first_seconds: float = FIRST_CHUNK_SECONDS, seconds: float = CHUNK_SECONDS
) -> list[bytes]:
    """Cut PCM 16-bit mono 24 kHz audio into chunks: ``first_seconds``, then ``seconds`` each.

    Chunks hold whole samples; the last one holds what is left. ``pcm`` must already be checked (an even,
    non-zero number of bytes).
    """
    first = _whole_samples(first_seconds)
    rest = _whole_samples(seconds)
    chunks = [pcm[:first]]
    for start in range(first, len(pcm), rest):
        chunks.append(pcm[start : start + rest])
    return [c for c in chunks if c]


def _whole_samples(seconds: float) -> int:
    size = int(seconds * PCM_BYTES_PER_SECOND)
    return max(PCM_SAMPLE_WIDTH, size - size % PCM_SAMPLE_WIDTH)


def encode_message(message: ClientMessage) -> str:
    """The JSON text frame of a client message (audio as base64).

    Raises:
        ValueError: the frame would be longer than :data:`MAX_MESSAGE_BYTES` (the server would refuse
            it).
    """
    body: dict[str, Any] = {"type": message.type}
    if isinstance(message, SpeakAudio):
        body["audio"] = base64.b64encode(message.audio).decode("ascii")
    if message.event_id is not None:
        body["event_id"] = message.event_id
    frame = dump_json(body)
    if len(frame) > MAX_MESSAGE_BYTES:  # ASCII only: characters are bytes
        raise ValueError(f"a {message.type} message of {len(frame)} bytes is over the 1 MB limit")
    return frame


def decode_event(frame: str) -> RealtimeEvent:
    """The event of one text frame from the server; never raises.

    Known types become their typed event (fields of a wrong type read as ``None``); any other type, and
    anything that is not a JSON object with a string ``type``, becomes a :class:`RawEvent` (a frame
    over :data:`MAX_EVENT_CHARS`: its first 1,000 characters and its size, unread). Every credential
    the SDK holds (the API key, a session's token) is masked in it, however the server echoed it.
    """
    if len(frame) > MAX_EVENT_CHARS:
        return RawEvent(type="", data={"text": _head(frame), "size": len(frame)})
    try:
        message = parse_json(frame)
        if may_hold_tracked(frame):
            message = map_strings(message, mask_tracked)
    except ValueError:  # not JSON, or nested too deeply to read
        return RawEvent(type="", data={"text": _head(frame)})
    if not isinstance(message, dict):
        return RawEvent(type="", data={"text": _shown(frame)})
    kind = message.get("type")
    if not isinstance(kind, str):
        return RawEvent(type="", data=message)
    parse = _PARSERS.get(kind)
    if parse is None:
        return RawEvent(type=kind, data=message)
    return parse(message)


def _head(frame: str) -> str:
    """The first 1,000 characters of ``frame``, masked before the cut (no credential is longer than
    the 8,000 characters past it), so that no part of one is left; its escapes are written out
    first, over the raw characters that give those 9,000 (an escape is at most 6 of them)."""
    return mask_tracked(_unescaped(frame[:54_000])[:9000])[:1000]


#: A JSON escape of an ASCII character (``\u0065`` for ``e``), or of ``/``: a credential written
#: with such escapes is the credential to whoever reads the text as JSON.
_ASCII_ESCAPE = re.compile(r"\\u00([0-7][0-9a-fA-F])|\\(/)")


def _shown(text: str) -> str:
    """A frame's raw text as a :class:`RawEvent` shows it: its ASCII escapes written out, then every
    held credential masked (masking the raw text would miss one the server wrote escaped)."""
    return mask_tracked(_unescaped(text))


def _unescaped(text: str) -> str:
    """``text`` with its ASCII escapes written out (none to look for without a backslash)."""
    if "\\" not in text:
        return text
    return _ASCII_ESCAPE.sub(lambda m: m[2] or chr(int(m[1], 16)), text)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _task_id(message: Mapping[str, Any]) -> str | None:
    task = message.get("task")
    return _str(task.get("id")) if isinstance(task, Mapping) else None


def _state(message: dict[str, Any]) -> SessionStateUpdated:
    raw = _str(message.get("state"))
    return SessionStateUpdated(state=SocketState(raw) if raw is not None else None, data=message)


SpeechT = TypeVar("SpeechT", SpeakStarted, SpeakEnded, SpeakInterrupted)


def _speech(cls: type[SpeechT]) -> Callable[[dict[str, Any]], SpeechT]:
    def parse(message: dict[str, Any]) -> SpeechT:
        event_id, task_id = _str(message.get("event_id")), _task_id(message)
        return cls(event_id=event_id, task_id=task_id, data=message)

    return parse


def _agent_state(message: dict[str, Any]) -> AgentStateUpdated:
    new_state = _str(message.get("new_state"))
    return AgentStateUpdated(
        state=new_state if new_state is not None else _str(message.get("state")),
        previous_state=_str(message.get("previous_state")),
        data=message,
    )


def _error(message: dict[str, Any]) -> ErrorEvent:
    error = message.get("error")
    details: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    text = _str(details.get("message")) or _str(message.get("message"))
    if text is None and isinstance(error, str):
        text = error
    return ErrorEvent(
        error_type=_str(details.get("type")),
        message=text,
        event_id=_str(details.get("event_id")) or _str(message.get("event_id")),
        data=message,
    )


def _warning(message: dict[str, Any]) -> WarningEvent:
    warning = message.get("warning")
    text = _str(message.get("message"))
    if text is None and isinstance(warning, Mapping):
        text = _str(warning.get("message"))
    elif text is None:
        text = _str(warning)
    return WarningEvent(message=text, data=message)


_PARSERS: dict[str, Callable[[dict[str, Any]], RealtimeEvent]] = {
    SessionStateUpdated.type: _state,
    SpeakStarted.type: _speech(SpeakStarted),
    SpeakEnded.type: _speech(SpeakEnded),
    SpeakInterrupted.type: _speech(SpeakInterrupted),
    AgentStateUpdated.type: _agent_state,
    ErrorEvent.type: _error,
    WarningEvent.type: _warning,
}
