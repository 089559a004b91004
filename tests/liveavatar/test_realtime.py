"""Realtime control of LITE sessions over the WebSocket at ``ws_url``, against the emulator."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import math
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from aioavatar import (
    AgentStateUpdated,
    AvatarSession,
    ConfigurationError,
    EndReason,
    ErrorEvent,
    LiveAvatarClient,
    RawEvent,
    RealtimeConnection,
    RequestTimeout,
    RetryPolicy,
    SessionEndedError,
    SessionState,
    SessionStateUpdated,
    SocketState,
    SpeakEnded,
    SpeakInterrupted,
    SpeakStarted,
    Utterance,
    WarningEvent,
    check_pcm,
    read_wav,
)
from aioavatar.liveavatar._realtime_models import Interrupt, KeepAlive, SpeakAudio, SpeakEnd
from aioavatar.liveavatar._realtime_protocol import (
    MAX_MESSAGE_BYTES,
    decode_event,
    encode_message,
    split_audio,
)
from aioavatar.testing import LiveAvatarEmulator, RecordedMessage

from ..conftest import API_KEY, AVATAR_ID

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent.parent
SECOND = 48_000  # bytes of one second of PCM 16-bit mono 24 kHz


def pcm(seconds: float) -> bytes:
    """Silence of that length (whole samples)."""
    return b"\x01\x00" * int(seconds * 24_000)


def wav_bytes(
    *, channels: int = 1, width: int = 2, rate: int = 24_000, seconds: float = 0.1
) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(b"\x00" * int(seconds * rate) * width * channels)
    return buffer.getvalue()


def lite(client: LiveAvatarClient, **kw: Any) -> AvatarSession:
    kw.setdefault("keep_alive_interval", 30.0)
    kw.setdefault("stop_timeout", 2.0)
    return client.session(AVATAR_ID, is_sandbox=True, mode="LITE", **kw)


@pytest.fixture
def fast_ws(emulator: LiveAvatarEmulator) -> LiveAvatarEmulator:
    """The emulator with a quick `connected` and speech played twenty times faster than real time."""
    emulator.ws.connect_delay = 0.02
    emulator.ws.time_scale = 0.05
    return emulator


def speak_chunks(emulator: LiveAvatarEmulator, session_id: str) -> list[RecordedMessage]:
    return emulator.ws.messages(session_id, type="agent.speak")


def wire(emulator: LiveAvatarEmulator, session_id: str) -> list[tuple[str | None, str | None]]:
    """(type, event_id) of every message the server accepted, in arrival order (keep-alives left out)."""
    return [
        (m.type, m.event_id)
        for m in emulator.ws.messages(session_id)
        if m.type != "session.keep_alive"
    ]


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():  # noqa: ASYNC110 - polls state that has no event to wait on
            await anyio.sleep(0.01)


# --- sans-I/O: audio, chunks, JSON ----------------------------------------------------------------------


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


def test_check_pcm_rejects_bad_audio() -> None:
    """Odd byte counts, empty audio, WAV files and non-bytes are ConfigurationError."""
    assert check_pcm(bytearray(b"\x00\x01")) == b"\x00\x01"
    with pytest.raises(ConfigurationError, match="odd number of bytes"):
        check_pcm(b"\x00\x01\x02")
    with pytest.raises(ConfigurationError, match="empty"):
        check_pcm(b"")
    with pytest.raises(ConfigurationError, match="read_wav"):
        check_pcm(wav_bytes())
    with pytest.raises(ConfigurationError, match="str"):
        check_pcm("audio")  # type: ignore[arg-type]


def test_read_wav(tmp_path: Path) -> None:
    """A 16-bit mono 24 kHz WAV gives its frames, from a path or bytes; any other format is refused by name."""
    good = wav_bytes(seconds=0.25)
    path = tmp_path / "hello.wav"
    path.write_bytes(good)
    assert read_wav(path) == read_wav(good) == b"\x00" * int(0.25 * SECOND)
    with pytest.raises(ConfigurationError, match="8-bit samples"):
        read_wav(wav_bytes(width=1))
    with pytest.raises(ConfigurationError, match="2 channels"):
        read_wav(wav_bytes(channels=2))
    with pytest.raises(ConfigurationError, match="44100 Hz") as info:
        read_wav(wav_bytes(rate=44_100))
    assert info.value.field == "source"
    with pytest.raises(ConfigurationError, match=r"32-bit samples.*2 channels.*16000 Hz"):
        read_wav(wav_bytes(width=4, channels=2, rate=16_000))
    with pytest.raises(ConfigurationError, match="not a readable PCM WAV"):
        read_wav(b"RIFF....WAVEjunk")
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(ConfigurationError, match="no audio"):
        read_wav(wav_bytes(seconds=0))


# --- connecting --------------------------------------------------------------------------------------------


async def test_nothing_is_sent_before_connected(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Enter waits for `connected`: audio spoken at once is not dropped, and no credential goes to ws_url."""
    emulator.ws.connect_delay = 0.15
    emulator.ws.time_scale = 0.05
    async with lite(client) as session, session.realtime() as rt:
        assert rt.connected
        utterance = await rt.speak(pcm(0.2))
        await rt.start_listening()
        with anyio.fail_after(5):
            await utterance.wait_ended()
        sid = session.session_id
    assert emulator.ws.messages(sid, dropped=True) == []
    # Control messages do not queue behind audio: start_listening may go out between the two.
    assert sorted(str(m.type) for m in emulator.ws.messages(sid)) == [
        "agent.speak",
        "agent.speak_end",
        "agent.start_listening",
    ]
    assert [(h.status, h.credentials) for h in emulator.ws.handshakes] == [(101, False)]


