"""What every emulator shares: the ``aiohttp.web`` server, the journal, the reaper and fault injection.

An emulator is an :class:`EmulatorServer` given an :class:`EmulatedApi`: the provider's half, which
parses a request and names its endpoint (``parse``), answers it (``handle``), says which session it
concerns and which credential it showed (``session_of``, ``auth_kind``), and enforces the API's timers
(``sweep``, ``sweep_for``). This module owns the rest: serving on 127.0.0.1, a background reaper, the
journal of requests, and the faults of :mod:`._faults` injected into the next calls of an endpoint.
"""

from __future__ import annotations

import bisect
import json
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, Generic, Protocol, Self, TypeVar

import anyio
import attrs
from aiohttp import web
from anyio.abc import TaskGroup

from ._faults import Fault, FaultQueue, deliver, fault_response

__all__ = ["EmulatedApi", "EmulatorServer", "Incoming", "Outcome", "RecordedRequest"]

_SHUTDOWN_TIMEOUT: Final = 0.25


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request an emulator received, as recorded in its ``journal``.

    ``auth`` is the kind of credential the request presented (LiveAvatar: ``"api_key"`` or
    ``"bearer"``; Kaltura: ``"ks"`` or ``"bearer"``; ``None`` for none), whether or not it was
    valid; the credential itself is never recorded. ``body`` is the parsed body (JSON, or the
    fields of a multipart form with each file summarized; ``None`` when there was no body or it
    could not be parsed, the text of such a body is kept in ``raw_body``). ``session_id`` is the
    session the request was about (for a request that created one, that session), or ``None``.
    ``status`` is the HTTP status answered (``None`` when the connection was dropped), ``fault``
    tells whether an injected fault matched the request, and ``at`` is the arrival time on the
    ``time.monotonic()`` clock. ``headers`` are the request's headers but the credential ones
    (``Authorization`` and ``X-API-KEY`` are never recorded).
    """

    method: str
    path: str
    endpoint: str
    auth: str | None
    body: Any
    raw_body: str | None
    query: dict[str, str]
    session_id: str | None
    status: int | None
    fault: bool
    at: float
    headers: dict[str, str] = attrs.field(factory=dict, repr=False)


_UNRECORDED_HEADERS: Final = frozenset({"authorization", "x-api-key"})


@attrs.define(kw_only=True)
class Outcome:
    """An answer computed by a handler, before it is turned into an HTTP response."""

    status: int
    payload: Any
    session_id: str | None = None
    headers: dict[str, str] = attrs.field(factory=dict)


class Incoming(Protocol):
    """What an API's ``parse`` gives: at least these attributes, for the journal."""

    method: str
    path: str
    endpoint: str
    query: dict[str, str]
    body: Any
    raw_body: str | None


IncomingT = TypeVar("IncomingT", bound=Incoming)


class EmulatedApi(Protocol[IncomingT]):
    """The provider's half of an emulator (see the module documentation).

    ``endpoints`` names the endpoints (for ``inject`` and the journal), ``error_body`` is the body
    of an injected error status, ``malformed_body`` a truncated success body, and ``root_path`` is
    appended to the server's ``base_url``.
    """

    endpoints: tuple[str, ...]
    error_body: bytes
    malformed_body: bytes
    root_path: str

    def parse(self, request: web.Request, raw: bytes) -> IncomingT:
        """Parse a request (``raw`` is its whole body) and name its endpoint."""
        ...

    def handle(self, incoming: IncomingT) -> Outcome:
        """Answer a request, changing the emulated state as the API would."""
        ...

    def session_of(self, incoming: IncomingT) -> str | None:
        """The session a request is about, without touching any state."""
        ...

    def auth_kind(self, incoming: IncomingT) -> str | None:
        """The kind of credential a request presented, for the journal."""
        ...

    def sweep(self) -> None:
        """End every session whose timers have run out (the reaper calls this)."""
        ...

    def sweep_for(self, incoming: IncomingT) -> None:
        """Enforce the timers the answer to ``incoming`` depends on."""
        ...

    def reap_period(self) -> float:
        """Seconds between two sweeps of the reaper."""
        ...

    def install_routes(self, app: web.Application) -> None:
        """Add routes served before the catch-all dispatcher (a WebSocket, say)."""
        ...


