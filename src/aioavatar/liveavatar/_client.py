"""``LiveAvatarClient``: the typed façade over the LiveAvatar session endpoints (``_endpoints``)."""

from __future__ import annotations

import functools
from collections.abc import Coroutine
from enum import Enum
from typing import TYPE_CHECKING, Any, Unpack

import attrs

from .._call_memo import CallMemo
from .._converter import build_request, unstructure
from .._credentials import bearer_token
from .._enums import EndReason, EndReasonName
from .._json import dump_json
from .._logging import track_secret
from .._options import CallOptions, ClientOptions
from .._pager import PageData, Pager, page_after
from .._provider import Endpoint, PreparedCall, ProviderClient
from .._retry import RetryPolicy
from .._secret import Secret
from .._timeout import Timeout
from .._validation import check_int, check_number, check_options, check_uuid, shown
from ..exceptions import ConfigurationError
from ._agent_resources import Embeddings, LLMConfigurations, Memories, Secrets
from ._converter import REQUEST_MODELS  # noqa: F401 - registers this provider's models
from ._endpoints import (
    CREDITS,
    GET,
    KEEP_ALIVE,
    LANGUAGES,
    LIST,
    SPEC,
    START,
    STOP,
    TOKEN,
    TRANSCRIPT,
    LiveAvatarTimeouts,
)
from ._enums import SessionType, SessionTypeName
from ._models import (
    SessionInfo,
    SessionToken,
    SessionTokenRequest,
    TokenFields,
    carried_secrets,
)
from ._reads import SessionEntry, SessionPage, Transcript
from ._resource_models import Credits, Language
from ._resources import Avatars, Contexts, Voices, check_page_size

if TYPE_CHECKING:
    from ._session import AvatarSession, SessionOptions

__all__ = ["LiveAvatarClient"]


