"""The four session calls (token, start, keep-alive, stop) written three ways.

- ``aioavatar``: the SDK's :class:`~aioavatar.LiveAvatarClient`.
- ``aiohttp``: bare ``aiohttp``, the least a careful user could write (the floor): post JSON, check the
  status and the envelope code, take ``data``.
- ``httpx``: the same with ``httpx.AsyncClient``, what the official LiveAvatar Python starter uses.
- ``livekit``: the REST client of ``livekit-plugins-liveavatar`` (``LiveAvatarAPI``), what livekit-agents
  users run. It has token, start and stop only (its keep-alive goes over the LITE WebSocket), so its
  keep-alive column is empty. It is a bench-only dependency: without it the row is left out.

Every implementation shares one connection pool of 100 connections for all its calls (aiohttp's default;
the SDK's client is given ``connection_limit=100``, its own default being 150 so that its keep-alive
beats get 100 at scale: one call at a time never needs more).
"""

from __future__ import annotations

import importlib.util
from types import TracebackType
from typing import Any, Protocol, Self, cast

import aiohttp
import httpx

from aioavatar import EndReason, LiveAvatarClient, Secret

from ._harness import API_KEY, AVATAR_ID

POOL = 100
SUCCESS = (100, 1000)


class BenchError(Exception):
    """A call the emulator did not answer with success."""


class Calls(Protocol):
    name: str
    #: False when the implementation has no REST keep-alive (its ``keep_alive`` sends nothing).
    has_keep_alive: bool

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def token(self) -> tuple[str, Any]: ...

    async def start(self, session_id: str, token: Any) -> None: ...

    async def keep_alive(self, session_id: str, token: Any) -> None: ...

    async def stop(self, session_id: str, token: Any) -> None: ...


async def whole_session(calls: Calls) -> None:
    """One complete session through ``calls``: token, start, one keep-alive, stop."""
    session_id, token = await calls.token()
    await calls.start(session_id, token)
    await calls.keep_alive(session_id, token)
    await calls.stop(session_id, token)


class SdkCalls:
    """The calls through :class:`LiveAvatarClient` (its own pool, default settings)."""

    name = "aioavatar"
    has_keep_alive = True

    def __init__(self, base_url: str) -> None:
        self.client = LiveAvatarClient(API_KEY, base_url=base_url, connection_limit=POOL)

    async def __aenter__(self) -> Self:
        await self.client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.aclose()

    async def token(self) -> tuple[str, Secret]:
        token = await self.client.create_session_token(AVATAR_ID)
        return token.session_id, token.session_token

    async def start(self, session_id: str, token: Secret) -> None:
        await self.client.start_session(token)

    async def keep_alive(self, session_id: str, token: Secret) -> None:
        await self.client.keep_alive(session_id, session_token=token)

    async def stop(self, session_id: str, token: Secret) -> None:
        await self.client.stop_session(
            session_id, reason=EndReason.USER_CLOSED, session_token=token
        )


def _data(status: int, payload: Any) -> Any:
    if status >= 300 or not isinstance(payload, dict) or payload.get("code", 100) not in SUCCESS:
        raise BenchError(f"HTTP {status}")
    return payload.get("data")


class _PostCalls:
    """The four calls as a careful user writes them over any HTTP client: post JSON, check the status
    and the envelope code, take ``data``. A subclass supplies ``_post``."""

    has_keep_alive = True

    async def _post(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def token(self) -> tuple[str, str]:
        data = await self._post(
            "/v1/sessions/token", {"X-API-KEY": API_KEY}, {"avatar_id": AVATAR_ID}
        )
        return data["session_id"], data["session_token"]

    async def start(self, session_id: str, token: str) -> None:
        await self._post("/v1/sessions/start", {"Authorization": f"Bearer {token}"}, {})

    async def keep_alive(self, session_id: str, token: str) -> None:
        await self._post(
            "/v1/sessions/keep-alive",
            {"Authorization": f"Bearer {token}"},
            {"session_id": session_id},
        )

    async def stop(self, session_id: str, token: str) -> None:
        await self._post(
            "/v1/sessions/stop",
            {"Authorization": f"Bearer {token}"},
            {"session_id": session_id, "reason": "USER_CLOSED"},
        )


class AiohttpCalls(_PostCalls):
    """The calls written with bare ``aiohttp``."""

    name = "aiohttp"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL), headers={"User-Agent": "bench"}
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.http is not None
        await self.http.close()

    async def _post(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
        assert self.http is not None
        async with self.http.post(self.base_url + path, json=body, headers=headers) as resp:
            return _data(resp.status, await resp.json())


class HttpxCalls(_PostCalls):
    """The calls written with ``httpx.AsyncClient``."""

    name = "httpx"

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers={"User-Agent": "bench"},
            limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL),
        )

    async def __aenter__(self) -> Self:
        await self.http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.http.aclose()

    async def _post(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
        resp = await self.http.post(path, json=body, headers=headers)
        return _data(resp.status_code, resp.json())


class _Room:
    """What ``create_streaming_session`` reads of a ``livekit.rtc.Room``: its name."""

    name = "bench-room"


class LivekitCalls:
    """The calls through ``livekit.plugins.liveavatar.api.LiveAvatarAPI`` on its own aiohttp pool."""

    name = "livekit"
    has_keep_alive = False

    def __init__(self, base_url: str) -> None:
        from livekit.plugins.liveavatar.api import LiveAvatarAPI  # optional peer: imported on use

        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL))
        self.api = LiveAvatarAPI(API_KEY, api_url=base_url + "/v1/sessions", session=self.http)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.http.close()

    async def token(self) -> tuple[str, str]:
        answer = await self.api.create_streaming_session(
            livekit_url="wss://bench.invalid",
            livekit_token="bench",  # noqa: S106 - a placeholder the emulator ignores
            room=cast(Any, _Room()),  # duck-typed: only .name is read
            avatar_id=AVATAR_ID,
        )
        data = _data(200, answer)
        return data["session_id"], data["session_token"]

    async def start(self, session_id: str, token: str) -> None:
        _data(200, await self.api.start_streaming_session(session_id, token))

    async def keep_alive(self, session_id: str, token: str) -> None:
        """Nothing: the plugin keeps a session alive over the LITE WebSocket, not REST."""

    async def stop(self, session_id: str, token: str) -> None:
        _data(200, await self.api.stop_streaming_session(session_id, token))


def _livekit_installed() -> bool:
    try:
        return importlib.util.find_spec("livekit.plugins.liveavatar") is not None
    except ModuleNotFoundError:  # no ``livekit`` package at all
        return False


Implementation = type[SdkCalls] | type[AiohttpCalls] | type[HttpxCalls] | type[LivekitCalls]
IMPLEMENTATIONS: dict[str, Implementation] = {
    "aioavatar": SdkCalls,
    "aiohttp": AiohttpCalls,
    "httpx": HttpxCalls,
}
if _livekit_installed():
    IMPLEMENTATIONS["livekit"] = LivekitCalls
