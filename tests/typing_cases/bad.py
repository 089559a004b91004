"""Calls the type checker must refuse: each line marked ``# E: code`` must have that error, and no other
line any (tests/test_typing.py runs mypy --strict over this file). Each fails at run time too."""

from __future__ import annotations

from decimal import Decimal

from aioavatar import (
    SANDBOX_AVATAR_ID,
    AvatarSession,
    Credits,
    KalturaAvatarClient,
    LiveAvatarClient,
    LiveKitConfigDict,
)


async def calls(client: LiveAvatarClient, session: AvatarSession) -> None:
    """An unknown enum value, a misspelt key, a wrong value type, a missing required key."""
    AvatarSession(SANDBOX_AVATAR_ID, mode="lit")  # E: arg-type
    AvatarSession(SANDBOX_AVATAR_ID, video_settings={"quality": "ultra"})  # E: arg-type
    AvatarSession(SANDBOX_AVATAR_ID, video_settings={"qualty": "high"})  # E: arg-type
    client.session(SANDBOX_AVATAR_ID, interactivity_type="push")  # E: arg-type
    client.session(SANDBOX_AVATAR_ID, memory={"prev_session": SANDBOX_AVATAR_ID})  # E: arg-type
    client.session(SANDBOX_AVATAR_ID, voice_agent={"language": "en"})  # E: arg-type
    no_provider = {"voice_settings": {"speed": 1.0}}
    client.session(SANDBOX_AVATAR_ID, avatar_persona=no_provider)  # E: arg-type
    unknown_stt = {"stt_config": {"provider": "whisper"}}
    client.session(SANDBOX_AVATAR_ID, avatar_persona=unknown_stt)  # E: arg-type
    client.session(SANDBOX_AVATAR_ID, max_session_duration="60")  # E: arg-type
    config: LiveKitConfigDict = {"livekit_url": "wss://x", "livekit_room": "r"}  # E: typeddict-item
    client.session(SANDBOX_AVATAR_ID, livekit_config=config)
    await client.list_sessions("closed")  # E: arg-type
    await client.stop_session(SANDBOX_AVATAR_ID, reason="BYE")  # E: arg-type
    await session.stop("bye")  # E: arg-type
    KalturaAvatarClient("ks", region="eu")  # E: arg-type
    await client.contexts.create(
        name="n",
        prompt="p",
        opening_text="o",
        links=[{"urll": "x"}],  # E: list-item
    )
    Credits(credits_left=Decimal(1)).minutes("lit")  # E: arg-type
