"""The console script, run as a user runs it, against the emulator: what it prints and what the server got.

Commands that hold a session or serve until Ctrl-C run as subprocesses (they handle signals); the
others run in-process through ``aioavatar._cli.run`` in a worker thread, with captured output. Signals
are sent at points the test waits for (a line printed, a request the emulator holds), never after a
guessed delay.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pty
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

import aioavatar
from aioavatar import EndReason, KalturaAvatarClient, LiveAvatarClient
from aioavatar._cli import _parser
from aioavatar._cli import run as cli_run
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID
from .providers import KALTURA_AVATAR_ID, KS

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


KALTURA_VARIABLES = ("KALTURA_AVATAR_KS", "KALTURA_AVATAR_BASE_URL", "KALTURA_AVATAR_SESSION_TOKEN")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, emulator: LiveAvatarEmulator) -> dict[str, str]:
    """The environment of a user pointed at the emulator (for in-process runs and subprocesses),
    with no Kaltura variable."""
    monkeypatch.setenv("LIVEAVATAR_API_KEY", API_KEY)
    monkeypatch.setenv("LIVEAVATAR_BASE_URL", emulator.base_url)
    for name in KALTURA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return dict(os.environ)


@pytest.fixture
def kaltura_env(
    monkeypatch: pytest.MonkeyPatch, kaltura_emulator: KalturaEmulator
) -> dict[str, str]:
    """The environment of a user pointed at the Kaltura emulator, KS included."""
    for name in KALTURA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KALTURA_AVATAR_KS", KS)
    monkeypatch.setenv("KALTURA_AVATAR_BASE_URL", kaltura_emulator.base_url)
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
    """A CLI subprocess whose standard output (and, when asked, standard error) is read line by line."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        assert process.stdout is not None
        assert process.stderr is not None
        self._stdout = BufferedByteReceiveStream(process.stdout)
        self._stderr = BufferedByteReceiveStream(process.stderr)
        self.lines: list[str] = []
        self.err_lines: list[str] = []

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

    async def err_line_where(self, condition: Callable[[str], bool]) -> str:
        """Read standard error up to the first line for which ``condition`` holds."""
        while True:
            with anyio.fail_after(20):
                raw = await self._stderr.receive_until(b"\n", 1 << 16)
            text = raw.decode()
            self.err_lines.append(text)
            if condition(text):
                return text

    def send(self, signum: int) -> None:
        self.process.send_signal(signal.Signals(signum))

    async def finish(self) -> Outcome:
        """Wait for the exit; the rest of standard output and all of standard error."""
        with anyio.fail_after(20):
            rest = await _read_all(self._stdout)
            err = await _read_all(self._stderr)
            status = await self.process.wait()
        out = "".join(f"{line}\n" for line in self.lines) + rest
        return Outcome(status, out, "".join(f"{line}\n" for line in self.err_lines) + err)


async def _read_all(stream: BufferedByteReceiveStream) -> str:
    chunks = []
    while True:
        try:
            chunks.append(await stream.receive())
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return b"".join(chunks).decode()


#: The console script next to this interpreter (nox and the venv install it).
SCRIPT = Path(sys.executable).with_name("aioavatar")


async def spawn(
    *argv: str, env: Mapping[str, str], stdin: int | None = None, script: bool = False
) -> Cli:
    """``python -m aioavatar ARGV``, or with ``script`` the ``aioavatar`` console script."""
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "aioavatar"]
    process = await anyio.open_process([*command, *argv], env=env, stdin=stdin)
    return Cli(process)


def assert_clean(outcome: Outcome, *secrets: str) -> None:
    """No traceback, and neither the test credentials nor ``secrets``, anywhere in the output."""
    both = outcome.out + outcome.err
    assert "Traceback" not in both, outcome.err
    for secret in (API_KEY, KS, *secrets):
        assert secret not in both


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

LIVEAVATAR_STARTED = {
    "event",
    "session_id",
    "livekit_url",
    "livekit_client_token",
    "ws_url",
    "max_session_duration",
}
ENDED = {"event", "session_id", "end_reason", "keep_alives_sent", "keep_alives_failed"}


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
    interval = "60" if noticed_by == "its own stop" else "0.1"
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
    ours = ["USER_CLOSED"] if noticed_by == "its own stop" else []  # answered 404
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


