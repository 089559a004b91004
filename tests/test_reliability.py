"""Hostile answers and per-call retry policies on every endpoint, against the emulator over real sockets.

The hostile-input matrix injects every fault on every endpoint and checks the typed error, how many
attempts the server saw, and that no connection or task is left behind; the session matrix checks what
each fault does to a whole session (which stop, with which reason).
"""

from __future__ import annotations

import email.utils
import gzip
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from aioavatar import (
    APIError,
    AvatarError,
    AvatarSession,
    EndReason,
    LiveAvatarClient,
    LiveAvatarTimeouts,
    RateLimitedError,
    RequestTimeout,
    ResponseDecodeError,
    RetryPolicy,
    Secret,
    ServerError,
    SessionStopError,
    Timeout,
    TransportError,
)
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID
from .leaks import acquired_connections, assert_no_tasks_left, task_snapshot, wait_until

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(retries=0)
FAST = RetryPolicy(retries=2, backoff_initial=0.001, backoff_max=0.005)
HUGE = 1024 * 1024 + 1
CALL_TIMEOUT = Timeout(total=5.0, connect=2.0)
DRIP_TIMEOUT = Timeout(total=0.3, connect=0.3)


def http_date(delta: timedelta) -> str:
    return email.utils.format_datetime(datetime.now(UTC) + delta, usegmt=True)


@dataclass(frozen=True)
class Fault:
    """A hostile answer: how to inject it, what it raises, and whether the transport may retry it."""

    name: str
    inject: dict[str, Any]
    error: type[AvatarError]
    retryable: bool = False
    exact: bool = False  # the error is exactly this class (not a subclass)


FAULTS = [
    Fault("malformed_json", {"malformed": True}, ResponseDecodeError),
    Fault(
        "html_502",
        {
            "status": 502,
            "body": b"<html><h1>502 Bad Gateway</h1></html>",
            "content_type": "text/html",
        },
        ServerError,
        retryable=True,
    ),
    Fault(
        "html_on_200",
        {"body": b"<html>maintenance</html>", "content_type": "text/html"},
        ResponseDecodeError,
    ),
    Fault("truncated", {"truncate": True}, TransportError, retryable=True, exact=True),
    Fault("slow_drip", {"drip": 0.05}, RequestTimeout, retryable=True),
    Fault(
        "missing_field",
        {"body": b'{"code": 1000, "data": {}, "message": "ok"}'},
        ResponseDecodeError,
    ),
    Fault(
        "code_not_success",
        {"body": b'{"code": 4002, "data": null, "message": "no credits"}'},
        APIError,
        exact=True,
    ),
    Fault("huge_with_length", {"body": b"x" * HUGE}, ResponseDecodeError),
    Fault("huge_chunked", {"body": b"x" * HUGE, "chunked": True}, ResponseDecodeError),
    Fault(
        "retry_after_far_date",
        {"status": 429, "retry_after": http_date(timedelta(hours=1))},
        RateLimitedError,
    ),
    Fault(
        "retry_after_garbage",
        {"status": 429, "retry_after": "soon, maybe"},
        RateLimitedError,
        retryable=True,
    ),
    Fault(
        "retry_after_overflowing_date",
        {"status": 429, "retry_after": "Mon, 01 Jan 2024 00:00:00 +99999999999999999999"},
        RateLimitedError,
        retryable=True,
    ),
    Fault(
        "redirect_to_an_unreadable_location",
        {"status": 302, "headers": {"Location": "http://[not-ipv6/x"}},
        APIError,
        exact=True,
    ),
    Fault(
        "code_not_hashable",
        {"body": b'{"code": [1000], "data": null, "message": "a list"}'},
        APIError,
        exact=True,
    ),
    Fault("dropped", {"drop": True}, TransportError, retryable=True, exact=True),
    Fault(
        "gzip_bomb",
        {"body": gzip.compress(bytes(8 * 1024 * 1024)), "headers": {"Content-Encoding": "gzip"}},
        ResponseDecodeError,
    ),
    Fault("deep_nesting", {"body": b"[" * 200_000}, ResponseDecodeError),
    Fault(
        "deep_nesting_500",
        {"status": 500, "body": b'{"message": ' + b"[" * 200_000},
        ServerError,
        retryable=True,
    ),
    Fault("no_content", {"status": 204}, ResponseDecodeError),
]
ENDPOINTS = ["token", "start", "keep_alive", "stop", "list", "get", "transcript"]
# Endpoints whose answer carries no model: an empty `data` (or no body at all) is a success there.
UNTYPED = {"keep_alive", "stop"}


@dataclass
class Started:
    session_id: str
    token: Secret


async def prepare(client: LiveAvatarClient, endpoint: str) -> Started | None:
    """What a call to ``endpoint`` needs: a token for start, a started session for the rest."""
    if endpoint == "token":
        return None
    token = await client.create_session_token(AVATAR_ID, is_sandbox=True)
    if endpoint != "start":
        await client.start_session(token.session_token)
    return Started(token.session_id, token.session_token)


