"""Opt-in tests against the real LiveAvatar API: `pytest -m live` with LIVEAVATAR_API_KEY set.

Sandbox sessions use no credits. Without a key these tests fail loudly instead of skipping.
"""

from __future__ import annotations

import os

import pytest

from aioavatar import AvatarSession, EndReason, LiveAvatarClient

pytestmark = [pytest.mark.live, pytest.mark.anyio]

SANDBOX_AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"


@pytest.fixture
def api_key() -> str:
    """The real API key, or a loud failure."""
    key = os.environ.get("LIVEAVATAR_API_KEY")
    if not key:
        pytest.fail(
            "the live tests need LIVEAVATAR_API_KEY in the environment "
            "(sandbox sessions use no credits); run without -m live to skip them"
        )
    return key


async def test_sandbox_session_starts_and_stops(api_key: str) -> None:
    """A real sandbox session starts, is kept alive, and ends with our stop reason."""
    async with LiveAvatarClient(api_key) as client:
        async with AvatarSession(
            SANDBOX_AVATAR_ID, client=client, is_sandbox=True, keep_alive_interval=5
        ) as session:
            assert session.info.livekit_url.startswith("wss://")
            await client.keep_alive(session.session_id)
        entry = await client.get_session(session.session_id)
    assert session.end_reason is EndReason.USER_CLOSED
    assert entry.id == session.session_id
