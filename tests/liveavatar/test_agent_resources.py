"""``client.llm_configurations``, ``client.secrets``, ``client.memories`` and ``client.embeddings``
(``liveavatar/_agent_resources.py``) against the emulator over real sockets: what each call sends and
reads, the plain-array lists, the 204 of a memory delete, a secret's value in no log record, repr or
error, and every invalid argument refused before any I/O."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioavatar import (
    SANDBOX_AVATAR_ID,
    AccountSecret,
    ConfigurationError,
    Embed,
    LiveAvatarClient,
    LLMConfiguration,
    NotFoundError,
    Orientation,
    Secret,
    SecretType,
    ServerError,
    SessionMemory,
    ValidationError,
)
from aioavatar._logging import MASK
from aioavatar.testing import LiveAvatarEmulator

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
SECRET_VALUE = "sk-live-canary-7f3a9c1e5b2d4f60"


def last(emulator: LiveAvatarEmulator, endpoint: str) -> Any:
    """The last request the emulator received for ``endpoint``."""
    return emulator.requests(endpoint)[-1]


async def stored_secret(client: LiveAvatarClient) -> AccountSecret:
    return await client.secrets.create(
        secret_name="openai", secret_value=SECRET_VALUE, secret_type="openai_api_key"
    )


async def test_secrets_create_list_delete(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A secret is posted once with its value and kind, listed (a plain array: one page) by name and
    kind without its value, and deleted."""
    secret = await stored_secret(client)
    assert isinstance(secret, AccountSecret)
    assert secret.secret_type is SecretType.OPENAI_API_KEY
    create = last(emulator, "secret_create")
    assert (create.method, create.path, create.auth) == ("POST", "/v1/secrets", "api_key")
    assert create.body == {
        "secret_name": "openai",
        "secret_value": SECRET_VALUE,
        "secret_type": "OPENAI_API_KEY",
    }
    page = await client.secrets.list()
    assert ([s.id for s in page.items], page.count, page.has_next) == ([secret.id], 1, False)
    await client.secrets.delete(secret.id)
    assert [s async for s in client.secrets.list()] == []
    with pytest.raises(NotFoundError):
        await client.secrets.delete(secret.id)


async def test_a_secret_value_is_in_no_log_record_repr_or_error(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, records: list[logging.LogRecord]
) -> None:
    """The value is masked in every log record (at DEBUG, aiohttp's included), in the repr of what
    the call returns, and in an error whose body echoes it; a ``Secret`` is accepted as it is."""
    secret = await client.secrets.create(
        secret_name="gemini",
        secret_value=Secret(SECRET_VALUE),
        secret_type=SecretType.GEMINI_API_KEY,
    )
    echo = b'{"detail": [{"loc": ["body", "secret_value"], "msg": "bad", "input": "%s"}]}' % (
        SECRET_VALUE.encode()
    )
    emulator.inject("secret_create", status=422, body=echo)
    with pytest.raises(ValidationError) as info:
        await stored_secret(client)
    emulator.inject("secret_create", status=503)
    with pytest.raises(ServerError) as server:
        await stored_secret(client)
    logging.getLogger("aioavatar").warning("echo: %s", SECRET_VALUE)  # as the SDK would log it
    shown = [
        repr(secret),
        repr(client.secrets),
        repr(info.value),
        str(info.value),
        repr(info.value.detail),
        repr(pickle.loads(pickle.dumps(info.value))),
        str(server.value),
        *(record.getMessage() for record in records),
    ]
    assert records, "the calls logged nothing to check"
    assert not [text for text in shown if SECRET_VALUE in text]


