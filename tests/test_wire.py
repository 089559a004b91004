"""``aioavatar._wire``, what aioavatar knows of aiohttp and of the bytes on the wire, over real sockets
against the emulator: answers inflated by aioavatar within the size cap (never by aiohttp), and aiohttp's
own resend of idempotent requests switched off, so that a call is sent exactly as often as its policy
allows."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from aioavatar import LiveAvatarClient, ResponseDecodeError, RetryPolicy, TransportError
from aioavatar._retry import Retry
from aioavatar.liveavatar._endpoints import STOP
from aioavatar.testing import LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(retries=2, backoff_initial=0.001, backoff_max=0.005)

INFLATED = 64 * 1024 * 1024  # 64 MiB of zeros: 64 times the 1 MiB cap


def _bomb(size: int = INFLATED) -> bytes:
    """A gzip body that inflates to ``size`` bytes (about 64 KiB on the wire for 64 MiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A 64 MiB gzip bomb, built once."""
    return _bomb()


async def test_a_gzip_bomb_is_refused_at_the_cap_with_bounded_memory(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, bomb: bytes
) -> None:
    """A small gzip body that inflates past the size cap is a ResponseDecodeError, and inflating it
    never holds much more than the cap in memory (64 MiB inflated, the peak stays under 8 MiB)."""
    assert len(bomb) < 1024 * 1024  # the wire size passes any Content-Length check
    emulator.inject("list", body=bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(ResponseDecodeError, match="once decompressed larger than the 1048576"):
            await client.list_sessions("active")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    assert len(emulator.requests("list")) == 1  # a bad 2xx is not retried


async def test_the_client_asks_for_identity_and_still_reads_gzip_and_deflate(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Requests ask for an uncompressed answer; a server that compresses anyway (gzip, zlib-wrapped
    or raw deflate) is still read, within the cap."""
    envelope = b'{"code": 1000, "data": {"count": 7, "results": []}, "message": "ok"}'
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    bodies = {
        "gzip": gzip.compress(envelope),
        "deflate": zlib.compress(envelope),
        "x-gzip": gzip.compress(envelope),
    }
    for encoding, body in bodies.items():
        emulator.inject("list", body=body, headers={"Content-Encoding": encoding})
        assert (await client.list_sessions("active")).count == 7
    emulator.inject(
        "list",
        body=raw_deflate.compress(envelope) + raw_deflate.flush(),
        headers={"Content-Encoding": "deflate"},
    )
    assert (await client.list_sessions("active")).count == 7
    assert {r.path for r in emulator.requests("list")} == {"/v1/sessions"}
    # What the server received: every request asked for identity.
    assert all(r.headers.get("Accept-Encoding") == "identity" for r in emulator.requests("list"))


@pytest.mark.parametrize(
    ("encoding", "body", "message"),
    [
        ("br", b"\x0b\x02\x80{}\x03", "does not read"),
        ("gzip", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff", "corrupt"),
        ("gzip", gzip.compress(b'{"code": 1000, "data": {}}', mtime=0)[:-12], "cut short"),
    ],
    ids=["brotli", "corrupt", "cut-short"],
)
async def test_unreadable_compressed_answers_are_typed_errors(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, encoding: str, body: bytes, message: str
) -> None:
    """An encoding aioavatar does not read, a corrupt stream and a cut one: ResponseDecodeError."""
    emulator.inject("list", body=body, headers={"Content-Encoding": encoding})
    with pytest.raises(ResponseDecodeError, match=message):
        await client.list_sessions("active")


async def test_gzip_with_several_members_is_read_and_trailing_data_refused(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A gzip body of several members is inflated whole (within the cap); bytes after the last
    member that are not gzip are a ResponseDecodeError."""
    envelope = b'{"code": 1000, "data": {"count": 3, "results": []}, "message": "ok"}'
    members = gzip.compress(envelope[:20]) + gzip.compress(envelope[20:])
    emulator.inject("list", body=members, headers={"Content-Encoding": "gzip"})
    assert (await client.list_sessions("active")).count == 3
    emulator.inject(
        "list", body=gzip.compress(envelope) + b"junk", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(ResponseDecodeError, match="trailing data"):
        await client.list_sessions("active")


async def test_gzip_of_more_members_than_any_server_sends_is_refused(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """64 members are read; a body of thousands of tiny members (whose reading took time growing
    with the square of its size, on the loop: 13 s for 4 MiB) is a ResponseDecodeError."""
    envelope = b'{"code": 1000, "data": {"count": 3, "results": []}, "message": "ok"}'
    pieces = [envelope[i : i + 1] for i in range(len(envelope))]
    assert len(pieces) > 64
    split = [b"".join(pieces[:-63]), *pieces[-63:]]
    members = b"".join(gzip.compress(piece) for piece in split)
    emulator.inject("list", body=members, headers={"Content-Encoding": "gzip"})
    assert (await client.list_sessions("active")).count == 3
    members = b"".join(gzip.compress(piece) for piece in pieces)
    emulator.inject("list", body=members, headers={"Content-Encoding": "gzip"})
    with pytest.raises(ResponseDecodeError, match="more than 64 members"):
        await client.list_sessions("active")


@pytest.mark.parametrize("endpoint", ["list", "get", "keep_alive"])
async def test_exactly_retries_plus_one_requests_under_resets(
    emulator: LiveAvatarEmulator, endpoint: str
) -> None:
    """Under connection resets a call reaches the server exactly ``retries + 1`` times, GETs
    included: aiohttp's own resend of idempotent requests does not multiply the policy's attempts."""
    async with LiveAvatarClient(API_KEY, base_url=emulator.base_url, retry_policy=FAST) as client:
        token = await client.create_session_token(AVATAR_ID)
        await client.start_session(token.session_token)
        before = len(emulator.requests(endpoint))
        emulator.inject(endpoint, drop=True, times=50)
        calls: dict[str, Any] = {
            "list": lambda: client.list_sessions("active"),
            "get": lambda: client.get_session(token.session_id),
            "keep_alive": lambda: client.keep_alive(token.session_id),
        }
        with pytest.raises(TransportError):
            await calls[endpoint]()
    assert len(emulator.requests(endpoint)) - before == 1 + FAST.retries


async def test_a_borrowed_sessions_middlewares_are_kept_and_attempts_still_bounded(
    emulator: LiveAvatarEmulator,
) -> None:
    """A borrowed aiohttp session keeps its own middlewares on every method (GET included), and a
    GET under resets still reaches the server at most retries + 1 times (aiohttp's own resend is
    counted against the policy)."""
    seen: list[str] = []

    async def tracing(
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
    ) -> aiohttp.ClientResponse:
        seen.append(request.method)
        return await handler(request)

    async with (
        aiohttp.ClientSession(middlewares=(tracing,)) as http,
        LiveAvatarClient(
            API_KEY, base_url=emulator.base_url, http_session=http, retry_policy=FAST
        ) as client,
    ):
        await client.list_sessions("active")
        token = await client.create_session_token(AVATAR_ID)
        assert seen == ["GET", "POST"]
        before = len(emulator.requests("list"))
        emulator.inject("list", drop=True, times=50)
        with pytest.raises(TransportError):
            await client.list_sessions("active")
        assert 1 <= len(emulator.requests("list")) - before <= 1 + FAST.retries
        assert token.session_id


async def test_an_answer_that_comes_while_a_streamed_body_is_still_sent_is_returned() -> None:
    """A server may answer (413, say) before it reads a body over 1 MiB, which aioavatar streams. The
    answer is read and returned and the rest of the upload cancelled, also for a call made while its
    task is being cancelled (a cleanup's), which must not end in a ``CancelledError`` of its own
    (waiting for the cancelled upload did). A raw server on 127.0.0.1: no emulator answers first."""
    body = b"x" * (32 * 1024 * 1024)  # more than loopback's socket buffers hold: the upload blocks
    received: list[bytes] = []
    answered_calls = asyncio.Event()
    handled = asyncio.Semaphore(0)  # released as each connection is closed on the server's side

    async def answer_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            received.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(
                b"HTTP/1.1 413 Payload Too Large\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: text/plain\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            )
            await writer.drain()
            await answered_calls.wait()  # the body is read only once the client has the answer
            with contextlib.suppress(ConnectionError):
                while await reader.read(1 << 20):  # until the client, having cut the upload, closes
                    pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            handled.release()

    server = await asyncio.start_server(answer_first, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with LiveAvatarClient(API_KEY, base_url=f"http://127.0.0.1:{port}") as client:
            call = client._prepare(STOP, content=(body, "application/octet-stream"))

            async def send(cleanup: bool) -> int:
                if cleanup:  # as a session's stop runs: in a task being cancelled
                    task = asyncio.current_task()
                    assert task is not None
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.sleep(0)
                    assert task.cancelling() == 1
                raw = await client._transport.send(
                    call, timeout=client.timeouts.read, retry=Retry.IF_UNSENT
                )
                return raw.status

            for cleanup in (False, True):
                answered_calls.clear()
                status = await asyncio.create_task(send(cleanup))
                answered_calls.set()
                assert status == 413
                await handled.acquire()  # the upload was cut: the server saw its connection end
    finally:
        server.close()
        await server.wait_closed()
    assert len(received) == 2
    assert all(head.startswith(b"POST /v1/sessions/stop ") for head in received)
