"""The nested parts of a token request as dicts the type checker reads: one ``TypedDict`` per model of
``_configs``, with the same keys and value types (enums as members or their strings), so that a misspelt
key or a wrong value is a type error, not only a :class:`~aioavatar.ConfigurationError` at run time. The
model classes stay accepted wherever these are; a test keeps the two in step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Required, TypedDict

from ._configs import ElevenLabsVoiceSettings, FishVoiceSettings, SttConfig
from ._enums import (
    ElevenLabsModel,
    ElevenLabsModelName,
    FishLatencyMode,
    FishLatencyModeName,
    FishModel,
    FishModelName,
    SttProvider,
    SttProviderName,
    VideoEncoding,
    VideoEncodingName,
    VideoQuality,
    VideoQualityName,
)

__all__ = [
    "AgoraConfigDict",
    "AvatarPersonaDict",
    "ContextLinkDict",
    "ElevenLabsAgentConfigDict",
    "ElevenLabsVoiceSettingsDict",
    "FishVoiceSettingsDict",
    "GeminiRealtimeConfigDict",
    "LiveKitConfigDict",
    "MemoryDict",
    "OpenAIRealtimeConfigDict",
    "SttConfigDict",
    "VideoSettingsDict",
    "VoiceAgentDict",
]


class VideoSettingsDict(TypedDict, total=False):
    """:class:`~aioavatar.VideoSettings` as a dict: ``{"quality": "high", "encoding": "VP8"}``."""

    quality: VideoQuality | VideoQualityName
    encoding: VideoEncoding | VideoEncodingName


class ElevenLabsVoiceSettingsDict(TypedDict, total=False):
    """:class:`~aioavatar.ElevenLabsVoiceSettings` as a dict, with ``"provider": "elevenLabs"``."""

    provider: Required[Literal["elevenLabs", "elevenlabs", "ELEVENLABS"]]
    speed: float
    stability: float
    similarity_boost: float
    style: float
    use_speaker_boost: bool
    model: ElevenLabsModel | ElevenLabsModelName
    apply_language_text_normalization: bool


class FishVoiceSettingsDict(TypedDict, total=False):
    """:class:`~aioavatar.FishVoiceSettings` as a dict, with ``"provider": "fish"``."""

    provider: Required[Literal["fish", "FISH"]]
    speed: float
    model: FishModel | FishModelName
    latency_mode: FishLatencyMode | FishLatencyModeName


class SttConfigDict(TypedDict, total=False):
    """:class:`~aioavatar.SttConfig` as a dict."""

    provider: SttProvider | SttProviderName


class AvatarPersonaDict(TypedDict, total=False):
    """:class:`~aioavatar.AvatarPersona` as a dict (its nested parts as models or dicts too)."""

    voice_id: str
    context_id: str
    language: str
    voice_settings: (
        ElevenLabsVoiceSettings
        | FishVoiceSettings
        | ElevenLabsVoiceSettingsDict
        | FishVoiceSettingsDict
    )
    stt_config: SttConfig | SttConfigDict


class VoiceAgentDict(TypedDict, total=False):
    """:class:`~aioavatar.VoiceAgent` as a dict (``id`` required)."""

    id: Required[str]
    language: str
    dynamic_variables: Mapping[str, str]


class MemoryDict(TypedDict, total=False):
    """:class:`~aioavatar.Memory` as a dict."""

    prev_session_id: str
    session_memory_id: str


class LiveKitConfigDict(TypedDict):
    """:class:`~aioavatar.LiveKitConfig` as a dict (every key required)."""

    livekit_url: str
    livekit_room: str
    livekit_client_token: str


class AgoraConfigDict(TypedDict):
    """:class:`~aioavatar.AgoraConfig` as a dict (every key required)."""

    agora_app_id: str
    agora_token: str
    agora_channel: str
    agora_uid: str | int


class ElevenLabsAgentConfigDict(TypedDict, total=False):
    """:class:`~aioavatar.ElevenLabsAgentConfig` as a dict (``secret_id`` and ``agent_id`` required)."""

    secret_id: Required[str]
    agent_id: Required[str]
    voice_id: str
    dynamic_variables: Mapping[str, str]


class OpenAIRealtimeConfigDict(TypedDict, total=False):
    """:class:`~aioavatar.OpenAIRealtimeConfig` as a dict (``secret_id`` and ``voice`` required)."""

    secret_id: Required[str]
    voice: Required[str]
    context_id: str
    temperature: float
    model: str


class GeminiRealtimeConfigDict(TypedDict, total=False):
    """:class:`~aioavatar.GeminiRealtimeConfig` as a dict (``secret_id`` and ``voice`` required)."""

    secret_id: Required[str]
    voice: Required[str]
    context_id: str
    temperature: float
    model: str


class ContextLinkDict(TypedDict, total=False):
    """A context link as a dict (:class:`~aioavatar.ContextLink`): ``url`` required, ``faq`` a short
    description of what the page answers."""

    url: Required[str]
    faq: str
