"""aiohttp: session ownership, timeouts, retries, response size cap, and error mapping in one place.

The only module that imports aiohttp for HTTP calls. Every aiohttp exception is translated to the public
tree in :func:`_map_aiohttp_errors`; nothing else catches aiohttp errors.
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
import anyio
import attrs

from . import __version__
from ._logging import MASK, logger
from ._protocol import RawResponse, parse_retry_after
from ._retry import Retry, RetryBudget, RetryPolicy
from ._secret import Secret
from .exceptions import (
    ConfigurationError,
    RateLimitedError,
    RequestTimeout,
    ResponseDecodeError,
    TransportError,
)

__all__ = ["DEFAULT_MAX_RESPONSE_SIZE", "Timeout", "Transport", "check_base_url"]

DEFAULT_MAX_RESPONSE_SIZE = 1024 * 1024
USER_AGENT = f"aioavatar/{__version__}"
# Request headers that carry credentials (the API's own and Kaltura's "KS <ks>").
_CREDENTIAL_HEADERS = ("X-API-KEY", "Authorization")
# A sent credential shorter than this is not masked out of answers (it could match innocent text).
_MIN_SCRUBBED_LENGTH = 8


@attrs.frozen
class Timeout:
    """Per-call time limits in seconds. ``total`` covers waiting for a pooled connection, connecting,
    sending and reading the whole answer; ``connect`` covers getting a connection (pool wait included)."""

    total: float
    connect: float | None = None

    def as_aiohttp(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.total, connect=self.connect)


def check_base_url(base_url: str, *, allow_insecure: bool = False, field: str = "base_url") -> str:
    """Validate an API base URL: ``https://`` anywhere, ``http://`` only for loopback or when allowed.

    Returns the URL without a trailing slash.

    Raises:
        ConfigurationError: naming ``field``.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"must be an http(s) URL with a host, got {base_url!r}", field=field
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError("must not carry credentials, a query or a fragment", field=field)
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            "plain http:// is refused for a non-loopback host (credentials would travel in clear); "
            "use https:// or pass allow_insecure=True",
            field=field,
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def _map_aiohttp_errors(method: str, path: str, timeout: Timeout) -> Iterator[None]:
    """Translate aiohttp and timeout errors into the public tree.

    Messages are built from plain fields on purpose: the ``repr`` of some aiohttp errors holds the
    request's headers, and with them the credentials.
    """
    try:
        yield
    except TimeoutError as exc:  # asyncio's timeout and aiohttp's ServerTimeoutError alike
        raise RequestTimeout(
            f"no answer within {timeout.total:g} s", method=method, path=path
        ) from exc
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        raise TransportError(
            f"cannot connect to {exc.host}:{exc.port}: {reason}", method=method, path=path
        ) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise TransportError(
            "the server closed the connection without answering", method=method, path=path
        ) from exc
    except aiohttp.ClientPayloadError as exc:
        raise TransportError("the answer was cut short", method=method, path=path) from exc
    except aiohttp.ClientResponseError as exc:  # an answer aiohttp could not parse
        _forget_credentials(exc)
        detail = exc.message.strip().splitlines()[0] if exc.message.strip() else "no detail"
        raise TransportError(
            f"the answer could not be parsed ({detail})", method=method, path=path
        ) from exc
    except aiohttp.ClientError as exc:
        raise TransportError(type(exc).__name__, method=method, path=path) from exc


def _forget_credentials(exc: aiohttp.ClientResponseError) -> None:
    """Drop the credential headers from the request an aiohttp error remembers: its ``repr`` (and its
    ``args``) show every request header, and the error stays reachable as our error's ``__cause__``."""
    info = exc.request_info
    headers = info.headers.copy()
    for name in _CREDENTIAL_HEADERS:
        headers.popall(name, None)
    exc.request_info = info._replace(headers=type(info.headers)(headers))
    exc.args = (exc.request_info, exc.history)


