"""The console script, run as a user runs it, against the emulator: what it prints and what the server got.

Commands that hold a session or serve until Ctrl-C run as subprocesses (they handle signals); the
others run in-process through ``aioavatar._cli.run`` in a worker thread, with captured output.
"""

from __future__ import annotations

import json
import logging
import os
import pty
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from aioavatar import EndReason, KalturaAvatarClient, LiveAvatarClient
from aioavatar._cli import run as cli_run
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SESSION_KEYS = {
    "id",
    "mode",
    "is_sandbox",
    "source",
    "created_at",
    "updated_at",
    "duration",
    "credits_consumed",
    "end_at",
    "end_reason",
}


def test_demo_runs_a_whole_session_on_the_embedded_emulator() -> None:
    """`python -m aioavatar demo` shows token, start, keep-alives and the stop, and exits 0."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aioavatar",
            "demo",
            "--duration",
            "0.7",
            "--keep-alive-interval",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in (
        "POST /v1/sessions/token -> 200",
        "POST /v1/sessions/start -> 201",
        "POST /v1/sessions/keep-alive -> 200",
        "POST /v1/sessions/stop -> 200",
        "LiveKit URL: wss://",
        "Session ended with USER_CLOSED",
        "end_reason=USER_CLOSED",
    ):
        assert step in out, f"missing {step!r} in:\n{out}"
    assert "test-api-key" not in out


def test_demo_rejects_bad_arguments() -> None:
    """A bad argument is one clear line and exit status 2."""
    result = subprocess.run(
        [sys.executable, "-m", "aioavatar", "demo", "--duration", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--duration" in result.stderr


# --- helpers -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, emulator: LiveAvatarEmulator) -> dict[str, str]:
    """The environment of a user pointed at the emulator (for in-process runs and subprocesses)."""
    monkeypatch.setenv("LIVEAVATAR_API_KEY", API_KEY)
    monkeypatch.setenv("LIVEAVATAR_BASE_URL", emulator.base_url)
    return dict(os.environ)


async def invoke(capsys: pytest.CaptureFixture[str], *argv: str) -> Outcome:
    """Run the CLI in-process, in a worker thread (it runs its own event loop), and capture its output."""

    def call() -> int:
        try:
            return cli_run(list(argv))
        except SystemExit as exc:  # argparse
            return int(exc.code or 0)

    status = await anyio.to_thread.run_sync(call)
    captured = capsys.readouterr()
    return Outcome(status, captured.out, captured.err)


def assert_one_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


class Cli:
    """A CLI subprocess whose standard output is read line by line."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        assert process.stdout is not None
        self._stdout = BufferedByteReceiveStream(process.stdout)
        self.lines: list[str] = []

    async def line(self) -> str:
        with anyio.fail_after(20):
            raw = await self._stdout.receive_until(b"\n", 1 << 16)
        text = raw.decode()
        self.lines.append(text)
        return text

    async def line_containing(self, needle: str) -> str:
        while needle not in (text := await self.line()):
            pass
        return text

    async def finish(self) -> Outcome:
        """Wait for the exit; the rest of standard output and all of standard error."""
        assert self.process.stderr is not None
        with anyio.fail_after(20):
            rest = await _read_all(self._stdout)
            err = await _read_all(self.process.stderr)
            status = await self.process.wait()
        return Outcome(status, "\n".join(self.lines) + "\n" + rest, err)


async def _read_all(stream: Any) -> str:
    chunks = []
    while True:
        try:
            chunks.append(await stream.receive())
        except anyio.EndOfStream:
            return b"".join(chunks).decode()


async def spawn(*argv: str, env: Mapping[str, str], stdin: int | None = None) -> Cli:
    process = await anyio.open_process(
        [sys.executable, "-m", "aioavatar", *argv], env=env, stdin=stdin
    )
    return Cli(process)


