"""``aioavatar emulator`` (``_cli/emulator.py``) as a user runs it: it serves until a signal and answers the
SDK. Every flag reaching the emulator, and ``python -m aioavatar.testing``, are tested in
``tests/testing/test_command.py``."""

from __future__ import annotations

import json
import os
import signal
import socket

import pytest

from aioavatar import KalturaAvatarClient, LiveAvatarClient

from ..conftest import AVATAR_ID
from .helpers import assert_one_line, spawn

pytestmark = pytest.mark.anyio


async def test_emulator_serves_until_ctrl_c() -> None:
    """`emulator --port 0 --json` prints its base URL and key, answers the SDK, and exits 0 on SIGINT."""
    cli = await spawn(
        "emulator", "--port", "0", "--api-key", "k-123456", "--json", env=dict(os.environ)
    )
    async with cli.process:
        announced = json.loads(await cli.line())
        assert announced["provider"] == "liveavatar"
        assert announced["api_key"] == "k-123456"
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


@pytest.mark.parametrize("host", ["a..b", "a" * 64])
async def test_emulator_on_a_host_name_that_cannot_be_looked_up_is_one_line(host: str) -> None:
    """A host name with an empty or overlong label: a usage error naming --host, exit 2, no
    traceback (the lookup's UnicodeError before)."""
    cli = await spawn("emulator", "--host", host, "--port", "0", env=dict(os.environ))
    async with cli.process:
        outcome = await cli.finish()
    assert outcome.status == 2, outcome.err
    assert_one_line(outcome.err, "--host must be an address or a host name")


async def test_credits_flag_sets_the_balance_and_refuses_nonsense() -> None:
    """`--credits 1.5` is the emulated balance (read back through the API); a value that is not a
    number of credits from 0 is a one-line usage error, exit 2."""
    cli = await spawn("emulator", "--port", "0", "--credits", "1.5", "--json", env=dict(os.environ))
    async with cli.process:
        announced = json.loads(await cli.line())
        async with LiveAvatarClient(announced["api_key"], base_url=announced["base_url"]) as client:
            assert str((await client.get_credits()).credits_left) == "1.5000"
        cli.process.send_signal(signal.SIGINT)
        assert (await cli.finish()).status == 0
    refused = await spawn("emulator", "--credits", "lots", env=dict(os.environ))
    async with refused.process:
        outcome = await refused.finish()
    assert outcome.status == 2
    assert_one_line(outcome.err, "--credits", "a number of credits from 0")
