"""Holding a session from the command line (``_cli/holding.py``), for ``run`` and ``demo``: SIGINT and
SIGTERM wherever they land, a terminal's Ctrl-C, a reader of standard output that goes away, and the
exit status of each."""

from __future__ import annotations

import json
import os
import pty
import signal
import sys
from collections.abc import Mapping

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from aioavatar.testing import LiveAvatarEmulator

from ..conftest import AVATAR_ID
from .helpers import ENDED, Outcome, assert_clean, eventually, read_all, spawn

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 0), (signal.SIGHUP, 0)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
async def test_a_signal_while_running_stops_with_user_closed(
    emulator: LiveAvatarEmulator, env: dict[str, str], signum: int, status: int
) -> None:
    """SIGINT, SIGTERM or SIGHUP (the terminal closed) while the session runs: one stop with
    USER_CLOSED, the `ended` event says so; exit 130 after Ctrl-C, 0 after SIGTERM and SIGHUP (the
    default action of SIGHUP would kill the process and leave the session running)."""
    cli = await spawn("run", AVATAR_ID, "--json", env=env)
    async with cli.process:
        session_id = json.loads(await cli.line())["session_id"]
        cli.send(signum)
        outcome = await cli.finish()
    assert outcome.status == status, outcome.err
    assert json.loads(outcome.out.split()[-1])["end_reason"] == "USER_CLOSED"
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
    assert outcome.err == "Stopping the session...\n"


async def test_a_sighup_that_nohup_ignores_leaves_the_session_running(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """Started under ``nohup`` (SIGHUP ignored), the command was asked to outlive its terminal: a
    SIGHUP stops nothing, and the session runs on until SIGTERM stops it."""
    argv = ["nohup", sys.executable, "-m", "aioavatar", "run", AVATAR_ID, "--json"]
    cli = await spawn(*argv, "--keep-alive-interval", "0.1", env=env, raw=True)
    async with cli.process:
        session_id = json.loads(await cli.line())["session_id"]
        cli.send(signal.SIGHUP)
        beats = len(emulator.requests("keep_alive", session_id=session_id))
        await eventually(
            lambda: len(emulator.requests("keep_alive", session_id=session_id)) > beats
        )
        assert emulator.stop_reasons(session_id) == []
        cli.send(signal.SIGTERM)
        outcome = await cli.finish()
    assert outcome.status == 0, outcome.err
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]


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
    USER_DISCONNECTED (the library's rule for an abandoned start), exit 130. The wait for the
    start's answer is said, and said again to a second signal, which changes nothing."""
    start = emulator.inject("start", delay=2.0)  # long enough for both signals to land in it
    cli = await spawn("run", AVATAR_ID, "--json", env=env)
    async with cli.process:
        await eventually(lambda: start.hits)
        cli.send(signum)
        await cli.err_line_where(lambda line: "Abandoning the start" in line)
        cli.send(signum)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    (session_id,) = emulator.sessions
    assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]
    ended = json.loads(outcome.out)
    assert set(ended) == ENDED
    assert ended["end_reason"] == "USER_DISCONNECTED"
    assert outcome.err.splitlines()[:2] == [
        "Abandoning the start: the session it opens is stopped once the server answers.",
        "Still waiting for the start's answer, to stop the session it opens.",
    ]
    assert_clean(outcome)


async def _interrupted_during_start(
    emulator: LiveAvatarEmulator, env: dict[str, str], start_status: int | None, *options: str
) -> Outcome:
    """``run`` (with ``options``) sent Ctrl-C once its start is out: the start, half a second on the
    emulator, then answered ``start_status`` (its normal answer for ``None``) after taking effect."""
    start = emulator.inject("start", delay=0.5, status=start_status, apply=True)
    cli = await spawn("run", AVATAR_ID, *options, env=env)
    async with cli.process:
        await eventually(lambda: start.hits)
        cli.send(signal.SIGINT)
        return await cli.finish()


@pytest.mark.parametrize("start_fails", [False, True], ids=["start answered", "start failed"])
async def test_a_signal_during_start_whose_stop_fails_says_the_session_may_still_run(
    emulator: LiveAvatarEmulator, env: dict[str, str], start_fails: bool
) -> None:
    """Ctrl-C while start is out, and the stop that follows fails: not "nothing to stop" and 130,
    but the line that names the session and says it may still run, exit 1; under ``--json`` the
    `ended` event first, ``end_reason`` null."""
    emulator.inject("stop", status=500, times=100)
    outcome = await _interrupted_during_start(emulator, env, 500 if start_fails else None, "--json")
    assert outcome.status == 1, outcome.err
    (session_id,) = emulator.sessions
    assert emulator.requests("stop")  # a stop was tried...
    ended = json.loads(outcome.out)
    assert ended["event"] == "ended"
    assert ended["end_reason"] is None
    last = outcome.err.splitlines()[-1]
    assert session_id in last
    assert "may still be running" in last
    assert f"aioavatar sessions stop {session_id}" in last


