"""``AvatarSession``: the LiveAvatar face of the lifecycle in ``aioavatar._session``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Unpack

import aiohttp
import anyio

from ._enums import EndReason
from ._secret import Secret
from ._session import END_REASON_LOOKUP_TIMEOUT, BaseSession, SessionState
from .exceptions import ConfigurationError
from .liveavatar._client import LiveAvatarClient, build_token_request
from .liveavatar._fields import TokenFields
from .liveavatar._models import SessionInfo, SessionTokenRequest
from .liveavatar._realtime import RealtimeConnection

__all__ = ["AvatarSession", "SessionOptions"]


class SessionOptions(TokenFields, total=False):
    """The keyword options of ``client.session(avatar_id, ...)``: the lifecycle's and the token's."""

    keep_alive_interval: float
    stop_timeout: float
    end_reason_for: Callable[[BaseException], EndReason | None] | None


class AvatarSession(BaseSession[SessionInfo]):
    """A live avatar session that is started on enter and always stopped on exit.

    ::

        async with AvatarSession(avatar_id, is_sandbox=True) as session:
            print(session.info.livekit_url)
            await session.wait_ended()

    Enter creates the session token, starts the session and keeps it alive in the background; exit stops
    it with the end reason that fits how the block ended (rule 10 in the module docs): normal exit
    ``USER_CLOSED``, an exception ``SERVER_ERROR``, a cancellation ``USER_DISCONNECTED``,
    ``KeyboardInterrupt``/``SystemExit`` ``USER_CLOSED``; ``session.stop(reason)`` inside the block ends it
    with that reason instead. When the server ends the session (or ``max_session_duration`` runs out) the
    block is cancelled and ``async with`` raises :class:`SessionEndedError`.

    Args:
        avatar_id: the avatar's UUID.
        api_key: the LiveAvatar API key (else ``LIVEAVATAR_API_KEY``); unused when ``client`` is given.
        base_url: the API root (else ``LIVEAVATAR_BASE_URL``, else the real API); unused when ``client``
            is given.
        client: a :class:`LiveAvatarClient` to share (its pool serves many sessions); left open.
        http_session: an ``aiohttp.ClientSession`` to borrow when no ``client`` is given; left open.
        keep_alive_interval: seconds between keep-alives (60 by default; the server waits 300).
        stop_timeout: seconds the stop may take, retries included, before it is abandoned.
        end_reason_for: maps the exception that ended the block to an :class:`EndReason`; return ``None``
            to use the table.
        **token_fields: every field of the session token request (``mode``, ``is_sandbox``,
            ``video_settings``, ``max_session_duration``, ``avatar_persona``, ``voice_agent``, ...).

    Raises:
        ConfigurationError: at construction, before any network call, for any invalid argument.
        APIError, TransportError, ResponseDecodeError: from ``async with`` when the session cannot start.
        SessionEndedError: from ``async with`` when the server ended the session.
        SessionStopError: from ``async with`` (clean exit) or ``stop()`` when the stop is not confirmed.
    """

    def __init__(
        self,
        avatar_id: str | None = None,
        *,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        client: LiveAvatarClient | None = None,
        http_session: aiohttp.ClientSession | None = None,
        keep_alive_interval: float = 60.0,
        stop_timeout: float = 10.0,
        end_reason_for: Callable[[BaseException], EndReason | None] | None = None,
        request: SessionTokenRequest | None = None,
        **token_fields: Unpack[TokenFields],
    ) -> None:
        token_request = build_token_request(avatar_id, request, token_fields)
        owned: LiveAvatarClient | None = None
        if client is not None and (
            api_key is not None or http_session is not None or base_url is not None
        ):
            raise ConfigurationError(
                "give either client= or api_key/base_url/http_session (the client has its own)",
                field="client",
            )
        if client is None:
            owned = client = LiveAvatarClient(api_key, base_url=base_url, http_session=http_session)
        elif not isinstance(client, LiveAvatarClient):
            raise ConfigurationError("must be a LiveAvatarClient", field="client")
        from .liveavatar._backend import LiveAvatarBackend

        super().__init__(
            LiveAvatarBackend(client, token_request),
            owned_client=owned,
            keep_alive_interval=keep_alive_interval,
            stop_timeout=stop_timeout,
            end_reason_for=end_reason_for,
        )

    def realtime(
        self,
        *,
        connect_timeout: float = 10.0,
        reconnect_window: float | None = 5.0,
        max_ahead: float = 2.0,
        close_timeout: float = 2.0,
    ) -> RealtimeConnection:
        """Realtime control of a LITE session over its WebSocket (``info.ws_url``); ``async with`` it.

        ::

            async with session.realtime() as rt:
                utterance = await rt.speak(pcm)  # PCM 16-bit little-endian mono 24 kHz
                await utterance.wait_ended()

        Enter connects (with no credential: the URL is the one the start answer gave) and waits for the
        server's ``connected``. While it is open the keep-alive goes over the socket, and over REST when
        the socket is down. A socket that closes unexpectedly is reopened within ``reconnect_window``;
        when that fails the session ends as in rule 7: the block is cancelled and ``async with`` raises
        :class:`SessionEndedError` with the server's end reason. If the server still lists the session as
        running, it is first stopped with ``SERVER_ERROR`` (nothing could drive it any more), as rule 6
        does with ``IDLE_TIMEOUT``. Leaving the realtime block is a normal close and ends nothing.

        Args:
            connect_timeout: seconds to wait for ``connected``, on enter and on each reconnect.
            reconnect_window: seconds to reopen a dropped socket; ``None`` never reconnects.
            max_ahead: at most this many seconds of audio are sent ahead of real time.
            close_timeout: seconds the exit may take to end a half-sent utterance and close the socket.

        Raises:
            ConfigurationError: the session has no ``ws_url`` (a FULL session, or a LITE session driven by
                a hosted connector), or an option is invalid.
            RuntimeError: the session is not running, or already has an open realtime connection.
        """
        from .liveavatar._backend import LiveAvatarBackend

        info = self.info
        backend = self._backend
        assert isinstance(backend, LiveAvatarBackend)
        if not info.ws_url:
            raise ConfigurationError(
                f"this {backend.mode} session has no ws_url: realtime() drives LITE sessions "
                "(mode='LITE' without a hosted connector); FULL sessions are driven over LiveKit",
                field="mode",
            )
        if self._state is not SessionState.ACTIVE:
            raise RuntimeError("the session is not running: use realtime() inside `async with`")
        return backend.realtime(
            info.ws_url,
            on_lost=self._realtime_lost,
            expect_close=lambda: self._stop_started or self._server_end is not None,
            connect_timeout=connect_timeout,
            reconnect_window=reconnect_window,
            max_ahead=max_ahead,
            close_timeout=close_timeout,
        )

    async def _realtime_lost(self) -> None:
        """The LITE socket is gone for good: end the session as the server ending it (see realtime())."""
        from .liveavatar._backend import LiveAvatarBackend

        backend = self._backend
        assert isinstance(backend, LiveAvatarBackend)
        if self._stop_started or self._server_end is not None:
            return
        reason: EndReason | None = None  # None: still running, or the server could not say
        with anyio.move_on_after(END_REASON_LOOKUP_TIMEOUT):
            reason = await backend.ended_how()
        if self._stop_started:
            return  # the block is ending on its own meanwhile
        if reason is None:
            await self._stop_protected(EndReason.SERVER_ERROR, raise_cancel=False)
            reason = EndReason.SERVER_ERROR
        self._on_server_end(reason)