async def eventually(condition: Callable[[], object], within: float = 10.0) -> None:
    """Wait until ``condition()`` is true (the emulator shares this loop: poll it)."""
    with anyio.fail_after(within):
        while True:
            if condition():
                return
            await anyio.sleep(0.01)


@pytest.fixture
async def running_sessions(client: LiveAvatarClient) -> list[str]:
    """Two started sessions that nobody holds: what a crashed program leaves behind."""
    ids = []
    for _ in range(2):
        token = await client.create_session_token(AVATAR_ID, is_sandbox=True)
        await client.start_session(token.session_token)
        ids.append(token.session_id)
    return ids


# --- run -----------------------------------------------------------------------------------------------


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
        cli.process.send_signal(signal.SIGINT)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    assert url.split()[-1] == "wss://livekit.emulator.invalid"
    assert token.split()[-1].count(".") == 2  # the JWT the viewer joins with
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
    assert "Session ended: USER_CLOSED" in outcome.out
    assert "Traceback" not in outcome.err
    assert API_KEY not in outcome.out + outcome.err
    assert emulator.sessions[session_id].token not in outcome.out + outcome.err


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
    assert set(started) == {
        "event",
        "session_id",
        "livekit_url",
        "livekit_client_token",
        "max_session_duration",
    }
    assert started["event"] == "started"
    assert started["livekit_url"] == "wss://livekit.emulator.invalid"
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


async def test_run_interrupted_during_start_stops_the_session_it_opened(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """Ctrl-C while start is in flight: start completes, the session is stopped at once, exit 130."""
    emulator.inject("start", delay=0.8)
    cli = await spawn("run", AVATAR_ID, "--json", env=env)
    async with cli.process:
        await eventually(lambda: emulator.requests("token"))
        await anyio.sleep(0.3)  # the start is being answered, slowly
        cli.process.send_signal(signal.SIGINT)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    (session_id,) = emulator.sessions
    assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]
    assert json.loads(outcome.out)["end_reason"] == "USER_DISCONNECTED"


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


async def test_run_on_the_embedded_emulator_needs_no_api_key() -> None:
    """`run --emulator` works with no key in the environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIVEAVATAR_")}
    cli = await spawn("run", "--emulator", "--duration", "0.2", "--json", env=environment)
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 0, outcome.err
    assert json.loads(outcome.out.split()[-1])["end_reason"] == "USER_CLOSED"


# --- user errors and API errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["sessions", "get", "not-an-id"], ["'not-an-id' is not a session id"]),
        (
            ["sessions", "stop", UNKNOWN_ID, "--reason", "BORED"],
            ["unknown end reason", "USER_CLOSED"],
        ),
        (["sessions", "reap", "--older-than", "soon"], ["--older-than"]),
        (["sessions", "list", "--base-url", "ftp://example.com"], ["--base-url"]),
        (["run"], ["AVATAR_ID"]),
        (["run", "not-a-uuid"], ["avatar_id"]),
        (["run", "--emulator", "--base-url", "http://127.0.0.1:1"], ["--emulator", "--base-url"]),
        (["run", AVATAR_ID, "--duration", "0"], ["--duration"]),
    ],
)
async def test_user_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    argv: list[str],
    needles: list[str],
) -> None:
    """A mistake the user can fix: one line naming it, exit 2, nothing sent."""
    outcome = await invoke(capsys, *argv)
    assert outcome.status == 2
    assert_one_line(outcome.err, *needles)
    assert outcome.out == ""
    assert emulator.journal == []


@pytest.mark.parametrize("argv", [["sessions", "list"], ["run", AVATAR_ID]])
async def test_no_api_key_names_the_variable(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    argv: list[str],
) -> None:
    """Without LIVEAVATAR_API_KEY: one line saying to set it, exit 2."""
    monkeypatch.delenv("LIVEAVATAR_API_KEY")
    outcome = await invoke(capsys, *argv)
    assert outcome.status == 2
    assert_one_line(outcome.err, "no API key", "set LIVEAVATAR_API_KEY")
    assert emulator.journal == []


async def test_api_errors_print_status_code_and_message(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
) -> None:
    """The API refuses: one line with the status, the code and the server's message; exit 1."""
    outcome = await invoke(capsys, "sessions", "get", UNKNOWN_ID, "--json")
    assert outcome.status == 1
    assert outcome.out == ""
    assert_one_line(outcome.err, "API error: HTTP 404", "Session not found", UNKNOWN_ID)

    monkeypatch.setenv("LIVEAVATAR_API_KEY", "wrong-key")
    outcome = await invoke(capsys, "sessions", "list")
    assert outcome.status == 1
    assert_one_line(outcome.err, "HTTP 401, code 401: Invalid API key", "check LIVEAVATAR_API_KEY")
    assert "wrong-key" not in outcome.err

    outcome = await invoke(capsys, "run", AVATAR_ID, "--duration", "1")  # no signals in a thread
    assert outcome.status == 1
    assert outcome.out == ""
    assert_one_line(outcome.err, "HTTP 401", "POST /v1/sessions/token")


