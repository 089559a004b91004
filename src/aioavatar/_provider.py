"""What every provider's client shares: the transport it owns, ``async with``, per-call timeouts, and
reading an answer into its model."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, TypeVar

from ._converter import DecodeFailure, structure_response
from ._protocol import RawResponse, decode_failure
from ._secret import Secret
from ._transport import Timeout, Transport
from .exceptions import ConfigurationError

__all__ = ["ProviderClient", "bearer_headers", "resolve_timeout"]

T = TypeVar("T")


def bearer_headers(token: str | Secret, field: str) -> dict[str, str]:
    """``Authorization: Bearer <token>`` for a session-scoped token.

    Raises:
        ConfigurationError: naming ``field``, for an empty or blank token.
    """
    value = token.get_secret_value() if isinstance(token, Secret) else token
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("must be a non-empty string", field=field)
    return {"Authorization": f"Bearer {value}"}


def resolve_timeout(given: float | Timeout | None, default: Timeout) -> Timeout:
    """A call's ``timeout``: ``default`` when not given, a :class:`Timeout` as is, seconds as its total.

    Raises:
        ConfigurationError: naming ``timeout``, for anything but a number of seconds above 0.
    """
    if given is None:
        return default
    if isinstance(given, Timeout):
        return given
    if isinstance(given, bool) or not isinstance(given, int | float) or not given > 0:
        raise ConfigurationError(
            f"must be a number of seconds above 0, got {given!r}", field="timeout"
        )
    return Timeout(total=float(given), connect=min(float(given), default.connect or float(given)))


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

    @staticmethod
    def _structure(raw: RawResponse, data: Any, model: type[T]) -> T:
        try:
            return structure_response(data, model)
        except DecodeFailure as exc:
            raise decode_failure(raw, str(exc)) from None
