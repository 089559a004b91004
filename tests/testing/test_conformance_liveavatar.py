"""What real LiveAvatar clients send, replayed request for request and frame for frame against the
emulator, asserting what the real server answers (the reference), so that the emulator cannot drift back.

The traffic below was recorded on 2026-12-01 by running each client's own code against the emulator on
127.0.0.1 and journaling what arrived (the clients are not dependencies of this suite):

* ``livekit-plugins-liveavatar`` 1.8.9: ``LiveAvatarAPI`` for REST and ``AvatarSession._main_task`` for the
  socket, fed 2.5 s of TTS audio in 20 ms frames, then the end of the segment.
* ``vision-agents-plugins-liveavatar`` 0.6.9 (GetStream): ``LiveAvatarClient`` and ``LiveAvatarWebSocket``,
  fed five 100 ms frames, ``end_turn()``, ``interrupt()``.
* ``pipecat-ai[heygen]`` 1.14.0: ``LiveAvatarApi.new_session`` / ``close_session`` and ``HeyGenClient``'s
  socket methods (``agent_speak`` with ``video.py``'s 0.4 s / 1 s chunking, ``interrupt``,
  ``start_agent_listening``, ``stop_agent_listening``).
* ``@heygen/liveavatar-web-sdk`` 0.0.18 in Node: ``LiveAvatarSession`` (which decodes the session token),
  its ``SessionAPIClient`` (start, keep-alive, stop) and ``repeatAudio`` / ``startListening`` /
  ``interrupt`` on the socket.
* The official Python starter's ``start`` frame after ``connected``: not run (no package); written from
  the reference.

Audio is recorded as its length (``AUDIO(seconds)``); event ids are the recorded ones.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp
import anyio
import pytest

from aioavatar.testing import LiveAvatarEmulator

from ..providers import API_KEY, AVATAR_ID
from .helpers import LiteSocket, Reply, call, lite_socket, pcm_b64

pytestmark = pytest.mark.anyio

SCALE: Final = 0.1  # audio plays ten times faster than real time
SESSION: Final = "<the session id>"  # replaced by the session the replay created
KEY_HEADER: Final = {"X-API-KEY": API_KEY}


def AUDIO(seconds: float) -> str:
    """Audio of the recorded length (its content was never the point)."""
    return pcm_b64(seconds)


def bearer_headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def filled(value: Any, session_id: str) -> Any:
    """``value`` with the SESSION placeholder replaced."""
    return json.loads(json.dumps(value).replace(SESSION, session_id))


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.fixture
async def emulator() -> AsyncIterator[LiveAvatarEmulator]:
    """An emulator playing audio ten times faster than real time."""
    async with LiveAvatarEmulator(API_KEY, time_scale=SCALE) as running:
        yield running


async def post(
    http: aiohttp.ClientSession,
    emulator: LiveAvatarEmulator,
    path: str,
    headers: dict[str, str],
    body: Any = None,
    *,
    raw: bytes | None = None,
) -> Reply:
    """POST as the client did: a JSON body, raw bytes, or nothing at all."""
    return await call(http, emulator, "POST", path, headers=headers, json_body=body, data=raw)


# ---- livekit-plugins-liveavatar (items 1, 3, 4, 9) -------------------------------------------------

LIVEKIT_TOKEN: Final = {
    "mode": "LITE",
    "avatar_id": AVATAR_ID,
    "is_sandbox": True,
    "livekit_config": {
        "livekit_room": "my-room",
        "livekit_url": "wss://my-livekit.example",
        "livekit_client_token": "lk-token-for-the-avatar",
    },
}
LIVEKIT_START: Final = {"session_id": SESSION}
LIVEKIT_FRAMES: Final[list[dict[str, Any]]] = [
    {
        "type": "agent.speak",
        "event_id": "d236df06-1225-44f3-b1e3-eeabe95d85f4",
        "audio": AUDIO(0.6),
    },
    {
        "type": "agent.speak",
        "event_id": "f5695a2a-a04b-46eb-889f-9f5e5a3029ce",
        "audio": AUDIO(1.0),
    },
    {
        "type": "agent.speak",
        "event_id": "ed43e2a8-4e08-4747-be52-07c507e98ce6",
        "audio": AUDIO(0.9),
    },
    {"type": "agent.speak_end", "event_id": "aae77d5e-6aea-44d0-98cd-b5f1420cfcc2"},
    {"type": "agent.start_listening", "event_id": "7de4e888-cd20-4b6b-a868-787d8bd4594e"},
]
LIVEKIT_STOP: Final = {"session_id": SESSION, "reason": "USER_DISCONNECTED"}


async def livekit_start(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> tuple[str, str, Reply]:
    """The plugin's token and start requests, with its headers; the session id, token and start answer."""
    headers = {"accept": "application/json", "content-type": "application/json", **KEY_HEADER}
    token = await post(http, emulator, "/v1/sessions/token", headers, LIVEKIT_TOKEN)
    assert token.status == 200
    session_id, session_token = (
        token.body["data"]["session_id"],
        token.body["data"]["session_token"],
    )
    start_headers = bearer_headers(session_token, **{"content-type": "application/json"})
    start = await post(
        http, emulator, "/v1/sessions/start", start_headers, filled(LIVEKIT_START, session_id)
    )
    return session_id, session_token, start