async def test_no_answer_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    """Nothing listening at the base URL: one line, exit 1, no traceback."""
    with socket.socket() as sock:  # a port that refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("LIVEAVATAR_BASE_URL", f"http://127.0.0.1:{port}")
    outcome = await invoke(capsys, "sessions", "stop", UNKNOWN_ID)
    assert outcome.status == 1
    assert_one_line(outcome.err, "no answer from the API", "cannot connect")


# --- sessions list / get / stop ------------------------------------------------------------------------


async def test_sessions_list_json_fields(
    capsys: pytest.CaptureFixture[str],
    client: LiveAvatarClient,
    env: dict[str, str],
    running_sessions: list[str],
) -> None:
    """`sessions list --json`: the active sessions with every documented field; --historic the ended."""
    first, second = running_sessions
    await client.stop_session(first, reason="AGENT_HANG_UP")
    active = (await invoke(capsys, "sessions", "list", "--json")).json()
    assert active["type"] == "active"
    assert active["count"] == 1
    (entry,) = active["sessions"]
    assert set(entry) == SESSION_KEYS
    assert entry["id"] == second
    assert entry["mode"] == "FULL"
    assert entry["is_sandbox"] is True
    assert entry["end_reason"] is None

    historic = (await invoke(capsys, "sessions", "list", "--historic", "--json")).json()
    assert historic["type"] == "historic"
    assert [(s["id"], s["end_reason"]) for s in historic["sessions"]] == [(first, "AGENT_HANG_UP")]


async def test_sessions_list_table_and_limit(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], running_sessions: list[str]
) -> None:
    """The text listing is a table, newest first, and says when --limit hid some."""
    outcome = await invoke(capsys, "sessions", "list", "--limit", "1")
    assert outcome.status == 0
    header, row, summary = outcome.out.splitlines()
    assert header.split()[:3] == ["ID", "MODE", "SANDBOX"]
    assert row.split()[0] == running_sessions[1]
    assert summary == "2 active sessions (showing 1; raise --limit for more)"


async def test_verbose_logs_each_request_without_the_key(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], running_sessions: list[str]
) -> None:
    """`-v` shows each request on standard error (never the key), only while the command runs."""
    logger = logging.getLogger("aioavatar")
    handlers, level = list(logger.handlers), logger.level
    outcome = await invoke(capsys, "sessions", "stop", running_sessions[0], "-v")
    assert outcome.status == 0
    assert "aioavatar: POST /v1/sessions/stop -> 200" in outcome.err
    assert API_KEY not in outcome.err
    assert (logger.handlers, logger.level) == (handlers, level)
    quiet = await invoke(capsys, "sessions", "list")
    assert quiet.err == ""


