"""``liveavatar/_realtime_socket.py``: the socket under a realtime connection, against the emulator: no
frame before ``connected`` (or a timeout), a dropped socket reopened within the reconnect window, the
session ended when it cannot be, and a ``ws_url`` that cannot be used refused up front."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import anyio
import pytest

from aioavatar import (
    ConfigurationError,
    EndReason,
    LiveAvatarClient,
    RawEvent,
    RealtimeConnection,
    RequestTimeout,
    SessionEndedError,
    SessionState,
    TransportError,
    Utterance,
)
from aioavatar.liveavatar import _realtime_socket as socket_module
from aioavatar.testing import LiveAvatarEmulator

from ..audio import pcm
from ..leaks import wait_until
from .lite import lite, speak_chunks

pytestmark = pytest.mark.anyio


async def test_no_connected_is_a_timeout(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A socket that never says `connected` fails enter with RequestTimeout after connect_timeout."""
    emulator.ws.connect_delay = math.inf
    with pytest.raises(RequestTimeout, match="connected") as info:
        async with lite(client) as session, session.realtime(connect_timeout=0.15):
            pytest.fail("the block must not run")
    assert isinstance(info.value, TimeoutError)
    assert info.value.path == f"/v1/sessions/{session.session_id}/ws"
    await wait_until(lambda: not emulator.ws.connected(session.session_id))
    assert emulator.ws.messages(session.session_id, dropped=None) == []
    assert emulator.stop_reasons(session.session_id) == ["SERVER_ERROR"]


