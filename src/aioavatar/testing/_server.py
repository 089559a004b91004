"""What every emulator shares: the ``aiohttp.web`` server, the journal and fault injection.

An emulator subclasses :class:`EmulatorServer` and supplies its API: how a request is parsed
(``_parse``), answered (``_handle``), which session it concerns (``_resolve_session_id``), which
credential it shows (``_auth_kind``), and the timers it enforces (``_enforce_timers``,
``_enforce_request_timers``). This module owns the rest: serving on 127.0.0.1, a background
reaper, the journal of requests, and faults injected into the next calls of an endpoint.
"""

from __future__ import annotations

import bisect
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar, Final, Generic, Protocol, Self, TypeVar

import anyio
import attrs
from aiohttp import web
from anyio.abc import TaskGroup

__all__ = ["EmulatorServer", "Fault", "Outcome", "RecordedRequest"]

_SHUTDOWN_TIMEOUT: Final = 0.25
_DELIVERY_CHUNK: Final = 64 * 1024


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
class Fault:
    """A fault queued by an emulator's ``inject``; ``hits`` counts the requests it hit."""

    endpoint: str
    status: int | None = None
    retry_after: str | None = None
    delay: float | None = None
    drop: bool = False
    malformed: bool = False
    body: bytes | None = attrs.field(default=None, repr=False)
    content_type: str | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    apply: bool = False
    times: int = 1
    truncate: bool = False
    drip: float | None = None
    chunked: bool = False
    every: int = 1
    hits: int = 0
    seen: int = 0

    @property
    def remaining(self) -> int:
        """How many more matching requests this fault will affect."""
        return max(0, self.times - self.hits)

    @property
    def replaces_answer(self) -> bool:
        """Whether the fault replaces the answer (``False`` for a pure delay or delivery fault)."""
        return self.drop or self.malformed or self.status is not None or self.body is not None

    @property
    def alters_delivery(self) -> bool:
        """Whether the answer is sent in a faulty way (``truncate``, ``drip`` or ``chunked``)."""
        return self.truncate or self.drip is not None or self.chunked


@attrs.define(kw_only=True)
class Outcome:
    """An answer computed by a handler, before it is turned into an HTTP response."""

    status: int
    payload: Any
    session_id: str | None = None
    headers: dict[str, str] = attrs.field(factory=dict)


class Incoming(Protocol):
    """What an emulator's ``_parse`` gives: at least these attributes, for the journal."""

    method: str
    path: str
    endpoint: str
    query: dict[str, str]
    body: Any
    raw_body: str | None


IncomingT = TypeVar("IncomingT", bound=Incoming)


