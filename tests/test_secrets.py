"""No credential leaks: the canary API key and every session token appear in no log record (every
logger at DEBUG, aiohttp's own included), no repr, no exception text or traceback, no pickle; and the
same for Kaltura's KS, session token and TURN credential. How the redacting filter masks what a careless
log call would let through is tested in ``test_logging.py``."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import json
import logging
import pickle
import socket
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote, quote_plus

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioavatar import (
    APIError,
    AuthenticationError,
    AvatarError,
    EndReason,
    KalturaAvatarClient,
    LiveAvatarClient,
    RetryPolicy,
    Secret,
    ServerError,
    SessionStopError,
    TransportError,
)
from aioavatar._logging import MASK, mask_tracked
from aioavatar._wire import is_scrubbable, with_bearer
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .conftest import AVATAR_ID
from .leaks import wait_until
from .providers import KALTURA_AVATAR_ID, Provider

pytestmark = pytest.mark.anyio

CANARY_KEY = "canary-api-key-3f9d1c7e5b2a"
FAST = RetryPolicy(retries=2, backoff_initial=0.001, backoff_max=0.005)


@pytest.fixture
async def emulator() -> AsyncIterator[LiveAvatarEmulator]:
    """An emulator whose API key is the canary."""
    async with LiveAvatarEmulator(api_key=CANARY_KEY) as emu:
        yield emu


def record_texts(record: logging.LogRecord) -> list[str]:
    """Every way a record can be rendered: formatted with its traceback, its parts, its __dict__."""
    texts = [repr(record.msg), repr(record.args), repr(record.__dict__)]
    if record.exc_info is not None and record.exc_info[1] is not None:
        texts.append("".join(traceback.format_exception(record.exc_info[1])))
    texts.append(logging.Formatter("%(name)s %(levelname)s %(message)s").format(record))
    texts.append(record.exc_text or "")
    texts.append(record.stack_info or "")
    return texts


def exception_texts(exc: BaseException) -> list[str]:
    """str, repr and the formatted traceback of an error and of everything chained to it; its pickle."""
    texts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        todo += [current.__cause__, current.__context__]
    if isinstance(exc, AvatarError):
        texts.append(repr(pickle.dumps(exc)))
        texts.append(repr(pickle.loads(pickle.dumps(exc))))
    return texts


def canaries(emulator: LiveAvatarEmulator) -> list[str]:
    """The API key and every session token the emulator ever issued."""
    tokens = [s.token for s in emulator.sessions.values()]
    assert all(len(t) > 40 for t in tokens)
    return [CANARY_KEY, *tokens]


def assert_clean(texts: list[str], secrets: list[str]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a credential leaked into: {text[:300]}"


async def test_canaries_leak_nowhere(
    emulator: LiveAvatarEmulator, records: list[logging.LogRecord]
) -> None:
    """A whole session and a series of failing ones (401, 5xx, dropped connections, timeouts, a
    hung stop, a server echoing the credentials it was sent) leak neither the API key nor a session
    token into any log record, repr, exception text, traceback or pickle."""
    errors: list[BaseException] = []
    reprs: list[str] = []

    async def expect(error: type[BaseException], block: Any) -> None:
        with pytest.raises(error) as info:
            await block()
        errors.append(info.value)

    async with LiveAvatarClient(
        CANARY_KEY, base_url=emulator.base_url, retry_policy=FAST
    ) as client:
        reprs.append(repr(client))

        # A whole session with beats, one of which fails with 401 echoing the session token (sent
        # with the token, then again with the API key: both refused).
        async with client.session(AVATAR_ID, keep_alive_interval=0.05, is_sandbox=True) as session:
            token = emulator.sessions[session.session_id].token
            echo = f'{{"message": "token {token} refused; Authorization: Bearer {token}"}}'
            emulator.inject("keep_alive", status=401, body=echo.encode(), times=2)
            emulator.inject("keep_alive", drop=True, times=4)  # dropped, then retried
            emulator.inject("keep_alive", delay=0.2)  # past the beat's 25 ms timeout
            await wait_until(lambda: len(emulator.requests("keep_alive")) >= 9)
            reprs += [repr(session), repr(session.info), repr(session.statistics())]
        assert session.statistics().keep_alives_failed >= 2

        # The token and start endpoints by hand; the API key echoed in a refusal.
        token_info = await client.create_session_token(AVATAR_ID)
        reprs.append(repr(token_info))
        with pytest.raises(TypeError):
            pickle.dumps(token_info)  # a Secret refuses to be pickled
        emulator.inject(
            "start",
            status=503,
            body=f"<html>X-API-KEY: {CANARY_KEY} Bearer {emulator.sessions[token_info.session_id].token}</html>".encode(),
            content_type="text/html",
        )
        await expect(ServerError, lambda: client.start_session(token_info.session_token))
        emulator.inject("token", status=401, body=f'{{"message": "bad key {CANARY_KEY}"}}'.encode())
        await expect(AuthenticationError, lambda: client.create_session_token(AVATAR_ID))

        # A session whose start fails (5xx) and is stopped; one whose body raises; one whose stop hangs.
        emulator.inject("start", status=502)
        await expect(ServerError, lambda: _enter(client))
        await expect(KeyError, lambda: _enter(client, body_raises=True))
        emulator.inject("stop", delay=1.0)
        await expect(SessionStopError, lambda: _enter(client, stop_timeout=0.3))
        emulator.inject("stop", status=401, body=f'{{"message": "{CANARY_KEY}"}}'.encode(), times=9)
        await expect(SessionStopError, lambda: _enter(client))

        # Transport failures: a drop, a timeout, a truncated answer.
        emulator.inject("list", drop=True, times=9)
        await expect(TransportError, lambda: client.list_sessions("active"))
        emulator.inject("list", delay=1.0, times=3)
        await expect(TransportError, lambda: client.list_sessions("active", timeout=0.1))
        emulator.inject("list", truncate=True, times=3)
        await expect(TransportError, lambda: client.list_sessions("active"))

    # A server whose answers aiohttp cannot parse: aiohttp's own error remembers the request headers.
    for garbage in (
        b"NOT HTTP\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
    ):
        async with _raw_server(garbage) as url, LiveAvatarClient(CANARY_KEY, base_url=url) as bad:
            await expect(TransportError, lambda: bad.list_sessions("active"))
            assert "could not be parsed" in str(errors[-1])

    # Every scenario above happened (the test would pass vacuously otherwise).
    assert len(errors) == 11
    assert emulator.stop_reasons(session.session_id) == ["USER_CLOSED"]
    secrets = canaries(emulator)
    assert len(secrets) >= 6
    assert_clean(reprs, secrets)
    for error in errors:
        assert_clean(exception_texts(error), secrets)
    assert len(records) > 20
    for record in records:
        assert_clean(record_texts(record), secrets)
    # The server's echoes were masked, not dropped: the errors still say what was refused.
    assert MASK in str(errors[0])
    # The lifecycle logs a failed beat by class and status only: the echo never reaches the log.
    assert any(
        "keep-alive failed (AuthenticationError (HTTP 401))" in r.getMessage() for r in records
    )


async def _enter(
    client: LiveAvatarClient, *, body_raises: bool = False, stop_timeout: float = 2.0
) -> None:
    async with client.session(AVATAR_ID, stop_timeout=stop_timeout):
        if body_raises:
            raise KeyError("the body failed")


@contextlib.asynccontextmanager
async def _raw_server(answer: bytes) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 that answers every request with ``answer`` bytes, then closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


# --- echoes the server escaped, and echoes of another credential --------------------------------


def json_escaped(secret: str) -> str:
    """``secret`` as a JSON string body would carry it with every third character ``\\u``-escaped and
    every ``/`` as ``\\/`` (both legal JSON; a byte-for-byte search finds neither)."""
    return "".join(
        "\\/" if char == "/" else (f"\\u{ord(char):04x}" if index % 3 == 0 else char)
        for index, char in enumerate(secret)
    )


async def test_json_escaped_echoes_of_each_credential_are_masked(
    emulator: LiveAvatarEmulator,
) -> None:
    """The API key and a session token echoed JSON-escaped in an error (JSON and HTML), in a
    non-success envelope and in a success's data appear in no exception's str, repr, args,
    traceback or pickle, nor in a model's repr."""
    errors: list[BaseException] = []
    async with LiveAvatarClient(
        CANARY_KEY, base_url=emulator.base_url, retry_policy=FAST
    ) as client:
        token = await client.create_session_token(AVATAR_ID)
        raw_token = emulator.sessions[token.session_id].token
        for secret in (CANARY_KEY, raw_token):
            escaped = json_escaped(secret)
            assert secret not in escaped
            emulator.inject("list", status=400, body=f'{{"message": "bad: {escaped}"}}'.encode())
            emulator.inject(
                "list",
                status=400,
                body=f"<html>{escaped}</html>".encode(),
                content_type="text/html",
            )
            emulator.inject("list", body=f'{{"code": 4001, "message": "no: {escaped}"}}'.encode())
            for _ in range(3):
                with pytest.raises(AvatarError) as info:
                    await client.list_sessions("active")
                errors.append(info.value)
        emulator.inject(
            "get",
            body=f'{{"code": 1000, "data": {{"id": "{json_escaped(CANARY_KEY)}"}}}}'.encode(),
        )
        entry = await client.get_session(token.session_id)
        assert entry.id == MASK
        secrets = [CANARY_KEY, raw_token]
        assert len(errors) == 6
        for error in errors:
            assert MASK in str(error)
            assert_clean(exception_texts(error), secrets)
        assert_clean([repr(entry)], secrets)