def caller(
    client: LiveAvatarClient,
    endpoint: str,
    ctx: Started | None,
    timeout: Timeout,
    policy: RetryPolicy | None = None,
) -> Callable[[], Awaitable[Any]]:
    kw: dict[str, Any] = {"timeout": timeout, "retry_policy": policy}
    if endpoint == "token":
        return lambda: client.create_session_token(AVATAR_ID, **kw)
    assert ctx is not None
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "start": lambda: client.start_session(ctx.token, **kw),
        "keep_alive": lambda: client.keep_alive(ctx.session_id, session_token=ctx.token, **kw),
        "stop": lambda: client.stop_session(ctx.session_id, session_token=ctx.token, **kw),
        "list": lambda: client.list_sessions("active", **kw),
        "get": lambda: client.get_session(ctx.session_id, **kw),
        "transcript": lambda: client.get_transcript(ctx.session_id, **kw),
    }
    return calls[endpoint]


def expected_error(fault: Fault, endpoint: str) -> type[AvatarError] | None:
    """The error a call raises under ``fault``; ``None`` where the documented outcome is success."""
    if fault.name in ("missing_field", "no_content") and endpoint in UNTYPED:
        # Keep-alive and stop use no data: a 2xx is a success whatever fields its body lacks. A
        # body that cannot be read (too big, a bomb) may say failure: an error there too.
        return None
    return fault.error


def expected_attempts(fault: Fault, endpoint: str) -> int:
    """Start is retried only when never sent; 2xx answers are never retried; anything retryable is
    sent exactly ``retries + 1`` times, whoever would resend it: a drop on a pooled connection is
    resent at once as one of those attempts, and aiohttp's own resend of a GET is switched off."""
    if endpoint == "start" or not fault.retryable or fault.name == "slow_drip":
        return 1
    return 1 + FAST.retries


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_hostile_answer_matrix(
    emulator: LiveAvatarEmulator, fault: Fault, endpoint: str
) -> None:
    """Every hostile answer on every endpoint gives its documented typed error (or the documented
    success), after the attempts the operation allows, and leaves no connection or task behind."""
    baseline = task_snapshot()
    async with LiveAvatarClient(
        API_KEY, base_url=emulator.base_url, retry_policy=FAST, connection_limit=1
    ) as client:
        ctx = await prepare(client, endpoint)
        before = len(emulator.requests(endpoint))
        emulator.inject(endpoint, times=10, **fault.inject)
        # The drip outlasts any timeout: one attempt is enough to show the call ends at its own.
        drip = fault.name == "slow_drip"
        call = caller(
            client,
            endpoint,
            ctx,
            DRIP_TIMEOUT if drip else CALL_TIMEOUT,
            NO_RETRY if drip else None,
        )
        error = expected_error(fault, endpoint)
        with anyio.fail_after(10):  # a hang fails here, not at the suite's timeout
            if error is None:
                await call()
            else:
                with pytest.raises(error) as info:
                    await call()
                if fault.exact:
                    assert type(info.value) is error
        emulator.clear_faults()
        attempts = len(emulator.requests(endpoint)) - before
        assert attempts == expected_attempts(fault, endpoint)
        if fault.name == "retry_after_far_date":
            assert isinstance(info.value, RateLimitedError)
            assert info.value.retry_after is not None
            assert info.value.retry_after > 3000
        if fault.name in ("retry_after_garbage", "retry_after_overflowing_date"):
            assert isinstance(info.value, RateLimitedError)
            assert info.value.retry_after is None
        if fault.name.startswith("html") and error is not None:
            assert "html" in str(info.value)  # the excerpt or the content type says what came
        assert acquired_connections(client) == 0
        # The pool has one connection: a leaked one would make this call wait out its timeout.
        page = await client.list_sessions("historic", timeout=Timeout(total=2.0, connect=1.0))
        assert emulator.requests("list")[-1].status == 200  # answered by the server, not a fault
        ended = [s for s in emulator.sessions.values() if s.state == "ended"]
        assert page.count == len(ended)  # and read whole: the server's own count
    await assert_no_tasks_left(baseline)


