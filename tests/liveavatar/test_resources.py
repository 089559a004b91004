"""``client.avatars``, ``client.voices`` and ``client.contexts`` (``liveavatar/_resources.py``) against
the emulator over real sockets: what each call sends (method, path, query, body, the API key), what
comes back, paging, 404 and 422, the retry rules (reads retried on 5xx, a sent create never), and
every invalid argument refused before any I/O."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioavatar import (
    SANDBOX_AVATAR_ID,
    AuthenticationError,
    Avatar,
    AvatarStatus,
    AvatarType,
    Context,
    ContextLink,
    LiveAvatarClient,
    NotFoundError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TransportError,
    ValidationError,
    Voice,
)
from aioavatar.testing import LiveAvatarEmulator

from ..conftest import API_KEY
from .strategies import (
    EXAMPLES,
    NOT_UUID,
    CallFactory,
    Case,
    assert_refused_before_io,
    invalid_calls,
    not_in,
)

pytestmark = pytest.mark.anyio
MISSING = "00000000-0000-4000-8000-000000000000"
VALIDATION_BODY = (
    b'{"detail": [{"type": "string_too_long", "loc": ["body", "name"], '
    b'"msg": "String should have at most 100 characters", "input": "x"}]}'
)


def last(emulator: LiveAvatarEmulator, endpoint: str) -> Any:
    """The last request the emulator received for ``endpoint``."""
    return emulator.requests(endpoint)[-1]


async def test_public_avatars_hold_the_sandbox_avatar(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """``avatars.list(public=True)`` is ``GET /v1/avatars/public``, and the sandbox avatar is there,
    read into an :class:`Avatar` with its enums and default voice."""
    avatars = [a async for a in client.avatars.list(public=True)]
    sandbox = next(a for a in avatars if a.id == SANDBOX_AVATAR_ID)
    assert isinstance(sandbox, Avatar)
    assert (sandbox.type, sandbox.status) == (AvatarType.VIDEO, AvatarStatus.ACTIVE)
    assert sandbox.default_voice is not None
    assert sandbox.default_voice.name
    request = last(emulator, "public_avatars")
    assert (request.method, request.path, request.status) == ("GET", "/v1/avatars/public", 200)
    assert emulator.requests("avatars") == []


async def test_avatar_get_update_delete(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Get, rename (with a new default voice) and delete an avatar: each sends the API key and what
    the API expects; a deleted avatar is gone (404) and no longer listed."""
    mine = emulator.add_avatar("Mine")
    voice = (await client.voices.list(voice_type="private")).items[0]
    assert (await client.avatars.get(mine["id"])).name == "Mine"
    renamed = await client.avatars.update(mine["id"], name="Renamed", default_voice_id=voice.id)
    assert renamed.name == "Renamed"
    assert renamed.default_voice is not None
    assert renamed.default_voice.id == voice.id
    update = last(emulator, "avatar_update")
    assert (update.method, update.path, update.auth) == (
        "PATCH",
        f"/v1/avatars/{mine['id']}",
        "api_key",
    )
    assert update.body == {"name": "Renamed", "default_voice_id": voice.id}
    await client.avatars.delete(mine["id"])
    assert last(emulator, "avatar_delete").method == "DELETE"
    with pytest.raises(NotFoundError):
        await client.avatars.get(mine["id"])
    assert mine["id"] not in [a.id async for a in client.avatars.list()]


