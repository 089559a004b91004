"""``aioavatar._request``: the headers each request carries, as the server received them over real
sockets from the emulators, on a pool of the client's own (whose defaults carry what every request
sends) and on a borrowed one (whose defaults are not ours: a ``Content-Type`` of its own, or one it
skips, must not replace the body's), and what a prepared request shows and refuses."""

from __future__ import annotations

import contextlib
import copy
import pickle
from typing import Any

import aiohttp
import pytest

from aioavatar import KalturaAvatarClient, LiveAvatarClient
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .conftest import API_KEY, AVATAR_ID
from .providers import KALTURA_AVATAR_ID, KS

pytestmark = pytest.mark.anyio

#: The pools a client may use: its own, and borrowed ones with defaults of their own.
POOLS: dict[str, dict[str, Any] | None] = {
    "own pool": None,
    "borrowed pool": {},
    "borrowed pool with a Content-Type": {"headers": {"Content-Type": "text/plain"}},
    "borrowed pool skipping Content-Type": {"skip_auto_headers": ("Content-Type",)},
}


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


@contextlib.asynccontextmanager
async def _pool(settings: dict[str, Any] | None) -> Any:
    """``None`` for the client's own pool, else a borrowed ``aiohttp.ClientSession(**settings)``."""
    if settings is None:
        yield None
    else:
        async with aiohttp.ClientSession(**settings) as http:
            yield http


@pytest.mark.parametrize("pool", list(POOLS))
async def test_every_request_carries_the_headers_of_its_kind(
    emulator: LiveAvatarEmulator, pool: str
) -> None:
    """Each request asks for identity; a JSON body comes with its content type (whatever the borrowed
    pool's defaults say) and its length, a request without a body has neither; the User-Agent is
    ours on our pool; each call presents its own credential."""
    async with (
        _pool(POOLS[pool]) as http,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url, http_session=http) as client,
    ):
        token = await client.create_session_token(AVATAR_ID)
        await client.start_session(token.session_token)
        await client.keep_alive(token.session_id, session_token=token.session_token)
        await client.list_sessions("active")
        await client.stop_session(token.session_id)
    received = {r.endpoint: r for r in emulator.requests()}
    assert set(received) == {"token", "start", "keep_alive", "list", "stop"}
    for name, request in received.items():
        headers = _lower(request.headers)
        assert headers.get("accept-encoding") == "identity", name
        if request.method == "POST":
            assert headers.get("content-type") == "application/json", name
            assert int(headers["content-length"]) > 0, name
        else:
            assert "content-length" not in headers, name
        assert headers.get("user-agent", "").startswith("aioavatar/") is (pool == "own pool"), name
    assert {name: r.auth for name, r in received.items()} == {
        "token": "api_key",
        "start": "bearer",
        "keep_alive": "bearer",
        "list": "api_key",
        "stop": "api_key",
    }
    assert received["keep_alive"].body == {"session_id": token.session_id}
    assert received["stop"].body == {"session_id": token.session_id, "reason": "USER_CLOSED"}


@pytest.mark.parametrize("pool", list(POOLS))
async def test_a_multipart_upload_keeps_its_content_type_on_any_pool(
    kaltura_emulator: KalturaEmulator, pool: str
) -> None:
    """Kaltura's audio upload is a multipart form: its boundary reaches the server (which reads the
    form by it) on every pool, and the JSON calls around it stay JSON."""
    audio = b"ID3\x04\x00\x00\x00" + bytes(range(256)) * 4
    async with (
        _pool(POOLS[pool]) as http,
        KalturaAvatarClient(KS, base_url=kaltura_emulator.base_url, http_session=http) as client,
    ):
        created = await client.create_session(KALTURA_AVATAR_ID)
        await client.say_audio(created.session_id, audio, token=created.token, duration=1.0)
        await client.end_session(created.session_id, token=created.token)
    (turn,) = kaltura_emulator.sessions[created.session_id].turns
    assert turn.audio == audio
    for request in kaltura_emulator.requests():
        headers = _lower(request.headers)
        expected = "multipart/form-data" if request.endpoint == "say_audio" else "application/json"
        assert headers.get("content-type", "").startswith(expected), request.endpoint
        assert headers.get("accept-encoding") == "identity", request.endpoint


async def test_a_prepared_call_shows_no_credential_and_refuses_pickle_and_copy(
    client: LiveAvatarClient,
) -> None:
    """A prepared keep-alive's repr shows its request line and content type, not its headers, body,
    credentials or token; it cannot be pickled or copied."""
    token = "t0k3n-" + "x" * 40
    call = client.prepare_keep_alive("3c90c3cc-0d44-4b50-8888-8dd25736052a", session_token=token)
    shown = repr(call)
    assert [part in shown for part in ("/v1/sessions/keep-alive", "application/json")] == [True] * 2
    assert [part in shown for part in (token, API_KEY, "session_id", "Bearer")] == [False] * 4
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(call)
    with pytest.raises(TypeError, match="not picklable"):
        copy.copy(call)
