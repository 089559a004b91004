"""Requests and responses of the LiveAvatar session endpoints, as frozen attrs classes (the parts a token
request nests are in ``_configs``).

Request models validate themselves at construction (:class:`~aioavatar.ConfigurationError` naming the
field); an unset field is ``None`` and is left out of the JSON body. Response models hold what the server
sent; fields the server adds later are ignored. Serialization lives in ``aioavatar._converter`` only.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any, TypedDict
from urllib.parse import parse_qsl, urlsplit

import attrs

from .._secret import Secret
from .._validation import (
    boolean,
    credential,
    enum_field,
    instance_of,
    int_in,
    optional,
    uuid_string,
)
from ..exceptions import ConfigurationError
from ._config_dicts import (
    AgoraConfigDict,
    AvatarPersonaDict,
    ElevenLabsAgentConfigDict,
    GeminiRealtimeConfigDict,
    LiveKitConfigDict,
    MemoryDict,
    OpenAIRealtimeConfigDict,
    VideoSettingsDict,
    VoiceAgentDict,
)
from ._configs import (
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
from ._enums import (
    InteractivityType,
    InteractivityTypeName,
    Mode,
    ModeName,
)
from ._variables import dynamic_variables

__all__ = [
    "MAX_SESSION_DURATION",
    "SANDBOX_AVATAR_ID",
    "SessionInfo",
    "SessionToken",
    "SessionTokenRequest",
    "TokenFields",
    "carried_secrets",
    "start_credentials",
]

# --- the token request ---------------------------------------------------------------------------------

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


class TokenFields(TypedDict, total=False):
    """Every field of ``POST /v1/sessions/token`` but ``avatar_id``.

    Nested objects are model instances or dicts shaped like the JSON body (typed by the ``...Dict``
    classes, such as :class:`~aioavatar.VideoSettingsDict`); enums are members or their strings (typed
    as their values, as the API spells them or in lower or upper case; the run time reads any case). See :class:`~aioavatar.liveavatar.SessionTokenRequest` for the rules.
    """

    mode: Mode | ModeName
    is_sandbox: bool
    video_settings: VideoSettings | VideoSettingsDict
    max_session_duration: int
    avatar_persona: AvatarPersona | AvatarPersonaDict
    voice_agent: VoiceAgent | VoiceAgentDict
    interactivity_type: InteractivityType | InteractivityTypeName
    llm_configuration_id: str
    dynamic_variables: Mapping[str, str]
    memory: Memory | MemoryDict
    livekit_config: LiveKitConfig | LiveKitConfigDict
    agora_config: AgoraConfig | AgoraConfigDict
    elevenlabs_agent_config: ElevenLabsAgentConfig | ElevenLabsAgentConfigDict
    openai_realtime_config: OpenAIRealtimeConfig | OpenAIRealtimeConfigDict
    gemini_realtime_config: GeminiRealtimeConfig | GeminiRealtimeConfigDict


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


def carried_secrets(request: SessionTokenRequest) -> tuple[str, ...]:
    """The credentials of the caller's own services a token request carries (its LiveKit room's
    client token, its Agora token): masked in whatever comes back, as the API key is."""
    carried = []
    if request.livekit_config is not None:
        carried.append(request.livekit_config.livekit_client_token)
    if request.agora_config is not None:
        carried.append(request.agora_config.agora_token)
    return tuple(carried)


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
    something that is not a number, which is logged at WARNING); the session uses it as its deadline
    when it is usable, and logs it when it is not.
    """

    session_id: str
    livekit_url: str
    livekit_client_token: str = attrs.field(repr=False)
    livekit_agent_token: str | None = attrs.field(default=None, repr=False)
    max_session_duration: float | None = None
    ws_url: str | None = attrs.field(default=None, repr=False)


def start_credentials(info: SessionInfo) -> tuple[str, ...]:
    """The credentials a start answer carries, which a session holds masked (as its own token) while
    it runs: a server may echo any of them, in an error or a realtime event. The room's agent and
    viewer tokens, and each token-like parameter of the LITE socket URL's query (``token``,
    ``access_token``, ``key``, ``sig``, ...; not the session's id, which is no secret)."""
    found: tuple[str | None, ...] = (info.livekit_client_token, info.livekit_agent_token)
    if info.ws_url is not None and "?" in info.ws_url:
        with contextlib.suppress(ValueError):  # not a URL: the socket will say so when opened
            query = parse_qsl(urlsplit(info.ws_url).query)
            found += tuple(
                v for k, v in query if _CREDENTIAL_KEY.search(k) and v != info.session_id
            )
    return tuple(value for value in found if type(value) is str and value)


#: The names of query parameters that carry a credential.
_CREDENTIAL_KEY = re.compile(r"(?i)token|key|sig|secret|auth|pass|credential|jwt")
