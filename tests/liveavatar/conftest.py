"""Fixtures of the LiveAvatar tests."""

from __future__ import annotations

import pytest

from aioavatar.testing import LiveAvatarEmulator


@pytest.fixture
def fast_ws(emulator: LiveAvatarEmulator) -> LiveAvatarEmulator:
    """The emulator with a quick `connected` and speech played twenty times faster than real time."""
    emulator.ws.connect_delay = 0.02
    emulator.ws.time_scale = 0.05
    return emulator
