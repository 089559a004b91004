"""The Kaltura Avatar provider (``https://api.avatar.us.kaltura.ai``): client, session, models and
timeouts."""

from ._catalog import KalturaCatalog
from ._client import KalturaAvatarClient
from ._endpoints import KS_ENV, REGIONS, KalturaTimeouts, Region
from ._models import (
    KalturaCatalogEntry,
    KalturaCatalogPage,
    KalturaCatalogType,
    KalturaCatalogTypeName,
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
    "KalturaCatalog",
    "KalturaCatalogEntry",
    "KalturaCatalogPage",
    "KalturaCatalogType",
    "KalturaCatalogTypeName",
    "KalturaSessionInfo",
    "KalturaSessionOptions",
    "KalturaSessionRequest",
    "KalturaSessionToken",
    "KalturaTimeouts",
    "KalturaTurnServer",
    "Region",
]
