"""``LiveAvatarClient`` (``liveavatar/_client.py``) against the emulator over real sockets: what is sent,
what comes back, and every invalid argument refused before any I/O."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioavatar import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    EndReason,
    LiveAvatarClient,
    LiveAvatarTimeouts,
    LiveKitConfig,
    NotFoundError,
    RateLimitedError,
    RequestTimeout,
    ResponseDecodeError,
    RetryPolicy,
    Secret,
    ServerError,
    SessionTokenRequest,
    Timeout,
    TransportError,
    ValidationError,
)
from aioavatar._provider import Endpoint
from aioavatar.liveavatar._endpoints import STOP, TOKEN
from aioavatar.testing import LiveAvatarEmulator

from ..conftest import API_KEY, AVATAR_ID
from .strategies import (
    EXAMPLES,
    NOT_POSITIVE_INT,
    NOT_UUID,
    CallFactory,
    Case,
    assert_refused_before_io,
    invalid_calls,
    not_in,
)

pytestmark = pytest.mark.anyio
NO_RETRY = RetryPolicy(retries=0)


async def test_full_session_over_every_endpoint(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Token, start, keep-alive, stop, list, get and transcript succeed and send what the API expects."""
    token = await client.create_session_token(
        AVATAR_ID, is_sandbox=True, mode="LITE", video_settings={"quality": "low"}
    )
    assert isinstance(token.session_token, Secret)
    info = await client.start_session(token.session_token)
    assert info.session_id == token.session_id
    assert info.livekit_url
    assert info.ws_url  # LITE
    await client.keep_alive(info.session_id, session_token=token.session_token)
    await client.keep_alive(info.session_id)  # with the API key
    active = await client.list_sessions("active")
    assert [entry.id for entry in active.results] == [info.session_id]
    assert await client.stop_session(
        info.session_id, reason=EndReason.AGENT_HANG_UP, session_token=token.session_token
    )
    entry = await client.get_session(info.session_id)
    assert entry.end_reason is EndReason.AGENT_HANG_UP
    historic = await client.list_sessions("historic", page_size=5)
    assert historic.count == 1
    transcript = await client.get_transcript(info.session_id)
    assert transcript.session_active is False

    sent = [(r.endpoint, r.auth) for r in emulator.journal]
    assert sent == [
        ("token", "api_key"),
        ("start", "bearer"),
        ("keep_alive", "bearer"),
        ("keep_alive", "api_key"),
        ("list", "api_key"),
        ("stop", "bearer"),
        ("get", "api_key"),
        ("list", "api_key"),
        ("transcript", "api_key"),
    ]
    token_body = emulator.requests("token")[0].body
    assert token_body == {
        "avatar_id": AVATAR_ID,
        "is_sandbox": True,
        "mode": "LITE",
        "video_settings": {"quality": "low"},
    }
    assert emulator.requests("stop")[0].body == {
        "session_id": info.session_id,
        "reason": "AGENT_HANG_UP",
    }
    assert emulator.requests("list")[1].query == {"type": "historic", "page": "1", "page_size": "5"}


async def test_stop_of_an_ended_session_is_not_an_error(client: LiveAvatarClient) -> None:
    """404 on stop means "already stopped": the call returns False."""
    token = await client.create_session_token(AVATAR_ID)
    await client.start_session(token.session_token)
    assert await client.stop_session(token.session_id) is True
    assert await client.stop_session(token.session_id) is False


async def test_wrong_api_key_is_an_authentication_error(emulator: LiveAvatarEmulator) -> None:
    """401 maps to AuthenticationError with status and the server's message, and no key in the text."""
    async with LiveAvatarClient("wrong-key-canary", base_url=emulator.base_url) as bad:
        with pytest.raises(AuthenticationError) as info:
            await bad.create_session_token(AVATAR_ID)
    assert info.value.status == 401
    assert info.value.message
    assert "canary" not in str(info.value)
    assert "canary" not in repr(info.value)


