"""Plain-HTTP helpers for the emulator tests: send exactly what a test writes, read every answer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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
    "Reply",
    "Served",
    "bearer",
    "call",
    "create",
    "ok",
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
    """Send one request to the emulator's ``base_url + path`` and read the whole answer."""
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
