"""Property-based tests (Hypothesis) of the models and the validation rules.

- Round trip: any valid token body becomes a model, the model unstructures to that same body, and the
  body structures back to an equal model.
- Every valid body is accepted by the emulator (which validates on its own, without the SDK's models).
- Every invalid input raises ConfigurationError naming the field, before any I/O.
- Responses: unknown keys are ignored and unknown enum values are kept, whatever they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioavatar import (
    ConfigurationError,
    EndReason,
    LiveAvatarClient,
    SessionEntry,
    SessionInfo,
    SessionTokenRequest,
)
from aioavatar._converter import structure_request, structure_response, unstructure
from aioavatar.testing import LiveAvatarEmulator

pytestmark = pytest.mark.anyio

# Function-scoped fixtures (the emulator, the client) are shared by the examples on purpose.
EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

uuids = st.uuids().map(str)
# Text the API accepts: something besides white space, valid UTF-8 (no lone surrogate).
words = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12).filter(str.strip)


def unit(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def optional_fields(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with any subset of ``fields`` (absent, never null)."""
    return st.fixed_dictionaries({}, optional=fields)


dynamic_variables = st.dictionaries(
    st.text(min_size=1, max_size=64), st.text(max_size=40), max_size=5
)
eleven_labs = optional_fields(
    speed=unit(0.8, 1.2),
    stability=unit(0, 1),
    similarity_boost=unit(0, 1),
    style=unit(0, 1),
    use_speaker_boost=st.booleans(),
    model=st.sampled_from(["eleven_flash_v2_5", "eleven_multilingual_v2"]),
    apply_language_text_normalization=st.booleans(),
).map(lambda d: {"provider": "elevenLabs", **d})
fish = optional_fields(
    speed=unit(0.01, 10),
    model=st.sampled_from(["s1", "s2"]),
    latency_mode=st.sampled_from(["normal", "balanced"]),
).map(lambda d: {"provider": "fish", **d})
persona = optional_fields(
    voice_id=uuids,
    context_id=uuids,
    language=words,
    voice_settings=st.one_of(eleven_labs, fish),
    # An empty stt_config is left out here: see test_empty_stt_config_unstructures_to_an_empty_object.
    stt_config=st.fixed_dictionaries(
        {"provider": st.sampled_from(["deepgram", "assembly_ai", "gladia", "elevenlabs"])}
    ),
)
voice_agent = st.fixed_dictionaries(
    {"id": uuids}, optional={"language": words, "dynamic_variables": dynamic_variables}
)
connectors: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "livekit_config": st.fixed_dictionaries(
        {"livekit_url": words, "livekit_room": words, "livekit_client_token": words}
    ),
    "agora_config": st.fixed_dictionaries(
        {
            "agora_app_id": words,
            "agora_token": words,
            "agora_channel": words,
            "agora_uid": st.one_of(words, st.integers(0, 2**31)),
        }
    ),
    "elevenlabs_agent_config": st.fixed_dictionaries(
        {"secret_id": words, "agent_id": words},
        optional={"voice_id": words, "dynamic_variables": dynamic_variables},
    ),
    "openai_realtime_config": st.fixed_dictionaries(
        {"secret_id": words, "voice": words},
        optional={"context_id": uuids, "temperature": unit(0.6, 1.2), "model": words},
    ),
    "gemini_realtime_config": st.fixed_dictionaries(
        {"secret_id": words, "voice": words},
        optional={"context_id": uuids, "temperature": unit(0, 2), "model": words},
    ),
}


@st.composite
def token_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid ``POST /v1/sessions/token`` body, as JSON data (absent fields left out)."""
    body: dict[str, Any] = {"avatar_id": draw(uuids)}
    body |= draw(
        optional_fields(
            mode=st.sampled_from(["FULL", "LITE"]),
            is_sandbox=st.booleans(),
            video_settings=optional_fields(
                quality=st.sampled_from(["very_high", "high", "medium", "low"]),
                encoding=st.sampled_from(["VP8", "H264"]),
            ),
            max_session_duration=st.integers(1, 86_400),
            interactivity_type=st.sampled_from(["CONVERSATIONAL", "PUSH_TO_TALK"]),
            llm_configuration_id=uuids,
            dynamic_variables=dynamic_variables,
            memory=optional_fields(prev_session_id=uuids, session_memory_id=uuids),
        )
    )
    agent = draw(st.sampled_from([None, "avatar_persona", "voice_agent"]))  # exclusive
    if agent == "avatar_persona":
        body["avatar_persona"] = draw(persona)
    elif agent == "voice_agent":
        body["voice_agent"] = draw(voice_agent)
    connector = draw(st.sampled_from([None, *connectors]))  # at most one
    if connector is not None:
        body[connector] = draw(connectors[connector])
    return body


@given(body=token_bodies())
@settings(max_examples=150, deadline=None)
def test_token_body_round_trip(body: dict[str, Any]) -> None:
    """structure -> unstructure gives the body back; structuring that again gives an equal model;
    the body survives JSON."""
    model = structure_request(body, SessionTokenRequest)
    again = unstructure(model)
    assert again == body
    assert structure_request(again, SessionTokenRequest) == model
    assert json.loads(json.dumps(again)) == body


def within_account_rules(body: dict[str, Any]) -> dict[str, Any]:
    """The body as the emulated account allows it beyond its shape: the sandbox's one avatar, the
    tier's duration limit, and one memory when both memory ids are given."""
    body = dict(body)
    if body.get("is_sandbox"):
        body["avatar_id"] = LiveAvatarEmulator.SANDBOX_AVATAR_ID
    if body.get("max_session_duration"):
        body["max_session_duration"] = min(body["max_session_duration"], 3600)
    memory = body.get("memory") or {}
    if memory.get("prev_session_id") and memory.get("session_memory_id"):
        body["memory"] = {"prev_session_id": memory["prev_session_id"]}
    return body


