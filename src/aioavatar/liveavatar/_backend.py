"""The LiveAvatar side of the session lifecycle: token, start, keep-alive, stop, end-reason lookup.

A LITE session may also have a realtime connection (:class:`RealtimeConnection`, made by
:meth:`LiveAvatarBackend.realtime`). While its socket is connected the keep-alive goes over it
(``session.keep_alive``); when there is none, or it is reconnecting, or the send does not go out in time,
the REST keep-alive is used, as for every other session. A socket's write says nothing of the server,
though (one that stopped answering, or ended the session, takes it all the same): once a third of the
idle window has passed since the last REST answer the beat goes over REST, whose answer does (a 404 or
410 is rule 7); if REST fails otherwise, the socket still carries that beat.
"""

from __future__ import annotations

import logging
import math
from typing import Unpack

import anyio

from .._backend import SessionHooks, TokenBackend
from .._enums import EndReason
from .._validation import usable_duration
from .._wire import may_have_acted
from ..exceptions import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    InsufficientCreditsError,
    TransportError,
)
from ._client import LiveAvatarClient
from ._models import SessionInfo, SessionTokenRequest, start_credentials
from ._realtime import RealtimeConnection, RealtimeOptions
from ._resource_models import CREDITS_PER_MINUTE

__all__ = ["IDLE_TIMEOUT", "LiveAvatarBackend"]

#: The server ends a session after 5 minutes without keep-alive.
IDLE_TIMEOUT = 300.0

logger = logging.getLogger("aioavatar")