# --- signals: run and demo share one handling ----------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["SIGINT", "SIGTERM"]
)
async def test_a_signal_while_running_stops_with_user_closed(
    emulator: LiveAvatarEmulator, env: dict[str, str], signum: int, status: int
) -> None:
    """SIGINT or SIGTERM while the session runs: one stop with USER_CLOSED, the `ended` event says so;
    exit 130 after Ctrl-C, 0 after SIGTERM."""
    cli = await spawn("run", AVATAR_ID, "--json", env=env)
    async with cli.process:
        session_id = json.loads(await cli.line())["session_id"]
        cli.send(signum)
        outcome = await cli.finish()
    assert outcome.status == status, outcome.err
    assert json.loads(outcome.out.split()[-1])["end_reason"] == "USER_CLOSED"
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
    assert outcome.err == "Stopping the session...\n"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_before_the_session_starts_abandons_it(
    emulator: LiveAvatarEmulator, env: dict[str, str], signum: int
) -> None:
    """A signal while the token request is out: no start, no stop; exit 130, no traceback."""
    token = emulator.inject("token", delay=30)
    cli = await spawn("run", AVATAR_ID, env=env)
    async with cli.process:
        await eventually(lambda: token.hits)
        cli.send(signum)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    assert outcome.out == "Interrupted before the session started: nothing to stop.\n"
    assert emulator.requests("start") == []
    assert emulator.requests("stop") == []
    assert_clean(outcome)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_during_start_stops_the_session_it_opened(
    emulator: LiveAvatarEmulator, env: dict[str, str], signum: int
) -> None:
    """A signal while start is out: start completes, the session is stopped at once with
    USER_DISCONNECTED (the library's rule for an abandoned start), exit 130."""
    start = emulator.inject("start", delay=0.5)
    cli = await spawn("run", AVATAR_ID, "--json", env=env)
    async with cli.process:
        await eventually(lambda: start.hits)
        cli.send(signum)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    (session_id,) = emulator.sessions
    assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]
    ended = json.loads(outcome.out)
    assert set(ended) == ENDED
    assert ended["end_reason"] == "USER_DISCONNECTED"
    assert "Abandoning the start..." in outcome.err
    assert_clean(outcome)


async def test_signals_during_the_stop_wait_for_it(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """SIGTERM starts the stop; a Ctrl-C while that stop is out sends nothing more: one USER_CLOSED
    stop, and exit 130 (the Ctrl-C counts)."""
    stop = emulator.inject("stop", delay=0.5)
    cli = await spawn("run", AVATAR_ID, "--json", env=env)
    async with cli.process:
        session_id = json.loads(await cli.line())["session_id"]
        cli.send(signal.SIGTERM)
        await eventually(lambda: stop.hits)
        cli.send(signal.SIGINT)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    assert outcome.err.splitlines() == [
        "Stopping the session...",
        "Already stopping; waiting for the confirmation.",
    ]
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
    assert json.loads(outcome.out.split()[-1])["end_reason"] == "USER_CLOSED"


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["SIGINT", "SIGTERM"]
)
async def test_demo_stops_its_session_with_user_closed_on_a_signal(
    signum: int, status: int
) -> None:
    """`demo` holds its session as `run` does: a signal stops it with USER_CLOSED, which the demo and
    its emulator both report; exit 130 after Ctrl-C, 0 after SIGTERM."""
    cli = await spawn("demo", "--duration", "60", env=dict(os.environ))
    async with cli.process:
        await cli.line_containing("Ctrl-C stops it now")
        cli.send(signum)
        outcome = await cli.finish()
    assert outcome.status == status, outcome.err
    for step in (
        "POST /v1/sessions/stop -> 200",
        "Session ended with USER_CLOSED",
        "end_reason=USER_CLOSED",
    ):
        assert step in outcome.out
    assert_clean(outcome)


