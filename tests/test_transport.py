"""``aioavatar._transport``, over real sockets against the emulator: the asyncio requirement, the bounds of
``Timeout`` and every timeout kept (waiting for a pooled connection included), what a stop needs of its
answer, base URLs, and request ids. The bytes on the wire (decompression, attempts under resets) are
tested in ``test_wire.py``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Any

import aiohttp
import anyio
import pytest

from aioavatar import (
    APIError,
    ConfigurationError,
    LiveAvatarClient,
    NotFoundError,
    RequestTimeout,
    ResponseDecodeError,
    RetryPolicy,
    Timeout,
)
from aioavatar._retry import Retry
from aioavatar._secret import FRAGMENT
from aioavatar.liveavatar._endpoints import LIST
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID
from .leaks import acquired_connections, wait_until

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(retries=0)
FAST = RetryPolicy(retries=2, backoff_initial=0.001, backoff_max=0.005)


async def test_outside_asyncio_the_error_says_so() -> None:
    """Under trio the client refuses at once and says aioavatar needs asyncio (not aiohttp's
    'no running event loop')."""

    async def enter() -> None:
        async with LiveAvatarClient(API_KEY, base_url="http://127.0.0.1:9"):
            pass  # pragma: no cover - never reached

    with pytest.raises(RuntimeError, match="aioavatar runs on asyncio"):
        await anyio.to_thread.run_sync(lambda: anyio.run(enter, backend="trio"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"total": 0}, "total"),
        ({"total": -1}, "total"),
        ({"total": None}, "total"),
        ({"total": math.inf}, "total"),
        ({"total": math.nan}, "total"),
        ({"total": "x"}, "total"),
        ({"total": True}, "total"),
        ({"total": 1e-300}, "total"),
        ({"total": 10**400}, "total"),
        ({"total": 5, "connect": 0}, "connect"),
        ({"total": 5, "connect": math.inf}, "connect"),
    ],
)
def test_every_timeout_is_finite_and_positive(kwargs: dict[str, Any], field: str) -> None:
    """No limit of a Timeout can switch the limit off: 0, negative, None, inf, NaN, non-numbers and
    absurdly small values are a ConfigurationError naming the limit and its range."""
    with pytest.raises(ConfigurationError, match=r"from 0\.001 to 3600") as info:
        Timeout(**kwargs)
    assert info.value.field == field


@pytest.mark.parametrize("encoding", ["br", "zstd"])
async def test_an_unreadable_body_is_no_success_even_on_a_stop(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, encoding: str
) -> None:
    """Stop and keep-alive use no data, but a 2xx may carry a failure in its envelope: a 2xx whose
    body cannot be read (an encoding aioavatar does not read) is a ResponseDecodeError on every
    call, and the stop is not taken for done (``stop_session`` does not say it stopped)."""
    token = await client.create_session_token(AVATAR_ID)
    await client.start_session(token.session_token)
    emulator.inject("keep_alive", body=b"\x0b\x02", headers={"Content-Encoding": encoding})
    with pytest.raises(ResponseDecodeError, match="does not read"):
        await client.keep_alive(token.session_id)
    emulator.inject("stop", body=b"\x0b\x02", headers={"Content-Encoding": encoding})
    with pytest.raises(ResponseDecodeError, match="does not read"):
        await client.stop_session(token.session_id)
    assert token.session_id in [s.id for s in emulator.active_sessions()]
    emulator.inject("get", body=b"\x0b\x02", headers={"Content-Encoding": encoding})
    with pytest.raises(ResponseDecodeError, match="does not read"):
        await client.get_session(token.session_id)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:99999",
        "http://127.0.0.1:abc",
        "http://[::1",
        "http://",
        "https://a..b",  # an empty label
        f"https://{'a' * 64}.example",  # a label over 63 characters
    ],
)
def test_a_base_url_with_a_bad_port_or_host_is_refused(base_url: str) -> None:
    """An impossible port or host is a ConfigurationError at construction, not a TransportError on
    every call (nor the lookup's bare UnicodeError, for a host name with an empty or overlong
    label)."""
    with pytest.raises(ConfigurationError) as info:
        LiveAvatarClient(API_KEY, base_url=base_url)
    assert info.value.field == "base_url"


async def test_a_request_id_is_kept_only_when_it_looks_like_one(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's X-Request-Id reaches an error when it looks like an id; anything else (an echo
    with slashes, escapes or spaces) is dropped, and an id that is a credential, or holds a run of
    one (a token's tail, which reached DEBUG log lines unmasked until now), is masked."""
    emulator.inject("list", status=500, headers={"X-Request-Id": "req-123.abc"})
    with pytest.raises(APIError) as plain:
        await client.list_sessions("active", retry_policy=RetryPolicy(retries=0))
    assert plain.value.request_id == "req-123.abc"
    emulator.inject("list", status=500, headers={"X-Request-Id": "sk\\/live \\u0041"})
    with pytest.raises(APIError) as odd:
        await client.list_sessions("active", retry_policy=RetryPolicy(retries=0))
    assert odd.value.request_id is None
    emulator.inject("list", status=500, headers={"X-Request-Id": API_KEY})
    with pytest.raises(APIError) as echoed:
        await client.list_sessions("active", retry_policy=RetryPolicy(retries=0))
    assert echoed.value.request_id == "**********"
    assert API_KEY not in str(echoed.value)
    tail = API_KEY[-FRAGMENT:]
    emulator.inject("list", status=500, headers={"X-Request-Id": f"req-{tail}"})
    with (
        caplog.at_level(logging.DEBUG, logger="aioavatar"),
        pytest.raises(APIError) as cut,
    ):
        await client.list_sessions("active", retry_policy=RetryPolicy(retries=0))
    assert cut.value.request_id == "req**********"  # the dash before it is the key's too
    assert tail not in str(cut.value)
    assert "request id req**********" in caplog.text  # the answer's DEBUG line
    assert tail not in caplog.text


