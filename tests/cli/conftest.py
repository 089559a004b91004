"""Fixtures of the command-line tests: a user's environment pointed at an emulator, and sessions left
running."""

from __future__ import annotations

import os

import pytest

from aioavatar import LiveAvatarClient
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from ..conftest import API_KEY, AVATAR_ID
from ..providers import KS
from .helpers import KALTURA_VARIABLES


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, emulator: LiveAvatarEmulator) -> dict[str, str]:
    """The environment of a user pointed at the emulator (for in-process runs and subprocesses),
    with no Kaltura variable."""
    monkeypatch.setenv("LIVEAVATAR_API_KEY", API_KEY)
    monkeypatch.setenv("LIVEAVATAR_BASE_URL", emulator.base_url)
    for name in KALTURA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return dict(os.environ)


@pytest.fixture
def kaltura_env(
    monkeypatch: pytest.MonkeyPatch, kaltura_emulator: KalturaEmulator
) -> dict[str, str]:
    """The environment of a user pointed at the Kaltura emulator, KS included."""
    for name in KALTURA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KALTURA_AVATAR_KS", KS)
    monkeypatch.setenv("KALTURA_AVATAR_BASE_URL", kaltura_emulator.base_url)
    return dict(os.environ)


@pytest.fixture
async def running_sessions(client: LiveAvatarClient) -> list[str]:
    """Two started sessions that nobody holds: what a crashed program leaves behind."""
    ids = []
    for _ in range(2):
        token = await client.create_session_token(AVATAR_ID, is_sandbox=True)
        await client.start_session(token.session_token)
        ids.append(token.session_id)
    return ids