class EmulatorServer(ABC, Generic[IncomingT]):
    """The HTTP machinery of an emulator; see the module documentation for what a subclass adds.

    Class attributes a subclass sets: ``endpoints`` (the names of :meth:`inject` and the journal),
    ``fault_body`` (the body of an injected error status) and ``malformed_body`` (a truncated
    success body); ``root_path`` is appended to :attr:`base_url`.
    """

    endpoints: ClassVar[tuple[str, ...]]
    fault_body: ClassVar[bytes]
    malformed_body: ClassVar[bytes]
    root_path: ClassVar[str] = ""

    def __init__(self, *, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.journal: list[RecordedRequest] = []
        """Every answered (or dropped) request, ordered by arrival."""
        self._faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self._task_group: TaskGroup | None = None
        self._bound_port: int | None = None

    # ---- what a subclass supplies ----------------------------------------------------------------

    @abstractmethod
    def _parse(self, request: web.Request, raw: bytes) -> IncomingT:
        """Parse a request (``raw`` is its whole body) and name its endpoint."""

    @abstractmethod
    def _handle(self, incoming: IncomingT) -> Outcome:
        """Answer a request, changing the emulator's state as the API would."""

    @abstractmethod
    def _resolve_session_id(self, incoming: IncomingT) -> str | None:
        """The session a request is about, without touching any state."""

    @abstractmethod
    def _auth_kind(self, incoming: IncomingT) -> str | None:
        """The kind of credential a request presented, for the journal."""

    @abstractmethod
    def _enforce_timers(self) -> None:
        """End every session whose timers have run out (called by the reaper)."""

    @abstractmethod
    def _enforce_request_timers(self, incoming: IncomingT) -> None:
        """Enforce the timers the answer to ``incoming`` depends on."""

    @abstractmethod
    def _reap_period(self) -> float:
        """Seconds between two sweeps of the reaper."""

    def _install_routes(self, app: web.Application) -> None:
        """Add routes served before the catch-all dispatcher (a WebSocket, say); none by default."""

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        app = web.Application()
        self._install_routes(app)
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
        period = self._reap_period()
        while True:
            await anyio.sleep(period)
            self._enforce_timers()

    @property
    def base_url(self) -> str:
        """The URL to give a client as its ``base_url`` (only while entered)."""
        if self._bound_port is None:
            raise RuntimeError(
                f"the emulator is not running: use `async with {type(self).__name__}()`"
            )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._bound_port}{self.root_path}"

    # ---- inspection ------------------------------------------------------------------------

    def requests(
        self, endpoint: str | None = None, *, session_id: str | None = None
    ) -> list[RecordedRequest]:
        """Journal entries, optionally only those of ``endpoint`` and/or about ``session_id``."""
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
        """
        if endpoint not in self.endpoints:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {self.endpoints}")
        if times < 1:
            raise ValueError("times must be >= 1")
        if delay is not None and delay < 0:
            raise ValueError("delay must be >= 0")
        if status is not None and not 200 <= status <= 599:
            raise ValueError("status must be within 200..599")
        if drop and (status is not None or malformed or body is not None or content_type):
            raise ValueError("drop cannot be combined with status, malformed, body or content_type")
        if malformed and (status is not None or body is not None or content_type):
            raise ValueError("malformed cannot be combined with status, body or content_type")
        if retry_after is not None and status is None:
            raise ValueError("retry_after needs a status")
        if content_type is not None and status is None and body is None:
            raise ValueError("content_type needs a status or a body")
        if headers and status is None and body is None and not malformed:
            raise ValueError("headers need a status, a body or malformed")
        if drip is not None and drip < 0:
            raise ValueError("drip must be >= 0")
        if every < 1:
            raise ValueError("every must be >= 1")
        delivery = truncate or drip is not None or chunked
        if drop and delivery:
            raise ValueError("drop cannot be combined with truncate, drip or chunked")
        if delay is None and not (
            drop or malformed or status is not None or body is not None or delivery
        ):
            raise ValueError(
                "nothing to inject: give status, delay, drop, malformed, body, truncate, drip "
                "or chunked"
            )
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
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every queued fault."""
        self._faults.clear()

    def _take_fault(self, endpoint: str) -> Fault | None:
        for fault in self._faults:
            if fault.endpoint == endpoint and fault.remaining > 0:
                fault.seen += 1
                if fault.seen % fault.every:
                    continue  # not this one's turn: the request passes on
                fault.hits += 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    # ---- dispatch ------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        at = time.monotonic()
        try:
            raw = await request.read()
        except web.HTTPException as exc:  # e.g. 413 for a body over the size limit
            incoming = self._parse(request, b"")
            self._record(incoming, at, status=exc.status, session_id=None, fault=False)
            raise
        incoming = self._parse(request, raw)
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _UNRECORDED_HEADERS
        }
        fault = self._take_fault(incoming.endpoint)
        status: int | None = None
        session_id: str | None = None
        try:
            if fault is not None and fault.delay:
                await anyio.sleep(fault.delay)
            self._enforce_request_timers(incoming)
            if fault is None or not fault.replaces_answer:
                outcome = self._handle(incoming)
                status, session_id = outcome.status, outcome.session_id
                response = self._respond(outcome)
            else:
                if fault.apply:
                    session_id = self._handle(incoming).session_id
                else:
                    session_id = self._resolve_session_id(incoming)
                if fault.drop:
                    if request.transport is not None:
                        request.transport.close()
                    return web.Response(status=500)  # never reaches the client
                response = self._fault_response(fault)
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
            return await self._deliver(request, response, fault)
        return response

    @staticmethod
    async def _deliver(
        request: web.Request, answer: web.Response, fault: Fault
    ) -> web.StreamResponse:
        """Send ``answer`` the faulty way ``fault`` asks for: truncated, dripped and/or chunked."""
        body = answer.body if isinstance(answer.body, bytes) else b""
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
        stream = web.StreamResponse(status=answer.status, headers=headers)
        if fault.chunked:
            stream.enable_chunked_encoding()
        else:
            stream.content_length = len(body)  # with truncate: more than will ever come
        try:
            await stream.prepare(request)
            if fault.truncate:
                await stream.write(body[: len(body) // 2])
                if request.transport is not None:
                    request.transport.close()
                return stream
            if fault.drip is not None:
                for i in range(len(body)):
                    await stream.write(body[i : i + 1])
                    await anyio.sleep(fault.drip)
            else:
                for start in range(0, len(body), _DELIVERY_CHUNK):
                    await stream.write(body[start : start + _DELIVERY_CHUNK])
            await stream.write_eof()
        except ConnectionError:
            pass  # the client hung up (it gave up waiting, or it read enough): nothing to finish
        return stream

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
            auth=self._auth_kind(incoming),
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

    def _fault_response(self, fault: Fault) -> web.Response:
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        if fault.malformed:
            body, content_type, status = self.malformed_body, "application/json", 200
        else:
            status = fault.status if fault.status is not None else 200
            body = fault.body if fault.body is not None else self.fault_body
            content_type = fault.content_type or "application/json"
        headers["Content-Type"] = content_type
        headers.update(fault.headers)
        if status in (204, 304):
            return web.Response(status=status, headers=headers)
        return web.Response(status=status, body=body, headers=headers)

    @staticmethod
    def _respond(outcome: Outcome) -> web.Response:
        body = json.dumps(outcome.payload).encode()
        headers = {"Content-Type": "application/json", **outcome.headers}
        return web.Response(status=outcome.status, body=body, headers=headers)
