"""``_version.py``: one version, from the installed distribution's metadata, and the one the client
sends in its User-Agent."""

from __future__ import annotations

from importlib.metadata import version

import pytest

import aioavatar
from aioavatar import LiveAvatarClient
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY

pytestmark = pytest.mark.anyio


def test_the_version_is_the_distributions() -> None:
    """``aioavatar.__version__`` is what ``pyproject.toml`` declared (through the metadata), never a
    second copy that could drift."""
    assert aioavatar.__version__ == version("aioavatar")
    assert aioavatar.__version__ != "0+unknown"


async def test_the_user_agent_carries_the_version(emulator: LiveAvatarEmulator) -> None:
    """Every request says which aioavatar sent it (the server's logs can tell versions apart)."""
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client:
        await client.list_sessions("active")
    agents = {r.headers.get("User-Agent") for r in emulator.journal}
    assert agents == {f"aioavatar/{aioavatar.__version__}"}