async def test_no_connected_is_a_timeout(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A socket that never says `connected` fails enter with RequestTimeout after connect_timeout."""
    emulator.ws.connect_delay = math.inf
    with pytest.raises(RequestTimeout, match="connected") as info:
        async with lite(client) as session, session.realtime(connect_timeout=0.15):
            pytest.fail("the block must not run")
    assert isinstance(info.value, TimeoutError)
    assert info.value.path == f"/v1/sessions/{session.session_id}/ws"
    await wait_for(lambda: not emulator.ws.connected(session.session_id))
    assert emulator.ws.messages(session.session_id, dropped=None) == []
    assert emulator.stop_reasons(session.session_id) == ["SERVER_ERROR"]


async def test_full_session_has_no_realtime(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """realtime() on a FULL session is a ConfigurationError that says why, and nothing is connected."""
    async with client.session(AVATAR_ID, is_sandbox=True, mode="FULL") as session:
        with pytest.raises(ConfigurationError, match=r"FULL session has no ws_url.*LITE") as info:
            session.realtime()
    assert info.value.field == "mode"
    assert emulator.ws.handshakes == []


async def test_realtime_options_are_checked(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Bad options raise ConfigurationError naming them; a second open connection is refused."""
    async with lite(client) as session:
        for name, value in [("connect_timeout", 0), ("reconnect_window", 0), ("max_ahead", -1.0)]:
            options: dict[str, Any] = {name: value}
            with pytest.raises(ConfigurationError, match=name):
                session.realtime(**options)
        async with session.realtime():
            with pytest.raises(RuntimeError, match="already"):
                session.realtime()
    with pytest.raises(RuntimeError, match="not running"):
        session.realtime()


# --- speaking ---------------------------------------------------------------------------------------------


async def test_chunks_and_one_event_id_per_utterance(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Each utterance goes out as ~0.5 s then ~1 s chunks with its own event id, then speak_end, in order."""
    async with lite(client) as session, session.realtime(max_ahead=10.0) as rt:
        first = await rt.speak(pcm(1.7))
        second = await rt.speak(pcm(0.3))
        assert first.event_id != second.event_id
        with anyio.fail_after(5):
            assert await first.wait_started()
            await first.wait_ended()
            await second.wait_ended()
        sid = session.session_id
    assert not first.interrupted
    assert not second.interrupted
    assert (first.chunks, first.chunks_sent) == (3, 3)
    chunks = speak_chunks(fast_ws, sid)
    assert [(len(m.audio or b""), m.event_id) for m in chunks] == [
        (SECOND // 2, first.event_id),
        (SECOND, first.event_id),
        (int(0.2 * SECOND), first.event_id),
        (int(0.3 * SECOND), second.event_id),
    ]
    assert all(m.size < 1_000_000 for m in fast_ws.ws.messages(sid))
    assert wire(fast_ws, sid) == [
        ("agent.speak", first.event_id),
        ("agent.speak", first.event_id),
        ("agent.speak", first.event_id),
        ("agent.speak_end", first.event_id),
        ("agent.speak", second.event_id),
        ("agent.speak_end", second.event_id),
    ]


async def test_audio_is_paced_not_flooded(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """With max_ahead=0.45 s, the 0.1 s second chunk waits until 0.15 s of the 0.5 s first one played."""
    async with lite(client) as session, session.realtime(max_ahead=0.45) as rt:
        utterance = await rt.speak(pcm(0.6))
        with anyio.fail_after(5):
            await utterance.wait_ended()
        first, second = speak_chunks(fast_ws, session.session_id)
    assert second.at - first.at >= 0.12  # sent at once, it would arrive within milliseconds


async def test_bad_audio_is_refused_before_sending(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """speak() refuses an odd byte count and WAV bytes; nothing reaches the server."""
    async with lite(client) as session, session.realtime() as rt:
        with pytest.raises(ConfigurationError, match="odd"):
            await rt.speak(b"\x00" * 4801)
        with pytest.raises(ConfigurationError, match="WAV"):
            await rt.speak(wav_bytes())
        await anyio.sleep(0.05)
        sid = session.session_id
    assert speak_chunks(fast_ws, sid) == []


async def test_interrupt_drops_queued_audio(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """interrupt(): the half-sent utterance gets speak_end, then agent.interrupt; queued audio never goes out."""
    emulator.ws.connect_delay = 0.02  # speech at real time: the first utterance is still playing
    async with lite(client) as session, session.realtime(max_ahead=0.5) as rt:
        long = await rt.speak(pcm(5.0))
        queued = await rt.speak(pcm(1.0))
        with anyio.fail_after(5):
            assert await long.wait_started()
        interrupt_id = await rt.interrupt()
        assert long.ended
        assert long.interrupted
        assert queued.ended
        assert queued.interrupted
        assert queued.chunks_sent == 0
        after = await rt.speak(pcm(0.1))
        emulator.ws.time_scale = 0.05
        with anyio.fail_after(5):
            await after.wait_ended()
        assert not after.interrupted
        sid = session.session_id
    sent = wire(emulator, sid)
    kinds = [kind for kind, _ in sent]
    assert kinds.count("agent.interrupt") == 1, sent
    interrupt_at = kinds.index("agent.interrupt")
    assert sent[interrupt_at] == ("agent.interrupt", interrupt_id)
    assert sent[interrupt_at - 1] == ("agent.speak_end", long.event_id)
    assert sent[interrupt_at + 1 :] == [
        ("agent.speak", after.event_id),
        ("agent.speak_end", after.event_id),
    ]
    assert 1 <= long.chunks_sent < long.chunks
    long_chunks = [m for m in speak_chunks(emulator, sid) if m.event_id == long.event_id]
    assert len(long_chunks) == long.chunks_sent
    assert all(m.event_id != queued.event_id for m in emulator.ws.messages(sid))
    events = [e["type"] for e in emulator.ws.sent(sid)]
    assert "agent.speak_interrupted" in events


@pytest.mark.parametrize("how", ["exit", "cancel", "error"])
async def test_speak_end_is_sent_when_the_block_ends_early(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator, how: str
) -> None:
    """Leaving the realtime block mid-utterance (normally, cancelled, or by an error) still sends speak_end."""
    utterance: Utterance | None = None

    async def body(rt: RealtimeConnection) -> None:
        nonlocal utterance
        utterance = await rt.speak(pcm(5.0))
        await wait_for(lambda: utterance is not None and utterance.chunks_sent >= 1)
        if how == "error":
            raise KeyError("boom")
        if how == "cancel":
            await anyio.sleep(30)

    async with lite(client) as session:
        if how == "cancel":
            with anyio.move_on_after(0.1):
                async with session.realtime(max_ahead=0.6) as rt:
                    await body(rt)
        elif how == "error":
            with pytest.raises(KeyError):
                async with session.realtime(max_ahead=0.6) as rt:
                    await body(rt)
        else:
            async with session.realtime(max_ahead=0.6) as rt:
                await body(rt)
        sid = session.session_id
        await wait_for(lambda: not fast_ws.ws.connected(sid))
    assert utterance is not None
    assert utterance.ended
    assert utterance.interrupted
    assert 1 <= utterance.chunks_sent < utterance.chunks
    assert wire(fast_ws, sid)[-1] == ("agent.speak_end", utterance.event_id)
    assert fast_ws.stop_reasons(sid) == ["USER_CLOSED"]


# --- events -----------------------------------------------------------------------------------------------


async def test_events_arrive_in_order(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """events() yields every server message once, in the order sent, typed."""
    async with lite(client) as session, session.realtime(max_ahead=10.0) as rt:
        one = await rt.speak(pcm(0.3))
        two = await rt.speak(pcm(0.3))
        await two.wait_ended()
        await rt.start_listening()
        received = []
        with anyio.fail_after(5):
            async for event in rt.events():
                received.append(event)
                if isinstance(event, AgentStateUpdated) and event.state == "listening":
                    break
        sent = fast_ws.ws.sent(session.session_id)
    assert [e.data for e in received] == sent
    assert [(type(e), getattr(e, "event_id", None)) for e in received] == [
        (SessionStateUpdated, None),
        (SessionStateUpdated, None),
        (SpeakStarted, one.event_id),
        (AgentStateUpdated, None),
        (SpeakEnded, one.event_id),
        (SpeakStarted, two.event_id),
        (SpeakEnded, two.event_id),
        (AgentStateUpdated, None),
        (AgentStateUpdated, None),
    ]
    assert [(e.previous_state, e.state) for e in received if isinstance(e, AgentStateUpdated)] == [
        ("idle", "talking"),
        ("talking", "idle"),
        ("idle", "listening"),
    ]
    assert [e.state for e in received if isinstance(e, SessionStateUpdated)] == [
        SocketState.CONNECTING,
        SocketState.CONNECTED,
    ]


async def test_unknown_events_pass_through(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """A type the SDK does not know arrives as a RawEvent; error and warning arrive typed; nothing crashes."""
    async with lite(client) as session, session.realtime() as rt:
        sid = session.session_id
        await fast_ws.ws.send(sid, {"type": "agent.audio_buffer_cleared", "extra": [1, 2]})
        await fast_ws.ws.send(sid, {"type": "warning", "message": "slow network"})
        await fast_ws.ws.send(
            sid, {"type": "error", "error": {"type": "bad", "message": "no", "event_id": "x"}}
        )
        received = []
        with anyio.fail_after(5):
            async for event in rt.events():
                received.append(event)
                if isinstance(event, ErrorEvent):
                    break
        utterance = await rt.speak(pcm(0.1))  # still working
        with anyio.fail_after(5):
            await utterance.wait_ended()
    assert received[2:] == [
        RawEvent(
            "agent.audio_buffer_cleared", {"type": "agent.audio_buffer_cleared", "extra": [1, 2]}
        ),
        WarningEvent(message="slow network"),
        ErrorEvent(error_type="bad", message="no", event_id="x"),
    ]


# --- the socket and the session ---------------------------------------------------------------------------


async def test_server_ending_the_session_ends_the_block(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """The server ends the session and closes the socket: the block is cancelled, SessionEndedError, no stop."""
    reached = False
    with pytest.raises(SessionEndedError) as info:
        async with lite(client) as session, session.realtime() as rt:
            utterance = await rt.speak(pcm(0.5))
            fast_ws.end_session(session.session_id, EndReason.ZOMBIE_SESSION_REAP)
            await anyio.sleep(10)
            reached = True
    assert not reached
    assert info.value.end_reason is EndReason.ZOMBIE_SESSION_REAP
    assert session.end_reason is EndReason.ZOMBIE_SESSION_REAP
    assert fast_ws.stop_reasons(session.session_id) == []
    assert rt.closed
    assert utterance.ended
    assert fast_ws.ws.sent(session.session_id)[-1] == {
        "type": "session.state_updated",
        "state": "closed",
    }


async def test_session_stop_inside_the_block_is_not_a_loss(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """session.stop() closes the socket server side: an expected close, so no SessionEndedError."""
    async with lite(client) as session, session.realtime() as rt:
        await session.stop(EndReason.AGENT_HANG_UP)
        await wait_for(lambda: rt.closed)
        with pytest.raises(RuntimeError, match="closed"):
            await rt.speak(pcm(0.1))
    assert session.end_reason is EndReason.AGENT_HANG_UP
    assert fast_ws.stop_reasons(session.session_id) == ["AGENT_HANG_UP"]
    assert fast_ws.ws.connections(session.session_id) == 1


async def test_dropped_socket_reconnects_within_the_window(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """A socket cut by the network is reopened: the session carries on; audio on the lost socket is cut."""
    fast_ws.ws.time_scale = 1.0
    async with lite(client) as session, session.realtime(reconnect_window=3.0, max_ahead=0.5) as rt:
        sid = session.session_id
        cut = await rt.speak(pcm(3.0))
        await wait_for(lambda: cut.chunks_sent >= 1)
        fast_ws.ws.refuse(times=2)  # the first reconnects fail too
        assert fast_ws.ws.drop(sid) == 1
        await wait_for(lambda: fast_ws.ws.connections(sid) == 2 and rt.connected)
        assert cut.ended
        assert cut.interrupted
        fast_ws.ws.time_scale = 0.05
        fresh = await rt.speak(pcm(0.2))
        with anyio.fail_after(5):
            await fresh.wait_ended()
        assert not fresh.interrupted
        assert session.state is SessionState.ACTIVE
    assert fast_ws.stop_reasons(sid) == ["USER_CLOSED"]
    assert [h.status for h in fast_ws.ws.handshakes] == [101, 503, 503, 101]
    assert {m.connection for m in speak_chunks(fast_ws, sid) if m.event_id == fresh.event_id} == {2}
    assert all(m.event_id != cut.event_id for m in fast_ws.ws.messages(sid) if m.connection == 2)


async def test_failed_reconnect_ends_the_session(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """No reconnect within the window: the running session is stopped (SERVER_ERROR) and the block ends."""
    with pytest.raises(SessionEndedError) as info:
        async with lite(client) as session, session.realtime(reconnect_window=0.15) as rt:
            fast_ws.ws.refuse(times=1000)
            fast_ws.ws.drop(session.session_id)
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.SERVER_ERROR
    assert fast_ws.stop_reasons(session.session_id) == ["SERVER_ERROR"]
    assert rt.closed
    assert len(fast_ws.ws.handshakes) >= 3  # it did try


async def test_keep_alive_over_the_socket_with_rest_fallback() -> None:
    """While the socket is up keep-alive goes over it (and keeps the session from idling out); else REST."""
    async with (
        LiveAvatarEmulator(api_key=API_KEY, idle_timeout=0.4) as emulator,
        LiveAvatarClient(
            API_KEY,
            base_url=emulator.base_url,
            retry_policy=RetryPolicy(backoff_initial=0.01, backoff_max=0.05),
        ) as client,
    ):
        emulator.ws.connect_delay = 0.02
        async with lite(client, keep_alive_interval=0.05) as session:
            sid = session.session_id
            async with session.realtime(reconnect_window=3.0) as rt:
                await wait_for(
                    lambda: len(emulator.ws.messages(sid, type="session.keep_alive")) >= 1
                )
                over_socket_from = emulator.ws.messages(sid, type="session.keep_alive")[0].at
                await anyio.sleep(0.55)  # longer than the idle timeout
                await wait_for(
                    lambda: len(emulator.ws.messages(sid, type="session.keep_alive")) >= 6
                )
                over_socket_until = emulator.ws.messages(sid, type="session.keep_alive")[-1].at
                # The socket goes away for a while: REST takes over, then the socket again.
                emulator.ws.refuse(times=3)
                emulator.ws.drop(sid)
                await wait_for(lambda: emulator.ws.connections(sid) == 2 and rt.connected)
                rest_in_gap = len(emulator.requests("keep_alive", session_id=sid))
                await wait_for(
                    lambda: any(
                        m.connection == 2
                        for m in emulator.ws.messages(sid, type="session.keep_alive")
                    )
                )
            # The socket is closed: REST takes over again.
            last_over_socket = emulator.ws.messages(sid, type="session.keep_alive")[-1].at
            await wait_for(
                lambda: any(
                    r.at > last_over_socket for r in emulator.requests("keep_alive", session_id=sid)
                )
            )
            assert session.state is SessionState.ACTIVE
        rest = emulator.requests("keep_alive", session_id=sid)
    beats = emulator.ws.messages(sid, type="session.keep_alive")
    assert len([b for b in beats if b.connection == 1]) >= 6
    assert all(b.event_id for b in beats)
    assert [r for r in rest if over_socket_from < r.at < over_socket_until] == []
    assert rest_in_gap >= 1
    assert len([r for r in rest if r.at > beats[-1].at]) >= 1
    assert emulator.stop_reasons(sid) == ["USER_CLOSED"]


# --- the emulator's side ------------------------------------------------------------------------------------


async def test_emulator_drops_early_commands_and_refuses_big_messages(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The emulator drops what comes before `connected` (journaled) and closes with 1009 at 1 MB."""
    emulator.ws.connect_delay = 0.2
    async with lite(client) as session, aiohttp.ClientSession() as http:
        ws_url = session.info.ws_url
        assert ws_url is not None
        async with http.ws_connect(ws_url) as ws:
            await ws.send_str(json.dumps({"type": "agent.start_listening", "event_id": "early"}))
            first = await ws.receive_json()
            second = await ws.receive_json()
            await ws.send_str(json.dumps({"type": "agent.start_listening", "event_id": "late"}))
            third = await ws.receive_json()
            await ws.send_str(json.dumps({"type": "nope", "event_id": "n"}))
            fourth = await ws.receive_json()
            await ws.send_str("x" * 1_000_000)
            closing = await ws.receive()
        sid = session.session_id
    assert [first["state"], second["state"], third["state"]] == [
        "connecting",
        "connected",
        "listening",
    ]
    assert fourth["type"] == "error"
    assert fourth["error"]["event_id"] == "n"
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert closing.data == 1009
    journal = emulator.ws.messages(sid, dropped=None)
    assert [(m.event_id, m.dropped, m.rejected) for m in journal] == [
        ("early", True, False),
        ("late", False, False),
        ("n", False, False),
        (None, False, True),
    ]
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(ws_url)  # the session has ended
    assert info.value.status == 404


# --- the example ------------------------------------------------------------------------------------------


def test_example_lite_bot_speaks_a_wav(tmp_path: Path) -> None:
    """`examples/lite_bot.py --emulator` speaks a WAV file against the embedded emulator and reacts to
    its events."""
    path = tmp_path / "tone.wav"
    path.write_bytes(wav_bytes(seconds=0.4))
    done = subprocess.run(  # noqa: S603 - our own example, run with this interpreter
        [sys.executable, str(ROOT / "examples" / "lite_bot.py"), "--emulator", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for expected in [
        "queued 0.40 s of audio in 1 messages",
        "socket: connected",
        "the avatar started speaking",
        "the avatar finished speaking",
        "listening",
        "stop reasons the server saw: ['USER_CLOSED']",
    ]:
        assert expected in lines, done.stdout


async def test_example_lite_bot_refuses_a_bad_wav(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example reports a WAV in the wrong format instead of playing noise (run in-process)."""
    spec = importlib.util.spec_from_file_location("lite_bot", ROOT / "examples" / "lite_bot.py")
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    path = tmp_path / "stereo.wav"
    path.write_bytes(wav_bytes(channels=2))
    assert await example.main(example.parse([str(path)])) == 2
    assert "2 channels (need mono)" in capsys.readouterr().out


def test_a_deeply_nested_frame_is_a_raw_event() -> None:
    """A frame of 200,000 '[' decodes to a RawEvent (never a RecursionError)."""
    from aioavatar.liveavatar._realtime_protocol import decode_event

    event = decode_event("[" * 200_000)
    assert isinstance(event, RawEvent)
    assert event.type == ""


@pytest.mark.parametrize("ws_url", ["ws://[::1/ws", "ws://127.0.0.1:99999/ws", "http://x/ws"])
async def test_a_malformed_ws_url_is_a_configuration_error(ws_url: str) -> None:
    """A ws_url that cannot be parsed (a bad bracket or port, a wrong scheme) is refused."""
    async with aiohttp.ClientSession() as http:
        with pytest.raises(ConfigurationError) as info:
            RealtimeConnection(http, ws_url, on_lost=_never_called, expect_close=lambda: False)
    assert info.value.field == "ws_url"


async def _never_called() -> None:  # pragma: no cover - a connection never opened loses nothing
    raise AssertionError("not expected")


def test_a_released_buffer_is_a_configuration_error() -> None:
    """A released memoryview passed as audio is refused (not a ValueError from bytes())."""
    view = memoryview(b"\x00\x00")
    view.release()
    with pytest.raises(ConfigurationError):
        check_pcm(view)
    with pytest.raises(ConfigurationError):
        read_wav(view)
