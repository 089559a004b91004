"""The Kaltura Avatar session API as data: where it is (per region), how it authenticates and answers,
its endpoints and their default time limits. :class:`~aioavatar.KalturaAvatarClient` is the methods over
it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias

import attrs

from .._protocol import decode_success
from .._provider import Endpoint, ProviderSpec
from .._response import RawResponse
from .._retry import Retry
from .._timeout import Timeout, timeout_field
from .._validation import shown
from ..exceptions import ConfigurationError
from ._models import KalturaCatalogPage, KalturaSessionInfo, KalturaSessionToken

__all__ = [
    "BASE_URL_ENV",
    "CATALOG_LIST",
    "CREATE",
    "CREATE_AT_ROOT",
    "END",
    "INIT_CLIENT",
    "INTERRUPT",
    "KEEP_ALIVE",
    "KS_ENV",
    "REGIONS",
    "SAY_AUDIO",
    "SAY_TEXT",
    "SPEC",
    "KalturaTimeouts",
    "Region",
    "region_root",
]

Region: TypeAlias = Literal["nvp1", "frp2", "NVP1", "FRP2"]
"""The regions as strings the type checker accepts (the run time reads any case): a key of ``REGIONS``."""

#: The API root of each region (paths carry the version, ``/v1/avatar-session/...``); ``nvp1`` is the
#: default.
REGIONS: Final[Mapping[str, str]] = {
    "nvp1": "https://api.avatar.us.kaltura.ai",  # US
    "frp2": "https://api.avatar.eu.kaltura.ai",  # EU, Frankfurt
}
KS_ENV: Final = "KALTURA_AVATAR_KS"
BASE_URL_ENV: Final = "KALTURA_AVATAR_BASE_URL"


def _decode(raw: RawResponse, data_used: bool) -> Any:
    return decode_success(raw, data_used=data_used)


def _decode_create(raw: RawResponse, data_used: bool) -> Any:
    # An answer naming its session opened it: read as such unless it says ``success: false``.
    return decode_success(raw, data_used=data_used, opened="sessionId")


def _ks_headers(ks: str) -> dict[str, str]:
    return {"Authorization": f"KS {ks}"}


_SESSION = "/v1/avatar-session/{session_id}"
# The session endpoints, all POST (the timeouts are the names in KalturaTimeouts). Create and
# init-client open a session or a stream, and speech is said once: never retried once sent.
CREATE = Endpoint(
    "POST",
    "/v1/avatar-session/create",
    "create",
    model=KalturaSessionToken,
    retry=Retry.IF_UNSENT,
    opens="sessionId",
    decode=_decode_create,
)
#: Create as one page of the documentation has it: tried when ``CREATE`` is answered 404 (no route;
#: nothing was created), and first from then on.
CREATE_AT_ROOT = attrs.evolve(CREATE, path="/v1/avatar-session")
INIT_CLIENT = Endpoint(
    "POST",
    f"{_SESSION}/init-client",
    "init_client",
    model=KalturaSessionInfo,
    retry=Retry.IF_UNSENT,
)
KEEP_ALIVE = Endpoint("POST", f"{_SESSION}/keep-alive", "keep_alive", data_used=False)
INTERRUPT = Endpoint("POST", f"{_SESSION}/interrupt", "speech", data_used=False)
SAY_TEXT = Endpoint(
    "POST", f"{_SESSION}/say-text", "speech", data_used=False, retry=Retry.IF_UNSENT
)
SAY_AUDIO = Endpoint(
    "POST", f"{_SESSION}/say-audio", "speech", data_used=False, retry=Retry.IF_UNSENT
)
END = Endpoint("POST", f"{_SESSION}/end", "end", data_used=False, budgeted=False, ends=True)


def _decode_catalog(raw: RawResponse, data_used: bool) -> Any:
    return decode_success(raw, data_used=data_used, flag_required=False)


# A read, though a POST: retried like one, masked like one. Its answers do not all carry ``success``.
CATALOG_LIST = Endpoint(
    "POST",
    "/v1/catalog-item/list",
    "catalog",
    model=KalturaCatalogPage,
    decode=_decode_catalog,
    account=True,
)


@attrs.frozen
class KalturaTimeouts:
    """Default time limits per operation (Kaltura's own clients allow 30 s a request). Each call also
    takes its own ``timeout``."""

    create: Timeout = timeout_field(30.0, 5.0)
    init_client: Timeout = timeout_field(30.0, 5.0)
    keep_alive: Timeout = timeout_field(10.0, 5.0)
    end: Timeout = timeout_field(10.0, 5.0)
    speech: Timeout = timeout_field(30.0, 5.0)
    catalog: Timeout = timeout_field(30.0, 5.0)


def region_root(region: object) -> str:
    """The API root of ``region`` (any case).

    Raises:
        ConfigurationError: an unknown region; the message lists the valid ones.
    """
    if not isinstance(region, str) or region.lower() not in REGIONS:
        valid = ", ".join(f"{name!r}" for name in REGIONS)
        raise ConfigurationError(f"must be one of {valid}, got {shown(region)}", field="region")
    return REGIONS[region.lower()]


SPEC = ProviderSpec(
    credential_field="ks",
    credential_env=KS_ENV,
    credential_required=False,  # a client without a KS still drives sessions whose token it holds
    base_url_env=BASE_URL_ENV,
    default_base_url=REGIONS["nvp1"],
    account_headers=_ks_headers,
    decode=_decode,
    timeouts=KalturaTimeouts,
)