# --- timeouts and the pool --------------------------------------------------------------------------


async def test_per_call_policy_and_pool_wait_on_start(emulator: LiveAvatarEmulator) -> None:
    """Start is retried when it never left the machine: waiting for a pooled connection past the
    connect timeout is such a case. Without retries it fails; with a per-call policy it gets through
    once the connection is free, and the server sees one start."""
    async with LiveAvatarClient(
        API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY, connection_limit=1
    ) as client:
        token = await client.create_session_token(AVATAR_ID)
        emulator.inject("get", delay=0.4, times=2)
        quick = Timeout(total=5.0, connect=0.1)
        patient = RetryPolicy(retries=10, backoff_initial=0.25, backoff_max=0.25)
        async with anyio.create_task_group() as tg:
            tg.start_soon(hold_the_connection, client)  # for 0.4 s
            await wait_until(lambda: acquired_connections(client) == 1)
            with pytest.raises(RequestTimeout):
                await client.start_session(token.session_token, timeout=quick)
            assert emulator.requests("start") == []
            tg.start_soon(hold_the_connection, client)
            info = await client.start_session(
                token.session_token, timeout=quick, retry_policy=patient
            )
    assert info.session_id == token.session_id
    assert len(emulator.requests("start")) == 1


async def hold_the_connection(client: LiveAvatarClient) -> None:
    """A call that holds a pooled connection while the emulator delays its answer (then 404s)."""
    with contextlib.suppress(NotFoundError):
        await client.get_session(AVATAR_ID)


