"""``RealtimeConnection`` (``liveavatar/_realtime.py``): realtime control of LITE sessions over the
WebSocket at ``ws_url``, against the emulator: connecting, speaking (chunks, pacing, interrupts, the
utterances of ``liveavatar/_utterance.py``), events, and how the socket and the session end each other.

The socket itself (connecting, reconnecting) is tested in ``test_realtime_socket.py``, the JSON in
``test_realtime_protocol.py``."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from aioavatar import (
    AgentStateUpdated,
    ConfigurationError,
    EndReason,
    ErrorEvent,
    LiveAvatarClient,
    RawEvent,
    RealtimeConnection,
    SessionEndedError,
    SessionState,
    SessionStateUpdated,
    SocketState,
    SpeakEnded,
    SpeakStarted,
    Utterance,
    WarningEvent,
)
from aioavatar._logging import MASK
from aioavatar.testing import LiveAvatarEmulator

from ..audio import SECOND, pcm, wav_bytes
from ..conftest import API_KEY, AVATAR_ID
from ..leaks import wait_until
from .lite import lite, speak_chunks, wire

pytestmark = pytest.mark.anyio


# --- connecting --------------------------------------------------------------------------------------------


async def test_nothing_is_sent_before_connected(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Enter waits for `connected`: audio spoken at once is not dropped, and no credential goes to ws_url."""
    emulator.ws.connect_delay = 0.15
    emulator.ws.time_scale = 0.05
    async with lite(client) as session, session.realtime() as rt:
        assert rt.connected
        utterance = await rt.speak(pcm(0.2))
        await rt.start_listening()
        with anyio.fail_after(5):
            await utterance.wait_ended()
        sid = session.session_id
    assert emulator.ws.messages(sid, dropped=True) == []
    # Control messages do not queue behind audio: start_listening may go out between the two.
    assert sorted(str(m.type) for m in emulator.ws.messages(sid)) == [
        "agent.speak",
        "agent.speak_end",
        "agent.start_listening",
    ]
    assert [(h.status, h.credentials) for h in emulator.ws.handshakes] == [(101, False)]