@given(body=token_bodies().map(within_account_rules))
@EXAMPLES
async def test_every_valid_body_is_accepted_by_the_emulator(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, body: dict[str, Any]
) -> None:
    """What the SDK sends for a valid request is what the emulator received, and it accepts it."""
    model = structure_request(body, SessionTokenRequest)
    token = await client.create_session_token(request=model)
    received = emulator.requests("token")[-1]
    assert received.status == 200
    assert received.body == json.loads(json.dumps(body))
    assert received.session_id == token.session_id


def test_empty_stt_config_unstructures_to_an_empty_object() -> None:
    """``stt_config: {}`` (every field unset) is sent as ``{}``."""
    body = {
        "avatar_id": "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a",
        "avatar_persona": {"stt_config": {}},
    }
    assert unstructure(structure_request(body, SessionTokenRequest)) == body


# --- invalid input --------------------------------------------------------------------------------

NOT_UUID = st.one_of(
    st.text(max_size=40).filter(lambda s: len(s) != 36),
    st.integers(),
    st.uuids().map(lambda u: str(u).replace("-", "")),
)
NOT_BOOL = st.one_of(st.integers(), st.text(max_size=5), st.floats(allow_nan=False))
NOT_POSITIVE_INT = st.one_of(
    st.integers(max_value=0), st.booleans(), st.floats(allow_nan=False), st.text(max_size=4)
)


def outside(low: float, high: float) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.floats(max_value=low, exclude_max=True),
        st.floats(min_value=high, exclude_min=True),
        st.just(float("nan")),
        st.text(max_size=4),
        st.booleans(),
    )


def not_in(*allowed: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.text(max_size=12).filter(lambda s: s not in allowed), st.integers())


# (the field ConfigurationError must name, a strategy of invalid token bodies)
INVALID: list[tuple[str, st.SearchStrategy[dict[str, Any]]]] = [
    ("avatar_id", NOT_UUID.map(lambda v: {"avatar_id": v})),
    ("mode", not_in("FULL", "LITE").map(lambda v: {"mode": v})),
    ("is_sandbox", NOT_BOOL.map(lambda v: {"is_sandbox": v})),
    (
        "max_session_duration",
        st.one_of(NOT_POSITIVE_INT, st.integers(min_value=86_401)).map(
            lambda v: {"max_session_duration": v}
        ),
    ),
    (
        "video_settings.quality",
        not_in("very_high", "high", "medium", "low").map(
            lambda v: {"video_settings": {"quality": v}}
        ),
    ),
    (
        "avatar_persona.voice_settings.speed",
        outside(0.8, 1.2).map(
            lambda v: {"avatar_persona": {"voice_settings": {"provider": "elevenLabs", "speed": v}}}
        ),
    ),
    (
        "avatar_persona.voice_settings.provider",
        not_in("elevenLabs", "fish").map(
            lambda v: {"avatar_persona": {"voice_settings": {"provider": v}}}
        ),
    ),
    ("avatar_persona.voice_id", NOT_UUID.map(lambda v: {"avatar_persona": {"voice_id": v}})),
    ("memory.prev_session_id", NOT_UUID.map(lambda v: {"memory": {"prev_session_id": v}})),
    ("llm_configuration_id", NOT_UUID.map(lambda v: {"llm_configuration_id": v})),
    (
        "dynamic_variables",
        st.one_of(
            st.text(min_size=65, max_size=80).map(lambda k: {k: "v"}),
            st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), min_size=1),
            st.integers(51, 60).map(lambda n: {f"k{i}": "v" for i in range(n)}),
            st.text(min_size=1001, max_size=1010).map(lambda v: {"k": v}),
        ).map(lambda v: {"dynamic_variables": v}),
    ),
    (
        "openai_realtime_config.temperature",
        outside(0.6, 1.2).map(
            lambda v: {"openai_realtime_config": {"secret_id": "s", "voice": "v", "temperature": v}}
        ),
    ),
    (
        "avatar_persona",  # exclusive with voice_agent
        uuids.map(lambda u: {"avatar_persona": {}, "voice_agent": {"id": u}}),
    ),
    (
        "agora_config",  # a second connector
        st.just(
            {
                "livekit_config": {
                    "livekit_url": "u",
                    "livekit_room": "r",
                    "livekit_client_token": "t",
                },
                "agora_config": {
                    "agora_app_id": "a",
                    "agora_token": "t",
                    "agora_channel": "c",
                    "agora_uid": 1,
                },
            }
        ),
    ),
    (
        "",  # an unknown field: the rule names no single field
        st.text(min_size=1, max_size=10)
        .filter(lambda k: k not in SessionTokenRequest.__annotations__)
        .map(lambda k: {k: 1}),
    ),
]


