"""Every public constructor and method, fed hostile values: any failure before I/O is a
``ConfigurationError`` (never a ``TypeError``, ``OverflowError``, ``UnicodeEncodeError`` or aiohttp's
``ValueError``), and nothing reaches the emulators when it is raised.

Each example picks one public callable, fills its parameters with valid values, and replaces one or two
of them with something hostile: ``None``, bools, huge or negative numbers, ``inf``/``NaN``, empty,
blank or multi-line text, lone surrogates, bytes, containers, arbitrary objects. A call that passes
validation may reach the emulator; then any :class:`AvatarError` is fine (the server refused).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aioavatar
from aioavatar import (
    AvatarError,
    AvatarSession,
    ConfigurationError,
    KalturaAvatarClient,
    KalturaAvatarSession,
    KalturaTimeouts,
    LiveAvatarClient,
    LiveAvatarTimeouts,
    RetryBudget,
    RetryPolicy,
    Secret,
    Timeout,
    check_pcm,
    read_wav,
)
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .providers import API_KEY, AVATAR_ID, KALTURA_AVATAR_ID, KS

pytestmark = pytest.mark.anyio

EXAMPLES = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HOSTILE: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 10**12, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e-300, 5e-324, 1e308]),
    st.text(max_size=20),
    st.sampled_from(["", " ", "\t", "\r\n", "a\r\nb", "x\ny", "\x00", "é" * 3, "x" * 300]),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.builds(object),
)


@dataclass
class Target:
    """A public callable and a valid value for each of its parameters."""

    name: str
    call: Callable[..., Any]
    valid: dict[str, Any]
    is_async: bool = False


@dataclass
class World:
    """What the targets need: both emulators, an open client on each, a started session on each."""

    la: LiveAvatarEmulator
    kt: KalturaEmulator
    la_client: LiveAvatarClient
    kt_client: KalturaAvatarClient
    session_id: str
    session_token: Secret
    kt_session_id: str
    kt_token: Secret


@pytest.fixture
async def world() -> AsyncIterator[World]:
    """Both emulators and clients, with a started session on each (shared by the examples)."""
    async with (
        LiveAvatarEmulator(api_key=API_KEY) as la,
        KalturaEmulator(ks=KS) as kt,
        LiveAvatarClient(API_KEY, base_url=la.base_url, retry_policy=RetryPolicy(retries=0)) as lc,
        KalturaAvatarClient(KS, base_url=kt.base_url, retry_policy=RetryPolicy(retries=0)) as kc,
    ):
        token = await lc.create_session_token(AVATAR_ID, is_sandbox=True)
        await lc.start_session(token.session_token)
        created = await kc.create_session(KALTURA_AVATAR_ID)
        yield World(
            la, kt, lc, kc, token.session_id, token.session_token, created.session_id, created.token
        )


def targets(w: World) -> list[Target]:
    la, kt = w.la_client, w.kt_client
    timing = {"timeout": 5.0, "retry_policy": RetryPolicy(retries=0)}
    sid, tok, ksid, ktok = w.session_id, w.session_token, w.kt_session_id, w.kt_token
    token_fields = {
        "mode": "LITE",
        "is_sandbox": True,
        "video_settings": {"quality": "high"},
        "max_session_duration": 60,
        "dynamic_variables": {"name": "Ada"},
        "livekit_config": {
            "livekit_url": "wss://x",
            "livekit_room": "r",
            "livekit_client_token": "t",
        },
    }
    lifecycle = {"keep_alive_interval": 1.0, "stop_timeout": 1.0, "end_reason_for": None}
    client_options = {
        "retry_policy": RetryPolicy(),
        "retry_budget": RetryBudget(),
        "max_response_size": 1024,
        "connection_limit": 10,
        "allow_insecure": False,
    }
    return [
        Target(
            "LiveAvatarClient",
            LiveAvatarClient,
            {
                "api_key": API_KEY,
                "base_url": "https://api.example",
                "timeouts": None,
                **client_options,
            },
        ),
        Target(
            "KalturaAvatarClient",
            KalturaAvatarClient,
            {"ks": KS, "region": "nvp1", "base_url": None, "timeouts": None, **client_options},
        ),
        Target(
            "AvatarSession",
            AvatarSession,
            {"avatar_id": AVATAR_ID, "api_key": API_KEY, **lifecycle, **token_fields},
        ),
        Target(
            "KalturaAvatarSession",
            KalturaAvatarSession,
            {"avatar_id": "a1", "voice_id": "v1", "voice_speed": 1.0, "ks": KS, **lifecycle},
        ),
        Target("Timeout", Timeout, {"total": 5.0, "connect": 1.0}),
        Target(
            "RetryPolicy",
            RetryPolicy,
            {
                "retries": 2,
                "backoff_initial": 0.5,
                "backoff_max": 8.0,
                "retry_after_cap": 60.0,
                "statuses": frozenset({503}),
            },
        ),
        Target("RetryBudget", RetryBudget, {"capacity": 50.0, "refund": 0.1}),
        Target("Secret", Secret, {"value": "abc"}),
        Target("LiveAvatarTimeouts", LiveAvatarTimeouts, {"token": Timeout(total=1.0)}),
        Target("KalturaTimeouts", KalturaTimeouts, {"create": Timeout(total=1.0)}),
        Target("check_pcm", check_pcm, {"pcm": b"\x00\x00"}),
        Target("read_wav", read_wav, {"source": b"RIFF"}),
        *(
            Target(model.__name__, model, _valid_model_fields(model))
            for model in (
                aioavatar.SessionTokenRequest,
                aioavatar.VideoSettings,
                aioavatar.AvatarPersona,
                aioavatar.ElevenLabsVoiceSettings,
                aioavatar.FishVoiceSettings,
                aioavatar.VoiceAgent,
                aioavatar.Memory,
                aioavatar.LiveKitConfig,
                aioavatar.AgoraConfig,
                aioavatar.ElevenLabsAgentConfig,
                aioavatar.OpenAIRealtimeConfig,
                aioavatar.GeminiRealtimeConfig,
                aioavatar.SttConfig,
                aioavatar.KalturaSessionRequest,
            )
        ),
        Target(
            "create_session_token",
            la.create_session_token,
            {"avatar_id": AVATAR_ID, **token_fields, **timing},
            True,
        ),
        Target("start_session", la.start_session, {"session_token": tok, **timing}, True),
        Target(
            "keep_alive",
            la.keep_alive,
            {"session_id": sid, "session_token": tok, **timing},
            True,
        ),
        Target(
            "stop_session",
            la.stop_session,
            {"session_id": sid, "reason": "USER_CLOSED", "session_token": None, **timing},
            True,
        ),
        Target(
            "list_sessions",
            la.list_sessions,
            {
                "type": "active",
                "page": 1,
                "page_size": 20,
                "avatar_id": AVATAR_ID,
                "embed_id": AVATAR_ID,
                "context_id": AVATAR_ID,
                **timing,
            },
            True,
        ),
        Target("get_session", la.get_session, {"session_id": sid, **timing}, True),
        Target(
            "get_transcript",
            la.get_transcript,
            {"session_id": sid, "start_timestamp": 1.0, "end_timestamp": 2.0, **timing},
            True,
        ),
        Target(
            "create_session",
            kt.create_session,
            {"avatar_id": KALTURA_AVATAR_ID, "voice_id": "v1", "voice_speed": 1.0, **timing},
            True,
        ),
        Target("init_client", kt.init_client, {"session_id": ksid, "token": ktok, **timing}, True),
        Target(
            "kaltura_keep_alive",
            kt.keep_alive,
            {"session_id": ksid, "token": ktok, **timing},
            True,
        ),
        Target("interrupt", kt.interrupt, {"session_id": ksid, "token": ktok, **timing}, True),
        Target(
            "say_text",
            kt.say_text,
            {
                "session_id": ksid,
                "text": "hello",
                "token": ktok,
                "turn_id": "t1",
                "is_final": True,
                **timing,
            },
            True,
        ),
        Target(
            "say_audio",
            kt.say_audio,
            {
                "session_id": ksid,
                "audio": b"ID3",
                "token": ktok,
                "duration": 1.0,
                "turn_id": "t1",
                "filename": "a.mp3",
                "content_type": "audio/mpeg",
                **timing,
            },
            True,
        ),
        Target("end_session", kt.end_session, {"session_id": ksid, "token": ktok, **timing}, True),
        *resource_targets(w, timing),
    ]


def resource_targets(w: World, timing: dict[str, Any]) -> list[Target]:
    """The account's resources (both providers): every list and method, with valid arguments."""
    la, kt, sid = w.la_client, w.kt_client, w.session_id
    page = {"page_size": 20, **timing}
    one = {**timing}
    return [
        Target("avatars.list", la.avatars.list, {"public": True, **page}, True),
        Target("avatars.get", la.avatars.get, {"avatar_id": AVATAR_ID, **one}, True),
        Target(
            "avatars.update",
            la.avatars.update,
            {"avatar_id": AVATAR_ID, "name": "n", "default_voice_id": AVATAR_ID, **one},
            True,
        ),
        Target("avatars.delete", la.avatars.delete, {"avatar_id": AVATAR_ID, **one}, True),
        Target("voices.list", la.voices.list, {"voice_type": "public", **page}, True),
        Target("voices.get", la.voices.get, {"voice_id": AVATAR_ID, **one}, True),
        Target(
            "voices.update", la.voices.update, {"voice_id": AVATAR_ID, "name": "n", **one}, True
        ),
        Target("voices.preview", la.voices.preview, {"voice_id": AVATAR_ID, **one}, True),
        Target(
            "voices.add_third_party",
            la.voices.add_third_party,
            {"provider_voice_id": "p", "secret_id": AVATAR_ID, "name": "n", **one},
            True,
        ),
        Target("contexts.list", la.contexts.list, page, True),
        Target(
            "contexts.create",
            la.contexts.create,
            {
                "name": "n",
                "prompt": "p",
                "opening_text": "o",
                "links": [{"url": "https://x.example", "faq": "Billing questions"}],
                **one,
            },
            True,
        ),
        Target(
            "contexts.update",
            la.contexts.update,
            {"context_id": AVATAR_ID, "name": "n", "prompt": "p", **one},
            True,
        ),
        Target("llm_configurations.list", la.llm_configurations.list, one, True),
        Target(
            "llm_configurations.create",
            la.llm_configurations.create,
            {
                "display_name": "d",
                "model_name": "m",
                "secret_id": AVATAR_ID,
                "base_url": "https://llm.example",
                **one,
            },
            True,
        ),
        Target(
            "secrets.create",
            la.secrets.create,
            {
                "secret_name": "n",
                "secret_value": "sk-0123456789abcdef",
                "secret_type": "OPENAI_API_KEY",
                **one,
            },
            True,
        ),
        Target("secrets.delete", la.secrets.delete, {"secret_id": AVATAR_ID, **one}, True),
        Target("memories.list", la.memories.list, page, True),
        Target("memories.create", la.memories.create, {"session_id": sid, **one}, True),
        Target("memories.get", la.memories.get, {"memory_id": AVATAR_ID, **one}, True),
        Target(
            "embeddings.create",
            la.embeddings.create,
            {
                "avatar_id": AVATAR_ID,
                "context_id": AVATAR_ID,
                "voice_id": AVATAR_ID,
                "type": "DEFAULT",
                "max_session_duration": 60,
                "default_language": "en",
                "is_sandbox": True,
                "orientation": "vertical",
                **one,
            },
            True,
        ),
        Target("get_credits", la.get_credits, one, True),
        Target("list_languages", la.list_languages, one, True),
        Target("catalog.list", kt.catalog.list, {"type": "Visual", **page}, True),
    ]