class LiveAvatarBackend(TokenBackend[LiveAvatarClient, SessionTokenRequest]):
    """One LiveAvatar session as the lifecycle drives it (see ``aioavatar._backend.SessionBackend``)."""

    idle_timeout = IDLE_TIMEOUT

    def __init__(
        self, client: LiveAvatarClient, request: SessionTokenRequest, *, check_credits: bool = False
    ) -> None:
        super().__init__(client, request)
        self._realtime: RealtimeConnection | None = None
        self._relay: _Relay | None = None  # made for the first realtime connection
        self._check_credits = check_credits and not request.is_sandbox
        #: The mode the session was asked for (``"FULL"`` when not given, the API's default).
        self.mode: str = request.mode.value if request.mode is not None else "FULL"
        self._asked_duration = usable_duration(request.max_session_duration)
        self._rest_beat_at = -math.inf  # when a REST keep-alive last answered (see keep_alive)

    async def prepare(self) -> None:
        if self._check_credits:
            await self._require_credits()
        request = self._take_request()
        token = await self._client._session_token(request)
        self._identified(token.session_id, token.session_token)

    async def _require_credits(self) -> None:
        """Raise :class:`InsufficientCreditsError` when the balance cannot pay one minute."""
        mode = self.mode
        needed = CREDITS_PER_MINUTE.get(mode, CREDITS_PER_MINUTE["FULL"])
        balance = (await self._client.get_credits()).credits_left
        if balance < needed:
            raise InsufficientCreditsError(balance, needed, mode)

    async def open(self) -> SessionInfo:
        session_id, session_token = self._require_token()
        info = await self._client._start(session_token, {})
        self._hold_secrets(start_credentials(info))  # masked for the session's life
        # Every beat sends these bytes: checked and encoded once, here (a refusal is open's failure,
        # rule 3, not a failed beat).
        self._keep_beat(self._client.prepare_keep_alive(session_id, session_token=session_token))
        return info

    def left_running(self, error: BaseException) -> bool:
        # Rule 3: a start that never left, or was definitely refused (4xx), leaves nothing running; no
        # answer, a timeout, a 5xx or a 2xx we could not read may hide a running session.
        return self._session_id is not None and may_have_acted(error)

    def max_duration(self, info: SessionInfo) -> float | None:
        # The shorter of what the server answered and what was asked for, when usable (rule 8): a
        # broken answer never lifts the caller's own limit.
        asked = self._asked_duration
        answered = info.max_session_duration
        if answered is None:
            return asked
        usable = usable_duration(answered)
        if usable is None:
            logger.warning(
                "session %s: the server's max_session_duration %.40r is not a usable number of "
                "seconds: ignored",
                self.session_id,
                answered,
            )
            return asked
        return usable if asked is None else min(asked, usable)

    async def keep_alive(self, *, timeout: float, deadline: float) -> None:
        realtime = self._realtime
        socket_may = False
        if realtime is not None:  # else (nearly every session) the REST beat, as prepared
            now = anyio.current_time()
            # Over REST once a third of the idle window has passed since the last REST answer: with
            # beats at most half a window apart (rule 13), the server hears REST in every window.
            socket_may = now - self._rest_beat_at < self.idle_timeout / 3
            if socket_may and await realtime.send_keep_alive(timeout=timeout):
                return
        try:
            try:
                await self._client.send(self._require_beat(), timeout=timeout, deadline=deadline)
            except AuthenticationError as exc:
                await self._beat_with_key(exc, timeout=timeout, deadline=deadline)
        except (APIError, TransportError) as exc:
            # A failing REST endpoint (not the session's end) must not silence a working socket.
            gone = isinstance(exc, APIError) and exc.session_gone
            if realtime is None or gone or socket_may:
                raise
            if not await realtime.send_keep_alive(timeout=timeout):
                raise
            return
        if realtime is not None:
            self._rest_beat_at = now

    async def _beat_with_key(
        self, refused: AuthenticationError, *, timeout: float, deadline: float
    ) -> None:
        """The session's token refused on a beat (it may have expired): this beat and the next go
        with the account's API key, which can keep any of its sessions alive (the stop falls back
        to it too). Re-raises ``refused`` when the beat had gone with the key, or there is none."""
        if self._require_beat().bearer is None:
            raise refused
        try:
            call = self._client.prepare_keep_alive(self._require_token()[0])
        except ConfigurationError:  # a client without the API key
            raise refused from None
        logger.warning(
            "session %s: its token was refused on a keep-alive (HTTP %s); keeping it alive with "
            "the API key",
            self.session_id,
            refused.status,
        )
        self._keep_beat(call)
        await self._client.send(call, timeout=timeout, deadline=deadline)

    async def close(self, reason: EndReason, *, deadline: float) -> bool:
        session_id, session_token = self._require_token()
        try:
            return await self._client.stop_session(
                session_id, reason=reason, session_token=session_token, deadline=deadline
            )
        except AuthenticationError:
            # The session token may have expired or been refused; the account key can stop any session.
            return await self._client.stop_session(session_id, reason=reason, deadline=deadline)

    async def end_reason(self) -> EndReason | None:
        # Rules 7, 9, 14: what the server recorded; None while it lists the session as running.
        return (await self._client.get_session(self._require_token()[0])).ended_with

    def ending(self) -> None:
        if self._realtime is not None:
            self._realtime._session_ending()

    def detach(self, *, may_run: bool) -> None:
        super().detach(may_run=may_run)
        if self._relay is not None:
            self._relay.hooks = None

    def realtime(self, ws_url: str, **options: Unpack[RealtimeOptions]) -> RealtimeConnection:
        """A realtime connection to ``ws_url`` over the client's pool; the keep-alive uses it while open,
        and losing it for good is rule 14 of the lifecycle (the hook it attached).

        No credential goes with it: the URL is the one the start answer gave.

        Raises:
            RuntimeError: another realtime connection of this session is open, or the session was
                never attached to a lifecycle.
            ConfigurationError: a bad option.
        """
        if self._realtime is not None and self._realtime.is_open:
            raise RuntimeError("this session already has an open realtime connection")
        if self._hooks is None:
            raise RuntimeError("this session has no lifecycle to report a lost connection to")
        if self._relay is None:
            self._relay = _Relay(self._hooks)
        connection = RealtimeConnection(self._client.http_session, ws_url, self._relay, **options)
        self._realtime = connection
        return connection


class _Relay:
    """The session's hooks as its realtime connections hold them, let go of when the lifecycle is
    over (``detach``): a connection may outlive its session, or wait in a reference cycle of its
    own for a collection, and must not keep the session alive meanwhile. Only a session that opens
    a realtime connection has one."""

    __slots__ = ("hooks",)

    def __init__(self, hooks: SessionHooks) -> None:
        self.hooks: SessionHooks | None = hooks

    @property
    def _ending(self) -> bool:
        hooks = self.hooks
        return hooks is None or hooks._ending

    async def _connection_lost(self) -> None:
        hooks = self.hooks
        if hooks is not None:
            await hooks._connection_lost()