async def test_api_key_on_start_is_refused(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Start takes the session token only (the classic mistake gives a clear 401)."""
    await client.create_session_token(AVATAR_ID)
    with pytest.raises(AuthenticationError):
        await client.start_session(API_KEY)
    assert emulator.requests("start")[0].auth == "bearer"


async def test_not_found(client: LiveAvatarClient) -> None:
    """An unknown session is a NotFoundError."""
    with pytest.raises(NotFoundError) as info:
        await client.get_session("00000000-0000-4000-8000-000000000000")
    assert info.value.status == 404


@pytest.mark.parametrize(
    ("loose", "read"),
    [
        (
            {"credits_consumed": "2.5000", "duration": "61"},
            {"credits_consumed": 2.5, "duration": 61.0},
        ),
        (
            {"credits_consumed": "lots", "duration": "NaN"},
            {"credits_consumed": None, "duration": None},
        ),
        ({"credits_consumed": True, "duration": [1]}, {"credits_consumed": None, "duration": None}),
        (  # JSON's non-standard NaN and Infinity, and an integer no float holds
            {"credits_consumed": float("inf"), "duration": float("nan"), "end_at": float("-inf")},
            {"credits_consumed": None, "duration": None, "end_at": None},
        ),
        ({"duration": 10**400}, {"duration": None}),
        ({"created_at": 1733367600, "end_at": 1.5}, {"created_at": "1733367600", "end_at": "1.5"}),
        ({"created_at": {"t": 1}, "updated_at": False}, {"created_at": None, "updated_at": None}),
        ({"mode": 3, "source": ["API"], "is_sandbox": "no"}, {"mode": None, "source": None}),
        ({"end_reason": 7, "end_at": None}, {"end_reason": None}),
    ],
)
async def test_a_session_entry_reads_loose_fields_instead_of_failing(
    emulator: LiveAvatarEmulator,
    client: LiveAvatarClient,
    loose: dict[str, Any],
    read: dict[str, Any],
) -> None:
    """A field of a session entry the server writes loosely (an amount as a decimal string, a time
    as a number) or broken reads as its value or as not given: the lookup that reports a session's
    end reason (rules 7, 9, 14) and ``aioavatar sessions`` never fail on it. Only ``id`` is needed."""
    sid = "00000000-0000-4000-8000-000000000001"
    entry = {"id": sid, "end_reason": "NO_CREDITS", "end_at": "2026-12-05T03:00:00Z", **loose}
    body = json.dumps({"code": 1000, "message": "ok", "data": entry}).encode()
    emulator.inject("get", body=body)
    got = await client.get_session(sid)
    assert {name: getattr(got, name) for name in read} == read
    assert got.id == sid
    if "end_reason" not in loose:
        assert got.end_reason is EndReason.NO_CREDITS
    emulator.inject(
        "list",
        body=body.replace(b'"data": ', b'"data": {"count": 1, "results": [', 1)[:-1] + b"]}}",
    )
    page = await client.list_sessions()
    assert page.results == [got]
    emulator.inject("get", body=json.dumps({"code": 1000, "data": {**entry, "id": 5}}).encode())
    with pytest.raises(ResponseDecodeError, match="id"):
        await client.get_session(sid)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (422, ValidationError),
        (429, RateLimitedError),
        (500, ServerError),
        (503, ServerError),
        (400, APIError),
    ],
)
async def test_injected_statuses_map_to_types(
    emulator: LiveAvatarEmulator, status: int, cls: type[APIError]
) -> None:
    """Each status arrives as its type, with status, code and message."""
    emulator.inject(
        "token",
        status=status,
        body=b'{"code": 4321, "message": "injected fault"}',
        content_type="application/json",
    )
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY) as c:
        with pytest.raises(cls) as info:
            await c.create_session_token(AVATAR_ID)
    assert type(info.value) is cls
    assert (info.value.status, info.value.code, info.value.message) == (
        status,
        4321,
        "injected fault",
    )


async def test_real_422_carries_fastapi_detail(emulator: LiveAvatarEmulator) -> None:
    """A body the server rejects (here: a session id that is not a UUID, bypassing our own checks)
    comes back as ValidationError with the detail list."""
    async with (
        aiohttp.ClientSession() as http,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url, http_session=http) as c,
    ):
        with pytest.raises(ValidationError) as info:
            await c.send(  # the public methods refuse this before sending
                c._prepare(TOKEN, headers={"X-API-KEY": API_KEY}, json={"avatar_id": "nope"})
            )
    assert info.value.status == 422
    assert info.value.detail[0]["loc"] == ["body", "avatar_id"]


async def test_html_502_is_a_server_error(emulator: LiveAvatarEmulator) -> None:
    """A non-JSON error page is still a typed error with an excerpt."""
    emulator.inject("token", status=502, body=b"<html>Bad Gateway</html>", content_type="text/html")
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY) as c:
        with pytest.raises(ServerError) as info:
            await c.create_session_token(AVATAR_ID)
    assert info.value.status == 502
    assert "Bad Gateway" in (info.value.message or "")


@pytest.mark.parametrize("code", [100, 1000])
async def test_envelope_success_codes(emulator: LiveAvatarEmulator, code: int) -> None:
    """Both success codes are accepted from the wire."""
    body = (
        b'{"code": %d, "data": {"session_id": "%s", "session_token": "t-token-0001"}, "message": "ok"}'
        % (
            code,
            AVATAR_ID.encode(),
        )
    )
    emulator.inject("token", body=body, content_type="application/json")
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as c:
        token = await c.create_session_token(AVATAR_ID)
    assert token.session_id == AVATAR_ID


async def test_envelope_error_code_on_200(emulator: LiveAvatarEmulator) -> None:
    """A 200 whose code is neither 100 nor 1000 is an APIError with that code."""
    emulator.inject(
        "token",
        body=b'{"code": 4002, "data": null, "message": "no credits"}',
        content_type="application/json",
    )
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as c:
        with pytest.raises(APIError) as info:
            await c.create_session_token(AVATAR_ID)
    assert (info.value.status, info.value.code, info.value.message) == (200, 4002, "no credits")


@pytest.mark.parametrize(
    "body",
    [
        b'{"code": 1000, "data": {',
        b'{"code": 1000, "data": {"session_id": "x"}}',
        b'{"code": 1000, "data": [1]}',
        b"<html>ok</html>",
    ],
)
async def test_bad_2xx_bodies_are_decode_errors(emulator: LiveAvatarEmulator, body: bytes) -> None:
    """Truncated JSON, missing fields, wrong shapes and HTML on a 200 raise ResponseDecodeError."""
    emulator.inject("token", body=body, content_type="application/json")
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as c:
        with pytest.raises(ResponseDecodeError) as info:
            await c.create_session_token(AVATAR_ID)
    assert info.value.status == 200


async def test_malformed_fault(emulator: LiveAvatarEmulator, client: LiveAvatarClient) -> None:
    """The emulator's malformed-body fault gives ResponseDecodeError."""
    emulator.inject("token", malformed=True)
    with pytest.raises(ResponseDecodeError):
        await client.create_session_token(AVATAR_ID)


async def test_transient_5xx_on_token_is_retried(
    emulator: LiveAvatarEmulator, client: LiveAvatarClient
) -> None:
    """Token creation is retried after a 503 and succeeds; the server saw both attempts."""
    emulator.inject("token", status=503, times=2)
    token = await client.create_session_token(AVATAR_ID)
    assert token.session_id
    assert [r.status for r in emulator.requests("token")] == [503, 503, 200]


async def test_start_is_not_retried_after_it_was_sent(
    emulator: LiveAvatarEmulator, client: LiveAvatarClient
) -> None:
    """A 503 on start is not retried: a duplicate start could open an orphan session."""
    token = await client.create_session_token(AVATAR_ID)
    emulator.inject("start", status=503)
    with pytest.raises(ServerError):
        await client.start_session(token.session_token)
    assert len(emulator.requests("start")) == 1


async def test_dropped_connection_is_a_transport_error(emulator: LiveAvatarEmulator) -> None:
    """A connection closed without an answer is a TransportError (after the allowed retries)."""
    emulator.inject("keep_alive", drop=True, times=5)
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY) as c:
        with pytest.raises(TransportError):
            await c.keep_alive(AVATAR_ID)


