"""``liveavatar/_realtime_protocol.py``, sans-I/O: how audio is cut into messages, the JSON of what the
client sends, and server frames decoded into events (never an exception)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from aioavatar import (
    AgentStateUpdated,
    ErrorEvent,
    RawEvent,
    Secret,
    SessionStateUpdated,
    SocketState,
    SpeakEnded,
    SpeakInterrupted,
    SpeakStarted,
    WarningEvent,
)
from aioavatar._logging import MASK, track_secret
from aioavatar.liveavatar._realtime_models import Interrupt, KeepAlive, SpeakAudio, SpeakEnd
from aioavatar.liveavatar._realtime_protocol import (
    MAX_MESSAGE_BYTES,
    decode_event,
    encode_message,
    split_audio,
)

from ..audio import SECOND, pcm


def test_split_audio_first_half_second_then_one_second() -> None:
    """Chunks: about 0.5 s first, then 1 s each, whole samples, nothing lost."""
    audio = pcm(3.2)
    chunks = split_audio(audio)
    assert [len(c) for c in chunks] == [SECOND // 2, SECOND, SECOND, int(0.7 * SECOND)]
    assert b"".join(chunks) == audio
    assert [len(c) for c in split_audio(pcm(0.2))] == [int(0.2 * SECOND)]
    assert all(len(c) % 2 == 0 for c in split_audio(b"\x00" * 48_002))


def test_encode_messages() -> None:
    """Client messages: base64 audio, one event id, no event_id key when there is none."""
    frame = json.loads(encode_message(SpeakAudio(b"\x01\x02\x03\x04", "e1")))
    assert frame == {
        "type": "agent.speak",
        "audio": base64.b64encode(b"\x01\x02\x03\x04").decode(),
        "event_id": "e1",
    }
    assert json.loads(encode_message(SpeakEnd("e1"))) == {
        "type": "agent.speak_end",
        "event_id": "e1",
    }
    assert json.loads(encode_message(Interrupt())) == {"type": "agent.interrupt"}
    assert json.loads(encode_message(KeepAlive("k"))) == {
        "type": "session.keep_alive",
        "event_id": "k",
    }
    one_second = encode_message(SpeakAudio(pcm(1.0), "e"))
    assert len(one_second) < MAX_MESSAGE_BYTES / 10
    with pytest.raises(ValueError, match="1 MB"):
        encode_message(SpeakAudio(pcm(16.0), "e"))


def test_a_message_of_1_mb_is_encoded_and_one_byte_more_is_refused() -> None:
    """The server takes a message of at most 1 MB (1,000,000 bytes): that one goes out, one byte more
    does not."""
    audio = bytes(3 * 249_988)  # 999,952 characters of base64, and 48 of JSON around them
    assert len(encode_message(SpeakAudio(audio, "e"))) == MAX_MESSAGE_BYTES == 1_000_000
    with pytest.raises(ValueError, match="1000001 bytes is over the 1 MB limit"):
        encode_message(SpeakAudio(audio, "ee"))


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            {"type": "session.state_updated", "state": "connected"},
            SessionStateUpdated(SocketState.CONNECTED),
        ),
        (
            {"type": "agent.speak_started", "event_id": "e", "task": {"id": "t"}},
            SpeakStarted(event_id="e", task_id="t"),
        ),
        (
            {"type": "agent.speak_ended", "event_id": "e", "task": {"id": "t"}},
            SpeakEnded(event_id="e", task_id="t"),
        ),
        ({"type": "agent.speak_interrupted"}, SpeakInterrupted()),
        (
            {"type": "agent.state_updated", "state": "listening"},
            AgentStateUpdated(state="listening"),
        ),
        (
            {"type": "agent.state_updated", "previous_state": "talking", "new_state": "idle"},
            AgentStateUpdated(state="idle", previous_state="talking"),
        ),
        (
            {"type": "error", "error": {"type": "invalid", "message": "no", "event_id": "e"}},
            ErrorEvent(error_type="invalid", message="no", event_id="e"),
        ),
        ({"type": "warning", "message": "slow"}, WarningEvent(message="slow")),
        # Tolerance: wrong types read as None, a new state value is kept, unknown types pass through.
        ({"type": "agent.speak_started", "event_id": 5, "task": "x"}, SpeakStarted(event_id=None)),
        (
            {"type": "session.state_updated", "state": "paused"},
            SessionStateUpdated(SocketState("paused")),
        ),
        (
            {"type": "agent.audio_buffer_committed", "n": 1},
            RawEvent(
                "agent.audio_buffer_committed", {"type": "agent.audio_buffer_committed", "n": 1}
            ),
        ),
        ({"no": "type"}, RawEvent("", {"no": "type"})),
    ],
)
def test_decode_event(frame: dict[str, Any], expected: object) -> None:
    """Known server messages decode to typed events; anything else passes through raw."""
    event = decode_event(json.dumps(frame))
    assert event == expected
    assert event.data == frame


def test_decode_never_raises_on_garbage() -> None:
    """A frame that is not a JSON object is a RawEvent holding the text."""
    assert decode_event("not json") == RawEvent("", {"text": "not json"})
    assert decode_event("[1, 2]") == RawEvent("", {"text": "[1, 2]"})


def test_a_deeply_nested_frame_is_a_raw_event() -> None:
    """A frame of 200,000 '[' decodes to a RawEvent (never a RecursionError)."""
    from aioavatar.liveavatar._realtime_protocol import decode_event

    event = decode_event("[" * 200_000)
    assert isinstance(event, RawEvent)
    assert event.type == ""


@pytest.mark.parametrize("at", [0, 980, 5000])
def test_a_frame_cut_to_its_head_shows_no_part_of_a_held_credential(at: int) -> None:
    """A frame over the size read, or not JSON, keeps its first 1,000 characters: a credential the
    SDK holds is masked before that cut, so none of it shows, wherever it sits."""
    owner = Secret("k" * 40)
    token = "tok-" + "0123456789abcdef" * 8
    track_secret(owner, token)
    for size in (100_000, 3_000):  # unread, then read and not JSON
        frame = "x" * at + token + "y" * size
        event = decode_event(frame)
        assert isinstance(event, RawEvent)
        text = event.data["text"]
        assert not any(token[i : i + 12] in text for i in range(len(token) - 11))


@pytest.mark.parametrize(
    "frame",
    [
        '["{token}"]',  # JSON, not an object
        '"{token}"',
        '{{"type": "x", "m": "{token}"',  # not JSON
        '{{"type": "x", "m": "{token}", "pad": "' + "a" * 70_000 + '"}}',  # over the size read
    ],
    ids=["array", "string", "not JSON", "oversized"],
)
def test_a_credential_written_with_json_escapes_is_masked_in_a_raw_frame(frame: str) -> None:
    """A frame kept as text (not an object, not JSON, too long to read) whose credential the server
    wrote with JSON escapes (``\\u0065yJ...`` for ``eyJ...``, ``\\/``): the text shows none of it
    however it is read, as JSON or not."""
    owner = Secret("k" * 40)
    token = "eyJ0eXAi/" + "0123456789abcdef" * 4
    track_secret(owner, token)
    escaped = f"\\u{ord(token[0]):04x}" + token[1:9].replace("/", "\\/") + token[9:]
    event = decode_event(frame.format(token=escaped))
    assert isinstance(event, RawEvent)
    text = event.data["text"]
    assert token not in text
    assert escaped not in text
    assert token[9:21] not in text
    assert MASK in text


def test_a_long_credential_written_escaped_in_an_oversized_frame_is_masked_whole() -> None:
    """A frame over the size read, whose shown head holds a 1,200-character credential written all
    in escapes (7,200 raw characters, past the 9,000 raw ones that would hold its unescaped form
    once they start 300 escaped characters in): none of it shows."""
    owner = Secret("k" * 40)
    token = "".join(chr(ord("a") + i % 26) + str(i % 10) for i in range(600))
    track_secret(owner, token)

    def escaped(text: str) -> str:
        return "".join(f"\\u{ord(c):04x}" for c in text)

    frame = (
        '{"type": "x", "m": "' + escaped("A" * 300 + token) + '", "pad": "' + "B" * 70_000 + '"}'
    )
    event = decode_event(frame)
    assert isinstance(event, RawEvent)
    text = event.data["text"]
    assert "A" * 300 + MASK in text
    assert not any(token[i : i + 12] in text for i in range(len(token) - 11))
