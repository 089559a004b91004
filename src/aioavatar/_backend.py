"""The contract between the lifecycle and a provider: :class:`SessionBackend` (what a provider does for
one remote session), :class:`SessionHooks` (what the lifecycle hands back), and :class:`TokenBackend`,
the part every provider's backend shares (its client, its request, the token that identifies the session).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, NoReturn, Protocol, TypeAlias, TypeVar

from ._enums import EndReason
from ._logging import hold_secret, hold_values, release_secret, release_values, track_secret
from ._provider import Endpoint, PreparedCall, ProviderClient
from ._running import Running
from ._scheduler import Scheduler
from ._secret import Secret, is_checked, vouched_secret
from ._slots import Reservation
from ._standins import StandIns

__all__ = ["SessionBackend", "SessionHooks", "TokenBackend"]

InfoT = TypeVar("InfoT")
ClientT = TypeVar("ClientT", bound=ProviderClient[Any])
RequestT = TypeVar("RequestT")


# A prepared keep-alive's own values: method, path, URL, body and its content type, query, the
# credentials it carries, its bearer token (``PreparedRequest``'s fields without the headers).
_BeatValues: TypeAlias = tuple[
    str, str, str, bytes | None, str | None, Mapping[str, str] | None, tuple[str, ...], str | None
]


class SessionHooks(Protocol):
    """What the lifecycle hands its backend (``attach``), for the endings only the backend sees."""

    @property
    def _ending(self) -> bool:
        """The session is being stopped or has ended: a connection closing now is expected."""
        ...

    async def _connection_lost(self) -> None:
        """Rule 14: a connection the session depends on is gone for good."""
        ...


class SessionBackend(Protocol[InfoT]):
    """What the lifecycle needs from a provider for one remote session.

    ``prepare`` must open nothing remotely; ``open`` opens the session; ``left_running`` tells whether a
    failed ``open`` may have left a session running (rule 3); ``max_duration`` gives the session's
    deadline in seconds, or ``None`` (the lifecycle checks it again, rule 8); ``keep_alive`` raises an
    :class:`APIError` whose ``session_gone`` is true once the server has ended the session; ``close``
    returns ``False`` when the session had already ended; ``end_reason`` is the reason the server
    recorded, ``None`` while it lists the session as running (it may raise; Kaltura's, which cannot
    look a session up, says ``UNKNOWN``: it is asked only after a 404 or 410);
    ``scheduler`` is the client's, on which the keep-alive runs; ``running`` is the client's
    record of its sessions, which its close ends (rule 14); ``standins`` the client's idle stand-ins
    for protected work (``_cancellation.py``); ``reserved_connection`` holds one of
    the client's connection slots for the stop, and is its bound of ``bound`` seconds from then
    (``with`` it: ``_slots.Reservation``); ``attach`` receives
    the lifecycle's hooks once, before ``prepare``; ``detach`` drops them once the lifecycle is over
    (the session is the hooks: holding it after that would be a reference cycle), and is told whether
    the session may still run (no end of it is known: a stop failed or was cancelled), when its
    credentials stay masked; ``ending`` is told once a stop begins or the server ended the session,
    and ends what the backend runs on it (a realtime connection speaks no more).
    """

    #: seconds the server waits without keep-alive before it ends a session (rule 6).
    idle_timeout: float

    @property
    def session_id(self) -> str | None: ...

    @property
    def scheduler(self) -> Scheduler: ...

    @property
    def running(self) -> Running: ...

    @property
    def standins(self) -> StandIns: ...

    @property
    def opened(self) -> bool:
        """Whether ``open`` got as far as a session that runs (what follows it may still fail)."""
        ...

    def attach(self, hooks: SessionHooks) -> None: ...

    def detach(self, *, may_run: bool) -> None: ...

    def ending(self) -> None: ...

    async def prepare(self) -> None: ...

    async def open(self) -> InfoT: ...

    def left_running(self, error: BaseException) -> bool: ...

    def max_duration(self, info: InfoT) -> float | None: ...

    @property
    def keep_alive_limit(self) -> float:
        """The client's time limit of a keep-alive attempt (its ``timeouts.keep_alive``), seconds."""
        ...

    async def keep_alive(self, *, timeout: float, deadline: float) -> None: ...

    def reserved_connection(self, bound: float) -> Reservation: ...

    async def close(self, reason: EndReason, *, deadline: float) -> bool: ...

    async def end_reason(self) -> EndReason | None: ...


