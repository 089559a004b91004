"""The closed sets of the LiveAvatar API, as string enums (their bases are in ``aioavatar._enums``)."""

from __future__ import annotations

from typing import Literal, TypeAlias

from .._enums import CaseInsensitiveEnum, TolerantEnum

__all__ = [
    "AvatarStatus",
    "AvatarType",
    "ElevenLabsModel",
    "ElevenLabsModelName",
    "EmbedType",
    "EmbedTypeName",
    "FishLatencyMode",
    "FishLatencyModeName",
    "FishModel",
    "FishModelName",
    "InteractivityType",
    "InteractivityTypeName",
    "Mode",
    "ModeName",
    "Orientation",
    "OrientationName",
    "SecretType",
    "SecretTypeName",
    "SessionSource",
    "SessionType",
    "SessionTypeName",
    "SttProvider",
    "SttProviderName",
    "TranscriptRole",
    "VideoEncoding",
    "VideoEncodingName",
    "VideoQuality",
    "VideoQualityName",
    "VoiceType",
    "VoiceTypeName",
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


# --- the values as the type checker reads them ----------------------------------------------------------
# Each enum-like parameter takes the enum or one of these strings: its values as the API spells them, in
# lower and in upper case (the run time reads any case; a test keeps these in step with the enums).

ModeName: TypeAlias = Literal["FULL", "full", "LITE", "lite"]
"""The values of :class:`Mode` as strings the type checker accepts."""

InteractivityTypeName: TypeAlias = Literal[
    "CONVERSATIONAL", "conversational", "PUSH_TO_TALK", "push_to_talk"
]
"""The values of :class:`InteractivityType` as strings the type checker accepts."""

SessionTypeName: TypeAlias = Literal["active", "ACTIVE", "historic", "HISTORIC"]
"""The values of :class:`SessionType` as strings the type checker accepts."""

VideoQualityName: TypeAlias = Literal[
    "very_high", "VERY_HIGH", "high", "HIGH", "medium", "MEDIUM", "low", "LOW"
]
"""The values of :class:`VideoQuality` as strings the type checker accepts."""

VideoEncodingName: TypeAlias = Literal["VP8", "vp8", "H264", "h264"]
"""The values of :class:`VideoEncoding` as strings the type checker accepts."""

ElevenLabsModelName: TypeAlias = Literal[
    "eleven_flash_v2_5", "ELEVEN_FLASH_V2_5", "eleven_multilingual_v2", "ELEVEN_MULTILINGUAL_V2"
]
"""The values of :class:`ElevenLabsModel` as strings the type checker accepts."""

FishModelName: TypeAlias = Literal["s1", "S1", "s2", "S2"]
"""The values of :class:`FishModel` as strings the type checker accepts."""

FishLatencyModeName: TypeAlias = Literal["normal", "NORMAL", "balanced", "BALANCED"]
"""The values of :class:`FishLatencyMode` as strings the type checker accepts."""

SttProviderName: TypeAlias = Literal[
    "deepgram",
    "DEEPGRAM",
    "assembly_ai",
    "ASSEMBLY_AI",
    "gladia",
    "GLADIA",
    "elevenlabs",
    "ELEVENLABS",
]
"""The values of :class:`SttProvider` as strings the type checker accepts."""

VoiceTypeName: TypeAlias = Literal["public", "PUBLIC", "private", "PRIVATE"]
"""The values of :class:`VoiceType` as strings the type checker accepts."""

SecretTypeName: TypeAlias = Literal[
    "OPENAI_API_KEY",
    "openai_api_key",
    "ELEVENLABS_API_KEY",
    "elevenlabs_api_key",
    "GEMINI_API_KEY",
    "gemini_api_key",
    "LLM_API_KEY",
    "llm_api_key",
]
"""The values of :class:`SecretType` as strings the type checker accepts."""

EmbedTypeName: TypeAlias = Literal["DEFAULT", "default", "WIDGET", "widget"]
"""The values of :class:`EmbedType` as strings the type checker accepts."""

OrientationName: TypeAlias = Literal["horizontal", "HORIZONTAL", "vertical", "VERTICAL"]
"""The values of :class:`Orientation` as strings the type checker accepts."""