def _drain(fd: int) -> bytes:
    """What is left to read from a pty whose other side has closed (Linux then answers EIO)."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


async def test_ctrl_c_on_a_terminal_stops_the_demo() -> None:
    """Ctrl-C typed on a terminal (the kernel signals the foreground group) stops the demo's session
    with USER_CLOSED and exits 130, with no traceback."""
    controller, terminal = pty.openpty()
    # Become a session leader with the pty as controlling terminal, then be the demo.
    take_terminal = (
        "import fcntl, os, sys, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
        "os.execv(sys.executable, [sys.executable, '-m', 'aioavatar', 'demo', '--duration', '60'])"
    )
    try:
        process = await anyio.open_process(
            [sys.executable, "-c", take_terminal],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
        )
        os.close(terminal)
        terminal = -1
        async with process:
            seen = b""
            with anyio.fail_after(20):
                while b"Ctrl-C stops it now" not in seen:
                    seen += await anyio.to_thread.run_sync(os.read, controller, 4096)
                os.write(controller, b"\x03")
                status = await process.wait()
                seen += await anyio.to_thread.run_sync(_drain, controller)
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    text = seen.decode()
    assert status == 130, text
    assert "Session ended with USER_CLOSED" in text
    assert "end_reason=USER_CLOSED" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("module", ["aiohttp", "aioavatar._cli"])
async def test_ctrl_c_while_the_command_line_is_imported_exits_130(
    emulator: LiveAvatarEmulator, env: dict[str, str], module: str
) -> None:
    """Ctrl-C while the console script imports (aiohttp, inside `import aioavatar`; the CLI's own
    modules) exits 130 with no traceback, nothing started."""
    assert SCRIPT.name in os.listdir(SCRIPT.parent), f"no console script at {SCRIPT}"
    emulator.inject(
        "token", delay=30
    )  # should the signal land later, it still finds nothing started
    traced = {**env, "PYTHONPROFILEIMPORTTIME": "1"}  # each import, on stderr, as it completes
    cli = await spawn("run", AVATAR_ID, env=traced, script=True)
    async with cli.process:
        await cli.err_line_where(lambda line: line.rsplit("|", 1)[-1].strip() == module)
        cli.send(signal.SIGINT)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    assert "Traceback" not in outcome.err
    assert "KeyboardInterrupt" not in outcome.err
    assert emulator.requests("start") == []


# --- standard output closed, TLS and plain http ----------------------------------------------------------


async def _run_with_a_reader_that_leaves(
    argv: list[str], env: Mapping[str, str], *, lines: int
) -> tuple[int, list[str], str]:
    """Run the CLI with standard output on a pipe whose reader leaves after ``lines`` lines (0: at
    once, as `| true` does); the exit status, the lines read and standard error."""
    reader, writer = os.pipe()
    try:
        process = await anyio.open_process(
            [sys.executable, "-m", "aioavatar", *argv], env=env, stdout=writer
        )
    finally:
        os.close(writer)
    read: list[str] = []
    with os.fdopen(reader, "rb") as stream:  # the reader leaves when this closes
        for _ in range(lines):
            read.append((await anyio.to_thread.run_sync(stream.readline)).decode())
    async with process:
        assert process.stderr is not None
        with anyio.fail_after(20):
            err = await _read_all(BufferedByteReceiveStream(process.stderr))
            status = await process.wait()
    return status, read, err


async def test_a_reader_that_leaves_after_the_first_line_ends_quietly(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """`run --json | head -1`: the session still ends as asked (USER_CLOSED at --duration), then the
    `ended` line finds no reader: exit 141, nothing on standard error."""
    argv = ["run", AVATAR_ID, "--json", "--duration", "0.3"]
    status, (first,), err = await _run_with_a_reader_that_leaves(argv, env, lines=1)
    assert status == 141
    assert err == ""
    session_id = json.loads(first)["session_id"]
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]


async def test_a_reader_gone_before_the_session_started_stops_it(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """Standard output closed before `started` could be printed: nobody got the session's URL, so
    it is stopped at once, as a user who went away (USER_DISCONNECTED); exit 141, no traceback."""
    status, _, err = await _run_with_a_reader_that_leaves(
        ["run", AVATAR_ID, "--json"], env, lines=0
    )
    assert status == 141, err
    assert err == ""
    (session_id,) = emulator.sessions
    assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]


async def test_https_to_a_plain_http_port_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """An https:// URL to the emulator's plain-http port: one line saying the server does not speak
    TLS there and suggesting http://, exit 1 (no bare SSL error)."""
    url = emulator.base_url.replace("http://", "https://")
    outcome = await invoke(capsys, "sessions", "list", "--base-url", url)
    assert outcome.status == 1
    host = url.removeprefix("https://")
    assert_one_line(outcome.err, f"{host} does not speak TLS", f"use {emulator.base_url}")
    assert "SSL" not in outcome.err