class TokenBackend(Generic[ClientT, RequestT]):
    """What every provider's backend holds: its client, its request until it is sent, and once the
    session exists what identifies it (its id and its own token); and the hooks the lifecycle
    attached. Not picklable: it holds the token."""

    idle_timeout: float  #: set by each provider (rule 6)

    def __init__(self, client: ClientT, request: RequestT) -> None:
        self._client = client
        self._request: RequestT | None = request
        # The id and the token of the session, not the model they were read into, nor the token's
        # Secret: each was one more object per idle session for the collector to walk (with the weak
        # reference that masked the token while the Secret lived). The token is masked in logs from
        # the moment the session holds it until the session is known to have ended (``hold_secret``),
        # for good when it may still run, while this object lives when it never ran (``detach``); it
        # leaves this object (whose state is not shown) only as a Secret.
        self._session_id: str | None = None
        self._token: str | None = None
        self._token_checked = False  # whether it passed the credential check as it was read
        self._held: tuple[str, ...] = ()  # the start answer's credentials (``_hold_secrets``)
        self._hooks: SessionHooks | None = None
        # The keep-alive, prepared once the session runs (``_keep_beat``): the values that are the
        # session's own, in a tuple of strings and bytes that the collector stops tracking (a
        # PreparedCall held for the session's life was one more object each full collection walks),
        # and the headers and endpoint, which the client's beats share. Put together on each beat.
        self._beat: _BeatValues | None = None
        self._beat_headers: Mapping[str, str] | None = None
        self._beat_endpoint: Endpoint | None = None

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def scheduler(self) -> Scheduler:
        return self._client.scheduler

    @property
    def running(self) -> Running:
        return self._client.running

    @property
    def standins(self) -> StandIns:
        return self._client.standins

    def attach(self, hooks: SessionHooks) -> None:
        self._hooks = hooks

    @property
    def keep_alive_limit(self) -> float:
        limit: float = self._client.timeouts.keep_alive.total
        return limit

    @property
    def opened(self) -> bool:
        return self._beat is not None  # kept from the moment the session runs (``_keep_beat``)

    def ending(self) -> None:
        """Nothing runs on a session but its keep-alive, which the lifecycle stops itself."""

    def detach(self, *, may_run: bool) -> None:
        if self._hooks is None:
            return  # detached already
        self._hooks = None
        token = self._token
        if token is None:
            return
        if self._beat is None:
            # Never ran (a start refused or never sent): the token is unused, not dead. Masked for
            # as long as this object lives, as a token a client returns is while its Secret does.
            track_secret(self, token)
            release_secret(token)
        elif not may_run:
            # The session is known to have ended: its token, and what its start answered, are dead.
            release_values((token, *self._held))

    def reserved_connection(self, bound: float) -> Reservation:
        return self._client._stop_window(bound)

    def _take_request(self) -> RequestT:
        """The request, for the one call that sends it: a session keeps what it needs of it, not
        the request itself (it would be held for the session's life)."""
        request, self._request = self._request, None
        if request is None:
            raise RuntimeError("the session's request was already sent")
        return request

    def _identified(self, session_id: str, secret: Secret) -> None:
        """The session exists: keep its id and its token (masked from here on, see ``detach``)."""
        self._session_id = session_id
        self._token = hold_secret(secret)
        self._token_checked = is_checked(secret)

    def _hold_secrets(self, values: tuple[str, ...]) -> None:
        """The credentials the start answered with (a viewer's room token, a socket URL's): masked
        as the session's token is, from now until the session is known to have ended."""
        hold_values(values)
        self._held = values

    def _keep_beat(self, call: PreparedCall) -> None:
        """Keep the session's keep-alive, prepared once (see ``__init__``)."""
        self._beat_headers, self._beat_endpoint = call.headers, call.endpoint
        self._beat = (
            call.method,
            call.path,
            call.url,
            call.data,
            call.content_type,
            call.params,
            call.credentials,
            call.bearer,
        )

    def _require_beat(self) -> PreparedCall:
        """The keep-alive call, put together again from what ``_keep_beat`` kept (inline: no local
        of this frame holds the token, which a traceback showing each frame's locals would show)."""
        if self._beat is None or self._beat_headers is None or self._beat_endpoint is None:
            raise RuntimeError("the session is not running")
        return PreparedCall(
            self._beat[0], self._beat[1], self._beat[2], self._beat_headers, self._beat[3],
            self._beat[4], self._beat[5], self._beat[6], self._beat[7],
            endpoint=self._beat_endpoint,
        )  # fmt: skip

    def _require_token(self) -> tuple[str, Secret]:
        """The session's id and token."""
        if self._session_id is None:
            raise RuntimeError("the session does not exist yet")
        if self._token is None:
            raise RuntimeError("its token never arrived: nothing can end it")
        # As checked as it arrived: a token the answer's reading checked is not checked again (a
        # scan of the whole token, for each of the session's calls).
        return self._session_id, vouched_secret(self._token, self._token_checked)

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"a {type(self).__name__} holds a session token and is not picklable")

    def __getstate__(self) -> NoReturn:
        raise TypeError(f"a {type(self).__name__} holds a session token and shows no state")
