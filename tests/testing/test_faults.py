"""Fault injection (``inject``), over real sockets with plain aiohttp: what a client receives, what the
emulator records, and that it keeps serving afterwards. The faults are shared by both emulators; they
are exercised here on the LiveAvatar one."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aiohttp
import anyio
import pytest

from aioavatar import EndReason
from aioavatar.testing import Fault, KalturaEmulator, LiveAvatarEmulator

from .helpers import AVATAR, KEY, bearer, call, ok, start

pytestmark = pytest.mark.anyio

LIST = "/v1/sessions?type=active"


# ---- faults ------------------------------------------------------------------------------------


async def test_fault_status(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """An injected status answers once with Retry-After and the error body, then normal answers."""
    fault = emulator.inject("token", status=429, retry_after="2")
    assert isinstance(fault, Fault)
    body = {"avatar_id": AVATAR}
    reply = await call(http, emulator, "POST", "/v1/sessions/token", headers=KEY, json_body=body)
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "2"
    assert reply.body == {"message": "injected fault"}
    assert emulator.sessions == {}  # apply=False: no effect
    assert fault.hits == 1
    assert fault.remaining == 0
    [record] = emulator.journal
    assert record.fault is True
    assert record.status == 429
    assert record.session_id is None
    # Exhausted: the next call is normal.
    ok(await call(http, emulator, "POST", "/v1/sessions/token", headers=KEY, json_body=body))


async def test_fault_custom_body_and_times(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """Faults of one endpoint apply in order, each for its `times`, with custom bodies."""
    session_id, token, _ = await start(http, emulator)
    emulator.inject(
        "keep_alive",
        status=502,
        body=b"<html>bad gateway</html>",
        content_type="text/html",
        times=2,
    )
    emulator.inject("keep_alive", status=503)
    statuses = []
    for _ in range(4):
        reply = await call(http, emulator, "POST", "/v1/sessions/keep-alive", headers=bearer(token))
        statuses.append(reply.status)
        if reply.status == 502:
            assert reply.raw == b"<html>bad gateway</html>"
            assert reply.headers["Content-Type"].startswith("text/html")
    assert statuses == [502, 502, 503, 200]
    assert [r.fault for r in emulator.requests("keep_alive")] == [True, True, True, False]
    assert all(r.session_id == session_id for r in emulator.requests("keep_alive"))


async def test_fault_malformed_and_body(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """malformed answers truncated JSON; body alone answers 200 with those bytes."""
    emulator.inject("list", malformed=True)
    emulator.inject("list", body=b'{"code": 5000, "message": "nope"}')
    reply = await call(http, emulator, "GET", "/v1/sessions?type=active", headers=KEY)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body is None  # not valid JSON
    assert reply.raw
    reply = await call(http, emulator, "GET", "/v1/sessions?type=active", headers=KEY)
    assert reply.status == 200
    assert reply.body == {"code": 5000, "message": "nope"}


async def test_fault_drop(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """drop closes the connection without an answer and changes nothing; the client recovers."""
    session_id, token, _ = await start(http, emulator)
    emulator.inject("stop", drop=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(
            http,
            emulator,
            "POST",
            "/v1/sessions/stop",
            headers=bearer(token),
            json_body={"reason": "USER_CLOSED"},
        )
    assert emulator.sessions[session_id].state == "started"  # apply=False
    [record] = emulator.requests("stop")
    assert record.status is None
    assert record.fault is True
    assert record.session_id == session_id
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]
    # The same client session still works afterwards.
    body = {"reason": "AGENT_HANG_UP"}
    ok(
        await call(
            http, emulator, "POST", "/v1/sessions/stop", headers=bearer(token), json_body=body
        )
    )
    assert emulator.stop_reasons(session_id) == ["USER_CLOSED", "AGENT_HANG_UP"]


async def test_fault_apply(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """apply=True makes the request take effect before the fault replaces its answer."""
    session_id, token, _ = await start(http, emulator)
    emulator.inject("stop", drop=True, apply=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(
            http,
            emulator,
            "POST",
            "/v1/sessions/stop",
            headers=bearer(token),
            json_body={"reason": "USER_CLOSED"},
        )
    session = emulator.sessions[session_id]
    assert session.state == "ended"  # the server did it; the answer was lost
    assert session.end_reason is EndReason.USER_CLOSED
    reply = await call(http, emulator, "POST", "/v1/sessions/stop", headers=bearer(token))
    assert reply.status == 404
    # apply=True on token: the session exists though the client saw a 500.
    emulator.inject("token", status=500, apply=True)
    reply = await call(
        http, emulator, "POST", "/v1/sessions/token", headers=KEY, json_body={"avatar_id": AVATAR}
    )
    assert reply.status == 500
    [record] = emulator.requests("token")[-1:]
    assert record.session_id in emulator.sessions
    assert emulator.sessions[record.session_id].state == "created"


async def test_fault_delay(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """delay holds the answer back; the journal orders requests by arrival, not completion."""
    emulator.inject("list", delay=0.3)
    emulator.inject("get", delay=0.1, status=503)
    results: dict[str, tuple[int, float]] = {}

    async def timed(name: str, path: str) -> None:
        began = time.monotonic()
        reply = await call(http, emulator, "GET", path, headers=KEY)
        results[name] = (reply.status, time.monotonic() - began)

    async with anyio.create_task_group() as group:
        group.start_soon(timed, "list", "/v1/sessions?type=active")
        await anyio.sleep(0.05)
        group.start_soon(timed, "get", f"/v1/sessions/{uuid.uuid4()}")
    assert results["list"][0] == 200
    assert results["list"][1] >= 0.3
    assert results["get"][0] == 503
    assert results["get"][1] >= 0.1
    # The journal is ordered by arrival, not by completion.
    assert [r.endpoint for r in emulator.journal] == ["list", "get"]
    assert all(r.fault for r in emulator.journal)


async def test_fault_arguments(emulator: LiveAvatarEmulator) -> None:
    """Bad fault options and unknown endpoints are ValueErrors naming what is wrong."""
    with pytest.raises(ValueError, match="unknown endpoint"):
        emulator.inject("keep-alive", status=500)
    with pytest.raises(ValueError, match="nothing to inject"):
        emulator.inject("stop")
    with pytest.raises(ValueError, match="drop"):
        emulator.inject("stop", drop=True, status=500)
    with pytest.raises(ValueError, match="malformed"):
        emulator.inject("stop", malformed=True, body=b"x")
    with pytest.raises(ValueError, match="retry_after"):
        emulator.inject("stop", retry_after="1", delay=1)
    with pytest.raises(ValueError, match="times"):
        emulator.inject("stop", status=500, times=0)
    with pytest.raises(ValueError, match="status"):
        emulator.inject("stop", status=99)
    for bad in (-1.0, float("nan"), float("inf")):  # refused here, not by the request it hits
        with pytest.raises(ValueError, match="delay must be a finite number"):
            emulator.inject("stop", delay=bad)
        with pytest.raises(ValueError, match="drip must be a finite number"):
            emulator.inject("stop", drip=bad)
    with pytest.raises(ValueError, match="unknown endpoint"):
        emulator.requests("nope")


async def test_clear_faults(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    """clear_faults forgets every queued fault."""
    emulator.inject("list", status=500, times=5)
    emulator.clear_faults()
    ok(await call(http, emulator, "GET", "/v1/sessions?type=active", headers=KEY))


# ---- delivery faults and `every` ---------------------------------------------------------------


async def list_ok(http: aiohttp.ClientSession, emulator: LiveAvatarEmulator) -> None:
    async with http.get(emulator.base_url + LIST, headers=KEY) as response:
        assert response.status == 200
        assert (await response.json())["code"] == 1000


async def test_truncate_declares_more_than_it_sends(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """truncate: the Content-Length of the whole answer, half the bytes, then the connection closes."""
    emulator.inject("list", truncate=True)
    async with http.get(emulator.base_url + LIST, headers=KEY) as response:
        assert response.status == 200
        assert response.content_length is not None
        assert response.content_length > 20
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    (entry,) = emulator.requests("list")
    assert (entry.status, entry.fault) == (200, True)
    await list_ok(http, emulator)


async def test_truncate_applies_to_an_injected_answer(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """truncate with status and body cuts that answer short."""
    emulator.inject("token", status=502, body=b"<html>" + b"x" * 100 + b"</html>", truncate=True)
    async with http.post(emulator.base_url + "/v1/sessions/token", headers=KEY, json={}) as resp:
        assert resp.status == 502
        assert resp.content_length == 113
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()


async def test_drip_sends_the_body_byte_by_byte(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """drip: headers at once, then the (normal) body in one-byte pieces; the body is intact."""
    emulator.inject("list", drip=0.001)
    pieces: list[bytes] = []
    async with http.get(emulator.base_url + LIST, headers=KEY) as response:
        assert response.status == 200
        async for piece in response.content.iter_any():
            pieces.append(piece)
    body = b"".join(pieces)
    assert json.loads(body)["code"] == 1000
    assert len(pieces) > len(body) // 4  # not one piece: they arrived over time


async def test_drip_outlasts_a_client_timeout_and_the_emulator_recovers(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """A client that gives up on a dripping answer times out; the emulator stops dripping and serves on."""
    emulator.inject("list", drip=0.05)
    timeout = aiohttp.ClientTimeout(total=0.3)
    with pytest.raises(TimeoutError):
        async with http.get(emulator.base_url + LIST, headers=KEY, timeout=timeout) as response:
            assert response.status == 200
            await response.read()
    await list_ok(http, emulator)


async def test_chunked_sends_no_content_length(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """chunked: Transfer-Encoding chunked, no Content-Length, the whole body."""
    big = b'{"code": 1000, "data": "' + b"x" * 300_000 + b'"}'
    emulator.inject("get", body=big, chunked=True)
    url = f"{emulator.base_url}/v1/sessions/{AVATAR}"
    async with http.get(url, headers=KEY) as response:
        assert response.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in response.headers
        assert await response.read() == big


async def test_chunked_and_truncated_never_sends_the_last_chunk(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """chunked with truncate: the terminating chunk never comes."""
    emulator.inject("list", chunked=True, truncate=True)
    async with http.get(emulator.base_url + LIST, headers=KEY) as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_every_hits_every_nth_request(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """every=3, times=2: the 3rd and 6th requests are faulted, the others answered normally."""
    fault = emulator.inject("list", status=503, every=3, times=2)
    statuses = []
    for _ in range(8):
        async with http.get(emulator.base_url + LIST, headers=KEY) as response:
            statuses.append(response.status)
    assert statuses == [200, 200, 503, 200, 200, 503, 200, 200]
    assert fault.hits == 2
    assert fault.remaining == 0
    assert [r.fault for r in emulator.requests("list")] == [s == 503 for s in statuses]


async def test_every_lets_other_requests_reach_later_faults(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator
) -> None:
    """A request an every-fault passes over can be taken by the next queued fault."""
    emulator.inject("list", status=503, every=2)
    emulator.inject("list", status=429, times=5)
    statuses = []
    for _ in range(3):
        async with http.get(emulator.base_url + LIST, headers=KEY) as response:
            statuses.append(response.status)
    assert statuses == [429, 503, 429]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"drop": True, "truncate": True}, "drop"),
        ({"drop": True, "drip": 0.1}, "drop"),
        ({"drop": True, "chunked": True}, "drop"),
        ({"drip": -1.0}, "drip"),
        ({"status": 500, "every": 0}, "every"),
    ],
)
def test_bad_delivery_faults_are_refused(kwargs: dict[str, Any], match: str) -> None:
    """Contradictory or out-of-range delivery options raise ValueError naming the option."""
    with pytest.raises(ValueError, match=match):
        LiveAvatarEmulator().inject("list", **kwargs)


def test_a_delivery_fault_alone_is_enough() -> None:
    """truncate, drip or chunked alone is a fault (the normal answer, badly delivered)."""
    emulator = LiveAvatarEmulator()
    kinds: list[dict[str, Any]] = [{"truncate": True}, {"drip": 0.0}, {"chunked": True}]
    for kwargs in kinds:
        fault = emulator.inject("list", **kwargs)
        assert fault.alters_delivery
        assert not fault.replaces_answer


async def test_hang_ups_leave_the_emulator_able_to_stop(emulator: LiveAvatarEmulator) -> None:
    """Clients that vanish mid-answer (drip, huge chunked body) do not keep the emulator from closing."""
    emulator.inject("list", drip=0.02, times=3)
    emulator.inject("get", body=b"y" * (3 << 20), chunked=True)
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            with anyio.move_on_after(0.1):
                async with http.get(emulator.base_url + LIST, headers=KEY) as response:
                    await response.read()
        async with http.get(f"{emulator.base_url}/v1/sessions/{AVATAR}", headers=KEY) as response:
            await response.content.read(1024)
    await list_ok_fresh(emulator)


async def list_ok_fresh(emulator: LiveAvatarEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        await list_ok(http, emulator)


@pytest.mark.parametrize("emulator_class", [LiveAvatarEmulator, KalturaEmulator])
async def test_an_emulator_outside_asyncio_says_so(emulator_class: type[Any]) -> None:
    """Under trio (which anyio's pytest plugin runs each test on too, when it is installed), an
    emulator refuses with the RuntimeError that names asyncio, not aiohttp's "no current event
    loop"."""

    async def serve() -> None:
        async with emulator_class():
            pass  # pragma: no cover - never reached

    with pytest.raises(RuntimeError, match="aioavatar runs on asyncio"):
        await anyio.to_thread.run_sync(lambda: anyio.run(serve, backend="trio"))
