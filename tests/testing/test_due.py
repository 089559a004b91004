"""The emulators' due times (``aioavatar/testing/_due.py``): a sweep costs the sessions due, not every
session held, and a session kept alive past its first due time still ends at its own deadline."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from types import FrameType
from typing import Any

import aiohttp
import anyio
import pytest

from aioavatar import KalturaAvatarClient
from aioavatar._enums import EndReason
from aioavatar.liveavatar._enums import Mode
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator
from aioavatar.testing._due import DueTimes
from aioavatar.testing._kaltura import _state as kaltura_state
from aioavatar.testing._kaltura._state import KalturaEmulatedSession, KalturaState
from aioavatar.testing._liveavatar import _state as liveavatar_state
from aioavatar.testing._liveavatar._state import EmulatedSession, LiveAvatarState

from ..providers import KALTURA_AVATAR_ID, KS
from .helpers import API_KEY, AVATAR, bearer, call, start

pytestmark = pytest.mark.anyio


def test_items_come_out_when_due_earliest_first_ties_in_the_order_added() -> None:
    """Only what is due by ``now`` comes out, earliest first; equal times keep their order."""
    due: DueTimes[str] = DueTimes()
    for at, name in [(3.0, "c"), (1.0, "a"), (2.0, "b1"), (2.0, "b2"), (9.0, "late")]:
        due.add(at, name)
    assert due.pop_due(0.5) == []
    assert due.pop_due(2.0) == ["a", "b1", "b2"]
    assert len(due) == 2
    assert due.pop_due(5.0) == ["c"]
    assert due.pop_due(9.0) == ["late"]
    assert len(due) == 0


def _events(work: Callable[[], None]) -> int:
    """The Python lines and calls ``work`` runs (a count, not a timing)."""
    count = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        count += 1
        return tracer

    previous = sys.gettrace()
    collecting = gc.isenabled()
    gc.disable()  # a collection meanwhile runs other objects' finalizers: their lines are not work's
    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(previous)
        if collecting:
            gc.enable()
    return count


def _liveavatar_state(
    running: int,
    *,
    duration_limit: float = 1200.0,
    credits: int = 10_000,
    now: float | None = None,
) -> LiveAvatarState:
    state = LiveAvatarState(
        api_key=API_KEY,
        idle_timeout=300.0,
        sandbox_max_duration=60.0,
        tier_max_session_duration=1200,
        rate_limit=None,
        credits=Decimal(credits),
    )
    now = time.monotonic() if now is None else now
    for index in range(running):
        session = EmulatedSession(
            id=f"s{index}",
            token=f"t{index}",
            avatar_id=AVATAR,
            mode=Mode.FULL,
            is_sandbox=False,
            max_session_duration=None,
            duration_limit=duration_limit,
            context_id=None,
            has_ws=False,
            created_at=now,
            updated_at=now,
            last_activity=now,
        )
        state.add(session)
        state.start(session, now)
    return state


def _kaltura_state(running: int, *, now: float | None = None) -> KalturaState:
    state = KalturaState(
        ks=KS, non_admin_ks=None, idle_timeout=90.0, ended_status=404, say_text_unavailable=False
    )
    now = time.monotonic() if now is None else now
    for index in range(running):
        state.add(
            KalturaEmulatedSession(
                id=f"{index:024x}",
                token=f"t{index}",
                avatar_id=KALTURA_AVATAR_ID,
                voice_id=None,
                voice_speed=None,
                created_at=now,
                last_activity=now,
            )
        )
    return state


@pytest.mark.parametrize("make", [_liveavatar_state, _kaltura_state], ids=["liveavatar", "kaltura"])
def test_a_sweep_costs_the_sessions_due_not_every_session_held(
    make: Callable[[int], LiveAvatarState | KalturaState],
) -> None:
    """The reaper sweeps every 50 ms: with none due, a sweep over 5,000 running sessions runs the
    same lines as over 5 (a pass over all of them ran thousands more), and ends none."""
    few, many = make(5), make(5_000)
    assert _events(many.sweep) == _events(few.sweep)
    assert sum(1 for s in many.sessions.values() if s.is_active) == 5_000


class _Clock:
    """``time.monotonic`` for a state module, moved by hand."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    """Both emulators' states on a clock the test moves (their modules read ``time.monotonic()``)."""
    fake = _Clock()
    for module in (liveavatar_state, kaltura_state):
        monkeypatch.setattr(module, "time", fake)
    return fake


