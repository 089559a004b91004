"""The keyword fields of a session token request, typed for ``**fields`` (PEP 692)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from ._enums import InteractivityType, Mode
from ._models import (
    AgoraConfig,
    AvatarPersona,
    ElevenLabsAgentConfig,
    GeminiRealtimeConfig,
    LiveKitConfig,
    Memory,
    OpenAIRealtimeConfig,
    VideoSettings,
    VoiceAgent,
)

__all__ = ["TokenFields"]


class TokenFields(TypedDict, total=False):
    """Every field of ``POST /v1/sessions/token`` but ``avatar_id``.

    Nested objects are model instances or dicts shaped like the JSON body; enums are members or their
    strings. See :class:`~aioavatar.liveavatar.SessionTokenRequest` for the rules.
    """

    mode: Mode | str
    is_sandbox: bool
    video_settings: VideoSettings | Mapping[str, Any]
    max_session_duration: int
    avatar_persona: AvatarPersona | Mapping[str, Any]
    voice_agent: VoiceAgent | Mapping[str, Any]
    interactivity_type: InteractivityType | str
    llm_configuration_id: str
    dynamic_variables: Mapping[str, str]
    memory: Memory | Mapping[str, Any]
    livekit_config: LiveKitConfig | Mapping[str, Any]
    agora_config: AgoraConfig | Mapping[str, Any]
    elevenlabs_agent_config: ElevenLabsAgentConfig | Mapping[str, Any]
    openai_realtime_config: OpenAIRealtimeConfig | Mapping[str, Any]
    gemini_realtime_config: GeminiRealtimeConfig | Mapping[str, Any]
