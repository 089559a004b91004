"""``KalturaAvatarClient``: the typed façade over the Kaltura Avatar session endpoints (``_endpoints``)."""

from __future__ import annotations

import functools
import re
import uuid
from typing import TYPE_CHECKING, Any, Final, Unpack

from .._converter import build_request, unstructure
from .._credentials import bearer_token
from .._logging import track_secret
from .._options import CallOptions, ClientOptions
from .._provider import Endpoint, PreparedCall, ProviderClient
from .._request import encode_multipart
from .._secret import Secret
from .._validation import check_bytes, check_path_id, check_text, shown
from ..exceptions import ConfigurationError, NotFoundError, ServerError
from ._catalog import KalturaCatalog
from ._converter import form_fields  # its import registers this provider's models
from ._endpoints import (
    CREATE,
    CREATE_AT_ROOT,
    END,
    INIT_CLIENT,
    INTERRUPT,
    KEEP_ALIVE,
    SAY_AUDIO,
    SAY_TEXT,
    SPEC,
    KalturaTimeouts,
    Region,
    region_root,
)
from ._models import (
    KalturaSessionInfo,
    KalturaSessionRequest,
    KalturaSessionToken,
    SayAudioFields,
    SayTextRequest,
)

if TYPE_CHECKING:
    from ._session import KalturaAvatarSession, KalturaSessionOptions

__all__ = ["KalturaAvatarClient"]

_CONTENT_TYPE: Final = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+")


def _in_path(session_id: object) -> dict[str, str]:
    """The path argument of a session's endpoint: the id checked (the same rule accepts every id a
    create answer may carry, so it never blocks the end of a session the server opened)."""
    return {"session_id": check_path_id(session_id, "session_id")}


def _bearer(token: str | Secret) -> str:
    return bearer_token(token, "token")


def _turn_id(turn_id: str | None) -> str:
    return uuid.uuid4().hex if turn_id is None else check_text(turn_id, "turn_id", max_length=200)