def _valid_model_fields(model: type) -> dict[str, Any]:
    """A valid value for each field of a request model (its required ones and a few optional)."""
    valid: dict[str, Any] = {
        "avatar_id": AVATAR_ID if model is aioavatar.SessionTokenRequest else "a1",
        "id": AVATAR_ID,
        "quality": "high",
        "encoding": "H264",
        "speed": 1.0,
        "stability": 0.5,
        "model": None,
        "latency_mode": "normal",
        "voice_id": AVATAR_ID,
        "context_id": AVATAR_ID,
        "language": "en",
        "prev_session_id": AVATAR_ID,
        "session_memory_id": AVATAR_ID,
        "livekit_url": "wss://x",
        "livekit_room": "r",
        "livekit_client_token": "t",
        "agora_app_id": "a",
        "agora_token": "t",
        "agora_channel": "c",
        "agora_uid": 1,
        "secret_id": "s",
        "agent_id": "g",
        "voice": "alloy",
        "temperature": 1.0,
        "provider": "deepgram",
        "max_session_duration": 60,
        "dynamic_variables": {"k": "v"},
    }
    if model is aioavatar.KalturaSessionRequest:
        valid["voice_id"] = "v1"
    return {f.name: valid.get(f.name) for f in attrs.fields(model) if f.name in valid}


