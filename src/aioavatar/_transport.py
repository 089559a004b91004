"""aiohttp: session ownership, timeouts, retries, response size cap, and error mapping in one place.

The only module that imports aiohttp for HTTP calls. Every aiohttp exception is translated to the public
tree by :func:`~aioavatar._wire.aiohttp_error`; nothing else catches aiohttp errors.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Self

import aiohttp

from ._deadlines import Deadlines
from ._json import dump_json
from ._logging import logger
from ._request import POOL_HEADERS, PreparedRequest, RequestParts, call_headers
from ._response import RawResponse
from ._retry import (
    Retry,
    RetryBudget,
    RetryPolicy,
    log_retry,
    may_retry,
    parse_retry_after,
    waited_in_time,
)
from ._secret import Secret, mask_echoes
from ._slots import ConnectionSlots
from ._timeout import Timeout
from ._validation import check_int
from ._wire import (
    IDEMPOTENT,
    aiohttp_error,
    answer_timeout,
    failure_kind,
    is_scrubbable,
    may_be_resent_by_aiohttp,
    no_hidden_resend,
    read_body,
    requests_per_attempt,
    scrubbable,
    sent_credentials,
    stale_connection,
    with_bearer,
)
from .exceptions import ConfigurationError, RateLimitedError, RequestTimeout, TransportError

__all__ = ["DEFAULT_CONNECTION_LIMIT", "DEFAULT_MAX_RESPONSE_SIZE", "Transport", "require_asyncio"]

DEFAULT_MAX_RESPONSE_SIZE = 1024 * 1024
#: The largest ``max_response_size`` a client accepts (answers of this API are a few KiB).
MAX_RESPONSE_SIZE_LIMIT = 64 * 1024 * 1024
#: The largest ``connection_limit`` a client accepts.
MAX_CONNECTION_LIMIT = 10_000
#: Requests on the wire at once when the client is not told otherwise: its beats get two thirds, as
#: many as aiohttp's own default pool holds, and starts, calls and stops the other 50 (``_scheduler``).
DEFAULT_CONNECTION_LIMIT = 150
#: Bodies larger than this go out streamed from a buffer (aiohttp warns of a larger ``bytes`` body).
_STREAMED_FROM = 1 << 20


def require_asyncio() -> None:
    """Raise a clear error when called outside an asyncio event loop (under trio, say).

    Raises:
        RuntimeError: no asyncio loop is running.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "aioavatar runs on asyncio (it is built on aiohttp): use asyncio.run(...) or "
            "anyio.run(..., backend='asyncio'), not the trio backend"
        ) from None


