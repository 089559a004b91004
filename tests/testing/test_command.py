"""The emulator's command line, run as a user runs it."""

from __future__ import annotations

import re
import signal
import sys

import aiohttp
import anyio
import pytest

from aioavatar.testing import LiveAvatarEmulator
from aioavatar.testing.__main__ import main, serve

from .helpers import API_KEY, KEY, call, ok

pytestmark = pytest.mark.anyio


async def test_serve_in_process(http: aiohttp.ClientSession) -> None:
    """serve() runs the emulator until cancelled and tells on_ready its base URL."""
    ready: list[LiveAvatarEmulator] = []
    event = anyio.Event()

    def on_ready(running: LiveAvatarEmulator) -> None:
        ready.append(running)
        event.set()

    async with anyio.create_task_group() as group:
        group.start_soon(lambda: serve(port=0, api_key=API_KEY, on_ready=on_ready))
        with anyio.fail_after(5):
            await event.wait()
        ok(await call(http, ready[0], "GET", "/v1/sessions?type=active", headers=KEY))
        group.cancel_scope.cancel()
    with pytest.raises(RuntimeError):
        _ = ready[0].base_url


def test_main_reports_bind_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """An address that cannot be bound is an error line and exit status 1."""
    assert main(["--host", "256.0.0.1", "--port", "0"]) == 1
    assert "error" in capsys.readouterr().err


async def test_cli_smoke(http: aiohttp.ClientSession) -> None:
    """`python -m aioavatar.testing` serves until Ctrl-C and exits 0."""
    command = [sys.executable, "-m", "aioavatar.testing", "--port", "0", "--api-key", API_KEY]
    async with await anyio.open_process(command) as process:
        assert process.stdout is not None
        try:
            output = b""
            with anyio.fail_after(10):
                while b"API key" not in output:
                    output += await process.stdout.receive()
            text = output.decode()
            match = re.search(r"(http://127\.0\.0\.1:\d+)", text)
            assert match is not None, text
            assert f"API key: {API_KEY}" in text
            url = match[1] + "/v1/sessions?type=active"
            async with http.get(url, headers=KEY) as response:
                assert response.status == 200
                assert (await response.json())["data"]["count"] == 0
        finally:
            if sys.platform == "win32":
                process.terminate()
            else:
                process.send_signal(signal.SIGINT)  # Ctrl-C: a clean exit
            with anyio.fail_after(10):
                returncode = await process.wait()
    if sys.platform != "win32":
        assert returncode == 0