async def test_dropped_socket_reconnects_within_the_window(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """A socket cut by the network is reopened: the session carries on; audio on the lost socket is cut."""
    fast_ws.ws.time_scale = 1.0
    async with lite(client) as session, session.realtime(reconnect_window=3.0, max_ahead=0.5) as rt:
        sid = session.session_id
        cut = await rt.speak(pcm(3.0))
        await wait_until(lambda: cut.chunks_sent >= 1)
        fast_ws.ws.refuse(times=2)  # the first reconnects fail too
        assert fast_ws.ws.drop(sid) == 1
        await wait_until(lambda: fast_ws.ws.connections(sid) == 2 and rt.connected)
        assert cut.ended
        assert cut.interrupted
        fast_ws.ws.time_scale = 0.05
        fresh = await rt.speak(pcm(0.2))
        with anyio.fail_after(5):
            await fresh.wait_ended()
        assert not fresh.interrupted
        assert session.state is SessionState.ACTIVE
    assert fast_ws.stop_reasons(sid) == ["USER_CLOSED"]
    assert [h.status for h in fast_ws.ws.handshakes] == [101, 503, 503, 101]
    assert {m.connection for m in speak_chunks(fast_ws, sid) if m.event_id == fresh.event_id} == {2}
    assert all(m.event_id != cut.event_id for m in fast_ws.ws.messages(sid) if m.connection == 2)


async def test_failed_reconnect_ends_the_session(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """No reconnect within the window: the running session is stopped (SERVER_ERROR) and the block ends."""
    with pytest.raises(SessionEndedError) as info:
        async with lite(client) as session, session.realtime(reconnect_window=0.15) as rt:
            fast_ws.ws.refuse(times=1000)
            fast_ws.ws.drop(session.session_id)
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.SERVER_ERROR
    assert fast_ws.stop_reasons(session.session_id) == ["SERVER_ERROR"]
    assert rt.closed
    assert len(fast_ws.ws.handshakes) >= 3  # it did try


async def test_unread_events_are_bounded_by_the_text_of_their_frames(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Nobody reads ``events()`` while the server sends a hundred 60 KB events and one of 2 MB:
    what is kept is bounded by the memory their frames parse into (2 MiB), not only by their count
    (parsed, a server's frames could fill gigabytes), the newest kept; the 2 MB frame is not
    parsed, only its first 1,000 characters and its size are kept."""
    async with lite(client) as session, session.realtime() as rt:
        sid = session.session_id
        for index in range(100):
            await fast_ws.ws.send(sid, {"type": "custom.big", "index": index, "pad": "x" * 60_000})
        await fast_ws.ws.send(sid, {"type": "custom.huge", "pad": "y" * 2_000_000})
        await fast_ws.ws.send(sid, {"type": "custom.last"})
        await wait_until(lambda: any(getattr(e, "type", "") == "custom.last" for e in rt._events))
        kept = []
        async for event in rt.events():
            kept.append(event)
            if getattr(event, "type", "") == "custom.last":
                break
    assert isinstance(kept[-2], RawEvent)
    assert kept[-2].type == ""
    assert kept[-2].data["size"] > 2_000_000
    assert len(kept[-2].data["text"]) == 1000
    big = [e.data["index"] for e in kept if isinstance(e, RawEvent) and e.type == "custom.big"]
    assert 20 <= len(big) <= 34  # 2 MiB of 60 KB frames of text (each about its length)
    assert big == list(range(100 - len(big), 100))  # the newest, in order


async def test_unread_events_of_empty_objects_are_bounded_by_what_they_parse_into(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Frames of empty objects parse into about 18 to 24 times their text: sixteen of 6,000 (24 KB
    of text, about 430 KB parsed), unread, were all kept (7 MiB) when the bound counted text. Each
    counts what it parses into, so about 2 MiB of them is kept (here one or two), the newest."""
    async with lite(client) as session, session.realtime() as rt:
        sid = session.session_id
        for index in range(16):
            await fast_ws.ws.send(
                sid, {"type": "custom.objects", "index": index, "d": [{}] * 6_000}
            )
        await fast_ws.ws.send(sid, {"type": "custom.last"})
        await wait_until(lambda: any(getattr(e, "type", "") == "custom.last" for e in rt._events))
        kept = [e.data["index"] for e in rt._events if getattr(e, "type", "") == "custom.objects"]
    assert 1 <= len(kept) <= 2
    assert kept == list(range(16 - len(kept), 16))


@contextmanager
def _unretrieved_connection_losses_dropped() -> Iterator[None]:
    """aiohttp before 3.13 shields its drain waiter, so a write that the stall bound cuts short
    leaves that waiter behind, and the socket's shutdown then sets "Connection lost" on it, which
    asyncio reports as never retrieved once it is collected (a log line in a program; a failure
    under the anyio test runner). Only that report is dropped, for as long as the loop runs: the
    waiter may be collected with the fixtures, after the test."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        lost = isinstance(context.get("exception"), ConnectionError)
        if lost and "never retrieved" in str(context.get("message", "")):
            return
        if previous is None:
            loop.default_exception_handler(context)
        else:
            previous(loop, context)

    loop.set_exception_handler(handler)
    yield


async def _held_by_a_stalled_socket(
    rt: RealtimeConnection, emulator: LiveAvatarEmulator, session_id: str
) -> Utterance:
    """Stop the server reading the session's socket, then speak far more than the socket's buffers
    hold (sent at once, with ``max_ahead`` at 300 s): returns the utterance once its sender's write
    is held by the full buffers (no chunk goes out for 0.2 s)."""
    assert emulator.ws.stall(session_id) == 1
    speech = await rt.speak(pcm(290.0))
    sent = -1
    while speech.chunks_sent != sent:
        sent = speech.chunks_sent
        await anyio.sleep(0.2)
    assert 0 < sent < speech.chunks
    return speech


async def test_a_server_that_stops_reading_costs_the_socket_not_the_caller(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server stops reading while audio goes out as fast as the socket takes it: its buffers
    fill and the sender's write waits. ``interrupt()`` waits for that sender; the write that cannot
    go for the stall bound drops the socket, the reader reopens it (rule 6), and the interrupt goes
    out on the new socket instead of waiting for good."""
    monkeypatch.setattr(socket_module, "_STALL_SECONDS", 0.5)
    with _unretrieved_connection_losses_dropped():
        async with lite(client) as session, session.realtime(max_ahead=300.0) as rt:
            sid = session.session_id
            speech = await _held_by_a_stalled_socket(rt, fast_ws, sid)
            with anyio.fail_after(60):  # a hang, not a speed limit
                event_id = await rt.interrupt()
            assert speech.interrupted
            assert session.state is SessionState.ACTIVE
        interrupts = [m for m in fast_ws.ws.messages(sid) if m.type == "agent.interrupt"]
        assert [(m.event_id, m.connection) for m in interrupts] == [(event_id, 2)]
        assert fast_ws.stop_reasons(sid) == ["USER_CLOSED"]


async def test_a_stalled_write_does_not_mark_down_the_socket_that_replaced_its_own(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender's write waits on a socket the server stopped reading; the server then says
    goodbye (a close frame) on it, and the reader reopens a new socket before the write's stall
    bound runs out. That bound must not mark the new socket down (nothing would bring it up again:
    every control call and the sender would wait for good)."""
    monkeypatch.setattr(socket_module, "_STALL_SECONDS", 1.0)
    with _unretrieved_connection_losses_dropped():
        async with lite(client) as session, session.realtime(max_ahead=300.0) as rt:
            sid = session.session_id
            await _held_by_a_stalled_socket(rt, fast_ws, sid)
            assert fast_ws.ws.going_away(sid) == 1
            await wait_until(lambda: rt.connected and fast_ws.ws.connections(sid) == 2)
            await anyio.sleep(1.5)  # the first write's stall bound runs out meanwhile
            assert rt.connected
            with anyio.fail_after(60):  # a hang, not a speed limit
                event_id = await rt.interrupt()
        interrupts = [m for m in fast_ws.ws.messages(sid) if m.type == "agent.interrupt"]
        assert [(m.event_id, m.connection) for m in interrupts] == [(event_id, 2)]


async def test_a_socket_that_held_starts_a_new_outage_when_it_drops(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Two ordinary drops a little more than the stable second apart, with a 1.2 s window: the
    socket between them held, so the second drop is a new outage with a window of its own, not
    the rest of the first one (which would leave no time to reconnect and stop the session)."""
    async with lite(client) as session, session.realtime(reconnect_window=1.2) as rt:
        sid = session.session_id
        fast_ws.ws.drop(sid)
        await wait_until(lambda: rt.connected and fast_ws.ws.connections(sid) == 2)
        await anyio.sleep(1.15)  # up for longer than _STABLE_SECONDS, within the window
        fast_ws.ws.drop(sid)
        await wait_until(lambda: rt.connected and fast_ws.ws.connections(sid) == 3)
        assert session.state is SessionState.ACTIVE
    assert fast_ws.stop_reasons(sid) == ["USER_CLOSED"]


async def test_a_server_that_drops_every_socket_at_once_ends_the_session_within_the_window(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """A server that accepts every reconnect, says ``connected`` and drops it at once: the outage
    goes on across those sockets, its window and backoff included (a socket counts as back only
    once it has stayed up for a reconnect window), so the reconnects are few and rule 14 ends the
    session (SERVER_ERROR), instead of a storm of handshakes with no end."""
    with pytest.raises(SessionEndedError) as info:
        async with lite(client) as session, session.realtime(reconnect_window=0.5):
            fast_ws.ws.flap(times=100_000)
            fast_ws.ws.drop(session.session_id)
            await anyio.sleep(30)
    assert info.value.end_reason is EndReason.SERVER_ERROR
    assert fast_ws.stop_reasons(session.session_id) == ["SERVER_ERROR"]
    # Backoff from 50 ms, doubling, within one 0.5 s window: a handful of attempts, not thousands.
    assert 2 <= len(fast_ws.ws.handshakes) <= 10


async def test_a_lost_connection_whose_lookup_answers_404_still_stops_the_session(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Rule 14 with a lookup answered 404: the only word on the session is "not found", which is
    no proof that it ended (a stop after a 404 would be). The SDK cannot say, so it stops the
    session (SERVER_ERROR) rather than report it ended while it runs on and bills."""
    with pytest.raises(SessionEndedError) as info:
        async with lite(client) as session, session.realtime(reconnect_window=0.15):
            fast_ws.inject("get", status=404)
            fast_ws.ws.refuse(times=1000)
            fast_ws.ws.drop(session.session_id)
            await anyio.sleep(10)
    assert info.value.end_reason is EndReason.SERVER_ERROR
    assert fast_ws.stop_reasons(session.session_id) == ["SERVER_ERROR"]
    assert session.session_id not in [s.id for s in fast_ws.active_sessions()]


@pytest.mark.parametrize(
    "ws_url",
    [
        "ws://[::1/ws?session_token=tok-3f9a2c71e5",
        "ws://127.0.0.1:99999/ws?session_token=tok-3f9a2c71e5",
        "http://x/ws",
        "ws://a..b/ws?session_token=tok-3f9a2c71e5",
        f"wss://{'a' * 64}.example/ws?session_token=tok-3f9a2c71e5",
    ],
)
async def test_a_malformed_ws_url_is_a_configuration_error(ws_url: str) -> None:
    """A ws_url that cannot be parsed (a bad bracket or port, a wrong scheme) or looked up (an
    empty label, one over 63 characters: a bare UnicodeError before) is refused, and the error
    does not quote it: the URL may carry a credential."""
    async with aiohttp.ClientSession() as http:
        with pytest.raises(ConfigurationError) as info:
            RealtimeConnection(http, ws_url, _NeverLost())
    assert info.value.field == "ws_url"
    assert "tok-3f9a2c71e5" not in str(info.value)
    assert "tok-3f9a2c71e5" not in repr(info.value.args)


class _NeverLost:
    """Session hooks for a connection that is never opened."""

    _ending = False

    async def _connection_lost(self) -> None:  # pragma: no cover - never opened, never lost
        raise AssertionError("not expected")


async def test_a_server_that_says_closing_and_keeps_the_socket_open_ends_the_session(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """``closing`` said while the socket stays open: the server is given ``close_timeout`` to close
    it, then the connection shuts it itself and the session learns it (rule 6). Until now a
    control waited for good on a socket that takes nothing, and the session ran on."""
    with pytest.raises(SessionEndedError) as info:
        async with lite(client) as session, session.realtime(close_timeout=0.2) as rt:
            sid = session.session_id
            await fast_ws.ws.send(sid, {"type": "session.state_updated", "state": "closing"})
            await wait_until(lambda: not rt.connected)
            with pytest.raises(TransportError, match="lost"):
                await rt.interrupt()  # held (nothing is sent after `closing`) until it is shut
            await anyio.sleep(10)  # the session learns it: the block is cancelled
    assert info.value.end_reason is EndReason.SERVER_ERROR
    assert fast_ws.stop_reasons(sid) == ["SERVER_ERROR"]
    assert rt.closed
    assert fast_ws.ws.messages(sid, type="agent.interrupt") == []


@pytest.mark.parametrize("repeated", [False, True], ids=["said once", "said again and again"])
async def test_a_server_that_stays_in_connecting_has_its_socket_reopened(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator, repeated: bool
) -> None:
    """``connecting`` after ``connected`` holds the sender (rule 1), but not for good: a socket that
    does not say ``connected`` again within ``connect_timeout`` of the first ``connecting`` (said
    once, or again and again, more often than that) is dropped and reopened (rule 6), and what was
    held goes out on the new one."""
    async with lite(client) as session, session.realtime(connect_timeout=0.3) as rt:
        sid = session.session_id
        connecting = {"type": "session.state_updated", "state": "connecting"}
        await fast_ws.ws.send(sid, connecting)
        await wait_until(lambda: not rt.connected)
        utterance = await rt.speak(pcm(0.2))
        for _ in range(100 if repeated else 0):  # every 0.1 s until it is dropped
            if fast_ws.ws.connections(sid) > 1:
                break
            await fast_ws.ws.send(sid, connecting)
            await anyio.sleep(0.1)
        else:
            assert not repeated, "not dropped while the server kept saying `connecting`"
        await wait_until(lambda: fast_ws.ws.connections(sid) == 2 and rt.connected)
        with anyio.fail_after(5):
            await utterance.wait_ended()
        assert not utterance.interrupted
    assert fast_ws.stop_reasons(sid) == ["USER_CLOSED"]
    assert {m.connection for m in speak_chunks(fast_ws, sid)} == {2}


async def test_a_stop_during_a_reconnect_makes_the_controls_say_the_session_is_ending(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Rule 8 when the session is stopped while its socket is being reopened: the reconnect gives
    up because of the stop, so ``speak()`` and the controls raise ``RuntimeError`` (the session is
    ending), not ``TransportError`` (the socket was lost), and the session is stopped once."""
    async with lite(client) as session, session.realtime(reconnect_window=30.0) as rt:
        sid = session.session_id
        fast_ws.ws.refuse(times=1000)
        fast_ws.ws.drop(sid)
        await wait_until(lambda: len(fast_ws.ws.handshakes) >= 3)  # reopening, refused
        await session.stop()
        await wait_until(lambda: rt.closed)
        with pytest.raises(RuntimeError, match="ending"):
            await rt.speak(pcm(0.2))
        with pytest.raises(RuntimeError, match="ending"):
            await rt.interrupt()
    assert fast_ws.stop_reasons(sid) == ["USER_CLOSED"]


async def test_a_native_cancellation_during_the_close_does_not_cut_it(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Rule 7 against ``task.cancel()`` (which an anyio shield does not hold off), landing at each
    loop step of the realtime block's exit in turn: the close still ends the utterance being sent
    with its ``agent.speak_end`` and closes the socket, then the cancellation is raised (the task
    returns nothing after the block: a cancellation kept for its next wait would be lost)."""
    async with lite(client) as session:  # 3 s of speech, paced: still being sent at the exit
        for steps in range(1, 25):
            exiting: list[bool] = []
            said: list[Utterance] = []

            async def worker(exiting: list[bool] = exiting, said: list[Utterance] = said) -> str:
                async with session.realtime(max_ahead=0.5) as rt:
                    said.append(await rt.speak(pcm(3.0)))
                    await wait_until(lambda: said[0].chunks_sent >= 1)
                    exiting.append(True)
                return "returned"

            task = asyncio.ensure_future(worker())
            for _ in range(1_000_000):  # one loop step at a time (wait_until polls coarser)
                if exiting:
                    break
                await asyncio.sleep(0)
            for _ in range(steps):
                await asyncio.sleep(0)
            if task.done():  # the exit is over: every step of it was tried
                assert await task == "returned"
                break
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            sid = session.session_id
            await wait_until(lambda: fast_ws.ws.connected(sid) is False)  # noqa: B023 - closed
            ends = fast_ws.ws.messages(sid, type="agent.speak_end")
            assert [m.event_id for m in ends][-1:] == [said[0].event_id], f"cut {steps} steps in"
            assert len(ends) == steps
    assert steps > 2  # the sweep landed inside the close (two steps, with no task of its own)
    assert fast_ws.stop_reasons(session.session_id) == ["USER_CLOSED"]