async def test_full_session_has_no_realtime(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """realtime() on a FULL session is a ConfigurationError that says why, and nothing is connected."""
    async with client.session(AVATAR_ID, is_sandbox=True, mode="FULL") as session:
        with pytest.raises(ConfigurationError, match=r"FULL session has no ws_url.*LITE") as info:
            session.realtime()
    assert info.value.field == "mode"
    assert emulator.ws.handshakes == []


async def test_realtime_options_are_checked(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Bad options, and misspelt ones, raise ConfigurationError naming them (``send_keep_alive``'s
    timeout too: no NaN, infinity, zero or None); a second open connection is refused."""
    async with lite(client) as session:
        for name, value in [
            ("connect_timeout", 0),
            ("reconnect_window", 0),
            ("max_ahead", -1.0),
            ("conect_timeout", 5.0),
        ]:
            options: dict[str, Any] = {name: value}
            with pytest.raises(ConfigurationError, match=name):
                session.realtime(**options)
        async with session.realtime() as rt:
            with pytest.raises(RuntimeError, match="already"):
                session.realtime()
            for timeout in (float("nan"), float("inf"), 0, -1, True, None, "1", 10**400):
                with pytest.raises(ConfigurationError) as info:
                    await rt.send_keep_alive(timeout=timeout)  # type: ignore[arg-type]
                assert info.value.field == "timeout"
    with pytest.raises(RuntimeError, match="not running"):
        session.realtime()


# --- speaking ---------------------------------------------------------------------------------------------


async def test_chunks_and_one_event_id_per_utterance(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """Each utterance goes out as ~0.5 s then ~1 s chunks with its own event id, then speak_end, in order."""
    async with lite(client) as session, session.realtime(max_ahead=10.0) as rt:
        first = await rt.speak(pcm(1.7))
        second = await rt.speak(pcm(0.3))
        assert first.event_id != second.event_id
        with anyio.fail_after(5):
            assert await first.wait_started()
            await first.wait_ended()
            await second.wait_ended()
        sid = session.session_id
    assert not first.interrupted
    assert not second.interrupted
    assert (first.chunks, first.chunks_sent) == (3, 3)
    chunks = speak_chunks(fast_ws, sid)
    assert [(len(m.audio or b""), m.event_id) for m in chunks] == [
        (SECOND // 2, first.event_id),
        (SECOND, first.event_id),
        (int(0.2 * SECOND), first.event_id),
        (int(0.3 * SECOND), second.event_id),
    ]
    assert all(m.size < 1_000_000 for m in fast_ws.ws.messages(sid))
    assert wire(fast_ws, sid) == [
        ("agent.speak", first.event_id),
        ("agent.speak", first.event_id),
        ("agent.speak", first.event_id),
        ("agent.speak_end", first.event_id),
        ("agent.speak", second.event_id),
        ("agent.speak_end", second.event_id),
    ]


async def test_audio_is_paced_not_flooded(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """With max_ahead=0.45 s, the 0.1 s second chunk waits until 0.15 s of the 0.5 s first one played."""
    async with lite(client) as session, session.realtime(max_ahead=0.45) as rt:
        utterance = await rt.speak(pcm(0.6))
        with anyio.fail_after(5):
            await utterance.wait_ended()
        first, second = speak_chunks(fast_ws, session.session_id)
    assert second.at - first.at >= 0.12  # sent at once, it would arrive within milliseconds


async def test_bad_audio_is_refused_before_sending(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """speak() refuses an odd byte count and WAV bytes; nothing reaches the server."""
    async with lite(client) as session, session.realtime() as rt:
        with pytest.raises(ConfigurationError, match="odd"):
            await rt.speak(b"\x00" * 4801)
        with pytest.raises(ConfigurationError, match="WAV"):
            await rt.speak(wav_bytes())
        await anyio.sleep(0.05)
        sid = session.session_id
    assert speak_chunks(fast_ws, sid) == []


async def test_interrupt_drops_queued_audio(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """interrupt(): the half-sent utterance gets speak_end, then agent.interrupt; queued audio never goes out."""
    emulator.ws.connect_delay = 0.02  # speech at real time: the first utterance is still playing
    async with lite(client) as session, session.realtime(max_ahead=0.5) as rt:
        long = await rt.speak(pcm(5.0))
        queued = await rt.speak(pcm(1.0))
        with anyio.fail_after(5):
            assert await long.wait_started()
        interrupt_id = await rt.interrupt()
        assert long.ended
        assert long.interrupted
        assert queued.ended
        assert queued.interrupted
        assert queued.chunks_sent == 0
        after = await rt.speak(pcm(0.1))
        emulator.ws.time_scale = 0.05
        with anyio.fail_after(5):
            await after.wait_ended()
        assert not after.interrupted
        sid = session.session_id
    sent = wire(emulator, sid)
    kinds = [kind for kind, _ in sent]
    assert kinds.count("agent.interrupt") == 1, sent
    interrupt_at = kinds.index("agent.interrupt")
    assert sent[interrupt_at] == ("agent.interrupt", interrupt_id)
    assert sent[interrupt_at - 1] == ("agent.speak_end", long.event_id)
    assert sent[interrupt_at + 1 :] == [
        ("agent.speak", after.event_id),
        ("agent.speak_end", after.event_id),
    ]
    assert 1 <= long.chunks_sent < long.chunks
    long_chunks = [m for m in speak_chunks(emulator, sid) if m.event_id == long.event_id]
    assert len(long_chunks) == long.chunks_sent
    assert all(m.event_id != queued.event_id for m in emulator.ws.messages(sid))
    events = [e["type"] for e in emulator.ws.sent(sid)]
    assert "agent.speak_interrupted" in events


@pytest.mark.parametrize("how", ["exit", "cancel", "error"])
async def test_speak_end_is_sent_when_the_block_ends_early(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator, how: str
) -> None:
    """Leaving the realtime block mid-utterance (normally, cancelled, or by an error) still sends speak_end."""
    utterance: Utterance | None = None

    async def body(rt: RealtimeConnection) -> None:
        nonlocal utterance
        utterance = await rt.speak(pcm(5.0))
        await wait_until(lambda: utterance is not None and utterance.chunks_sent >= 1)
        if how == "error":
            raise KeyError("boom")
        if how == "cancel":
            await anyio.sleep(30)

    async with lite(client) as session:
        if how == "cancel":
            with anyio.move_on_after(0.1):
                async with session.realtime(max_ahead=0.6) as rt:
                    await body(rt)
        elif how == "error":
            with pytest.raises(KeyError):
                async with session.realtime(max_ahead=0.6) as rt:
                    await body(rt)
        else:
            async with session.realtime(max_ahead=0.6) as rt:
                await body(rt)
        sid = session.session_id
        await wait_until(lambda: not fast_ws.ws.connected(sid))
    assert utterance is not None
    assert utterance.ended
    assert utterance.interrupted
    assert 1 <= utterance.chunks_sent < utterance.chunks
    assert wire(fast_ws, sid)[-1] == ("agent.speak_end", utterance.event_id)
    assert fast_ws.stop_reasons(sid) == ["USER_CLOSED"]


# --- events -----------------------------------------------------------------------------------------------


async def test_events_arrive_in_order(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """events() yields every server message once, in the order sent, typed."""
    async with lite(client) as session, session.realtime(max_ahead=10.0) as rt:
        one = await rt.speak(pcm(0.3))
        two = await rt.speak(pcm(0.3))
        await two.wait_ended()
        await rt.start_listening()
        received = []
        with anyio.fail_after(5):
            async for event in rt.events():
                received.append(event)
                if isinstance(event, AgentStateUpdated) and event.state == "listening":
                    break
        sent = fast_ws.ws.sent(session.session_id)
    assert [e.data for e in received] == sent
    assert [(type(e), getattr(e, "event_id", None)) for e in received] == [
        (SessionStateUpdated, None),
        (SessionStateUpdated, None),
        (SpeakStarted, one.event_id),
        (AgentStateUpdated, None),
        (SpeakEnded, one.event_id),
        (SpeakStarted, two.event_id),
        (SpeakEnded, two.event_id),
        (AgentStateUpdated, None),
        (AgentStateUpdated, None),
    ]
    assert [(e.previous_state, e.state) for e in received if isinstance(e, AgentStateUpdated)] == [
        ("idle", "talking"),
        ("talking", "idle"),
        ("idle", "listening"),
    ]
    assert [e.state for e in received if isinstance(e, SessionStateUpdated)] == [
        SocketState.CONNECTING,
        SocketState.CONNECTED,
    ]


async def events_until_an_error(rt: RealtimeConnection) -> list[Any]:
    """The events ``rt`` gives, up to and including the first ErrorEvent."""
    received = []
    with anyio.fail_after(5):  # a hang, not a speed limit
        async for event in rt.events():
            received.append(event)
            if isinstance(event, ErrorEvent):
                return received
    return received


async def test_unknown_events_pass_through(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """A type the SDK does not know arrives as a RawEvent; error and warning arrive typed; nothing crashes."""
    async with lite(client) as session, session.realtime() as rt:
        sid = session.session_id
        await fast_ws.ws.send(sid, {"type": "agent.audio_buffer_cleared", "extra": [1, 2]})
        await fast_ws.ws.send(sid, {"type": "warning", "message": "slow network"})
        await fast_ws.ws.send(
            sid, {"type": "error", "error": {"type": "bad", "message": "no", "event_id": "x"}}
        )
        received = await events_until_an_error(rt)
        utterance = await rt.speak(pcm(0.1))  # still working
        with anyio.fail_after(5):
            await utterance.wait_ended()
    assert received[2:] == [
        RawEvent(
            "agent.audio_buffer_cleared", {"type": "agent.audio_buffer_cleared", "extra": [1, 2]}
        ),
        WarningEvent(message="slow network"),
        ErrorEvent(error_type="bad", message="no", event_id="x"),
    ]


async def test_credentials_echoed_in_events_are_masked(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """A server that puts the session's token and the API key into its events (a message, a type, a
    nested field): no event, and no repr of one, shows either."""
    async with lite(client) as session, session.realtime() as rt:
        sid = session.session_id
        token = fast_ws.sessions[sid].token
        key = API_KEY
        await fast_ws.ws.send(sid, {"type": "warning", "message": f"token {token} for key {key}"})
        await fast_ws.ws.send(sid, {"type": f"x.{key}", "detail": {"token": token}})
        await fast_ws.ws.send(sid, {"type": "error", "error": {"message": f"bad {token}"}})
        received = await events_until_an_error(rt)
    shown = repr(received)
    assert MASK in shown
    assert token not in shown
    assert key not in shown
    assert isinstance(received[-1], ErrorEvent)
    assert received[-1].message == f"bad {MASK}"


# --- the socket and the session ---------------------------------------------------------------------------


async def test_server_ending_the_session_ends_the_block(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """The server ends the session and closes the socket: the block is cancelled, SessionEndedError, no stop."""
    reached = False
    with pytest.raises(SessionEndedError) as info:
        async with lite(client) as session, session.realtime() as rt:
            utterance = await rt.speak(pcm(0.5))
            fast_ws.end_session(session.session_id, EndReason.ZOMBIE_SESSION_REAP)
            await anyio.sleep(10)
            reached = True
    assert not reached
    assert info.value.end_reason is EndReason.ZOMBIE_SESSION_REAP
    assert session.end_reason is EndReason.ZOMBIE_SESSION_REAP
    assert fast_ws.stop_reasons(session.session_id) == []
    assert rt.closed
    assert utterance.ended
    assert fast_ws.ws.sent(session.session_id)[-1] == {
        "type": "session.state_updated",
        "state": "closed",
    }


async def test_session_stop_inside_the_block_is_not_a_loss(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """session.stop() closes the socket server side: an expected close, so no SessionEndedError."""
    async with lite(client) as session, session.realtime() as rt:
        await session.stop(EndReason.AGENT_HANG_UP)
        await wait_until(lambda: rt.closed)
        with pytest.raises(RuntimeError, match="closed"):
            await rt.speak(pcm(0.1))
    assert session.end_reason is EndReason.AGENT_HANG_UP
    assert fast_ws.stop_reasons(session.session_id) == ["AGENT_HANG_UP"]
    assert fast_ws.ws.connections(session.session_id) == 1


async def test_nothing_more_is_spoken_once_the_session_is_stopping(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A stop under way (its answer slow; the server has not closed the socket yet): the utterance
    being sent is cut (its ``agent.speak_end`` still sent, rule 4) and ends as interrupted, and
    ``speak()`` refuses, instead of audio going on to a session that is ending."""
    emulator.ws.connect_delay = 0.02
    emulator.inject("stop", delay=1.0)
    async with lite(client) as session, session.realtime() as rt:
        sid = session.session_id
        long = await rt.speak(pcm(6.0))  # paced: 2 s ahead of real time at most
        await wait_until(lambda: long.chunks_sent >= 1)
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.stop)
            await wait_until(lambda: session.state is SessionState.STOPPING)
            with pytest.raises(RuntimeError, match="the session is ending"):
                await rt.speak(pcm(0.5))
            with pytest.raises(RuntimeError, match="the session is ending"):
                await rt.start_listening()
            with anyio.fail_after(5):
                await long.wait_ended()
            assert long.interrupted
            sent = long.chunks_sent
            assert sent < long.chunks
            await wait_until(lambda: ("agent.speak_end", long.event_id) in wire(emulator, sid))
    assert len(speak_chunks(emulator, sid)) == sent
    assert emulator.stop_reasons(sid) == ["USER_CLOSED"]


