"""``aioavatar run`` (``_cli/run_session.py``), run as a user runs it against the emulator: what it prints,
what the server got, and how it reports a session that ended elsewhere.

Commands that hold a session or serve until Ctrl-C run as subprocesses (they handle signals); the
others run in-process through ``aioavatar._cli.run`` in a worker thread, with captured output. Signals
are sent at points the test waits for (a line printed, a request the emulator holds), never after a
guessed delay.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from aioavatar import EndReason
from aioavatar.testing import LiveAvatarEmulator

from ..conftest import AVATAR_ID
from .helpers import LIVEAVATAR_STARTED, assert_clean, eventually, spawn

pytestmark = pytest.mark.anyio


async def test_run_prints_where_to_join_and_ctrl_c_stops_with_user_closed(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """`run` prints the LiveKit URL and client token, keeps the session alive, and SIGINT (Ctrl-C)
    stops it with USER_CLOSED, exit status 130 (interrupted)."""
    cli = await spawn("run", AVATAR_ID, "--sandbox", "--keep-alive-interval", "0.1", env=env)
    async with cli.process:
        live = await cli.line_containing("is live")
        session_id = live.split()[1]
        url = await cli.line_containing("LiveKit URL:")
        token = await cli.line_containing("LiveKit client token:")
        await cli.line_containing("Keeping the session alive until Ctrl-C")
        await eventually(lambda: emulator.requests("keep_alive", session_id=session_id))
        cli.send(signal.SIGINT)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    assert url.split()[-1] == "wss://livekit.emulator.invalid"
    assert token.split()[-1].count(".") == 2  # the JWT the viewer joins with
    assert "WebSocket URL" not in outcome.out  # a FULL session has none
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
    assert "Session ended: USER_CLOSED" in outcome.out
    assert_clean(outcome, emulator.sessions[session_id].token)


async def test_run_json_lines_and_duration(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """`run --duration --json` prints a `started` and an `ended` event and stops with USER_CLOSED."""
    cli = await spawn(
        "run", AVATAR_ID, "--duration", "0.6", "--keep-alive-interval", "0.1", "--json", env=env
    )
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 0, outcome.err
    started, ended = (json.loads(line) for line in outcome.out.split())
    assert set(started) == LIVEAVATAR_STARTED
    assert started["event"] == "started"
    assert started["livekit_url"] == "wss://livekit.emulator.invalid"
    assert started["ws_url"] is None
    assert started["max_session_duration"] == 3600  # the emulated tier's default
    session_id = started["session_id"]
    beats = len(emulator.requests("keep_alive", session_id=session_id))
    sent = ended.pop("keep_alives_sent")
    assert ended == {
        "event": "ended",
        "session_id": session_id,
        "end_reason": "USER_CLOSED",
        "keep_alives_failed": 0,
    }
    assert 1 <= sent <= beats <= sent + 1  # a beat in flight at the stop is not counted as sent
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
    assert emulator.sessions[session_id].is_sandbox is False


@pytest.mark.parametrize("json_lines", [False, True])
async def test_run_lite_prints_the_websocket_url(
    emulator: LiveAvatarEmulator, env: dict[str, str], json_lines: bool
) -> None:
    """`run --mode lite` prints the WebSocket URL a LITE client drives the avatar through; with
    --json the `started` event carries it as `ws_url`."""
    argv = ["run", AVATAR_ID, "--mode", "lite", "--duration", "0.2"]
    cli = await spawn(*argv, *(["--json"] if json_lines else []), env=env)
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 0, outcome.err
    (session_id,) = emulator.sessions
    expected = f"ws{emulator.base_url.removeprefix('http')}/v1/sessions/{session_id}/ws"
    if json_lines:
        assert json.loads(outcome.out.split()[0])["ws_url"] == expected
    else:
        assert f"WebSocket URL (LITE): {expected}\n" in outcome.out
    assert emulator.sessions[session_id].mode == "LITE"


async def test_run_reports_a_session_the_server_ended(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """The server ends the session: no stop is sent, its reason is printed, exit status 1."""
    cli = await spawn("run", AVATAR_ID, "--keep-alive-interval", "0.1", env=env)
    async with cli.process:
        session_id = (await cli.line_containing("is live")).split()[1]
        emulator.end_session(session_id, EndReason.IDLE_TIMEOUT)
        outcome = await cli.finish()
    assert outcome.status == 1
    assert "Session ended: IDLE_TIMEOUT" in outcome.out
    assert emulator.stop_reasons(session_id) == []


@pytest.mark.parametrize("noticed_by", ["its own stop", "a keep-alive"])
async def test_run_reports_the_reason_of_a_stop_sent_by_another_process(
    emulator: LiveAvatarEmulator, env: dict[str, str], noticed_by: str
) -> None:
    """`sessions stop ID --reason agent_hang_up` from a second process while `run` holds the session:
    `run` prints the server's AGENT_HANG_UP (found when Ctrl-C's stop answers 404, or when a
    keep-alive does) and exits 1, as for any session ended elsewhere."""
    interval = "150" if noticed_by == "its own stop" else "0.1"
    holder = await spawn("run", AVATAR_ID, "--keep-alive-interval", interval, env=env)
    async with holder.process:
        session_id = (await holder.line_containing("is live")).split()[1]
        other = await spawn("sessions", "stop", session_id, "--reason", "agent_hang_up", env=env)
        async with other.process:
            stopped = await other.finish()
        assert stopped.status == 0, stopped.err
        if noticed_by == "its own stop":
            holder.send(signal.SIGINT)
        outcome = await holder.finish()
    assert outcome.status == 1, outcome.err
    assert "Session ended: AGENT_HANG_UP" in outcome.out
    # A beat (at a random phase of its 150 s) may still notice first, now and then: then no stop.
    beat_noticed = any(
        r.status == 404 for r in emulator.requests("keep_alive", session_id=session_id)
    )
    ours = ["USER_CLOSED"] if noticed_by == "its own stop" and not beat_noticed else []
    assert emulator.stop_reasons(session_id) == ["AGENT_HANG_UP", *ours]
    assert emulator.requests("get", session_id=session_id)  # the server's reason, looked up
    assert_clean(outcome)


async def test_run_on_the_embedded_emulator_needs_no_api_key() -> None:
    """`run --emulator` works with no key in the environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIVEAVATAR_")}
    cli = await spawn("run", "--emulator", "--duration", "0.2", "--json", env=environment)
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 0, outcome.err
    assert json.loads(outcome.out.split()[-1])["end_reason"] == "USER_CLOSED"


