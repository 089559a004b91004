"""Requests and responses of the LiveAvatar session endpoints, as frozen attrs classes.

Request models validate themselves at construction (:class:`~aioavatar.ConfigurationError` naming the
field); an unset field is ``None`` and is left out of the JSON body. Response models hold what the server
sent; fields the server adds later are ignored. Serialization lives in ``aioavatar._converter`` only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from .._enums import EndReason
from .._secret import Secret
from .._validation import (
    boolean,
    credential,
    dynamic_variables,
    enum_field,
    instance_of,
    int_in,
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
    InteractivityType,
    Mode,
    SessionSource,
    SttProvider,
    TranscriptRole,
    VideoEncoding,
    VideoQuality,
)

__all__ = [
    "MAX_SESSION_DURATION",
    "REQUEST_MODELS",
    "SANDBOX_AVATAR_ID",
    "AgoraConfig",
    "AvatarPersona",
    "ElevenLabsAgentConfig",
    "ElevenLabsVoiceSettings",
    "FishVoiceSettings",
    "GeminiRealtimeConfig",
    "LiveKitConfig",
    "Memory",
    "OpenAIRealtimeConfig",
    "SessionEntry",
    "SessionInfo",
    "SessionPage",
    "SessionToken",
    "SessionTokenRequest",
    "SttConfig",
    "Transcript",
    "TranscriptEntry",
    "VideoSettings",
    "VoiceAgent",
    "VoiceSettings",
]

# --- request models -------------------------------------------------------------------------------------


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


#: The one avatar sandbox sessions (``is_sandbox=True``) may use: they cost no credits and end after
#: about a minute.
SANDBOX_AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"

#: The longest ``max_session_duration`` a request may ask for, in seconds (a day). The API caps it by the
#: subscription tier and publishes no tier above that; anything longer is a mistake, not a plan.
MAX_SESSION_DURATION = 86_400

_CONNECTORS = (
    "livekit_config",
    "agora_config",
    "elevenlabs_agent_config",
    "openai_realtime_config",
    "gemini_realtime_config",
)


def _instance(cls: type) -> Any:
    return attrs.field(default=None, validator=optional(instance_of(cls)))


@attrs.frozen
class SessionTokenRequest:
    """The body of ``POST /v1/sessions/token`` for FULL and LITE sessions.

    Raises:
        ConfigurationError: naming the field, for every rule the API documents (UUIDs, ranges, enum values,
            ``avatar_persona`` with ``voice_agent``, more than one LITE connector, dynamic variables limits).
    """

    avatar_id: str = attrs.field(validator=uuid_string)
    mode: Mode | None = enum_field(Mode)
    is_sandbox: bool | None = attrs.field(default=None, validator=optional(boolean))
    video_settings: VideoSettings | None = _instance(VideoSettings)
    max_session_duration: int | None = attrs.field(
        default=None, validator=optional(int_in(1, MAX_SESSION_DURATION))
    )
    avatar_persona: AvatarPersona | None = _instance(AvatarPersona)
    voice_agent: VoiceAgent | None = _instance(VoiceAgent)
    interactivity_type: InteractivityType | None = enum_field(InteractivityType)
    llm_configuration_id: str | None = attrs.field(default=None, validator=optional(uuid_string))
    dynamic_variables: dict[str, str] | None = attrs.field(
        default=None, validator=optional(dynamic_variables)
    )
    memory: Memory | None = _instance(Memory)
    livekit_config: LiveKitConfig | None = _instance(LiveKitConfig)
    agora_config: AgoraConfig | None = _instance(AgoraConfig)
    elevenlabs_agent_config: ElevenLabsAgentConfig | None = _instance(ElevenLabsAgentConfig)
    openai_realtime_config: OpenAIRealtimeConfig | None = _instance(OpenAIRealtimeConfig)
    gemini_realtime_config: GeminiRealtimeConfig | None = _instance(GeminiRealtimeConfig)

    def __attrs_post_init__(self) -> None:
        if self.avatar_persona is not None and self.voice_agent is not None:
            raise ConfigurationError(
                "give avatar_persona or voice_agent, not both (the API treats them as exclusive)",
                field="avatar_persona",
            )
        given = [name for name in _CONNECTORS if getattr(self, name) is not None]
        if len(given) > 1:
            raise ConfigurationError(
                f"at most one LITE connector config is allowed, got {', '.join(given)}",
                field=given[1],
            )


# --- response models ------------------------------------------------------------------------------------


@attrs.frozen
class SessionToken:
    """The answer of ``POST /v1/sessions/token``.

    ``session_token`` is a :class:`~aioavatar.Secret`: it grants control of the session, keep it server side.
    """

    session_id: str = attrs.field(validator=uuid_string)
    session_token: Secret = attrs.field(repr=False, validator=credential)


@attrs.frozen
class SessionInfo:
    """The answer of ``POST /v1/sessions/start``: where to join the session.

    Only ``session_id``, ``livekit_url`` and ``livekit_client_token`` are always present.
    ``livekit_client_token`` is what a viewer needs to join the room; ``ws_url`` is set for LITE sessions.
    ``max_session_duration`` is the number the server sent, in seconds (``None`` when it sent none, or
    something that is not a number); the session uses it as its deadline when it is usable.
    """

    session_id: str
    livekit_url: str
    livekit_client_token: str = attrs.field(repr=False)
    livekit_agent_token: str | None = attrs.field(default=None, repr=False)
    max_session_duration: float | None = None
    ws_url: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class SessionEntry:
    """A session as listed by ``GET /v1/sessions`` or read by ``GET /v1/sessions/{id}``.

    Historic sessions also carry ``end_at`` and ``end_reason``. Timestamps are kept as the server's strings.
    """

    id: str
    created_at: str | None = None
    updated_at: str | None = None
    duration: float | None = None
    source: SessionSource | None = None
    mode: Mode | None = None
    is_sandbox: bool | None = None
    credits_consumed: float | None = None
    end_at: str | None = None
    end_reason: EndReason | None = None


@attrs.frozen
class SessionPage:
    """One page of ``GET /v1/sessions``."""

    count: int
    results: list[SessionEntry]
    next: str | None = None
    previous: str | None = None


@attrs.frozen
class TranscriptEntry:
    """One line of a transcript."""

    role: TranscriptRole
    transcript: str
    absolute_timestamp: float | None = None
    relative_timestamp: float | None = None


@attrs.frozen
class Transcript:
    """The answer of ``GET /v1/sessions/{id}/transcript`` (FULL sessions)."""

    session_active: bool
    transcript_data: list[TranscriptEntry] = attrs.field(factory=list)
    next_timestamp: float | None = None


#: Every request model of the LiveAvatar session API.
REQUEST_MODELS: tuple[type, ...] = (
    SessionTokenRequest,
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
