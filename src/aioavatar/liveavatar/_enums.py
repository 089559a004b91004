"""The closed sets of the LiveAvatar API, as string enums (their bases are in ``aioavatar._enums``)."""

from __future__ import annotations

from .._enums import CaseInsensitiveEnum, TolerantEnum

__all__ = [
    "AvatarStatus",
    "AvatarType",
    "ElevenLabsModel",
    "EmbedType",
    "FishLatencyMode",
    "FishModel",
    "InteractivityType",
    "Mode",
    "Orientation",
    "SecretType",
    "SessionSource",
    "SessionType",
    "SttProvider",
    "TranscriptRole",
    "VideoEncoding",
    "VideoQuality",
    "VoiceType",
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


class AvatarType(TolerantEnum):
    """What an avatar is made from: ``IMAGE`` or ``VIDEO``."""

    IMAGE = "IMAGE"
    VIDEO = "VIDEO"


class AvatarStatus(TolerantEnum):
    """Where an avatar is in its making: ``ACTIVE`` (usable), ``INIT``, ``DEPLOYING``, ``FAILED``."""

    ACTIVE = "ACTIVE"
    INIT = "INIT"
    DEPLOYING = "DEPLOYING"
    FAILED = "FAILED"


class VoiceType(CaseInsensitiveEnum):
    """Which voices ``voices.list`` returns: LiveAvatar's ``public`` ones or the account's ``private``."""

    PUBLIC = "public"
    PRIVATE = "private"


class SecretType(TolerantEnum):
    """What a stored secret is for (the server may add kinds: read tolerantly, sent only if known)."""

    OPENAI_API_KEY = "OPENAI_API_KEY"
    ELEVENLABS_API_KEY = "ELEVENLABS_API_KEY"
    GEMINI_API_KEY = "GEMINI_API_KEY"
    LLM_API_KEY = "LLM_API_KEY"


class EmbedType(CaseInsensitiveEnum):
    """``type`` of an embed: ``DEFAULT`` or ``WIDGET``."""

    DEFAULT = "DEFAULT"
    WIDGET = "WIDGET"


class Orientation(TolerantEnum):
    """``orientation`` of an embed."""

    HORIZONTAL = "horizontal"
    VERTICAL = "vertical"
