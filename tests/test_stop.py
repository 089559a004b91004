"""``aioavatar._stop``: the one stop of a session (rules 9, 11 and 12 of ``_session.py``) against the
emulators: one stop whoever asks, shielded and bounded by ``stop_timeout``, a stop that finds the session
ended elsewhere, and what is said when a stop cannot be confirmed (after open, a deadline, the idle
rule, a cancellation).

Every test that takes ``provider`` runs once per provider."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import pytest

from aioavatar import (
    EndReason,
    LiveAvatarClient,
    LiveAvatarTimeouts,
    RetryPolicy,
    ServerError,
    SessionEndedError,
    SessionState,
    SessionStopError,
    Timeout,
    TransportError,
)
from aioavatar import _session as session_module
from aioavatar import _stop as stop_module
from aioavatar._keepalive import KeepAlive
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID
from .leaks import wait_until
from .providers import FIRST_OPEN_STEPS, LAST_OPEN_STEPS, OPEN_STEPS, Provider, Session, session_on

pytestmark = pytest.mark.anyio


async def cancelled_once(
    work: Callable[[], Coroutine[Any, Any, None]],
    ready: Callable[[], bool],
    message: str | None = None,
    *,
    also: Callable[[], object] | None = None,
) -> asyncio.CancelledError:
    """Run ``work()`` in a task of its own, ``task.cancel(message)`` it once ``ready()`` holds (and
    call ``also``, another cancellation at that moment), and return the ``CancelledError`` it must
    end with."""
    task = asyncio.ensure_future(work())
    await wait_until(ready)
    task.cancel(message)
    if also is not None:
        also()
    with pytest.raises(asyncio.CancelledError) as info:
        await task
    return info.value


# --- one stop (rule 9) ---------------------------------------------------------------------------------


async def test_a_failure_after_a_successful_open_still_stops_the_session(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What follows a successful open failing (here the keep-alive refusing to start, standing for a
    bug): the session runs on the server, so it is stopped once with ``SERVER_ERROR`` before the
    error propagates, and nothing is left running."""

    class BrokenKeepAlive(KeepAlive):
        __slots__ = ()

        def start(self) -> None:
            raise RuntimeError("the keep-alive would not start")

    monkeypatch.setattr(session_module, "KeepAlive", BrokenKeepAlive)
    with pytest.raises(RuntimeError, match="would not start"):
        async with provider.session():
            pytest.fail("the block must not run")
    provider.assert_stopped_once(EndReason.SERVER_ERROR)


