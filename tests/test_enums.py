"""``aioavatar._enums``: strings read in any case and sent as the API spells them; pseudo-members for
values the server adds later."""

from __future__ import annotations

import pickle

import pytest

from aioavatar import AvatarPersonaDict, EndReason, LiveAvatarClient
from aioavatar.testing import LiveAvatarEmulator

from .conftest import AVATAR_ID

pytestmark = pytest.mark.anyio


async def test_enum_strings_are_read_in_any_case(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """mode='lite', quality 'HIGH', a voice provider 'ELEVENLABS', a stop reason 'agent_hang_up' and
    a list type 'ACTIVE' are read as their members and sent as the API spells them."""
    persona: AvatarPersonaDict = {
        "voice_settings": {"provider": "ELEVENLABS", "model": "ELEVEN_FLASH_V2_5"}
    }
    async with client.session(
        AVATAR_ID,
        is_sandbox=True,
        mode="lite",
        video_settings={"quality": "HIGH", "encoding": "h264"},
        avatar_persona=persona,
    ) as session:
        await session.stop("agent_hang_up")
    (token,) = emulator.requests("token")
    assert token.body["mode"] == "LITE"
    assert token.body["video_settings"] == {"quality": "high", "encoding": "H264"}
    assert token.body["avatar_persona"]["voice_settings"] == {
        "provider": "elevenLabs",
        "model": "eleven_flash_v2_5",
    }
    assert emulator.stop_reasons(session.session_id) == ["AGENT_HANG_UP"]
    assert (await client.list_sessions("ACTIVE")).count == 0


def test_unknown_end_reason_pickles() -> None:
    """A pseudo-member survives pickling."""
    reason = EndReason("SOMETHING_NEW")
    assert pickle.loads(pickle.dumps(reason)) == reason
