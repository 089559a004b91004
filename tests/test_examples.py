"""The examples in ``examples/``, run against the emulators: what the browser got, what the server got."""

from __future__ import annotations

import importlib.util
import json
import mimetypes
import os
import signal
import socket
import subprocess
import sys
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType

import aiohttp
import anyio
import pytest
from aiohttp import web

from aioavatar import EndReason, KalturaAvatarClient
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .audio import wav_bytes
from .conftest import API_KEY, AVATAR_ID

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


backend = load_example("backend")


async def eventually(condition: Callable[[], object], within: float = 10.0) -> None:
    """Wait until ``condition()`` is true (the emulator shares this loop: poll it)."""
    with anyio.fail_after(within):
        while True:
            if condition():
                return
            await anyio.sleep(0.01)


# --- examples/backend.py -------------------------------------------------------------------------------


class Backend:
    """The example backend served on 127.0.0.1, and a browser's HTTP session to reach it."""

    def __init__(self, runner: web.AppRunner, url: str, http: aiohttp.ClientSession) -> None:
        self.runner = runner
        self.url = url
        self.http = http

    async def open_session(self) -> dict[str, str]:
        async with self.http.post(f"{self.url}/sessions") as answer:
            assert answer.status == 200, await answer.text()
            document: dict[str, str] = await answer.json()
            return document

    def live(self, handle: str) -> aiohttp.client._WSRequestContextManager:
        return self.http.ws_connect(f"{self.url}/sessions/{handle}/live")


@pytest.fixture
def connect_grace() -> float:
    return 10.0


@pytest.fixture
def sandbox_max_duration() -> float:
    return 60.0


@pytest.fixture
async def emulator(sandbox_max_duration: float) -> AsyncIterator[LiveAvatarEmulator]:
    """The suite's emulator, with the sandbox cap a test asks for."""
    async with LiveAvatarEmulator(
        api_key=API_KEY, sandbox_max_duration=sandbox_max_duration
    ) as emu:
        yield emu


@pytest.fixture
async def served(emulator: LiveAvatarEmulator, connect_grace: float) -> AsyncIterator[Backend]:
    app = backend.make_app(
        avatar_id=AVATAR_ID,
        api_key=API_KEY,
        base_url=emulator.base_url,
        is_sandbox=True,
        connect_grace=connect_grace,
        max_sessions=2,
    )
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            yield Backend(runner, f"http://127.0.0.1:{port}", http)
    finally:
        await runner.cleanup()


def only_session(emulator: LiveAvatarEmulator) -> str:
    (session_id,) = emulator.sessions
    return session_id


async def test_browser_gets_only_what_it_needs_and_closing_the_page_stops_the_session(
    emulator: LiveAvatarEmulator, served: Backend
) -> None:
    """POST /sessions answers the LiveKit URL and client token only; closing the page stops the session
    once, with USER_CLOSED."""
    async with served.http.post(f"{served.url}/sessions") as answer:
        assert answer.status == 200
        raw = await answer.text()
    document = json.loads(raw)
    session_id = only_session(emulator)
    assert set(document) == {"session", "livekit_url", "livekit_client_token"}
    assert document["livekit_url"] == "wss://livekit.emulator.invalid"
    assert document["livekit_client_token"].count(".") == 2
    for secret in (API_KEY, emulator.sessions[session_id].token):
        assert secret not in raw
    assert session_id not in document["session"]  # the backend's own handle, not the API's id
    assert emulator.sessions[session_id].is_active

    async with served.live(document["session"]) as page:
        await anyio.sleep(0.1)
        assert emulator.stop_reasons(session_id) == []  # alive while the page is open
    await eventually(lambda: emulator.stop_reasons(session_id))
    await anyio.sleep(0.1)
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
    assert page.closed


@pytest.mark.parametrize("connect_grace", [0.2])
async def test_a_page_that_never_connects_loses_its_session(
    emulator: LiveAvatarEmulator, served: Backend
) -> None:
    """No WebSocket within the grace period: the session is stopped with USER_DISCONNECTED."""
    document = await served.open_session()
    session_id = only_session(emulator)
    await eventually(lambda: emulator.stop_reasons(session_id))
    assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]
    # The server has the stop; the backend forgets the page once the stop's answer is back.
    sessions = served.runner.app[backend.SESSIONS]
    await eventually(lambda: sessions.page(document["session"]) is None)
    async with served.http.get(f"{served.url}/sessions/{document['session']}/live") as late:
        assert late.status == 404