async def test_a_cancellation_during_the_stop_after_a_failure_past_open_is_not_lost(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, with ``task.cancel()`` landing while that stop is out: the failure propagates, and
    the cancellation is delivered at the task's next wait (rule 11), not dropped."""

    class BrokenKeepAlive(KeepAlive):
        __slots__ = ()

        def start(self) -> None:
            raise RuntimeError("the keep-alive would not start")

    monkeypatch.setattr(session_module, "KeepAlive", BrokenKeepAlive)
    stop = provider.emulator.inject(provider.stop_step, delay=0.3)
    caught: list[str] = []

    async def worker() -> None:
        for _ in range(3):
            try:
                async with provider.session():
                    pytest.fail("the block must not run")
            except RuntimeError as exc:
                caught.append(str(exc))
                await asyncio.sleep(0.01)  # the cancellation is delivered here

    await cancelled_once(worker, lambda: stop.hits == 1)
    assert caught == ["the keep-alive would not start"]
    provider.assert_stopped_once(EndReason.SERVER_ERROR)


async def test_explicit_stop_is_the_only_stop(provider: Provider) -> None:
    """stop(reason) ends the session with that reason; a second stop() and the exit send nothing."""
    async with provider.session() as session:
        await session.stop(EndReason.AGENT_HANG_UP)
        assert session.state is SessionState.ENDED
        await session.stop(EndReason.USER_CLOSED)
        await session.wait_ended()
        await anyio.sleep(0.5)  # no keep-alive after the stop
    provider.assert_stopped_once(EndReason.AGENT_HANG_UP)
    stop_at = provider.emulator.requests(provider.stop_step)[0].at
    assert all(r.at < stop_at for r in provider.emulator.requests("keep_alive"))


async def test_stops_from_several_tasks_at_once_send_one_that_each_waits_for(
    provider: Provider,
) -> None:
    """Three tasks call stop() while the first stop's answer is held back: one stop reaches the
    server, and no caller returns before it is confirmed (each then finds the session ended, with
    the reason): the later callers wait on a flag made when the first of them comes."""
    provider.emulator.inject(provider.stop_step, delay=0.3)
    seen: list[tuple[SessionState, EndReason | None]] = []
    async with provider.session() as session:

        async def stopper() -> None:
            await session.stop(EndReason.AGENT_HANG_UP)
            seen.append((session.state, session.end_reason))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(stopper)
    assert seen == [(SessionState.ENDED, EndReason.AGENT_HANG_UP)] * 3
    provider.assert_stopped_once(EndReason.AGENT_HANG_UP)


async def test_every_stop_caller_learns_that_the_stop_was_not_confirmed(
    provider: Provider,
) -> None:
    """A stop that fails (every attempt 503) with three tasks calling stop(), none of them the
    block's: each caller gets SessionStopError, none returns as if the session had ended, and the
    block's clean exit raises it too (its own task was not told)."""
    provider.emulator.inject(provider.stop_step, status=503, times=100, delay=0.2)
    outcomes: list[str] = []
    with pytest.raises(SessionStopError) as at_exit:
        async with provider.session() as session:

            async def stopper() -> None:
                try:
                    await session.stop(EndReason.AGENT_HANG_UP)
                except SessionStopError as exc:
                    outcomes.append(exc.session_id)
                else:
                    outcomes.append("returned")

            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(stopper)
    assert outcomes == [session.session_id] * 3
    assert at_exit.value.session_id == session.session_id
    assert session.may_still_run
    assert session.end_reason is None


async def test_a_stop_called_again_after_one_not_confirmed_tries_again(provider: Provider) -> None:
    """The block's stop() fails (every attempt of it 503) and raises. Called again, stop() sends
    another stop, which is confirmed: the session has ended with the reason, it may no longer run,
    and the exit raises nothing and sends nothing more."""
    failing = provider.emulator.inject(provider.stop_step, status=503, times=100)
    async with provider.session() as session:
        with pytest.raises(SessionStopError):
            await session.stop(EndReason.AGENT_HANG_UP)
        assert session.may_still_run
        attempts = failing.hits
        provider.emulator.clear_faults()
        await session.stop(EndReason.AGENT_HANG_UP)
        assert session.end_reason is EndReason.AGENT_HANG_UP
        assert not session.may_still_run
    assert provider.stops(session.session_id) == attempts + 1
    assert session.session_id not in provider.active()


async def test_a_waiter_of_a_failed_stop_is_told_though_another_caller_retries_first(
    provider: Provider,
) -> None:
    """Every stop fails. Task A, told, retries at once; task B waited for A's first stop: B is told
    too (the retry under way does not wipe the outcome B waited for), and so is the block's exit;
    nothing records an end."""
    provider.emulator.inject(provider.stop_step, status=503, times=10_000, delay=0.1)
    outcomes: dict[str, list[str]] = {"A": [], "B": []}

    async def stopping(name: str, times: int) -> None:
        for _ in range(times):
            try:
                await session.stop()
            except SessionStopError:
                outcomes[name].append("told")
            else:
                outcomes[name].append("returned")

    with pytest.raises(SessionStopError):
        async with provider.session() as session, anyio.create_task_group() as tg:
            tg.start_soon(stopping, "A", 2)
            await wait_until(lambda: provider.emulator.requests(provider.stop_step) != [])
            tg.start_soon(stopping, "B", 1)
    assert outcomes == {"A": ["told", "told"], "B": ["told"]}
    assert session.end_reason is None
    assert session.may_still_run


async def test_a_stop_retried_while_the_idle_rules_stop_ends_unconfirmed_records_no_end(
    provider: Provider,
) -> None:
    """The idle rule's stop fails, waking the block from ``wait_ended()``; the block calls
    ``stop()`` again, which fails too: the session may still run from the first moment
    (``may_still_run``), no end reason is recorded for it, and the exit, after the block's own
    ``stop()`` was told, says nothing more (rule 12). (The exit recorded the idle rule's reason
    before, when the rule had finished before the retry began.)"""
    session = provider.session_with_idle_window(0.3)
    provider.emulator.inject("keep_alive", status=503, times=10_000)
    provider.emulator.inject(provider.stop_step, status=503, times=10_000)
    async with session:
        await session.wait_ended()
        assert session.may_still_run
        with pytest.raises(SessionStopError):
            await session.stop()
    assert session.end_reason is None
    assert session.may_still_run
    assert session.session_id in provider.active()


async def test_the_exit_after_the_blocks_own_stop_failed_says_nothing_more(
    provider: Provider,
) -> None:
    """The block's own stop() raised SessionStopError and the block went on to a clean exit: the
    block was told, so the exit raises nothing and sends no other stop (only stop() tries again);
    the session may still run."""
    provider.emulator.inject(provider.stop_step, status=503, times=100)
    async with provider.session() as session:
        with pytest.raises(SessionStopError):
            await session.stop()
        attempts = provider.stops(session.session_id)
    assert provider.stops(session.session_id) == attempts
    assert session.may_still_run


async def test_wait_ended_returns_after_stop(provider: Provider) -> None:
    """wait_ended() returns once another task stopped the session."""
    async with provider.session() as session, anyio.create_task_group() as tg:

        async def stopper() -> None:
            await anyio.sleep(0.2)
            await session.stop(EndReason.USER_CLOSED)

        tg.start_soon(stopper)
        with anyio.fail_after(5):
            await session.wait_ended()
    assert session.end_reason is EndReason.USER_CLOSED


async def test_a_204_on_stop_is_a_confirmed_stop(provider: Provider) -> None:
    """A stop answered 204 No Content (the server stopped the session) is a success: no
    SessionStopError, the end reason recorded."""
    provider.emulator.inject(provider.stop_step, apply=True, status=204)
    async with provider.session() as session:
        pass
    provider.assert_stopped_once(EndReason.USER_CLOSED, session)
    assert not session.may_still_run


@pytest.mark.parametrize("unreadable", ["too big", "compressed unreadably"])
async def test_a_stop_answered_200_with_a_body_that_cannot_be_read_is_not_confirmed(
    provider: Provider, unreadable: str
) -> None:
    """A 2xx answer says nothing until its body is read: the API answers HTTP 200 with a failure in
    the body (``success: false``, an error code). A stop answered 200 with a body over the size cap,
    or compressed in a way aioavatar does not read, is not confirmed (rule 12): SessionStopError
    with the id, ``end_reason`` None, and the session, which the server did not stop, still runs."""
    failure = b'{"success": false, "code": 500, "message": "not stopped"}'
    if unreadable == "too big":
        provider.emulator.inject(provider.stop_step, body=failure + b" " * (2 * 1024 * 1024))
    else:
        provider.emulator.inject(
            provider.stop_step, body=failure, headers={"Content-Encoding": "br"}
        )
    with pytest.raises(SessionStopError, match="may still be running") as info:
        async with provider.session() as session:
            pass
    assert info.value.session_id == session.session_id
    assert session.end_reason is None
    assert session.may_still_run
    assert session.session_id in provider.active()
    assert provider.stops(session.session_id) == 1


async def test_a_stop_whose_first_attempt_took_effect_unanswered_is_confirmed_with_its_reason(
    provider: Provider,
) -> None:
    """The stop's first attempt ends the session but its answer is a 500; the retry is answered
    404 or 410, the session being gone. That is the stop's own doing: confirmed, with the reason it
    sent. Kaltura, which records no reason, said ``UNKNOWN``; LiveAvatar looks the session up,
    which tells its own end from another party's (and from a session still listed as running)."""
    provider.emulator.inject(provider.stop_step, apply=True, status=500)
    async with provider.session() as session:
        pass
    assert session.end_reason is EndReason.USER_CLOSED
    assert provider.stops(session.session_id) == 2
    assert session.session_id not in provider.active()
    if provider.name == "liveavatar":
        assert len(provider.emulator.requests("get", session_id=session.session_id)) == 1


async def test_an_empty_200_naming_an_encoding_is_a_confirmed_stop(provider: Provider) -> None:
    """A stop answered 200 with no body but a ``Content-Encoding`` header: nothing to decode, so
    nothing unread; the stop is confirmed as a 200 with no body is."""
    provider.emulator.inject(
        provider.stop_step, apply=True, body=b"", headers={"Content-Encoding": "br"}
    )
    async with provider.session() as session:
        pass
    provider.assert_stopped_once(EndReason.USER_CLOSED, session)


async def test_stop_after_the_server_ended_the_session_sends_nothing(provider: Provider) -> None:
    """Rule 7: once a beat learned that the server ended the session, ``stop()`` sends no stop (it
    would only be answered 404) and changes no reason; the block awaiting ``wait_ended()`` then
    exits quietly."""
    async with provider.session(keep_alive_interval=0.05) as session:
        expected = provider.end_on_server(session.session_id)
        with anyio.fail_after(30):  # a hang, not a speed limit
            await session.wait_ended()
        await session.stop()
    assert provider.stops(session.session_id) == 0
    assert session.end_reason is expected


async def test_a_stop_that_finds_the_session_stopped_elsewhere_reports_the_servers_reason(
    provider: Provider,
) -> None:
    """Another client stopped the session while the block held it: our stop answers 404 (or 410),
    and end_reason is the reason the server recorded (UNKNOWN where the API cannot say), not ours."""
    async with provider.session(keep_alive_interval=25.0) as session:
        expected = provider.end_on_server(session.session_id)  # no beat will notice it in time
    assert session.end_reason is expected
    assert provider.stops(session.session_id) == 1
    if provider.name == "liveavatar":
        assert expected is EndReason.ZOMBIE_SESSION_REAP
        lookups = provider.emulator.requests("get", session_id=session.session_id)
        assert len(lookups) == 1


async def test_the_lookup_after_a_stop_answered_gone_ends_within_stop_timeout(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule 11 bounds the stop by ``stop_timeout`` once it holds a connection, and the lookup that
    follows a 404 is part of it: a lookup that never answers gives UNKNOWN at the stop's bound
    (with the lookup's own limit lifted here, an unbounded one would hang the exit)."""
    monkeypatch.setattr(stop_module, "END_REASON_LOOKUP_TIMEOUT", 3600.0)
    emulator.inject("get", delay=3600.0)
    with anyio.fail_after(30):  # a hang, not a speed limit
        async with session_on(client, keep_alive_interval=60.0, stop_timeout=0.3) as session:
            emulator.end_session(session.session_id, EndReason.ZOMBIE_SESSION_REAP)
    assert session.end_reason is EndReason.UNKNOWN
    assert emulator.stop_reasons(session.session_id) == ["USER_CLOSED"]


@pytest.mark.parametrize("status", [404, 410])
async def test_a_stop_answered_gone_for_a_session_listed_as_running_is_not_confirmed(
    client: LiveAvatarClient,
    emulator: LiveAvatarEmulator,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    """Rule 9 against the lookup: the stop is answered 404 or 410, yet the server lists the session
    as running. It may still run, so the stop is not confirmed (rule 12): SessionStopError with the
    session id, one WARNING saying so, and ``end_reason`` None."""
    emulator.inject("stop", status=status)
    with (
        caplog.at_level(logging.WARNING, logger="aioavatar"),
        pytest.raises(SessionStopError, match="may still be running") as info,
    ):
        async with session_on(client, keep_alive_interval=60.0) as session:
            pass
    assert info.value.session_id == session.session_id
    assert session.end_reason is None
    assert len(emulator.requests("get", session_id=session.session_id)) == 1
    assert session.session_id in [s.id for s in emulator.active_sessions()]
    warnings = [r for r in caplog.records if "may still be running" in r.getMessage()]
    assert len(warnings) == 1
    assert session.session_id in warnings[0].getMessage()


async def test_stopped_elsewhere_with_agent_hang_up(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """`aioavatar sessions stop ID --reason agent_hang_up` from another process: the holder learns
    AGENT_HANG_UP."""
    async with (
        session_on(client, keep_alive_interval=60.0) as session,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as other,
    ):
        await other.stop_session(session.session_id, reason="agent_hang_up")
    assert session.end_reason is EndReason.AGENT_HANG_UP
    assert emulator.stop_reasons(session.session_id) == ["AGENT_HANG_UP", "USER_CLOSED"]


# --- bounded, and reported when not confirmed (rules 11 and 12) ----------------------------------------


async def test_hung_stop_is_abandoned_after_stop_timeout(provider: Provider) -> None:
    """A stop that hangs is given up after stop_timeout: SessionStopError with the session id."""
    stop = provider.emulator.inject(provider.stop_step, delay=3600.0)  # never answered in the test
    started = anyio.current_time()
    with pytest.raises(SessionStopError) as info:
        async with provider.session(stop_timeout=0.5) as session:
            pass
    assert anyio.current_time() - started >= 0.49  # stop_timeout was waited out (loop clock)
    assert stop.hits == 1  # the stop reached the server...
    assert provider.emulator.requests(provider.stop_step) == []  # ...which never answered it
    assert info.value.session_id == session.session_id
    assert session.state is SessionState.ENDED


async def test_a_native_cancellation_during_the_stop_after_an_exception_is_not_lost(
    provider: Provider,
) -> None:
    """The block raises, and ``task.cancel()`` lands while the exit's stop is out: the stop still
    completes (one, ``SERVER_ERROR``) and the block's exception propagates (rule 12); the
    cancellation is delivered at the task's next wait. Dropped, it would never be (asyncio delivers
    a request once): a worker that catches the error and loops could no longer be cancelled."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.3)
    loops = 0
    caught: list[str] = []

    async def worker() -> None:
        nonlocal loops
        while loops < 3:
            loops += 1
            try:
                async with provider.session():
                    raise ValueError("the bot crashed")
            except ValueError as exc:
                caught.append(str(exc))
                await asyncio.sleep(0.01)  # the cancellation is delivered here

    cancelled = await cancelled_once(worker, lambda: stop.hits == 1, "shutting down")
    assert str(cancelled) == "shutting down"
    assert (loops, caught) == (1, ["the bot crashed"])
    provider.assert_stopped_once(EndReason.SERVER_ERROR)


async def test_a_cancellation_after_an_exception_waits_for_the_whole_exit_of_an_owned_client(
    provider: Provider,
) -> None:
    """As above for a session that owns its client: the cancellation is delivered after the exit
    has closed that client, not in the middle of it. The block's exception propagates, the client
    is closed, the session let go of (its lifecycle over), and the next wait is cancelled."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.3)
    session = provider.own_session(credential=provider.credential, stop_timeout=2.0)
    outcome: list[str] = []

    async def worker() -> None:
        try:
            async with session:
                raise ValueError("the bot crashed")
        except ValueError:
            outcome.append("ValueError")
            await asyncio.sleep(0.01)  # the cancellation is delivered here

    await cancelled_once(worker, lambda: stop.hits == 1)
    assert outcome == ["ValueError"]
    assert session.state is SessionState.ENDED
    assert not session._attached
    provider.assert_stopped_once(EndReason.SERVER_ERROR, session)


async def test_a_cancellation_taken_back_on_the_way_out_is_not_delivered_again(
    provider: Provider,
) -> None:
    """What cancelled the task during the stop takes its request back as the block's exception
    passes through it: an ``asyncio.timeout`` (the block's ``ValueError`` propagates, not
    ``TimeoutError``: the timeout did not cut the block), and an ``asyncio.TaskGroup`` whose other
    task failed (its group holds both errors). Nothing is left pending on the task."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.3, times=2)
    with pytest.raises(ValueError, match="crashed"):
        async with asyncio.timeout(None) as limit:
            async with provider.session():
                limit.reschedule(asyncio.get_running_loop().time() + 0.1)
                raise ValueError("the bot crashed")
    assert stop.hits == 1

    async def sibling() -> None:
        await wait_until(lambda: stop.hits == 2)
        raise KeyError("the other task failed")

    with pytest.raises(BaseExceptionGroup) as group:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sibling())
            async with provider.session():
                raise ValueError("the bot crashed")
    assert sorted(type(e).__name__ for e in group.value.exceptions) == ["KeyError", "ValueError"]
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0.05)  # nothing pending: no stray cancellation


async def test_a_native_cancellation_with_an_anyio_scope_cancelled_too_is_delivered(
    provider: Provider,
) -> None:
    """During the stop after the block raised, ``task.cancel()`` and an anyio scope around the
    block are both cancelled: the scope takes its own back as the exception leaves it, and the
    native request is still delivered at the next wait."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.3, times=3)
    loops = 0
    scopes: list[anyio.CancelScope] = []

    async def worker() -> None:
        nonlocal loops
        while loops < 3:
            loops += 1
            try:
                with anyio.CancelScope() as scope:
                    scopes.append(scope)
                    async with provider.session():
                        raise ValueError("the bot crashed")
            except ValueError:
                await asyncio.sleep(0.01)

    await cancelled_once(worker, lambda: stop.hits == 1, also=lambda: scopes[0].cancel())
    assert loops == 1


async def test_an_anyio_scope_cancelled_during_the_stop_after_an_exception_keeps_it(
    provider: Provider,
) -> None:
    """An anyio scope cancelled while the exit's stop is out, after the block raised: the block's
    exception propagates (rule 12); the scope, left by it, takes its cancellation back."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.3)
    with pytest.raises(ValueError, match="crashed"), anyio.CancelScope() as scope:
        async with provider.session():

            def cancel_during_the_stop() -> None:
                scope.cancel()

            asyncio.get_running_loop().call_later(0.15, cancel_during_the_stop)
            raise ValueError("the bot crashed")
    assert stop.hits == 1
    assert scope.cancel_called
    await asyncio.sleep(0.05)  # nothing pending


async def test_failed_stop_after_an_exception_is_logged_not_raised(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    """After an exception, a failed stop is a WARNING and the user's exception wins."""
    provider.emulator.inject(provider.stop_step, status=500, times=10)
    with caplog.at_level(logging.WARNING, logger="aioavatar"), pytest.raises(KeyError):
        async with provider.session():
            raise KeyError("original")
    assert any("may still be running" in r.getMessage() for r in caplog.records)


async def test_a_cancellation_during_a_failing_stop_carries_the_news(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    """The block returns, the stop fails slowly, and a cancellation lands meanwhile: the
    cancellation propagates with a note naming the session and saying it may still run, and a
    WARNING says the same; end_reason stays None."""
    provider.emulator.inject(provider.stop_step, status=503, delay=0.2, times=1000)
    session = provider.session(stop_timeout=1.0)

    async def body() -> None:
        async with session:
            pass

    with caplog.at_level(logging.WARNING, logger="aioavatar"):
        cancelled = await cancelled_once(body, lambda: session.state is SessionState.STOPPING)
    sid = session.session_id
    assert any(sid in note and "may still be running" in note for note in cancelled.__notes__)
    assert session.end_reason is None
    assert any(
        sid in r.getMessage() and "may still be running" in r.getMessage() for r in caplog.records
    )


class _CancelAsTheStopEnds(logging.Handler):
    """Cancels ``scope`` within the stop's last step (from the stop's own record, logged as it
    ends), when no wait of the exit's is there for anyio's delivery to cancel."""

    def __init__(self, scope: anyio.CancelScope) -> None:
        super().__init__(logging.INFO)
        self.scope = scope

    def emit(self, record: logging.LogRecord) -> None:
        if "stopped" in record.getMessage():
            self.scope.cancel()


async def test_a_scope_cancelled_as_the_stop_ends_is_delivered_by_the_exit(
    provider: Provider,
) -> None:
    """Rule 11: an anyio scope around the session cancelled within the stop's last step (the exit's
    task, running, waits on nothing anyio's delivery could cancel) is delivered by the exit itself,
    after the one stop, not by whatever the caller awaits next."""
    logger = logging.getLogger("aioavatar")
    level = logger.level
    after_exit = False
    with anyio.CancelScope() as scope:
        handler = _CancelAsTheStopEnds(scope)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            async with provider.session():
                pass
            after_exit = True  # no await in between: only the exit can have raised
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
    assert scope.cancelled_caught
    assert not after_exit
    provider.assert_stopped_once(EndReason.USER_CLOSED)


@pytest.mark.parametrize(("provider", "step"), LAST_OPEN_STEPS, indirect=["provider"])
async def test_lost_open_answer_and_failed_stop_say_the_session_may_run(
    provider: Provider, step: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Open's answer is lost after it took effect and the stop that follows fails until
    stop_timeout: SessionStopError with the session id, chained to open's error, a WARNING, and no
    end reason (the session is not known to have ended)."""
    provider.emulator.inject(step, apply=True, drop=True)
    provider.emulator.inject(provider.stop_step, status=503, times=1000)
    session = provider.session(stop_timeout=0.5)
    with (
        caplog.at_level(logging.WARNING, logger="aioavatar"),
        pytest.raises(SessionStopError) as info,
    ):
        async with session:
            pytest.fail("the block must not run")
    sid = session.session_id
    assert info.value.session_id == sid
    assert isinstance(info.value.__cause__, TransportError)
    assert "may still be running" in str(info.value)
    assert session.end_reason is None
    assert provider.active() == [sid]  # it does run: the user was told so
    assert provider.stops(sid) >= 1
    assert any(
        sid in r.getMessage() and "may still be running" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize(("provider", "step"), OPEN_STEPS, indirect=["provider"])
async def test_cancelled_open_with_a_failed_stop_notes_the_session_on_the_cancellation(
    provider: Provider, step: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A start cancelled while in flight whose stop then fails: the cancellation propagates (it must)
    with a note naming the session and saying it may still run, and a WARNING says the same."""
    opening = provider.emulator.inject(step, delay=1.0)
    provider.emulator.inject(provider.stop_step, status=503, times=1000)
    session = provider.session(stop_timeout=0.5)

    async def body() -> None:
        async with session:
            pytest.fail("the block must not run")

    with caplog.at_level(logging.WARNING, logger="aioavatar"):
        # Cancelled once the open request is in flight (held 1 s).
        cancelled = await cancelled_once(body, lambda: opening.hits == 1)
    sid = session.session_id
    notes = getattr(cancelled, "__notes__", [])
    assert any(sid in note and "may still be running" in note for note in notes)
    assert session.end_reason is None
    assert any(sid in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_a_deadline_stop_that_fails_raises_session_stop_error(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """At max_session_duration the SDK's stop is answered 503 until stop_timeout: async with raises
    SessionStopError (the session may still run), not SessionEndedError, and end_reason stays None."""
    emulator.inject("stop", status=503, times=1000)
    # Beats fail softly (503), so that none learns of the server's own end at the same second first.
    emulator.inject("keep_alive", status=503, times=1000)
    with pytest.raises(SessionStopError) as info:
        async with session_on(client, max_session_duration=1, stop_timeout=0.5) as session:
            await anyio.sleep(30)
    assert info.value.session_id == session.session_id
    assert session.end_reason is None
    assert emulator.stop_reasons(session.session_id)[0] == "MAX_DURATION_REACHED"


async def test_an_idle_stop_that_fails_raises_session_stop_error(provider: Provider) -> None:
    """Every beat fails past the idle window and so does the stop that follows: SessionStopError
    with the session id, end_reason None."""
    session = provider.session_with_idle_window(0.3)
    provider.emulator.inject("keep_alive", status=503, times=10_000)
    provider.emulator.inject(provider.stop_step, status=503, times=10_000)
    with pytest.raises(SessionStopError) as info:
        async with session:
            await anyio.sleep(30)
    assert info.value.session_id == session.session_id
    assert session.end_reason is None


async def test_a_client_closed_under_running_sessions_stops_each_of_them_once(
    provider: Provider,
) -> None:
    """The client closes (``aclose()``: its ``async with`` ended first) while three sessions' blocks
    still run on it: each is stopped once, with ``USER_DISCONNECTED``, before the pool closes;
    a block busy with anything else ends with ``SessionEndedError``, one awaiting ``wait_ended()``
    goes on to its end. None is left running for the server's idle timeout."""
    outcomes: list[str] = []
    sessions = [provider.session() for _ in range(3)]

    async def hold(index: int) -> None:
        try:
            async with sessions[index] as session:
                if index == 0:
                    await session.wait_ended()
                    outcomes.append("woken")
                    return
                await anyio.sleep(30)
        except SessionEndedError as exc:
            outcomes.append(exc.end_reason.value)

    async with anyio.create_task_group() as tg:
        for index in range(3):
            tg.start_soon(hold, index)
        await wait_until(lambda: len(provider.active()) == 3)
        await provider.client.aclose()
    assert sorted(outcomes) == ["USER_DISCONNECTED", "USER_DISCONNECTED", "woken"]
    for session in sessions:
        provider.assert_stopped_once(EndReason.USER_DISCONNECTED, session)
    assert provider.active() == []
    assert provider.client.scheduler.workers == 0


async def test_a_client_closing_waits_for_a_stop_under_way_before_its_pool_closes(
    provider: Provider,
) -> None:
    """The block's exit stop is out (its answer slow) when the client closes, twice at once: both
    ``aclose()`` calls wait for that stop before the pool closes, so it is confirmed, the one stop,
    with the block's reason; nothing is cut short and nothing is left running."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.3)
    session = provider.session()

    async def hold() -> None:
        async with session:
            pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold)
        await wait_until(lambda: stop.hits == 1)
        assert session.state is SessionState.STOPPING
        tg.start_soon(provider.client.aclose)
        tg.start_soon(provider.client.aclose)
    provider.assert_stopped_once(EndReason.USER_CLOSED, session)
    assert not session.may_still_run


async def test_a_client_closing_sends_no_stop_to_a_session_the_server_ended(
    provider: Provider,
) -> None:
    """The server ended the session (rule 7) and its block, woken from ``wait_ended()``, goes on:
    the client closing meanwhile sends it no stop, and its end reason stays the server's."""
    async with provider.session() as session:
        reason = provider.end_on_server(session.session_id)
        await session.wait_ended()
        await provider.client.aclose()
    assert provider.stops(session.session_id) == 0
    assert session.end_reason is reason
    assert not session.may_still_run


async def test_a_client_closing_waits_for_a_start_under_way_and_stops_its_session(
    provider: Provider,
) -> None:
    """The client closes while a session's start is out (its answer slow): the close waits for it,
    then stops the session it opened, once, with ``USER_DISCONNECTED``, before the pool closes; the
    block, cancelled as soon as it is entered, ends with ``SessionEndedError``."""
    start = provider.emulator.inject(provider.enter_steps[-1], delay=1.0)
    session = provider.session()
    ended: list[EndReason] = []

    async def hold() -> None:
        with pytest.raises(SessionEndedError) as info:
            async with session:
                await anyio.sleep(30)
        ended.append(info.value.end_reason)

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold)
        await wait_until(lambda: start.hits == 1)
        await provider.client.aclose()
    assert ended == [EndReason.USER_DISCONNECTED]
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED, session)
    assert not session.may_still_run


async def test_a_start_failing_while_the_client_closes_is_still_stopped(provider: Provider) -> None:
    """The start opens the session and its answer is lost (a 503 after the fact) while the client
    closes: the close waits for it, so rule 3's stop (``SERVER_ERROR``) still goes through the pool,
    and the start's error reaches the caller."""
    start = provider.emulator.inject(provider.enter_steps[-1], delay=1.0, status=503, apply=True)
    session = provider.session()

    async def enter() -> None:
        with pytest.raises(ServerError):
            async with session:
                pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(enter)
        await wait_until(lambda: start.hits == 1)
        await provider.client.aclose()
    provider.assert_stopped_once(EndReason.SERVER_ERROR, session)


async def test_no_session_opens_on_a_closing_client(provider: Provider) -> None:
    """While a closing client waits for a stop (its answer slow), entering another session on it is
    a ``RuntimeError`` saying so, before anything that could open a session is sent (LiveAvatar's
    token, which opens nothing, may go)."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.3)
    first_open_step = dict(FIRST_OPEN_STEPS)[provider.name]
    running = provider.session()
    late = provider.session()
    async with anyio.create_task_group() as tg:
        await tg.start(enter_and_hold, running)
        tg.start_soon(provider.client.aclose)
        await wait_until(lambda: stop.hits == 1)
        with pytest.raises(RuntimeError, match="the client is closing or closed"):
            async with late:
                pass
    assert len(provider.emulator.requests(first_open_step)) == 1  # the running session's own
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED, running)


async def test_a_cancelled_close_still_ends_every_session_before_its_pool_closes(
    provider: Provider,
) -> None:
    """The close is cancelled from its start (a shutdown deadline already past) while one session
    runs and another's start is out: it still stops both, once each, with ``USER_DISCONNECTED``,
    before the pool closes, and raises the cancellation once that is over."""
    running = provider.session()
    opening = provider.session()
    ended: list[EndReason] = []

    async def hold(session: Session) -> None:
        with pytest.raises(SessionEndedError) as info:
            async with session:
                await anyio.sleep(30)
        ended.append(info.value.end_reason)

    start = provider.emulator.inject(provider.enter_steps[-1], delay=0.3)
    async with anyio.create_task_group() as tg:
        tg.start_soon(hold, opening)
        await wait_until(lambda: start.hits == 1)
        tg.start_soon(hold, running)
        await wait_until(lambda: running.state is SessionState.ACTIVE)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await provider.client.aclose()
        assert scope.cancelled_caught
    assert ended == [EndReason.USER_DISCONNECTED, EndReason.USER_DISCONNECTED]
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED, running)
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED, opening)


async def test_a_session_still_preparing_when_its_client_closes_opens_nothing(
    emulator: LiveAvatarEmulator, client: LiveAvatarClient
) -> None:
    """LiveAvatar: the token (``prepare``, which opens nothing) is out when the client closes: the
    close does not wait for it, and no start is sent after it; the entry fails."""
    token = emulator.inject("token", delay=0.3)
    session = session_on(client)

    async def enter() -> None:
        with pytest.raises((RuntimeError, TransportError)):
            async with session:
                pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(enter)
        await wait_until(lambda: token.hits == 1)
        await client.aclose()
    assert emulator.requests("start") == []
    assert emulator.active_sessions() == []


async def enter_and_hold(
    session: Any, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Enter ``session``, report it started, and hold its block until the session ends."""
    with pytest.raises(SessionEndedError):
        async with session:
            task_status.started()
            await anyio.sleep(30)


async def test_two_closes_at_once_both_wait_for_the_session_a_start_under_way_opens(
    provider: Provider,
) -> None:
    """Two closes at once (``async with client:`` ending while a shutdown hook calls ``aclose()``)
    while a session's start is out: neither returns, nor closes the pool, before that session,
    held once its start is answered, is stopped (its stop is slow): one stop, confirmed."""
    start = provider.emulator.inject(provider.enter_steps[-1], delay=1.0)
    stop = provider.emulator.inject(provider.stop_step, delay=0.3)
    session = provider.session()

    async def hold() -> None:
        with pytest.raises(SessionEndedError):
            async with session:
                await anyio.sleep(30)

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold)
        await wait_until(lambda: start.hits == 1)
        tg.start_soon(provider.client.aclose)
        tg.start_soon(provider.client.aclose)
    assert stop.hits == 1
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED, session)
    assert not session.may_still_run


async def _loop_steps(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _step_until(ready: Callable[[], bool]) -> None:
    """Turn the loop one step at a time until ``ready()`` (``wait_until`` polls at coarser steps)."""
    for _ in range(1_000_000):
        if ready():
            return
        await asyncio.sleep(0)
    pytest.fail("never ready")


async def test_a_close_cancelled_natively_at_any_step_still_closes_its_pool(
    provider: Provider,
) -> None:
    """``task.cancel()`` lands on ``client.aclose()`` at each of its loop steps in turn (an anyio
    shield holds off no native cancellation): the close still ends its keep-alive workers and closes
    its pool before it raises the cancellation. Until now the pool was left open ("Unclosed client
    session") when the cancel landed while the workers ended."""
    outcomes: set[str] = set()
    for steps in range(1, 13):  # not 0: a task cancelled before its first step never runs
        client = provider.new_client()
        await client.__aenter__()
        session = provider.session_of(client, keep_alive_interval=0.02)
        async with session:
            await wait_until(lambda: session.statistics().keep_alives_sent >= 1)  # noqa: B023
        pool = client.http_session
        task = asyncio.ensure_future(client.aclose())
        await _loop_steps(steps)
        task.cancel()
        try:
            await task
            outcomes.add("closed")
        except asyncio.CancelledError:
            outcomes.add("cancelled")
        assert pool.closed, f"the pool was left open by a cancel after {steps} steps"
    assert "cancelled" in outcomes  # the sweep landed inside the close


async def test_a_cancellation_while_an_owned_client_closes_after_an_exception_keeps_it(
    provider: Provider,
) -> None:
    """Rule 12 for a session that owns its client: ``task.cancel()`` landing at each loop step in
    turn after the server took the stop (the exit then closes that client) never replaces the
    block's exception; the cancellation comes at the task's next wait, and the pool is closed."""
    for steps in range(25):
        session = provider.own_session(credential=provider.credential, stop_timeout=2.0)
        outcome: list[str] = []
        pools: list[Any] = []

        async def worker(
            session: Session = session, outcome: list[str] = outcome, pools: list[Any] = pools
        ) -> None:
            try:
                async with session:
                    pools.append(session._owned_client.http_session)
                    raise ValueError("the bot crashed")
            except ValueError:
                outcome.append("ValueError")
                await asyncio.sleep(0.05)  # the cancellation is delivered here

        task = asyncio.ensure_future(worker())
        await _step_until(lambda: bool(pools) and provider.stops(session.session_id) == 1)  # noqa: B023
        await _loop_steps(steps)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert outcome == ["ValueError"], f"replaced by a cancel {steps} steps after the stop"
        assert pools[0].closed
        provider.assert_stopped_once(EndReason.SERVER_ERROR, session)


async def test_a_stop_whose_attempts_all_timed_out_says_so_not_that_its_bound_ran_out() -> None:
    """Three attempts of 0.3 s each, all timed out, well within a 5 s ``stop_timeout``: the stop is
    not confirmed, and the error gives the attempts' timeout, not the stop's bound."""
    timeouts = LiveAvatarTimeouts(stop=Timeout(total=0.3, connect=0.2))
    fast = RetryPolicy(retries=2, backoff_initial=0.01, backoff_max=0.02)
    async with (
        LiveAvatarEmulator(api_key=API_KEY) as emulator,
        LiveAvatarClient(
            API_KEY, base_url=emulator.base_url, timeouts=timeouts, retry_policy=fast
        ) as client,
    ):
        emulator.inject("stop", drip=0.1, times=3)
        with pytest.raises(SessionStopError) as info:
            async with client.session(AVATAR_ID, stop_timeout=5.0) as session:
                session_id = session.session_id
        assert len(emulator.requests("stop")) == 3
    assert session_id in str(info.value)
    assert "no answer within 0.3 s" in str(info.value)
    assert "no confirmation within" not in str(info.value)