async def test_slow_answer_times_out(emulator: LiveAvatarEmulator) -> None:
    """A call that outlives its timeout raises RequestTimeout, which is also a TimeoutError."""
    emulator.inject("get", delay=2.0)
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY) as c:
        with pytest.raises(RequestTimeout) as info:
            await c.get_session(AVATAR_ID, timeout=0.2)
    assert isinstance(info.value, TimeoutError)


async def test_connection_refused_is_a_transport_error() -> None:
    """Nothing listening: TransportError naming host and port, after retries."""
    async with LiveAvatarClient(
        API_KEY,
        base_url="http://127.0.0.1:9",
        retry_policy=RetryPolicy(retries=1, backoff_initial=0.01),
    ) as c:
        with pytest.raises(TransportError, match=r"127\.0\.0\.1:9"):
            await c.create_session_token(AVATAR_ID)


async def test_borrowed_session_left_open_owned_closed(emulator: LiveAvatarEmulator) -> None:
    """A borrowed aiohttp session survives the client; an owned one is closed with it."""
    async with aiohttp.ClientSession() as http:
        async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, http_session=http) as c:
            await c.create_session_token(AVATAR_ID)
        assert not http.closed
    owned = LiveAvatarClient(API_KEY, base_url=emulator.base_url)
    async with owned:
        await owned.create_session_token(AVATAR_ID)
        pool = owned._transport.http_session
    assert pool.closed


