"""The parts of a session token request: video, voice, speech-to-text, persona, voice agent, memory and the
LITE connectors' settings, as frozen attrs classes that validate themselves at construction
(:class:`~aioavatar.ConfigurationError` naming the field). An unset field is ``None`` and left out of the
JSON body."""

from __future__ import annotations

from typing import ClassVar

import attrs

from .._validation import (
    boolean,
    check_int,
    check_text,
    enum_field,
    instance_of,
    number_in,
    optional,
    positive_number,
    string,
    uuid_string,
)
from ..exceptions import ConfigurationError
from ._enums import (
    ElevenLabsModel,
    FishLatencyMode,
    FishModel,
    SttProvider,
    VideoEncoding,
    VideoQuality,
)
from ._variables import dynamic_variables

__all__ = [
    "CONFIG_MODELS",
    "AgoraConfig",
    "AvatarPersona",
    "ElevenLabsAgentConfig",
    "ElevenLabsVoiceSettings",
    "FishVoiceSettings",
    "GeminiRealtimeConfig",
    "LiveKitConfig",
    "Memory",
    "OpenAIRealtimeConfig",
    "SttConfig",
    "VideoSettings",
    "VoiceAgent",
    "VoiceSettings",
]


@attrs.frozen
class VideoSettings:
    """``video_settings``: stream quality and codec."""

    quality: VideoQuality | None = enum_field(VideoQuality)
    encoding: VideoEncoding | None = enum_field(VideoEncoding)


@attrs.frozen
class ElevenLabsVoiceSettings:
    """``voice_settings`` with ``provider: "elevenLabs"``."""

    provider: ClassVar[str] = "elevenLabs"
    speed: float | None = attrs.field(default=None, validator=optional(number_in(0.8, 1.2)))
    stability: float | None = attrs.field(default=None, validator=optional(number_in(0.0, 1.0)))
    similarity_boost: float | None = attrs.field(
        default=None, validator=optional(number_in(0.0, 1.0))
    )
    style: float | None = attrs.field(default=None, validator=optional(number_in(0.0, 1.0)))
    use_speaker_boost: bool | None = attrs.field(default=None, validator=optional(boolean))
    model: ElevenLabsModel | None = enum_field(ElevenLabsModel)
    apply_language_text_normalization: bool | None = attrs.field(
        default=None, validator=optional(boolean)
    )


@attrs.frozen
class FishVoiceSettings:
    """``voice_settings`` with ``provider: "fish"``."""

    provider: ClassVar[str] = "fish"
    speed: float | None = attrs.field(default=None, validator=optional(positive_number))
    model: FishModel | None = enum_field(FishModel)
    latency_mode: FishLatencyMode | None = enum_field(FishLatencyMode)


VoiceSettings = ElevenLabsVoiceSettings | FishVoiceSettings


@attrs.frozen
class SttConfig:
    """``stt_config``: which speech-to-text provider a FULL session uses."""

    provider: SttProvider | None = enum_field(SttProvider)


@attrs.frozen
class AvatarPersona:
    """``avatar_persona`` (deprecated by the API in favour of :class:`VoiceAgent`, still accepted)."""

    voice_id: str | None = attrs.field(default=None, validator=optional(uuid_string))
    context_id: str | None = attrs.field(default=None, validator=optional(uuid_string))
    language: str | None = attrs.field(default=None, validator=optional(string))
    voice_settings: VoiceSettings | None = attrs.field(
        default=None,
        validator=optional(instance_of(ElevenLabsVoiceSettings, FishVoiceSettings)),
    )
    stt_config: SttConfig | None = attrs.field(
        default=None, validator=optional(instance_of(SttConfig))
    )


@attrs.frozen
class VoiceAgent:
    """``voice_agent``: a stored voice agent, by id, with per-session overrides."""

    id: str = attrs.field(validator=uuid_string)
    language: str | None = attrs.field(default=None, validator=optional(string))
    dynamic_variables: dict[str, str] | None = attrs.field(
        default=None, validator=optional(dynamic_variables)
    )


@attrs.frozen
class Memory:
    """``memory``: attach session memory from a previous session, an existing memory, or both."""

    prev_session_id: str | None = attrs.field(default=None, validator=optional(uuid_string))
    session_memory_id: str | None = attrs.field(default=None, validator=optional(uuid_string))


@attrs.frozen
class LiveKitConfig:
    """LITE ``livekit_config``: stream into your own LiveKit room."""

    livekit_url: str = attrs.field(validator=string)
    livekit_room: str = attrs.field(validator=string)
    livekit_client_token: str = attrs.field(validator=string, repr=False)


@attrs.frozen
class AgoraConfig:
    """LITE ``agora_config``: stream into an Agora channel."""

    agora_app_id: str = attrs.field(validator=string)
    agora_token: str = attrs.field(validator=string, repr=False)
    agora_channel: str = attrs.field(validator=string)
    agora_uid: str | int = attrs.field(validator=instance_of(str, int))

    @agora_uid.validator
    def _check_uid(self, attribute: attrs.Attribute[str | int], value: str | int) -> None:
        # Agora's uid: an unsigned 32-bit integer, or a user account of at most 255 characters.
        if isinstance(value, int):
            check_int(value, attribute.name, low=0, high=2**32 - 1)
        elif not check_text(value, attribute.name, max_length=255).isprintable():
            raise ConfigurationError("must hold no control character", field=attribute.name)


@attrs.frozen
class ElevenLabsAgentConfig:
    """LITE ``elevenlabs_agent_config``: an ElevenLabs conversational agent drives the avatar."""

    secret_id: str = attrs.field(validator=string)
    agent_id: str = attrs.field(validator=string)
    voice_id: str | None = attrs.field(default=None, validator=optional(string))
    dynamic_variables: dict[str, str] | None = attrs.field(
        default=None, validator=optional(dynamic_variables)
    )


@attrs.frozen
class OpenAIRealtimeConfig:
    """LITE ``openai_realtime_config``."""

    secret_id: str = attrs.field(validator=string)
    voice: str = attrs.field(validator=string)
    context_id: str | None = attrs.field(default=None, validator=optional(uuid_string))
    temperature: float | None = attrs.field(default=None, validator=optional(number_in(0.6, 1.2)))
    model: str | None = attrs.field(default=None, validator=optional(string))


@attrs.frozen
class GeminiRealtimeConfig:
    """LITE ``gemini_realtime_config``."""

    secret_id: str = attrs.field(validator=string)
    voice: str = attrs.field(validator=string)
    context_id: str | None = attrs.field(default=None, validator=optional(uuid_string))
    temperature: float | None = attrs.field(default=None, validator=optional(number_in(0.0, 2.0)))
    model: str | None = attrs.field(default=None, validator=optional(string))


#: The request models a token request nests (the converter registers them with it).
CONFIG_MODELS: tuple[type, ...] = (
    VideoSettings,
    ElevenLabsVoiceSettings,
    FishVoiceSettings,
    SttConfig,
    AvatarPersona,
    VoiceAgent,
    Memory,
    LiveKitConfig,
    AgoraConfig,
    ElevenLabsAgentConfig,
    OpenAIRealtimeConfig,
    GeminiRealtimeConfig,
)