async def test_a_broken_connection_stops_the_session_with_user_disconnected(
    emulator: LiveAvatarEmulator, served: Backend
) -> None:
    """The page's connection drops without a close frame: USER_DISCONNECTED."""
    document = await served.open_session()
    session_id = only_session(emulator)
    host, port = served.url.removeprefix("http://").split(":")
    async with await anyio.connect_tcp(host, int(port)) as stream:
        await stream.send(
            f"GET /sessions/{document['session']}/live HTTP/1.1\r\nHost: {host}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert (await stream.receive()).startswith(b"HTTP/1.1 101")
    await eventually(lambda: emulator.stop_reasons(session_id))
    assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]


@pytest.mark.parametrize("sandbox_max_duration", [1.5])
async def test_a_session_at_its_maximum_duration_is_stopped_and_its_page_closed(
    emulator: LiveAvatarEmulator, served: Backend
) -> None:
    """The maximum duration (here a sandbox cap of 1.5 s) passes with the page open: the SDK stops
    the session once with MAX_DURATION_REACHED (or, on a loaded machine, the emulator ends it at
    that deadline first and the SDK's stop finds it ended) and the backend closes the page's
    socket."""
    document = await served.open_session()
    session_id = only_session(emulator)
    async with served.live(document["session"]) as page:
        message = await page.receive()
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert emulator.stop_reasons(session_id) in (["MAX_DURATION_REACHED"], [])
    assert emulator.sessions[session_id].end_reason is EndReason.MAX_DURATION_REACHED


async def test_one_page_per_session_and_unknown_sessions(served: Backend) -> None:
    """A second page for a session is refused (409); an unknown handle is 404."""
    document = await served.open_session()
    async with (
        served.live(document["session"]),
        served.http.get(f"{served.url}/sessions/{document['session']}/live") as again,
    ):
        assert again.status == 409
    async with served.http.get(f"{served.url}/sessions/nope/live") as unknown:
        assert unknown.status == 404


async def test_shutdown_stops_every_session_and_closes_the_pages(
    emulator: LiveAvatarEmulator, served: Backend
) -> None:
    """Backend shutdown: each session (page open or not) is stopped once; open pages are closed."""
    with_page = await served.open_session()
    await served.open_session()  # its page has not connected yet
    async with served.live(with_page["session"]) as page:
        await anyio.sleep(0.05)
        with anyio.fail_after(5):  # not aiohttp's shutdown timeout: the pages are closed first
            await served.runner.cleanup()
        message = await page.receive()
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert sorted(len(emulator.stop_reasons(s)) for s in emulator.sessions) == [1, 1]
    for session_id in emulator.sessions:
        assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]


async def test_a_refused_start_is_a_502_without_details(
    emulator: LiveAvatarEmulator, served: Backend
) -> None:
    """The API refuses: the browser gets 502 and a generic message; nothing is left running."""
    emulator.inject("token", status=401)
    async with served.http.post(f"{served.url}/sessions") as answer:
        assert answer.status == 502
        body = await answer.text()
    assert API_KEY not in body
    assert "401" not in body
    assert emulator.sessions == {}


async def test_sessions_beyond_the_limit_are_refused(
    emulator: LiveAvatarEmulator, served: Backend
) -> None:
    """More pages than ``max_sessions``: 503, and no session is opened for it."""
    await served.open_session()
    await served.open_session()
    async with served.http.post(f"{served.url}/sessions") as answer:
        assert answer.status == 503
    assert len(emulator.sessions) == 2


