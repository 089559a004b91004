"""``aioavatar sessions list|get|stop|reap`` (``_cli/sessions.py``) against the emulators: what is shown,
what is stopped and with which reason, and Kaltura's end with a session's own token."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
from typing import Any

import anyio
import anyio.abc
import pytest

from aioavatar import KalturaAvatarClient, LiveAvatarClient
from aioavatar._cli import session_entries
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from ..conftest import AVATAR_ID
from ..providers import KALTURA_AVATAR_ID
from .helpers import SESSION_KEYS, assert_clean, assert_one_line, eventually, invoke, spawn

pytestmark = pytest.mark.anyio


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


async def test_sessions_list_shows_broken_fields_plainly(
    capsys: pytest.CaptureFixture[str], emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """A listing whose server wrote a NaN or infinite duration, or an id with a terminal escape
    sequence in it: the table shows "-" for the duration and "?" for each control character (no
    traceback, no escape reaching the terminal); ``--json`` stays valid JSON (``null``)."""
    entries = [
        {"id": "a\x1b]0;pwned\x07b", "duration": float("nan")},
        {"id": "00000000-0000-4000-8000-000000000002", "duration": float("inf")},
    ]
    body = json.dumps({"code": 1000, "data": {"count": 2, "results": entries}}).encode()
    emulator.inject("list", body=body, times=2)
    outcome = await invoke(capsys, "sessions", "list")
    assert outcome.status == 0, outcome.err
    assert "\x1b" not in outcome.out
    rows = outcome.out.splitlines()[1:3]
    assert rows[0].split()[0] == "a?]0;pwned?b"
    assert [row.split()[-1] for row in rows] == ["-", "-"]
    listed = (await invoke(capsys, "sessions", "list", "--json")).json()
    assert [s["duration"] for s in listed["sessions"]] == [None, None]


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
    assert "had already ended (AGENT_HANG_UP)" in again.out  # the server's reason, not the one sent
    third = await invoke(capsys, "sessions", "stop", session_id, "--json")
    assert third.json() == {"id": session_id, "reason": "AGENT_HANG_UP", "stopped": False}
    assert emulator.stop_reasons(session_id) == ["AGENT_HANG_UP", "USER_CLOSED", "USER_CLOSED"]
    assert emulator.sessions[session_id].end_reason == "AGENT_HANG_UP"
    assert emulator.sessions[other].is_active


@pytest.mark.parametrize(
    "fault",
    [{"status": 404}, {"drop": True, "times": 10}, {"status": 500, "times": 10}],
    ids=["gone yet running", "no answer", "500"],
)
async def test_sessions_stop_not_confirmed_says_the_session_may_still_run(
    capsys: pytest.CaptureFixture[str],
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    running_sessions: list[str],
    fault: dict[str, Any],
) -> None:
    """A stop not confirmed: answered 404 while the server lists the session as running (rule 9:
    not "already ended" and exit 0), no answer, or a 5xx on every attempt (not only "no answer
    from the API"). Exit 1, one line that names the session, says it may still be running and how
    to retry, and no JSON on standard output."""
    session_id, _ = running_sessions
    emulator.inject("stop", **fault)
    result = await invoke(capsys, "sessions", "stop", session_id, "--json")
    assert result.status == 1
    assert result.out == ""
    assert_one_line(result.err, session_id, "may still be running")
    assert f"aioavatar sessions stop {session_id}" in result.err
    assert emulator.sessions[session_id].is_active


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


async def test_reap_does_not_take_already_ended_for_a_session_still_listed_as_running(
    capsys: pytest.CaptureFixture[str],
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    running_sessions: list[str],
) -> None:
    """A stop answered 404 for a session the server still lists as running is not confirmed (rule
    9), as `sessions stop` says: reap looks it up too, reports it failed, and exits 1."""
    emulator.inject("stop", status=404)  # the first stop only: the session runs on
    outcome = await invoke(capsys, "sessions", "reap", "--yes", "--json")
    assert outcome.status == 1
    results = {r["id"]: r for r in outcome.json()["sessions"]}
    [failed] = [r for r in results.values() if r["result"] != "stopped"]
    assert failed["result"] == "failed"
    assert "yet the server lists it as running" in failed["error"]
    assert emulator.sessions[failed["id"]].is_active


async def test_reap_says_when_the_listing_was_read_only_in_part(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    running_sessions: list[str],
) -> None:
    """The pages read are bounded (a server that keeps answering ``next``): a listing cut there
    stops what it read, says the rest were not read, and exits 1, not "2 of 2 ended" and 0."""
    monkeypatch.setattr(session_entries, "PAGE_SIZE", 1)
    monkeypatch.setattr(session_entries, "MAX_PAGES", 1)
    outcome = await invoke(capsys, "sessions", "reap", "--yes", "--json")
    assert outcome.status == 1
    report = outcome.json()
    assert report["complete"] is False
    assert [r["result"] for r in report["sessions"]] == ["stopped"]
    assert_one_line(outcome.err, "read only in part (2 active sessions counted)", "reap` again")
    assert sum(emulator.sessions[s].is_active for s in running_sessions) == 1


async def test_reap_interrupted_finishes_the_stop_under_way_and_reports_what_it_did(
    emulator: LiveAvatarEmulator, env: dict[str, str], client: LiveAvatarClient
) -> None:
    """SIGTERM while reap stops sessions: the stop under way is finished, no other is sent, every
    session stopped is printed with its id, and the exit status is 130 (sessions were left)."""
    for _ in range(3):
        token = await client.create_session_token(AVATAR_ID, is_sandbox=True)
        await client.start_session(token.session_token)
    emulator.inject("stop", delay=0.5, times=3)
    cli = await spawn("sessions", "reap", "--yes", env=env)
    async with cli.process:
        await eventually(lambda: emulator.requests("stop"))
        cli.send(signal.SIGTERM)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    stopped = [s for s in emulator.sessions if not emulator.sessions[s].is_active]
    assert 1 <= len(stopped) < 3
    assert len(emulator.requests("stop")) == len(stopped)
    for session_id in stopped:
        assert f"{session_id}  stopped" in outcome.out
    assert f"{len(stopped)} of 3 sessions ended" in outcome.out
    assert f"Interrupted: {3 - len(stopped)} sessions were not stopped." in outcome.err


async def test_what_the_server_wrote_reaches_standard_output_without_control_characters(
    capsys: pytest.CaptureFixture[str],
    emulator: LiveAvatarEmulator,
    env: dict[str, str],
    running_sessions: list[str],
) -> None:
    """An escape sequence in a field the server wrote (here a session's error message, in a reap
    line and in `sessions get`) is shown as ``?``: it cannot retitle the window or clear the
    screen."""
    hostile = "boom\x1b]0;PWNED\x07\x1b[2J"
    emulator.inject("stop", status=500, body=json.dumps({"message": hostile}).encode(), times=3)
    reap = await invoke(capsys, "sessions", "reap", "--yes")
    assert "\x1b" not in reap.out
    assert "boom?]0;PWNED??[2J" in reap.out
    emulator.inject(
        "get",
        body=json.dumps(
            {
                "code": 1000,
                "message": "",
                "data": {"id": running_sessions[0], "created_at": hostile},
            }
        ).encode(),
    )
    got = await invoke(capsys, "sessions", "get", running_sessions[0])
    assert got.status == 0, got.err
    assert "\x1b" not in got.out
    assert "boom?]0;PWNED??[2J" in got.out
    # A stop answered "already ended", the reason the server recorded being any text.
    emulator.inject("stop", status=404)
    ended = {"id": running_sessions[1], "end_at": "2024", "end_reason": hostile}
    emulator.inject("get", body=json.dumps({"code": 1000, "message": "", "data": ended}).encode())
    stop = await invoke(capsys, "sessions", "stop", running_sessions[1])
    assert stop.status == 0, stop.err
    assert "\x1b" not in stop.out
    assert "had already ended (boom?]0;PWNED??[2J)" in stop.out


@pytest.mark.parametrize("action", ["get", "stop"])
async def test_the_api_key_pasted_as_the_session_id_is_not_printed(
    env: dict[str, str], action: str
) -> None:
    """The key where the id goes (a swapped paste): refused, the key masked as `run` masks it (in a
    process of its own: none of the suite's clients has the key tracked there)."""
    cli = await spawn("sessions", action, env["LIVEAVATAR_API_KEY"], env=env)
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 2
    assert_one_line(outcome.err, "is not a session id")
    assert env["LIVEAVATAR_API_KEY"] not in outcome.err + outcome.out


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


async def test_a_token_pasted_as_a_session_id_is_not_quoted(
    capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    """`sessions stop <a session token>` (the id and the token mixed up): one line saying it is not
    a session id, exit 2, without the token."""
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZXNzaW9uIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    outcome = await invoke(capsys, "sessions", "stop", token)
    assert outcome.status == 2
    assert_one_line(outcome.err, "is not a session id")
    assert token[:20] not in outcome.err


async def test_a_server_message_with_control_characters_reaches_the_terminal_plainly(
    capsys: pytest.CaptureFixture[str], emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """An API error whose message holds a terminal escape sequence: the one line shows ``?`` for
    each control character, and none reaches standard error."""
    body = json.dumps({"code": 400, "message": "bad \x1b]0;PWNED\x07\x1b[2J thing"}).encode()
    emulator.inject("list", status=400, body=body)
    outcome = await invoke(capsys, "sessions", "list")
    assert outcome.status == 1
    assert "\x1b" not in outcome.err
    assert "\x07" not in outcome.err
    assert_one_line(outcome.err, "bad ?]0;PWNED??[2J thing")


async def test_sessions_list_shows_each_session_once_though_pages_repeat(
    capsys: pytest.CaptureFixture[str], emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """A server that ignores ``page`` answers every page with the same sessions (its count says
    9): the listing shows each once (before, three times; `reap` stopped each three times)."""
    ids = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(3)]
    data = {"count": 9, "next": "/v1/sessions?page=next", "results": [{"id": i} for i in ids]}
    emulator.inject("list", body=json.dumps({"code": 1000, "data": data}).encode(), times=1000)
    listed = (await invoke(capsys, "sessions", "list", "--json", "--limit", "1000")).json()
    assert [s["id"] for s in listed["sessions"]] == ids
    assert len(emulator.requests("list")) == 3  # up to the count, in pages of 3