class Transport:
    """One HTTP connection pool, borrowed or owned, and the retry loop around single requests.

    Raises:
        ConfigurationError: a ``connection_limit`` or ``max_response_size`` that is not a sane integer.
    """

    def __init__(
        self,
        base_url: str,
        *,
        http_session: aiohttp.ClientSession | None = None,
        retry_policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        credentials: Sequence[Secret] = (),
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
    ) -> None:
        if http_session is not None and not isinstance(http_session, aiohttp.ClientSession):
            raise ConfigurationError("must be an aiohttp.ClientSession", field="http_session")
        _check_open(http_session)
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise ConfigurationError("must be a RetryPolicy", field="retry_policy")
        if retry_budget is not None and not isinstance(retry_budget, RetryBudget):
            raise ConfigurationError("must be a RetryBudget", field="retry_budget")
        self.base_url = base_url
        self.retry_policy = retry_policy or RetryPolicy()
        self.budget = retry_budget if retry_budget is not None else RetryBudget()
        # Masked out of every answer, whichever credential its request carried.
        self.credentials = scrubbable(c.get_secret_value() for c in credentials)
        self.max_response_size = check_int(
            max_response_size, "max_response_size", low=1, high=MAX_RESPONSE_SIZE_LIMIT
        )
        self._connection_limit = check_int(
            connection_limit, "connection_limit", low=1, high=MAX_CONNECTION_LIMIT
        )
        self._session = http_session
        self._borrowed = http_session is not None
        self._slots: ConnectionSlots | None = None  # made on enter, inside the running loop
        self._deadlines = Deadlines()  # the total time limits of the requests in flight
        # aiohttp resends only idempotent methods by itself: those get our middleware, per request,
        # on a pool of our own. A borrowed session keeps its own (ours would replace them): its
        # resend of a GET is counted against the policy instead of switched off.
        self._middlewares: dict[str, tuple[Any, ...]] = {}
        self._urls: dict[str, str] = {}  # the URL of each path with no id in it, built once

    @property
    def http_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the client is not open: use it as `async with client:`")
        return self._session

    async def __aenter__(self) -> Self:
        require_asyncio()
        if self._borrowed:
            _check_open(self._session)
        if self._session is None:
            # Created here, inside the running loop, never in __init__. Answers are decompressed by
            # us, within the size cap (see _read_body), never by aiohttp.
            # The pool itself is unlimited: the connection slots are the queue (see _slots.py).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                headers=POOL_HEADERS,
                auto_decompress=False,
            )
            self._middlewares = dict.fromkeys(IDEMPOTENT, (no_hidden_resend,))
        self._deadlines = Deadlines()
        self._slots = ConnectionSlots(self.request_limit, self._deadlines)
        return self

    @property
    def borrowed(self) -> bool:
        """Whether the pool is the caller's (``http_session=``), shared with requests this client
        does not see."""
        return self._borrowed

    @property
    def request_limit(self) -> int | None:
        """Requests on the wire at once: ``connection_limit`` on a pool of our own. A borrowed pool
        queues by its own limits, in a wait that counts against each request's timeout: the smaller
        of its total and per-host limit (every request of a client goes to one host), so that a stop
        holding one of these slots is never queued by aiohttp behind the others (``None``: no
        limit)."""
        if self._borrowed:
            assert self._session is not None
            connector = self._session.connector
            limits = [getattr(connector, name, 0) or 0 for name in ("limit", "limit_per_host")]
            return min((n for n in limits if n > 0), default=None)
        return self._connection_limit

    @property
    def slots(self) -> ConnectionSlots:
        """Who may send now, and who holds a connection for a stop (``_slots.py``); the client must
        be open (``RuntimeError`` else)."""
        if self._slots is None:
            raise RuntimeError("the client is not open: use it as `async with client:`")
        return self._slots

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool if this transport created it; a borrowed session is left open."""
        if not self._borrowed and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def request_parts(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        content: tuple[bytes, str] | None = None,
        params: Mapping[str, str] | None = None,
        bearer: str | None = None,
        shared_path: bool = False,
        secrets: tuple[str, ...] = (),
    ) -> RequestParts:
        """A request ready to send any number of times (:meth:`send`), as the positional fields of
        :class:`PreparedRequest`: its own headers, its body (``json`` encoded here, or ``content``:
        bytes and content type), the credentials it carries (masked out of whatever comes back;
        ``secrets``: those in its body) and its ``bearer`` token (checked by the caller; the header
        is formed per send). ``shared_path``: no id in the path, so its URL is built once per client.

        A session's keep-alive keeps only its own: the body, and the token it refers to; URLs without
        an id and headers of calls with none of their own are shared."""
        data: bytes | None = None
        content_type: str | None = None
        if content is not None:
            data, content_type = content
        elif json is not None:
            data, content_type = dump_json(json).encode(), "application/json"
        own = call_headers(headers, content_type, borrowed=self._borrowed)
        carried = sent_credentials(headers) if headers else ()  # a session's call sets none
        if secrets:
            carried = (*carried, *filter(is_scrubbable, secrets))
        credentials = tuple(dict.fromkeys((*carried, *self.credentials)))  # an API key once
        credentials = with_bearer(bearer, credentials)
        url = self._urls.get(path) if shared_path else None
        if url is None:
            url = self.base_url + path
            if shared_path:
                self._urls[path] = url
        return method, path, url, own, data, content_type, params, credentials, bearer

    async def send(
        self,
        prepared: PreparedRequest,
        *,
        timeout: Timeout,
        retry: Retry = Retry.ALWAYS,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        budgeted: bool = True,
    ) -> RawResponse:
        """Send one request, retrying what ``retry`` allows, and read its answer (at most the size cap).

        At most ``retries + 1`` requests go out per call, whoever would retry: a pooled connection found
        closed is resent at once but counts as an attempt, and aiohttp's own resend is disabled. No
        attempt but the first starts after ``deadline`` (in ``anyio.current_time()`` terms), the
        resend of a stale connection aside. A ``budgeted=False`` call (a stop: its retries are what
        keep a session from running on and billing) does not spend the retry budget, and is not
        refused by an empty one; it stays bounded by the policy's retries and its deadline. Returns
        the answer whatever its status; statuses are the protocol's business.

        A body over the size cap (on the wire or inflated) or compressed in a way aioavatar does not
        read comes back empty, with ``body_problem`` saying why: only a call that needs the body fails.

        Raises:
            TransportError: no answer (``RequestTimeout`` when a timeout ran out).
            RateLimitedError: the server asked to wait longer than the policy's cap.
        """
        method, path, url = prepared.method, prepared.path, prepared.url
        sent = 0  # requests that may have reached the server, against the policy's retries + 1
        attempt = 0
        stale_retried = False
        acted_maybe = False  # an earlier attempt may have taken effect (sent, no clear refusal)
        while True:
            attempt += 1
            # One attempt, in this frame: a coroutine level fewer on every call's path.
            slots, session, deadlines = self._slots, self._session, self._deadlines
            if slots is None or session is None:
                raise RuntimeError("the client is not open: use it as `async with client:`")
            # The loop once, and the task through it: on 3.11 each lookup of the running loop
            # without one in hand is a getpid() system call.
            loop = asyncio.get_running_loop()
            task = asyncio.current_task(loop)
            if task is None:
                raise RuntimeError("aioavatar's calls are awaited inside an asyncio task")
            started = loop.time()
            try:
                # aiohttp keeps the connect limit; the total is kept here, on the client's timer.
                taken = slots.take_now()
                if taken is False:
                    limits = await self._take_slot(slots, prepared, timeout)
                    deadlines.entered(task, loop.time() + limits.total)
                else:
                    limits = timeout
                    deadlines.entered(task, started + limits.total)
                cancelling = task.cancelling()  # a cleanup's call starts cancelling: 1, say
                try:
                    # Awaited, not entered; release() below also cancels a streamed upload.
                    resp = await session.request(
                        method,
                        url,
                        # Formed here, inline: no local of this frame holds the token under a name
                        # (a traceback that shows each frame's locals, Sentry's say, would show it).
                        headers=(
                            prepared.headers
                            if prepared.bearer is None
                            else {**prepared.headers, "Authorization": f"Bearer {prepared.bearer}"}
                        ),
                        # The content type rides on the body: no header to merge, no payload
                        # registry lookup. A body over 1 MiB (a long say-audio) is streamed, as
                        # aiohttp asks (a warning else).
                        data=(
                            None
                            if prepared.data is None
                            else aiohttp.BytesPayload(
                                prepared.data, content_type=prepared.content_type
                            )
                            if len(prepared.data) <= _STREAMED_FROM
                            else aiohttp.BytesIOPayload(
                                io.BytesIO(prepared.data), content_type=prepared.content_type
                            )
                        ),
                        params=prepared.params,
                        timeout=limits.client_timeout,
                        allow_redirects=False,  # never carry credentials to another host
                        auto_decompress=False,  # decompressed by read_body, within the cap
                        middlewares=self._middlewares.get(method),
                    )
                    try:
                        resp_headers = resp.headers
                        length = resp_headers.get("Content-Length")
                        # read_body's usual case (a plain body within the cap), without its coroutine.
                        if (
                            length is not None
                            and int(length) <= self.max_response_size
                            and "Content-Encoding" not in resp_headers
                        ):
                            body, problem = await resp.read(), None
                        else:
                            body, problem = await read_body(resp, self.max_response_size)
                        status = resp.status
                    finally:
                        resp.release()  # the connection is back in the pool once the body is read
                except asyncio.CancelledError:
                    if deadlines.left(task) and task.cancelling() <= cancelling:  # ours alone
                        raise answer_timeout(method, path, url, timeout.total) from None
                    raise
                except Exception as exc:
                    error = aiohttp_error(exc, method, path, url, timeout.total, timeout.connect)
                    if error is None:
                        raise
                    raise error  # noqa: B904 - caused by the aiohttp error (set by aiohttp_error)
                finally:
                    deadlines.left(task)  # (a second call, after the timeout's, finds nothing)
                    if taken is not None:  # taken now, or after the wait
                        slots.give_back()
            except TransportError as exc:
                policy = retry_policy or self.retry_policy
                per_attempt = requests_per_attempt(self._borrowed, method)
                sent += per_attempt if may_be_resent_by_aiohttp(exc) else 1
                acted_maybe = acted_maybe or exc.sent
                if (
                    retry is Retry.ALWAYS
                    and stale_connection(exc)
                    and not stale_retried
                    and sent + per_attempt <= policy.retries + 1
                ):
                    # A pooled connection the server had already closed: resent at once, once, as
                    # one of the policy's attempts but without spending the budget.
                    stale_retried = True
                    log_retry(method, path, attempt, "stale connection", 0.0)
                    continue
                allowed = retry is Retry.ALWAYS or (retry is Retry.IF_UNSENT and not exc.sent)
                delay = policy.backoff(attempt)
                if allowed and may_retry(
                    policy, self.budget, sent + per_attempt, delay, deadline, budgeted
                ):
                    log_retry(method, path, attempt, failure_kind(exc), delay)
                    if await waited_in_time(delay, deadline):
                        continue
                raise
            # Positional, in the fields' order (keywords cost twice the building, on every answer).
            response = RawResponse(
                method,
                path,
                status,
                body,
                url,
                problem,
                resp_headers.get("Content-Type", ""),
                resp_headers.get("X-Request-Id"),
                prepared.credentials,
                acted_maybe,
            )
            if status >= 300:  # what only an answer that is not a success may need
                response.retry_after = resp_headers.get("Retry-After")
                response.location = resp_headers.get("Location")
            if logger.isEnabledFor(logging.DEBUG):  # a run of a credential masked in the id too
                rid = mask_echoes(response.request_id or "", prepared.credentials)
                logger.debug(
                    "%s %s -> %d in %.1f ms (attempt %d%s)",
                    method,
                    path,
                    status,
                    (loop.time() - started) * 1000,
                    attempt,
                    f", request id {rid}" if rid else "",
                )
            if status < 400:
                self.budget.on_success()
                return response
            sent += 1
            policy = retry_policy or self.retry_policy
            if retry is Retry.ALWAYS and status in policy.statuses:
                retry_after = parse_retry_after(response.retry_after)
                if retry_after is not None and retry_after > policy.retry_after_cap:
                    raise RateLimitedError(
                        f"the server asked to wait {retry_after:g} s, more than the "
                        f"{policy.retry_after_cap:g} s cap",
                        method=method,
                        path=path,
                        url=response.url,
                        status=status,
                        retry_after=retry_after,
                        request_id=response.request_id,
                    )
                delay = policy.backoff(attempt, retry_after)
                per_attempt = requests_per_attempt(self._borrowed, method)
                if may_retry(policy, self.budget, sent + per_attempt, delay, deadline, budgeted):
                    acted_maybe = acted_maybe or status >= 500
                    log_retry(method, path, attempt, f"HTTP {status}", delay)
                    if await waited_in_time(delay, deadline):
                        continue
            return response

    async def _take_slot(
        self, slots: ConnectionSlots, prepared: PreparedRequest, timeout: Timeout
    ) -> Timeout:
        """Wait for a connection slot (none was free) within ``timeout``'s connect limit (else its
        total): the limits left after the wait, which counts within them.

        Raises:
            RequestTimeout: no slot came free in time (the request never left).
        """
        try:
            waited = await slots.take(timeout.connect or timeout.total)
        except TimeoutError:
            raise RequestTimeout(
                f"no connection came free within {timeout.connect or timeout.total:g} s "
                f"({slots.limit} requests at once)",
                method=prepared.method,
                path=prepared.path,
                url=prepared.url,
                sent=False,
            ) from None
        return timeout.less(waited) if waited else timeout


def _check_open(http_session: aiohttp.ClientSession | None) -> None:
    """Refuse a closed borrowed session, naming ``http_session`` (aiohttp would fail deep inside)."""
    if http_session is not None and http_session.closed:
        raise ConfigurationError(
            "is closed: borrow an open aiohttp.ClientSession", field="http_session"
        )
