"""``aioavatar._call_memo``: a client's bounded memo of the calls it sends again and again."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import pytest

from aioavatar import (
    AuthenticationError,
    ConfigurationError,
    KalturaAvatarClient,
    LiveAvatarClient,
    Secret,
)
from aioavatar._call_memo import CallMemo, plain_token
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .providers import API_KEY, AVATAR_ID, KALTURA_AVATAR_ID, KS

SID = "9f0b8a4e-3c1d-4e5f-8a7b-6c5d4e3f2a1b"


def test_a_full_memo_drops_its_oldest_entry() -> None:
    """At its size, keeping one more drops the oldest; keeping a known key again drops nothing;
    forgetting removes one entry, and forgetting an unknown key is nothing."""
    memo = CallMemo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("b", 3)
    assert dict(memo) == {"a": 1, "b": 3}
    memo.put("c", 4)
    assert dict(memo) == {"b": 3, "c": 4}
    memo.forget("b")
    memo.forget("unknown")
    assert dict(memo) == {"c": 4}
    assert memo.get("b") is None


def test_a_memo_shows_none_of_what_it_holds() -> None:
    """Its repr says how full it is, never a key or a value (it holds sessions' tokens)."""
    memo = CallMemo(4)
    memo.put("session", ("token-canary-" + "x" * 30, None))
    assert "canary" not in repr(memo)
    assert repr(memo) == "<CallMemo: 1 of 4>"


@pytest.mark.parametrize(
    ("token", "plain"),
    [
        ("t" * 40, True),
        (Secret("t" * 40), True),
        (None, True),
        (["not", "a", "token"], False),
        (12345, False),
        (type("Text", (str,), {})("t" * 40), False),
        (Secret(type("Text", (str,), {})("t" * 40)), False),
    ],
)
def test_only_a_plain_token_lets_a_call_be_kept(token: object, plain: bool) -> None:
    """A session's token may key a kept call when it is a str, a Secret holding one, or None (the
    account's credential); anything else (a list, a number, a str subclass, whose equality could be
    anything) is prepared, and refused, each time."""
    assert plain_token(token) is plain


async def _opened(client: Any) -> tuple[str, Secret]:
    """A session started on ``client``: its id and token."""
    if isinstance(client, LiveAvatarClient):
        token = await client.create_session_token(AVATAR_ID, is_sandbox=True)
        await client.start_session(token.session_token)
        return token.session_id, token.session_token
    created = await client.create_session(KALTURA_AVATAR_ID)
    return created.session_id, created.token


async def _keep_alive(client: Any, session_id: str, token: Any) -> None:
    if isinstance(client, LiveAvatarClient):
        await client.keep_alive(session_id, session_token=token)
    else:
        await client.keep_alive(session_id, token=token)


async def _end(client: Any, session_id: str, token: Secret) -> None:
    if isinstance(client, LiveAvatarClient):
        await client.stop_session(session_id, session_token=token)
    else:
        await client.end_session(session_id, token=token)


@pytest.mark.anyio
@pytest.mark.parametrize("provider", ["liveavatar", "kaltura"])
async def test_keep_alive_by_id_is_prepared_once_per_session_and_token(provider: str) -> None:
    """``keep_alive(session_id, token)`` again and again reuses the call prepared the first time,
    but another token for the same session is another call (the server sees that token and refuses
    it), arguments that fail their checks are refused every time with nothing sent, and ending the
    session forgets its call."""
    async with AsyncExitStack() as stack:
        if provider == "liveavatar":
            emulator: Any = await stack.enter_async_context(LiveAvatarEmulator(api_key=API_KEY))
            client: Any = LiveAvatarClient(API_KEY, base_url=emulator.base_url)
        else:
            emulator = await stack.enter_async_context(KalturaEmulator(ks=KS))
            client = KalturaAvatarClient(KS, base_url=emulator.base_url)
        await stack.enter_async_context(client)
        (first, first_token), (second, second_token) = await _opened(client), await _opened(client)
        await _keep_alive(client, first, first_token)
        await _keep_alive(client, first, first_token)
        kept = client._keep_alive_call(first, first_token)
        assert client._keep_alive_call(first, first_token) is kept
        with pytest.raises(AuthenticationError):
            await _keep_alive(client, first, second_token)
        await _keep_alive(client, first, first_token)
        for _ in range(2):
            with pytest.raises(ConfigurationError, match="token"):
                await _keep_alive(client, first, "not\na token")
        beats = emulator.requests("keep_alive")
        # The 401: the other token reached the server, not the call kept for the first one.
        assert [(beat.auth, beat.status) for beat in beats] == [
            ("bearer", 200),
            ("bearer", 200),
            ("bearer", 401),
            ("bearer", 200),
        ]
        assert first in client._keep_alives
        assert first_token.get_secret_value() not in repr(client._keep_alives)
        await _end(client, first, first_token)
        assert first not in client._keep_alives
        await _keep_alive(client, second, second_token)
    assert len(client._keep_alives) == 0  # the client's exit forgets every session's call


@pytest.mark.anyio
async def test_a_stop_with_the_api_key_forgets_the_sessions_kept_keep_alive(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A session kept alive with its token and stopped with the account's key: its kept call (and
    so its token) is forgotten all the same."""
    session_id, token = await _opened(client)
    await client.keep_alive(session_id, session_token=token)
    assert session_id in client._keep_alives
    assert await client.stop_session(session_id) is True
    assert session_id not in client._keep_alives
    assert [r.auth for r in emulator.requests("stop")] == ["api_key"]
