"""The Kaltura Avatar provider (``https://api.avatar.us.kaltura.ai/v1``): client, models and timeouts."""

from ._client import KS_ENV, REGIONS, KalturaAvatarClient, KalturaTimeouts
from ._models import (
    KalturaSessionInfo,
    KalturaSessionRequest,
    KalturaSessionToken,
    KalturaTurnServer,
)

__all__ = [
    "KS_ENV",
    "REGIONS",
    "KalturaAvatarClient",
    "KalturaSessionInfo",
    "KalturaSessionRequest",
    "KalturaSessionToken",
    "KalturaTimeouts",
    "KalturaTurnServer",
]