async def test_a_session_token_echoed_to_api_key_calls_is_masked(
    emulator: LiveAvatarEmulator,
) -> None:
    """Answers to calls made with the API key (the stop fallback after a 401, ``get_session``,
    ``stop_session``) that echo a session token have it masked: every tracked credential is masked
    in every error, whichever credential the request used."""
    errors: list[BaseException] = []
    async with LiveAvatarClient(
        CANARY_KEY, base_url=emulator.base_url, retry_policy=FAST
    ) as client:
        session = client.session(AVATAR_ID, is_sandbox=True, stop_timeout=1.0)
        async with session:
            raw_token = emulator.sessions[session.session_id].token
            echo = f'{{"message": "could not stop session of token {raw_token}"}}'.encode()
            emulator.inject("get", status=500, body=echo, times=3)
            with pytest.raises(ServerError) as get_info:
                await client.get_session(session.session_id)
            errors.append(get_info.value)
            emulator.inject("stop", status=500, body=echo, times=3)
            with pytest.raises(ServerError) as stop_info:
                await client.stop_session(session.session_id)
            errors.append(stop_info.value)
    assert len(errors) == 2
    assert all(MASK in str(error) for error in errors)
    assert_clean([t for error in errors for t in exception_texts(error)], [CANARY_KEY, raw_token])