@pytest.mark.parametrize("json_lines", [False, True], ids=["text", "json"])
async def test_a_signal_during_a_start_that_then_fails_says_how_the_session_ended(
    emulator: LiveAvatarEmulator, env: dict[str, str], json_lines: bool
) -> None:
    """Ctrl-C while start is out, and the start then fails (a 5xx after the fact): the session it
    opened is stopped as any failed start (SERVER_ERROR), and the last words say so, not "nothing
    to stop" (before, a stop had been sent all the same); exit 130."""
    outcome = await _interrupted_during_start(
        emulator, env, 500, *(["--json"] if json_lines else [])
    )
    assert outcome.status == 130, outcome.err
    (session_id,) = emulator.sessions
    assert emulator.stop_reasons(session_id) == ["SERVER_ERROR"]
    assert "nothing to stop" not in outcome.out + outcome.err
    if json_lines:
        ended = json.loads(outcome.out)
        assert (ended["event"], ended["end_reason"]) == ("ended", "SERVER_ERROR")
    else:
        assert "Session ended: SERVER_ERROR" in outcome.out


async def test_run_json_prints_the_ended_event_when_the_stop_is_not_confirmed(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """A stop that fails at the end of ``--duration``: the `ended` event with ``end_reason`` null (as
    the JSON output promises), then the line that says the session may still run; exit 1. The
    library's warning that said so first is a line of the command's own."""
    emulator.inject("stop", status=500, times=100)
    cli = await spawn("run", AVATAR_ID, "--json", "--duration", "0.2", env=env)
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 1, outcome.err
    started, ended = (json.loads(line) for line in outcome.out.splitlines())
    assert (started["event"], ended["event"]) == ("started", "ended")
    assert ended["end_reason"] is None
    assert ended["session_id"] == started["session_id"]
    assert "may still be running" in outcome.err
    # The library's warning is a line of the command's, said as a warning (not a bare message).
    warning, last = outcome.err.splitlines()
    assert warning.startswith(f"aioavatar: warning: session {started['session_id']}: its stop")
    assert last.startswith("aioavatar: ")


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


async def _finished(process: anyio.abc.Process) -> tuple[int, str]:
    """Wait for ``process`` to end: its exit status and standard error."""
    async with process:
        assert process.stderr is not None
        with anyio.fail_after(20):  # a hang, not a speed limit
            err = await read_all(BufferedByteReceiveStream(process.stderr))
            return await process.wait(), err


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
    status, err = await _finished(process)
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


@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "text"])
async def test_a_reader_gone_and_a_stop_not_confirmed_exit_1_naming_the_session(
    emulator: LiveAvatarEmulator, env: dict[str, str], json_lines: bool
) -> None:
    """Standard output closed before `started`, and the stop that follows fails: what the user must
    learn is that the session may still run, not that the reader left. The line that names it, on
    standard error, and exit 1 (141 before: the closed output hid it)."""
    emulator.inject("stop", status=500, times=10)
    argv = ["run", AVATAR_ID, *(["--json"] if json_lines else [])]
    status, _, err = await _run_with_a_reader_that_leaves(argv, env, lines=0)
    (session_id,) = emulator.sessions
    assert status == 1, err
    assert f"retry with `aioavatar sessions stop {session_id}`" in err
    assert "Traceback" not in err
    assert emulator.sessions[session_id].is_active


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "text"])
async def test_standard_output_that_cannot_be_written_stops_the_session_as_disconnected(
    emulator: LiveAvatarEmulator, env: dict[str, str], json_lines: bool
) -> None:
    """Standard output on a full disk (``/dev/full``): nobody got the session's URL, so it is
    stopped at once as a user who went away (USER_DISCONNECTED, not SERVER_ERROR), and the command
    says why in one line, exit 1, no traceback."""
    argv = [sys.executable, "-m", "aioavatar", "run", AVATAR_ID, *(["--json"] * json_lines)]
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        process = await anyio.open_process(argv, env=env, stdout=full)
    finally:
        os.close(full)
    status, err = await _finished(process)
    assert status == 1, err
    assert err.splitlines() == ["aioavatar: [Errno 28] No space left on device"]
    (session_id,) = emulator.sessions
    assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]


async def test_standard_output_closed_from_the_start_still_stops_once(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """Started with standard output closed (``>&-``): Python has no ``sys.stdout``, printing does
    nothing, and the command ends as asked, with no error at exit."""
    argv = [sys.executable, "-m", "aioavatar", "run", AVATAR_ID, "--duration", "0.2"]
    process = await anyio.open_process(["/bin/sh", "-c", 'exec "$0" "$@" >&-', *argv], env=env)
    status, err = await _finished(process)
    assert status == 0, err
    assert err == ""
    (session_id,) = emulator.sessions
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
