"""The emulators' command line (``aioavatar emulator``, also ``python -m aioavatar.testing``), run as a user
runs it: every constructor option has a flag, and the flags reach the emulator."""

from __future__ import annotations

import base64
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from aioavatar._cli import run
from aioavatar._cli.emulator import OPTIONS
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .helpers import AVATAR, bearer, call, ok

pytestmark = pytest.mark.anyio

CONSTRUCTORS = {"liveavatar": LiveAvatarEmulator, "kaltura": KalturaEmulator}
NOT_OPTIONS = {"self", "api_key", "ks", "host", "port"}  # the key is --api-key; --host, --port


@asynccontextmanager
async def serving(*argv: str) -> AsyncIterator[dict[str, Any]]:
    """Run ``python -m aioavatar.testing --port 0 --json *argv``; yield its announcement; Ctrl-C it and
    check it exits 0 without a word on standard error."""
    command = [sys.executable, "-m", "aioavatar.testing", "--port", "0", "--json", *argv]
    async with await anyio.open_process(command) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        stdout = BufferedByteReceiveStream(process.stdout)
        try:
            with anyio.fail_after(20):
                line = await stdout.receive_until(b"\n", 1 << 16)
            yield json.loads(line)
        finally:
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(20):
                status = await process.wait()
                err = b"".join([chunk async for chunk in process.stderr])
    assert status == 0, err
    assert err == b""


