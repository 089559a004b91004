"""Shared pytest configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aioavatar import LiveAvatarClient, RetryPolicy
from aioavatar.testing import LiveAvatarEmulator


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio."""
    return "asyncio"


API_KEY = "test-api-key-0001"
AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"


@pytest.fixture
async def emulator() -> AsyncIterator[LiveAvatarEmulator]:
    """A LiveAvatar emulator listening on 127.0.0.1."""
    async with LiveAvatarEmulator(api_key=API_KEY) as emu:
        yield emu


@pytest.fixture
async def client(emulator: LiveAvatarEmulator) -> AsyncIterator[LiveAvatarClient]:
    """A LiveAvatarClient pointed at the emulator, with fast retries."""
    async with LiveAvatarClient(
        API_KEY,
        base_url=emulator.base_url,
        retry_policy=RetryPolicy(backoff_initial=0.01, backoff_max=0.05),
    ) as c:
        yield c