class LiveAvatarClient(ProviderClient[LiveAvatarTimeouts], spec=SPEC):
    """An async client for the LiveAvatar session API (``https://api.liveavatar.com``).

    Use it as ``async with LiveAvatarClient() as client:``; the HTTP pool is created on enter, inside the
    running loop, and closed on exit unless it was borrowed through ``http_session``. One client serves any
    number of concurrent sessions.

    Args:
        api_key: the account's API key; falls back to the ``LIVEAVATAR_API_KEY`` environment variable.
        timeouts: default time limits per operation.
        **options: see :class:`~aioavatar.ClientOptions`: ``base_url`` (falls back to
            ``LIVEAVATAR_BASE_URL``, then ``https://api.liveavatar.com``), ``http_session``,
            ``allow_insecure``, ``retry_policy``, ``retry_budget``, ``max_response_size``,
            ``connection_limit``.

    Every endpoint method also takes the options of :class:`~aioavatar.CallOptions`: ``timeout``
    (seconds, or a :class:`~aioavatar.Timeout`; it bounds each attempt, waiting for a pooled connection
    included; the defaults per operation are in ``timeouts``), ``retry_policy`` (replaces the client's
    policy for that call; the client's retry budget still applies) and ``deadline``.

    The account's resources are namespaces of the client: :attr:`avatars`, :attr:`voices`,
    :attr:`contexts`, :attr:`llm_configurations`, :attr:`secrets`, :attr:`memories`,
    :attr:`embeddings`; every list among them is a :class:`~aioavatar.Pager`.

    Raises:
        ConfigurationError: no or empty API key, a bad ``base_url``.
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        *,
        timeouts: LiveAvatarTimeouts | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(api_key, timeouts=timeouts, **options)
        # Token calls prepared once per request of plain values, by the request's id (_token_call).
        self._token_calls = CallMemo(_KEPT_TOKEN_CALLS)
        #: The account's avatars and LiveAvatar's public ones.
        self.avatars = Avatars(self)
        #: The voices a persona may speak with.
        self.voices = Voices(self)
        #: The prompts and opening lines of FULL sessions.
        self.contexts = Contexts(self)
        #: The OpenAI-compatible LLM endpoints a FULL session may use.
        self.llm_configurations = LLMConfigurations(self)
        #: The third-party keys the account stores.
        self.secrets = Secrets(self)
        #: What sessions remember for the next ones.
        self.memories = Memories(self)
        #: Avatars embedded in web pages.
        self.embeddings = Embeddings(self)

    def _session_call(
        self,
        endpoint: Endpoint,
        session_token: str | Secret | None,
        body: dict[str, str],
        *,
        account_fallback: bool = True,
    ) -> PreparedCall:
        """A call of one session, sent with its session token (Bearer), else (when allowed) with the
        API key."""
        bearer = None  # the API key's headers
        if session_token is not None or not account_fallback:
            bearer = bearer_token(session_token, "session_token")  # type: ignore[arg-type]
        return self._shaped_call(endpoint, bearer, dump_json(body).encode())

    # --- session endpoints ----------------------------------------------------------------------------

    async def create_session_token(
        self,
        avatar_id: str | None = None,
        *,
        request: SessionTokenRequest | None = None,
        timeout: float | Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **fields: Unpack[TokenFields],
    ) -> SessionToken:
        """Create a session token (``POST /v1/sessions/token``, API key). Opens nothing, bills nothing.

        Give the body as keyword arguments (nested objects as model instances or dicts shaped like the
        JSON body) or as a ready ``request``. Retried on transient failures.

        Returns:
            The session id and its session token (a :class:`~aioavatar.Secret`).

        Raises:
            ConfigurationError: invalid fields, before any network call.
            APIError: the server refused (``AuthenticationError``, ``ValidationError``, ...).
            TransportError: no answer.
        """
        call = self._token_call(build_token_request(avatar_id, request, fields))
        options: CallOptions = {}
        if timeout is not None:
            options["timeout"] = timeout
        if retry_policy is not None:
            options["retry_policy"] = retry_policy
        if deadline is not None:
            options["deadline"] = deadline
        token: SessionToken = await self._send(call, options)
        track_secret(token.session_token, token.session_token)  # masked while the Secret lives
        return token

    def _session_token(self, request: SessionTokenRequest) -> Coroutine[Any, Any, SessionToken]:
        """A session's token call (no level of its own): its request was checked as the session was
        built, and the session holds the token it answers with the moment it arrives
        (``hold_secret``), so no weak reference masks it first (a registration fewer per session)."""
        return self._send(self._token_call(request), {})

    async def start_session(
        self,
        session_token: str | Secret,
        **options: Unpack[CallOptions],
    ) -> SessionInfo:
        """Start the session the token belongs to (``POST /v1/sessions/start``, Bearer session token).

        From here the session runs and bills until stopped. Retried only when the request surely never
        left the machine: a repeated start could open a session nobody stops.

        Returns:
            Where to join: ``livekit_url``, ``livekit_client_token``, ``ws_url`` (LITE) and the rest.

        Raises:
            APIError: the server refused; TransportError: no answer (the session may have started).
        """
        return await self._start(session_token, options)

    def _start(
        self, session_token: str | Secret, options: CallOptions
    ) -> Coroutine[Any, Any, SessionInfo]:
        """The start's coroutine (no level of its own): the credentials it answers with are a
        session's to hold, for the session's life (``start_credentials``)."""
        call = self._session_call(START, session_token, {}, account_fallback=False)
        return self._send(call, options)

    async def keep_alive(
        self,
        session_id: str,
        *,
        session_token: str | Secret | None = None,
        **options: Unpack[CallOptions],
    ) -> None:
        """Reset the session's idle timer (``POST /v1/sessions/keep-alive``).

        Sent with the session token when given (the session's own rate-limit budget), else the API key.

        Raises:
            NotFoundError: the session has ended (or never existed).
            APIError, TransportError: as for every call.
        """
        await self._send(self._keep_alive_call(session_id, session_token), options)

    def _prepare_keep_alive(self, session_id: str, token: str | Secret | None) -> PreparedCall:
        return self.prepare_keep_alive(session_id, session_token=token)

    def prepare_keep_alive(
        self, session_id: str, *, session_token: str | Secret | None = None
    ) -> PreparedCall:
        """:meth:`keep_alive`, checked and encoded once: ``await client.send(call)`` sends it as often
        as needed (a session's beats do).

        Raises:
            ConfigurationError: a malformed id or an unusable token.
        """
        check_uuid(session_id, "session_id")
        # Kept for the session's life: it refers to the token it carries, not a copy of it.
        return self._session_call(KEEP_ALIVE, session_token, {"session_id": session_id})

    async def stop_session(
        self,
        session_id: str,
        *,
        reason: EndReason | EndReasonName = EndReason.USER_CLOSED,
        session_token: str | Secret | None = None,
        **options: Unpack[CallOptions],
    ) -> bool:
        """Stop the session (``POST /v1/sessions/stop``) with an end reason.

        Sent with the session token when given, else the API key (which can stop any of the account's
        sessions). Retried on transient failures.

        Returns:
            ``True`` when this call stopped it, ``False`` when it had already ended (404 or 410).

        Raises:
            ConfigurationError: a malformed id or an unknown reason.
            APIError, TransportError: the stop is not confirmed; the session may still run.
        """
        check_uuid(session_id, "session_id")
        try:
            known = EndReason.known(reason)
        except ValueError as exc:
            raise ConfigurationError(str(exc), field="reason") from None
        body = {"session_id": session_id, "reason": known._value_}
        call = self._session_call(STOP, session_token, body)
        self._keep_alives.forget(session_id)
        return await self._ending(self._send(call, options))

    def list_sessions(
        self,
        type: SessionType | SessionTypeName = SessionType.ACTIVE,  # the API's own name
        *,
        page: int = 1,
        page_size: int = 20,
        avatar_id: str | None = None,
        embed_id: str | None = None,
        context_id: str | None = None,
        **options: Unpack[CallOptions],
    ) -> Pager[SessionEntry]:
        """The account's ``"active"`` or ``"historic"`` sessions (``GET /v1/sessions``), from ``page``.

        ``await`` it for one page (``.items``, ``.count``, ``.next_page()``), ``async for`` it for
        every session of every page from there.

        Raises:
            ConfigurationError: an unknown type, ``page`` < 1, ``page_size`` outside 1..100, a bad id.
        """
        try:
            kind = SessionType(str.__str__(type) if isinstance(type, str) else type)
        except ValueError:
            raise ConfigurationError(
                f"must be 'active' or 'historic', got {shown(type)}", field="type"
            ) from None
        check_int(page, "page", low=1, high=1_000_000)
        size = check_page_size(page_size)
        check_options(options, CallOptions)
        params = {"type": kind.value}
        for name, value in (
            ("avatar_id", avatar_id),
            ("embed_id", embed_id),
            ("context_id", context_id),
        ):
            if value is not None:
                check_uuid(value, name)
                params[name] = value
        self._account_headers()  # no credential: refused now, not when the first page is read

        async def fetch(number: int) -> PageData[SessionEntry]:
            query = {**params, "page": str(number), "page_size": str(size)}
            # The headers inline: no local of this frame holds the API key (a traceback's locals).
            call = self._prepare(LIST, headers=self._account_headers(), params=query)
            read: SessionPage = await self._send(call, options)
            following = page_after(number, len(read.results), read.count, read.next)
            return PageData(read.results, read.count, following, read.next, read.previous)

        return Pager(fetch, page)

    async def get_credits(self, **options: Unpack[CallOptions]) -> Credits:
        """The account's balance (``GET /v1/users/credits``), exact (``credits_left`` is a
        :class:`~decimal.Decimal`). FULL sessions and embeds cost 2 credits a minute, LITE 1.

        Raises:
            APIError, TransportError, ResponseDecodeError: as every call.
        """
        call = self._prepare(CREDITS, headers=self._account_headers())
        credits: Credits = await self._send(call, options)
        return credits

    async def list_languages(self, **options: Unpack[CallOptions]) -> list[Language]:
        """The languages a session may speak (``GET /v1/languages``): name and code.

        Raises:
            APIError, TransportError, ResponseDecodeError: as every call.
        """
        call = self._prepare(LANGUAGES, headers=self._account_headers())
        languages: list[Language] = await self._send(call, options)
        return languages

    async def get_session(
        self,
        session_id: str,
        **options: Unpack[CallOptions],
    ) -> SessionEntry:
        """Read one session (``GET /v1/sessions/{id}``); historic entries carry ``end_reason``.

        Raises:
            NotFoundError: no such session.
        """
        check_uuid(session_id, "session_id")
        call = self._prepare(
            GET, headers=self._account_headers(), path_args={"session_id": session_id}
        )
        entry: SessionEntry = await self._send(call, options)
        return entry

    async def get_transcript(
        self,
        session_id: str,
        *,
        start_timestamp: float | None = None,
        end_timestamp: float | None = None,
        **options: Unpack[CallOptions],
    ) -> Transcript:
        """Read a FULL session's transcript (``GET /v1/sessions/{id}/transcript``).

        Raises:
            NotFoundError: no such session.
        """
        check_uuid(session_id, "session_id")
        params = {}
        for name, value in (("start_timestamp", start_timestamp), ("end_timestamp", end_timestamp)):
            if value is not None:
                params[name] = repr(check_number(value, name, low=0.0, high=1e13))
        call = self._prepare(
            TRANSCRIPT,
            headers=self._account_headers(),
            path_args={"session_id": session_id},
            params=params or None,
        )
        transcript: Transcript = await self._send(call, options)
        return transcript

    def _token_call(self, body: SessionTokenRequest) -> PreparedCall:
        """The token call of ``body``, prepared once per client for a request of plain values (the
        same object each time: see :func:`build_token_request`), each time for any other."""
        held = self._token_calls.get(id(body))
        if held is not None and held[0] is body:
            call: PreparedCall = held[1]
            return call
        call = self._prepare(
            TOKEN,
            headers=self._account_headers(),
            json=unstructure(body),
            secrets=carried_secrets(body),
        )
        if all(isinstance(getattr(body, name), _PLAIN) for name in _TOKEN_FIELDS):
            self._token_calls.put(id(body), (body, call))  # the body held: its id stays its own
        return call

    def session(self, avatar_id: str, **options: Unpack[SessionOptions]) -> AvatarSession:
        """An :class:`~aioavatar.AvatarSession` that uses this client's pool: ``async with`` it."""
        return _session_class()(avatar_id, client=self, **options)


@functools.cache
def _session_class() -> type[AvatarSession]:
    """The session class, imported at its first use (the session face stands on the client, not
    below): once, not by an import statement run with every session (1.5 us each)."""
    from ._session import AvatarSession

    return AvatarSession


def build_token_request(
    avatar_id: str | None, request: SessionTokenRequest | None, fields: TokenFields
) -> SessionTokenRequest:
    """The token request from keyword fields or a ready model (not both).

    Built and checked once for the same fields (a service opens session after session with the same
    avatar and options; the request is immutable) when each is a plain value (text, number, flag,
    enum member). Nested models and dicts are built each time: a LITE connector's config carries
    its room's token, which a process-wide cache would keep alive after the session.

    Raises:
        ConfigurationError: naming the field.
    """
    if (
        request is None
        and isinstance(avatar_id, _PLAIN)
        and all(isinstance(value, _PLAIN) for value in fields.values())
    ):
        # Each value with its type: True and 1 are equal and hash alike, but only one is a boolean.
        key: tuple[Any, ...] = (type(avatar_id), avatar_id)
        if fields:
            key += tuple((name, type(value), value) for name, value in sorted(fields.items()))
        return _token_request(key)
    return build_request(SessionTokenRequest, request, {"avatar_id": avatar_id, **fields})


#: The values a cached token request may be built from: none can hold a secret or change.
_PLAIN = (str, int, float, Enum, type(None))
#: What a token request holds: every one a plain value, its prepared call is kept (_token_call).
_TOKEN_FIELDS = tuple(field.name for field in attrs.fields(SessionTokenRequest))
#: The token requests built once, and their calls prepared once per client.
_KEPT_TOKEN_CALLS = 32


@functools.lru_cache(maxsize=_KEPT_TOKEN_CALLS)
def _token_request(key: tuple[Any, ...]) -> SessionTokenRequest:
    _, avatar_id, *fields = key
    given = {"avatar_id": avatar_id, **{name: value for name, _, value in fields}}
    return build_request(SessionTokenRequest, None, given)