class KalturaAvatarClient(ProviderClient[KalturaTimeouts], spec=SPEC):
    """An async client for the Kaltura Avatar session API.

    Use it as ``async with KalturaAvatarClient() as client:``; the HTTP pool is created on enter, inside the
    running loop, and closed on exit unless it was borrowed through ``http_session``. One client serves any
    number of concurrent sessions.

    Two credentials: ``create`` is authorized by a Kaltura Session (``Authorization: KS <ks>``, an admin
    KS); every later call by the session's own token (``Authorization: Bearer <token>``) that ``create``
    returns. A client without a KS can still drive sessions whose token it is given.

    Args:
        ks: an admin Kaltura Session; falls back to the ``KALTURA_AVATAR_KS`` environment variable.
        region: ``"nvp1"`` (US, the default) or ``"frp2"`` (EU, Frankfurt).
        timeouts: default time limits per operation.
        **options: see :class:`~aioavatar.ClientOptions`: ``base_url`` (the API root,
            ``https://api.avatar.us.kaltura.ai``; wins over ``region``; falls back to
            ``KALTURA_AVATAR_BASE_URL``), ``http_session``, ``allow_insecure``, ``retry_policy``,
            ``retry_budget``, ``max_response_size``, ``connection_limit``.

    Every endpoint method also takes the options of :class:`~aioavatar.CallOptions`: ``timeout``,
    ``retry_policy`` and ``deadline``.

    Raises:
        ConfigurationError: an empty KS, an unknown region, a bad ``base_url``.
    """

    def __init__(
        self,
        ks: str | Secret | None = None,
        *,
        region: Region = "nvp1",
        timeouts: KalturaTimeouts | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.region = region
        super().__init__(ks, timeouts=timeouts, default_base_url=region_root(region), **options)
        #: The avatars and voices a session may use (``catalog.list(type="Visual")``; admin KS).
        self.catalog = KalturaCatalog(self)
        # Create's two documented paths, the one that answered last first (see create_session).
        self._create_paths = (CREATE, CREATE_AT_ROOT)

    @property
    def has_ks(self) -> bool:
        """Whether the client holds a KS (needed to create sessions)."""
        return self._credential is not None

    def _for_session(
        self,
        endpoint: Endpoint,
        session_id: object,
        token: str | Secret,
        *,
        json: Any = None,
        content: tuple[bytes, str] | None = None,
    ) -> PreparedCall:
        """A call to one session's endpoint, authorized by the session's token. The body is ``{}``
        unless given: the docs send ``{}`` for a call without fields."""
        if json is None and content is None:
            json = {}
        path_args = _in_path(session_id)
        return self._prepare(
            endpoint,
            bearer=_bearer(token),  # a prepared beat keeps no copy of the token
            path_args=path_args,
            json=json,
            content=content,
        )

    # --- session endpoints ----------------------------------------------------------------------------

    async def create_session(
        self,
        avatar_id: str | None = None,
        *,
        voice_id: str | None = None,
        voice_speed: float | None = None,
        request: KalturaSessionRequest | None = None,
        **options: Unpack[CallOptions],
    ) -> KalturaSessionToken:
        """Create a session (``POST {base_url}/v1/avatar-session/create``, KS): it runs from here on.

        A server that answers that path 404 gets the request again at ``/v1/avatar-session``, the path
        one page of the documentation gives (a 404 there too raises the first 404); the client keeps
        using the path that answered.

        Not idempotent, so never retried once the request may have left the machine: each create opens a
        session. Give the avatar and voice as arguments or as a ready ``request``.

        Returns:
            The session id and its token (a :class:`~aioavatar.Secret`, valid about 24 hours).

        Raises:
            ConfigurationError: no KS, invalid fields, before any network call.
            AuthenticationError: 401 (invalid KS) or 403 (a KS that is not an admin one).
            APIError, TransportError, ResponseDecodeError: as for every call (the session may exist when the
                answer was lost).
        """
        body = build_session_request(avatar_id, voice_id, voice_speed, request)
        json = unstructure(body)
        first, other = self._create_paths
        try:
            created: KalturaSessionToken = await self._send(
                self._prepare(first, headers=self._account_headers(), json=json), options
            )
        except NotFoundError as refused:
            # The documentation has create at two paths (``/create`` and the bare route), and no
            # 404 among create's errors: a 404 is no route there, and nothing was created. The
            # other path is tried, and kept first once it answers; a 404 there too raises the
            # first answer (a server's own complaint, if that is what it was, is not replaced).
            try:
                created = await self._send(
                    self._prepare(other, headers=self._account_headers(), json=json), options
                )
            except NotFoundError:
                raise refused from None
            self._create_paths = (other, first)
        track_secret(created.token, created.token)  # masked while the Secret lives
        return created

    async def init_client(
        self,
        session_id: str,
        *,
        token: str | Secret,
        **options: Unpack[CallOptions],
    ) -> KalturaSessionInfo:
        """Get what a viewer needs to play the session (``POST .../{session_id}/init-client``, Bearer).

        Call it once per session: a second call may open a second stream, so it is never retried once the
        request may have left the machine.

        Returns:
            The WHEP URL and the TURN server (url, username, credential).

        Raises:
            ConfigurationError: a malformed id or an empty token.
            APIError: 401, 404 or 410 (the session has ended); TransportError, ResponseDecodeError.
        """
        call = self._for_session(INIT_CLIENT, session_id, token)
        info: KalturaSessionInfo = await self._send(call, options)
        return info

    async def keep_alive(
        self,
        session_id: str,
        *,
        token: str | Secret,
        **options: Unpack[CallOptions],
    ) -> None:
        """Keep the session alive (``POST .../{session_id}/keep-alive``, Bearer); Kaltura asks every 10 s.

        Raises:
            APIError: with status 404 or 410 once the server has ended the session.
            TransportError, ResponseDecodeError: as for every call.
        """
        await self._send(self._keep_alive_call(session_id, token), options)

    def _prepare_keep_alive(self, session_id: str, token: str | Secret | None) -> PreparedCall:
        return self.prepare_keep_alive(session_id, token=token)  # type: ignore[arg-type]

    def prepare_keep_alive(self, session_id: str, *, token: str | Secret) -> PreparedCall:
        """:meth:`keep_alive`, checked and encoded once: ``await client.send(call)`` sends it as often
        as needed (a session's beats do).

        Raises:
            ConfigurationError: a malformed id or an empty token.
        """
        return self._for_session(KEEP_ALIVE, session_id, token)

    async def interrupt(
        self,
        session_id: str,
        *,
        token: str | Secret,
        **options: Unpack[CallOptions],
    ) -> None:
        """Stop what the avatar is saying (``POST .../{session_id}/interrupt``); safe when it is silent.

        Raises:
            APIError, TransportError: as for every call.
        """
        await self._send(self._for_session(INTERRUPT, session_id, token), options)

    async def say_text(
        self,
        session_id: str,
        text: str,
        *,
        token: str | Secret,
        turn_id: str | None = None,
        is_final: bool = True,
        **options: Unpack[CallOptions],
    ) -> str:
        """Make the avatar say ``text`` (``POST .../{session_id}/say-text``: ``{text, turnId, isFinal}``).

        Not retried once sent (the avatar would say it twice). The live server has been seen answering
        503 to every call: that is raised as a :class:`ServerError` saying the endpoint is unavailable;
        :meth:`say_audio` works there.

        Returns:
            The turn id sent (``turn_id``, or a new random one).

        Raises:
            ConfigurationError: empty text, a bad turn id, before any network call.
            ServerError: 503, the endpoint is unavailable.
            APIError, TransportError: as for every call.
        """
        body = SayTextRequest(text=text, turn_id=_turn_id(turn_id), is_final=is_final)
        try:
            call = self._for_session(SAY_TEXT, session_id, token, json=unstructure(body))
            await self._send(call, options)
        except ServerError as exc:
            if exc.status != 503:
                raise
            raise ServerError(
                "say-text is unavailable on this server (HTTP 503); send audio with say_audio instead",
                method=exc.method,
                path=exc.path,
                url=exc.url,
                status=exc.status,
                code=exc.code,
                request_id=exc.request_id,
            ) from exc
        return body.turn_id

    async def say_audio(
        self,
        session_id: str,
        audio: bytes,
        *,
        token: str | Secret,
        duration: float,
        turn_id: str | None = None,
        filename: str = "audio.mp3",
        content_type: str = "audio/mpeg",
        **options: Unpack[CallOptions],
    ) -> str:
        """Queue ``audio`` for the avatar to say (``POST .../{session_id}/say-audio``, multipart form).

        The server answers once the audio is queued, not played. ``duration`` is the audio's length in
        seconds, measured by the caller: a wrong one desyncs the lips without any error. MP3 is the
        verified format. Not retried once sent (the avatar would say it twice).

        Returns:
            The turn id sent (``turn_id``, or a new random one).

        Raises:
            ConfigurationError: empty audio, a duration that is not a positive number, a bad turn id,
                filename or content type, before any network call.
            APIError, TransportError: as for every call.
        """
        audio = check_bytes(audio, "audio", empty="there is no audio to say")
        fields = SayAudioFields(turn_id=_turn_id(turn_id), duration=duration)
        check_text(filename, "filename", max_length=200)
        if not isinstance(content_type, str) or _CONTENT_TYPE.fullmatch(content_type) is None:
            raise ConfigurationError(
                f"must be a media type such as 'audio/mpeg', got {shown(content_type)}",
                field="content_type",
            )
        form = form_fields(fields)
        content = encode_multipart(form, {"audio": (filename, content_type, audio)})
        await self._send(self._for_session(SAY_AUDIO, session_id, token, content=content), options)
        return fields.turn_id

    async def end_session(
        self,
        session_id: str,
        *,
        token: str | Secret,
        **options: Unpack[CallOptions],
    ) -> bool:
        """End the session (``POST .../{session_id}/end``); its token stops working. Retried on transient
        failures. Kaltura's end takes no reason: a session records its own.

        Returns:
            ``True`` when this call ended it, ``False`` when it had already ended (404 or 410).

        Raises:
            ConfigurationError: a malformed id or an empty token.
            APIError, TransportError: the end is not confirmed; the session may still run.
        """
        call = self._for_session(END, session_id, token)
        self._keep_alives.forget(session_id)
        return await self._ending(self._send(call, options))

    def session(
        self, avatar_id: str, **options: Unpack[KalturaSessionOptions]
    ) -> KalturaAvatarSession:
        """A :class:`~aioavatar.KalturaAvatarSession` that uses this client's pool: ``async with`` it.

        Raises:
            ConfigurationError: invalid arguments, or a client without a KS.
        """
        return _session_class()(avatar_id, client=self, **options)


@functools.cache
def _session_class() -> type[KalturaAvatarSession]:
    """The session class, imported at its first use (the session stands on the client, not below):
    once, not by an import statement run with every session."""
    from ._session import KalturaAvatarSession

    return KalturaAvatarSession


def build_session_request(
    avatar_id: str | None,
    voice_id: str | None,
    voice_speed: float | None,
    request: KalturaSessionRequest | None,
) -> KalturaSessionRequest:
    """The create request from arguments or a ready model (not both).

    Raises:
        ConfigurationError: naming the field.
    """
    fields = {"avatar_id": avatar_id, "voice_id": voice_id, "voice_speed": voice_speed}
    return build_request(KalturaSessionRequest, request, fields)
