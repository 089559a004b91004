"""Rate limits of the LiveAvatar emulator (off by default): per caller, per endpoint, fixed one-second
windows, 429 with ``Retry-After`` and ``X-RateLimit-Reset``; and the SDK staying within them.

No test assumes how long a request takes: requests sent together land in at most a few windows, so
sending more than (windows x limit) of them guarantees a 429 (pigeonhole).
"""

from __future__ import annotations

import aiohttp
import anyio
import pytest

from aioavatar import EndReason, LiveAvatarClient, RetryBudget
from aioavatar.testing import LiveAvatarEmulator

from ..conftest import FAST_RETRIES
from ..providers import API_KEY, AVATAR_ID
from .helpers import KEY, Reply, bearer, call, start

pytestmark = pytest.mark.anyio


def test_off_by_default() -> None:
    """An emulator limits nothing unless asked; rate_limit must be above 0."""
    assert LiveAvatarEmulator().rate_limit is None
    assert LiveAvatarEmulator(rate_limit=3).rate_limit == 3
    with pytest.raises(ValueError, match="rate_limit"):
        LiveAvatarEmulator(rate_limit=0)


async def test_one_caller_is_limited_per_endpoint_and_others_are_not(
    http: aiohttp.ClientSession,
) -> None:
    """With a limit of 1, seven token requests sent together on one key meet 429s carrying Retry-After
    and X-RateLimit-Reset; that key's one list request and the session token's keep-alive pass."""
    async with LiveAvatarEmulator(API_KEY, rate_limit=1) as emulator:
        _, token, _ = await start(http, emulator)
        await anyio.sleep(1.0)  # a fresh window for the key's token requests
        answers: dict[str, list[Reply]] = {"token": [], "list": [], "keep_alive": []}

        async def send(kind: str, method: str, path: str, headers: dict[str, str]) -> None:
            body = {"avatar_id": AVATAR_ID} if kind == "token" else None
            reply = await call(http, emulator, method, path, headers=headers, json_body=body)
            answers[kind].append(reply)

        async with anyio.create_task_group() as tg:
            for _ in range(7):
                tg.start_soon(send, "token", "POST", "/v1/sessions/token", KEY)
            tg.start_soon(send, "list", "GET", "/v1/sessions?type=active", KEY)
            tg.start_soon(send, "keep_alive", "POST", "/v1/sessions/keep-alive", bearer(token))
    refused = [r for r in answers["token"] if r.status == 429]
    assert {r.status for r in answers["token"]} == {200, 429}
    for reply in refused:
        assert reply.headers["Retry-After"] == "1"
        assert reply.headers["X-RateLimit-Reset"] == "1"
        assert reply.body == {"code": 429, "message": "Rate limit exceeded: 1 per 1 second"}
    assert [r.status for r in answers["list"]] == [200]
    assert [r.status for r in answers["keep_alive"]] == [200]


async def test_an_injected_429_carries_both_headers(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """inject(status=429) answers Retry-After and X-RateLimit-Reset, one window unless told otherwise."""
    emulator.inject("list", status=429)
    emulator.inject("list", status=429, retry_after="3")
    first = await call(http, emulator, "GET", "/v1/sessions?type=active", headers=KEY)
    second = await call(http, emulator, "GET", "/v1/sessions?type=active", headers=KEY)
    assert (first.headers["Retry-After"], first.headers["X-RateLimit-Reset"]) == ("1", "1")
    assert (second.headers["Retry-After"], second.headers["X-RateLimit-Reset"]) == ("3", "3")


async def test_the_sdk_waits_out_the_limit_and_its_keep_alive_stays_within_it() -> None:
    """Five sessions opened at once with a limit of 2: the burst of token requests meets 429s that the
    SDK retries after Retry-After, within its retry budget; every session then runs, keeps alive and
    stops with its own token, and none of those calls is ever refused."""
    budget = RetryBudget(capacity=50, refund=0)  # no refunds: what is spent shows
    async with (
        LiveAvatarEmulator(API_KEY, rate_limit=2) as emulator,
        LiveAvatarClient(
            API_KEY, base_url=emulator.base_url, retry_policy=FAST_RETRIES, retry_budget=budget
        ) as client,
    ):
        ran: list[str] = []

        async def one() -> None:
            async with client.session(AVATAR_ID, is_sandbox=True, keep_alive_interval=0.6) as s:
                await anyio.sleep(1.3)
                ran.append(s.session_id)

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(one)
        tokens = emulator.requests("token")
        refused = [r for r in tokens if r.status == 429]
    assert len(ran) == 5
    assert all(emulator.stop_reasons(sid) == [EndReason.USER_CLOSED.value] for sid in ran)
    assert refused  # five at once over at most two windows: one window had three or more
    first_refusal = min(r.at for r in refused)
    later = tokens[5:]  # all but the first attempts
    assert len(later) == len(refused)  # each refused request was retried once per refusal
    assert all(r.at >= first_refusal + 0.99 for r in later)  # after Retry-After, not at once
    assert budget.tokens == 50 - len(refused)  # each retry came out of the budget
    others = [r for r in emulator.journal if r.endpoint != "token"]
    assert {r.endpoint for r in others} >= {"start", "keep_alive", "stop"}
    assert all(r.status != 429 for r in others)
