"""``BaseSession`` (``aioavatar._session``): the lifecycle against the emulators, every exit path ending
with exactly one stop: enter and open (rules 1 to 3), the exit's reason (rule 10), cancellation wherever
it lands (rules 2 and 11), and the shape of a session (rule 13).

Every test that takes ``provider`` runs once per provider (LiveAvatar and Kaltura): the lifecycle is
written once, and so is its test matrix. The few that only make sense for LiveAvatar (token creation
before start) use its fixtures directly. Beats, the idle window and the deadline (rules 4 to 8) are
tested in ``test_keepalive.py``, the one stop and its reports (rules 9, 11, 12) in ``test_stop.py``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import anyio
import pytest

from aioavatar import (
    APIError,
    AuthenticationError,
    AvatarSession,
    ConfigurationError,
    EndReason,
    KalturaAvatarClient,
    LiveAvatarClient,
    ResponseDecodeError,
    ServerError,
    SessionState,
    TransportError,
)
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID
from .leaks import wait_until
from .providers import (
    FIRST_OPEN_STEPS,
    KALTURA_AVATAR_ID,
    KS,
    LAST_OPEN_STEPS,
    OPEN_STEPS,
    Provider,
    session_on,
)

pytestmark = pytest.mark.anyio


# --- the exit's reason (rule 10) -----------------------------------------------------------------------


async def test_normal_exit_stops_with_user_closed(provider: Provider) -> None:
    """A clean exit sends one stop with USER_CLOSED, after the session was opened."""
    session = provider.session()
    async with session as s:
        assert s is session
        assert s.state is SessionState.ACTIVE
        assert s.info is not None
        assert provider.active() == [s.session_id]
    assert session.state is SessionState.ENDED
    provider.assert_stopped_once(EndReason.USER_CLOSED)
    steps = len(provider.enter_steps)
    assert [r.endpoint for r in provider.emulator.journal][:steps] == list(provider.enter_steps)
    assert provider.emulator.requests(provider.stop_step)[0].auth == "bearer"


async def test_exception_propagates_unchanged_with_server_error(provider: Provider) -> None:
    """The block's exception comes out as the same object (no group) and the stop says SERVER_ERROR."""
    boom = KeyError("boom")
    with pytest.raises(KeyError) as info:
        async with provider.session():
            raise boom
    assert info.value is boom
    provider.assert_stopped_once(EndReason.SERVER_ERROR)


async def test_user_exception_group_is_not_unwrapped(provider: Provider) -> None:
    """A group the user raises comes out as that group."""
    group = ExceptionGroup("mine", [ValueError(1), ValueError(2)])
    with pytest.raises(ExceptionGroup) as info:
        async with provider.session():
            raise group
    assert info.value is group
    provider.assert_stopped_once(EndReason.SERVER_ERROR)


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
async def test_interrupts_stop_with_user_closed(
    provider: Provider, exc_type: type[BaseException]
) -> None:
    """KeyboardInterrupt and SystemExit propagate and the stop says USER_CLOSED."""
    caught: BaseException | None = None
    try:
        async with provider.session():
            raise exc_type()
    except (KeyboardInterrupt, SystemExit) as exc:
        caught = exc
    assert isinstance(caught, exc_type)
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_end_reason_for(provider: Provider) -> None:
    """end_reason_for's answer wins; None or a failing mapper falls back to the table."""

    def mapper(exc: BaseException) -> EndReason | None:
        return EndReason.AGENT_HANG_UP if isinstance(exc, LookupError) else None

    with pytest.raises(KeyError):
        async with provider.session(end_reason_for=mapper):
            raise KeyError("x")
    with pytest.raises(ZeroDivisionError):
        async with provider.session(end_reason_for=mapper):
            raise ZeroDivisionError

    def broken(exc: BaseException) -> EndReason:
        raise RuntimeError("mapper bug")

    with pytest.raises(OSError, match="disk"):
        async with provider.session(end_reason_for=broken):
            raise OSError("disk")
    expected = [EndReason.AGENT_HANG_UP, EndReason.SERVER_ERROR, EndReason.SERVER_ERROR]
    for session, reason in zip(provider.made, expected, strict=True):
        provider.assert_stopped_once(reason, session)