async def test_llm_configurations_create_list_get_update_delete(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A configuration names a stored secret and an optional base URL; the list is a plain array."""
    secret = await stored_secret(client)
    made = await client.llm_configurations.create(
        display_name="Mine", model_name="gpt-4o-mini", secret_id=secret.id
    )
    assert isinstance(made, LLMConfiguration)
    assert last(emulator, "llm_configuration_create").body == {
        "display_name": "Mine",
        "model_name": "gpt-4o-mini",
        "secret_id": secret.id,
    }
    assert last(emulator, "llm_configuration_create").path == "/v1/llm-configurations"
    assert [c.id async for c in client.llm_configurations.list()] == [made.id]
    assert (await client.llm_configurations.get(made.id)).model_name == "gpt-4o-mini"
    changed = await client.llm_configurations.update(made.id, base_url="https://llm.example/v1")
    assert changed.base_url == "https://llm.example/v1"
    assert last(emulator, "llm_configuration_update").body == {"base_url": "https://llm.example/v1"}
    await client.llm_configurations.delete(made.id)
    with pytest.raises(NotFoundError):
        await client.llm_configurations.get(made.id)


async def test_memories_create_list_get_and_a_204_delete(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A memory of a session is listed (paged), read with its episodes, and deleted: the server's 204
    with no body and no envelope is a success."""
    token = await client.create_session_token(SANDBOX_AVATAR_ID, is_sandbox=True)
    memory = await client.memories.create(session_id=token.session_id)
    assert isinstance(memory, SessionMemory)
    assert last(emulator, "memory_create").body == {
        "memory_type": "session",
        "session_id": token.session_id,
    }
    page = await client.memories.list(page_size=5)
    assert [m.id for m in page.items] == [memory.id]
    assert last(emulator, "memories").query == {"page": "1", "page_size": "5"}
    assert (await client.memories.get(memory.id)).session_episodes == []
    await client.memories.delete(memory.id)
    deleted = last(emulator, "memory_delete")
    assert (deleted.method, deleted.path, deleted.status) == (
        "DELETE",
        f"/v1/memory/{memory.id}",
        204,
    )
    with pytest.raises(NotFoundError):
        await client.memories.get(memory.id)
    with pytest.raises(NotFoundError):
        await client.memories.create(session_id=MISSING)


async def test_embeddings_create(client: LiveAvatarClient, emulator: LiveAvatarEmulator) -> None:
    """``POST /v2/embeddings`` with the defaults written out; a widget comes with its script."""
    context = await client.contexts.create(name="n", prompt="p", opening_text="o")
    embed = await client.embeddings.create(
        avatar_id=SANDBOX_AVATAR_ID,
        context_id=context.id,
        is_sandbox=True,
        type="widget",
        max_session_duration=120,
        default_language="en",
    )
    assert isinstance(embed, Embed)
    assert embed.url
    assert embed.script
    assert embed.orientation is Orientation.HORIZONTAL
    request = last(emulator, "embedding_create")
    assert (request.method, request.path) == ("POST", "/v2/embeddings")
    assert request.body == {
        "avatar_id": SANDBOX_AVATAR_ID,
        "context_id": context.id,
        "type": "WIDGET",
        "is_sandbox": True,
        "orientation": "horizontal",
        "max_session_duration": 120,
        "default_language": "en",
    }
    with pytest.raises(NotFoundError, match="Context not found"):
        await client.embeddings.create(avatar_id=SANDBOX_AVATAR_ID, context_id=MISSING)


@pytest.mark.parametrize(
    "endpoint", ["secret_create", "memory_create", "embedding_create", "llm_configuration_create"]
)
async def test_no_create_is_retried_once_sent(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, endpoint: str
) -> None:
    """Each create that got a 5xx is sent once (the client's policy would retry a read)."""
    secret = await stored_secret(client)
    token = await client.create_session_token(SANDBOX_AVATAR_ID, is_sandbox=True)
    context = await client.contexts.create(name="n", prompt="p", opening_text="o")
    before = len(emulator.requests(endpoint))
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "secret_create": lambda: stored_secret(client),
        "memory_create": lambda: client.memories.create(session_id=token.session_id),
        "embedding_create": lambda: client.embeddings.create(
            avatar_id=SANDBOX_AVATAR_ID, context_id=context.id
        ),
        "llm_configuration_create": lambda: client.llm_configurations.create(
            display_name="d", model_name="m", secret_id=secret.id
        ),
    }
    emulator.inject(endpoint, status=500)
    with pytest.raises(ServerError):
        await calls[endpoint]()
    assert len(emulator.requests(endpoint)) - before == 1