async def test_backend_script_stops_sessions_on_ctrl_c(emulator: LiveAvatarEmulator) -> None:
    """`python examples/backend.py` under web.run_app: SIGINT stops the open sessions, then it exits."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, LIVEAVATAR_API_KEY=API_KEY, LIVEAVATAR_BASE_URL=emulator.base_url)
    process = await anyio.open_process(
        [sys.executable, str(EXAMPLES / "backend.py"), "--port", str(port), "--sandbox"],
        env=env,
    )
    async with process, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}"
        with anyio.fail_after(20):
            while True:
                try:
                    async with http.post(f"{url}/sessions") as answer:
                        document = await answer.json()
                        break
                except aiohttp.ClientConnectionError:
                    await anyio.sleep(0.05)
        async with http.ws_connect(f"{url}/sessions/{document['session']}/live") as page:
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(10):
                assert await process.wait() == 0
            assert (await page.receive()).type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
            )
    session_id = only_session(emulator)
    assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]


# --- examples/kaltura_speak.py -------------------------------------------------------------------------

kaltura_speak = load_example("kaltura_speak")


def write_wav(path: Path, seconds: float, rate: int = 24000) -> bytes:
    frames = b"\x00\x00" * int(seconds * rate)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(frames)
    return path.read_bytes()


async def test_kaltura_session_speaks_the_file_and_ends_once(
    kaltura_emulator: KalturaEmulator, kaltura_client: KalturaAvatarClient, tmp_path: Path
) -> None:
    """The example sends the file with its measured duration, then ends the session exactly once."""
    path = tmp_path / "hello.wav"
    content = write_wav(path, 0.25)
    duration = kaltura_speak.wav_duration(path)
    assert duration == 0.25
    session = await kaltura_speak.speak(kaltura_client, "avatar-1", path, duration)
    recorded = kaltura_emulator.sessions[session.session_id]
    (turn,) = recorded.turns
    assert (turn.kind, turn.audio, turn.duration) == ("audio", content, 0.25)
    assert (turn.filename, turn.content_type) == ("hello.wav", mimetypes.guess_type("hello.wav")[0])
    assert len(kaltura_emulator.requests("end", session_id=session.session_id)) == 1
    assert recorded.ended_by == "end"
    assert session.end_reason == "USER_CLOSED"


async def test_kaltura_speak_script_on_the_embedded_emulator(tmp_path: Path) -> None:
    """`python examples/kaltura_speak.py --emulator file.wav` runs a whole session; an MP3 needs
    --duration."""
    path = tmp_path / "hello.wav"
    write_wav(path, 0.1)
    script = [sys.executable, str(EXAMPLES / "kaltura_speak.py"), "--emulator"]
    done = await anyio.run_process([*script, str(path)], check=False)
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert "Session ended: USER_CLOSED" in out
    assert "The emulator received 1 utterance(s) and 1 end call(s)." in out

    mp3 = tmp_path / "hello.mp3"
    mp3.write_bytes(b"ID3\x03\x00")
    refused = await anyio.run_process([*script, str(mp3)], check=False)
    assert refused.returncode == 2
    assert "give --duration" in refused.stderr.decode()


async def test_backend_script_on_the_embedded_emulator() -> None:
    """`python examples/backend.py --emulator` needs no account: a page gets a session, and SIGINT
    stops it and ends the script (every example takes --emulator the same way)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEAVATAR_")}
    process = await anyio.open_process(
        [sys.executable, str(EXAMPLES / "backend.py"), "--port", str(port), "--emulator"],
        env=env,
    )
    async with process, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}"
        with anyio.fail_after(20):
            while True:
                try:
                    async with http.post(f"{url}/sessions") as answer:
                        document = await answer.json()
                        break
                except aiohttp.ClientConnectionError:
                    await anyio.sleep(0.05)
        assert document["livekit_url"].startswith("wss://")
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            assert await process.wait() == 0


# --- examples/lite_bot.py --------------------------------------------------------------------------


def test_example_lite_bot_speaks_a_wav(tmp_path: Path) -> None:
    """`examples/lite_bot.py --emulator` speaks a WAV file against the embedded emulator and reacts to
    its events."""
    path = tmp_path / "tone.wav"
    path.write_bytes(wav_bytes(seconds=0.4))
    done = subprocess.run(  # noqa: S603 - our own example, run with this interpreter
        [sys.executable, str(EXAMPLES / "lite_bot.py"), "--emulator", str(path)],
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
    spec = importlib.util.spec_from_file_location("lite_bot", EXAMPLES / "lite_bot.py")
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    path = tmp_path / "stereo.wav"
    path.write_bytes(wav_bytes(channels=2))
    assert await example.main(example.parse([str(path)])) == 2
    assert "2 channels (need mono)" in capsys.readouterr().out