# Drawn before the test runs, not inside it: a draw that Hypothesis aborts (an overrun) inside the
# running event loop takes down anyio's test runner.
picks = st.tuples(
    st.integers(min_value=0, max_value=10_000),  # which target
    st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=2),  # which parameters
    st.lists(HOSTILE, min_size=2, max_size=2),  # their hostile values
)


def build(
    all_targets: list[Target], pick: tuple[int, list[int], list[Any]]
) -> tuple[Target, dict[str, Any]]:
    """The target and keyword arguments a pick stands for: valid ones, one or two made hostile."""
    which, params, values = pick
    target = all_targets[which % len(all_targets)]
    names = sorted(target.valid)
    kwargs = dict(target.valid)
    for index, value in zip(params, values, strict=False):
        kwargs[names[index % len(names)]] = value
    return target, kwargs


@given(pick=picks)
@EXAMPLES
async def test_any_failure_before_io_is_a_configuration_error(
    world: World, pick: tuple[int, list[int], list[Any]]
) -> None:
    """Hostile values in any public constructor or method: a ConfigurationError before anything is
    sent, or a call the server answers; never another exception type, never a request on a refusal."""
    target, kwargs = build(targets(world), pick)
    before = len(world.la.journal) + len(world.kt.journal)
    try:
        result = target.call(**kwargs)
        if target.is_async:
            await _awaited(result)
    except ConfigurationError:
        assert len(world.la.journal) + len(world.kt.journal) == before, (
            f"{target.name} sent a request before refusing {kwargs!r}"
        )
    except AvatarError:
        # The server refused what it was sent (a value only the server can judge): a typed error.
        assert len(world.la.journal) + len(world.kt.journal) > before


