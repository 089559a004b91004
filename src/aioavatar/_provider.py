"""The one endpoint engine every provider's client stands on.

Written once here: resolving the account credential (argument, then environment variable, with
``_credentials.py``) and the API root (argument, then environment variable, then the default),
building the transport, the one call path (send, retry, decode, read into a model, mask credentials
in any error), request-or-fields, the options every client and every call take, and a session's
choice between a borrowed and an owned client. What differs between providers is data: a
:class:`ProviderSpec` (auth headers, success decoder, default root, environment variables) and
:class:`Endpoint` values. Adding an endpoint is one :class:`Endpoint` and one small method; adding a
provider is a folder with its spec, models, endpoints and session face.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Generic, Self, TypeVar, Unpack
from urllib.parse import quote

import aiohttp
import attrs

from ._base_url import resolve_base_url
from ._call_memo import KEPT_KEEP_ALIVES, CallMemo, plain_token
from ._cancellation import close_despite_cancellation
from ._converter import DecodeFailure, structure_response
from ._credentials import resolve_credential
from ._logging import mask_tracked, redact_error, track_secret
from ._options import CallOptions, ClientOptions
from ._protocol import decode_failure, map_strings
from ._request import NO_HEADERS, PreparedRequest
from ._response import RawResponse
from ._retry import Retry, RetryPolicy
from ._running import Running
from ._scheduler import Scheduler, beat_workers
from ._secret import Secret
from ._slots import Reservation
from ._standins import StandIns
from ._timeout import resolve_timeout
from ._transport import DEFAULT_CONNECTION_LIMIT, DEFAULT_MAX_RESPONSE_SIZE, Transport
from ._validation import check_number, check_options, check_path_id
from ._wire import with_bearer
from .exceptions import APIError, AvatarError, ConfigurationError

__all__ = ["Endpoint", "Namespace", "PreparedCall", "ProviderClient", "ProviderSpec"]

T = TypeVar("T")
TimeoutsT = TypeVar("TimeoutsT")
ClientT = TypeVar("ClientT")


@attrs.frozen
class ProviderSpec:
    """What tells one provider's API from another's, as data.

    Attributes:
        credential_field: the client argument holding the account credential (``api_key``, ``ks``).
        credential_env: the environment variable it falls back to.
        credential_required: whether a client needs it at all (Kaltura's does not: a session's own
            token drives everything after create).
        base_url_env: the environment variable the API root falls back to.
        default_base_url: the API root when neither is given.
        account_headers: the headers that carry the account credential.
        timeouts: the class of the client's default time limits, one field per endpoint's ``timeout``.
        decode: a 2xx answer's data, or the typed error; ``data_used=False`` for calls whose answer
            carries nothing the SDK reads (a 204 is a success there).
    """

    credential_field: str
    credential_env: str
    credential_required: bool
    base_url_env: str
    default_base_url: str
    account_headers: Callable[[str], dict[str, str]]
    decode: Callable[[RawResponse, bool], Any]
    timeouts: type


@attrs.define
class PreparedCall(PreparedRequest):
    """An endpoint call checked and encoded once, ready to :meth:`~ProviderClient.send` any number of
    times (its credentials are held, never shown). Treat it as read-only: it is not frozen, for the
    cost of building one on every call (see :class:`PreparedRequest`)."""

    endpoint: Endpoint = attrs.field(kw_only=True, repr=False)


@attrs.frozen
class Endpoint:
    """One endpoint, as data: the request line, its default time limit and how it may be retried.

    Attributes:
        method, path: the request line; ``{name}`` in the path is filled from the call's
            ``path_args``, percent-encoded.
        timeout: the name of its default in the client's timeouts (``"stop"``, ``"read"``, ...).
        model: the model its answer's data is read into, a class or a generic alias such as
            ``list[X]`` (``None``: the data as decoded).
        data_used: ``False`` when the answer carries nothing the SDK reads (keep-alive, stop).
        retry: which failures may be retried (start and create: only when never sent).
        budgeted: ``False`` for a stop, whose retries spend nothing from the client's budget.
        ends: ``True`` for a call that ends what it names and the token it is sent with
            (Kaltura's end): as for a ``DELETE``, a 404 or 410 after an attempt of the call that may
            have taken effect is the call's own success, and so is a 401 (the token it ended).
        account: ``True`` for a call on the account's resources sent otherwise than as a ``GET``
            (a read sent as a ``POST``, a create, an update): as for every ``GET``, its data has
            every credential the SDK holds masked (a stored secret's value echoed in an update's
            answer, say), not only the request's. Off the per-session hot path.
        opens: for a call that opens a session, the key of its id in the answer: an answer that
            names one but does not fit the model says so (``ResponseDecodeError.session_id``).
        decode: replaces the spec's ``decode`` for this endpoint (an answer unlike the others).
    """

    method: str
    path: str
    timeout: str
    model: Any = None
    data_used: bool = True
    retry: Retry = Retry.ALWAYS
    budgeted: bool = True
    ends: bool = False
    account: bool = False
    opens: str | None = None
    decode: Callable[[RawResponse, bool], Any] | None = None


class ProviderClient(Generic[TimeoutsT]):
    """The base of the provider clients: credential, API root, transport and the one call path.

    A subclass names its :class:`ProviderSpec` (``class X(ProviderClient[XTimeouts], spec=SPEC)``) and
    writes each endpoint as a small method (``_prepare``, then ``_send``). The HTTP pool is the
    transport's, made on ``async with`` in the running loop (or borrowed: ``http_session``, left open).
    """

    spec: ClassVar[ProviderSpec]
    timeouts: TimeoutsT

    def __init_subclass__(cls, *, spec: ProviderSpec, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.spec = spec

    def __init__(
        self,
        credential: str | Secret | None,
        *,
        timeouts: TimeoutsT | None = None,
        default_base_url: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        check_options(options, ClientOptions)
        spec = self.spec
        self._credential = resolve_credential(
            credential,
            spec.credential_field,
            spec.credential_env,
            required=spec.credential_required,
        )
        if self._credential is not None:
            track_secret(self, self._credential)  # masked in log records while this client lives
        self.base_url = resolve_base_url(
            options.get("base_url"),
            env=spec.base_url_env,
            default=default_base_url or spec.default_base_url,
            allow_insecure=options.get("allow_insecure", False),
        )
        timeouts_type = spec.timeouts
        if timeouts is not None and not isinstance(timeouts, timeouts_type):
            raise ConfigurationError(f"must be a {timeouts_type.__name__}", field="timeouts")
        self.timeouts = timeouts if timeouts is not None else timeouts_type()
        #: Keep-alives sent through ``keep_alive(session_id, ...)``, prepared once per session (see
        #: ``_call_memo.py``); a session's own beats are prepared by the session.
        self._keep_alives = CallMemo(KEPT_KEEP_ALIVES)
        #: What the calls of sessions share, whichever session, by token or key (``_shaped_call``).
        self._bearer_shapes: dict[str, PreparedCall] = {}
        self._account_shapes: dict[str, PreparedCall] = {}
        self._transport = Transport(
            self.base_url,
            http_session=options.get("http_session"),
            retry_policy=options.get("retry_policy"),
            retry_budget=options.get("retry_budget"),
            credentials=[self._credential] if self._credential is not None else [],
            max_response_size=options.get("max_response_size", DEFAULT_MAX_RESPONSE_SIZE),
            connection_limit=options.get("connection_limit", DEFAULT_CONNECTION_LIMIT),
        )
        #: The timers and workers every session of this client keeps alive on.
        limit = self._transport.request_limit or DEFAULT_CONNECTION_LIMIT
        self.scheduler = Scheduler(workers=beat_workers(limit, borrowed=self._transport.borrowed))
        self.running = Running()  #: the sessions opening and running on it, ended by its close
        #: The idle stand-ins its sessions' starts and stops run as (``_cancellation.py``).
        self.standins = StandIns(limit)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @classmethod
    def for_session(
        cls, client: Self | None, credential: str | Secret | None, **own_args: Any
    ) -> tuple[Self, Self | None]:
        """A session's client, and the same when the session owns it (else ``None``): ``client``
        borrowed as it is, or one built from ``credential`` and ``own_args`` (``None`` left out).

        Raises:
            ConfigurationError: ``client`` together with the credential or any of ``own_args`` (the
                client has its own), or a ``client`` of the wrong type.
        """
        if client is None:
            owned = cls(credential, **{k: v for k, v in own_args.items() if v is not None})
            return owned, owned
        names = {cls.spec.credential_field: credential, **own_args}
        given = [name for name, value in names.items() if value is not None]
        if given:
            raise ConfigurationError(
                f"give either client= or {'/'.join(names)} (the client has its own); got "
                f"{', '.join(given)} too",
                field="client",
            )
        if not isinstance(client, cls):
            raise ConfigurationError(f"must be a {cls.__name__}", field="client")
        return client, None

    async def __aenter__(self) -> Self:
        await self._transport.__aenter__()
        self.scheduler.open()  # an exit closed it: a client may be entered again
        self.running.open()
        self.standins.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the sessions still running or opening on this client (rule 14 of the lifecycle), end
        the keep-alive workers and close the HTTP pool if this client created it: all of it whatever
        cancels the close meanwhile, native ``task.cancel()`` included (each start and stop is
        bounded by its own timeouts); a cancellation that arrived is raised once it is over."""
        try:
            cancelled = await self.running.end_all()
        finally:
            self._keep_alives.clear()  # the sessions' tokens go with the client's use
            closing = await close_despite_cancellation(self._close_pool())
        cancelled = cancelled or closing
        if cancelled is not None:
            raise cancelled

    async def _close_pool(self) -> None:
        await self.scheduler.aclose()
        self.standins.close()
        await self._transport.aclose()

    @property
    def http_session(self) -> aiohttp.ClientSession:
        """The ``aiohttp.ClientSession`` this client sends through (its realtime sockets too).

        Raises:
            RuntimeError: the client is not open (use it inside ``async with``).
        """
        return self._transport.http_session

    def reserved_connection(self) -> AbstractAsyncContextManager[object]:
        """Hold one of the client's connection slots for the current task while in the block: its
        requests meanwhile wait for none. Entering waits for a slot without a time limit; the stop of a
        session holds one so that its time limit starts when it can be sent (see ``_slots.py``).

        Raises:
            RuntimeError: the client is not open.
        """
        return self._stop_window(None)

    def _stop_window(self, bound: float | None) -> Reservation:
        """``reserved_connection()`` for a session's stop: ``with`` it, its block is bounded to
        ``bound`` seconds from the moment it holds its slot (``_slots.Reservation``)."""
        return self._transport.slots.reserved(bound)

    def _account_headers(self) -> dict[str, str]:
        """The headers that carry the account credential (``ConfigurationError``: it holds none)."""
        if self._credential is None:
            spec = self.spec
            raise ConfigurationError(
                f"this call needs the account credential: pass {spec.credential_field}=... or set "
                f"{spec.credential_env}",
                field=spec.credential_field,
            )
        return self.spec.account_headers(self._credential.get_secret_value())

    def _keep_alive_call(self, session_id: str, token: str | Secret | None) -> PreparedCall:
        """The call of ``keep_alive(session_id, ...)``: prepared once per session, reused while the
        same token comes with it (see ``_call_memo.py``); arguments that fail raise each time, as
        ``prepare_keep_alive`` does (``ConfigurationError``)."""
        kept = type(session_id) is str and plain_token(token)
        held = self._keep_alives.get(session_id) if kept else None
        if held is not None and (held[0] is token or held[0] == token):
            call: PreparedCall = held[1]
            return call
        call = self._prepare_keep_alive(session_id, token)
        if kept:
            self._keep_alives.put(session_id, (token, call))
        return call

    def _prepare_keep_alive(self, session_id: str, token: str | Secret | None) -> PreparedCall:
        """The provider's ``prepare_keep_alive``."""
        raise NotImplementedError

    @staticmethod
    async def _ending(call: Awaitable[object]) -> bool:
        """Await a call that ends a session: ``True`` when it ended it, ``False`` when the session had
        already ended (the server answered 404 or 410)."""
        try:
            await call
        except APIError as exc:
            if exc.session_gone:
                return False
            raise
        return True

    def _prepare(
        self,
        endpoint: Endpoint,
        *,
        headers: Mapping[str, str] | None = None,
        bearer: str | None = None,
        path_args: Mapping[str, str] | None = None,
        json: Any = None,
        content: tuple[bytes, str] | None = None,
        params: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> PreparedCall:
        """A call to ``endpoint`` built once (path filled, headers set, body encoded), for
        :meth:`send`: each endpoint method is this and a send. ``bearer``: a session's token
        (``_credentials.bearer_token``), sent as ``Authorization: Bearer``; the call refers to it,
        so that a call kept for a session's life (its keep-alive) holds no copy of it. ``secrets``:
        the credentials in the body, masked in what comes back as the headers' are."""
        path = endpoint.path
        if path_args:
            path = path.format(**{k: quote(v, safe="") for k, v in path_args.items()})
        parts = self._transport.request_parts(
            endpoint.method,
            path,
            headers=headers or NO_HEADERS,
            json=json,
            content=content,
            params=params,
            bearer=bearer,
            shared_path=not path_args,
            secrets=secrets,
        )
        return PreparedCall(*parts, endpoint=endpoint)

    def _shaped_call(self, endpoint: Endpoint, bearer: str | None, data: bytes) -> PreparedCall:
        """``_prepare(endpoint, bearer=bearer, json=...)`` (``bearer=None``: the account's headers
        instead), ``data`` the encoded body, for an endpoint with no id in its path: its URL, headers
        and the client's credentials built once per client, for each of the two."""
        shapes = self._bearer_shapes if bearer is not None else self._account_shapes
        s = shapes.get(endpoint.path)
        if s is None or s.endpoint is not endpoint:
            if "{" in endpoint.path:  # one URL for every session: a path naming one would be wrong
                raise ValueError(f"{endpoint.path}: a shaped call's path names no session")
            headers = self._account_headers() if bearer is None else None
            s = shapes[endpoint.path] = self._prepare(endpoint, headers=headers, json={})
        parts = (s.method, s.path, s.url, s.headers, data, s.content_type, s.params)
        credentials = s.credentials if bearer is None else with_bearer(bearer, s.credentials)
        return PreparedCall(*parts, credentials, bearer, endpoint=endpoint)

    def send(self, call: PreparedCall, **options: Unpack[CallOptions]) -> Coroutine[Any, Any, Any]:
        """Send a call prepared once (``prepare_keep_alive``, say); awaited, it returns what its
        endpoint method returns: the call is checked and encoded when prepared, not each time it is
        sent.

        A plain method that returns the sending coroutine (one coroutine per send, not two: a
        session's beats take this path).

        Raises:
            ConfigurationError: not a prepared call (raised here, before anything is awaited); a bad
                option (raised when awaited). APIError, TransportError, ResponseDecodeError: as the
                endpoint method, when awaited.
        """
        if not isinstance(call, PreparedCall):
            raise ConfigurationError("must be a call prepared by this client", field="call")
        return self._send(call, options)

    async def _send(self, call: PreparedCall, options: CallOptions) -> Any:
        """The one call path: send, retry, decode, read into the endpoint's model.

        ``options`` are the caller's (``timeout`` overrides the endpoint's default). Any error on the
        way has every credential masked in its text, whichever credential the request carried and
        however the server escaped what it echoed. The data of an answer has the request's credentials
        masked; a ``GET``, or a call on the account's resources (``account``: off the per-session
        hot path), has every tracked one masked.
        """
        endpoint = call.endpoint
        limit = getattr(self.timeouts, endpoint.timeout)
        retry_policy = deadline = None
        if options:  # most calls pass none: the defaults, read above, without a check
            check_options(options, CallOptions)
            retry_policy = options.get("retry_policy")
            if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
                raise ConfigurationError("must be a RetryPolicy", field="retry_policy")
            limit = resolve_timeout(options.get("timeout"), limit)
            deadline = options.get("deadline")
            if deadline is not None:
                deadline = check_number(deadline, "deadline", low=-1e15, high=1e15)
        try:
            raw = await self._transport.send(
                call,
                timeout=limit,
                retry=endpoint.retry,
                retry_policy=retry_policy,
                deadline=deadline,
                budgeted=endpoint.budgeted,
            )
            if raw.after_possible_effect and (
                (raw.status in (404, 410) and (endpoint.ends or endpoint.method == "DELETE"))
                or (raw.status == 401 and endpoint.ends)
            ):
                # An earlier attempt, sent without an answer (or answered 5xx), may have ended or
                # deleted it: most likely this call's own doing, so its success. An end also
                # invalidates the token it was sent with: the retry's 401 says the same.
                return None
            data = (endpoint.decode or self.spec.decode)(raw, endpoint.data_used)
            if endpoint.method == "GET" or endpoint.account:
                data = map_strings(data, mask_tracked)
            if endpoint.model is None:
                return data
            try:
                return structure_response(data, endpoint.model)
            except DecodeFailure as exc:
                raise decode_failure(raw, str(exc), _named(data, endpoint.opens)) from None
        except AvatarError as exc:
            redact_error(exc, call.credentials)
            raise


def _named(data: Any, key: str | None) -> str | None:
    """The session id an answer names under ``key``, if it is one."""
    named = data.get(key) if key is not None and isinstance(data, Mapping) else None
    try:
        return check_path_id(named, key or "")  # the rule a session id of the model is held to
    except ConfigurationError:
        return None


class Namespace(Generic[ClientT]):
    """A client's namespace of calls (``client.avatars``, ``client.catalog``, ...): it holds the
    client, and shows which one it belongs to."""

    __slots__ = ("_client",)

    def __init__(self, client: ClientT) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"
