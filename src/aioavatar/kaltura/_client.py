"""``KalturaAvatarClient``: the typed façade over the Kaltura Avatar session endpoints."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import quote

import aiohttp
import attrs

from .._converter import unstructure
from .._enums import EndReason
from .._logging import track_secret
from .._protocol import RawResponse, decode_success, encode_multipart
from .._provider import ProviderClient, bearer_headers, resolve_base_url, resolve_timeout
from .._retry import Retry, RetryBudget, RetryPolicy
from .._secret import Secret
from .._transport import (
    DEFAULT_MAX_RESPONSE_SIZE,
    Timeout,
    Transport,
    timeout_field,
)
from .._validation import check_credential, check_path_id, check_text
from ..exceptions import APIError, ConfigurationError, ServerError
from ._converter import REQUEST_MODELS  # noqa: F401 - registers this provider's models
from ._models import (
    KalturaSessionInfo,
    KalturaSessionRequest,
    KalturaSessionToken,
    SayAudioFields,
    SayTextRequest,
)

if TYPE_CHECKING:
    from .._kaltura_session import KalturaAvatarSession

__all__ = ["BASE_URL_ENV", "KS_ENV", "REGIONS", "KalturaAvatarClient", "KalturaTimeouts"]

#: The API root of each region (paths carry the version, ``/v1/avatar-session/...``); ``nvp1`` is the
#: default.
REGIONS: Final[Mapping[str, str]] = {
    "nvp1": "https://api.avatar.us.kaltura.ai",  # US
    "frp2": "https://api.avatar.eu.kaltura.ai",  # EU, Frankfurt
}
KS_ENV: Final = "KALTURA_AVATAR_KS"
BASE_URL_ENV: Final = "KALTURA_AVATAR_BASE_URL"


def _decode_success(raw: RawResponse) -> Any:
    return decode_success(raw)


def _decode_unused(raw: RawResponse) -> Any:
    return decode_success(raw, data_used=False)


_CONTENT_TYPE: Final = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+")
T = TypeVar("T")


@attrs.frozen
class KalturaTimeouts:
    """Default time limits per operation (Kaltura's own clients allow 30 s a request). Each call also
    takes its own ``timeout``."""

    create: Timeout = timeout_field(30.0, 5.0)
    init_client: Timeout = timeout_field(30.0, 5.0)
    keep_alive: Timeout = timeout_field(10.0, 5.0)
    end: Timeout = timeout_field(10.0, 5.0)
    speech: Timeout = timeout_field(30.0, 5.0)


def _session_path(session_id: object, action: str) -> str:
    """``/v1/avatar-session/{id}/{action}``, the id checked and percent-encoded (the same check accepts
    every id a create answer may carry, so it never blocks the end of a session the server opened)."""
    return f"/v1/avatar-session/{quote(check_path_id(session_id, 'session_id'), safe='')}/{action}"


def _bearer(token: str | Secret) -> dict[str, str]:
    return bearer_headers(token, "token")


def _turn_id(turn_id: str | None) -> str:
    return uuid.uuid4().hex if turn_id is None else check_text(turn_id, "turn_id", max_length=200)


def _resolve_ks(ks: str | Secret | None) -> Secret | None:
    if ks is None:
        from_env = os.environ.get(KS_ENV)
        if from_env is None:
            return None
        ks = from_env
    if not isinstance(ks, str | Secret):
        raise ConfigurationError(
            f"must be a string or a Secret, got {type(ks).__name__}", field="ks"
        )
    secret = Secret(ks)
    check_credential(secret.get_secret_value(), "ks")
    return secret


def _resolve_base_url(region: str, base_url: str | None, *, allow_insecure: bool) -> str:
    """The API root: ``base_url`` when given (it wins over ``region``), else
    ``KALTURA_AVATAR_BASE_URL``, else the region's.

    Raises:
        ConfigurationError: an unknown region (the message lists the valid ones), a bad ``base_url``.
    """
    if not isinstance(region, str) or region.lower() not in REGIONS:
        valid = ", ".join(f"{name!r}" for name in REGIONS)
        raise ConfigurationError(f"must be one of {valid}, got {region!r}", field="region")
    return resolve_base_url(
        base_url, env=BASE_URL_ENV, default=REGIONS[region.lower()], allow_insecure=allow_insecure
    )


class KalturaAvatarClient(ProviderClient):
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
        base_url: the API root (``https://api.avatar.us.kaltura.ai``; a trailing ``/v1`` is dropped); wins
            over ``region``; falls back to ``KALTURA_AVATAR_BASE_URL``. ``http://`` is refused unless the
            host is loopback or ``allow_insecure``.
        http_session: an ``aiohttp.ClientSession`` to borrow; it is left open.
        retry_policy: how transient failures are retried (see :class:`~aioavatar.RetryPolicy`); every
            call also takes its own ``retry_policy``.
        retry_budget: the token bucket every retry of this client spends from (see
            :class:`~aioavatar.RetryBudget`); a fresh one with the defaults when not given.
        timeouts: default time limits per operation; every call also takes its own ``timeout``.
        max_response_size: answers larger than this many bytes are refused unread.
        connection_limit: connections in the pool, when the client creates it.

    Raises:
        ConfigurationError: an empty KS, an unknown region, a bad ``base_url``.
    """

    def __init__(
        self,
        ks: str | Secret | None = None,
        *,
        region: str = "nvp1",
        base_url: str | None = None,
        http_session: aiohttp.ClientSession | None = None,
        allow_insecure: bool = False,
        retry_policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        timeouts: KalturaTimeouts | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        connection_limit: int = 100,
    ) -> None:
        self._ks = _resolve_ks(ks)
        if self._ks is not None:
            track_secret(self, self._ks)  # masked in log records while this client lives
        self.region = region
        self.base_url = _resolve_base_url(region, base_url, allow_insecure=allow_insecure)
        if timeouts is not None and not isinstance(timeouts, KalturaTimeouts):
            raise ConfigurationError("must be a KalturaTimeouts", field="timeouts")
        self.timeouts = timeouts or KalturaTimeouts()
        self._transport = Transport(
            self.base_url,
            http_session=http_session,
            retry_policy=retry_policy,
            retry_budget=retry_budget,
            credentials=[self._ks] if self._ks is not None else [],
            max_response_size=max_response_size,
            connection_limit=connection_limit,
        )

    def __repr__(self) -> str:
        return f"KalturaAvatarClient(base_url={self.base_url!r})"

    @property
    def has_ks(self) -> bool:
        """Whether the client holds a KS (needed to create sessions)."""
        return self._ks is not None

    # --- plumbing -------------------------------------------------------------------------------------

    def _ks_headers(self) -> dict[str, str]:
        if self._ks is None:
            raise ConfigurationError(
                f"creating a session needs a Kaltura Session: pass ks=... or set {KS_ENV}",
                field="ks",
            )
        return {"Authorization": f"KS {self._ks.get_secret_value()}"}

    async def _call(
        self,
        path: str,
        *,
        headers: Mapping[str, str],
        timeout: Timeout,
        model: type[T] | None = None,
        data_used: bool = True,
        json: Any = None,
        content: tuple[bytes, str] | None = None,
        retry: Retry = Retry.ALWAYS,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        budgeted: bool = True,
    ) -> Any:
        return await self._request(
            "POST",
            path,
            headers=headers,
            timeout=timeout,
            decode=_decode_success if data_used else _decode_unused,
            model=model,
            json=None if content is not None else (json or {}),  # docs: no body is {}
            content=content,
            retry=retry,
            retry_policy=retry_policy,
            deadline=deadline,
            budgeted=budgeted,
        )

    # --- session endpoints ----------------------------------------------------------------------------

    async def create_session(
        self,
        avatar_id: str | None = None,
        *,
        voice_id: str | None = None,
        voice_speed: float | None = None,
        request: KalturaSessionRequest | None = None,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> KalturaSessionToken:
        """Create a session (``POST {base_url}/v1/avatar-session/create``, KS): it runs from here on.

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
        created: KalturaSessionToken = await self._call(
            "/v1/avatar-session/create",
            headers=self._ks_headers(),
            model=KalturaSessionToken,
            json=unstructure(body),
            timeout=resolve_timeout(timeout, self.timeouts.create),
            retry_policy=retry_policy,
            retry=Retry.IF_UNSENT,
        )
        track_secret(created, created.token)  # masked in log records while the token lives
        return created

    async def init_client(
        self,
        session_id: str,
        *,
        token: str | Secret,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
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
        info: KalturaSessionInfo = await self._call(
            _session_path(session_id, "init-client"),
            headers=_bearer(token),
            model=KalturaSessionInfo,
            timeout=resolve_timeout(timeout, self.timeouts.init_client),
            retry_policy=retry_policy,
            retry=Retry.IF_UNSENT,
        )
        return info

    async def keep_alive(
        self,
        session_id: str,
        *,
        token: str | Secret,
        timeout: float | Timeout | None = None,
        deadline: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        """Keep the session alive (``POST .../{session_id}/keep-alive``, Bearer); Kaltura asks every 10 s.

        Raises:
            APIError: with status 404 or 410 once the server has ended the session.
            TransportError, ResponseDecodeError: as for every call.
        """
        await self._call(
            _session_path(session_id, "keep-alive"),
            data_used=False,
            headers=_bearer(token),
            timeout=resolve_timeout(timeout, self.timeouts.keep_alive),
            retry_policy=retry_policy,
            deadline=deadline,
        )

    async def interrupt(
        self,
        session_id: str,
        *,
        token: str | Secret,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        """Stop what the avatar is saying (``POST .../{session_id}/interrupt``); safe when it is silent.

        Raises:
            APIError, TransportError: as for every call.
        """
        await self._call(
            _session_path(session_id, "interrupt"),
            data_used=False,
            headers=_bearer(token),
            timeout=resolve_timeout(timeout, self.timeouts.speech),
            retry_policy=retry_policy,
        )

    async def say_text(
        self,
        session_id: str,
        text: str,
        *,
        token: str | Secret,
        turn_id: str | None = None,
        is_final: bool = True,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
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
        path = _session_path(session_id, "say-text")
        body = SayTextRequest(text=text, turn_id=_turn_id(turn_id), is_final=is_final)
        headers = _bearer(token)
        try:
            await self._call(
                path,
                headers=headers,
                data_used=False,
                json=unstructure(body),
                timeout=resolve_timeout(timeout, self.timeouts.speech),
                retry_policy=retry_policy,
                retry=Retry.IF_UNSENT,
            )
        except ServerError as exc:
            if exc.status != 503:
                raise
            raise ServerError(
                "say-text is unavailable on this server (HTTP 503); send audio with say_audio instead",
                method=exc.method,
                path=exc.path,
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
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
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
        path = _session_path(session_id, "say-audio")
        if not isinstance(audio, bytes | bytearray | memoryview):
            raise ConfigurationError("must be non-empty bytes", field="audio")
        try:
            audio = bytes(audio)
        except ValueError:  # a released memoryview
            raise ConfigurationError(
                "is a released buffer: nothing can be read", field="audio"
            ) from None
        if not audio:
            raise ConfigurationError("must be non-empty bytes", field="audio")
        fields = SayAudioFields(turn_id=_turn_id(turn_id), duration=duration)
        check_text(filename, "filename", max_length=200)
        if not isinstance(content_type, str) or _CONTENT_TYPE.fullmatch(content_type) is None:
            raise ConfigurationError(
                f"must be a media type such as 'audio/mpeg', got {content_type!r}",
                field="content_type",
            )
        form = {key: str(value) for key, value in unstructure(fields).items()}
        content = encode_multipart(form, {"audio": (filename, content_type, audio)})
        await self._call(
            path,
            headers=_bearer(token),
            data_used=False,
            content=content,
            timeout=resolve_timeout(timeout, self.timeouts.speech),
            retry_policy=retry_policy,
            retry=Retry.IF_UNSENT,
        )
        return fields.turn_id

    async def end_session(
        self,
        session_id: str,
        *,
        token: str | Secret,
        timeout: float | Timeout | None = None,
        deadline: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> bool:
        """End the session (``POST .../{session_id}/end``); its token stops working. Retried on transient
        failures. Kaltura's end takes no reason: a session records its own.

        Returns:
            ``True`` when this call ended it, ``False`` when it had already ended (404 or 410).

        Raises:
            ConfigurationError: a malformed id or an empty token.
            APIError, TransportError: the end is not confirmed; the session may still run.
        """
        try:
            await self._call(
                _session_path(session_id, "end"),
                data_used=False,
                headers=_bearer(token),
                timeout=resolve_timeout(timeout, self.timeouts.end),
                retry_policy=retry_policy,
                budgeted=False,  # a stop's retries keep a session from billing on
                deadline=deadline,
            )
        except APIError as exc:
            if exc.session_gone:
                return False
            raise
        return True

    def session(
        self,
        avatar_id: str,
        *,
        voice_id: str | None = None,
        voice_speed: float | None = None,
        keep_alive_interval: float = 10.0,
        stop_timeout: float = 10.0,
        end_reason_for: Callable[[BaseException], EndReason | None] | None = None,
    ) -> KalturaAvatarSession:
        """A :class:`~aioavatar.KalturaAvatarSession` that uses this client's pool: ``async with`` it.

        Raises:
            ConfigurationError: invalid arguments, or a client without a KS.
        """
        from .._kaltura_session import KalturaAvatarSession

        return KalturaAvatarSession(
            avatar_id,
            voice_id=voice_id,
            voice_speed=voice_speed,
            client=self,
            keep_alive_interval=keep_alive_interval,
            stop_timeout=stop_timeout,
            end_reason_for=end_reason_for,
        )


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
    if request is not None:
        if avatar_id is not None or voice_id is not None or voice_speed is not None:
            raise ConfigurationError(
                "give either request= or the fields, not both", field="request"
            )
        if not isinstance(request, KalturaSessionRequest):
            raise ConfigurationError("must be a KalturaSessionRequest", field="request")
        return request
    if avatar_id is None:
        raise ConfigurationError("is required", field="avatar_id")
    return KalturaSessionRequest(avatar_id=avatar_id, voice_id=voice_id, voice_speed=voice_speed)
