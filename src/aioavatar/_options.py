"""The keyword options every provider client takes (:class:`ClientOptions`), every endpoint method
takes (:class:`CallOptions`) and every session takes (:class:`LifecycleOptions`), as typed dicts for
``**options`` (PEP 692)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import aiohttp

from ._enums import EndReason
from ._retry import RetryBudget, RetryPolicy
from ._timeout import Timeout

__all__ = ["CallOptions", "ClientOptions", "LifecycleOptions"]


class ClientOptions(TypedDict, total=False):
    """The keyword options every provider client takes besides its credential and its timeouts.

    Attributes:
        base_url: the API root; a trailing ``/v1`` is dropped; falls back to the provider's environment
            variable, then its default. ``http://`` is refused unless the host is loopback or
            ``allow_insecure``.
        http_session: an ``aiohttp.ClientSession`` to borrow; it is left open.
        allow_insecure: allow ``http://`` to a host that is not loopback.
        retry_policy: how transient failures are retried (see :class:`~aioavatar.RetryPolicy`).
        retry_budget: the token bucket every retry of the client spends from (see
            :class:`~aioavatar.RetryBudget`); a fresh one with the defaults when not given.
        max_response_size: answers larger than this many bytes are refused unread.
        connection_limit: REST requests on the wire at once, when the client creates its pool (150);
            the others wait for a connection within their connect timeout, a stop as long as it takes
            (its own bound starts once it is sent). Realtime sockets are not counted. Keep-alives
            go out on two thirds of them (rounded up), so the limit sets how many sessions the client
            keeps up with (about two thirds of ``connection_limit / round trip`` beats a second).
    """

    base_url: str | None
    http_session: aiohttp.ClientSession | None
    allow_insecure: bool
    retry_policy: RetryPolicy | None
    retry_budget: RetryBudget | None
    max_response_size: int
    connection_limit: int


class CallOptions(TypedDict, total=False):
    """The keyword options every endpoint method takes.

    Attributes:
        timeout: seconds, or a :class:`~aioavatar.Timeout` with ``total`` and ``connect``; it bounds each
            attempt, waiting for a pooled connection included (the default per operation is in the
            client's ``timeouts``).
        retry_policy: replaces the client's policy for this call (the client's retry budget still
            applies).
        deadline: an ``anyio.current_time()`` after which no further attempt starts.
    """

    timeout: float | Timeout | None
    retry_policy: RetryPolicy | None
    deadline: float | None


class LifecycleOptions(TypedDict, total=False):
    """The lifecycle's keyword options, the same for every provider's session.

    Attributes:
        keep_alive_interval: seconds between keep-alives (each provider has its default: LiveAvatar
            60, the server waiting 300; Kaltura 10, as it asks).
        stop_timeout: seconds the stop may take, retries included, before it is abandoned (10),
            counted from when it holds a connection (rule 11).
        end_reason_for: maps the exception that ended the block to an :class:`EndReason`; return
            ``None`` to use the table.
    """

    keep_alive_interval: float
    stop_timeout: float
    end_reason_for: Callable[[BaseException], EndReason | None] | None