@st.composite
def invalid_bodies(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid body with one rule broken, and the field the error must name."""
    field, broken = draw(st.sampled_from(INVALID))
    body = {"avatar_id": draw(uuids), **draw(broken)}
    return field, body


@given(case=invalid_bodies())
@EXAMPLES
async def test_every_invalid_body_is_refused_before_any_io(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, case: tuple[str, dict[str, Any]]
) -> None:
    """ConfigurationError naming the field, and nothing reaches the server."""
    field, body = case
    before = len(emulator.journal)
    with pytest.raises(ConfigurationError) as info:
        await client.create_session_token(**body)
    assert isinstance(info.value, ValueError)
    if field:
        assert info.value.field is not None
        assert info.value.field.startswith(field)
    assert len(emulator.journal) == before


CallFactory = Callable[[LiveAvatarClient, Any], Any]
INVALID_CALLS: list[tuple[str, CallFactory, st.SearchStrategy[Any]]] = [
    ("session_id", lambda c, v: c.get_session(v), NOT_UUID),
    ("session_id", lambda c, v: c.get_transcript(v), NOT_UUID),
    ("session_id", lambda c, v: c.keep_alive(v), NOT_UUID),
    ("session_id", lambda c, v: c.stop_session(v), NOT_UUID),
    (
        "reason",
        lambda c, v: c.stop_session("dd73ea75-1218-4ef3-92ce-606d5f7fbc0a", reason=v),
        not_in(*EndReason._value2member_map_),
    ),
    ("page", lambda c, v: c.list_sessions(page=v), NOT_POSITIVE_INT),
    (
        "page_size",
        lambda c, v: c.list_sessions(page_size=v),
        st.one_of(st.integers(max_value=0), st.integers(min_value=101), st.text(max_size=3)),
    ),
    ("type", lambda c, v: c.list_sessions(v), not_in("active", "historic")),
    (
        "timeout",
        lambda c, v: c.list_sessions(timeout=v),
        st.one_of(st.floats(max_value=0), st.booleans(), st.text(max_size=3)),
    ),
    ("session_token", lambda c, v: c.start_session(v), st.sampled_from(["", 0, None])),
]


@st.composite
def invalid_calls(draw: st.DrawFn) -> tuple[str, CallFactory, Any]:
    field, call, values = draw(st.sampled_from(INVALID_CALLS))
    return field, call, draw(values)


@given(case=invalid_calls())
@EXAMPLES
async def test_every_invalid_argument_is_refused_before_any_io(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, case: tuple[str, CallFactory, Any]
) -> None:
    """Bad ids, reasons, pages, types, timeouts and tokens: ConfigurationError naming the argument,
    nothing sent."""
    field, call, value = case
    before = len(emulator.journal)
    with pytest.raises(ConfigurationError) as info:
        await call(client, value)
    assert info.value.field == field
    assert len(emulator.journal) == before


# --- responses ------------------------------------------------------------------------------------

extra_keys = st.dictionaries(
    st.text(min_size=1, max_size=10).filter(lambda k: k not in SessionEntry.__annotations__),
    st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)),
    max_size=4,
)


@given(
    session_id=uuids,
    url=words,
    client_token=words,
    duration=st.one_of(st.none(), st.integers(1, 3600)),
    extra=extra_keys,
)
@settings(max_examples=100, deadline=None)
def test_session_info_ignores_unknown_fields(
    session_id: str, url: str, client_token: str, duration: int | None, extra: dict[str, Any]
) -> None:
    """A start answer with fields the SDK does not know still decodes, to the same values."""
    data = {
        **extra,
        "session_id": session_id,
        "livekit_url": url,
        "livekit_client_token": client_token,
    }
    if duration is not None:
        data["max_session_duration"] = duration
    info = structure_response(data, SessionInfo)
    assert (info.session_id, info.livekit_url, info.livekit_client_token) == (
        session_id,
        url,
        client_token,
    )
    assert info.max_session_duration == duration


@given(session_id=uuids, reason=st.text(min_size=1, max_size=30), mode=st.text(min_size=1))
@settings(max_examples=100, deadline=None)
def test_unknown_enum_values_from_the_server_are_kept(
    session_id: str, reason: str, mode: str
) -> None:
    """Any end reason or mode the server sends decodes: known ones to members, others to
    pseudo-members that keep the text."""
    entry = structure_response({"id": session_id, "end_reason": reason, "mode": mode}, SessionEntry)
    assert entry.end_reason is not None
    assert entry.end_reason.value == reason
    assert entry.end_reason.is_known == (reason in EndReason._value2member_map_)
    assert entry.mode is not None
    assert entry.mode.value == mode