def _sent_credentials(headers: Mapping[str, str]) -> list[bytes]:
    """The credential values a request carries (the token of ``Authorization: <scheme> <token>``)."""
    found: list[bytes] = []
    wanted = {name.lower() for name in _CREDENTIAL_HEADERS}
    for name, value in headers.items():
        if name.lower() in wanted:
            scheme, _, credential = value.strip().partition(" ")
            # "Bearer <token>" and "KS <ks>" give the token; X-API-KEY's value is the key itself.
            candidate = credential.strip() or scheme
            if len(candidate) >= _MIN_SCRUBBED_LENGTH:
                found.append(candidate.encode())
    return found


def _scrub(data: bytes, credentials: list[bytes]) -> bytes:
    for credential in credentials:
        data = data.replace(credential, MASK.encode())
    return data


def _scrub_text(text: str | None, credentials: list[bytes]) -> str | None:
    if text is None or not credentials:
        return text
    return _scrub(text.encode("utf-8", "surrogateescape"), credentials).decode(
        "utf-8", "surrogateescape"
    )


def _failure_kind(exc: TransportError) -> str:
    """What went wrong, for a log line: ``timeout`` or the aiohttp error's class name, never its text."""
    if isinstance(exc, RequestTimeout):
        return "timeout"
    return type(exc.__cause__ or exc).__name__


def _never_sent(exc: TransportError) -> bool:
    """Whether the request surely never left the machine (no connection could be had)."""
    return isinstance(exc.__cause__, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)


def _stale_connection(exc: TransportError) -> bool:
    """Whether the server had closed the connection before answering (a stale pooled one, typically)."""
    return isinstance(exc.__cause__, aiohttp.ServerDisconnectedError)


