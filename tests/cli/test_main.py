"""The entry points of the command line, ``python -m aioavatar`` (``aioavatar/__main__.py``) and the
``aioavatar`` console script (``_aioavatar_cli.py``): Ctrl-C at any moment, the imports included."""

from __future__ import annotations

import os
import signal

import pytest

from aioavatar.testing import LiveAvatarEmulator

from ..conftest import AVATAR_ID
from .helpers import SCRIPT, spawn

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("module", ["aiohttp", "aioavatar._cli"])
async def test_ctrl_c_while_the_command_line_is_imported_exits_130(
    emulator: LiveAvatarEmulator, env: dict[str, str], module: str
) -> None:
    """Ctrl-C while the console script imports (aiohttp, inside `import aioavatar`; the CLI's own
    modules) exits 130 with no traceback, nothing started."""
    assert SCRIPT.name in os.listdir(SCRIPT.parent), f"no console script at {SCRIPT}"
    emulator.inject(
        "token", delay=30
    )  # should the signal land later, it still finds nothing started
    traced = {**env, "PYTHONPROFILEIMPORTTIME": "1"}  # each import, on stderr, as it completes
    cli = await spawn("run", AVATAR_ID, env=traced, script=True)
    async with cli.process:
        await cli.err_line_where(lambda line: line.rsplit("|", 1)[-1].strip() == module)
        cli.send(signal.SIGINT)
        outcome = await cli.finish()
    assert outcome.status == 130, outcome.err
    assert "Traceback" not in outcome.err
    assert "KeyboardInterrupt" not in outcome.err
    assert emulator.requests("start") == []