async def _awaited(result: Awaitable[Any]) -> Any:
    return await result


# The inputs an adversarial pass found raising something else, each pinned with the field it names.
REPORTED: list[tuple[str, Callable[[], Any], str]] = [
    ("timeout=inf", lambda: Timeout(total=math.inf), "total"),
    ('Timeout(total="x")', lambda: Timeout(total="x"), "total"),  # type: ignore[arg-type]
    ("RetryPolicy(retries=None)", lambda: RetryPolicy(retries=None), "retries"),  # type: ignore[arg-type]
    ("RetryPolicy(retries=True)", lambda: RetryPolicy(retries=True), "retries"),
    ("backoff_initial=inf", lambda: RetryPolicy(backoff_initial=math.inf), "backoff_initial"),
    ("retry_after_cap=nan", lambda: RetryPolicy(retry_after_cap=math.nan), "retry_after_cap"),
    ("RetryPolicy(statuses=[[]])", lambda: RetryPolicy(statuses=[[]]), "statuses"),
    ("RetryPolicy(statuses=[{}])", lambda: RetryPolicy(statuses=[{}]), "statuses"),
    ("RetryBudget(capacity=None)", lambda: RetryBudget(capacity=None), "capacity"),  # type: ignore[arg-type]
    ("api key with CR LF", lambda: LiveAvatarClient("key\r\nX-Evil: 1"), "api_key"),
    ("KS with LF", lambda: KalturaAvatarClient("ks-value\nx"), "ks"),
    ("Secret(None)", lambda: Secret(None), "value"),  # type: ignore[arg-type]
    (
        "connection_limit='10'",
        lambda: LiveAvatarClient(API_KEY, connection_limit="10"),  # type: ignore[arg-type]
        "connection_limit",
    ),
    (
        "connection_limit=-1",
        lambda: LiveAvatarClient(API_KEY, connection_limit=-1),
        "connection_limit",
    ),
    (
        "AgoraConfig(agora_uid=None)",
        lambda: aioavatar.AgoraConfig("a", "t", "c", None),  # type: ignore[arg-type]
        "agora_uid",
    ),
    ("bytes as base_url", lambda: LiveAvatarClient(API_KEY, base_url=b"https://x"), "base_url"),  # type: ignore[arg-type]
    (
        "whitespace Kaltura avatar_id",
        lambda: KalturaAvatarSession("   ", ks=KS),
        "avatar_id",
    ),
    (
        "max_session_duration=10**12",
        lambda: AvatarSession(AVATAR_ID, api_key=API_KEY, max_session_duration=10**12),
        "max_session_duration",
    ),
    (
        "stop_timeout=1e-300",
        lambda: AvatarSession(AVATAR_ID, api_key=API_KEY, stop_timeout=1e-300),
        "stop_timeout",
    ),
    (
        "keep_alive_interval=inf",
        lambda: AvatarSession(AVATAR_ID, api_key=API_KEY, keep_alive_interval=math.inf),
        "keep_alive_interval",
    ),
]


