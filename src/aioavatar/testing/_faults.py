"""Fault injection, shared by both emulators: what ``inject`` queues, and how a faulty answer is sent.

:class:`FaultQueue` holds the faults of one emulator and hands each request the fault it should suffer
(FIFO per endpoint, ``every``-th matching request, ``times`` in all). :func:`fault_response` builds the
answer a fault replaces the normal one with; :func:`deliver` sends an answer the faulty way a delivery
fault asks for (truncated, dripped, chunked). Nothing here knows either API.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Final

import anyio
import attrs
from aiohttp import web

from ._ratelimit import WINDOW, retry_after

__all__ = ["Fault", "FaultQueue", "deliver", "fault_response"]

_DELIVERY_CHUNK: Final = 64 * 1024


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

    def __attrs_post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        """Raise ``ValueError`` for options out of range or contradicting each other."""
        if self.times < 1:
            raise ValueError("times must be >= 1")
        if self.delay is not None and not 0 <= self.delay < math.inf:  # NaN too
            raise ValueError("delay must be a finite number >= 0")
        if self.status is not None and not 200 <= self.status <= 599:
            raise ValueError("status must be within 200..599")
        answer = self.status is not None or self.body is not None
        if self.drop and (answer or self.malformed or self.content_type):
            raise ValueError("drop cannot be combined with status, malformed, body or content_type")
        if self.malformed and (answer or self.content_type):
            raise ValueError("malformed cannot be combined with status, body or content_type")
        if self.retry_after is not None and self.status is None:
            raise ValueError("retry_after needs a status")
        if self.content_type is not None and not answer:
            raise ValueError("content_type needs a status or a body")
        if self.headers and not answer and not self.malformed:
            raise ValueError("headers need a status, a body or malformed")
        if self.drip is not None and not 0 <= self.drip < math.inf:
            raise ValueError("drip must be a finite number >= 0")
        if self.every < 1:
            raise ValueError("every must be >= 1")
        if self.drop and self.alters_delivery:
            raise ValueError("drop cannot be combined with truncate, drip or chunked")
        if self.delay is None and not (self.replaces_answer or self.alters_delivery):
            raise ValueError(
                "nothing to inject: give status, delay, drop, malformed, body, truncate, drip "
                "or chunked"
            )

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


class FaultQueue:
    """The faults an emulator was asked to inject, in the order queued."""

    def __init__(self, endpoints: Collection[str]) -> None:
        self._endpoints = tuple(endpoints)
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Queue ``fault`` after the others and return it.

        Raises:
            ValueError: its endpoint is not one of the emulator's.
        """
        if fault.endpoint not in self._endpoints:
            raise ValueError(
                f"unknown endpoint {fault.endpoint!r}; expected one of {self._endpoints}"
            )
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget every queued fault."""
        self._faults.clear()

    def take(self, endpoint: str) -> Fault | None:
        """The fault the next request to ``endpoint`` suffers, counted as a hit; ``None`` for none."""
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


def fault_response(fault: Fault, *, error_body: bytes, malformed_body: bytes) -> web.Response:
    """The answer that replaces the normal one: ``fault``'s status and body, or the API's own error
    body (``error_body``) or truncated success body (``malformed_body``).

    An injected 429 carries ``Retry-After`` and ``X-RateLimit-Reset`` as the rate limiter's own do:
    ``retry_after``, or one window when it is not given.
    """
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = fault.retry_after
    if fault.status == 429:
        headers.setdefault("Retry-After", retry_after(WINDOW))
        headers["X-RateLimit-Reset"] = headers["Retry-After"]
    if fault.malformed:
        body, content_type, status = malformed_body, "application/json", 200
    else:
        status = fault.status if fault.status is not None else 200
        body = fault.body if fault.body is not None else error_body
        content_type = fault.content_type or "application/json"
    headers["Content-Type"] = content_type
    headers.update(fault.headers)
    if status in (204, 304):
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, body=body, headers=headers)


async def deliver(request: web.Request, answer: web.Response, fault: Fault) -> web.StreamResponse:
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
