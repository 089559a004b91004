"""The Kaltura side of the session lifecycle: create and init-client, keep-alive, end."""

from __future__ import annotations

from .._backend import TokenBackend
from .._enums import EndReason
from .._secret import Secret
from .._wire import may_have_acted
from ..exceptions import APIError, ResponseDecodeError
from ._client import KalturaAvatarClient
from ._models import KalturaSessionInfo, KalturaSessionRequest

__all__ = ["IDLE_TIMEOUT", "KalturaBackend"]

#: Kaltura publishes no idle window (it asks for a keep-alive every 10 s; a live session was seen to
#: survive 70 s without one). After 60 s without a successful beat the session is presumed lost.
IDLE_TIMEOUT = 60.0


class KalturaBackend(TokenBackend[KalturaAvatarClient, KalturaSessionRequest]):
    """One Kaltura session as the lifecycle drives it (see ``aioavatar._backend.SessionBackend``).

    Kaltura has no step that opens nothing: ``create`` opens the session, so both ``create`` and
    ``init-client`` are the lifecycle's ``open``. Its end takes no reason and there is no status endpoint:
    the lifecycle records the reason locally, and a session the server ended reports ``UNKNOWN``.
    """

    idle_timeout = IDLE_TIMEOUT

    @property
    def credentials(self) -> tuple[str, Secret] | None:
        """The id and token ``create`` returned (``None`` before)."""
        return None if self._session_id is None else self._require_token()

    async def prepare(self) -> None:
        """Only a check that the client is open (Kaltura's first call opens the session): a create
        refused before it is sent is not one that may have opened a session (rule 3).

        Raises:
            RuntimeError: the client is not open.
        """
        if self._client.http_session.closed:
            raise RuntimeError("the client's HTTP session is closed")

    async def open(self) -> KalturaSessionInfo:
        try:
            created = await self._client.create_session(request=self._take_request())
        except ResponseDecodeError as exc:
            # An answer naming its session but no usable token: that session runs, and nothing
            # can end it (its end needs the token); the lifecycle says so, with its id.
            self._session_id = exc.session_id
            raise
        self._identified(created.session_id, created.token)
        # Every beat sends these bytes: checked and encoded once, here.
        self._keep_beat(self._client.prepare_keep_alive(created.session_id, token=created.token))
        return await self._client.init_client(created.session_id, token=created.token)

    def left_running(self, error: BaseException) -> bool:
        # Once create has answered the session runs, whatever init-client then said: ended, even
        # after a 404 or 410 (a node that has not seen it yet; the end of one gone costs nothing).
        # A create refused by the host's HTTP 200 error body (``success: false``) opened nothing.
        # Any other failed create may have opened one (its answer lost or unreadable): then its id
        # is unknown, and the lifecycle says so.
        if self._session_id is not None:
            return True
        if isinstance(error, APIError) and 200 <= error.status < 300:
            return False
        return may_have_acted(error)

    def max_duration(self, info: KalturaSessionInfo) -> float | None:
        return None

    async def keep_alive(self, *, timeout: float, deadline: float) -> None:
        await self._client.send(self._require_beat(), timeout=timeout, deadline=deadline)

    async def close(self, reason: EndReason, *, deadline: float) -> bool:
        session_id, token = self._require_token()
        return await self._client.end_session(session_id, token=token, deadline=deadline)

    async def end_reason(self) -> EndReason | None:
        # Kaltura has no status endpoint, and the lifecycle asks only once the server answered
        # 404 or 410 (rules 7 and 9): ended, for a reason nobody recorded.
        return EndReason.UNKNOWN