class Transport:
    """One HTTP connection pool, borrowed or owned, and the retry loop around single requests."""

    def __init__(
        self,
        base_url: str,
        *,
        http_session: aiohttp.ClientSession | None = None,
        retry_policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        credentials: Sequence[Secret] = (),
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        connection_limit: int = 100,
    ) -> None:
        self.base_url = base_url
        self.retry_policy = retry_policy or RetryPolicy()
        self.budget = retry_budget if retry_budget is not None else RetryBudget()
        # Masked out of every answer, whichever credential the request carried (an API key echoed in
        # the error page of a session-token call, say).
        self._credentials = [
            c.get_secret_value().encode()
            for c in credentials
            if len(c.get_secret_value()) >= _MIN_SCRUBBED_LENGTH
        ]
        self._budget_warned = False
        self.max_response_size = max_response_size
        self._connection_limit = connection_limit
        self._session = http_session
        self._owns_session = http_session is None

    @property
    def http_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the client is not open: use it as `async with client:`")
        return self._session

    async def __aenter__(self) -> Self:
        if self._session is None:
            # Created here, inside the running loop, never in __init__.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit),
                headers={"User-Agent": USER_AGENT},
            )
            self._owns_session = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool if this transport created it; a borrowed session is left open."""
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        content: tuple[bytes, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: Timeout,
        retry: Retry = Retry.ALWAYS,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> RawResponse:
        """Send one request, retrying what ``retry`` allows, and read its answer (at most the size cap).

        The body is ``json`` (encoded here) or ``content``, ready bytes with their content type (a multipart
        form, say). ``deadline`` (in ``anyio.current_time()`` terms) stops retrying when the next attempt
        could not finish in time. Returns the answer whatever its status; statuses are the protocol's
        business.

        Raises:
            TransportError: no answer (``RequestTimeout`` when a timeout ran out).
            RateLimitedError: the server asked to wait longer than the policy's cap.
            ResponseDecodeError: the answer is larger than the size cap.
        """
        policy = retry_policy or self.retry_policy
        send_headers = dict(headers)
        data: bytes | None = None
        if content is not None:
            data, send_headers["Content-Type"] = content
        elif json is not None:
            data = jsonlib.dumps(json, separators=(",", ":")).encode()
            send_headers["Content-Type"] = "application/json"
        attempt = 0
        stale_retried = False
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                response = await self._send(method, path, send_headers, data, params, timeout)
            except TransportError as exc:
                if retry is Retry.ALWAYS and _stale_connection(exc) and not stale_retried:
                    # A pooled connection the server had already closed: retry at once, once.
                    stale_retried = True
                    _log_retry(method, path, attempt, "stale connection", 0.0)
                    attempt -= 1  # a free retry: it does not count against the policy
                    continue
                allowed = retry is Retry.ALWAYS or (retry is Retry.IF_UNSENT and _never_sent(exc))
                delay = policy.backoff(attempt)
                if allowed and self._may_retry(policy, attempt, delay, deadline):
                    _log_retry(method, path, attempt, _failure_kind(exc), delay)
                    await anyio.sleep(delay)
                    continue
                raise
            elapsed = (time.perf_counter() - started) * 1000
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s %s -> %d in %.1f ms (attempt %d%s)",
                    method,
                    path,
                    response.status,
                    elapsed,
                    attempt,
                    f", request id {response.request_id}" if response.request_id else "",
                )
            if response.status < 400:
                self.budget.on_success()
                return response
            if retry is Retry.ALWAYS and response.status in policy.statuses:
                retry_after = parse_retry_after(response.retry_after)
                if retry_after is not None and retry_after > policy.retry_after_cap:
                    raise RateLimitedError(
                        f"the server asked to wait {retry_after:g} s, more than the "
                        f"{policy.retry_after_cap:g} s cap",
                        method=method,
                        path=path,
                        status=response.status,
                        retry_after=retry_after,
                        request_id=response.request_id,
                    )
                delay = policy.backoff(attempt, retry_after)
                if self._may_retry(policy, attempt, delay, deadline):
                    _log_retry(method, path, attempt, f"HTTP {response.status}", delay)
                    await anyio.sleep(delay)
                    continue
            return response

    def _may_retry(
        self,
        policy: RetryPolicy,
        attempt: int,
        delay: float,
        deadline: float | None,
    ) -> bool:
        if attempt > policy.retries:
            return False
        if deadline is not None and anyio.current_time() + delay >= deadline:
            return False
        if not self.budget.try_spend():
            if not self._budget_warned:  # once per outage, not once per refused retry
                self._budget_warned = True
                logger.warning("retry budget spent: not retrying (the API may be down)")
            return False
        self._budget_warned = False
        return True

    async def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        data: bytes | None,
        params: Mapping[str, str] | None,
        timeout: Timeout,
    ) -> RawResponse:
        with _map_aiohttp_errors(method, path, timeout):
            async with self.http_session.request(
                method,
                self.base_url + path,
                headers=headers,
                data=data,
                params=params,
                timeout=timeout.as_aiohttp(),
                allow_redirects=False,  # never carry credentials to another host
            ) as resp:
                body = await self._read_capped(resp, method, path)
        # A hostile or careless server may echo the credential it was sent (an error page quoting the
        # request): it must not reach an error message from here.
        sent = _sent_credentials(headers) + self._credentials
        return RawResponse(
            method=method,
            path=path,
            status=resp.status,
            body=_scrub(body, sent),
            content_type=_scrub_text(resp.content_type, sent) or "",
            request_id=_scrub_text(
                resp.headers.get("X-Request-Id") or resp.headers.get("X-Request-ID"), sent
            ),
            retry_after=_scrub_text(resp.headers.get("Retry-After"), sent),
            location=_scrub_text(resp.headers.get("Location"), sent),
        )

    async def _read_capped(self, resp: aiohttp.ClientResponse, method: str, path: str) -> bytes:
        cap = self.max_response_size
        if resp.content_length is not None:
            if resp.content_length > cap:
                resp.close()  # never read it: close rather than drain into the pool
                raise _too_big(cap, resp, method, path)
            return await resp.read()  # the parser stops at Content-Length: within the cap
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > cap:
                resp.close()  # do not drain the rest into the pool
                raise _too_big(cap, resp, method, path)
            chunks.append(chunk)
        return b"".join(chunks)


def _too_big(cap: int, resp: aiohttp.ClientResponse, method: str, path: str) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"the answer is larger than the {cap} byte cap",
        method=method,
        path=path,
        status=resp.status,
    )


def _log_retry(method: str, path: str, attempt: int, why: str, delay: float) -> None:
    logger.info(
        "%s %s failed (%s), attempt %d; retrying in %.2f s", method, path, why, attempt, delay
    )
