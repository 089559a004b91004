"""aioavatar: an asyncio-first SDK for live avatar sessions that never leaks a session.

::

    async with AvatarSession(avatar_id, is_sandbox=True) as session:
        print(session.info.livekit_url)
"""

__version__ = "0.1.0.dev0"

from ._enums import (
    ElevenLabsModel,
    EndReason,
    FishLatencyMode,
    FishModel,
    InteractivityType,
    Mode,
    SessionSource,
    SessionType,
    SttProvider,
    TranscriptRole,
    VideoEncoding,
    VideoQuality,
)
from ._retry import RetryPolicy
from ._secret import Secret
from ._session import AvatarSession, BaseSession, SessionState, SessionStatistics
from ._transport import Timeout
from .exceptions import (
    APIError,
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    NotFoundError,
    RateLimitedError,
    RequestTimeout,
    ResponseDecodeError,
    ServerError,
    SessionEndedError,
    SessionStopError,
    TransportError,
    ValidationError,
)
from .liveavatar import (
    AgoraConfig,
    AvatarPersona,
    ElevenLabsAgentConfig,
    ElevenLabsVoiceSettings,
    FishVoiceSettings,
    GeminiRealtimeConfig,
    LiveAvatarClient,
    LiveAvatarTimeouts,
    LiveKitConfig,
    Memory,
    OpenAIRealtimeConfig,
    SessionEntry,
    SessionInfo,
    SessionPage,
    SessionToken,
    SessionTokenRequest,
    SttConfig,
    Transcript,
    TranscriptEntry,
    VideoSettings,
    VoiceAgent,
)

__all__ = [
    "APIError",
    "AgoraConfig",
    "AuthenticationError",
    "AvatarError",
    "AvatarPersona",
    "AvatarSession",
    "BaseSession",
    "ConfigurationError",
    "ElevenLabsAgentConfig",
    "ElevenLabsModel",
    "ElevenLabsVoiceSettings",
    "EndReason",
    "FishLatencyMode",
    "FishModel",
    "FishVoiceSettings",
    "GeminiRealtimeConfig",
    "InteractivityType",
    "LiveAvatarClient",
    "LiveAvatarTimeouts",
    "LiveKitConfig",
    "Memory",
    "Mode",
    "NotFoundError",
    "OpenAIRealtimeConfig",
    "RateLimitedError",
    "RequestTimeout",
    "ResponseDecodeError",
    "RetryPolicy",
    "Secret",
    "ServerError",
    "SessionEndReasonEnum",
    "SessionEndedError",
    "SessionEntry",
    "SessionInfo",
    "SessionPage",
    "SessionSource",
    "SessionState",
    "SessionStatistics",
    "SessionStopError",
    "SessionToken",
    "SessionTokenRequest",
    "SessionType",
    "SttConfig",
    "SttProvider",
    "Timeout",
    "Transcript",
    "TranscriptEntry",
    "TranscriptRole",
    "TransportError",
    "ValidationError",
    "VideoEncoding",
    "VideoQuality",
    "VideoSettings",
    "VoiceAgent",
    "__version__",
]

#: The API's own name for :class:`EndReason`.
SessionEndReasonEnum = EndReason
