"""``aioavatar run --provider kaltura`` (``_cli/run_kaltura.py``): a Kaltura Avatar session held as ``run``
holds LiveAvatar's; what a viewer plays it with is printed, its token never."""

from __future__ import annotations

import json
import os
import signal

import pytest

from aioavatar.testing import KalturaEmulator

from ..providers import KALTURA_AVATAR_ID, KS
from .helpers import ENDED, KALTURA_STARTED, KALTURA_VARIABLES, assert_clean, eventually, spawn

pytestmark = pytest.mark.anyio


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