@pytest.mark.parametrize("duration", [b'"soon"', b"1e400"])
async def test_run_json_shows_no_duration_the_server_sent_broken(
    emulator: LiveAvatarEmulator, env: dict[str, str], duration: bytes
) -> None:
    """A start answer whose max_session_duration is not a usable number (text, or past a float's
    range): `run --json` prints it as null, never as NaN or Infinity (which are no JSON), and the
    session runs with no deadline (rule 8) until it is stopped with USER_CLOSED."""
    answer = (
        b'{"code": 1000, "data": {"session_id": "' + AVATAR_ID.encode() + b'", '
        b'"livekit_url": "wss://x", "livekit_client_token": "t", '
        b'"max_session_duration": ' + duration + b"}}"
    )
    emulator.inject("start", apply=True, body=answer)
    cli = await spawn(
        "run", AVATAR_ID, "--duration", "0.3", "--keep-alive-interval", "0.1", "--json", env=env
    )
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 0, outcome.err

    def no_constant(name: str) -> None:
        raise AssertionError(f"{name} is no JSON")

    started, ended = (json.loads(line, parse_constant=no_constant) for line in outcome.out.split())
    assert started["max_session_duration"] is None
    assert ended["end_reason"] == "USER_CLOSED"
    assert "not a usable number" in outcome.err
