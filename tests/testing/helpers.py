"""Plain-HTTP helpers for the emulator tests: send exactly what a test writes, read every answer."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import aiohttp
import anyio
import attrs

from aioavatar.testing import LiveAvatarEmulator

from ..providers import API_KEY, AVATAR_ID

__all__ = [
    "API_KEY",
    "AVATAR",
    "CONTEXT",
    "JWT",
    "KEY",
    "OTHER_AVATAR",
    "LiteSocket",
    "Reply",
    "Served",
    "bearer",
    "call",
    "create",
    "lite_socket",
    "ok",
    "pcm_b64",
    "start",
    "wait_until",
]

KEY = {"X-API-KEY": API_KEY}
#: The sandbox avatar (the only one a sandbox session may use).
AVATAR = AVATAR_ID
OTHER_AVATAR = "11111111-2222-4333-8444-555555555555"
CONTEXT = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of a session token."""
    return {"Authorization": f"Bearer {token}"}


class Served(Protocol):
    """Anything with a ``base_url``: either emulator."""

    @property
    def base_url(self) -> str: ...


@attrs.frozen
class Reply:
    """An answer: status, parsed JSON body (``None`` when not JSON), headers and raw bytes."""

    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes


async def call(
    http: aiohttp.ClientSession,
    emulator: Served,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    data: bytes | None = None,
    params: dict[str, str] | None = None,
) -> Reply:
    """Send one request to the emulator's ``base_url + path`` and read the whole answer (raw ``data``
    is labelled JSON, unless ``headers`` give its ``Content-Type``)."""
    if data is not None and not any(name.lower() == "content-type" for name in headers or {}):
        headers = {**(headers or {}), "Content-Type": "application/json"}
    async with http.request(
        method, emulator.base_url + path, headers=headers, json=json_body, data=data, params=params
    ) as response:
        raw = await response.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        return Reply(response.status, body, dict(response.headers), raw)


def ok(reply: Reply, status: int = 200) -> Any:
    """Assert a LiveAvatar success envelope with ``status``; return its ``data``."""
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body["code"] == 1000
    assert reply.body["message"] == "Success"
    return reply.body["data"]


async def create(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator, **body: Any
) -> tuple[str, str]:
    """Mint a session token (the sandbox avatar unless ``avatar_id`` says otherwise)."""
    reply = await call(
        http,
        emulator,
        "POST",
        "/v1/sessions/token",
        headers=KEY,
        json_body={"avatar_id": AVATAR, **body},
    )
    assert reply.status == 200, reply.body
    return reply.body["data"]["session_id"], reply.body["data"]["session_token"]


async def start(
    http: aiohttp.ClientSession, emulator: LiveAvatarEmulator, **body: Any
) -> tuple[str, str, dict[str, Any]]:
    """Mint a token and start its session; return the id, the token and the start ``data``."""
    session_id, token = await create(http, emulator, **body)
    reply = await call(
        http, emulator, "POST", "/v1/sessions/start", headers=bearer(token), json_body={}
    )
    assert reply.status == 201, reply.body
    return session_id, token, reply.body["data"]


async def wait_until(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    """Poll ``condition`` (state of the emulator, which shares this loop) until it holds."""
    with anyio.fail_after(within):
        while not condition():  # noqa: ASYNC110 - polls state that has no event to wait on
            await anyio.sleep(0.005)


def pcm_b64(seconds: float) -> str:
    """``seconds`` of PCM 16-bit mono 24 kHz (a quiet tone), base64 as ``agent.speak`` carries it."""
    return base64.b64encode(b"\x01\x00" * round(seconds * 24_000)).decode("ascii")


@attrs.define
class LiteSocket:
    """A raw LITE WebSocket client: sends exactly the frames a test gives, keeps every server message
    with the time the test read it on the ``time.monotonic()`` clock (a message read late is stamped
    late: a lower bound on an interval counts from a time the test took before the cause)."""

    ws: aiohttp.ClientWebSocketResponse
    received: list[tuple[float, dict[str, Any]]] = attrs.field(factory=list)

    async def send(self, *frames: dict[str, Any] | str) -> None:
        """Send each frame: a dict as JSON text, a string as is."""
        for frame in frames:
            await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The messages of one ``type`` received so far."""
        return [m for _, m in self.received if m.get("type") == kind]

    def at(self, kind: str, index: int = 0) -> float:
        """When the ``index``-th message of ``kind`` was read."""
        return [t for t, m in self.received if m.get("type") == kind][index]

    def types(self) -> list[str]:
        """The ``type`` of every message received, in order."""
        return [str(m.get("type")) for _, m in self.received]

    async def until(self, condition: Callable[[], bool], *, within: float = 10.0) -> None:
        """Read messages until ``condition()`` holds."""
        with anyio.fail_after(within):
            while not condition():
                message = await self.ws.receive()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"the socket closed: {message.type} {message.data}")
                self.received.append((time.monotonic(), json.loads(message.data)))

    async def connected(self) -> None:
        """Read until the server says ``connected``."""
        await self.until(
            lambda: any(m.get("state") == "connected" for m in self.of("session.state_updated"))
        )


@asynccontextmanager
async def lite_socket(
    http: aiohttp.ClientSession, ws_url: str, *, wait_connected: bool = True
) -> AsyncIterator[LiteSocket]:
    """Open ``ws_url`` with no credential (as clients do) and, by default, wait for ``connected``."""
    async with http.ws_connect(ws_url, heartbeat=None) as ws:
        socket = LiteSocket(ws)
        if wait_connected:
            await socket.connected()
        yield socket
