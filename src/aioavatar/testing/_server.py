"""What every emulator shares: the ``aiohttp.web`` server, the journal, the reaper, fault injection,
and the views of the emulated state that both emulators give.

An emulator is an :class:`EmulatorServer` given an :class:`~._contract.EmulatedApi` and its
:class:`~._contract.EmulatedState`: the provider's half, which parses a request and names its endpoint
(``parse``), answers it (``handle``), says which session it concerns and which credential it showed
(``session_of``, ``auth_kind``), and enforces the API's timers (``sweep``, ``sweep_for``). This module
owns the rest: serving on 127.0.0.1, a background reaper, the journal of requests, the faults of
:mod:`._faults` injected into the next calls of an endpoint, and the sessions as a test reads them.
A provider's own settings are shown with :class:`StateView`.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, Generic, Self, TypeVar, overload

import anyio
from aiohttp import web

from .._transport import require_asyncio
from ._contract import EmulatedApi, EmulatedState, IncomingT, Outcome, RecordedRequest, SessionT
from ._faults import Fault, FaultQueue, deliver, fault_response

__all__ = ["EmulatorServer", "StateView"]

_SHUTDOWN_TIMEOUT: Final = 0.25
_UNRECORDED_HEADERS: Final = frozenset({"authorization", "x-api-key"})

T = TypeVar("T")


def _reachable(host: str) -> str:
    """The address a client on this machine reaches ``host`` at: a wildcard one (``0.0.0.0``, ``::``)
    listens on every address but is none to connect to, so the loopback one stands for it (a client
    refuses plain ``http`` anywhere but on the loopback)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if not address.is_unspecified:
        return host
    return "::1" if address.version == 6 else "127.0.0.1"


class StateView(Generic[T]):
    """A read-only attribute of an emulator: its state's attribute of the same name (``doc`` is its
    documentation)."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, emulator: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, emulator: EmulatorServer[Any, Any], owner: type[Any]) -> T: ...
    def __get__(self, emulator: EmulatorServer[Any, Any] | None, owner: type[Any]) -> Self | T:
        if emulator is None:
            return self
        value: T = getattr(emulator._state, self._name)
        return value

    def __set__(self, emulator: EmulatorServer[Any, Any], value: T) -> None:
        raise AttributeError(f"{self._name} is a setting of the constructor: it cannot be changed")


class EmulatorServer(anyio.AsyncContextManagerMixin, Generic[IncomingT, SessionT]):
    """An emulator's HTTP machinery around its API and state; see the module documentation.

    Use it as an async context manager: entering starts the server on ``host`` (``port=0`` picks a
    free port) and the reaper; leaving stops both. It cannot be entered again before it is left.
    """

    def __init__(
        self,
        api: EmulatedApi[IncomingT],
        state: EmulatedState[SessionT],
        *,
        host: str,
        port: int,
    ) -> None:
        self.host = host
        self.port = port
        self.journal: list[RecordedRequest] = []
        """Every answered (or dropped) request, ordered by arrival."""
        self._api = api
        self._state = state
        self._faults = FaultQueue(api.endpoints)
        self._bound_port: int | None = None

    def __repr__(self) -> str:
        where = self.base_url if self.running else "not running"
        return f"<{type(self).__name__} {where} sessions={len(self.sessions)}>"

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoint names of :meth:`inject`, :meth:`requests` and the journal."""
        return self._api.endpoints

    # ---- lifecycle -------------------------------------------------------------------------

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncIterator[Self]:
        require_asyncio()  # aiohttp's server runs on asyncio: say so, not "no current event loop"
        app = web.Application(client_max_size=self._api.max_request_size)
        self._api.install_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            self._bound_port = int(runner.addresses[0][1])
            reaper = anyio.create_task_group()
            await reaper.__aenter__()
            try:
                reaper.start_soon(self._reaper)
                yield self
            finally:
                # The task group only runs the reaper: the body's exception is not its business.
                reaper.cancel_scope.cancel()
                await reaper.__aexit__(None, None, None)
        finally:
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
        """The URL to give a client as its ``base_url`` (only while entered). An emulator listening
        on every address (``0.0.0.0``, ``::``) gives the loopback one.

        Raises:
            RuntimeError: the emulator is not running.
        """
        if self._bound_port is None:
            raise RuntimeError(
                f"the emulator is not running: use `async with {type(self).__name__}()`"
            )
        host = _reachable(self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._bound_port}{self._api.root_path}"

    # ---- inspection ------------------------------------------------------------------------

    @property
    def idle_timeout(self) -> float:
        """Seconds a (started) session lives without keep-alive or other activity."""
        return self._state.idle_timeout

    @property
    def sessions(self) -> dict[str, SessionT]:
        """Every session created, by id."""
        return self._state.sessions

    def active_sessions(self) -> list[SessionT]:
        """Sessions that run: started and not ended (the timers are enforced first)."""
        self._state.sweep()
        return [s for s in self.sessions.values() if s.is_active]

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
        lost"). That is for the faults that replace the answer (``status``, ``body``,
        ``malformed``, ``drop``): under a ``delay`` alone or a delivery fault the request takes
        effect as usual, whatever ``apply`` says. A ``drop`` of an idempotent request (a ``GET``) on
        a reused connection may be resent by aiohttp itself: the journal then shows both.

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
        if outcome.status == 204:  # No Content: no body, no envelope
            return web.Response(status=204, headers=outcome.headers)
        body = json.dumps(outcome.payload).encode()
        headers = {"Content-Type": "application/json", **outcome.headers}
        return web.Response(status=outcome.status, body=body, headers=headers)