async def test_sessions_get(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], running_sessions: list[str]
) -> None:
    """`sessions get ID` shows the session's fields, as JSON with --json."""
    session_id = running_sessions[0]
    document = (await invoke(capsys, "sessions", "get", session_id, "--json")).json()
    assert set(document) == SESSION_KEYS
    assert document["id"] == session_id
    text = await invoke(capsys, "sessions", "get", session_id)
    assert text.out.splitlines()[0].split() == ["id", session_id]


async def test_sessions_stop_sends_the_reason_and_is_idempotent(
    capsys: pytest.CaptureFixture[str],
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    running_sessions: list[str],
) -> None:
    """`sessions stop ID --reason R` sends R (any case); stopping it again says so and exits 0."""
    session_id, other = running_sessions
    first = await invoke(
        capsys, "sessions", "stop", session_id, "--reason", "agent_hang_up", "--json"
    )
    assert first.status == 0
    assert first.json() == {"id": session_id, "reason": "AGENT_HANG_UP", "stopped": True}
    again = await invoke(capsys, "sessions", "stop", session_id)
    assert again.status == 0
    assert "had already ended" in again.out
    assert emulator.stop_reasons(session_id) == ["AGENT_HANG_UP", "USER_CLOSED"]
    assert emulator.sessions[session_id].end_reason == "AGENT_HANG_UP"
    assert emulator.sessions[other].is_active


# --- sessions reap -------------------------------------------------------------------------------------


async def test_reap_with_yes_stops_only_sessions_older_than(
    capsys: pytest.CaptureFixture[str],
    client: LiveAvatarClient,
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    running_sessions: list[str],
) -> None:
    """`reap --older-than S --yes` stops the sessions that ran longer than S, with ZOMBIE_SESSION_REAP."""
    await anyio.sleep(0.5)
    token = await client.create_session_token(AVATAR_ID, is_sandbox=True)
    await client.start_session(token.session_token)
    young = token.session_id
    outcome = await invoke(capsys, "sessions", "reap", "--older-than", "0.4", "--yes", "--json")
    assert outcome.status == 0, outcome.err
    report = outcome.json()
    assert report["reason"] == "ZOMBIE_SESSION_REAP"
    assert sorted(r["id"] for r in report["sessions"]) == sorted(running_sessions)
    assert {r["result"] for r in report["sessions"]} == {"stopped"}
    assert set(report["sessions"][0]) == {"id", "duration", "result", "error"}
    for session_id in running_sessions:
        assert emulator.stop_reasons(session_id) == ["ZOMBIE_SESSION_REAP"]
    assert emulator.stop_reasons(young) == []
    assert emulator.sessions[young].is_active


async def test_reap_without_yes_and_without_a_terminal_refuses(
    emulator: LiveAvatarEmulator, env: dict[str, str], running_sessions: list[str]
) -> None:
    """No --yes and standard input is no terminal: exit 2, naming --yes, nothing stopped."""
    cli = await spawn("sessions", "reap", env=env, stdin=subprocess.DEVNULL)
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 2
    assert_one_line(outcome.err, "refusing to stop 2 sessions", "--yes")
    assert emulator.requests("stop") == []


@pytest.mark.parametrize(("answer", "stopped"), [(b"y\n", True), (b"n\n", False), (b"", False)])
async def test_reap_asks_on_the_terminal(
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    running_sessions: list[str],
    answer: bytes,
    stopped: bool,
) -> None:
    """On a terminal, reap lists the sessions and asks; only "y" stops them."""
    controller, terminal = pty.openpty()
    try:
        cli = await spawn("sessions", "reap", env=env, stdin=terminal)
        os.close(terminal)
        terminal = -1
        async with cli.process:
            if answer:
                os.write(controller, answer)
            else:
                os.write(controller, b"\x04")  # end of input (Ctrl-D) with no answer
            outcome = await cli.finish()
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert "Stop these 2 sessions with reason ZOMBIE_SESSION_REAP? [y/N]" in outcome.err
    for session_id in running_sessions:
        assert session_id in outcome.err  # listed before the question
        assert emulator.stop_reasons(session_id) == (["ZOMBIE_SESSION_REAP"] if stopped else [])
    if stopped:
        assert outcome.status == 0
        assert "2 of 2 sessions ended (ZOMBIE_SESSION_REAP)." in outcome.out
    else:
        assert outcome.status == 1
        assert "aborted: no session stopped" in outcome.err