async def test_validation_happens_before_any_request(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Bad input never reaches the server."""
    with pytest.raises(ConfigurationError, match="avatar_id"):
        await client.create_session_token("nope")
    with pytest.raises(ConfigurationError, match="session_id"):
        await client.keep_alive("nope")
    with pytest.raises(ConfigurationError, match="reason"):
        await client.stop_session(AVATAR_ID, reason="BECAUSE")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="page_size"):
        await client.list_sessions(page_size=101)
    with pytest.raises(ConfigurationError, match="type"):
        await client.list_sessions("closed")  # type: ignore[arg-type]
    assert emulator.journal == []


@pytest.mark.parametrize("length", [1, 7, 8_001, 10_000_000])
async def test_a_credential_too_short_to_mask_or_too_long_to_send_is_refused(
    emulator: LiveAvatarEmulator, length: int
) -> None:
    """An API key, session token or stored secret shorter than 8 characters (it could not be masked
    where a server echoes it) or longer than 8,000 (no server reads such a header) is a
    ConfigurationError naming the field, before any request; the message does not show it."""
    value = "Q" * length
    with pytest.raises(ConfigurationError) as info:
        LiveAvatarClient(value, base_url=emulator.base_url)
    assert info.value.field == "api_key"
    assert value not in str(info.value)
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client:
        with pytest.raises(ConfigurationError) as info:
            await client.start_session(value)
        assert info.value.field == "session_token"
        with pytest.raises(ConfigurationError) as info:
            await client.secrets.create(
                secret_name="n", secret_type="OPENAI_API_KEY", secret_value=value
            )
        assert info.value.field == "secret_value"
    assert emulator.journal == []


def test_api_key_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key falls back to LIVEAVATAR_API_KEY; none or an empty one is a ConfigurationError."""
    monkeypatch.delenv("LIVEAVATAR_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="LIVEAVATAR_API_KEY"):
        LiveAvatarClient()
    with pytest.raises(ConfigurationError, match="api_key"):
        LiveAvatarClient("  ")
    monkeypatch.setenv("LIVEAVATAR_API_KEY", "from-env-canary")
    client = LiveAvatarClient()
    assert "canary" not in repr(client)


def test_insecure_base_url_is_refused() -> None:
    """http:// only for loopback unless allowed explicitly."""
    with pytest.raises(ConfigurationError, match="base_url"):
        LiveAvatarClient(API_KEY, base_url="http://api.example.com")
    LiveAvatarClient(API_KEY, base_url="http://api.example.com", allow_insecure=True)
    LiveAvatarClient(API_KEY, base_url="http://localhost:8000")


async def test_no_session_token_in_errors(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A refused session token appears in no error text."""
    with pytest.raises(AuthenticationError) as info:
        await client.start_session("session-token-canary-42")
    for text in (str(info.value), repr(info.value), repr(info.value.__dict__)):
        assert "canary" not in text
    assert emulator.requests("start")[0].status == 401


async def test_errors_name_the_url_actually_requested(emulator: LiveAvatarEmulator) -> None:
    """A 404 names the whole URL requested (base URL and path), so a wrong base URL shows."""
    base = emulator.base_url + "/proxy"
    async with LiveAvatarClient(API_KEY, base_url=base) as client:
        with pytest.raises(APIError) as info:
            await client.list_sessions("active")
    assert f"GET {base}/v1/sessions -> HTTP 404" in str(info.value)
    assert info.value.url == f"{base}/v1/sessions"
    assert info.value.path == "/v1/sessions"


def test_every_operation_has_explicit_total_and_connect_timeouts() -> None:
    """Each default has a total and a connect limit; keep-alive's fits in half the default interval."""
    defaults = LiveAvatarTimeouts()
    for name in ("token", "start", "keep_alive", "stop", "read"):
        limit = getattr(defaults, name)
        assert isinstance(limit, Timeout)
        assert limit.total > 0
        assert limit.connect is not None
        assert 0 < limit.connect <= limit.total
    assert defaults.keep_alive.total <= 60 / 2


# --- every invalid argument, as a property ---------------------------------------------------------


INVALID_CALLS: list[tuple[str, CallFactory, st.SearchStrategy[Any]]] = [
    ("session_id", lambda c, v: c.get_session(v), NOT_UUID),
    ("session_id", lambda c, v: c.get_transcript(v), NOT_UUID),
    ("session_id", lambda c, v: c.keep_alive(v), NOT_UUID),
    ("session_id", lambda c, v: c.stop_session(v), NOT_UUID),
    (
        "reason",
        lambda c, v: c.stop_session("dd73ea75-1218-4ef3-92ce-606d5f7fbc0a", reason=v),
        not_in(*EndReason._value2member_map_),
    ),
    ("page", lambda c, v: c.list_sessions(page=v), NOT_POSITIVE_INT),
    (
        "page_size",
        lambda c, v: c.list_sessions(page_size=v),
        st.one_of(st.integers(max_value=0), st.integers(min_value=101), st.text(max_size=3)),
    ),
    ("type", lambda c, v: c.list_sessions(v), not_in("active", "historic")),
    (
        "timeout",
        lambda c, v: c.list_sessions(timeout=v),
        st.one_of(st.floats(max_value=0), st.booleans(), st.text(max_size=3)),
    ),
    ("session_token", lambda c, v: c.start_session(v), st.sampled_from(["", 0, None])),
]


@given(case=invalid_calls(INVALID_CALLS))
@EXAMPLES
async def test_every_invalid_argument_is_refused_before_any_io(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, case: Case
) -> None:
    """Bad ids, reasons, pages, types, timeouts and tokens: ConfigurationError naming the argument,
    nothing sent."""
    await assert_refused_before_io(client, emulator, case)


async def test_a_prepared_keep_alive_is_sent_as_prepared(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """prepare_keep_alive() once, send() three times: three keep-alives of that session reach the
    server, with its session token and body, and each call takes its own options. Kept for the
    session's life, the call refers to the session's own token and holds no copy of it in a header."""
    token = await client.create_session_token(AVATAR_ID, is_sandbox=True)
    await client.start_session(token.session_token)
    call = client.prepare_keep_alive(token.session_id, session_token=token.session_token)
    for _ in range(3):
        assert await client.send(call, timeout=5.0) is None
    beats = emulator.requests("keep_alive", session_id=token.session_id)
    assert [beat.body for beat in beats] == [{"session_id": token.session_id}] * 3
    assert {beat.auth for beat in beats} == {"bearer"}
    assert token.session_token.get_secret_value() not in repr(call)
    assert call.bearer is token.session_token.get_secret_value()
    assert not any(token.session_token.get_secret_value() in v for v in call.headers.values())


async def test_prepared_keep_alives_share_what_is_not_their_own(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Kept for each session's life, two sessions' prepared keep-alives share one URL and one set
    of headers; each holds only its own body and a reference to its own token."""
    tokens = [await client.create_session_token(AVATAR_ID, is_sandbox=True) for _ in range(2)]
    first, second = (
        client.prepare_keep_alive(t.session_id, session_token=t.session_token) for t in tokens
    )
    assert first.url is second.url
    assert first.headers is second.headers
    assert (first.data, second.data) == tuple(
        f'{{"session_id":"{t.session_id}"}}'.encode() for t in tokens
    )
    assert (first.bearer, second.bearer) == tuple(
        t.session_token.get_secret_value() for t in tokens
    )


async def test_send_takes_only_a_prepared_call(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """send() of anything but a prepared call is a ConfigurationError naming it, before any I/O."""
    with pytest.raises(ConfigurationError) as info:
        await client.send({"session_id": AVATAR_ID})  # type: ignore[arg-type]
    assert info.value.field == "call"
    assert emulator.journal == []


@pytest.mark.parametrize(
    ("where", "option"),
    [
        ("client", "base_uri"),
        ("client", "connection_limt"),
        ("call", "timout"),
        ("call", "retries"),
    ],
)
async def test_an_unknown_option_is_refused_by_name(
    emulator: LiveAvatarEmulator, where: str, option: str
) -> None:
    """A misspelt client or call option is a ConfigurationError naming it (never silently ignored),
    before any I/O."""
    misspelt: dict[str, Any] = {option: 1}
    with pytest.raises(ConfigurationError) as info:
        if where == "client":
            LiveAvatarClient(API_KEY, base_url=emulator.base_url, **misspelt)
        else:
            async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as c:
                await c.get_session(AVATAR_ID, **misspelt)
    assert info.value.field == option
    assert "timeout" in str(info.value) or "base_url" in str(info.value)
    assert emulator.journal == []


@pytest.mark.parametrize("deadline", [math.nan, math.inf, "soon", 1e16])
async def test_a_bad_deadline_is_refused(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, deadline: Any
) -> None:
    """deadline must be a finite loop time: anything else is a ConfigurationError, nothing sent."""
    with pytest.raises(ConfigurationError) as info:
        await client.get_session(AVATAR_ID, deadline=deadline)
    assert info.value.field == "deadline"
    assert emulator.journal == []


async def test_a_passed_deadline_allows_one_attempt_and_no_retry(
    emulator: LiveAvatarEmulator,
) -> None:
    """A deadline already past: the call is sent once and its 503 is not retried."""
    emulator.inject("get", status=503, times=3)
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as c:
        with pytest.raises(ServerError):
            await c.get_session(AVATAR_ID, deadline=anyio.current_time() - 1.0)
    assert len(emulator.requests("get")) == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [({"status": 503, "retry_after": "0.05"}, ServerError), ({"drop": True}, TransportError)],
    ids=["a retryable status", "no answer"],
)
async def test_a_retry_whose_wait_outlasts_the_deadline_is_not_sent(
    emulator: LiveAvatarEmulator,
    caplog: pytest.LogCaptureFixture,
    fault: dict[str, Any],
    error: type[Exception],
) -> None:
    """A retry allowed when its wait began is not sent when the loop stalled through that wait past
    the deadline (a beat's retry held over a collection would reach the server after the next beat
    was due): the call ends with the answer or error it had. The stall is made in the wait itself,
    from the retry's own log record, as long as it takes to pass the deadline; no request reaches
    the server after it (a stale pooled connection's resend, at once and logged with no wait, is
    not a wait)."""
    emulator.inject("keep_alive", times=3, **fault)
    caplog.set_level(logging.INFO, logger="aioavatar")
    loop = asyncio.get_running_loop()
    deadline = anyio.current_time() + 2.0
    sent_before_the_stall: list[int] = []

    class StallInTheWait(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if "retrying in" in text and "stale connection" not in text:
                sent_before_the_stall.append(len(emulator.requests("keep_alive")))
                loop.call_soon(time.sleep, max(0.0, deadline - loop.time()) + 0.01)

    stall = StallInTheWait()
    logging.getLogger("aioavatar").addHandler(stall)
    try:
        async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as c:
            token = await c.create_session_token(AVATAR_ID)
            await c.start_session(token.session_token)
            with pytest.raises(error):
                await c.keep_alive(
                    token.session_id, session_token=token.session_token, deadline=deadline
                )
    finally:
        logging.getLogger("aioavatar").removeHandler(stall)
    assert len(sent_before_the_stall) == 1
    assert len(emulator.requests("keep_alive")) == sent_before_the_stall[0]


# ---- credits and languages ---------------------------------------------------------------------


async def test_get_credits_is_exact_and_drawn_down_by_mode(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """``get_credits`` reads ``GET /v1/users/credits`` with the API key into a Decimal (the server's
    decimal string, kept exact); a running LITE session draws it down, a sandbox one does not."""
    emulator.add_credits("-9990.1")  # 9.9 left
    credits = await client.get_credits()
    assert credits.credits_left == Decimal("9.9000")
    assert credits.minutes("LITE") == Decimal("9.9")
    assert credits.minutes() == Decimal("4.95")
    request = emulator.requests("credits")[-1]
    assert (request.method, request.path, request.auth) == ("GET", "/v1/users/credits", "api_key")
    sandbox = await client.create_session_token(AVATAR_ID, is_sandbox=True)
    await client.start_session(sandbox.session_token)
    lite = await client.create_session_token(AVATAR_ID, mode="LITE")
    await client.start_session(lite.session_token)
    await anyio.sleep(0.05)
    assert (await client.get_credits()).credits_left < Decimal("9.9")
    await client.stop_session(lite.session_id)
    spent = Decimal("9.9") - (await client.get_credits()).credits_left
    entry = await client.get_session(lite.session_id)
    assert entry.credits_consumed is not None
    assert abs(spent - Decimal(repr(entry.credits_consumed))) < Decimal("0.001")


@pytest.mark.parametrize(
    "raw",
    [b'"12.3456"', b"12", b'"1e2"'],
)
async def test_credits_read_a_decimal_string_or_number(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, raw: bytes
) -> None:
    """``credits_left`` is read from a decimal string (or a JSON number, through its text), exact."""
    emulator.inject("credits", body=b'{"code": 1000, "data": {"credits_left": ' + raw + b"}}")
    assert (await client.get_credits()).credits_left == Decimal(raw.decode().strip('"'))


@pytest.mark.parametrize(
    "raw", [b'"lots"', b'"NaN"', b"true", b"null", b'"1e9999999"', b'"1e-9999999"']
)
async def test_credits_that_are_not_a_number_are_a_decode_error(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, raw: bytes
) -> None:
    """A balance that is not a finite decimal raises ResponseDecodeError naming the field; so does
    one past any amount (``1e9999999``: a number, but ``minutes()`` divided it into a bare
    ``decimal.Overflow``)."""
    emulator.inject("credits", body=b'{"code": 1000, "data": {"credits_left": ' + raw + b"}}")
    with pytest.raises(ResponseDecodeError, match="credits_left"):
        await client.get_credits()


async def test_list_languages(client: LiveAvatarClient, emulator: LiveAvatarEmulator) -> None:
    """``GET /v1/languages`` gives each language's name and code; a 5xx on it is retried."""
    emulator.inject("languages", status=500)
    languages = await client.list_languages()
    assert ("English", "en") in [(item.language, item.code) for item in languages]
    assert [r.status for r in emulator.requests("languages")] == [500, 200]


async def test_starts_and_stops_of_sessions_share_the_parts_the_client_made_once(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Every session starts and stops once: the URL, headers and the client's credentials of those
    calls are made once per client (one shape per endpoint, holding no session's token), each call
    carrying only its own token and body. Each session's start and stop reach the server with its
    own token and body."""
    tokens = [await client.create_session_token(AVATAR_ID, is_sandbox=True) for _ in range(3)]
    raw = [token.session_token.get_secret_value() for token in tokens]
    shapes = []
    for token in tokens:
        await client.start_session(token.session_token)
        assert await client.stop_session(token.session_id, session_token=token.session_token)
        shapes.append(dict(client._bearer_shapes))
    assert client._account_shapes == {}  # none of those calls went with the key
    assert sorted(shapes[0]) == ["/v1/sessions/start", "/v1/sessions/stop"]
    for path, shape in shapes[0].items():
        assert all(later[path] is shape for later in shapes[1:])  # made once, not per session
        assert shape.bearer is None
        assert not set(raw) & set(shape.credentials)
    later_stop = client._session_call(
        STOP, tokens[2].session_token, {"session_id": tokens[2].session_id}
    )
    assert later_stop.bearer == raw[2]
    assert [c for c in later_stop.credentials if c in raw] == [raw[2]]  # no other session's token
    ids = [token.session_id for token in tokens]
    starts, stops = emulator.requests("start"), emulator.requests("stop")
    assert [r.body for r in starts] == [{}] * 3
    assert [r.body for r in stops] == [{"session_id": i, "reason": "USER_CLOSED"} for i in ids]
    for sent in (starts, stops):
        assert [r.session_id for r in sent] == ids  # each found its session by its own token
        assert {(r.auth, r.status in (200, 201)) for r in sent} == {("bearer", True)}


async def test_keep_alives_and_stops_sent_with_the_api_key_share_the_parts_the_client_made_once(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A keep-alive and a stop sent with the API key (no session token given) are built from one
    shape per endpoint as well, made once per client with the key's headers, apart from the session
    tokens' shapes: each session's calls reach the server with the key and that session's own body,
    and what they mask is the client's credentials alone."""
    tokens = [await client.create_session_token(AVATAR_ID, is_sandbox=True) for _ in range(3)]
    shapes = []
    for token in tokens:
        await client.start_session(token.session_token)
        await client.keep_alive(token.session_id)
        assert await client.stop_session(token.session_id)
        shapes.append(dict(client._account_shapes))
    assert sorted(shapes[0]) == ["/v1/sessions/keep-alive", "/v1/sessions/stop"]
    for path, shape in shapes[0].items():
        assert all(later[path] is shape for later in shapes[1:])  # made once, not per session
        assert shape.bearer is None
        assert shape.headers["X-API-KEY"] == API_KEY
    assert sorted(client._bearer_shapes) == ["/v1/sessions/start"]  # the token's, kept apart
    raw = {token.session_token.get_secret_value() for token in tokens}
    later = client._session_call(STOP, None, {"session_id": tokens[2].session_id})
    assert later.bearer is None
    assert API_KEY in later.credentials
    assert not raw & set(later.credentials)
    ids = [token.session_id for token in tokens]
    beats, stops = emulator.requests("keep_alive"), emulator.requests("stop")
    assert [r.body for r in beats] == [{"session_id": i} for i in ids]
    assert [r.body for r in stops] == [{"session_id": i, "reason": "USER_CLOSED"} for i in ids]
    for sent in (beats, stops):
        assert [r.session_id for r in sent] == ids
        assert {(r.auth, r.status) for r in sent} == {("api_key", 200)}


async def test_a_path_that_names_a_session_is_never_shaped_once_for_every_session(
    client: LiveAvatarClient,
) -> None:
    """A shape is one URL for every session: an endpoint whose path names one (``{session_id}``)
    is refused when its shape would be made, by token or by key, and nothing is kept."""
    endpoint = Endpoint("POST", "/v1/sessions/{session_id}/stop", "stop", data_used=False)
    for bearer in ("a-session-token-of-some-length", None):
        with pytest.raises(ValueError, match="names no session"):
            client._shaped_call(endpoint, bearer, b"{}")
    assert endpoint.path not in client._bearer_shapes
    assert endpoint.path not in client._account_shapes


async def test_a_token_request_of_plain_values_is_prepared_once_per_client(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Tokens created again and again for the same avatar and plain options reuse the call prepared
    the first time (both reach the server, with the same body). A request holding anything else is
    prepared each time: a dynamic-variables dict changed between two calls is sent as it is now, and
    a LITE connector's config (its room token) is not kept by the client."""
    for _ in range(2):
        await client.create_session_token(AVATAR_ID, is_sandbox=True)
    assert len(client._token_calls) == 1
    request = SessionTokenRequest(avatar_id=AVATAR_ID, dynamic_variables={"name": "Ada"})
    await client.create_session_token(request=request)
    assert request.dynamic_variables is not None
    request.dynamic_variables["name"] = "Grace"
    await client.create_session_token(request=request)
    room = LiveKitConfig(
        livekit_url="wss://room.example", livekit_room="room", livekit_client_token="r" * 40
    )
    await client.create_session_token(AVATAR_ID, mode="LITE", livekit_config=room)
    assert len(client._token_calls) == 1
    bodies = [request.body for request in emulator.requests("token")]
    assert bodies[0] == bodies[1] == {"avatar_id": AVATAR_ID, "is_sandbox": True}
    assert [body.get("dynamic_variables") for body in bodies[2:4]] == [
        {"name": "Ada"},
        {"name": "Grace"},
    ]
    assert bodies[4]["livekit_config"]["livekit_room"] == "room"


async def test_token_requests_of_different_plain_values_are_different_calls(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Two requests of plain values that differ (sandbox or not) are two kept calls, each sent with
    its own body, alternately."""
    for sandbox in (True, False, True, False):
        await client.create_session_token(AVATAR_ID, is_sandbox=sandbox)
    assert len(client._token_calls) == 2
    assert [r.body.get("is_sandbox") for r in emulator.requests("token")] == [True, False] * 2