@pytest.mark.parametrize("provider", ["liveavatar", "kaltura"])
def test_every_constructor_option_has_a_flag(
    provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each keyword of the emulator's constructor is a flag of `aioavatar emulator`, documented in its help."""
    parameters = inspect.signature(CONSTRUCTORS[provider]).parameters
    assert set(parameters) - NOT_OPTIONS == set(OPTIONS[provider])
    with pytest.raises(SystemExit):
        run(["emulator", "--help"])
    help_text = capsys.readouterr().out
    for name in OPTIONS[provider]:
        assert f"--{name.replace('_', '-')}" in help_text


def test_a_flag_of_the_other_provider_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A Kaltura flag given to the LiveAvatar emulator (and back) is one line naming it, exit 2."""
    assert run(["emulator", "--ended-status", "410"]) == 2
    assert "--ended-status is not an option of the liveavatar emulator" in capsys.readouterr().err
    assert run(["emulator", "--provider", "kaltura", "--time-scale", "0"]) == 2
    assert "--time-scale is not an option of the kaltura emulator" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--api-key", "short"], "--api-key"),
        (["--api-key", ""], "--api-key"),  # not the default key in its place
        (["--provider", "kaltura", "--non-admin-ks", "short"], "--non-admin-ks"),
    ],
)
def test_a_credential_the_sdk_would_refuse_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], flag: str
) -> None:
    """A test credential shorter than the SDK sends (8 characters), the non-admin KS too: exit 2,
    one line naming the flag, the value not quoted."""
    assert run(["emulator", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert flag in err
    assert "short" not in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["--provider", "kaltura", "--api-key", "same-ks-0", "--non-admin-ks", "same-ks-0"],
            "--non-admin-ks must be a non-empty KS other than --api-key",
        ),
        (["--time-scale", "-1"], "--time-scale must be >= 0"),
        (["--tier-max-session-duration", "-5"], "--tier-max-session-duration must be > 0"),
        (["--rate-limit", "0"], "--rate-limit must be > 0"),
        (["--connect-delay", "nan"], "--connect-delay must be >= 0"),
        (["--host", ""], "--host must be an address (0.0.0.0 listens on every one)"),
    ],
)
def test_an_option_the_emulator_refuses_is_a_usage_error_naming_its_flag(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    """A value the constructor refuses (the non-admin KS equal to the admin one, a negative time
    scale, ...) is exit 2, one line naming the flag as the user wrote it, not the parameter."""
    assert run(["emulator", "--port", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert said in err
    assert "_" not in err.partition("error: ")[2]  # no parameter name (time_scale, ...)


async def test_liveavatar_flags_reach_the_emulator(http: aiohttp.ClientSession) -> None:
    """--idle-timeout, --sandbox-max-duration, --time-scale, --connect-delay and --max-message-size
    change what a client sees."""
    flags = ["--idle-timeout", "0.3", "--sandbox-max-duration", "7", "--time-scale", "20"]
    flags += ["--connect-delay", "0", "--max-message-size", "2000", "--api-key", "k-123456"]
    async with serving(*flags) as announced:
        assert announced["provider"] == "liveavatar"
        assert announced["api_key"] == "k-123456"
        server = Target(announced["base_url"])
        key = {"X-API-KEY": "k-123456"}
        body = {"avatar_id": AVATAR, "is_sandbox": True, "mode": "LITE"}
        reply = await call(http, server, "POST", "/v1/sessions/token", headers=key, json_body=body)
        session_id, token = ok(reply)["session_id"], ok(reply)["session_token"]
        reply = await call(http, server, "POST", "/v1/sessions/start", headers=bearer(token))
        data = ok(reply, 201)
        assert data["max_session_duration"] == 7
        async with http.ws_connect(data["ws_url"]) as ws:
            assert (await ws.receive_json())["state"] == "connecting"
            assert (await ws.receive_json())["state"] == "connected"  # no delay
            audio = base64.b64encode(b"\x00\x00" * 240).decode()  # 10 ms, under the size limit
            sent = time.monotonic()  # before the emulator has the audio
            await ws.send_json({"type": "agent.speak", "audio": audio, "event_id": "e"})
            await ws.send_json({"type": "agent.speak_end", "event_id": "e"})
            received: dict[str, float] = {}
            while "agent.speak_ended" not in received:
                kind = (await ws.receive_json())["type"]
                received[kind] = time.monotonic()
            # Played twenty times slower than real time: 0.2 s at least, counted from before the
            # send (a message is stamped when read, and speak_started read late would shorten it).
            assert "agent.speak_started" in received
            assert received["agent.speak_ended"] - sent >= 0.2
            await ws.send_str("x" * 2001)  # one past --max-message-size
            while (message := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                pass  # the agent's state after the speech
            assert message.data == 1009
        # With no more activity the 0.3 s idle window ends the session.
        path = f"/v1/sessions/{session_id}"

        async def ended() -> bool:
            entry = ok(await call(http, server, "GET", path, headers=key))
            return bool(entry.get("end_reason") == "IDLE_TIMEOUT")

        with anyio.fail_after(10):
            while not await ended():  # noqa: ASYNC110 - polls another process
                await anyio.sleep(0.05)


async def test_kaltura_flags_reach_the_emulator(http: aiohttp.ClientSession) -> None:
    """--non-admin-ks, --say-text-unavailable, --ended-status and --idle-timeout change what a client sees."""
    flags = ["--provider", "kaltura", "--api-key", "admin-ks-0", "--non-admin-ks", "user-ks-0"]
    flags += ["--say-text-unavailable", "--ended-status", "410", "--idle-timeout", "0.3"]
    async with serving(*flags) as announced:
        server = Target(announced["base_url"] + "/v1")  # the root: the paths carry /v1
        create = "/avatar-session/create"
        body = {"visualConfig": {"id": "a-1"}}
        user = await call(http, server, "POST", create, headers={"Authorization": "KS user-ks-0"})
        assert user.status == 403
        reply = await call(
            http, server, "POST", create, headers={"Authorization": "KS admin-ks-0"}, json_body=body
        )
        assert reply.status == 200, reply.body
        session_id, token = reply.body["sessionId"], reply.body["token"]
        say = {"text": "hi", "turnId": "t", "isFinal": True}
        action = f"/avatar-session/{session_id}"
        reply = await call(
            http, server, "POST", f"{action}/say-text", headers=bearer(token), json_body=say
        )
        assert reply.status == 503
        with anyio.fail_after(10):
            while True:
                await anyio.sleep(0.4)  # past the 0.3 s window: this keep-alive comes too late
                reply = await call(
                    http, server, "POST", f"{action}/keep-alive", headers=bearer(token)
                )
                if reply.status == 410:  # --ended-status
                    break


class Target:
    """A base URL to send requests to (what a subprocess emulator announced)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


@pytest.mark.parametrize("json_line", [False, True])
def test_an_emulator_whose_output_is_closed_ends_quietly(json_line: bool) -> None:
    """`aioavatar emulator | true`: the announcement finds no reader; exit 141 (standard output was
    closed), not a failure to listen on its port."""
    reader, writer = os.pipe()
    os.close(reader)
    argv = [sys.executable, "-m", "aioavatar", "emulator", "--port", "0"]
    done = subprocess.run(  # noqa: S603 - this interpreter, this package
        [*argv, "--json"] if json_line else argv,
        stdout=writer,
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
    )
    os.close(writer)
    assert done.returncode == 141, done.stderr
    assert b"cannot listen" not in done.stderr
    assert b"Traceback" not in done.stderr
