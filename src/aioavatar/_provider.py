"""What every provider's client shares: the transport it owns, ``async with``, per-call timeouts, and
the one call path (send, decode, read into a model, mask credentials in any error)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from ._converter import DecodeFailure, structure_response
from ._logging import mask_tracked, redact_error
from ._protocol import RawResponse, decode_failure, map_strings
from ._retry import Retry, RetryPolicy
from ._secret import Secret
from ._transport import (
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    Timeout,
    Transport,
    check_base_url,
    sent_credentials,
)
from ._validation import check_credential, check_seconds
from .exceptions import APIError, AvatarError, ConfigurationError, TransportError

__all__ = [
    "ProviderClient",
    "bearer_headers",
    "may_have_acted",
    "resolve_base_url",
    "resolve_timeout",
]

T = TypeVar("T")


def bearer_headers(token: str | Secret, field: str) -> dict[str, str]:
    """``Authorization: Bearer <token>`` for a session-scoped token.

    Raises:
        ConfigurationError: naming ``field``, for an empty token or one that cannot travel in a header.
    """
    value = token.get_secret_value() if isinstance(token, Secret) else token
    return {"Authorization": f"Bearer {check_credential(value, field)}"}


def may_have_acted(error: BaseException) -> bool:
    """Whether a call that failed with ``error`` may still have taken effect on the server.

    Not when the input was refused locally, the request surely never left the machine (no connection
    could be had), or the server definitely refused it (4xx). A timeout, a dropped connection, a 5xx,
    a 2xx that could not be read, anything unexpected: it may have.
    """
    if isinstance(error, ConfigurationError):
        return False
    if isinstance(error, TransportError):
        return error.sent
    if isinstance(error, APIError):
        return not 400 <= error.status < 500
    return True


def resolve_base_url(
    given: str | None, *, env: str, default: str, allow_insecure: bool = False
) -> str:
    """The API root a client talks to: ``given``, else the environment variable ``env``, else
    ``default``.

    One convention for every provider: the root is the scheme and host (and any proxy prefix), without
    the API version; the paths carry it (``/v1/sessions``, ``/v1/avatar-session/...``). A trailing
    ``/`` or ``/v1`` is dropped, so a root copied from either provider's docs works.

    Raises:
        ConfigurationError: naming ``base_url`` (or the variable, when the value came from it) for a URL
            that is not http(s) with a host, carries credentials, a query or a fragment, or is plain
            ``http://`` to a non-loopback host without ``allow_insecure``.
    """
    field = "base_url"
    if given is None:
        from_env = os.environ.get(env, "").strip()
        if from_env:
            given, field = from_env, env
        else:
            given = default
    url = check_base_url(given, allow_insecure=allow_insecure, field=field)
    return url.removesuffix("/v1")


def resolve_timeout(given: float | Timeout | None, default: Timeout) -> Timeout:
    """A call's ``timeout``: ``default`` when not given, a :class:`Timeout` as is, seconds as its total.

    Raises:
        ConfigurationError: naming ``timeout``, for anything but a number of seconds from 0.001 to 3600.
    """
    if given is None:
        return default
    if isinstance(given, Timeout):
        return given
    total = check_seconds(given, "timeout", low=MIN_TIMEOUT, high=MAX_TIMEOUT)
    return Timeout(total=total, connect=min(total, default.connect or total))


class ProviderClient:
    """The base of the provider clients: the HTTP pool is its transport's, opened by ``async with``."""

    _transport: Transport

    async def __aenter__(self) -> Self:
        await self._transport.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP pool if this client created it."""
        await self._transport.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        timeout: Timeout,
        decode: Callable[[RawResponse], Any],
        model: type[T] | None = None,
        json: Any = None,
        content: tuple[bytes, str] | None = None,
        params: Mapping[str, str] | None = None,
        retry: Retry = Retry.ALWAYS,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        mask_tracked_credentials: bool = False,
        budgeted: bool = True,
    ) -> Any:
        """Send one call, decode its answer with ``decode`` and read it into ``model`` (when given).

        Any error on the way has every credential masked in its text, whichever credential the request
        carried and however the server escaped what it echoed. The data of an answer has the request's
        credentials masked; with ``mask_tracked_credentials`` (reads of the account's resources, off
        the per-session hot path) every tracked credential too.
        """
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise ConfigurationError("must be a RetryPolicy", field="retry_policy")
        try:
            raw = await self._transport.request(
                method,
                path,
                headers=headers,
                json=json,
                content=content,
                params=params,
                timeout=timeout,
                retry=retry,
                retry_policy=retry_policy,
                deadline=deadline,
                budgeted=budgeted,
            )
            data = decode(raw)
            if mask_tracked_credentials:
                data = map_strings(data, mask_tracked)
            if model is None:
                return data
            try:
                return structure_response(data, model)
            except DecodeFailure as exc:
                raise decode_failure(raw, str(exc)) from None
        except AvatarError as exc:
            redact_error(exc, [*sent_credentials(headers), *self._transport.credentials])
            raise
