"""``aioavatar demo`` (``_cli/demo.py``): a whole session on the embedded emulator, no account needed."""

from __future__ import annotations

import subprocess
import sys


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