async def test_a_running_sessions_token_stays_masked_once_the_model_it_came_in_is_gone(
    provider: Provider,
) -> None:
    """A session keeps its id and token, not the model they were read into nor the token's Secret
    (two objects and a weak reference fewer per idle session): the token is masked in logs while
    the session runs, with the model and its Secret freed and a collection run; once the session
    has ended (its stop confirmed) it no longer is, though the session object lives on (a dead
    token is not masked for ever); and neither the session nor its backend can be pickled."""
    async with provider.session(keep_alive_interval=20) as session:
        gc.collect()
        raw = provider.emulator.sessions[session.session_id].token
        assert mask_tracked(f"echo {raw}.") == f"echo {MASK}."
        for holder in (session, session._backend):
            with pytest.raises(TypeError, match="not picklable") as info:
                pickle.dumps(holder)
            assert raw not in str(info.value)
    assert session.end_reason is EndReason.USER_CLOSED
    assert mask_tracked(f"echo {raw}.") == f"echo {raw}."


async def test_a_session_that_may_still_run_keeps_its_token_masked(provider: Provider) -> None:
    """A stop that was not confirmed leaves the session possibly running, its token valid: the
    token stays masked after the exit, and after the session object is gone."""
    provider.emulator.inject(provider.stop_step, status=500, times=1000)
    session = provider.session(keep_alive_interval=20, stop_timeout=0.5)
    with pytest.raises(SessionStopError):
        async with session:
            raw = provider.emulator.sessions[session.session_id].token
    assert session.end_reason is None
    provider.made.remove(session)  # the fixture's own list of the sessions it made
    del session
    gc.collect()
    assert mask_tracked(f"echo {raw}.") == f"echo {MASK}."


async def test_a_token_whose_start_was_refused_stays_masked_while_its_session_lives(
    emulator: LiveAvatarEmulator,
) -> None:
    """A start refused (4xx: nothing runs, no stop) leaves the token unused, not dead: it is masked
    for as long as the session object lives, and no longer once it is gone; the backend shows no
    state (``vars()`` aside, nothing dumps it)."""
    async with LiveAvatarClient(CANARY_KEY, base_url=emulator.base_url) as client:
        emulator.inject("start", status=422)
        session = client.session(AVATAR_ID, is_sandbox=True)
        with pytest.raises(AvatarError):
            async with session:
                pytest.fail("the block must not run")
        (entry,) = emulator.sessions.values()
        raw = entry.token
        gc.collect()
        assert mask_tracked(f"echo {raw}.") == f"echo {MASK}."
        with pytest.raises(TypeError, match="shows no state"):
            session._backend.__getstate__()
        del session
        gc.collect()
        assert mask_tracked(f"echo {raw}.") == f"echo {raw}."