async def test_reap_with_nothing_to_stop_does_not_ask(
    capsys: pytest.CaptureFixture[str], emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """No active session: nothing to ask, exit 0."""
    outcome = await invoke(capsys, "sessions", "reap")
    assert outcome.status == 0
    assert outcome.out == "No active session: nothing to stop.\n"
    assert emulator.requests("stop") == []


async def test_reap_reports_a_failed_stop_and_goes_on(
    capsys: pytest.CaptureFixture[str],
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    running_sessions: list[str],
) -> None:
    """One stop refused: the others are still stopped, the failure is reported, exit 1."""
    emulator.inject("stop", status=403)
    outcome = await invoke(capsys, "sessions", "reap", "--yes", "--json")
    assert outcome.status == 1
    results = {r["id"]: r for r in outcome.json()["sessions"]}
    failed = [r for r in results.values() if r["result"] == "failed"]
    assert len(failed) == 1
    assert "HTTP 403" in failed[0]["error"]
    assert [r["result"] for r in results.values()].count("stopped") == 1
    assert len(emulator.requests("stop")) == 2


# --- emulator ------------------------------------------------------------------------------------------


async def test_emulator_serves_until_ctrl_c() -> None:
    """`emulator --port 0 --json` prints its base URL and key, answers the SDK, and exits 0 on SIGINT."""
    cli = await spawn(
        "emulator", "--port", "0", "--api-key", "k-123", "--json", env=dict(os.environ)
    )
    async with cli.process:
        announced = json.loads(await cli.line())
        assert announced["provider"] == "liveavatar"
        assert announced["api_key"] == "k-123"
        async with LiveAvatarClient(announced["api_key"], base_url=announced["base_url"]) as client:
            token = await client.create_session_token(AVATAR_ID)
            await client.start_session(token.session_token)
            page = await client.list_sessions("active")
        assert [s.id for s in page.results] == [token.session_id]
        cli.process.send_signal(signal.SIGINT)
        outcome = await cli.finish()
    assert outcome.status == 0, outcome.err
    assert outcome.err == ""


async def test_kaltura_emulator_serves_until_sigterm() -> None:
    """`emulator --provider kaltura` prints its base URL (the root, as for LiveAvatar) and KS, answers
    the SDK, and SIGTERM ends it with status 0."""
    cli = await spawn("emulator", "--provider", "kaltura", "--port", "0", env=dict(os.environ))
    async with cli.process:
        base_url = (await cli.line_containing("listening on")).split()[-1]
        ks = (await cli.line_containing("Test admin KS:")).split()[-1]
        assert not base_url.endswith("/v1")
        assert ks == "emulator-admin-ks"
        async with KalturaAvatarClient(ks, base_url=base_url) as client:
            created = await client.create_session("avatar-1")
            assert await client.end_session(created.session_id, token=created.token) is True
        cli.process.send_signal(signal.SIGTERM)
        outcome = await cli.finish()
    assert outcome.status == 0, outcome.err


async def test_emulator_on_a_busy_port_is_one_line() -> None:
    """A port already taken: one line naming --port, exit 1."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cli = await spawn("emulator", "--port", str(port), env=dict(os.environ))
        async with cli.process:
            outcome = await cli.finish()
    assert outcome.status == 1
    assert_one_line(outcome.err, f"cannot listen on 127.0.0.1:{port}", "--port")
