"""The emulator's delivery faults (truncate, drip, chunked) and ``every``, over real sockets with plain
aiohttp: what a client receives, and that the emulator keeps serving afterwards."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest

from aioavatar.testing import LiveAvatarEmulator

pytestmark = pytest.mark.anyio

API_KEY = "test-api-key"
KEY = {"X-API-KEY": API_KEY}
AVATAR = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
LIST = "/v1/sessions?type=active"


@pytest.fixture
async def emulator() -> AsyncIterator[LiveAvatarEmulator]:
    async with LiveAvatarEmulator(API_KEY) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


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
