"""The LITE WebSocket of the LiveAvatar emulator, with a raw client: how the avatar plays audio, the agent
states it reports, what it accepts, and what counts as activity."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import anyio
import pytest

from aioavatar import AvatarSession, EndReason, LiveAvatarClient, SessionState
from aioavatar.testing import LiveAvatarEmulator

from ..conftest import FAST_RETRIES
from ..liveavatar.lite import lite
from ..providers import API_KEY, AVATAR_ID
from .helpers import LiteSocket, lite_socket, pcm_b64, start

pytestmark = pytest.mark.anyio

SCALE = 0.2  # audio plays five times faster than real time


@pytest.fixture
async def fast() -> AsyncIterator[LiveAvatarEmulator]:
    """An emulator that plays audio five times faster than real time and connects at once."""
    async with LiveAvatarEmulator(API_KEY, time_scale=SCALE, connect_delay=0) as emulator:
        yield emulator


async def socket_of(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> tuple[str, str]:
    """Start a LITE sandbox session; return its id and ws_url."""
    session_id, _, data = await start(http, emulator, mode="LITE", is_sandbox=True)
    return session_id, data["ws_url"]


def states(socket: LiteSocket) -> list[tuple[str | None, str]]:
    """(previous_state, new_state) of every agent.state_updated, checking both shapes agree."""
    updates = socket.of("agent.state_updated")
    assert all(m["state"] == m["new_state"] for m in updates)
    return [(m["previous_state"], m["new_state"]) for m in updates]


# ---- the audio queue ----------------------------------------------------------------------------


async def test_chunks_with_their_own_ids_are_one_utterance_played_to_the_end(
    http: aiohttp.ClientSession, fast: LiveAvatarEmulator
) -> None:
    """Three chunks with three event ids, speak_end with a fourth, then start_listening: one utterance,
    ended only once its 2.5 s have played; `listening` comes after, not at once."""
    _, ws_url = await socket_of(http, fast)
    async with lite_socket(http, ws_url) as socket:
        sent = time.monotonic()  # before the server has any of the audio
        await socket.send(
            {"type": "agent.speak", "event_id": "c1", "audio": pcm_b64(0.6)},
            {"type": "agent.speak", "event_id": "c2", "audio": pcm_b64(1.0)},
            {"type": "agent.speak", "event_id": "c3", "audio": pcm_b64(0.9)},
            {"type": "agent.speak_end", "event_id": "e"},
            {"type": "agent.start_listening", "event_id": "l"},
        )
        await socket.until(lambda: ("talking", "listening") in states(socket))
    assert socket.types()[2:] == [
        "agent.speak_started",
        "agent.state_updated",
        "agent.speak_ended",
        "agent.state_updated",
    ]
    (started,) = socket.of("agent.speak_started")
    (ended,) = socket.of("agent.speak_ended")
    assert started["event_id"] == ended["event_id"] == "c1"
    assert started["task"] == ended["task"]
    assert states(socket) == [("idle", "talking"), ("talking", "listening")]
    # From before the audio was sent, not from when speak_started was read: a message is stamped
    # when the test reads it, and one read late would shorten the interval.
    assert socket.at("agent.speak_ended") - sent >= 2.5 * SCALE
    assert socket.of("error") == []


async def test_utterances_queue_in_order_and_the_agent_stays_talking_between_them(
    http: aiohttp.ClientSession, fast: LiveAvatarEmulator
) -> None:
    """Two utterances sent at once play one after the other, each with its own task."""
    _, ws_url = await socket_of(http, fast)
    async with lite_socket(http, ws_url) as socket:
        await socket.send(
            {"type": "agent.speak", "event_id": "a", "audio": pcm_b64(0.2)},
            {"type": "agent.speak_end", "event_id": "a"},
            {"type": "agent.speak", "event_id": "b", "audio": pcm_b64(0.2)},
            {"type": "agent.speak_end", "event_id": "b"},
        )
        await socket.until(lambda: len(socket.of("agent.speak_ended")) == 2)
        await socket.until(lambda: ("talking", "idle") in states(socket))
    started = [m["event_id"] for m in socket.of("agent.speak_started")]
    ended = [m["event_id"] for m in socket.of("agent.speak_ended")]
    assert started == ended == ["a", "b"]
    assert len({m["task"]["id"] for m in socket.of("agent.speak_started")}) == 2
    assert socket.at("agent.speak_started", 1) >= socket.at("agent.speak_ended", 0)
    assert states(socket) == [("idle", "talking"), ("talking", "idle")]


async def test_without_speak_end_the_avatar_waits_for_more_audio(
    http: aiohttp.ClientSession, fast: LiveAvatarEmulator
) -> None:
    """Audio with no speak_end starts but never ends; more audio and then speak_end finish it."""
    _, ws_url = await socket_of(http, fast)
    async with lite_socket(http, ws_url) as socket:
        await socket.send({"type": "agent.speak", "event_id": "a", "audio": pcm_b64(0.05)})
        await socket.until(lambda: bool(socket.of("agent.speak_started")))
        await anyio.sleep(0.3)  # far longer than the audio takes
        await socket.send(
            {"type": "agent.speak", "event_id": "later", "audio": pcm_b64(0.05)},
            {"type": "agent.speak_end", "event_id": "a"},
        )
        await socket.until(lambda: bool(socket.of("agent.speak_ended")))
    assert socket.types().count("agent.speak_ended") == 1
    assert socket.at("agent.speak_ended") > socket.at("agent.speak_started") + 0.3


async def test_interrupt_cuts_the_utterance_and_drops_what_was_queued(
    http: aiohttp.ClientSession, fast: LiveAvatarEmulator
) -> None:
    """agent.interrupt: speak_interrupted for the playing utterance, the queued one never plays, and
    audio sent afterwards (whatever its id) is a new utterance."""
    _, ws_url = await socket_of(http, fast)
    async with lite_socket(http, ws_url) as socket:
        await socket.send(
            *[{"type": "agent.speak", "event_id": "long", "audio": pcm_b64(5.0)}] * 6,
            {"type": "agent.speak_end", "event_id": "long"},
            {"type": "agent.speak", "event_id": "queued", "audio": pcm_b64(0.1)},
            {"type": "agent.speak_end", "event_id": "queued"},
        )
        await socket.until(lambda: bool(socket.of("agent.speak_started")))
        await socket.send({"type": "agent.interrupt", "event_id": None})  # as pipecat sends it
        await socket.until(lambda: ("talking", "idle") in states(socket))
        await socket.send(
            {"type": "agent.speak", "event_id": "long", "audio": pcm_b64(0.1)},
            {"type": "agent.speak_end", "event_id": "long"},
        )
        await socket.until(lambda: bool(socket.of("agent.speak_ended")))
    (interrupted,) = socket.of("agent.speak_interrupted")
    assert interrupted["event_id"] == "long"
    assert [m["event_id"] for m in socket.of("agent.speak_started")] == ["long", "long"]
    assert [m["event_id"] for m in socket.of("agent.speak_ended")] == ["long"]
    first, second = socket.of("agent.speak_started")
    assert first["task"] != second["task"]


async def test_listening_pose_and_stop_listening(
    http: aiohttp.ClientSession, fast: LiveAvatarEmulator
) -> None:
    """start_listening while idle is `listening` at once; stop_listening is `idle`; repeats say nothing."""
    _, ws_url = await socket_of(http, fast)
    async with lite_socket(http, ws_url) as socket:
        await socket.send(
            {"type": "agent.start_listening", "event_id": "1"},
            {"type": "agent.start_listening", "event_id": "2"},
            {"type": "agent.stop_listening", "event_id": "3"},
            {"type": "agent.stop_listening", "event_id": "4"},
            {"type": "agent.start_listening", "event_id": "5"},
        )
        await socket.until(lambda: len(states(socket)) == 3)
    assert states(socket) == [("idle", "listening"), ("listening", "idle"), ("idle", "listening")]


# ---- what the server accepts --------------------------------------------------------------------


async def test_start_frame_and_messages_without_event_id_are_accepted(
    http: aiohttp.ClientSession, fast: LiveAvatarEmulator
) -> None:
    """A `start` frame, agent.speak and agent.speak_end without event_id: no error, the audio plays."""
    session_id, ws_url = await socket_of(http, fast)
    async with lite_socket(http, ws_url) as socket:
        await socket.send(
            {"type": "start", "encoding": "pcm_s16le", "sample_rate": 24000, "channels": 1},
            {"type": "agent.speak", "audio": pcm_b64(0.1)},
            {"type": "agent.speak", "audio": pcm_b64(0.1)},
            {"type": "agent.speak_end"},
        )
        await socket.until(lambda: bool(socket.of("agent.speak_ended")))
    assert socket.of("error") == []
    (ended,) = socket.of("agent.speak_ended")
    assert ended["event_id"] is None
    assert ended["task"]["id"]
    assert fast.ws.messages(session_id)[0].type == "start"


async def test_what_the_server_refuses_gets_an_error_event(
    http: aiohttp.ClientSession, fast: LiveAvatarEmulator
) -> None:
    """An unknown type, audio that is not base64 16-bit PCM and a non-object frame each get an error;
    a speak_end with nothing to end is ignored."""
    _, ws_url = await socket_of(http, fast)
    async with lite_socket(http, ws_url) as socket:
        await socket.send(
            {"type": "agent.speak_end", "event_id": "nothing"},
            {"type": "agent.dance", "event_id": "d"},
            {"type": "agent.speak", "event_id": "s", "audio": "not base64!"},
            {"type": "agent.speak", "event_id": "o", "audio": "AAA="},  # one byte
            "[1, 2]",
        )
        await socket.until(lambda: len(socket.of("error")) == 3)
    errors = [m["error"] for m in socket.of("error")]
    assert [e["event_id"] for e in errors] == ["d", "s", None]
    assert all(e["type"] == "invalid_request_error" for e in errors)
    await anyio.sleep(0.05)
    assert "agent.speak_started" not in socket.types()


# ---- activity -----------------------------------------------------------------------------------


async def test_any_client_message_keeps_the_session_alive(http: aiohttp.ClientSession) -> None:
    """A session that only talks (no session.keep_alive) outlives its idle window; silent, it ends with
    IDLE_TIMEOUT one window after its last message."""
    async with LiveAvatarEmulator(API_KEY, idle_timeout=0.3, connect_delay=0) as emulator:
        session_id, ws_url = await socket_of(http, emulator)
        async with lite_socket(http, ws_url) as socket:
            for _ in range(12):  # 0.6 s of talking, twice the window
                await socket.send({"type": "agent.speak", "audio": pcm_b64(0.05)})
                await anyio.sleep(0.05)
            assert emulator.sessions[session_id].state == "started"
            last = emulator.ws.messages(session_id)[-1].at
            await socket.until(
                lambda: "closed" in [m["state"] for m in socket.of("session.state_updated")]
            )
        session = emulator.sessions[session_id]
        assert session.end_reason is EndReason.IDLE_TIMEOUT
        assert session.ended_at == pytest.approx(last + 0.3, abs=0.001)


async def test_our_client_keeps_alive_while_it_talks() -> None:
    """The SDK's own realtime client sends session.keep_alive on its interval even while it speaks
    without pause: it does not count on speech to keep the session alive."""
    async with (
        LiveAvatarEmulator(API_KEY, time_scale=0.1, connect_delay=0) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=FAST_RETRIES) as client,
    ):
        session = AvatarSession(
            AVATAR_ID, client=client, is_sandbox=True, mode="LITE", keep_alive_interval=0.1
        )
        async with session, session.realtime(max_ahead=0.3) as rt:
            # Two seconds: the client paces its chunks in real time, 0.3 s ahead at most.
            utterance = await rt.speak(b"\x01\x00" * 48_000)
            assert await utterance.wait_started()
            await utterance.wait_ended()
            sid = session.session_id
            assert session.state is SessionState.ACTIVE
    speech = emulator.ws.messages(sid, type="agent.speak")
    beats = emulator.ws.messages(sid, type="session.keep_alive")
    talking = [b for b in beats if speech[0].at < b.at < speech[-1].at]
    assert len(speech) == 3  # 0.5 s, 1 s, 0.5 s: over 1.2 s apart from first to last
    assert len(talking) >= 3  # the chunks' own sends did not stand in for them


# ---- the SDK's own client against the socket's limits --------------------------------------------


async def test_emulator_drops_early_commands_and_refuses_big_messages(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The emulator drops what comes before `connected` (journaled) and closes with 1009 past 1 MB
    (a message of 1 MB is "at most 1 MB": read, here as bad JSON)."""
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
            at_the_limit = await ws.receive_json()
            await ws.send_str("x" * 1_000_001)
            closing = await ws.receive()
        sid = session.session_id
    assert [first["state"], second["state"], third["state"]] == [
        "connecting",
        "connected",
        "listening",
    ]
    assert fourth["type"] == "error"
    assert fourth["error"]["event_id"] == "n"
    assert at_the_limit["type"] == "error"
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert closing.data == 1009
    journal = emulator.ws.messages(sid, dropped=None)
    assert [(m.event_id, m.dropped, m.rejected) for m in journal] == [
        ("early", True, False),
        ("late", False, False),
        ("n", False, False),
        (None, False, False),  # the 1 MB message, read
        (None, False, True),
    ]
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(ws_url)  # the session has ended
    assert info.value.status == 404
