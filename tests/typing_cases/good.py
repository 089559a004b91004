"""Calls the type checker must accept (tests/test_typing.py runs mypy --strict over this file)."""

from __future__ import annotations

from aioavatar import (
    SANDBOX_AVATAR_ID,
    AvatarPersona,
    AvatarPersonaDict,
    AvatarSession,
    ElevenLabsVoiceSettings,
    EndReason,
    KalturaAvatarClient,
    LiveAvatarClient,
    LiveKitConfig,
    Mode,
    VideoQuality,
    VideoSettings,
    VideoSettingsDict,
)


async def calls(client: LiveAvatarClient, session: AvatarSession) -> None:
    """Enums as members or their strings, nested settings as dicts or models."""
    AvatarSession(SANDBOX_AVATAR_ID, mode="LITE", is_sandbox=True)
    AvatarSession(SANDBOX_AVATAR_ID, mode="lite")
    AvatarSession(SANDBOX_AVATAR_ID, mode=Mode.FULL, interactivity_type="PUSH_TO_TALK")
    AvatarSession(SANDBOX_AVATAR_ID, video_settings={"quality": "high", "encoding": "VP8"})
    AvatarSession(SANDBOX_AVATAR_ID, video_settings={"quality": VideoQuality.VERY_HIGH})
    AvatarSession(SANDBOX_AVATAR_ID, video_settings=VideoSettings(quality=VideoQuality.LOW))
    settings: VideoSettingsDict = {"encoding": "h264"}
    client.session(SANDBOX_AVATAR_ID, video_settings=settings)
    persona: AvatarPersonaDict = {
        "voice_settings": {"provider": "elevenLabs", "speed": 1.0, "model": "eleven_flash_v2_5"},
        "stt_config": {"provider": "deepgram"},
    }
    client.session(SANDBOX_AVATAR_ID, avatar_persona=persona)
    client.session(
        SANDBOX_AVATAR_ID,
        avatar_persona=AvatarPersona(voice_settings=ElevenLabsVoiceSettings(speed=1.1)),
    )
    client.session(
        SANDBOX_AVATAR_ID,
        mode="LITE",
        livekit_config={"livekit_url": "wss://x", "livekit_room": "r", "livekit_client_token": "t"},
    )
    client.session(SANDBOX_AVATAR_ID, livekit_config=LiveKitConfig("wss://x", "r", "t"))
    client.session(SANDBOX_AVATAR_ID, voice_agent={"id": SANDBOX_AVATAR_ID, "language": "en"})
    await client.list_sessions("historic")
    await client.stop_session(SANDBOX_AVATAR_ID, reason="AGENT_HANG_UP")
    await session.stop(EndReason.USER_CLOSED)
    await session.stop("user_closed")
    KalturaAvatarClient("ks", region="frp2")


async def narrowing_survives_the_block(session: AvatarSession) -> str:
    """``async with`` a session never swallows what the block raised, and says so in its type: what
    was narrowed inside the block stays narrowed after it (an ``__aexit__`` typed ``bool`` would
    make the type checker assume the block may have been skipped)."""
    async with session:
        url = session.info.ws_url
        assert url is not None
    return url