async def test_a_stop_error_after_a_fallback_masks_the_token(
    emulator: LiveAvatarEmulator,
) -> None:
    """The SessionStopError of a stop whose session-token attempt was refused and whose API-key
    fallback failed, echoing the session token, shows neither credential."""
    async with LiveAvatarClient(
        CANARY_KEY, base_url=emulator.base_url, retry_policy=FAST
    ) as client:
        session = client.session(AVATAR_ID, is_sandbox=True, stop_timeout=1.0)
        with pytest.raises(SessionStopError) as info:
            async with session:
                raw_token = emulator.sessions[session.session_id].token
                echo = f'{{"message": "could not stop session of token {raw_token}"}}'
                emulator.inject("stop", status=401)
                emulator.inject("stop", status=500, body=echo.encode(), times=30)
    assert info.value.session_id == session.session_id
    assert session.end_reason is None  # not confirmed: the session may still run
    assert [r.auth for r in emulator.requests("stop")][:2] == ["bearer", "api_key"]
    assert MASK in str(info.value)
    assert_clean(exception_texts(info.value), [CANARY_KEY, raw_token])


async def test_a_session_token_echoed_in_the_data_of_a_read_is_masked(
    emulator: LiveAvatarEmulator,
) -> None:
    """get_session (an API-key read) answering with another credential the SDK holds (a live
    session token) in its data: masked in the model, so no repr shows it."""
    async with LiveAvatarClient(CANARY_KEY, base_url=emulator.base_url) as client:
        token = await client.create_session_token(AVATAR_ID)
        raw_token = token.session_token.get_secret_value()
        body = f'{{"code": 1000, "data": {{"id": "{token.session_id}", "created_at": "tok {raw_token}"}}}}'
        emulator.inject("get", body=body.encode())
        entry = await client.get_session(token.session_id)
    assert raw_token not in repr(entry)
    assert entry.created_at == f"tok {MASK}"


async def test_an_echo_past_a_long_run_of_white_space_is_masked(
    emulator: LiveAvatarEmulator,
) -> None:
    """An HTML error page that echoes the API key after 1,190 spaces: the excerpt is masked before
    it is cut, so not even a prefix of the key shows."""
    async with LiveAvatarClient(CANARY_KEY, base_url=emulator.base_url) as client:
        page = (" " * 1190 + CANARY_KEY + " " * 50).encode()
        emulator.inject("list", status=400, body=page, content_type="text/html")
        with pytest.raises(AvatarError) as info:
            await client.list_sessions("active")
    assert_clean(exception_texts(info.value), [CANARY_KEY, CANARY_KEY[:12]])
    assert MASK in str(info.value)


def assert_no_part(texts: list[str], secret: str, size: int = 12) -> None:
    """No ``size`` consecutive characters of ``secret`` in any of ``texts`` (half a credential is a
    leak too: no mask, which matches whole credentials, finds it)."""
    parts = {secret[i : i + size] for i in range(len(secret) - size + 1)}
    for text in texts:
        found = [part for part in parts if part in text]
        assert not found, f"part of a credential ({found[0]!r}) leaked into: {text[:300]}"


@given(
    bearer=st.text(max_size=24),
    credentials=st.lists(st.text(min_size=1, max_size=24), unique=True, max_size=4),
)
def test_a_session_call_carries_its_token_first_and_each_credential_once(
    bearer: str, credentials: list[str]
) -> None:
    """What a call sent with a session's token masks in what comes back: the token first when it is
    long enough to mask, then the client's credentials, each once (the token may be one of them)."""
    carried = with_bearer(bearer, tuple(credentials))
    assert len(set(carried)) == len(carried)
    if is_scrubbable(bearer):
        assert carried[0] == bearer
        assert set(carried) == {bearer, *credentials}
        assert [c for c in carried if c != bearer] == [c for c in credentials if c != bearer]
    else:
        assert carried == tuple(credentials)


