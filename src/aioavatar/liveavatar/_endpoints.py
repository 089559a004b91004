"""The LiveAvatar session API as data: where it is, how it authenticates and answers, its endpoints and
their default time limits. :class:`~aioavatar.LiveAvatarClient` is the methods over it."""

from __future__ import annotations

from typing import Any

import attrs

from .._protocol import decode_envelope
from .._provider import Endpoint, ProviderSpec
from .._retry import Retry
from .._timeout import Timeout, timeout_field
from ._models import SessionInfo, SessionToken
from ._reads import SessionEntry, SessionPage, Transcript
from ._resource_models import (
    AccountSecret,
    Avatar,
    Context,
    Credits,
    Embed,
    Language,
    LLMConfiguration,
    ResultsPage,
    SessionMemory,
    ThirdPartyVoice,
    Voice,
    VoicePreview,
)

__all__ = [
    "API_KEY_ENV",
    "AVATARS",
    "AVATAR_DELETE",
    "AVATAR_GET",
    "AVATAR_UPDATE",
    "BASE_URL_ENV",
    "CONTEXTS",
    "CONTEXT_CREATE",
    "CONTEXT_DELETE",
    "CONTEXT_GET",
    "CONTEXT_UPDATE",
    "CREDITS",
    "DEFAULT_BASE_URL",
    "EMBED_CREATE",
    "GET",
    "KEEP_ALIVE",
    "LANGUAGES",
    "LIST",
    "LLM_CONFIGURATIONS",
    "LLM_CONFIGURATION_CREATE",
    "LLM_CONFIGURATION_DELETE",
    "LLM_CONFIGURATION_GET",
    "LLM_CONFIGURATION_UPDATE",
    "MEMORIES",
    "MEMORY_CREATE",
    "MEMORY_DELETE",
    "MEMORY_GET",
    "PUBLIC_AVATARS",
    "SECRETS",
    "SECRET_CREATE",
    "SECRET_DELETE",
    "SPEC",
    "START",
    "STOP",
    "TOKEN",
    "TRANSCRIPT",
    "VOICES",
    "VOICE_DELETE",
    "VOICE_GET",
    "VOICE_PREVIEW",
    "VOICE_THIRD_PARTY",
    "VOICE_UPDATE",
    "LiveAvatarTimeouts",
]

DEFAULT_BASE_URL = "https://api.liveavatar.com"
API_KEY_ENV = "LIVEAVATAR_API_KEY"
BASE_URL_ENV = "LIVEAVATAR_BASE_URL"


def _api_key_headers(api_key: str) -> dict[str, str]:
    return {"X-API-KEY": api_key}


# The session endpoints (the timeouts are the names in LiveAvatarTimeouts).
TOKEN = Endpoint("POST", "/v1/sessions/token", "token", model=SessionToken)
START = Endpoint("POST", "/v1/sessions/start", "start", model=SessionInfo, retry=Retry.IF_UNSENT)
KEEP_ALIVE = Endpoint("POST", "/v1/sessions/keep-alive", "keep_alive", data_used=False)
# Not ``ends``: a stop answered 404 or 410 is looked up (the lifecycle's rule 9), which tells the
# stop's own end from another party's and from a session the server still lists as running.
STOP = Endpoint("POST", "/v1/sessions/stop", "stop", data_used=False, budgeted=False)
LIST = Endpoint("GET", "/v1/sessions", "read", model=SessionPage)
GET = Endpoint("GET", "/v1/sessions/{session_id}", "read", model=SessionEntry)
TRANSCRIPT = Endpoint("GET", "/v1/sessions/{session_id}/transcript", "read", model=Transcript)

# The account's resources. Reads, updates and deletes are retried like any read (a PATCH sets the
# same fields again; a DELETE of what is gone answers 404); a create is retried only when it surely
# never left the machine: a resent create would make a second one.
_IF_UNSENT = Retry.IF_UNSENT


def _write(method: str, path: str, **fields: Any) -> Endpoint:
    """An endpoint that writes the account's resources: the ``"write"`` time limit, and its answer
    masked as a read's is (``Endpoint.account``: a stored secret it echoes, say)."""
    return Endpoint(method, path, "write", account=True, **fields)