async def test_a_cancelled_speak_queues_nothing(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """``speak()`` cancelled (its scope cancelled before it ran) raised: it queued nothing, so no
    audio goes out for a call the caller saw fail."""
    async with lite(client) as session, session.realtime() as rt:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await rt.speak(pcm(0.5))
        assert scope.cancelled_caught
        assert rt.queued == 0
        spoken = await rt.speak(pcm(0.2))
        with anyio.fail_after(5):
            await spoken.wait_ended()
        sid = session.session_id
    assert {m.event_id for m in speak_chunks(fast_ws, sid)} == {spoken.event_id}


async def test_an_utterance_the_server_ends_early_is_cut_and_said_interrupted(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """``agent.speak_ended`` for an utterance before all its audio was sent: the rest is not sent,
    ``agent.speak_end`` still is (rule 4), and it ends as interrupted (not all of it was spoken),
    with a warning; it did not end silently as if whole."""
    emulator.ws.connect_delay = 0.02
    async with lite(client) as session, session.realtime() as rt:
        sid = session.session_id
        long = await rt.speak(pcm(6.0))
        await wait_until(lambda: long.chunks_sent >= 1)
        event = {"type": "agent.speak_ended", "event_id": long.event_id, "task": {"id": "t-1"}}
        await emulator.ws.send(sid, event)
        with anyio.fail_after(5):
            await long.wait_ended()
        assert long.interrupted
        assert long.chunks_sent < long.chunks
        await wait_until(lambda: ("agent.speak_end", long.event_id) in wire(emulator, sid))
        sent = long.chunks_sent
    assert len(speak_chunks(emulator, sid)) == sent
    assert f"the server ended utterance {long.event_id}" in caplog.text


async def test_audio_sent_is_let_go_of_while_its_end_is_awaited(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """An utterance wholly sent waits for the server's ``agent.speak_ended`` without its audio: a
    server slow to say so (or that never does) does not make the connection hold every second of
    speech it was given. Its number of chunks is still told."""
    emulator.ws.connect_delay = 0.02
    emulator.ws.time_scale = 100.0  # played a hundred times slower: its end is far away
    async with lite(client) as session, session.realtime() as rt:
        sid = session.session_id
        utterance = await rt.speak(pcm(0.4))
        await wait_until(lambda: ("agent.speak_end", utterance.event_id) in wire(emulator, sid))
        assert not utterance.ended
        assert utterance.chunks == 1
        assert utterance._speech.chunks == []


async def test_the_server_going_back_to_connecting_holds_the_sender(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """``session.state_updated`` ``connecting`` after ``connected``: what would be sent now is
    dropped by the server (rule 1), so nothing is sent until it says ``connected`` again."""
    async with lite(client) as session, session.realtime() as rt:
        sid = session.session_id
        await fast_ws.ws.send(sid, {"type": "session.state_updated", "state": "connecting"})
        await wait_until(lambda: not rt.connected)
        utterance = await rt.speak(pcm(0.2))
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        assert speak_chunks(fast_ws, sid) == []
        await fast_ws.ws.send(sid, {"type": "session.state_updated", "state": "connected"})
        with anyio.fail_after(5):
            await utterance.wait_ended()
    assert [m.event_id for m in speak_chunks(fast_ws, sid)] == [utterance.event_id]
    assert fast_ws.ws.messages(sid, dropped=True) == []


async def test_a_server_that_says_closed_and_keeps_the_socket_open_ends_the_session(
    client: LiveAvatarClient, fast_ws: LiveAvatarEmulator
) -> None:
    """``closed`` said while the socket stays open: the connection sends nothing more and shuts the
    socket itself, so the session learns it at once (rule 6) instead of speaking on."""
    with pytest.raises(SessionEndedError):
        async with lite(client) as session, session.realtime() as rt:
            sid = session.session_id
            await fast_ws.ws.send(sid, {"type": "session.state_updated", "state": "closed"})
            await anyio.sleep(10)
    assert rt.closed
    assert speak_chunks(fast_ws, sid) == []
