"""The LiveAvatar session API as data: where it is, how it authenticates and answers, its endpoints and
their default time limits. :class:`~aioavatar.LiveAvatarClient` is the methods over it."""

from __future__ import annotations

from typing import Any

import attrs

from .._protocol import RawResponse, decode_envelope
from .._provider import Endpoint, ProviderSpec
from .._retry import Retry
from .._timeout import Timeout, timeout_field
from ._models import SessionInfo, SessionToken
from ._reads import SessionEntry, SessionPage, Transcript

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "GET",
    "KEEP_ALIVE",
    "LIST",
    "SPEC",
    "START",
    "STOP",
    "TOKEN",
    "TRANSCRIPT",
    "LiveAvatarTimeouts",
]

DEFAULT_BASE_URL = "https://api.liveavatar.com"
API_KEY_ENV = "LIVEAVATAR_API_KEY"
BASE_URL_ENV = "LIVEAVATAR_BASE_URL"


def _decode(raw: RawResponse, data_used: bool) -> Any:
    return decode_envelope(raw, data_used=data_used)


def _api_key_headers(api_key: str) -> dict[str, str]:
    return {"X-API-KEY": api_key}


# The session endpoints (the timeouts are the names in LiveAvatarTimeouts).
TOKEN = Endpoint("POST", "/v1/sessions/token", "token", model=SessionToken)
START = Endpoint("POST", "/v1/sessions/start", "start", model=SessionInfo, retry=Retry.IF_UNSENT)
KEEP_ALIVE = Endpoint("POST", "/v1/sessions/keep-alive", "keep_alive", data_used=False)
STOP = Endpoint("POST", "/v1/sessions/stop", "stop", data_used=False, budgeted=False)
LIST = Endpoint("GET", "/v1/sessions", "read", model=SessionPage)
GET = Endpoint("GET", "/v1/sessions/{session_id}", "read", model=SessionEntry)
TRANSCRIPT = Endpoint("GET", "/v1/sessions/{session_id}/transcript", "read", model=Transcript)


@attrs.frozen
class LiveAvatarTimeouts:
    """Default time limits per operation. Each call also takes its own ``timeout``."""

    token: Timeout = timeout_field(15.0, 5.0)
    start: Timeout = timeout_field(30.0, 5.0)
    keep_alive: Timeout = timeout_field(10.0, 5.0)
    stop: Timeout = timeout_field(10.0, 5.0)
    read: Timeout = timeout_field(15.0, 5.0)


SPEC = ProviderSpec(
    credential_field="api_key",
    credential_env=API_KEY_ENV,
    credential_required=True,
    base_url_env=BASE_URL_ENV,
    default_base_url=DEFAULT_BASE_URL,
    account_headers=_api_key_headers,
    decode=_decode,
    timeouts=LiveAvatarTimeouts,
)