@pytest.mark.parametrize("given_by", ["--base-url", "LIVEAVATAR_BASE_URL"])
async def test_plain_http_to_another_host_needs_https_or_allow_insecure(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    given_by: str,
) -> None:
    """http:// to a host other than this machine: one line naming where the URL came from and that
    https is required, exit 2, nothing sent; --allow-insecure lets it through (0.0.0.0 reaches this
    machine on Linux)."""
    url = emulator.base_url.replace("127.0.0.1", "0.0.0.0")  # noqa: S104 - a destination, not a bind
    argv = ["sessions", "list"]
    if given_by == "--base-url":
        argv += ["--base-url", url]
    else:
        monkeypatch.setenv("LIVEAVATAR_BASE_URL", url)
    refused = await invoke(capsys, *argv)
    assert refused.status == 2
    assert_one_line(refused.err, given_by, "https:// is required", "--allow-insecure")
    assert "allow_insecure=True" not in refused.err
    assert emulator.journal == []
    allowed = await invoke(capsys, *argv, "--allow-insecure")
    assert allowed.status == 0, allowed.err
    assert allowed.out == "No active session.\n"


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
        (["sessions", "stop", "not-an-id"], ["'not-an-id' is not a session id"]),
        (["run", AVATAR_ID, "--ks", "a-ks-value"], ["--ks", "--provider kaltura only"]),
        (["run", AVATAR_ID, "--region", "frp2"], ["--region", "--provider kaltura only"]),
        (
            ["run", "--provider", "kaltura", "av", "--mode", "lite", "--sandbox"],
            ["--sandbox and --mode are for --provider liveavatar only"],
        ),
        (["run", "--provider", "kaltura", "av"], ["no Kaltura Session", "KALTURA_AVATAR_KS"]),
        (["run", "--emulator", "--api-key", "a-key-value"], ["--emulator", "drop --api-key"]),
        (["sessions", "list", "--provider", "kaltura"], ["cannot list or read", "list"]),
        (["sessions", "get", UNKNOWN_ID, "--provider", "kaltura"], ["cannot list or read"]),
        (["sessions", "reap", "--provider", "kaltura"], ["cannot list or read", "reap"]),
        (
            ["sessions", "stop", "abc", "--provider", "kaltura", "--reason", "user_closed"],
            ["takes no reason"],
        ),
        (
            ["sessions", "stop", "abc", "--provider", "kaltura"],
            ["needs its own token", "KALTURA_AVATAR_SESSION_TOKEN", "--token"],
        ),
        (["sessions", "stop", UNKNOWN_ID, "--token", "t0ken-value"], ["--token", "kaltura"]),
        (["run", AVATAR_ID, "--keep-alive-interval", "151"], ["keep_alive_interval"]),
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
    assert_one_line(
        outcome.err,
        "HTTP 401, code 401: Invalid API key",
        "check the API key (LIVEAVATAR_API_KEY or --api-key)",
    )
    assert "wrong-key" not in outcome.err

    outcome = await invoke(capsys, "run", AVATAR_ID, "--duration", "1")  # no signals in a thread
    assert outcome.status == 1
    assert outcome.out == ""
    assert_one_line(outcome.err, "HTTP 401", f"POST {emulator.base_url}/v1/sessions/token")