@pytest.mark.parametrize(("case", "call", "field"), REPORTED, ids=[c[0] for c in REPORTED])
def test_each_reported_input_is_a_configuration_error(
    case: str, call: Callable[[], Any], field: str
) -> None:
    """Each input the adversarial pass reported raising another exception type is now a
    ConfigurationError naming its field."""
    with pytest.raises(ConfigurationError) as info:
        call()
    assert info.value.field == field


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c, sid, tok: c.get_transcript(sid, start_timestamp=math.nan), "start_timestamp"),
        (lambda c, sid, tok: c.list_sessions(embed_id=True), "embed_id"),
        (lambda c, sid, tok: c.start_session("tok\r\nX-Evil: 1"), "session_token"),
    ],
)
async def test_invalid_values_are_not_sent(
    world: World, call: Callable[[LiveAvatarClient, str, Secret], Awaitable[Any]], field: str
) -> None:
    """NaN timestamps, a bool as an id and a token with CR LF are refused, not sent as text."""
    with pytest.raises(ConfigurationError) as info:
        await call(world.la_client, world.session_id, world.session_token)
    assert info.value.field == field
    assert world.la.journal == [r for r in world.la.journal if r.endpoint in ("token", "start")]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "hi", "turn_id": "  "}, "turn_id"),
        ({"text": "hi", "turn_id": "\udc80"}, "turn_id"),
        ({"text": "\ud800"}, "text"),
    ],
)
async def test_blank_or_unencodable_kaltura_text_is_refused(
    world: World, kwargs: dict[str, Any], field: str
) -> None:
    """Whitespace-only text or turn ids and lone surrogates never reach Kaltura's say-text."""
    before = len(world.kt.journal)
    with pytest.raises(ConfigurationError) as info:
        await world.kt_client.say_text(world.kt_session_id, token=world.kt_token, **kwargs)
    assert info.value.field == field
    assert len(world.kt.journal) == before


async def test_a_lone_surrogate_in_a_filename_is_refused(world: World) -> None:
    """A say-audio filename that cannot be encoded is a ConfigurationError, not UnicodeEncodeError."""
    with pytest.raises(ConfigurationError) as info:
        await world.kt_client.say_audio(
            world.kt_session_id, b"ID3", token=world.kt_token, duration=1.0, filename="\udc80.mp3"
        )
    assert info.value.field == "filename"