@pytest.mark.parametrize("call", ["start", "keep_alive", "stop"])
async def test_part_of_a_session_token_echoed_by_a_refused_session_call_is_masked(
    emulator: LiveAvatarEmulator, call: str
) -> None:
    """A start, keep-alive or stop refused with part of the token it was sent with (given as a plain
    string) in the message: no 12 characters of the token reach the error, for the first session
    of a client and for the next, whose call is built from parts the client made once."""
    async with LiveAvatarClient(
        CANARY_KEY, base_url=emulator.base_url, retry_policy=FAST
    ) as client:
        for _ in range(2):
            token = await client.create_session_token(AVATAR_ID)
            raw = token.session_token.get_secret_value()
            if call != "start":
                await client.start_session(token.session_token)
            message = f"token ...{raw[3:40]}... refused"
            emulator.inject(call, status=400, body=json.dumps({"message": message}).encode())
            with pytest.raises(AvatarError) as info:
                if call == "start":
                    await client.start_session(raw)
                elif call == "keep_alive":
                    await client.keep_alive(token.session_id, session_token=raw)
                else:
                    await client.stop_session(token.session_id, session_token=raw)
            assert MASK in str(info.value)
            assert_no_part(exception_texts(info.value), raw)
            sent = emulator.requests(call)[-1]
            assert sent.auth == "bearer"


async def test_a_credential_echoed_in_a_utf16_answer_is_masked(
    emulator: LiveAvatarEmulator,
) -> None:
    """JSON in UTF-16 (which the JSON reader detects, as RFC 8259 allows it to): a start answer
    echoing the session token and the API key in its data, an error's message echoing the key, and
    an HTML page in UTF-16 echoing it. Masked in the model (a start's data is masked only where the
    echo check finds one: no UTF-8 search of the body does) and in every error text."""
    async with LiveAvatarClient(
        CANARY_KEY, base_url=emulator.base_url, retry_policy=FAST
    ) as client:
        token = await client.create_session_token(AVATAR_ID)
        raw_token = token.session_token.get_secret_value()
        data = {
            "session_id": token.session_id,
            "livekit_url": f"wss://{raw_token}.example",
            "livekit_client_token": f"a.{CANARY_KEY}.c",
            "livekit_agent_token": "a.b.c",
        }
        emulator.inject("start", body=json.dumps({"code": 1000, "data": data}).encode("utf-16"))
        info = await client.start_session(token.session_token)
        assert info.livekit_url == f"wss://{MASK}.example"
        assert info.livekit_client_token == f"a.{MASK}.c"
        emulator.inject(
            "list", status=400, body=json.dumps({"message": f"bad {CANARY_KEY}"}).encode("utf-16")
        )
        emulator.inject(
            "list",
            status=400,
            body=f"<html>bad {CANARY_KEY}</html>".encode("utf-16-le"),
            content_type="text/html",
        )
        errors = []
        for _ in range(2):
            with pytest.raises(AvatarError) as info_error:
                await client.list_sessions("active")
            errors.append(info_error.value)
    assert_clean([repr(info)], [CANARY_KEY, raw_token])
    for error in errors:
        assert MASK in str(error)
        assert_no_part(exception_texts(error), CANARY_KEY)


URL_KEY = "canary+key/3f9d1c7e5b2a=="


@pytest.mark.parametrize(
    "echo",
    [
        pytest.param(lambda key: f"invalid api key {key[:20]}...", id="cut short by the server"),
        pytest.param(lambda key: "p" * 490 + key, id="cut by the error's own limit"),
        pytest.param(lambda key: f"key={quote(key, safe='')}", id="url-encoded"),
        pytest.param(lambda key: f"key={quote_plus(key)}", id="form-encoded"),
        pytest.param(lambda key: f"INVALID API KEY {key.upper()}", id="upper-cased"),
        pytest.param(lambda key: f"Clé invalide: «{key.upper()}»", id="upper-cased, not ASCII"),
    ],
)
async def test_a_credential_echoed_in_part_or_url_encoded_is_masked(
    echo: Callable[[str], str],
) -> None:
    """A server that echoes the API key cut short (by its own limit, or where the error's message
    is cut to 500 characters), URL-encoded or upper-cased: no 12 characters of the key, in any
    case, reach the error."""
    async with (
        LiveAvatarEmulator(api_key=URL_KEY) as emulator,
        LiveAvatarClient(URL_KEY, base_url=emulator.base_url, retry_policy=FAST) as client,
    ):
        body = json.dumps({"code": 401, "message": echo(URL_KEY)}).encode()
        emulator.inject("list", status=401, body=body)
        with pytest.raises(AuthenticationError) as info:
            await client.list_sessions("active")
    assert MASK in str(info.value)
    assert_no_part(exception_texts(info.value), URL_KEY)
    assert_no_part(exception_texts(info.value), URL_KEY.upper())
    assert_no_part(exception_texts(info.value), quote(URL_KEY, safe=""))


