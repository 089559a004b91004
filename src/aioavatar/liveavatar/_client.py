"""``LiveAvatarClient``: the typed façade over the LiveAvatar session endpoints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

import aiohttp
import attrs

from .._converter import structure_request, unstructure
from .._enums import EndReason, SessionType
from .._logging import track_secret
from .._protocol import RawResponse, decode_envelope
from .._provider import ProviderClient, bearer_headers, resolve_base_url
from .._provider import resolve_timeout as _timeout
from .._retry import Retry, RetryBudget, RetryPolicy
from .._secret import Secret
from .._transport import (
    DEFAULT_MAX_RESPONSE_SIZE,
    Timeout,
    Transport,
    timeout_field,
)
from .._validation import check_credential, check_int, check_number, check_uuid
from ..exceptions import APIError, ConfigurationError
from ._converter import REQUEST_MODELS  # noqa: F401 - registers this provider's models
from ._fields import TokenFields
from ._models import (
    SessionEntry,
    SessionInfo,
    SessionPage,
    SessionToken,
    SessionTokenRequest,
    Transcript,
)

if TYPE_CHECKING:
    from .._avatar_session import AvatarSession, SessionOptions

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "LiveAvatarClient",
    "LiveAvatarTimeouts",
]

T = TypeVar("T")


def _decode_envelope(raw: RawResponse) -> Any:
    return decode_envelope(raw)


def _decode_unused(raw: RawResponse) -> Any:
    return decode_envelope(raw, data_used=False)


DEFAULT_BASE_URL = "https://api.liveavatar.com"
API_KEY_ENV = "LIVEAVATAR_API_KEY"
BASE_URL_ENV = "LIVEAVATAR_BASE_URL"


@attrs.frozen
class LiveAvatarTimeouts:
    """Default time limits per operation. Each call also takes its own ``timeout``."""

    token: Timeout = timeout_field(15.0, 5.0)
    start: Timeout = timeout_field(30.0, 5.0)
    keep_alive: Timeout = timeout_field(10.0, 5.0)
    stop: Timeout = timeout_field(10.0, 5.0)
    read: Timeout = timeout_field(15.0, 5.0)


def resolve_api_key(api_key: str | Secret | None) -> Secret:
    """The API key given, else ``LIVEAVATAR_API_KEY``; never empty.

    Raises:
        ConfigurationError: no key, or an empty one.
    """
    if api_key is None:
        from_env = os.environ.get(API_KEY_ENV)
        if from_env is None:
            raise ConfigurationError(
                f"no API key: pass api_key=... or set {API_KEY_ENV}", field="api_key"
            )
        api_key = from_env
    if not isinstance(api_key, str | Secret):
        raise ConfigurationError(
            f"must be a string or a Secret, got {type(api_key).__name__}", field="api_key"
        )
    secret = Secret(api_key)
    check_credential(secret.get_secret_value(), "api_key")
    return secret


class LiveAvatarClient(ProviderClient):
    """An async client for the LiveAvatar session API (``https://api.liveavatar.com``).

    Use it as ``async with LiveAvatarClient() as client:``; the HTTP pool is created on enter, inside the
    running loop, and closed on exit unless it was borrowed through ``http_session``. One client serves any
    number of concurrent sessions.

    Args:
        api_key: the account's API key; falls back to the ``LIVEAVATAR_API_KEY`` environment variable.
        base_url: the API root (``https://api.liveavatar.com``; a trailing ``/v1`` is dropped); falls back
            to the ``LIVEAVATAR_BASE_URL`` environment variable, then the real API. ``http://`` is
            refused unless the host is loopback or ``allow_insecure``.
        http_session: an ``aiohttp.ClientSession`` to borrow; it is left open.
        retry_policy: how transient failures are retried (see :class:`~aioavatar.RetryPolicy`); every
            call also takes its own ``retry_policy``.
        retry_budget: the token bucket every retry of this client spends from (see
            :class:`~aioavatar.RetryBudget`); a fresh one with the defaults when not given.
        timeouts: default time limits per operation.
        max_response_size: answers larger than this many bytes are refused unread.
        connection_limit: connections in the pool, when the client creates it.

    Every endpoint method also takes ``timeout`` (seconds, or a :class:`~aioavatar.Timeout` with ``total``
    and ``connect``; it bounds each attempt, waiting for a pooled connection included; the defaults per
    operation are in ``timeouts``) and ``retry_policy`` (replaces the client's policy for that call; the
    client's retry budget still applies).

    Raises:
        ConfigurationError: no or empty API key, a bad ``base_url``.
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        *,
        base_url: str | None = None,
        http_session: aiohttp.ClientSession | None = None,
        allow_insecure: bool = False,
        retry_policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        timeouts: LiveAvatarTimeouts | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        connection_limit: int = 100,
    ) -> None:
        self._api_key = resolve_api_key(api_key)
        track_secret(self, self._api_key)  # masked in log records while this client lives
        self.base_url = resolve_base_url(
            base_url, env=BASE_URL_ENV, default=DEFAULT_BASE_URL, allow_insecure=allow_insecure
        )
        if timeouts is not None and not isinstance(timeouts, LiveAvatarTimeouts):
            raise ConfigurationError("must be a LiveAvatarTimeouts", field="timeouts")
        self.timeouts = timeouts or LiveAvatarTimeouts()
        self._transport = Transport(
            self.base_url,
            http_session=http_session,
            retry_policy=retry_policy,
            retry_budget=retry_budget,
            credentials=[self._api_key],
            max_response_size=max_response_size,
            connection_limit=connection_limit,
        )

    def __repr__(self) -> str:
        return f"LiveAvatarClient(base_url={self.base_url!r})"

    # --- plumbing -------------------------------------------------------------------------------------

    def _api_key_headers(self) -> dict[str, str]:
        return {"X-API-KEY": self._api_key.get_secret_value()}

    @staticmethod
    def _bearer_headers(session_token: str | Secret) -> dict[str, str]:
        return bearer_headers(session_token, "session_token")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        timeout: Timeout,
        model: type[T] | None = None,
        data_used: bool = True,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        retry: Retry = Retry.ALWAYS,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        budgeted: bool = True,
    ) -> Any:
        # Reads (GET) may carry anything the account holds: every tracked credential is masked in
        # their data. The session's own calls (POST) only carry what they sent.
        return await self._request(
            method,
            path,
            headers=headers,
            timeout=timeout,
            decode=_decode_envelope if data_used else _decode_unused,
            model=model,
            json=json,
            params=params,
            retry=retry,
            retry_policy=retry_policy,
            deadline=deadline,
            mask_tracked_credentials=method == "GET",
            budgeted=budgeted,
        )

    # --- session endpoints ----------------------------------------------------------------------------

    async def create_session_token(
        self,
        avatar_id: str | None = None,
        *,
        request: SessionTokenRequest | None = None,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        **fields: Unpack[TokenFields],
    ) -> SessionToken:
        """Create a session token (``POST /v1/sessions/token``, API key). Opens nothing, bills nothing.

        Give the body as keyword arguments (nested objects as model instances or dicts shaped like the
        JSON body) or as a ready ``request``. Retried on transient failures.

        Returns:
            The session id and its session token (a :class:`~aioavatar.Secret`).

        Raises:
            ConfigurationError: invalid fields, before any network call.
            APIError: the server refused (``AuthenticationError``, ``ValidationError``, ...).
            TransportError: no answer.
        """
        body = build_token_request(avatar_id, request, fields)
        token: SessionToken = await self._call(
            "POST",
            "/v1/sessions/token",
            headers=self._api_key_headers(),
            model=SessionToken,
            json=unstructure(body),
            timeout=_timeout(timeout, self.timeouts.token),
            retry_policy=retry_policy,
        )
        track_secret(token, token.session_token)  # masked in log records while the token lives
        return token

    async def start_session(
        self,
        session_token: str | Secret,
        *,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> SessionInfo:
        """Start the session the token belongs to (``POST /v1/sessions/start``, Bearer session token).

        From here the session runs and bills until stopped. Retried only when the request surely never
        left the machine: a repeated start could open a session nobody stops.

        Returns:
            Where to join: ``livekit_url``, ``livekit_client_token``, ``ws_url`` (LITE) and the rest.

        Raises:
            APIError: the server refused; TransportError: no answer (the session may have started).
        """
        info: SessionInfo = await self._call(
            "POST",
            "/v1/sessions/start",
            headers=self._bearer_headers(session_token),
            model=SessionInfo,
            json={},
            timeout=_timeout(timeout, self.timeouts.start),
            retry=Retry.IF_UNSENT,
            retry_policy=retry_policy,
        )
        return info

    async def keep_alive(
        self,
        session_id: str,
        *,
        session_token: str | Secret | None = None,
        timeout: float | Timeout | None = None,
        deadline: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        """Reset the session's idle timer (``POST /v1/sessions/keep-alive``).

        Sent with the session token when given (the session's own rate-limit budget), else the API key.

        Raises:
            NotFoundError: the session has ended (or never existed).
            APIError, TransportError: as for every call.
        """
        check_uuid(session_id, "session_id")
        headers = (
            self._bearer_headers(session_token)
            if session_token is not None
            else self._api_key_headers()
        )
        await self._call(
            "POST",
            "/v1/sessions/keep-alive",
            headers=headers,
            data_used=False,
            json={"session_id": session_id},
            timeout=_timeout(timeout, self.timeouts.keep_alive),
            deadline=deadline,
            retry_policy=retry_policy,
        )

    async def stop_session(
        self,
        session_id: str,
        *,
        reason: EndReason | str = EndReason.USER_CLOSED,
        session_token: str | Secret | None = None,
        timeout: float | Timeout | None = None,
        deadline: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> bool:
        """Stop the session (``POST /v1/sessions/stop``) with an end reason.

        Sent with the session token when given, else the API key (which can stop any of the account's
        sessions). Retried on transient failures.

        Returns:
            ``True`` when this call stopped it, ``False`` when it had already ended (404 or 410).

        Raises:
            ConfigurationError: a malformed id or an unknown reason.
            APIError, TransportError: the stop is not confirmed; the session may still run.
        """
        check_uuid(session_id, "session_id")
        try:
            known = EndReason.known(reason)
        except ValueError as exc:
            raise ConfigurationError(str(exc), field="reason") from None
        headers = (
            self._bearer_headers(session_token)
            if session_token is not None
            else self._api_key_headers()
        )
        try:
            await self._call(
                "POST",
                "/v1/sessions/stop",
                headers=headers,
                data_used=False,
                json={"session_id": session_id, "reason": known.value},
                timeout=_timeout(timeout, self.timeouts.stop),
                deadline=deadline,
                retry_policy=retry_policy,
                budgeted=False,  # a stop's retries keep a session from billing on
            )
        except APIError as exc:
            if exc.session_gone:
                return False
            raise
        return True

    async def list_sessions(
        self,
        type: SessionType | str = SessionType.ACTIVE,  # the API's own name
        *,
        page: int = 1,
        page_size: int = 20,
        avatar_id: str | None = None,
        embed_id: str | None = None,
        context_id: str | None = None,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> SessionPage:
        """List the account's ``"active"`` or ``"historic"`` sessions (``GET /v1/sessions``), one page.

        Raises:
            ConfigurationError: an unknown type, ``page`` < 1, ``page_size`` outside 1..100, a bad id.
        """
        try:
            kind = SessionType(type)
        except ValueError:
            raise ConfigurationError(
                f"must be 'active' or 'historic', got {type!r}", field="type"
            ) from None
        check_int(page, "page", low=1, high=1_000_000)
        check_int(page_size, "page_size", low=1, high=100)
        params = {"type": kind.value, "page": str(page), "page_size": str(page_size)}
        for name, value in (
            ("avatar_id", avatar_id),
            ("embed_id", embed_id),
            ("context_id", context_id),
        ):
            if value is not None:
                check_uuid(value, name)
                params[name] = value
        page_read: SessionPage = await self._call(
            "GET",
            "/v1/sessions",
            headers=self._api_key_headers(),
            model=SessionPage,
            params=params,
            timeout=_timeout(timeout, self.timeouts.read),
            retry_policy=retry_policy,
        )
        return page_read

    async def get_session(
        self,
        session_id: str,
        *,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> SessionEntry:
        """Read one session (``GET /v1/sessions/{id}``); historic entries carry ``end_reason``.

        Raises:
            NotFoundError: no such session.
        """
        check_uuid(session_id, "session_id")
        entry: SessionEntry = await self._call(
            "GET",
            f"/v1/sessions/{session_id}",
            headers=self._api_key_headers(),
            model=SessionEntry,
            timeout=_timeout(timeout, self.timeouts.read),
            retry_policy=retry_policy,
        )
        return entry

    async def get_transcript(
        self,
        session_id: str,
        *,
        start_timestamp: float | None = None,
        end_timestamp: float | None = None,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Transcript:
        """Read a FULL session's transcript (``GET /v1/sessions/{id}/transcript``).

        Raises:
            NotFoundError: no such session.
        """
        check_uuid(session_id, "session_id")
        params = {}
        for name, value in (("start_timestamp", start_timestamp), ("end_timestamp", end_timestamp)):
            if value is not None:
                params[name] = repr(check_number(value, name, low=0.0, high=1e13))
        transcript: Transcript = await self._call(
            "GET",
            f"/v1/sessions/{session_id}/transcript",
            headers=self._api_key_headers(),
            model=Transcript,
            params=params or None,
            timeout=_timeout(timeout, self.timeouts.read),
            retry_policy=retry_policy,
        )
        return transcript

    def session(self, avatar_id: str, **options: Unpack[SessionOptions]) -> AvatarSession:
        """An :class:`~aioavatar.AvatarSession` that uses this client's pool: ``async with`` it."""
        from .._avatar_session import AvatarSession

        return AvatarSession(avatar_id, client=self, **options)


def build_token_request(
    avatar_id: str | None, request: SessionTokenRequest | None, fields: Mapping[str, Any]
) -> SessionTokenRequest:
    """The token request from keyword fields or a ready model (not both).

    Raises:
        ConfigurationError: naming the field.
    """
    if request is not None:
        if avatar_id is not None or fields:
            raise ConfigurationError(
                "give either request= or the fields, not both", field="request"
            )
        if not isinstance(request, SessionTokenRequest):
            raise ConfigurationError("must be a SessionTokenRequest", field="request")
        return request
    return structure_request({"avatar_id": avatar_id, **fields}, SessionTokenRequest)
