"""Fixtures of the emulator tests: a plain aiohttp client (no SDK) to talk to the emulators with."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session: requests exactly as written, no SDK in between."""
    async with aiohttp.ClientSession() as session:
        yield session