async def test_the_api_key_flag_stands_in_for_the_variable_and_is_never_shown(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    running_sessions: list[str],
) -> None:
    """`--api-key` works without LIVEAVATAR_API_KEY; neither a right nor a wrong key is ever printed,
    not even with -v."""
    monkeypatch.delenv("LIVEAVATAR_API_KEY")
    listed = await invoke(capsys, "sessions", "list", "--api-key", API_KEY, "--json", "-v")
    assert listed.status == 0, listed.err
    assert listed.json()["count"] == 2
    assert "GET /v1/sessions -> 200" in listed.err
    wrong = "wrong-key-0123456789"
    refused = await invoke(capsys, "sessions", "list", "--api-key", wrong, "-v")
    assert refused.status == 1
    assert "check the API key (LIVEAVATAR_API_KEY or --api-key)" in refused.err
    for outcome in (listed, refused):
        assert_clean(outcome, wrong)


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


# --- Kaltura -------------------------------------------------------------------------------------------

KALTURA_STARTED = {"event", "session_id", "whep_url", "turn"}


async def test_run_kaltura_prints_the_whep_url_and_ctrl_c_ends_it(
    kaltura_emulator: KalturaEmulator, kaltura_env: dict[str, str]
) -> None:
    """`run --provider kaltura --json` (KS from KALTURA_AVATAR_KS): a `started` event with the WHEP URL
    and TURN server, keep-alives, and Ctrl-C ends the session (one end call) with USER_CLOSED, exit
    130; neither the KS nor the session's token is printed."""
    cli = await spawn(
        "run",
        KALTURA_AVATAR_ID,
        "--provider",
        "kaltura",
        "--json",
        "--keep-alive-interval",
        "0.1",
        env=kaltura_env,
    )
    async with cli.process:
        started = json.loads(await cli.line())
        session_id = started["session_id"]
        # A beat goes out once the one before it was answered: with two at the server, the first
        # is counted as sent.
        await eventually(
            lambda: len(kaltura_emulator.requests("keep_alive", session_id=session_id)) >= 2
        )
        cli.send(signal.SIGINT)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    assert set(started) == KALTURA_STARTED
    assert started["whep_url"] == f"https://whep.emulator.invalid/v1/whep/{session_id}/1"
    assert set(started["turn"]) == {"url", "username", "credential"}
    assert started["turn"]["url"] == "turn:turn.emulator.invalid:3478"
    ended = json.loads(outcome.out.split()[-1])
    assert set(ended) == ENDED
    assert ended["end_reason"] == "USER_CLOSED"
    assert ended["keep_alives_sent"] >= 1
    recorded = kaltura_emulator.sessions[session_id]
    assert recorded.avatar_id == KALTURA_AVATAR_ID
    assert recorded.ended_by == "end"
    assert len(kaltura_emulator.requests("end", session_id=session_id)) == 1
    assert_clean(outcome, recorded.token)


async def test_run_kaltura_with_the_ks_flag_reports_a_session_ended_elsewhere(
    monkeypatch: pytest.MonkeyPatch, kaltura_emulator: KalturaEmulator, kaltura_env: dict[str, str]
) -> None:
    """`--ks` stands in for the variable; Kaltura ends the session (a keep-alive answers 404): no end
    is sent, UNKNOWN is printed (Kaltura cannot say why), exit 1."""
    environment = {k: v for k, v in kaltura_env.items() if k != "KALTURA_AVATAR_KS"}
    argv = ["run", KALTURA_AVATAR_ID, "--provider", "kaltura", "--ks", KS]
    cli = await spawn(*argv, "--keep-alive-interval", "0.1", env=environment)
    async with cli.process:
        session_id = (await cli.line_containing("is live")).split()[1]
        whep = await cli.line_containing("WHEP URL:")
        await cli.line_containing("Keeping the session alive until Ctrl-C")
        kaltura_emulator.end_session(session_id)
        outcome = await cli.finish()
    assert outcome.status == 1, outcome.err
    assert whep.split()[-1] == f"https://whep.emulator.invalid/v1/whep/{session_id}/1"
    assert "Session ended: UNKNOWN" in outcome.out
    assert kaltura_emulator.requests("end") == []
    assert_clean(outcome, kaltura_emulator.sessions[session_id].token)