async def test_a_session_token_cut_short_in_a_kaltura_failure_is_masked() -> None:
    """Kaltura answers HTTP 200 with ``success: false`` and the session token at the end of a long
    ``error``: the answer of a call whose data is not used is masked before its message is cut to
    length, so neither the say-text error nor the stop's SessionStopError shows part of it."""
    async with (
        KalturaEmulator(ks=CANARY_KEY) as emulator,
        KalturaAvatarClient(ks=CANARY_KEY, base_url=emulator.base_url) as client,
    ):
        session = client.session(KALTURA_AVATAR_ID, stop_timeout=1.0)
        errors: list[BaseException] = []
        with pytest.raises(SessionStopError) as info:
            async with session:
                raw_token = emulator.sessions[session.session_id].token
                # The cut at 500 characters would leave the token's first 10: fewer than any mask
                # of fragments takes, so only masking before the cut hides them.
                failure = {"success": False, "error": "p" * 487 + raw_token + CANARY_KEY}
                for step in ("say_text", "end"):
                    emulator.inject(step, body=json.dumps(failure).encode(), times=5)
                with pytest.raises(AvatarError) as said:
                    await session.say_text("hello")
                errors.append(said.value)
        errors.append(info.value)
    for error in errors:
        for secret in (raw_token, CANARY_KEY):
            assert_no_part(exception_texts(error), secret, size=8)


LONG_KEY = "long-canary-key-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" * 3


@pytest.mark.parametrize("offset", range(0, 200, 40))
async def test_no_part_of_a_long_credential_reaches_an_error_pages_excerpt(offset: int) -> None:
    """An HTML error page that repeats a 200-character API key: the excerpt masks the page past its
    cut, so a key the cut splits in two is not pulled into it by the shorter masks before it."""
    page = ("x" * offset + " " + f"{LONG_KEY} " * 20).encode()
    async with (
        LiveAvatarEmulator(api_key=LONG_KEY) as emulator,
        LiveAvatarClient(LONG_KEY, base_url=emulator.base_url, retry_policy=FAST) as client,
    ):
        emulator.inject("list", status=400, body=page, content_type="text/html")
        with pytest.raises(AvatarError) as info:
            await client.list_sessions("active")
    assert MASK in str(info.value)
    assert_no_part(exception_texts(info.value), LONG_KEY)


async def test_no_part_of_a_credential_reaches_the_error_of_an_answer_aiohttp_cannot_parse() -> (
    None
):
    """A header line longer than aiohttp reads, made of the API key repeated: aiohttp's errors quote
    its first 100 bytes, cutting a key in two, and its parser's frames hold them as locals; the
    error and every error chained to it say what went wrong (``LineTooLong``) without any of the
    server's bytes, in their texts or in a traceback that shows each frame's locals."""
    async with (  # the answer in no local of this frame, whose locals the traceback shows too
        _raw_server(
            b"HTTP/1.1 200 OK\r\nX-Echo: " + CANARY_KEY.encode() * 400 + b"\r\n\r\n"
        ) as url,
        LiveAvatarClient(CANARY_KEY, base_url=url, retry_policy=RetryPolicy(retries=0)) as client,
    ):
        with pytest.raises(TransportError) as info:
            await client.get_credits()
    assert "LineTooLong" in str(info.value)
    with_locals = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    texts = [*exception_texts(info.value), "".join(with_locals.format())]
    assert_no_part(texts, CANARY_KEY, size=8)


async def test_a_credential_in_a_redirects_host_is_masked_as_the_server_wrote_it() -> None:
    """A redirect to a host named after the (mixed-case) API key: the error names the host as the
    server wrote it, so the mask finds the key; lower-cased, it would not."""
    key = "Canary-MIXED-case-Key-3F9D1C7E"
    async with (
        LiveAvatarEmulator(api_key=key) as emulator,
        LiveAvatarClient(key, base_url=emulator.base_url, retry_policy=FAST) as client,
    ):
        emulator.inject("list", status=302, headers={"Location": f"https://{key}.evil.example/x"})
        with pytest.raises(AvatarError) as info:
            await client.list_sessions("active")
    assert f"{MASK}.evil.example" in str(info.value)
    assert_clean(exception_texts(info.value), [key, key.lower()])


# --- Kaltura: the KS, the session token and the TURN credential ---------------------------------


