"""The LiveAvatar side of the session lifecycle: token, start, keep-alive, stop, end-reason lookup."""

from __future__ import annotations

from .._enums import EndReason
from ..exceptions import AuthenticationError
from ._client import LiveAvatarClient
from ._models import SessionInfo, SessionToken, SessionTokenRequest

__all__ = ["IDLE_TIMEOUT", "LiveAvatarBackend"]

#: The server ends a session after 5 minutes without keep-alive.
IDLE_TIMEOUT = 300.0


class LiveAvatarBackend:
    """One LiveAvatar session as the lifecycle drives it (see ``aioavatar._session.SessionBackend``)."""

    idle_timeout = IDLE_TIMEOUT

    def __init__(self, client: LiveAvatarClient, request: SessionTokenRequest) -> None:
        self._client = client
        self._request = request
        self._token: SessionToken | None = None

    @property
    def session_id(self) -> str | None:
        return self._token.session_id if self._token is not None else None

    def _require_token(self) -> SessionToken:
        if self._token is None:
            raise RuntimeError("no session token yet")
        return self._token

    async def prepare(self) -> None:
        self._token = await self._client.create_session_token(request=self._request)

    async def open(self) -> SessionInfo:
        return await self._client.start_session(self._require_token().session_token)

    def max_duration(self, info: SessionInfo) -> float | None:
        duration = info.max_session_duration or self._request.max_session_duration
        return float(duration) if duration else None

    async def keep_alive(self, *, timeout: float, deadline: float) -> None:
        token = self._require_token()
        await self._client.keep_alive(
            token.session_id, session_token=token.session_token, timeout=timeout, deadline=deadline
        )

    async def close(self, reason: EndReason, *, deadline: float) -> bool:
        token = self._require_token()
        try:
            return await self._client.stop_session(
                token.session_id,
                reason=reason,
                session_token=token.session_token,
                deadline=deadline,
            )
        except AuthenticationError:
            # The session token may have expired or been refused; the account key can stop any session.
            return await self._client.stop_session(
                token.session_id, reason=reason, deadline=deadline
            )

    async def end_reason(self) -> EndReason:
        entry = await self._client.get_session(self._require_token().session_id)
        return entry.end_reason or EndReason.UNKNOWN