@pytest.mark.parametrize("raised", [asyncio.CancelledError, KeyboardInterrupt, SystemExit])
async def test_end_reason_for_raising_anything_still_sends_the_stop(
    provider: Provider, raised: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    """end_reason_for raising CancelledError, KeyboardInterrupt or SystemExit: the stop is sent once
    with the table's reason; KeyboardInterrupt and SystemExit are then delivered, a CancelledError
    (which a plain function cannot receive from the loop) is logged and the block's error wins."""

    def mapper(exc: BaseException) -> EndReason:
        raise raised()

    expected: type[BaseException] = KeyError if raised is asyncio.CancelledError else raised
    with caplog.at_level(logging.WARNING, logger="aioavatar"), pytest.raises(expected) as info:
        async with provider.session(end_reason_for=mapper):
            raise KeyError("the block failed")
    provider.assert_stopped_once(EndReason.SERVER_ERROR)
    if expected is not KeyError:
        assert isinstance(info.value.__cause__, KeyError)
    assert any("end_reason_for raised" in r.getMessage() for r in caplog.records)


# --- cancellation (rules 1, 2 and 11) ------------------------------------------------------------------


CANCEL_STYLES = ["scope", "task", "timeout"]


async def cancel_when(
    style: str, ready: Callable[[], bool], body: Callable[[], Awaitable[None]]
) -> None:
    """Run ``body`` and cancel it in the given style as soon as ``ready()`` holds (the block runs, or
    a request the emulator holds back has arrived); assert it was cancelled."""

    async def cancel_once_ready(cancel: Callable[[], object]) -> None:
        await wait_until(ready)
        cancel()

    if style == "scope":
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_once_ready, scope.cancel)
                await body()
        assert scope.cancelled_caught
    elif style == "task":
        task = asyncio.ensure_future(body())
        await cancel_once_ready(task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(None) as timeout, anyio.create_task_group() as tg:
                tg.start_soon(cancel_once_ready, lambda: timeout.reschedule(loop.time()))
                await body()


_CTRL_C_SCRIPT = """
import asyncio, sys
from aioavatar import AvatarSession

async def main():
    async with AvatarSession(sys.argv[1], api_key=sys.argv[2], base_url=sys.argv[3]) as session:
        print(session.session_id, flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_ctrl_c_under_asyncio_run_stops_the_session_as_the_table_says(
    emulator: LiveAvatarEmulator,
) -> None:
    """A real SIGINT to a program holding a session under ``asyncio.run``: asyncio delivers it to the
    block as a cancellation, so the session gets exactly one stop, ``USER_DISCONNECTED`` (the
    README's end-reason table), and the program still ends by Ctrl-C."""
    command = [sys.executable, "-c", _CTRL_C_SCRIPT, AVATAR_ID, API_KEY, emulator.base_url]
    async with await anyio.open_process(command) as process:
        assert process.stdout is not None
        line = b""
        while not line.endswith(b"\n"):
            chunk = await process.stdout.receive(1)
            line += chunk
        session_id = line.decode().strip()
        process.send_signal(signal.SIGINT)
        code = await process.wait()
    assert code == -signal.SIGINT  # Python ends by the signal after KeyboardInterrupt
    assert emulator.stop_reasons(session_id) == ["USER_DISCONNECTED"]


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_in_body_stops_with_user_disconnected(provider: Provider, style: str) -> None:
    """A cancelled block sends one stop with USER_DISCONNECTED and the cancellation propagates."""

    running = anyio.Event()

    async def body() -> None:
        async with provider.session():
            running.set()
            await anyio.sleep(30)

    await cancel_when(style, running.is_set, body)
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_during_token_sends_no_start(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, style: str
) -> None:
    """LiveAvatar: a cancel while the token is being created sends no start and no stop."""
    token = emulator.inject("token", delay=1.0)

    async def body() -> None:
        async with session_on(client):
            pytest.fail("the block must not run")

    await cancel_when(style, lambda: token.hits == 1, body)  # the token request is held
    await wait_until(lambda: len(emulator.requests("token")) == 1)  # and now answered
    await anyio.sleep(0.2)  # a start that followed the answer would arrive within this
    assert emulator.requests("start") == []
    assert emulator.requests("stop") == []
    assert emulator.active_sessions() == []


@pytest.mark.parametrize("style", CANCEL_STYLES)
@pytest.mark.parametrize(("provider", "step"), OPEN_STEPS, indirect=["provider"])
async def test_cancel_during_open_lets_it_finish_then_stops(
    provider: Provider, step: str, style: str
) -> None:
    """A cancel while a request of open is in flight waits for open, then stops that session once."""
    opening = provider.emulator.inject(step, delay=0.6)

    async def body() -> None:
        async with provider.session():
            pytest.fail("the block must not run")

    await cancel_when(style, lambda: opening.hits == 1, body)  # the request is held: in flight
    answered = 201 if step == "start" else 200  # LiveAvatar's start is a 201, Kaltura's calls 200s
    assert [r.status for r in provider.emulator.requests(step)] == [answered]
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_inside_a_beat(provider: Provider, style: str) -> None:
    """A cancel while a keep-alive is in flight still ends with exactly one stop."""
    beat = provider.emulator.inject("keep_alive", delay=5.0, times=100)

    async def body() -> None:
        async with provider.session(keep_alive_interval=0.1):
            await anyio.sleep(30)

    await cancel_when(style, lambda: beat.hits >= 1, body)  # a beat is held: in flight
    provider.assert_stopped_once(EndReason.USER_DISCONNECTED)


@pytest.mark.parametrize("style", CANCEL_STYLES)
async def test_cancel_inside_stop_still_delivers_it(provider: Provider, style: str) -> None:
    """A cancel that lands while the exit's stop is in flight does not abort the stop."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.6)

    async def body() -> None:
        async with provider.session():
            await anyio.sleep(0.2)

    await cancel_when(style, lambda: stop.hits == 1, body)  # the block has ended; its stop is held
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_a_cancelled_scope_reaches_a_stop_in_flight_once_not_on_every_loop_turn(
    provider: Provider,
) -> None:
    """An anyio scope cancelled while the exit's stop is in flight delivers its cancellation once:
    the wait for the stop then shields itself (it does not pay for a shield while nothing cancels
    it), instead of being woken and cancelled again on every loop turn until the stop is done."""
    stop = provider.emulator.inject(provider.stop_step, delay=0.6)
    host = asyncio.current_task()
    assert host is not None
    cancels_seen: list[int] = []

    async def cancel_and_watch(scope: anyio.CancelScope) -> None:
        await wait_until(lambda: stop.hits == 1)  # the block has ended; its stop is held
        scope.cancel()
        for _ in range(20):  # twenty loop turns at least, while the stop is still held
            await asyncio.sleep(0.01)
            cancels_seen.append(host.cancelling())

    with anyio.CancelScope() as scope:
        watcher = asyncio.create_task(cancel_and_watch(scope))  # outside the scope
        async with provider.session():
            await anyio.sleep(0.2)
    await watcher
    assert scope.cancelled_caught
    assert stop.hits == 1
    assert len(cancels_seen) == 20
    assert max(cancels_seen) <= 2, cancels_seen  # woken on every turn: one more per turn
    provider.assert_stopped_once(EndReason.USER_CLOSED)


@pytest.mark.parametrize("style", ["task", "scope"])
@pytest.mark.parametrize("turns", [1, 2])
async def test_a_cancellation_after_a_clean_return_keeps_user_closed(
    provider: Provider, style: str, turns: int
) -> None:
    """A cancellation that lands one or two loop turns after the block returned normally (while the
    background task is torn down) stops with USER_CLOSED, and is delivered after the stop."""
    loop = asyncio.get_running_loop()

    def later(action: Callable[[], object], n: int) -> None:
        loop.call_soon(action if n == 1 else (lambda: later(action, n - 1)))

    if style == "task":

        async def body() -> None:
            task = asyncio.current_task()
            assert task is not None
            async with provider.session():
                later(task.cancel, turns)

        with pytest.raises(asyncio.CancelledError):
            await asyncio.ensure_future(body())
    else:
        with anyio.CancelScope() as scope:
            async with provider.session():
                later(scope.cancel, turns)
        assert scope.cancel_called
    provider.assert_stopped_once(EndReason.USER_CLOSED)


# --- start failures (rule 3) ---------------------------------------------------------------------------


async def test_bad_credential_fails_on_enter_and_leaves_nothing(provider: Provider) -> None:
    """401 on the first call: AuthenticationError from the async with line; nothing opened."""
    with pytest.raises(AuthenticationError):
        async with provider.own_session(credential="nope-not-a-key"):
            pytest.fail("the block must not run")
    assert [r.endpoint for r in provider.emulator.journal] == [provider.enter_steps[0]]
    assert provider.emulator.sessions == {}


@pytest.mark.parametrize(("provider", "step"), FIRST_OPEN_STEPS, indirect=["provider"])
async def test_open_refused_with_4xx_sends_no_stop(provider: Provider, step: str) -> None:
    """A definite refusal of the request that opens the session stops nothing (nothing runs)."""
    provider.emulator.inject(step, status=400)
    with pytest.raises(APIError) as info:
        async with provider.session():
            pytest.fail("the block must not run")
    assert info.value.status == 400
    assert provider.emulator.requests(provider.stop_step) == []
    assert provider.active() == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 503}, ServerError),
        ({"drop": True}, TransportError),
        ({"malformed": True}, ResponseDecodeError),
    ],
)
@pytest.mark.parametrize(("provider", "step"), LAST_OPEN_STEPS, indirect=["provider"])
async def test_ambiguous_open_failure_is_followed_by_a_stop(
    provider: Provider, step: str, fault: dict[str, Any], error: type[Exception]
) -> None:
    """When open may have worked (5xx, no answer, unreadable 2xx), the session is stopped anyway,
    and the request that may have opened a second stream is not repeated."""
    provider.emulator.inject(step, apply=True, **fault)
    with pytest.raises(error):
        async with provider.session():
            pytest.fail("the block must not run")
    assert len(provider.emulator.requests(step)) == 1
    provider.assert_stopped_once(EndReason.SERVER_ERROR)


@pytest.mark.parametrize("confirmed", [True, False], ids=["stop_confirmed", "stop_unconfirmed"])
@pytest.mark.parametrize(("provider", "step"), LAST_OPEN_STEPS, indirect=["provider"])
async def test_a_cancellation_during_the_stop_after_a_failed_open_is_delivered(
    provider: Provider, step: str, confirmed: bool
) -> None:
    """Rules 3 and 11: a task cancelled while the stop that follows an ambiguous open failure is in
    flight ends cancelled once that stop is done, not with open's error (nor, when the stop is not
    confirmed, with SessionStopError: the cancellation carries the note that the session may still
    run instead)."""
    provider.emulator.inject(step, apply=True, status=503)
    provider.emulator.inject(provider.stop_step, delay=0.3 if confirmed else 1.0)
    session = provider.session(stop_timeout=5.0 if confirmed else 0.2)
    caught: list[BaseException] = []

    async def owner() -> None:
        try:
            async with session:
                pytest.fail("the block must not run")
        except BaseException as exc:
            caught.append(exc)
            raise

    task = asyncio.get_running_loop().create_task(owner())
    await wait_until(lambda: session.state is SessionState.STOPPING)
    task.cancel()
    with anyio.fail_after(10):
        await asyncio.wait([task])
    assert task.cancelled()
    assert len(caught) == 1
    assert isinstance(caught[0], asyncio.CancelledError)
    notes = getattr(caught[0], "__notes__", [])
    if confirmed:
        provider.assert_stopped_once(EndReason.SERVER_ERROR, session)
        assert notes == []
    else:
        assert session.end_reason is None
        assert any("may still be running" in note for note in notes)


# --- shapes and sharing (rule 13) ----------------------------------------------------------------------


async def test_reentering_is_an_error(provider: Provider) -> None:
    """A session object is entered once."""
    session = provider.session()
    async with session:
        pass
    with pytest.raises(RuntimeError, match="once"):
        async with session:
            pass


async def test_own_client_with_borrowed_http_session(provider: Provider) -> None:
    """A session that makes its own client closes it, but leaves a borrowed aiohttp session open."""
    async with aiohttp.ClientSession() as http:
        async with provider.own_session(
            credential=provider.credential, http_session=http
        ) as session:
            assert session.session_id
        assert not http.closed
    provider.assert_stopped_once(EndReason.USER_CLOSED)


async def test_a_closed_http_session_is_refused_naming_it(provider: Provider) -> None:
    """A borrowed aiohttp session that is closed (at construction, or by the time the client is
    entered) is a ConfigurationError naming ``http_session``, not aiohttp's RuntimeError from deep
    inside the first request; nothing is sent."""
    closed = aiohttp.ClientSession()
    await closed.close()
    with pytest.raises(ConfigurationError) as info:
        provider.own_session(credential=provider.credential, http_session=closed)
    assert info.value.field == "http_session"
    http = aiohttp.ClientSession()
    session = provider.own_session(credential=provider.credential, http_session=http)
    await http.close()
    with pytest.raises(ConfigurationError) as info:
        async with session:
            pytest.fail("the block must not run")
    assert info.value.field == "http_session"
    assert provider.emulator.journal == []
    assert not session.may_still_run


async def test_two_hundred_sessions_on_one_client(provider: Provider) -> None:
    """200 concurrent sessions on one pool: each started once and stopped exactly once."""

    async def one(i: int) -> None:
        async with provider.session(keep_alive_interval=0.3):
            await anyio.sleep(0.5 + (i % 5) * 0.1)

    async with anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(one, i)
    assert len(provider.emulator.sessions) == 200
    for session in provider.made:
        provider.assert_stopped_once(EndReason.USER_CLOSED, session)
    assert provider.active() == []


async def test_a_session_outside_asyncio_says_so() -> None:
    """Under trio, entering a session raises a RuntimeError that names asyncio."""

    async def enter() -> None:
        async with AvatarSession(AVATAR_ID, api_key=API_KEY, base_url="http://127.0.0.1:9"):
            pass  # pragma: no cover - never reached

    with pytest.raises(RuntimeError, match="aioavatar runs on asyncio"):
        await anyio.to_thread.run_sync(lambda: anyio.run(enter, backend="trio"))


async def test_an_unknown_lifecycle_option_is_refused_by_name(provider: Provider) -> None:
    """A misspelt lifecycle option (stop_timout) is a ConfigurationError naming it, at construction."""
    with pytest.raises(ConfigurationError) as info:
        provider.session(stop_timout=5.0)
    assert info.value.field == "stop_timout"
    assert "stop_timeout" in str(info.value)
    assert provider.emulator.journal == []


async def test_a_session_exited_in_another_task_is_still_stopped_once(provider: Provider) -> None:
    """Rule 13: a session entered in one task and exited in another (a start-up hook and a
    shut-down hook that run in different tasks) is a RuntimeError naming the mistake, and the
    session is stopped all the same, once, with SERVER_ERROR."""
    session = provider.session(keep_alive_interval=20)
    loop = asyncio.get_running_loop()
    await loop.create_task(session.__aenter__())
    with pytest.raises(RuntimeError, match="different task"):
        await loop.create_task(session.__aexit__(None, None, None))
    assert session.end_reason is EndReason.SERVER_ERROR
    assert provider.stops(session.session_id) == 1
    assert session.session_id not in provider.active()


async def test_a_session_on_a_client_that_is_not_open_fails_without_a_word_of_a_running_session(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    """A session of a client never entered (``async with client``): the ``RuntimeError`` saying so,
    nothing sent, and no WARNING or note that a session may still run (nothing could have opened
    one; Kaltura, whose first call opens the session, said one might have)."""
    client: LiveAvatarClient | KalturaAvatarClient
    if isinstance(provider.client, LiveAvatarClient):
        client = LiveAvatarClient(API_KEY, base_url=provider.emulator.base_url)
        session: Any = client.session(AVATAR_ID, is_sandbox=True)
    else:
        client = KalturaAvatarClient(ks=KS, base_url=provider.emulator.base_url)
        session = client.session(KALTURA_AVATAR_ID)
    with (
        caplog.at_level(logging.DEBUG, logger="aioavatar"),
        pytest.raises(RuntimeError, match="not open") as info,
    ):
        async with session:
            pytest.fail("the block must not run")
    assert provider.emulator.requests() == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not getattr(info.value, "__notes__", [])