async def test_lists_that_are_arrays_are_retried_on_5xx(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """The plain-array lists are reads: a 502 is retried."""
    emulator.inject("secrets", status=502)
    emulator.inject("llm_configurations", status=502)
    assert (await client.secrets.list()).items == []
    assert (await client.llm_configurations.list()).items == []
    assert [r.status for r in emulator.requests("secrets")] == [502, 200]
    assert [r.status for r in emulator.requests("llm_configurations")] == [502, 200]


INVALID: list[tuple[str, CallFactory, st.SearchStrategy[Any]]] = [
    (
        "secret_value",
        lambda c, v: c.secrets.create(
            secret_name="n", secret_value=v, secret_type="OPENAI_API_KEY"
        ),
        st.sampled_from(["", "has space", "line\nbreak", None, 12]),
    ),
    (
        "secret_type",
        lambda c, v: c.secrets.create(secret_name="n", secret_value="abcdefgh", secret_type=v),
        not_in(*SecretType._value2member_map_),
    ),
    (
        "secret_name",
        lambda c, v: c.secrets.create(
            secret_name=v, secret_value="abcdefgh", secret_type="OPENAI_API_KEY"
        ),
        st.sampled_from(["", " ", None]),
    ),
    ("secret_id", lambda c, v: c.secrets.delete(v), NOT_UUID),
    (
        "secret_id",
        lambda c, v: c.llm_configurations.create(display_name="d", model_name="m", secret_id=v),
        NOT_UUID,
    ),
    (
        "base_url",
        lambda c, v: c.llm_configurations.create(
            display_name="d", model_name="m", secret_id=MISSING, base_url=v
        ),
        st.sampled_from(
            ["", "llm.example", "file:///etc/passwd", 3, 10**5000, "https://", "http://:80/v1"]
        ),
    ),
    ("llm_configuration_id", lambda c, v: c.llm_configurations.get(v), NOT_UUID),
    ("display_name", lambda c, v: c.llm_configurations.update(MISSING), st.none()),
    ("session_id", lambda c, v: c.memories.create(session_id=v), NOT_UUID),
    ("memory_id", lambda c, v: c.memories.get(v), NOT_UUID),
    ("memory_id", lambda c, v: c.memories.delete(v), NOT_UUID),
    ("page_size", lambda c, v: c.memories.list(page_size=v), st.sampled_from([0, 101, None])),
    ("avatar_id", lambda c, v: c.embeddings.create(avatar_id=v, context_id=MISSING), NOT_UUID),
    ("context_id", lambda c, v: c.embeddings.create(avatar_id=MISSING, context_id=v), NOT_UUID),
    (
        "type",
        lambda c, v: c.embeddings.create(avatar_id=MISSING, context_id=MISSING, type=v),
        not_in("DEFAULT", "WIDGET"),
    ),
    (
        "orientation",
        lambda c, v: c.embeddings.create(avatar_id=MISSING, context_id=MISSING, orientation=v),
        not_in("horizontal", "vertical"),
    ),
    (
        "max_session_duration",
        lambda c, v: c.embeddings.create(
            avatar_id=MISSING, context_id=MISSING, max_session_duration=v
        ),
        st.one_of(
            st.integers(max_value=0), st.integers(min_value=86_401), st.sampled_from([1.5, "60"])
        ),
    ),
    (
        "is_sandbox",
        lambda c, v: c.embeddings.create(avatar_id=MISSING, context_id=MISSING, is_sandbox=v),
        st.sampled_from([1, "true", None]),
    ),
]


@given(case=invalid_calls(INVALID))
@EXAMPLES
async def test_every_invalid_argument_is_refused_before_any_io(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, case: Case
) -> None:
    """Bad secrets, kinds, ids, URLs, durations and flags: ConfigurationError naming the field,
    nothing sent, and a refused secret value never in the message."""
    field, _, value = case
    error = await assert_refused_before_io(client, emulator, case)
    if field == "secret_value" and isinstance(value, str) and value:
        assert value not in str(error)


async def test_a_base_url_too_large_to_show_is_refused_naming_the_field(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """An int of more digits than Python turns into text, as ``base_url``: a ConfigurationError
    naming it (its repr in the message raised a bare ValueError), nothing sent."""
    with pytest.raises(ConfigurationError) as info:
        await client.llm_configurations.create(
            display_name="d",
            model_name="m",
            secret_id=MISSING,
            base_url=10**5000,  # type: ignore[arg-type]
        )
    assert info.value.field == "base_url"
    assert "too large to show" in str(info.value)
    assert emulator.journal == []


async def test_a_stored_secret_echoed_by_a_create_or_an_update_is_masked(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A secret's value, stored earlier, echoed in what a create or an update answers (not only in
    what a read answers): masked in the model returned, its repr and its pickle."""
    stored = "sk-" + "v" * 40
    await client.secrets.create(
        secret_name="llm", secret_value=stored, secret_type="OPENAI_API_KEY"
    )
    made = await client.contexts.create(name="n", prompt="p", opening_text="o")
    echo = {"id": made.id, "name": f"echo {stored}", "prompt": "p", "opening_text": "o"}
    for endpoint in ("context_create", "context_update"):
        emulator.inject(endpoint, body=json.dumps({"code": 1000, "data": echo}).encode())
    answers = [
        await client.contexts.create(name="n", prompt="p", opening_text="o"),
        await client.contexts.update(made.id, name="m"),
    ]
    for answer in answers:
        assert answer.name == f"echo {MASK}"
        assert stored not in repr(answer)
        assert stored.encode() not in pickle.dumps(answer)