async def test_run_kaltura_on_the_embedded_emulator_needs_no_ks() -> None:
    """`run --provider kaltura --emulator --duration S` runs a whole Kaltura session without a KS."""
    environment = {k: v for k, v in os.environ.items() if k not in KALTURA_VARIABLES}
    argv = ["run", "--provider", "kaltura", "--emulator", "--duration", "0.2"]
    cli = await spawn(*argv, env=environment)
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 0, outcome.err
    assert "Embedded Kaltura Avatar emulator at http://127.0.0.1:" in outcome.out
    assert "TURN server:     turn:turn.emulator.invalid:3478" in outcome.out
    assert "Session ended: USER_CLOSED" in outcome.out


async def test_sessions_stop_ends_a_kaltura_session_with_its_token(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kaltura_client: KalturaAvatarClient,
    kaltura_emulator: KalturaEmulator,
    kaltura_env: dict[str, str],
) -> None:
    """`sessions stop ID --provider kaltura` ends a session with its own token (from
    KALTURA_AVATAR_SESSION_TOKEN); again, it says it had ended; a wrong `--token` is refused in one
    line that names the fix. No token is ever printed."""
    created = await kaltura_client.create_session(KALTURA_AVATAR_ID)
    session_id, token = created.session_id, created.token.get_secret_value()
    other = (await kaltura_client.create_session(KALTURA_AVATAR_ID)).token.get_secret_value()
    monkeypatch.delenv("KALTURA_AVATAR_KS")  # ending needs no KS
    wrong = await invoke(
        capsys, "sessions", "stop", session_id, "--provider", "kaltura", "--token", other
    )
    assert wrong.status == 1
    assert_one_line(
        wrong.err, "HTTP 401", "check the session token (KALTURA_AVATAR_SESSION_TOKEN or --token)"
    )
    monkeypatch.setenv("KALTURA_AVATAR_SESSION_TOKEN", token)
    first = await invoke(capsys, "sessions", "stop", session_id, "--provider", "kaltura", "--json")
    assert first.status == 0, first.err
    assert first.json() == {"id": session_id, "reason": None, "stopped": True}
    assert kaltura_emulator.sessions[session_id].ended_by == "end"
    again = await invoke(capsys, "sessions", "stop", session_id, "--provider", "kaltura")
    assert again.status == 0
    assert again.out == f"Kaltura session {session_id} had already ended: nothing to end.\n"
    for outcome in (wrong, first, again):
        assert_clean(outcome, token, other)


# --- version, help, README -----------------------------------------------------------------------------


async def test_version_and_the_demo_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`--version` prints `aioavatar <version>` and exits 0; `demo --help` describes the demo."""
    version = await invoke(capsys, "--version")
    assert (version.status, version.out) == (0, f"aioavatar {aioavatar.__version__}\n")
    helped = await invoke(capsys, "demo", "--help")
    assert helped.status == 0
    assert "Start an emulator of the LiveAvatar API inside this process" in " ".join(
        helped.out.split()
    )


def _commands() -> dict[str, list[list[str]]]:
    """Every command (``"run"``, ``"sessions stop"``, ...) and the spellings of each of its options."""
    found: dict[str, list[list[str]]] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subcommands:
            found[path] = [
                list(action.option_strings)
                for action in parser._actions
                if action.option_strings and "--help" not in action.option_strings
            ]
        for action in subcommands:
            for name, sub in action.choices.items():
                walk(sub, f"{path} {name}".strip())

    walk(_parser(), "")
    return found


def test_the_readme_lists_every_command_and_flag() -> None:
    """The README's "Command line" section has a line for each command naming all its flags (the
    emulator's own options may be in its section of the README instead)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Command line") :]
    section = section[: section.index("\n## ")]
    commands = _commands()
    assert {"demo", "run", "sessions list", "sessions stop", "emulator"} <= set(commands)
    for command, options in commands.items():
        lines = [line for line in section.splitlines() if f"aioavatar {command}" in line]
        assert lines, f"no line for `aioavatar {command}`"
        where = "\n".join(lines) if command != "emulator" else readme
        missing = [
            spellings
            for spellings in options
            if not any(re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", where) for s in spellings)
        ]
        assert not missing, f"`aioavatar {command}`: {missing} not in the README"


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
