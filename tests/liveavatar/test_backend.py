"""``liveavatar/_backend.py``, the LiveAvatar side of the lifecycle: where a LITE session's keep-alive
goes (the socket while it is up, REST otherwise, and REST once in every half idle window)."""

from __future__ import annotations

import itertools

import anyio
import pytest

from aioavatar import AvatarSession, LiveAvatarClient, RetryPolicy, SessionState
from aioavatar.testing import LiveAvatarEmulator

from ..conftest import API_KEY, AVATAR_ID
from ..leaks import wait_until
from .lite import lite

pytestmark = pytest.mark.anyio


async def test_keep_alive_over_the_socket_with_rest_fallback() -> None:
    """While the socket is up keep-alive goes over it (and keeps the session from idling out); else REST."""
    async with (
        LiveAvatarEmulator(api_key=API_KEY, idle_timeout=0.4) as emulator,
        LiveAvatarClient(
            API_KEY,
            base_url=emulator.base_url,
            retry_policy=RetryPolicy(backoff_initial=0.01, backoff_max=0.05),
        ) as client,
    ):
        emulator.ws.connect_delay = 0.02
        async with lite(client, keep_alive_interval=0.05) as session:
            sid = session.session_id
            async with session.realtime(reconnect_window=3.0) as rt:
                await wait_until(
                    lambda: len(emulator.ws.messages(sid, type="session.keep_alive")) >= 1
                )
                over_socket_from = emulator.ws.messages(sid, type="session.keep_alive")[0].at
                await anyio.sleep(0.55)  # longer than the idle timeout
                await wait_until(
                    lambda: len(emulator.ws.messages(sid, type="session.keep_alive")) >= 6
                )
                over_socket_until = emulator.ws.messages(sid, type="session.keep_alive")[-1].at
                # The socket goes away for a while: REST takes over, then the socket again.
                emulator.ws.refuse(times=3)
                emulator.ws.drop(sid)
                await wait_until(lambda: emulator.ws.connections(sid) == 2 and rt.connected)
                rest_in_gap = len(emulator.requests("keep_alive", session_id=sid))
                await wait_until(
                    lambda: any(
                        m.connection == 2
                        for m in emulator.ws.messages(sid, type="session.keep_alive")
                    )
                )
            # The socket is closed: REST takes over again.
            last_over_socket = emulator.ws.messages(sid, type="session.keep_alive")[-1].at
            await wait_until(
                lambda: any(
                    r.at > last_over_socket for r in emulator.requests("keep_alive", session_id=sid)
                )
            )
            assert session.state is SessionState.ACTIVE
        rest = emulator.requests("keep_alive", session_id=sid)
    beats = emulator.ws.messages(sid, type="session.keep_alive")
    assert len([b for b in beats if b.connection == 1]) >= 6
    assert all(b.event_id for b in beats)
    assert [r for r in rest if over_socket_from < r.at < over_socket_until] == []
    assert rest_in_gap >= 1
    assert len([r for r in rest if r.at > beats[-1].at]) >= 1
    assert emulator.stop_reasons(sid) == ["USER_CLOSED"]


def _beating_every_50_ms(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, *, idle_timeout: float
) -> AvatarSession:
    """A LITE session beating every 50 ms whose idle window the SDK takes to be ``idle_timeout``
    (the emulator's own stays 5 minutes), on an emulator whose socket connects in 20 ms."""
    emulator.ws.connect_delay = 0.02
    session = lite(client, keep_alive_interval=0.05)
    session._backend.idle_timeout = idle_timeout
    return session


async def test_a_beat_goes_over_rest_once_a_third_of_the_idle_window_has_passed(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A socket's write says nothing of the server: one that stopped answering, or ended the
    session without a word (a half-open socket), takes it all the same. So while the socket is up,
    a beat goes over REST once a third of the idle window (here 0.3 of 0.9 s) has passed since the
    last REST answer, whose 404 would be rule 7; the other beats keep going over the socket."""
    session = _beating_every_50_ms(client, emulator, idle_timeout=0.9)
    async with session, session.realtime() as rt:
        sid = session.session_id
        await wait_until(lambda: len(emulator.ws.messages(sid, type="session.keep_alive")) >= 1)
        up_from = emulator.ws.messages(sid, type="session.keep_alive")[0].at
        await wait_until(
            lambda: (
                len([r for r in emulator.requests("keep_alive", session_id=sid) if r.at > up_from])
                >= 2
            )
        )
        assert rt.connected
    rest = [r.at for r in emulator.requests("keep_alive", session_id=sid) if r.at > up_from]
    over_socket = [m.at for m in emulator.ws.messages(sid, type="session.keep_alive")]
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(rest))
    assert len([at for at in over_socket if rest[0] < at < rest[1]]) >= 3


async def test_a_failing_rest_keep_alive_does_not_silence_a_working_socket(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The REST keep-alive answers 503 for good while the socket works: the beats that were due
    over REST still go over the socket, so the session outlives two idle windows (0.6 s) instead
    of being presumed lost (rule 6) with a working socket."""
    session = _beating_every_50_ms(client, emulator, idle_timeout=0.6)
    async with session, session.realtime() as rt:
        sid = session.session_id
        await wait_until(lambda: len(emulator.ws.messages(sid, type="session.keep_alive")) >= 1)
        emulator.inject("keep_alive", status=503, times=100_000)
        before = len(emulator.ws.messages(sid, type="session.keep_alive"))
        await anyio.sleep(1.5)  # more than two idle windows
        assert session.state is SessionState.ACTIVE
        assert rt.connected
        assert len(emulator.ws.messages(sid, type="session.keep_alive")) - before >= 10
    assert emulator.stop_reasons(sid) == ["USER_CLOSED"]


async def test_a_keep_alive_whose_token_is_refused_goes_on_with_the_api_key(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A beat answered 401 with the session's token (an expired token, say): the same beat goes again
    with the account's API key, which the API accepts for a keep-alive, and so do the next beats;
    the session stays alive and counts no failure (the stop falls back to the key likewise)."""
    emulator.inject("keep_alive", status=401)
    async with client.session(AVATAR_ID, is_sandbox=True, keep_alive_interval=0.05) as session:
        await wait_until(lambda: session.statistics().keep_alives_sent >= 3)
        assert session.statistics().keep_alives_failed == 0
        sid = session.session_id
    beats = [(r.auth, r.status) for r in emulator.journal if r.endpoint == "keep_alive"]
    assert beats[:2] == [("bearer", 401), ("api_key", 200)]
    assert {auth for auth, _ in beats[2:]} == {"api_key"}
    assert f"session {sid}: its token was refused on a keep-alive" in caplog.text
    assert emulator.stop_reasons(sid) == ["USER_CLOSED"]


async def test_a_keep_alive_refused_with_the_api_key_fails_as_before(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Both the token and then the API key refused (401 twice): that beat fails (counted; the
    session lives on within its idle window), and no third request is made for it."""
    emulator.inject("keep_alive", status=401, times=2)
    async with client.session(AVATAR_ID, is_sandbox=True, keep_alive_interval=0.05) as session:
        await wait_until(lambda: session.statistics().keep_alives_failed >= 1)
        await wait_until(lambda: session.statistics().keep_alives_sent >= 1)
    beats = [(r.auth, r.status) for r in emulator.journal if r.endpoint == "keep_alive"]
    assert beats[:3] == [("bearer", 401), ("api_key", 401), ("api_key", 200)]
