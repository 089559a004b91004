"""Closed sets of the LiveAvatar API, as string enums.

Enums the server sends back (:class:`EndReason`, :class:`Mode`, :class:`SessionSource`,
:class:`TranscriptRole`) are *tolerant*: a value the server adds later becomes a pseudo-member
(``EndReason("NEW_REASON").is_known is False``) instead of crashing the client. Requests only accept
known members: the validation in the models checks ``is_known``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

__all__ = [
    "ElevenLabsModel",
    "EndReason",
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


class _Enum(StrEnum):
    """A string enum that reads its values in any case (``Mode("lite")`` is ``Mode.LITE``): every
    enum-like input of the SDK is case-insensitive, as the CLI's are."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            folded = value.casefold()
            for member in cls:
                if member.value.casefold() == folded:
                    return member
        return None


class _TolerantEnum(_Enum):
    """A string enum that turns an unknown string into a pseudo-member rather than raising."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        known = super()._missing_(value)
        if known is not None or not isinstance(value, str):
            return known
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """Whether this value is one the SDK knows (``False`` for a value the server added later)."""
        return self._value_ in type(self)._value2member_map_

    @classmethod
    def known(cls, value: str | Self) -> Self:
        """Return the known member for ``value`` (in any case); raise ``ValueError`` for anything else."""
        if isinstance(value, str):
            member = cls(value)
            if member.is_known:
                return member
        raise ValueError(f"{value!r} is not one of {', '.join(m.value for m in cls)}")


class EndReason(_TolerantEnum):
    """``SessionEndReasonEnum``: why a session ended, sent on stop and reported for historic sessions."""

    UNKNOWN = "UNKNOWN"
    USER_DISCONNECTED = "USER_DISCONNECTED"
    SERVER_ERROR = "SERVER_ERROR"
    IDLE_TIMEOUT = "IDLE_TIMEOUT"
    NO_CREDITS = "NO_CREDITS"
    USER_CLOSED = "USER_CLOSED"
    AVATAR_DELETED = "AVATAR_DELETED"
    MAX_DURATION_REACHED = "MAX_DURATION_REACHED"
    ZOMBIE_SESSION_REAP = "ZOMBIE_SESSION_REAP"
    AGENT_HANG_UP = "AGENT_HANG_UP"


class Mode(_TolerantEnum):
    """Session mode: ``FULL`` (LiveAvatar runs STT, LLM and TTS) or ``LITE`` (you send the audio)."""

    FULL = "FULL"
    LITE = "LITE"


class SessionSource(_TolerantEnum):
    """Where a session was created."""

    DEMO = "DEMO"
    APP = "APP"
    API = "API"
    EMBED = "EMBED"


class TranscriptRole(_TolerantEnum):
    """Who spoke a transcript line."""

    USER = "user"
    AVATAR = "avatar"


class SessionType(_Enum):
    """Which sessions ``list_sessions`` returns."""

    ACTIVE = "active"
    HISTORIC = "historic"


class VideoQuality(_Enum):
    """``video_settings.quality``."""

    VERY_HIGH = "very_high"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class VideoEncoding(_Enum):
    """``video_settings.encoding``."""

    VP8 = "VP8"
    H264 = "H264"


class InteractivityType(_Enum):
    """``interactivity_type`` of a FULL session."""

    CONVERSATIONAL = "CONVERSATIONAL"
    PUSH_TO_TALK = "PUSH_TO_TALK"


class ElevenLabsModel(_Enum):
    """``voice_settings.model`` for the ``elevenLabs`` provider."""

    ELEVEN_FLASH_V2_5 = "eleven_flash_v2_5"
    ELEVEN_MULTILINGUAL_V2 = "eleven_multilingual_v2"


class FishModel(_Enum):
    """``voice_settings.model`` for the ``fish`` provider."""

    S1 = "s1"
    S2 = "s2"


class FishLatencyMode(_Enum):
    """``voice_settings.latency_mode`` for the ``fish`` provider."""

    NORMAL = "normal"
    BALANCED = "balanced"


class SttProvider(_Enum):
    """``stt_config.provider``."""

    DEEPGRAM = "deepgram"
    ASSEMBLY_AI = "assembly_ai"
    GLADIA = "gladia"
    ELEVENLABS = "elevenlabs"