async def test_json_with_a_wrong_content_type_is_accepted(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A valid envelope served as text/plain is read (the body decides, not the label), as the
    official clients do; a non-JSON body is refused naming the content type (see the matrix)."""
    emulator.inject(
        "list",
        body=b'{"code": 1000, "data": {"count": 0, "results": []}, "message": "ok"}',
        content_type="text/plain",
    )
    page = await client.list_sessions("active")
    assert page.count == 0


# --- sessions under hostile answers ---------------------------------------------------------------

SESSION_FAULTS = [f for f in FAULTS if f.name not in ("html_on_200", "huge_with_length")]


# Short limits, so that a dripping answer costs a fraction of a second per attempt.
SHORT = LiveAvatarTimeouts(*(Timeout(total=0.5, connect=0.5) for _ in range(5)))


def session_on(client: LiveAvatarClient, **kw: Any) -> AvatarSession:
    kw.setdefault("keep_alive_interval", 0.15)
    kw.setdefault("stop_timeout", 2.0)
    return client.session(AVATAR_ID, is_sandbox=True, **kw)


@pytest.mark.parametrize("phase", ["token", "start", "keep_alive", "stop"])
@pytest.mark.parametrize("fault", SESSION_FAULTS, ids=[f.name for f in SESSION_FAULTS])
async def test_session_under_hostile_answers(
    emulator: LiveAvatarEmulator, fault: Fault, phase: str
) -> None:
    """A session meets a hostile answer in one phase: the emulator sees at most one stop per started
    session (its retries carry the same reason), with the reason the lifecycle rules give."""
    baseline = task_snapshot()
    # Persistent faults before the session runs; transient ones (a burst of two) on its beats and stop.
    times = 2 if phase in ("keep_alive", "stop") else 10
    inject = fault.inject
    raised: BaseException | None = None
    async with LiveAvatarClient(
        API_KEY, base_url=emulator.base_url, retry_policy=FAST, timeouts=SHORT
    ) as client:
        # A faulted beat's retries may start until half an interval after it fell due (rule 5): at
        # 0.15 s, a loop 75 ms late on a loaded machine (a full collection, say) cut them short.
        session = session_on(client, keep_alive_interval=0.6 if phase == "keep_alive" else 0.15)
        try:
            with anyio.fail_after(15):
                if phase in ("token", "start"):
                    emulator.inject(phase, times=times, **inject)
                async with session:
                    if phase == "keep_alive":
                        emulator.inject("keep_alive", times=times, **inject)
                        await wait_until(lambda: len(emulator.requests("keep_alive")) >= 4)
                    if phase == "stop":
                        emulator.inject("stop", times=times, **inject)
        except AvatarError as exc:
            raised = exc
        emulator.clear_faults()
        assert acquired_connections(client) == 0

    started = [s for s in emulator.sessions.values() if s.started_at is not None]
    stops = emulator.requests("stop")
    error = expected_error(fault, phase)
    if phase == "token":
        assert error is not None
        assert isinstance(raised, error)
        assert started == []
        assert stops == []
    elif phase == "start":
        assert error is not None
        assert isinstance(raised, error)
        (sid,) = emulator.sessions
        if isinstance(raised, APIError) and 400 <= raised.status < 500:
            assert stops == []  # a definite refusal: nothing ran, nothing to stop (rule 3)
        else:
            assert emulator.stop_reasons(sid) == ["SERVER_ERROR"]  # rule 3
            assert emulator.active_sessions() == []
    else:
        (sid,) = emulator.sessions
        reasons = emulator.stop_reasons(sid)
        assert reasons
        assert set(reasons) == {"USER_CLOSED"}
        applied = [r for r in stops if not r.fault or fault.inject.keys() & {"truncate", "drip"}]
        if phase == "keep_alive":
            assert raised is None
            assert len(reasons) == 1
            assert emulator.sessions[sid].end_reason is EndReason.USER_CLOSED
            failed = session.statistics().keep_alives_failed
            if error is None or (fault.retryable and fault.name != "slow_drip"):
                assert failed == 0  # answered, or retried within the beat
            elif fault.name != "slow_drip":  # a drip's retries depend on the beat's timing
                assert failed == 2
        elif error is None:  # an empty `data` on stop is a success
            assert raised is None
            assert len(reasons) == 1
        elif fault.retryable:
            assert raised is None  # retried within stop_timeout and confirmed (or found ended)
            assert emulator.sessions[sid].end_reason is EndReason.USER_CLOSED
            assert len(applied) >= 1
        else:
            # Not confirmed: a 2xx that cannot be read is not retried (it may have stopped the
            # session), nor is a refusal. Exactly one stop was sent.
            assert isinstance(raised, SessionStopError)
            assert len(reasons) == 1
    await assert_no_tasks_left(baseline)


# --- per-call policies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e != "start"])
async def test_per_call_retry_policy_overrides_the_clients(
    emulator: LiveAvatarEmulator, endpoint: str
) -> None:
    """A call's retry_policy replaces the client's: retried with it, not without it."""
    async with LiveAvatarClient(
        API_KEY, base_url=emulator.base_url, retry_policy=NO_RETRY
    ) as client:
        ctx = await prepare(client, endpoint)
        emulator.inject(endpoint, status=503)
        with pytest.raises(ServerError):
            await caller(client, endpoint, ctx, CALL_TIMEOUT)()
        emulator.inject(endpoint, status=503)
        await caller(client, endpoint, ctx, CALL_TIMEOUT, FAST)()
    assert [r.status for r in emulator.requests(endpoint)][-3:-1] == [503, 503]
