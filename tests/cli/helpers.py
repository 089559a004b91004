"""Running the console script as a user runs it: in-process through ``aioavatar._cli.run`` (with captured
output), or as a subprocess read line by line; and what every command's output must (not) show."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from aioavatar._cli import run as cli_run

from ..conftest import API_KEY
from ..providers import KS

__all__ = [
    "ENDED",
    "KALTURA_STARTED",
    "KALTURA_VARIABLES",
    "LIVEAVATAR_STARTED",
    "SCRIPT",
    "SESSION_KEYS",
    "UNKNOWN_ID",
    "Cli",
    "Outcome",
    "assert_clean",
    "assert_one_line",
    "eventually",
    "invoke",
    "read_all",
    "spawn",
]


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


@dataclass
class Outcome:
    """A finished command: its exit status, standard output and standard error."""

    status: int
    out: str
    err: str

    def json(self) -> Any:
        """Standard output read as one JSON document."""
        return json.loads(self.out)


KALTURA_VARIABLES = ("KALTURA_AVATAR_KS", "KALTURA_AVATAR_BASE_URL", "KALTURA_AVATAR_SESSION_TOKEN")


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
    """Standard error is one line, no traceback, and holds every needle."""
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
            rest = await read_all(self._stdout)
            err = await read_all(self._stderr)
            status = await self.process.wait()
        out = "".join(f"{line}\n" for line in self.lines) + rest
        return Outcome(status, out, "".join(f"{line}\n" for line in self.err_lines) + err)


async def read_all(stream: BufferedByteReceiveStream) -> str:
    """Everything left on ``stream`` until it ends, as text."""
    chunks = []
    while True:
        try:
            chunks.append(await stream.receive())
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return b"".join(chunks).decode()


#: The console script next to this interpreter (nox and the venv install it).
SCRIPT = Path(sys.executable).with_name("aioavatar")


#: Runs argv[1:] with SIGHUP at its default (an ignored signal stays ignored across exec).
_AS_FROM_A_TERMINAL = (
    "import os, signal, sys\n"
    "if hasattr(signal, 'SIGHUP'):\n"
    "    signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])"
)


async def spawn(
    *argv: str,
    env: Mapping[str, str],
    stdin: int | None = None,
    script: bool = False,
    raw: bool = False,
) -> Cli:
    """``python -m aioavatar ARGV``, or with ``script`` the ``aioavatar`` console script, or with
    ``raw`` ARGV as it is (a command that runs the CLI: ``nohup``, say). The CLI starts with SIGHUP
    at its default, as from a terminal, whatever this process inherited (a test run under ``nohup``
    would hand it an ignored one)."""
    command = [] if raw else [str(SCRIPT)] if script else [sys.executable, "-m", "aioavatar"]
    if command:
        command = [sys.executable, "-c", _AS_FROM_A_TERMINAL, *command]
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


LIVEAVATAR_STARTED = {
    "event",
    "session_id",
    "livekit_url",
    "livekit_client_token",
    "ws_url",
    "max_session_duration",
}


ENDED = {"event", "session_id", "end_reason", "keep_alives_sent", "keep_alives_failed"}


KALTURA_STARTED = {"event", "session_id", "whep_url", "turn"}
