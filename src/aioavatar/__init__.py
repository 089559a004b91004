"""aioavatar: an asyncio-first SDK for live avatar sessions that never leaks a session.

::

    async with AvatarSession(avatar_id, is_sandbox=True) as session:
        print(session.info.livekit_url)
"""

from . import kaltura, liveavatar
from ._audio import check_pcm, pcm_duration, read_wav
from ._enums import EndReason, EndReasonName
from ._logging import RedactingFilter
from ._options import CallOptions, ClientOptions
from ._pager import Page, Pager
from ._provider import PreparedCall
from ._public import publish as _publish
from ._retry import RetryBudget, RetryPolicy
from ._secret import Secret
from ._session import BaseSession, LifecycleOptions, SessionState, SessionStatistics
from ._timeout import Timeout
from ._version import __version__
from .exceptions import (
    APIError,
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    InsufficientCreditsError,
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
from .kaltura import *  # noqa: F403 - its __all__ is part of ours
from .liveavatar import *  # noqa: F403 - its __all__ is part of ours

__all__ = [
    "APIError",
    "AuthenticationError",
    "AvatarError",
    "BaseSession",
    "CallOptions",
    "ClientOptions",
    "ConfigurationError",
    "EndReason",
    "EndReasonName",
    "InsufficientCreditsError",
    "LifecycleOptions",
    "NotFoundError",
    "Page",
    "Pager",
    "PreparedCall",
    "RateLimitedError",
    "RedactingFilter",
    "RequestTimeout",
    "ResponseDecodeError",
    "RetryBudget",
    "RetryPolicy",
    "Secret",
    "ServerError",
    "SessionEndReasonEnum",
    "SessionEndedError",
    "SessionState",
    "SessionStatistics",
    "SessionStopError",
    "Timeout",
    "TransportError",
    "ValidationError",
    "__version__",
    "check_pcm",
    "pcm_duration",
    "read_wav",
]
__all__ += kaltura.__all__
__all__ += liveavatar.__all__

#: The API's own name for :class:`EndReason`.
SessionEndReasonEnum = EndReason


_publish(__all__, globals(), __name__)
