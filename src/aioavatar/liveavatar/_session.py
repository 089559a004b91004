"""``AvatarSession``: the LiveAvatar face of the lifecycle in ``aioavatar._session``."""

from __future__ import annotations

from typing import Any, Unpack

import aiohttp

from .._secret import Secret
from .._session import BaseSession, LifecycleOptions, SessionState
from .._validation import check_options
from ..exceptions import ConfigurationError
from ._backend import LiveAvatarBackend
from ._client import LiveAvatarClient, build_token_request
from ._models import SessionInfo, SessionTokenRequest, TokenFields
from ._realtime import RealtimeConnection, RealtimeOptions

__all__ = ["AvatarSession", "SessionOptions"]


class SessionOptions(TokenFields, LifecycleOptions, total=False):
    """The keyword options of :class:`AvatarSession` and ``client.session(avatar_id, ...)``: the
    lifecycle's (:class:`~aioavatar.LifecycleOptions`), the token request's (:class:`TokenFields`)
    and LiveAvatar's own.

    Attributes:
        check_credits: read the balance first (``GET /v1/users/credits``) and raise
            :class:`~aioavatar.InsufficientCreditsError` naming it, before any session is created,
            when it cannot pay one minute of the session's mode (2 credits FULL, 1 LITE; sandbox
            sessions cost nothing and are not checked). ``False`` by default.
    """

    check_credits: bool


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
        request: a ready :class:`~aioavatar.SessionTokenRequest` instead of the token fields.
        **options: the lifecycle's (:class:`~aioavatar.LifecycleOptions`: ``keep_alive_interval``, 60 by
            default, the server waiting 300; ``stop_timeout``; ``end_reason_for``) and every field of the
            session token request (``mode``, ``is_sandbox``, ``video_settings``, ``max_session_duration``,
            ``avatar_persona``, ``voice_agent``, ...), and ``check_credits`` (see
            :class:`~aioavatar.liveavatar.SessionOptions`).

    Raises:
        ConfigurationError: at construction, before any network call, for any invalid argument.
        InsufficientCreditsError: from ``async with`` with ``check_credits=True``, when the balance
            cannot pay one minute: nothing was created.
        APIError, TransportError, ResponseDecodeError: from ``async with`` when the session cannot start.
        SessionEndedError: from ``async with`` when the server ended the session.
        SessionStopError: from ``async with`` (clean exit) or ``stop()`` when the stop is not confirmed.
    """

    __slots__ = ("_liveavatar",)

    def __init__(
        self,
        avatar_id: str | None = None,
        *,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        client: LiveAvatarClient | None = None,
        http_session: aiohttp.ClientSession | None = None,
        request: SessionTokenRequest | None = None,
        **options: Unpack[SessionOptions],
    ) -> None:
        check_options(options, SessionOptions)
        fields: dict[str, Any] = dict(options)
        check_credits = fields.pop("check_credits", False)
        if not isinstance(check_credits, bool):
            raise ConfigurationError("must be True or False", field="check_credits")
        lifecycle = {
            name: fields.pop(name) for name in LifecycleOptions.__annotations__ if name in fields
        }
        token_request = build_token_request(avatar_id, request, fields)  # type: ignore[arg-type]
        client, owned = LiveAvatarClient.for_session(
            client, api_key, base_url=base_url, http_session=http_session
        )
        self._liveavatar = LiveAvatarBackend(client, token_request, check_credits=check_credits)
        super().__init__(self._liveavatar, owned_client=owned, **lifecycle)

    def realtime(self, **options: Unpack[RealtimeOptions]) -> RealtimeConnection:
        """Realtime control of a LITE session over its WebSocket (``info.ws_url``); ``async with`` it.

        ::

            async with session.realtime() as rt:
                utterance = await rt.speak(pcm)  # PCM 16-bit little-endian mono 24 kHz
                await utterance.wait_ended()

        Enter connects (with no credential: the URL is the one the start answer gave) and waits for the
        server's ``connected``. While it is open the keep-alive goes over the socket, and over REST when
        the socket is down. A socket that closes unexpectedly is reopened within ``reconnect_window``;
        when that fails the session ends by rule 14 of the lifecycle: if the server still lists it as
        running it is stopped with ``SERVER_ERROR`` (nothing could drive it any more), then the block is
        cancelled and ``async with`` raises :class:`SessionEndedError` with the server's end reason.
        Leaving the realtime block is a normal close and ends nothing.

        Args:
            **options: see :class:`~aioavatar.liveavatar.RealtimeOptions`: ``connect_timeout`` (10),
                ``reconnect_window`` (5; ``None`` never reconnects), ``max_ahead`` (2),
                ``close_timeout`` (2), ``event_buffer`` (1000).

        Raises:
            ConfigurationError: the session has no ``ws_url`` (a FULL session, or a LITE session driven by
                a hosted connector), or an option is invalid.
            RuntimeError: the session is not running, or already has an open realtime connection.
        """
        info = self.info
        if not info.ws_url:
            raise ConfigurationError(
                f"this {self._liveavatar.mode} session has no ws_url: realtime() drives LITE sessions "
                "(mode='LITE' without a hosted connector); FULL sessions are driven over LiveKit",
                field="mode",
            )
        if self.state is not SessionState.ACTIVE:
            raise RuntimeError("the session is not running: use realtime() inside `async with`")
        return self._liveavatar.realtime(info.ws_url, **options)