class EmulatorServer(Generic[IncomingT]):
    """An emulator's HTTP machinery around its API; see the module documentation.

    Use it as an async context manager: entering starts the server on ``host`` (``port=0`` picks a
    free port) and the reaper; leaving stops both.
    """

    def __init__(self, api: EmulatedApi[IncomingT], *, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.journal: list[RecordedRequest] = []
        """Every answered (or dropped) request, ordered by arrival."""
        self._api = api
        self._faults = FaultQueue(api.endpoints)
        self._runner: web.AppRunner | None = None
        self._task_group: TaskGroup | None = None
        self._bound_port: int | None = None

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoint names of :meth:`inject`, :meth:`requests` and the journal."""
        return self._api.endpoints

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        app = web.Application()
        self._api.install_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self._bound_port = int(runner.addresses[0][1])
            task_group = anyio.create_task_group()
            await task_group.__aenter__()
        except BaseException:
            await self._shutdown(runner)
            raise
        task_group.start_soon(self._reaper)
        self._runner, self._task_group = runner, task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runner, task_group = self._runner, self._task_group
        self._runner = self._task_group = None
        if runner is None or task_group is None:
            return
        try:
            # The task group only runs the reaper: the body's exception is not its business.
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)
        finally:
            await self._shutdown(runner)

    async def _shutdown(self, runner: web.AppRunner) -> None:
        self._bound_port = None
        with anyio.CancelScope(shield=True):
            await runner.cleanup()

    async def _reaper(self) -> None:
        period = self._api.reap_period()
        while True:
            await anyio.sleep(period)
            self._api.sweep()

    @property
    def running(self) -> bool:
        """Whether the emulator is entered and listening."""
        return self._bound_port is not None

    @property
    def base_url(self) -> str:
        """The URL to give a client as its ``base_url`` (only while entered).

        Raises:
            RuntimeError: the emulator is not running.
        """
        if self._bound_port is None:
            raise RuntimeError(
                f"the emulator is not running: use `async with {type(self).__name__}()`"
            )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._bound_port}{self._api.root_path}"

    # ---- inspection ------------------------------------------------------------------------

    def requests(
        self, endpoint: str | None = None, *, session_id: str | None = None
    ) -> list[RecordedRequest]:
        """Journal entries, optionally only those of ``endpoint`` and/or about ``session_id``.

        Raises:
            ValueError: an unknown endpoint name.
        """
        if endpoint is not None and endpoint not in self.endpoints:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {self.endpoints}")
        return [
            r
            for r in self.journal
            if (endpoint is None or r.endpoint == endpoint)
            and (session_id is None or r.session_id == session_id)
        ]

    # ---- faults ----------------------------------------------------------------------------

    def inject(
        self,
        endpoint: str,
        *,
        status: int | None = None,
        retry_after: str | None = None,
        delay: float | None = None,
        drop: bool = False,
        malformed: bool = False,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        apply: bool = False,
        times: int = 1,
        truncate: bool = False,
        drip: float | None = None,
        chunked: bool = False,
        every: int = 1,
    ) -> Fault:
        """Make the next ``times`` requests to ``endpoint`` misbehave; return the queued fault.

        Faults of one endpoint apply in FIFO order, each to the next ``times`` matching requests.
        ``delay`` sleeps before anything else (alone, the request is then answered normally).
        ``status`` answers that status with the emulator's error body (or ``body`` with
        ``content_type``) and a ``Retry-After`` header when ``retry_after`` is given.
        ``malformed`` answers 200 with a truncated JSON body; ``body`` alone answers 200 with
        those bytes; ``drop`` closes the connection without any answer. ``headers`` are added to
        the answer a fault gives (``{"Content-Encoding": "gzip"}`` with a gzip ``body``, say).
        With ``apply=False`` the faulted request changes nothing; with ``apply=True`` it takes
        effect first and the fault then replaces the answer ("the server did it, the answer was
        lost").

        Delivery faults send the answer (the normal one, or the one the fault replaces it with)
        badly: ``truncate`` declares the whole body's ``Content-Length``, sends half of it and
        closes the connection; ``drip`` sends the headers at once, then the body one byte every
        ``drip`` seconds; ``chunked`` sends the body with chunked transfer encoding (no
        ``Content-Length``; with ``truncate`` the last chunk never comes).

        ``every=n`` makes the fault hit only every n-th matching request (the n-th, the 2n-th,
        ...): the ones in between pass on to later faults or get their normal answer. A
        deterministic "5 % of calls fail" is ``inject(endpoint, status=503, every=20, times=...)``.

        Raises:
            ValueError: an unknown endpoint, or options out of range or contradicting each other.
        """
        fault = Fault(
            endpoint=endpoint,
            status=status,
            retry_after=retry_after,
            delay=delay,
            drop=drop,
            malformed=malformed,
            body=body,
            content_type=content_type,
            headers=dict(headers or {}),
            apply=apply,
            times=times,
            truncate=truncate,
            drip=drip,
            chunked=chunked,
            every=every,
        )
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        """Forget every queued fault."""
        self._faults.clear()

    # ---- dispatch ------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        api = self._api
        at = time.monotonic()
        try:
            raw = await request.read()
        except web.HTTPException as exc:  # e.g. 413 for a body over the size limit
            incoming = api.parse(request, b"")
            self._record(incoming, at, status=exc.status, session_id=None, fault=False)
            raise
        incoming = api.parse(request, raw)
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _UNRECORDED_HEADERS
        }
        fault = self._faults.take(incoming.endpoint)
        status: int | None = None
        session_id: str | None = None
        try:
            if fault is not None and fault.delay:
                await anyio.sleep(fault.delay)
            api.sweep_for(incoming)
            if fault is None or not fault.replaces_answer:
                outcome = api.handle(incoming)
                status, session_id = outcome.status, outcome.session_id
                response = self._respond(outcome)
            else:
                if fault.apply:
                    session_id = api.handle(incoming).session_id
                else:
                    session_id = api.session_of(incoming)
                if fault.drop:
                    if request.transport is not None:
                        request.transport.close()
                    return web.Response(status=500)  # never reaches the client
                response = fault_response(
                    fault, error_body=api.error_body, malformed_body=api.malformed_body
                )
                status = response.status
        finally:
            self._record(
                incoming,
                at,
                status=status,
                session_id=session_id,
                fault=fault is not None,
                headers=headers,
            )
        if fault is not None and fault.alters_delivery:
            return await deliver(request, response, fault)
        return response

    def _record(
        self,
        incoming: IncomingT,
        at: float,
        *,
        status: int | None,
        session_id: str | None,
        fault: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Add a journal entry, keeping the journal ordered by arrival."""
        record = RecordedRequest(
            method=incoming.method,
            path=incoming.path,
            endpoint=incoming.endpoint,
            auth=self._api.auth_kind(incoming),
            body=incoming.body,
            raw_body=incoming.raw_body,
            query=incoming.query,
            session_id=session_id,
            status=status,
            fault=fault,
            at=at,
            headers=headers or {},
        )
        bisect.insort(self.journal, record, key=lambda r: r.at)

    @staticmethod
    def _respond(outcome: Outcome) -> web.Response:
        body = json.dumps(outcome.payload).encode()
        headers = {"Content-Type": "application/json", **outcome.headers}
        return web.Response(status=outcome.status, body=body, headers=headers)