AVATARS = Endpoint("GET", "/v1/avatars", "read", model=ResultsPage[Avatar])
PUBLIC_AVATARS = Endpoint("GET", "/v1/avatars/public", "read", model=ResultsPage[Avatar])
AVATAR_GET = Endpoint("GET", "/v1/avatars/{id}", "read", model=Avatar)
AVATAR_UPDATE = _write("PATCH", "/v1/avatars/{id}", model=Avatar)
AVATAR_DELETE = _write("DELETE", "/v1/avatars/{id}", data_used=False)
VOICES = Endpoint("GET", "/v1/voices", "read", model=ResultsPage[Voice])
VOICE_GET = Endpoint("GET", "/v1/voices/{id}", "read", model=Voice)
VOICE_UPDATE = _write("PATCH", "/v1/voices/{id}", model=Voice)
VOICE_DELETE = _write("DELETE", "/v1/voices/{id}", data_used=False)
VOICE_PREVIEW = Endpoint("GET", "/v1/voices/{id}/preview", "read", model=VoicePreview)
VOICE_THIRD_PARTY = _write(
    "POST", "/v1/voices/third_party", model=ThirdPartyVoice, retry=_IF_UNSENT
)
CONTEXTS = Endpoint("GET", "/v1/contexts", "read", model=ResultsPage[Context])
CONTEXT_CREATE = _write("POST", "/v1/contexts", model=Context, retry=_IF_UNSENT)
CONTEXT_GET = Endpoint("GET", "/v1/contexts/{id}", "read", model=Context)
CONTEXT_UPDATE = _write("PATCH", "/v1/contexts/{id}", model=Context)
CONTEXT_DELETE = _write("DELETE", "/v1/contexts/{id}", data_used=False)
# The OpenAPI gives these two lists as plain arrays, not pages.
LLM_CONFIGURATIONS = Endpoint("GET", "/v1/llm-configurations", "read", model=list[LLMConfiguration])
LLM_CONFIGURATION_CREATE = _write(
    "POST", "/v1/llm-configurations", model=LLMConfiguration, retry=_IF_UNSENT
)
LLM_CONFIGURATION_GET = Endpoint(
    "GET", "/v1/llm-configurations/{id}", "read", model=LLMConfiguration
)
LLM_CONFIGURATION_UPDATE = _write("PATCH", "/v1/llm-configurations/{id}", model=LLMConfiguration)
LLM_CONFIGURATION_DELETE = _write("DELETE", "/v1/llm-configurations/{id}", data_used=False)
SECRETS = Endpoint("GET", "/v1/secrets", "read", model=list[AccountSecret])
SECRET_CREATE = _write("POST", "/v1/secrets", model=AccountSecret, retry=_IF_UNSENT)
SECRET_DELETE = _write("DELETE", "/v1/secrets/{id}", data_used=False)
MEMORIES = Endpoint("GET", "/v1/memory", "read", model=ResultsPage[SessionMemory])
MEMORY_CREATE = _write("POST", "/v1/memory", model=SessionMemory, retry=_IF_UNSENT)
MEMORY_GET = Endpoint("GET", "/v1/memory/{id}", "read", model=SessionMemory)
MEMORY_DELETE = _write("DELETE", "/v1/memory/{id}", data_used=False)  # 204, no body
LANGUAGES = Endpoint("GET", "/v1/languages", "read", model=list[Language])
CREDITS = Endpoint("GET", "/v1/users/credits", "read", model=Credits)
EMBED_CREATE = _write("POST", "/v2/embeddings", model=Embed, retry=_IF_UNSENT)


@attrs.frozen
class LiveAvatarTimeouts:
    """Default time limits per operation. Each call also takes its own ``timeout``."""

    token: Timeout = timeout_field(15.0, 5.0)
    start: Timeout = timeout_field(30.0, 5.0)
    keep_alive: Timeout = timeout_field(10.0, 5.0)
    stop: Timeout = timeout_field(10.0, 5.0)
    read: Timeout = timeout_field(15.0, 5.0)
    write: Timeout = timeout_field(15.0, 5.0)


SPEC = ProviderSpec(
    credential_field="api_key",
    credential_env=API_KEY_ENV,
    credential_required=True,
    base_url_env=BASE_URL_ENV,
    default_base_url=DEFAULT_BASE_URL,
    account_headers=_api_key_headers,
    decode=decode_envelope,  # (raw, data_used): the spec's signature itself
    timeouts=LiveAvatarTimeouts,
)
