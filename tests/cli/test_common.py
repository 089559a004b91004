"""What every command shares (``_cli/common.py``): one-line errors and their exit statuses (a mistake the
user can fix, the API's refusal, no answer, TLS to a plain-http port), and ``-v``."""

from __future__ import annotations

import logging
import socket

import pytest

from aioavatar.testing import LiveAvatarEmulator

from ..conftest import API_KEY, AVATAR_ID
from .helpers import UNKNOWN_ID, assert_one_line, invoke

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["sessions", "get", "not-an-id"], ["'not-an-id' is not a session id"]),
        (
            ["sessions", "stop", UNKNOWN_ID, "--reason", "BORED"],
            ["unknown end reason", "USER_CLOSED"],
        ),
        (["sessions", "reap", "--older-than", "soon"], ["--older-than"]),
        (
            ["sessions", "list", "--base-url", "ftp://example.com"],
            ["error: bad --base-url: must be an http(s) URL"],  # named once, as the user wrote it
        ),
        (["run"], ["AVATAR_ID"]),
        (["run", "not-a-uuid"], ["error: AVATAR_ID: must be a UUID"]),
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
        (  # a Kaltura id, which is no UUID: Kaltura's refusal, not "expected a UUID"
            ["sessions", "get", "78289a2984bc7e835831e2c2", "--provider", "kaltura"],
            ["cannot list or read"],
        ),
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
        (
            ["run", AVATAR_ID, "--keep-alive-interval", "151"],
            ["error: --keep-alive-interval: must be"],
        ),
        (["sessions", "list", "--api-key", "short"], ["error: --api-key: must be 8"]),
        (["run", "--provider", "kaltura", "av", "--ks", "short"], ["error: --ks: must be 8"]),
        (
            ["sessions", "stop", "abc", "--provider", "kaltura", "--token", "short"],
            ["--token: must"],
        ),
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


@pytest.mark.parametrize(
    ("variable", "argv"),
    [
        ("LIVEAVATAR_API_KEY", ["sessions", "list"]),
        ("LIVEAVATAR_API_KEY", ["sessions", "list", "--api-key", ""]),  # empty: not given
        ("KALTURA_AVATAR_KS", ["run", "--provider", "kaltura", "av"]),
        ("KALTURA_AVATAR_SESSION_TOKEN", ["sessions", "stop", "abc", "--provider", "kaltura"]),
    ],
)
async def test_a_credential_refused_from_the_environment_names_its_variable(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    variable: str,
    argv: list[str],
) -> None:
    """A credential the library refuses, read from the environment: the line names the variable the
    user set (not the library's parameter, not a flag they never gave or gave empty, which the
    command reads as not given), exit 2, nothing sent."""
    monkeypatch.setenv(variable, "short")
    outcome = await invoke(capsys, *argv)
    assert outcome.status == 2
    assert_one_line(outcome.err, f"error: {variable}: must be 8")
    assert "short" not in outcome.err
    assert emulator.journal == []


async def test_a_process_that_configured_logging_gets_each_warning_once(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
) -> None:
    """``run()`` called in a process whose root logger has a handler (here pytest's): the library's
    warnings go to that handler only, not also as the command's own ``aioavatar: warning:`` lines."""
    emulator.inject("stop", status=500, times=100)
    with caplog.at_level(logging.WARNING, logger="aioavatar"):
        outcome = await invoke(capsys, "run", AVATAR_ID, "--duration", "0.2")
    assert outcome.status == 1
    assert "aioavatar: warning:" not in outcome.err
    unconfirmed = [r for r in caplog.records if "its stop was not confirmed" in r.getMessage()]
    assert len(unconfirmed) == 1


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
