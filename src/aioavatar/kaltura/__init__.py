"""The Kaltura Avatar provider (``https://api.avatar.us.kaltura.ai``): client, session, models and
timeouts."""

from ._client import KalturaAvatarClient
from ._endpoints import KS_ENV, REGIONS, KalturaTimeouts, Region
from ._models import (
    KalturaSessionInfo,
    KalturaSessionRequest,
    KalturaSessionToken,
    KalturaTurnServer,
)
from ._session import KalturaAvatarSession, KalturaSessionOptions

__all__ = [
    "KS_ENV",
    "REGIONS",
    "KalturaAvatarClient",
    "KalturaAvatarSession",
    "KalturaSessionInfo",
    "KalturaSessionOptions",
    "KalturaSessionRequest",
    "KalturaSessionToken",
    "KalturaTimeouts",
    "KalturaTurnServer",
    "Region",
]
