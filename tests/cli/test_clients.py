"""Credentials and clients for the commands (``_cli/clients.py``): the API key from the flag or the
environment, never shown, and plain http only to this machine unless allowed."""

from __future__ import annotations

import pytest

from aioavatar.testing import LiveAvatarEmulator

from ..conftest import API_KEY, AVATAR_ID
from .helpers import assert_clean, assert_one_line, invoke

pytestmark = pytest.mark.anyio


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
