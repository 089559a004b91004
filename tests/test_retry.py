"""``aioavatar._retry``: the client-wide retry budget against the emulator: it caps the retries of many
failing calls, successes refund it, and it never refuses a stop's retry; its settings are checked."""

from __future__ import annotations

import logging

import anyio
import pytest

from aioavatar import LiveAvatarClient, RetryBudget, RetryPolicy, ServerError
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(retries=2, backoff_initial=0.001, backoff_max=0.005)


async def test_budget_caps_retries_of_a_thousand_concurrent_failing_calls(
    emulator: LiveAvatarEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """1000 calls failing at once retry at most `capacity` times in all (not 2000), and the
    exhausted budget is logged once, not once per refused retry."""
    emulator.inject("list", status=503, times=100_000)
    budget = RetryBudget()
    caplog.set_level(logging.WARNING, logger="aioavatar")
    async with LiveAvatarClient(
        API_KEY, base_url=emulator.base_url, retry_policy=FAST, retry_budget=budget
    ) as client:
        failures = 0

        async def one() -> None:
            nonlocal failures
            with pytest.raises(ServerError):
                await client.list_sessions("active")
            failures += 1

        async with anyio.create_task_group() as tg:
            for _ in range(1000):
                tg.start_soon(one)
    assert failures == 1000
    assert len(emulator.requests("list")) == 1000 + int(budget.capacity)
    assert budget.tokens < 1
    spent = [r for r in caplog.records if "retry budget spent" in r.getMessage()]
    assert len(spent) == 1


async def test_successes_refund_the_budget(emulator: LiveAvatarEmulator) -> None:
    """Once spent, the budget allows no retry until successes have refunded a whole token
    (10 successes at the default refund of 0.1)."""
    budget = RetryBudget(capacity=1)
    async with LiveAvatarClient(
        API_KEY, base_url=emulator.base_url, retry_policy=FAST, retry_budget=budget
    ) as client:
        emulator.inject("list", status=503, times=2)
        with pytest.raises(ServerError):  # one retry spends the only token
            await client.list_sessions("active")
        assert [r.status for r in emulator.requests("list")] == [503, 503]
        for _ in range(9):
            await client.list_sessions("historic")
        emulator.inject("list", status=503)
        with pytest.raises(ServerError):  # 0.9 tokens: no retry yet
            await client.list_sessions("active")
        await client.list_sessions("historic")  # the tenth success
        emulator.inject("list", status=503)
        await client.list_sessions("active")  # retried with the refunded token
    statuses = [r.status for r in emulator.requests("list")]
    assert statuses == [503, 503] + [200] * 9 + [503, 200, 503, 200]


def test_budget_rejects_negative_settings() -> None:
    """A negative capacity or refund is a ConfigurationError naming it."""
    from aioavatar import ConfigurationError

    with pytest.raises(ConfigurationError, match="capacity"):
        RetryBudget(capacity=-1)
    with pytest.raises(ConfigurationError, match="refund"):
        RetryBudget(refund=-0.1)
    assert RetryBudget(capacity=3).tokens == 3


async def test_a_spent_budget_never_refuses_a_stops_retry(emulator: LiveAvatarEmulator) -> None:
    """With the retry budget empty (an outage), other calls fail at once, but a stop still gets its
    retries within stop_timeout: it is what keeps a session from running on and billing."""
    budget = RetryBudget(capacity=0)
    async with LiveAvatarClient(
        API_KEY, base_url=emulator.base_url, retry_policy=FAST, retry_budget=budget
    ) as client:
        token = await client.create_session_token(AVATAR_ID)
        await client.start_session(token.session_token)
        emulator.inject("keep_alive", status=503)
        with pytest.raises(ServerError):
            await client.keep_alive(token.session_id)  # no token to spend: not retried
        emulator.inject("stop", status=503, times=2)
        assert await client.stop_session(token.session_id) is True
    assert [r.status for r in emulator.requests("keep_alive")] == [503]
    assert [r.status for r in emulator.requests("stop")] == [503, 503, 200]
