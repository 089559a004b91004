"""The Kaltura Avatar provider (``https://api.avatar.us.kaltura.ai``): client, session, models and
timeouts."""

from ._client import KS_ENV, REGIONS, KalturaAvatarClient, KalturaTimeouts
from ._models import (
    KalturaSessionInfo,
    KalturaSessionRequest,
    KalturaSessionToken,
    KalturaTurnServer,
)
from ._session import KalturaAvatarSession

__all__ = [
    "KS_ENV",
    "REGIONS",
    "KalturaAvatarClient",
    "KalturaAvatarSession",
    "KalturaSessionInfo",
    "KalturaSessionRequest",
    "KalturaSessionToken",
    "KalturaTimeouts",
    "KalturaTurnServer",
]