async def test_livekit_plugin(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """The livekit plugin's session: its own room in the start answer, one utterance of its three
    chunks (three event ids) that ends only once 2.5 s have played, `listening` after it, agent states
    in the shape it reads, and its stop."""
    session_id, session_token, start = await livekit_start(http, emulator)
    assert start.status == 201
    data = start.body["data"]
    assert data["livekit_url"] == "wss://my-livekit.example"  # item 9: the caller's own room
    assert data["ws_url"]  # the plugin reads it unconditionally
    async with lite_socket(http, data["ws_url"]) as socket:
        sent = time.monotonic()  # before the server has any of the audio
        await socket.send(*LIVEKIT_FRAMES)
        await socket.until(lambda: bool(socket.of("agent.speak_ended")))
        await socket.until(lambda: any(m["new_state"] == "listening" for m in updates(socket)))
    (started,) = socket.of("agent.speak_started")
    assert started["event_id"] == LIVEKIT_FRAMES[0]["event_id"]
    # Item 1: not at the first chunk's end, nor at start_listening. Counted from before the audio
    # was sent: a message is stamped when the test reads it, and speak_started read late would
    # shorten the interval from it.
    assert socket.at("agent.speak_ended") - sent >= 2.5 * SCALE
    assert [(m["previous_state"], m["new_state"]) for m in updates(socket)] == [
        ("idle", "talking"),
        ("talking", "listening"),
    ]
    assert socket.at("agent.state_updated", 1) >= socket.at("agent.speak_ended")
    assert socket.of("error") == []
    stop = await post(
        http,
        emulator,
        "/v1/sessions/stop",
        bearer_headers(session_token, **{"content-type": "application/json"}),
        filled(LIVEKIT_STOP, session_id),
    )
    assert stop.status == 200
    assert emulator.sessions[session_id].end_reason == "USER_DISCONNECTED"


def updates(socket: LiteSocket) -> list[dict[str, Any]]:
    """agent.state_updated messages, which must carry both shapes (item 3)."""
    found = socket.of("agent.state_updated")
    for message in found:
        assert {"state", "previous_state", "new_state"} <= set(message)
        assert message["state"] == message["new_state"]
    return found


async def test_livekit_plugin_talking_without_keep_alive_stays_alive(
    http: aiohttp.ClientSession,
) -> None:
    """The plugin resets its keep-alive timer on every send, so a session that talks sends no
    session.keep_alive: its chunks alone keep it from IDLE_TIMEOUT (item 4)."""
    async with LiveAvatarEmulator(API_KEY, idle_timeout=0.4, time_scale=SCALE) as emulator:
        session_id, _, start = await livekit_start(http, emulator)
        async with lite_socket(http, start.body["data"]["ws_url"]) as socket:
            for _ in range(4):  # four turns, 0.2 s apart: 0.8 s, twice the idle window
                await socket.send(*LIVEKIT_FRAMES)
                await anyio.sleep(0.2)
            assert emulator.sessions[session_id].state == "started"
            assert emulator.ws.messages(session_id, type="session.keep_alive") == []
            assert socket.of("session.state_updated")[-1]["state"] == "connected"


# ---- GetStream vision-agents and the official Python starter (item 2) ------------------------------

VISION_TOKEN: Final = {
    "mode": "LITE",
    "avatar_id": AVATAR_ID,
    "is_sandbox": True,
    "video_settings": {"quality": "high", "encoding": "H264"},
}
START_FRAME: Final = {"type": "start", "encoding": "pcm_s16le", "sample_rate": 24000, "channels": 1}
VISION_FRAMES: Final[list[dict[str, Any]]] = [
    *[{"type": "agent.speak", "audio": AUDIO(0.1)}] * 5,
    {"type": "agent.speak_end"},
]
VISION_INTERRUPT: Final = {
    "type": "agent.interrupt",
    "event_id": "539d3200-a461-41bb-894c-68764432ec77",
}
VISION_STOP: Final = {"session_id": SESSION, "reason": "USER_CLOSED"}


async def test_vision_agents_plugin(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """GetStream's plugin: a `start` frame on connect (before `connected`: dropped silently), speech
    without event_id that plays, an interrupt, and a stop with the API key; no error anywhere."""
    token = await post(http, emulator, "/v1/sessions/token", KEY_HEADER, VISION_TOKEN)
    session_id, session_token = (
        token.body["data"]["session_id"],
        token.body["data"]["session_token"],
    )
    # httpx sends the client's default X-API-KEY with the session token on start.
    start = await post(
        http, emulator, "/v1/sessions/start", bearer_headers(session_token, **KEY_HEADER), {}
    )
    assert start.status == 201
    data = start.body["data"]
    assert {"livekit_agent_token", "ws_url"} <= set(data)  # its dataclass requires both
    async with lite_socket(http, data["ws_url"], wait_connected=False) as socket:
        await socket.send(START_FRAME)  # it does not wait for `connected`
        await socket.connected()
        await socket.send(*VISION_FRAMES)
        await socket.until(lambda: bool(socket.of("agent.speak_ended")))
        await socket.send(VISION_INTERRUPT)
        await socket.until(lambda: len(updates(socket)) == 2)
    assert socket.of("error") == []
    assert [m["event_id"] for m in socket.of("agent.speak_ended")] == [None]
    received = emulator.ws.messages(session_id, dropped=None)
    assert [m.type for m in received if m.dropped] == ["start"]
    stop = await post(
        http, emulator, "/v1/sessions/stop", KEY_HEADER, filled(VISION_STOP, session_id)
    )
    assert stop.status == 200
    assert emulator.sessions[session_id].end_reason == "USER_CLOSED"


async def test_python_starter_start_frame_after_connected(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """The official Python starter's `start` frame, sent once `connected` (reconstructed from the
    reference), is accepted without an error and without an answer."""
    token = await post(http, emulator, "/v1/sessions/token", KEY_HEADER, VISION_TOKEN)
    session_token = token.body["data"]["session_token"]
    start = await post(http, emulator, "/v1/sessions/start", bearer_headers(session_token), {})
    async with lite_socket(http, start.body["data"]["ws_url"]) as socket:
        await socket.send(
            START_FRAME, {"type": "agent.speak", "audio": AUDIO(0.1)}, {"type": "agent.speak_end"}
        )
        await socket.until(lambda: bool(socket.of("agent.speak_ended")))
    assert socket.types()[:3] == [
        "session.state_updated",
        "session.state_updated",
        "agent.speak_started",
    ]
    assert socket.of("error") == []


# ---- pipecat (item 8) --------------------------------------------------------------------------------

PIPECAT_TOKEN: Final = {
    "mode": "LITE",
    "avatar_id": AVATAR_ID,
    "is_sandbox": True,
    "video_settings": {"encoding": "H264", "quality": "high"},
}
PIPECAT_ID: Final = "6f29e80f-15cf-4245-bfcd-094179ca7b08"
PIPECAT_SPEECH: Final[list[dict[str, Any]]] = [
    {"type": "agent.speak", "audio": AUDIO(0.4), "event_id": PIPECAT_ID},
    {"type": "agent.speak", "audio": AUDIO(1.0), "event_id": PIPECAT_ID},
    {"type": "agent.speak", "audio": AUDIO(0.5), "event_id": PIPECAT_ID},
    {"type": "agent.speak_end", "event_id": PIPECAT_ID},
]
PIPECAT_BARGE_IN: Final[list[dict[str, Any]]] = [
    {"type": "agent.interrupt", "event_id": PIPECAT_ID},
    {"type": "agent.start_listening", "event_id": "d8699e2b-c120-4b3d-8d3b-39f38c649a0c"},
    {"type": "agent.stop_listening", "event_id": "e1830d5a-5a24-4762-8fc2-fc19605205db"},
    {"type": "agent.interrupt", "event_id": None},
]
PIPECAT_STOP: Final = {"session_id": SESSION}
#: What pipecat's LiveAvatarSessionData (pydantic) requires of the start answer.
PIPECAT_REQUIRES: Final = {
    "session_id": str,
    "livekit_url": str,
    "livekit_client_token": str,
    "livekit_agent_token": str,
    "max_session_duration": int,
    "ws_url": str,
}


@pytest.mark.parametrize("is_sandbox", [True, False])
async def test_pipecat(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator, is_sandbox: bool
) -> None:
    """pipecat's session: a start answer with every field its model requires (max_session_duration
    too, the tier's when none was asked for), its speech cut by a barge-in, `event_id: null` on an
    interrupt, and a stop whose body has no reason."""
    body = {**PIPECAT_TOKEN, "is_sandbox": is_sandbox}
    headers = {"accept": "application/json", "content-type": "application/json", **KEY_HEADER}
    token = await post(http, emulator, "/v1/sessions/token", headers, body)
    session_id, session_token = (
        token.body["data"]["session_id"],
        token.body["data"]["session_token"],
    )
    start = await post(  # no body, no content-type
        http,
        emulator,
        "/v1/sessions/start",
        bearer_headers(session_token, accept="application/json"),
    )
    assert start.status == 201
    data = start.body["data"]
    for field, kind in PIPECAT_REQUIRES.items():
        assert isinstance(data[field], kind), field
    assert data["max_session_duration"] == (60 if is_sandbox else 3600)
    async with lite_socket(http, data["ws_url"]) as socket:
        await socket.send(*PIPECAT_SPEECH)
        await socket.until(lambda: bool(socket.of("agent.speak_started")))
        await socket.send(*PIPECAT_BARGE_IN)
        await socket.until(lambda: len(updates(socket)) == 4)
    assert [m["event_id"] for m in socket.of("agent.speak_interrupted")] == [PIPECAT_ID]
    assert socket.of("agent.speak_ended") == []
    assert [m["new_state"] for m in updates(socket)] == ["talking", "idle", "listening", "idle"]
    assert socket.of("error") == []
    stop = await post(
        http,
        emulator,
        "/v1/sessions/stop",
        bearer_headers(session_token),
        filled(PIPECAT_STOP, session_id),
    )
    assert stop.status == 200
    assert emulator.sessions[session_id].end_reason == "UNKNOWN"  # a body without a reason


# ---- the official web SDK (item 5) -------------------------------------------------------------------

WEB_TOKENS: Final = {
    "lite": ({"avatar_id": AVATAR_ID, "mode": "LITE", "is_sandbox": True}, "LITE", "FULL"),
    "full": ({"avatar_id": AVATAR_ID, "is_sandbox": True}, "FULL", "FULL"),
    "elevenlabs": (
        {
            "avatar_id": AVATAR_ID,
            "mode": "LITE",
            "is_sandbox": True,
            "elevenlabs_agent_config": {"secret_id": "s", "agent_id": "a"},
        },
        "LITE",
        "ELEVENLABS_AGENT",
    ),
}
WEB_ID: Final = "4faadfb0-919c-4eb1-a9b8-3b50d455eeba"
WEB_FRAMES: Final[list[dict[str, Any]]] = [
    {"type": "agent.speak", "event_id": WEB_ID, "audio": AUDIO(0.3)},
    {"type": "agent.speak", "event_id": WEB_ID, "audio": AUDIO(0.75)},
    {"type": "agent.speak", "event_id": WEB_ID, "audio": AUDIO(0.15)},
    {"type": "agent.speak_end", "event_id": WEB_ID},
]
WEB_AFTER: Final[list[dict[str, Any]]] = [
    {"type": "agent.start_listening", "event_id": "ebf615e7-c059-47c4-81f6-014b900344a9"},
    {"type": "agent.interrupt", "event_id": "23be34d2-7ddc-46ba-843f-d882bbe9a97f"},
]


@pytest.mark.parametrize("kind", list(WEB_TOKENS))
async def test_web_sdk_reads_the_session_token(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator, kind: str
) -> None:
    """The token's claims give the web SDK its mode and agent type: start_session_data.mode, the
    connector configs and agent_type (what LiveAvatarSession.mode / .agentType reported)."""
    body, mode, agent_type = WEB_TOKENS[kind]
    token = await post(http, emulator, "/v1/sessions/token", KEY_HEADER, body)
    data = claims(token.body["data"]["session_token"])["start_session_data"]
    assert (data["mode"], data["agent_type"]) == (mode, agent_type)
    if "elevenlabs_agent_config" in body:
        assert data["elevenlabs_agent_config"] == body["elevenlabs_agent_config"]


async def test_web_sdk_session(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """The web SDK's calls (start, keep-alive and stop with no body and a JSON content type) and its
    socket traffic: 201, 200, 200 with the OpenAPI's USER_CLOSED; its speech plays out."""
    token = await post(http, emulator, "/v1/sessions/token", KEY_HEADER, WEB_TOKENS["lite"][0])
    session_id, session_token = (
        token.body["data"]["session_id"],
        token.body["data"]["session_token"],
    )
    headers = bearer_headers(session_token, **{"Content-Type": "application/json"})
    start = await post(http, emulator, "/v1/sessions/start", headers, raw=b"")
    assert (start.status, start.body["code"]) == (201, 1000)  # it checks code == 1000
    async with lite_socket(http, start.body["data"]["ws_url"]) as socket:
        await socket.send(*WEB_FRAMES)
        await socket.until(lambda: bool(socket.of("agent.speak_ended")))
        await socket.send(*WEB_AFTER)
        await socket.until(lambda: any(m["new_state"] == "listening" for m in updates(socket)))
    assert [m["event_id"] for m in socket.of("agent.speak_started")] == [WEB_ID]
    assert [m["event_id"] for m in socket.of("agent.speak_ended")] == [WEB_ID]
    keep_alive = await post(http, emulator, "/v1/sessions/keep-alive", headers, raw=b"")
    assert (keep_alive.status, keep_alive.body["code"]) == (200, 1000)
    stop = await post(http, emulator, "/v1/sessions/stop", headers, raw=b"")
    assert (stop.status, stop.body["code"]) == (200, 1000)
    assert emulator.sessions[session_id].end_reason == "USER_CLOSED"
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