@pytest.mark.parametrize(
    ("duration_limit", "end", "reason"),
    [(1200.0, 500.0, EndReason.IDLE_TIMEOUT), (400.0, 400.0, EndReason.MAX_DURATION_REACHED)],
    ids=["idle", "duration"],
)
def test_a_sweep_ends_a_session_kept_alive_past_its_first_due_time_exactly_at_its_end(
    clock: _Clock, duration_limit: float, end: float, reason: EndReason
) -> None:
    """Started at 0 with a 300 s idle window and kept alive at 200: the sweep at 300 (its first due
    time) ends nothing; a sweep a moment before its real end ends nothing; the sweep at its end ends
    it, with the right reason, as of then (a late reaper or a lost entry would leave it running)."""
    start = clock.now
    state = _liveavatar_state(1, duration_limit=duration_limit, now=start)
    [session] = state.sessions.values()
    clock.now = start + 200.0
    state.touch(session)
    for at in (300.0, end - 1e-6):
        clock.now = start + at
        state.sweep()
        assert session.state == "started", at
    clock.now = start + end
    state.sweep()
    assert (session.state, session.end_reason, session.ended_at) == ("ended", reason, start + end)


def test_a_kaltura_sweep_ends_a_session_kept_alive_past_its_first_due_time_exactly_at_its_end(
    clock: _Clock,
) -> None:
    """The same for Kaltura: created at 0 with a 90 s window, kept alive at 60, ended at 150."""
    start = clock.now
    state = _kaltura_state(1, now=start)
    [session] = state.sessions.values()
    clock.now = start + 60.0
    session.last_activity = clock.now  # what a keep-alive does
    for at in (90.0, 150.0 - 1e-6):
        clock.now = start + at
        state.sweep()
        assert session.state == "active", at
    clock.now = start + 150.0
    state.sweep()
    assert (session.state, session.ended_by, session.ended_at) == ("ended", "idle", start + 150.0)


def test_once_the_credits_have_run_out_a_sweep_still_costs_the_sessions_due(
    clock: _Clock,
) -> None:
    """Paying sessions that ran the balance out end with NO_CREDITS; after that a sweep over 5, 7 or
    1,000 ended sessions runs the same lines as over none (the running sessions' rate, often left
    as a small positive rest by float sums, sent every sweep through every session again)."""
    states = [_liveavatar_state(count, credits=1, now=clock.now) for count in (5, 7, 1_000)]
    none_paying = _liveavatar_state(0, credits=1, now=clock.now)
    clock.now += 60.0  # 2 credits a minute each: the balance ran out, no idle window has passed
    for state in states:
        state.sweep()
        assert {s.end_reason for s in state.sessions.values()} == {EndReason.NO_CREDITS}
    assert [_events(state.sweep) for state in states] == [_events(none_paying.sweep)] * 3


async def test_a_liveavatar_session_kept_alive_past_its_first_due_time_ends_at_its_own_deadline(
    http: aiohttp.ClientSession,
) -> None:
    """Over real sockets: a session whose keep-alives moved its end past three idle windows is
    reaped, unasked, as of its last keep-alive plus the window (its first due time only had it
    looked at again). The keep-alives come every 50 ms against a 0.6 s window."""
    async with LiveAvatarEmulator(API_KEY, idle_timeout=0.6) as emulator:
        session_id, token, _ = await start(http, emulator)
        started = emulator.sessions[session_id].started_at
        assert started is not None
        while time.monotonic() < started + 2.0:
            reply = await call(
                http, emulator, "POST", "/v1/sessions/keep-alive", headers=bearer(token)
            )
            assert reply.status == 200
            await anyio.sleep(0.05)
        session = emulator.sessions[session_id]
        last = session.last_activity
        with anyio.fail_after(5):
            while session.state != "ended":  # noqa: ASYNC110 - the reaper shares this loop
                await anyio.sleep(0.01)
        assert session.end_reason is EndReason.IDLE_TIMEOUT
        assert session.ended_at is not None
        assert session.ended_at == pytest.approx(last + 0.6, abs=1e-9)
        assert session.ended_at > started + 2.0


async def test_a_kaltura_session_kept_alive_past_its_first_due_time_ends_at_its_own_deadline() -> (
    None
):
    """The same for Kaltura: reaped at its last keep-alive plus the window, not at its first."""
    async with (
        KalturaEmulator(ks=KS, idle_timeout=0.6) as emulator,
        KalturaAvatarClient(KS, base_url=emulator.base_url) as client,
    ):
        created = await client.create_session(KALTURA_AVATAR_ID)
        session = emulator.sessions[created.session_id]
        while time.monotonic() < session.created_at + 2.0:
            await client.keep_alive(created.session_id, token=created.token)
            await anyio.sleep(0.05)
        last = session.last_activity
        with anyio.fail_after(5):
            while session.state != "ended":  # noqa: ASYNC110 - the reaper shares this loop
                await anyio.sleep(0.01)
        assert session.ended_by == "idle"
        assert session.ended_at is not None
        assert session.ended_at == pytest.approx(last + 0.6, abs=1e-9)
        assert session.ended_at > session.created_at + 2.0
