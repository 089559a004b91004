"""The closed sets of the LiveAvatar API, as string enums (their bases are in ``aioavatar._enums``)."""

from __future__ import annotations

from .._enums import CaseInsensitiveEnum, TolerantEnum

__all__ = [
    "ElevenLabsModel",
    "FishLatencyMode",
    "FishModel",
    "InteractivityType",
    "Mode",
    "SessionSource",
    "SessionType",
    "SttProvider",
    "TranscriptRole",
    "VideoEncoding",
    "VideoQuality",
]


class Mode(TolerantEnum):
    """Session mode: ``FULL`` (LiveAvatar runs STT, LLM and TTS) or ``LITE`` (you send the audio)."""

    FULL = "FULL"
    LITE = "LITE"


class SessionSource(TolerantEnum):
    """Where a session was created."""

    DEMO = "DEMO"
    APP = "APP"
    API = "API"
    EMBED = "EMBED"


class TranscriptRole(TolerantEnum):
    """Who spoke a transcript line."""

    USER = "user"
    AVATAR = "avatar"


class SessionType(CaseInsensitiveEnum):
    """Which sessions ``list_sessions`` returns."""

    ACTIVE = "active"
    HISTORIC = "historic"


class VideoQuality(CaseInsensitiveEnum):
    """``video_settings.quality``."""

    VERY_HIGH = "very_high"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class VideoEncoding(CaseInsensitiveEnum):
    """``video_settings.encoding``."""

    VP8 = "VP8"
    H264 = "H264"


class InteractivityType(CaseInsensitiveEnum):
    """``interactivity_type`` of a FULL session."""

    CONVERSATIONAL = "CONVERSATIONAL"
    PUSH_TO_TALK = "PUSH_TO_TALK"


class ElevenLabsModel(CaseInsensitiveEnum):
    """``voice_settings.model`` for the ``elevenLabs`` provider."""

    ELEVEN_FLASH_V2_5 = "eleven_flash_v2_5"
    ELEVEN_MULTILINGUAL_V2 = "eleven_multilingual_v2"


class FishModel(CaseInsensitiveEnum):
    """``voice_settings.model`` for the ``fish`` provider."""

    S1 = "s1"
    S2 = "s2"


class FishLatencyMode(CaseInsensitiveEnum):
    """``voice_settings.latency_mode`` for the ``fish`` provider."""

    NORMAL = "normal"
    BALANCED = "balanced"


class SttProvider(CaseInsensitiveEnum):
    """``stt_config.provider``."""

    DEEPGRAM = "deepgram"
    ASSEMBLY_AI = "assembly_ai"
    GLADIA = "gladia"
    ELEVENLABS = "elevenlabs"
