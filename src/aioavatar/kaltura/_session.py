"""``KalturaAvatarSession``: the Kaltura face of the lifecycle in ``aioavatar._session``."""

from __future__ import annotations

from typing import Unpack

import aiohttp

from .._secret import Secret
from .._session import BaseSession, LifecycleOptions
from ..exceptions import ConfigurationError
from ._backend import KalturaBackend
from ._client import KalturaAvatarClient, build_session_request
from ._endpoints import KS_ENV, Region
from ._models import KalturaSessionInfo, KalturaSessionRequest

__all__ = ["KalturaAvatarSession", "KalturaSessionOptions"]


class KalturaSessionOptions(LifecycleOptions, total=False):
    """The keyword options of ``client.session(avatar_id, ...)``: the voice and the lifecycle's
    (:class:`~aioavatar.LifecycleOptions`)."""

    voice_id: str | None
    voice_speed: float | None


class KalturaAvatarSession(BaseSession[KalturaSessionInfo]):
    """A Kaltura Avatar session that is created on enter and always ended on exit.

    ::

        async with KalturaAvatarSession(avatar_id) as session:  # KS from KALTURA_AVATAR_KS
            print(session.info.whep_url)  # hand whep_url and turn to the viewer
            await session.say_audio(mp3, duration=2.5)

    The same lifecycle as :class:`AvatarSession` (the rules in the module docs): enter creates the session
    and calls init-client, a keep-alive goes out every ``keep_alive_interval`` seconds (10, as Kaltura
    asks), exit ends it. Kaltura's end takes no reason: the reason the table gives (normal exit
    ``USER_CLOSED``, an exception ``SERVER_ERROR``, a cancellation ``USER_DISCONNECTED``,
    ``KeyboardInterrupt``/``SystemExit`` ``USER_CLOSED``, or the one given to ``stop(reason)``) is recorded
    in ``end_reason``. When the server ends the session (keep-alive answers 404 or 410) the block is
    cancelled and ``async with`` raises :class:`SessionEndedError` with ``UNKNOWN`` (Kaltura says no more).

    Args:
        avatar_id: the avatar's visual catalog id.
        voice_id: a voice catalog id; voice_speed: its speed (needs ``voice_id``).
        ks: an admin Kaltura Session (else ``KALTURA_AVATAR_KS``); unused when ``client`` is given.
        region: ``"nvp1"`` (US) or ``"frp2"`` (EU); base_url: the API root (else
            ``KALTURA_AVATAR_BASE_URL``), wins over
            ``region``; both unused when ``client`` is given.
        client: a :class:`KalturaAvatarClient` to share (its pool serves many sessions); left open.
        http_session: an ``aiohttp.ClientSession`` to borrow when no ``client`` is given; left open.
        request: a ready :class:`~aioavatar.kaltura.KalturaSessionRequest` instead of the fields.
        **lifecycle: see :class:`~aioavatar.LifecycleOptions`: ``keep_alive_interval`` (10 by default),
            ``stop_timeout`` (the end's), ``end_reason_for``.

    Raises:
        ConfigurationError: at construction, before any network call, for any invalid argument or when no
            KS is at hand.
        APIError, TransportError, ResponseDecodeError: from ``async with`` when the session cannot start.
        SessionEndedError: from ``async with`` when the server ended the session.
        SessionStopError: from ``async with`` (clean exit) or ``stop()`` when the end is not confirmed.
    """

    __slots__ = ("_client", "_kaltura")

    default_keep_alive_interval = 10.0

    def __init__(
        self,
        avatar_id: str | None = None,
        *,
        voice_id: str | None = None,
        voice_speed: float | None = None,
        ks: str | Secret | None = None,
        region: Region | None = None,
        base_url: str | None = None,
        client: KalturaAvatarClient | None = None,
        http_session: aiohttp.ClientSession | None = None,
        request: KalturaSessionRequest | None = None,
        **lifecycle: Unpack[LifecycleOptions],
    ) -> None:
        session_request = build_session_request(avatar_id, voice_id, voice_speed, request)
        client, owned = KalturaAvatarClient.for_session(
            client, ks, region=region, base_url=base_url, http_session=http_session
        )
        if not client.has_ks:
            raise ConfigurationError(
                f"creating a session needs a Kaltura Session: pass ks=... or set {KS_ENV}",
                field="ks",
            )
        self._client = client
        self._kaltura = KalturaBackend(client, session_request)
        super().__init__(self._kaltura, owned_client=owned, **lifecycle)

    def _credentials(self) -> tuple[str, Secret]:
        credentials = self._kaltura.credentials
        if credentials is None or self._info is None:
            raise RuntimeError("the session has not started: use it inside `async with`")
        return credentials

    async def say_audio(
        self,
        audio: bytes,
        *,
        duration: float,
        turn_id: str | None = None,
        filename: str = "audio.mp3",
        content_type: str = "audio/mpeg",
    ) -> str:
        """Queue ``audio`` (MP3 by default) for the avatar to say; see
        :meth:`KalturaAvatarClient.say_audio <aioavatar.KalturaAvatarClient.say_audio>`.

        Returns:
            The turn id.

        Raises:
            RuntimeError: outside ``async with``; ConfigurationError, APIError, TransportError: as the
                client's.
        """
        session_id, token = self._credentials()
        return await self._client.say_audio(
            session_id,
            audio,
            token=token,
            duration=duration,
            turn_id=turn_id,
            filename=filename,
            content_type=content_type,
        )

    async def say_text(
        self, text: str, *, turn_id: str | None = None, is_final: bool = True
    ) -> str:
        """Make the avatar say ``text``; see
        :meth:`KalturaAvatarClient.say_text <aioavatar.KalturaAvatarClient.say_text>` (the live server
        has been seen answering 503 to it).

        Returns:
            The turn id.

        Raises:
            RuntimeError: outside ``async with``; ConfigurationError, ServerError, APIError,
                TransportError: as the client's.
        """
        session_id, token = self._credentials()
        return await self._client.say_text(
            session_id, text, token=token, turn_id=turn_id, is_final=is_final
        )

    async def interrupt(self) -> None:
        """Stop what the avatar is saying (safe when it is silent).

        Raises:
            RuntimeError: outside ``async with``; APIError, TransportError: as the client's.
        """
        session_id, token = self._credentials()
        await self._client.interrupt(session_id, token=token)