async def test_no_credential_in_reprs_errors_logs_or_pickles(
    kaltura_emulator: KalturaEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The KS, the session token and the TURN credential appear in no repr, log line or error."""
    canary_ks = "canary-ks-7f3a9c"
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        async with KalturaEmulator(ks=canary_ks) as emulator:
            async with KalturaAvatarClient(canary_ks, base_url=emulator.base_url) as client:
                texts.append(repr(client))
                async with client.session(KALTURA_AVATAR_ID, keep_alive_interval=0.1) as session:
                    await anyio.sleep(0.3)
                    texts += [repr(session), repr(session.info), str(session.info)]
                    token = emulator.sessions[session.session_id].token
                    credential = session.info.turn.credential
                created = await client.create_session(KALTURA_AVATAR_ID)
                texts += [repr(created), str(created)]
                emulator.inject("keep_alive", status=401)
                with pytest.raises(AuthenticationError) as info:
                    await client.keep_alive(created.session_id, token=created.token)
                texts += [str(info.value), repr(info.value)]
                texts.append(repr(pickle.loads(pickle.dumps(info.value))))
            async with KalturaAvatarClient("not-the-ks", base_url=emulator.base_url) as bad:
                with pytest.raises(AuthenticationError) as bad_info:
                    await bad.create_session(KALTURA_AVATAR_ID)
                texts.append(str(bad_info.value))
    texts += [record.getMessage() for record in caplog.records]
    assert caplog.records  # the session logged its steps
    for secret in (canary_ks, "not-the-ks", token, credential, created.token.get_secret_value()):
        assert not any(secret in text for text in texts), secret


async def test_a_prepared_call_is_not_pickled_nor_copied(
    kaltura_client: KalturaAvatarClient, client: LiveAvatarClient
) -> None:
    """A prepared call holds credentials (a session's token, or the API key of a call made with it):
    pickling or copying it is refused, as for a Secret, rather than writing them out in clear."""
    created = await kaltura_client.create_session(KALTURA_AVATAR_ID)
    calls = [
        client.prepare_keep_alive(AVATAR_ID, session_token="s" * 40),  # Bearer
        client.prepare_keep_alive(AVATAR_ID),  # the API key
        kaltura_client.prepare_keep_alive(created.session_id, token=created.token),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="holds credentials"):
            pickle.dumps(call)
        with pytest.raises(TypeError, match="holds credentials"):
            copy.deepcopy(call)
    await kaltura_client.end_session(created.session_id, token=created.token)


async def test_a_refused_keep_alive_by_id_shows_no_session_token_in_its_locals(
    client: LiveAvatarClient,
) -> None:
    """``keep_alive(session_id, session_token=Secret(...))`` refused for its id: a traceback that shows
    every frame's locals shows the Secret (masked), never its value, in the SDK's frames; also when a
    call for that session and token is kept."""
    token = Secret("session-token-canary-" + "x" * 24)
    errors = []
    for session_id in ("not a uuid", AVATAR_ID, "not a uuid"):
        try:
            await client.keep_alive(session_id, session_token=token, timeout=0.5)
        except AvatarError as exc:
            errors.append(exc)
    assert len(errors) == 3
    for error in errors:
        shown = traceback.TracebackException.from_exception(error, capture_locals=True)
        frames = [frame for frame in shown.stack if "/aioavatar/" in frame.filename]
        assert frames
        for frame in frames:
            values = (frame.locals or {}).values()
            assert not any(token.get_secret_value() in value for value in values), frame.name


async def test_a_traceback_with_its_locals_shows_no_session_token(
    emulator: LiveAvatarEmulator,
) -> None:
    """A keep-alive that times out waiting for a connection: a traceback that shows every frame's
    locals (Sentry's, ``TracebackException(capture_locals=True)``) shows no session token, since the
    Authorization header is formed inline in the request, not kept in a variable."""
    token = "session-token-canary-" + "x" * 24
    async with LiveAvatarClient(
        emulator.api_key, base_url=emulator.base_url, connection_limit=1
    ) as client:
        call = client.prepare_keep_alive(AVATAR_ID, session_token=token)
        holding = asyncio.Event()
        release = asyncio.Event()

        async def hold_the_only_connection() -> None:
            async with client.reserved_connection():
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold_the_only_connection())
        await holding.wait()
        try:
            with pytest.raises(TransportError) as info:
                await client.send(call, timeout=0.05)
        finally:
            release.set()
            await holder
    shown = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    frames = [frame for frame in shown.stack if "/aioavatar/" in frame.filename]
    assert frames  # the SDK's own frames, each with its locals (this test's own hold the token)
    for frame in frames:
        assert not any(token in value for value in (frame.locals or {}).values()), frame.name
    assert "no connection came free" in str(info.value)
    assert emulator.journal == []  # nothing was sent


@pytest.mark.parametrize(
    ("connector", "field"),
    [
        ({"livekit_config": {"livekit_url": "wss://lk.example", "livekit_room": "r"}}, "livekit"),
        ({"agora_config": {"agora_app_id": "app", "agora_channel": "c", "agora_uid": 1}}, "agora"),
    ],
    ids=["livekit_client_token", "agora_token"],
)
@pytest.mark.parametrize("status", [400, 422])
async def test_a_connector_token_echoed_by_a_refused_token_request_is_masked(
    connector: dict[str, Any], field: str, status: int
) -> None:
    """A LITE token request carries the caller's own LiveKit or Agora token, which the server echoes
    in its refusal (a 400 quoting the request, a 422's ``ctx``), whole or cut short: it is masked as
    the API key is, in the error's text and its ``detail``."""
    secret = "ck_" + "Zq9" * 20  # no JWT, nothing the generic patterns know
    config = dict(next(iter(connector.values())))
    config["livekit_client_token" if field == "livekit" else "agora_token"] = secret
    name = next(iter(connector))
    body: dict[str, Any]
    if status == 400:
        body = {"message": f"invalid {name}: token {secret[:30]}... ({secret})"}
    else:
        body = {"detail": [{"loc": ["body", name], "msg": "bad", "type": "value_error",
                            "ctx": {"error": f"token {secret} expired"}}]}  # fmt: skip
    async with (
        LiveAvatarEmulator(api_key=URL_KEY) as emulator,
        LiveAvatarClient(URL_KEY, base_url=emulator.base_url, retry_policy=FAST) as client,
    ):
        emulator.inject("token", status=status, body=json.dumps(body).encode())
        with pytest.raises(AvatarError) as info:
            fields: Any = {name: config}
            await client.create_session_token(AVATAR_ID, mode="LITE", **fields)
    assert MASK in str(info.value) or MASK in repr(getattr(info.value, "detail", ""))
    assert_no_part(exception_texts(info.value), secret)


def _shown_with_locals(error: BaseException) -> str:
    """The frames of ``error``'s traceback and of every error chained to it, each with its locals
    (what Sentry and ``TracebackException(capture_locals=True)`` report), but this file's own."""
    shown: traceback.TracebackException | None = traceback.TracebackException.from_exception(
        error, capture_locals=True
    )
    lines = []
    while shown is not None:
        for frame in shown.stack:
            if frame.filename != __file__:
                lines.append(f"{frame.filename} {frame.name} {frame.locals}")
        shown = shown.__cause__ or shown.__context__
    return "\n".join(lines)


async def test_a_traceback_with_locals_of_a_failed_request_shows_no_api_key(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Three failures, each reported with every frame's locals, the chained aiohttp error's too:
    a refused connection (aiohttp's own frames held the request's headers), a refused page of a
    ``list_sessions`` walk (its fetch held the headers), and a refused delete whose answer echoes
    the key in its body and its ``Location``. None shows the API key."""
    key = emulator.api_key
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    async with LiveAvatarClient(key, base_url=closed) as nowhere:
        with pytest.raises(TransportError) as dropped:
            await nowhere.create_session_token(AVATAR_ID, is_sandbox=True)
    assert dropped.value.__cause__ is not None

    emulator.inject("list", status=400, times=10)
    with pytest.raises(APIError) as refused_page:
        async for _ in client.list_sessions("active"):
            pass

    echo = json.dumps({"message": f"bad key {key}"}).encode()
    emulator.inject("secret_delete", status=400, body=echo, headers={"Location": f"/k/{key}"})
    with pytest.raises(APIError) as refused_delete:
        await client.secrets.delete(AVATAR_ID)

    for name, error in [
        ("refused connection", dropped.value),
        ("refused page", refused_page.value),
        ("refused delete", refused_delete.value),
    ]:
        shown = _shown_with_locals(error)
        assert "aioavatar" in shown  # the SDK's frames, with their locals
        assert key not in shown, name


async def test_a_created_secret_echoed_in_the_answer_comes_back_masked(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """``secrets.create``: an answer that echoes the stored value (in its name, say) reads it masked,
    as ``secrets.list`` does; the value is never read back."""
    value = "sk-test-" + "v" * 32
    echo = {"id": AVATAR_ID, "secret_name": f"named {value}", "secret_type": "OPENAI_API_KEY"}
    emulator.inject("secret_create", body=json.dumps({"code": 1000, "data": echo}).encode())
    stored = await client.secrets.create(
        secret_name="openai", secret_value=value, secret_type="OPENAI_API_KEY"
    )
    assert stored.secret_name == f"named {MASK}"