async def test_waiting_for_a_pooled_connection_counts(emulator: LiveAvatarEmulator) -> None:
    """With one connection held by a slow call, a second call times out within its own timeout,
    before it is ever sent, and leaves the pool usable."""
    async with LiveAvatarClient(
        API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY, connection_limit=1
    ) as client:
        emulator.inject("get", delay=1.0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(hold_the_connection, client)
            await wait_until(lambda: acquired_connections(client) == 1)
            with pytest.raises(RequestTimeout):
                await client.list_sessions("active", timeout=Timeout(total=0.2, connect=0.2))
            with pytest.raises(RequestTimeout):  # total alone bounds the wait as well
                await client.list_sessions("active", timeout=Timeout(total=0.2))
            assert emulator.requests("list") == []
            assert emulator.requests("get") == []  # the slow call is still in flight
            tg.cancel_scope.cancel()
        assert acquired_connections(client) == 0
        await client.list_sessions("active", timeout=2.0)
    assert len(emulator.requests("list")) == 1


async def test_a_slow_drip_cannot_stretch_a_call_past_its_timeout(
    emulator: LiveAvatarEmulator,
) -> None:
    """Bytes trickling in faster than any read timeout still end the call at its total timeout,
    on each attempt: three attempts, three RequestTimeouts' worth, then the error."""
    emulator.inject("get", drip=0.02, times=3)
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=FAST) as client:
        with anyio.fail_after(5), pytest.raises(RequestTimeout):
            await client.get_session(AVATAR_ID, timeout=0.25)
        assert acquired_connections(client) == 0
    assert len(emulator.requests("get")) == 3


@pytest.mark.parametrize("given", [0, -1, True, "5"])
async def test_bad_timeouts_are_refused_before_any_io(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, given: Any
) -> None:
    """A timeout that is not a positive number is a ConfigurationError, and nothing is sent."""
    from aioavatar import ConfigurationError

    with pytest.raises(ConfigurationError, match="timeout"):
        await client.list_sessions("active", timeout=given)
    assert emulator.journal == []


async def test_an_answer_keeps_each_header_it_reads_in_its_own_field(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The transport builds each answer positionally (the cheaper way, on every call): each header
    lands in its own field, however alike their types (Retry-After and Location are both text)."""
    emulator.inject(
        "list",
        status=503,
        body=b'{"message": "busy"}',
        headers={
            "Content-Type": "Application/JSON; charset=utf-8",
            "X-Request-Id": "req-7",
            "Retry-After": "3",
            "Location": "/elsewhere",
        },
    )
    call = client._prepare(LIST, params={"type": "active"})
    raw = await client._transport.send(call, timeout=client.timeouts.read, retry=Retry.IF_UNSENT)
    assert (raw.method, raw.path, raw.status, raw.body) == (
        "GET",
        "/v1/sessions",
        503,
        b'{"message": "busy"}',
    )
    assert raw.url == emulator.base_url + "/v1/sessions"
    assert (raw.body_problem, raw.content_type, raw.request_id) == (
        None,
        "application/json",
        "req-7",
    )
    assert (raw.retry_after, raw.location) == ("3", "/elsewhere")
    assert raw.credentials == call.credentials
    assert raw.after_possible_effect is False


async def test_a_call_that_got_no_connection_in_time_says_so_and_was_not_sent(
    emulator: LiveAvatarEmulator,
) -> None:
    """On a borrowed pool whose one connection a request the client does not see holds, the call
    waits in aiohttp's pool until its connect limit runs out: the error names that limit, not the
    total, and says the request never left."""
    emulator.inject("list", delay=1.0)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        hog = asyncio.create_task(
            http.get(emulator.base_url + "/v1/sessions?type=active", headers={"X-API-KEY": API_KEY})
        )
        try:
            await wait_until(lambda: http.connector is not None and bool(http.connector._acquired))
            async with LiveAvatarClient(
                API_KEY, base_url=emulator.base_url, http_session=http, retry_policy=NO_RETRY
            ) as client:
                with pytest.raises(RequestTimeout, match=r"no connection within 0\.2 s") as info:
                    await client.get_session(AVATAR_ID, timeout=Timeout(total=2.0, connect=0.2))
            assert not info.value.sent
            assert emulator.requests("get") == []
        finally:
            (await hog).close()