async def test_avatar_pages_across_several_pages(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The account's avatars over three pages of 100, 100 and 51: ``page`` and ``page_size`` sent."""
    for index in range(250):
        emulator.add_avatar(f"A{index}")
    assert len([a async for a in client.avatars.list(page_size=100)]) == 251
    assert [r.query for r in emulator.requests("avatars")] == [
        {"page": str(n), "page_size": "100"} for n in (1, 2, 3)
    ]


async def test_voices_list_get_update_preview_delete(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Voices filter by type, read, rename, preview (base64 decoded to the WAV bytes) and delete."""
    public = [v async for v in client.voices.list(voice_type="PUBLIC")]
    assert len(public) == 3
    assert all(isinstance(v, Voice) for v in public)
    assert last(emulator, "voices").query == {
        "voice_type": "public",
        "page": "1",
        "page_size": "20",
    }
    everything = [v async for v in client.voices.list()]
    assert len(everything) == 4
    assert "voice_type" not in last(emulator, "voices").query
    voice = public[0]
    assert (await client.voices.get(voice.id)).name == voice.name
    assert (await client.voices.update(voice.id, name="Ivy 2")).name == "Ivy 2"
    audio = await client.voices.preview(voice.id)
    assert audio.startswith(b"RIFF")
    assert b"WAVE" in audio[:12]
    assert last(emulator, "voice_preview").path == f"/v1/voices/{voice.id}/preview"
    await client.voices.delete(voice.id)
    with pytest.raises(NotFoundError):
        await client.voices.preview(voice.id)


async def test_a_voice_preview_that_is_not_base64_is_a_decode_error(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A preview whose ``audio_base64`` is not base64 raises ResponseDecodeError naming the field."""
    voice = (await client.voices.list()).items[0]
    emulator.inject("voice_preview", body=b'{"code": 1000, "data": {"audio_base64": "%%%"}}')
    with pytest.raises(ResponseDecodeError, match="audio_base64"):
        await client.voices.preview(voice.id)


async def test_third_party_voice_uses_a_stored_secret(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """``voices.add_third_party`` posts the provider's voice id and the secret; the answer's
    ``voice_id`` is a new private voice."""
    secret = await client.secrets.create(
        secret_name="eleven", secret_value="el-0123456789abcdef", secret_type="ELEVENLABS_API_KEY"
    )
    voice_id = await client.voices.add_third_party("pNInz6obpgDQGcFmaJgB", secret_id=secret.id)
    assert last(emulator, "voice_third_party").body == {
        "provider_voice_id": "pNInz6obpgDQGcFmaJgB",
        "secret_id": secret.id,
    }
    assert (await client.voices.get(voice_id)).voice_type == "private"
    with pytest.raises(NotFoundError):
        await client.voices.add_third_party("x", secret_id=MISSING)


async def test_contexts_create_list_get_update_delete(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A context made with links is listed, read in detail (``required_dynamic_variables``),
    changed field by field and deleted."""
    made = await client.contexts.create(
        name="Support",
        prompt="You help.",
        opening_text="Hello!",
        links=[
            ContextLink(url="https://docs.example.com", faq="Billing"),
            {"url": "https://x.example"},
        ],
    )
    assert isinstance(made, Context)
    assert last(emulator, "context_create").body == {
        "name": "Support",
        "prompt": "You help.",
        "opening_text": "Hello!",
        "links": [
            {"url": "https://docs.example.com", "faq": "Billing"},
            {"url": "https://x.example"},
        ],
    }
    assert made.links == [
        ContextLink("https://docs.example.com", "Billing"),
        ContextLink("https://x.example"),
    ]
    listed = await client.contexts.list()
    assert [c.id for c in listed.items] == [made.id]
    assert listed.items[0].required_dynamic_variables is None  # the detail adds it
    assert (await client.contexts.get(made.id)).required_dynamic_variables == []
    changed = await client.contexts.update(made.id, opening_text="Hi again")
    assert (changed.opening_text, changed.prompt) == ("Hi again", "You help.")
    # The API documents name, prompt and opening_text as required in the PATCH body: the ones not
    # given are read first and sent as they are.
    assert last(emulator, "context_update").body == {
        "name": "Support",
        "prompt": "You help.",
        "opening_text": "Hi again",
    }
    reads = len(emulator.requests("context_get"))
    await client.contexts.update(made.id, name="S", prompt="P", opening_text="O")
    assert len(emulator.requests("context_get")) == reads  # all three given: nothing to read
    await client.contexts.delete(made.id)
    with pytest.raises(NotFoundError):
        await client.contexts.get(made.id)


@pytest.mark.parametrize(
    ("endpoint", "call"),
    [
        ("avatar_get", lambda c: c.avatars.get(MISSING)),
        ("avatar_update", lambda c: c.avatars.update(MISSING, name="x")),
        ("avatar_delete", lambda c: c.avatars.delete(MISSING)),
        ("voice_get", lambda c: c.voices.get(MISSING)),
        ("voice_delete", lambda c: c.voices.delete(MISSING)),
        ("context_get", lambda c: c.contexts.get(MISSING)),
        (
            "context_update",
            lambda c: c.contexts.update(MISSING, name="x", prompt="p", opening_text="o"),
        ),
        ("context_delete", lambda c: c.contexts.delete(MISSING)),
    ],
)
async def test_an_unknown_id_is_not_found(
    client: LiveAvatarClient,
    emulator: LiveAvatarEmulator,
    endpoint: str,
    call: Callable[[LiveAvatarClient], Awaitable[Any]],
) -> None:
    """Every call on an id the account does not have raises NotFoundError with the server's message,
    sent once (a 404 is not retried)."""
    with pytest.raises(NotFoundError, match="not found") as info:
        await call(client)
    assert info.value.status == 404
    assert len(emulator.requests(endpoint)) == 1


async def test_the_servers_422_is_a_validation_error_with_its_detail(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A 422 the server answers is a ValidationError carrying FastAPI's ``detail``, not retried."""
    emulator.inject("context_create", status=422, body=VALIDATION_BODY)
    with pytest.raises(ValidationError) as info:
        await client.contexts.create(name="n", prompt="p", opening_text="o")
    assert info.value.detail[0]["loc"] == ["body", "name"]
    assert len(emulator.requests("context_create")) == 1


async def test_the_emulators_own_422_for_a_malformed_path_id(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The emulator answers 422 for an id that is not a UUID, as FastAPI would (sent raw, since the
    SDK refuses to send one)."""
    http = client.http_session
    async with http.get(
        f"{emulator.base_url}/v1/avatars/nope", headers={"X-API-KEY": API_KEY}
    ) as r:
        body = await r.json()
    assert r.status == 422
    assert body["detail"][0]["loc"] == ["path", "avatar_id"]


async def test_the_api_key_is_required_but_for_public_avatars(
    emulator: LiveAvatarEmulator,
) -> None:
    """A wrong key is 401 (AuthenticationError) on the account's avatars; the public list needs none."""
    async with LiveAvatarClient("wrong-key", base_url=emulator.base_url) as bad:
        with pytest.raises(AuthenticationError):
            await bad.avatars.list()
        assert len([a async for a in bad.avatars.list(public=True)]) == 3
    assert [r.status for r in emulator.journal] == [401, 200]


async def test_reads_are_retried_on_5xx(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A 503 on a list, a get, an update or a delete is retried and the call succeeds."""
    mine = emulator.add_avatar("Mine")
    for endpoint in ("avatars", "avatar_get", "avatar_update", "avatar_delete"):
        emulator.inject(endpoint, status=503)
    await client.avatars.list()
    await client.avatars.get(mine["id"])
    await client.avatars.update(mine["id"], name="New")
    await client.avatars.delete(mine["id"])
    for endpoint in ("avatars", "avatar_get", "avatar_update", "avatar_delete"):
        assert [r.status for r in emulator.requests(endpoint)] == [503, 200], endpoint


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop": True}, {"status": 503, "apply": True}])
async def test_a_sent_create_is_never_retried(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, fault: dict[str, Any]
) -> None:
    """A create that reached the server and failed (5xx, a dropped connection, or made and its answer
    lost) is sent once: a resend could make a second context."""
    emulator.inject("context_create", **fault)
    with pytest.raises((ServerError, TransportError)):
        await client.contexts.create(name="n", prompt="p", opening_text="o")
    assert len(emulator.requests("context_create")) == 1
    assert len(emulator.resources("contexts")) == (1 if fault.get("apply") else 0)


@pytest.mark.parametrize("fault", [{"status": 503, "apply": True}, {"drop": True, "apply": True}])
async def test_a_delete_whose_answer_was_lost_is_done_when_the_retry_finds_it_gone(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, fault: dict[str, Any]
) -> None:
    """The first delete took effect but its answer was lost (a 503, a dropped connection); the retry
    finds nothing (404): the delete is done, as a stop that finds its session gone is, not a
    NotFoundError saying the context never existed."""
    made = await client.contexts.create(name="n", prompt="p", opening_text="o")
    emulator.inject("context_delete", **fault)
    await client.contexts.delete(made.id)
    assert [r.status for r in emulator.requests("context_delete")] == [
        fault.get("status"),
        404,
    ]
    assert emulator.resources("contexts") == []


async def test_a_delete_of_an_unknown_id_is_still_not_found(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Without an earlier attempt that may have acted, a 404 on delete means no such resource."""
    with pytest.raises(NotFoundError):
        await client.contexts.delete(MISSING)
    emulator.inject("context_delete", status=429, retry_after="0")  # refused: it did nothing
    with pytest.raises(NotFoundError):
        await client.contexts.delete(MISSING)


async def test_bodies_shaped_as_the_api_documents_them_are_read(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A context's links carry ``faq`` as a description (a string), and a memory carries its
    ``memory_content``: both read as the API documents them."""
    context = {
        "id": MISSING,
        "name": "Support",
        "prompt": "You help.",
        "opening_text": "Hi",
        "links": [{"url": "https://docs.example.com/faq", "faq": "Billing questions", "id": "l1"}],
        "required_dynamic_variables": [],
    }
    emulator.inject("context_get", body=json.dumps({"code": 1000, "data": context}).encode())
    read = await client.contexts.get(MISSING)
    assert read.links == [ContextLink("https://docs.example.com/faq", "Billing questions")]
    memory = {"id": MISSING, "memory_type": "session", "memory_content": "Likes cats"}
    emulator.inject("memory_get", body=json.dumps({"code": 1000, "data": memory}).encode())
    assert (await client.memories.get(MISSING)).memory_content == "Likes cats"


async def test_a_create_that_never_left_is_retried(records: list[logging.LogRecord]) -> None:
    """A create whose connection could not even be opened is retried (the server saw nothing)."""
    async with LiveAvatarClient(
        API_KEY,
        base_url="http://127.0.0.1:9",
        retry_policy=RetryPolicy(retries=1, backoff_max=0.01),
    ) as unreachable:
        with pytest.raises(TransportError) as info:
            await unreachable.contexts.create(name="n", prompt="p", opening_text="o")
    assert info.value.sent is False
    retries = [
        r for r in records if "retrying" in r.getMessage() and "/v1/contexts" in r.getMessage()
    ]
    assert len(retries) == 1


INVALID: list[tuple[str, CallFactory, st.SearchStrategy[Any]]] = [
    ("avatar_id", lambda c, v: c.avatars.get(v), NOT_UUID),
    ("avatar_id", lambda c, v: c.avatars.update(v, name="x"), NOT_UUID),
    ("avatar_id", lambda c, v: c.avatars.delete(v), NOT_UUID),
    ("default_voice_id", lambda c, v: c.avatars.update(MISSING, default_voice_id=v), NOT_UUID),
    (
        "name",
        lambda c, v: c.avatars.update(MISSING, name=v),
        st.sampled_from(["", "  ", 5]),
    ),
    (
        "links[0].url",
        lambda c, v: c.contexts.create(name="n", prompt="p", opening_text="o", links=[{"url": v}]),
        st.sampled_from(
            [
                "https://",
                "ftp://x.example",
                "https://x.example/a b",
                "https://x\n.example",
                5,
                "https://x.example/" + "a" * 2_100,
            ]
        ),
    ),
    ("public", lambda c, v: c.avatars.list(public=v), st.sampled_from([1, "yes", None])),
    (
        "page_size",
        lambda c, v: c.avatars.list(page_size=v),
        st.one_of(st.integers(max_value=0), st.integers(min_value=101), st.text(max_size=3)),
    ),
    ("page_size", lambda c, v: c.voices.list(page_size=v), st.sampled_from([0, 101, 2.5, True])),
    ("page_size", lambda c, v: c.contexts.list(page_size=v), st.sampled_from([0, 101, "20"])),
    ("voice_type", lambda c, v: c.voices.list(voice_type=v), not_in("public", "private")),
    ("voice_id", lambda c, v: c.voices.get(v), NOT_UUID),
    ("voice_id", lambda c, v: c.voices.preview(v), NOT_UUID),
    ("voice_id", lambda c, v: c.voices.update(v, name="x"), NOT_UUID),
    ("secret_id", lambda c, v: c.voices.add_third_party("p", secret_id=v), NOT_UUID),
    ("context_id", lambda c, v: c.contexts.get(v), NOT_UUID),
    ("context_id", lambda c, v: c.contexts.delete(v), NOT_UUID),
    (
        "prompt",
        lambda c, v: c.contexts.create(name="n", prompt=v, opening_text="o"),
        st.sampled_from(["", "\n", None, 3]),
    ),
    (
        "links[0].url",
        lambda c, v: c.contexts.create(name="n", prompt="p", opening_text="o", links=[{"url": v}]),
        st.sampled_from(["", "ftp://x", "javascript:alert(1)", None]),
    ),
    ("name", lambda c, v: c.contexts.update(MISSING), st.none()),
    (
        "timeout",
        lambda c, v: c.avatars.get(SANDBOX_AVATAR_ID, timeout=v),
        st.sampled_from([0, -1, "x"]),
    ),
]


@given(case=invalid_calls(INVALID))
@EXAMPLES
async def test_every_invalid_argument_is_refused_before_any_io(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, case: Case
) -> None:
    """Bad ids, names, page sizes, types, links and options: ConfigurationError naming the field,
    nothing sent (a list refuses when it is called, before it is awaited)."""
    await assert_refused_before_io(client, emulator, case)
