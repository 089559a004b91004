"""The LiveAvatar models (``liveavatar/_models.py``) and how they go to and from JSON
(``liveavatar/_converter.py``): request validation before any I/O, serialization, and tolerant response
decoding; by example, then as properties (Hypothesis):

- Round trip: any valid token body becomes a model, the model unstructures to that same body, and the
  body structures back to an equal model.
- Every valid body is accepted by the emulator (which validates on its own, without the SDK's models).
- Every invalid input raises ConfigurationError naming the field, before any I/O.
- Responses: unknown keys are ignored and unknown enum values are kept, whatever they are.
"""

from __future__ import annotations

import gc
import json
import weakref
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioavatar import (
    AgoraConfig,
    AvatarPersona,
    ConfigurationError,
    ElevenLabsVoiceSettings,
    EndReason,
    LiveAvatarClient,
    Mode,
    SessionTokenRequest,
    VideoQuality,
    VideoSettings,
)
from aioavatar._converter import DecodeFailure, structure_request, structure_response, unstructure
from aioavatar.liveavatar import LiveKitConfig, SessionEntry, SessionInfo, SessionPage, Transcript
from aioavatar.liveavatar._client import build_token_request
from aioavatar.testing import LiveAvatarEmulator

from .strategies import (
    EXAMPLES,
    NOT_BOOL,
    NOT_POSITIVE_INT,
    NOT_UUID,
    not_in,
    optional_fields,
    outside,
    unit,
    uuids,
    words,
)

pytestmark = pytest.mark.anyio

AVATAR = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
OTHER = "0b8f5f4e-7d3f-4a8e-9b7c-1d2e3f4a5b6c"


def build(**fields: Any) -> SessionTokenRequest:
    return structure_request({"avatar_id": AVATAR, **fields}, SessionTokenRequest)


def test_full_body_round_trips_to_the_documented_json() -> None:
    """Every FULL field serializes as the API documents it; unset fields are omitted."""
    request = build(
        mode="FULL",
        is_sandbox=True,
        video_settings={"quality": "high", "encoding": "H264"},
        max_session_duration=120,
        avatar_persona={
            "voice_id": OTHER,
            "context_id": OTHER,
            "language": "en",
            "voice_settings": {"provider": "elevenLabs", "speed": 1, "model": "eleven_flash_v2_5"},
            "stt_config": {"provider": "deepgram"},
        },
        interactivity_type="PUSH_TO_TALK",
        llm_configuration_id=OTHER,
        dynamic_variables={"name": "Ada"},
        memory={"prev_session_id": OTHER},
    )
    assert json.loads(json.dumps(unstructure(request))) == {
        "avatar_id": AVATAR,
        "mode": "FULL",
        "is_sandbox": True,
        "video_settings": {"quality": "high", "encoding": "H264"},
        "max_session_duration": 120,
        "avatar_persona": {
            "voice_id": OTHER,
            "context_id": OTHER,
            "language": "en",
            "voice_settings": {"provider": "elevenLabs", "speed": 1, "model": "eleven_flash_v2_5"},
            "stt_config": {"provider": "deepgram"},
        },
        "interactivity_type": "PUSH_TO_TALK",
        "llm_configuration_id": OTHER,
        "dynamic_variables": {"name": "Ada"},
        "memory": {"prev_session_id": OTHER},
    }
    assert request.mode is Mode.FULL
    assert request.video_settings == VideoSettings(quality=VideoQuality.HIGH, encoding="H264")  # type: ignore[arg-type]


def test_minimal_body_is_only_the_avatar() -> None:
    """Nothing unset is sent."""
    assert unstructure(build()) == {"avatar_id": AVATAR}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {
                "livekit_config": {
                    "livekit_url": "wss://x",
                    "livekit_room": "r",
                    "livekit_client_token": "t",
                }
            },
            {
                "livekit_config": {
                    "livekit_url": "wss://x",
                    "livekit_room": "r",
                    "livekit_client_token": "t",
                }
            },
        ),
        (
            {
                "agora_config": {
                    "agora_app_id": "a",
                    "agora_token": "t",
                    "agora_channel": "c",
                    "agora_uid": 7,
                }
            },
            {
                "agora_config": {
                    "agora_app_id": "a",
                    "agora_token": "t",
                    "agora_channel": "c",
                    "agora_uid": 7,
                }
            },
        ),
        (
            {
                "elevenlabs_agent_config": {
                    "secret_id": "s",
                    "agent_id": "a",
                    "dynamic_variables": {"k": "v"},
                }
            },
            {
                "elevenlabs_agent_config": {
                    "secret_id": "s",
                    "agent_id": "a",
                    "dynamic_variables": {"k": "v"},
                }
            },
        ),
        (
            {"openai_realtime_config": {"secret_id": "s", "voice": "alloy", "temperature": 0.8}},
            {"openai_realtime_config": {"secret_id": "s", "voice": "alloy", "temperature": 0.8}},
        ),
        (
            {
                "gemini_realtime_config": {
                    "secret_id": "s",
                    "voice": "Puck",
                    "temperature": 0,
                    "model": "m",
                }
            },
            {
                "gemini_realtime_config": {
                    "secret_id": "s",
                    "voice": "Puck",
                    "temperature": 0,
                    "model": "m",
                }
            },
        ),
    ],
)
def test_lite_connectors(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    """Each LITE connector config serializes as given."""
    body = unstructure(build(mode="LITE", **fields))
    assert body == {"avatar_id": AVATAR, "mode": "LITE", **expected}


def test_fish_voice_settings_and_voice_agent() -> None:
    """The fish provider and the voice agent path serialize with their discriminators."""
    body = unstructure(
        build(
            avatar_persona={
                "voice_settings": {
                    "provider": "fish",
                    "speed": 1.5,
                    "model": "s2",
                    "latency_mode": "balanced",
                }
            }
        )
    )
    assert body["avatar_persona"]["voice_settings"]["provider"] == "fish"
    agent = unstructure(build(voice_agent={"id": OTHER, "language": "de", "dynamic_variables": {}}))
    assert agent["voice_agent"] == {"id": OTHER, "language": "de", "dynamic_variables": {}}


def test_models_and_dicts_mix() -> None:
    """Nested objects may be model instances or JSON-shaped dicts, at any depth."""
    via_model = build(
        avatar_persona=AvatarPersona(voice_settings=ElevenLabsVoiceSettings(speed=0.9))
    )
    via_dict = build(avatar_persona={"voice_settings": {"provider": "elevenLabs", "speed": 0.9}})
    assert via_model == via_dict


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"avatar_id": "not-a-uuid"}, "avatar_id"),
    ({"avatar_id": 12}, "avatar_id"),
    ({"avatar_persona": {"voice_id": "x"}}, "avatar_persona.voice_id"),
    ({"avatar_persona": {"context_id": "x"}}, "avatar_persona.context_id"),
    ({"llm_configuration_id": "x"}, "llm_configuration_id"),
    ({"memory": {"prev_session_id": "x"}}, "memory.prev_session_id"),
    ({"memory": {"session_memory_id": "x"}}, "memory.session_memory_id"),
    ({"voice_agent": {"id": "x"}}, "voice_agent.id"),
    ({"voice_agent": {}}, "voice_agent.id"),
    ({"avatar_persona": {}, "voice_agent": {"id": OTHER}}, "avatar_persona"),
    (
        {
            "mode": "LITE",
            "livekit_config": {
                "livekit_url": "u",
                "livekit_room": "r",
                "livekit_client_token": "t",
            },
            "openai_realtime_config": {"secret_id": "s", "voice": "v"},
        },
        "openai_realtime_config",
    ),
    ({"dynamic_variables": {f"k{i}": "v" for i in range(51)}}, "dynamic_variables"),
    ({"dynamic_variables": {"k" * 65: "v"}}, "dynamic_variables"),
    ({"dynamic_variables": {"k": "v" * 1001}}, "dynamic_variables"),
    ({"dynamic_variables": {"k": 1}}, "dynamic_variables"),
    (
        {"voice_agent": {"id": OTHER, "dynamic_variables": {"k": None}}},
        "voice_agent.dynamic_variables",
    ),
    ({"max_session_duration": 0}, "max_session_duration"),
    ({"max_session_duration": -5}, "max_session_duration"),
    ({"max_session_duration": 1.5}, "max_session_duration"),
    (
        {"avatar_persona": {"voice_settings": {"provider": "elevenLabs", "speed": 1.3}}},
        "avatar_persona.voice_settings.speed",
    ),
    (
        {"avatar_persona": {"voice_settings": {"provider": "elevenLabs", "speed": 0.7}}},
        "avatar_persona.voice_settings.speed",
    ),
    (
        {"avatar_persona": {"voice_settings": {"provider": "fish", "speed": 0}}},
        "avatar_persona.voice_settings.speed",
    ),
    (
        {"avatar_persona": {"voice_settings": {"provider": "azure"}}},
        "avatar_persona.voice_settings.provider",
    ),
    ({"mode": "CUSTOM"}, "mode"),
    ({"video_settings": {"quality": "ultra"}}, "video_settings.quality"),
    ({"video_settings": {"encoding": "AV1"}}, "video_settings.encoding"),
    ({"interactivity_type": "CHAT"}, "interactivity_type"),
    (
        {"avatar_persona": {"stt_config": {"provider": "whisper"}}},
        "avatar_persona.stt_config.provider",
    ),
    (
        {"avatar_persona": {"voice_settings": {"provider": "elevenLabs", "model": "v3"}}},
        "avatar_persona.voice_settings.model",
    ),
    (
        {"openai_realtime_config": {"secret_id": "s", "voice": "v", "temperature": 1.5}},
        "openai_realtime_config.temperature",
    ),
    (
        {"gemini_realtime_config": {"secret_id": "s", "voice": "v", "temperature": 2.5}},
        "gemini_realtime_config.temperature",
    ),
    ({"video_settings": {"quality": "high", "fps": 30}}, "video_settings"),
    ({"video_settings": "high"}, "video_settings"),
    ({"is_sandbox": "true"}, "is_sandbox"),
]


@pytest.mark.parametrize(("fields", "field"), INVALID)
def test_invalid_input_names_the_field(fields: dict[str, Any], field: str) -> None:
    """Each documented rule raises ConfigurationError naming the dotted field path."""
    with pytest.raises(ConfigurationError) as info:
        structure_request({"avatar_id": AVATAR, **fields}, SessionTokenRequest)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, ValueError)


def test_unknown_top_level_field() -> None:
    """A misspelt field is rejected, naming it."""
    with pytest.raises(ConfigurationError, match="is_sandboxx"):
        build(is_sandboxx=True)


def test_direct_model_construction_validates() -> None:
    """Models validate when built directly too."""
    with pytest.raises(ConfigurationError, match="speed"):
        ElevenLabsVoiceSettings(speed=5)
    with pytest.raises(ConfigurationError, match="avatar_id"):
        SessionTokenRequest(avatar_id="nope")


def test_responses_ignore_unknown_fields_and_values() -> None:
    """New server fields are ignored; new enum values become pseudo-members, not crashes."""
    entry = structure_response(
        {
            "id": AVATAR,
            "end_reason": "CREDITS_FROZEN",
            "mode": "HYPER",
            "new_field": [1],
            "duration": 3,
        },
        SessionEntry,
    )
    assert entry.end_reason == "CREDITS_FROZEN"
    assert isinstance(entry.end_reason, EndReason)
    assert not entry.end_reason.is_known
    assert EndReason.USER_CLOSED.is_known
    info = structure_response(
        {"session_id": AVATAR, "livekit_url": "wss://x", "livekit_client_token": "c", "extra": 1},
        SessionInfo,
    )
    assert info.ws_url is None
    assert info.max_session_duration is None


def test_session_page_and_transcript() -> None:
    """List pages and transcripts decode with their nested items."""
    page = structure_response(
        {"count": 1, "next": None, "previous": None, "results": [{"id": AVATAR, "source": "API"}]},
        SessionPage,
    )
    assert page.results[0].id == AVATAR
    transcript = structure_response(
        {
            "session_active": False,
            "transcript_data": [
                {
                    "role": "user",
                    "transcript": "hi",
                    "absolute_timestamp": 1.0,
                    "relative_timestamp": 0.5,
                }
            ],
        },
        Transcript,
    )
    assert transcript.transcript_data[0].transcript == "hi"


@pytest.mark.parametrize(
    "data",
    [
        {"session_id": AVATAR, "livekit_url": "wss://x"},
        {"session_id": AVATAR, "livekit_url": 5, "livekit_client_token": "c"},
        ["not", "an", "object"],
        None,
    ],
)
def test_missing_or_wrong_response_fields_fail_decoding(data: Any) -> None:
    """A missing required field or a wrong type is a decode failure naming the field."""
    with pytest.raises(DecodeFailure):
        structure_response(data, SessionInfo)


# --- properties ----------------------------------------------------------------------------------

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
            "agora_uid": st.one_of(words.filter(str.isprintable), st.integers(0, 2**32 - 1)),
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


# (the field ConfigurationError must name, a strategy of invalid token bodies)
INVALID_BODIES: list[tuple[str, st.SearchStrategy[dict[str, Any]]]] = [
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
    field, broken = draw(st.sampled_from(INVALID_BODIES))
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


# --- responses ------------------------------------------------------------------------------------

extra_keys = st.dictionaries(
    # Not a field of either model the keys are added to (Hypothesis also draws the code's literals).
    st.text(min_size=1, max_size=10).filter(
        lambda k: (
            k not in attrs.fields_dict(SessionEntry) and k not in attrs.fields_dict(SessionInfo)
        )
    ),
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
    """Any end reason or mode the server sends decodes: known ones, in any case, to members (which
    spell them as the API does), others to pseudo-members that keep the text."""
    entry = structure_response({"id": session_id, "end_reason": reason, "mode": mode}, SessionEntry)
    assert entry.end_reason is not None
    assert entry.mode is not None
    for decoded, sent in ((entry.end_reason, reason), (entry.mode, mode)):
        members = {m.value.casefold(): m for m in type(decoded)}
        known = members.get(sent.casefold())
        assert decoded.value == (sent if known is None else known.value)
        assert decoded.is_known == (known is not None)


@pytest.mark.parametrize("sent", ["uNKNOWN", "user_closed", "User_Closed"])
def test_a_known_end_reason_in_another_case_decodes_to_its_member(sent: str) -> None:
    """The examples hypothesis found: a known value in another case is that member."""
    entry = structure_response({"id": OTHER, "end_reason": sent}, SessionEntry)
    assert entry.end_reason is EndReason(sent.upper())
    assert entry.end_reason.is_known


def test_the_same_fields_build_one_request_and_a_bad_one_is_refused_each_time() -> None:
    """A service opens session after session with the same avatar and options: the token request is
    built and checked once for them (it is immutable). Each value counts with its type, so a field
    refused once is refused every time, whatever equal value of another type was accepted before;
    fields that cannot be hashed (a dict) are built each time."""
    first = build_token_request(AVATAR, None, {"is_sandbox": True, "mode": "LITE"})
    again = build_token_request(AVATAR, None, {"mode": "LITE", "is_sandbox": True})
    assert again is first
    assert (again.is_sandbox, again.mode) == (True, Mode.LITE)
    assert build_token_request(AVATAR, None, {"is_sandbox": False}) is not first
    for _ in range(2):
        with pytest.raises(ConfigurationError) as info:
            build_token_request(AVATAR, None, {"is_sandbox": 1})  # type: ignore[typeddict-item]
        assert info.value.field == "is_sandbox"
    variables: dict[str, Any] = {"dynamic_variables": {"name": "Ada"}}
    one, two = (build_token_request(AVATAR, None, variables) for _ in range(2))  # type: ignore[arg-type]
    assert one is not two
    assert one == two
    assert one.dynamic_variables == {"name": "Ada"}


def test_a_request_with_a_connectors_token_is_not_kept_after_it_is_used() -> None:
    """A LITE connector's config carries its room's token: a request made with one is built each
    time and freed once nobody holds it (a process-wide cache would keep the token alive)."""
    config = LiveKitConfig(
        livekit_url="wss://room.example", livekit_room="r", livekit_client_token="lk-" + "t" * 30
    )
    first = build_token_request(AVATAR, None, {"mode": "LITE", "livekit_config": config})
    again = build_token_request(AVATAR, None, {"mode": "LITE", "livekit_config": config})
    assert again is not first
    assert again == first
    freed = weakref.ref(first)
    del first, again, config
    gc.collect()
    assert freed() is None


@pytest.mark.parametrize(
    ("fields", "ended_with"),
    [
        ({}, None),  # running: no end_reason, no end_at
        ({"end_at": "2026-12-05T03:00:00Z"}, EndReason.UNKNOWN),
        ({"end_reason": EndReason.NO_CREDITS}, EndReason.NO_CREDITS),
        (
            {"end_reason": EndReason.AGENT_HANG_UP, "end_at": "2026-12-05T03:00:00Z"},
            EndReason.AGENT_HANG_UP,
        ),
    ],
)
def test_a_session_entry_says_how_the_session_ended(
    fields: dict[str, Any], ended_with: EndReason | None
) -> None:
    """``SessionEntry.ended_with``: what the lifecycle's lookups (rules 7, 9, 14) and ``aioavatar
    sessions stop`` read from an entry."""
    entry = SessionEntry(id="00000000-0000-4000-8000-000000000001", **fields)
    assert entry.ended_with is ended_with


@pytest.mark.parametrize(
    "uid", [-1, 2**32, 10**400, True, "", " ", "\x00", "a\r\nb", "\ud800", "u" * 256]
)
def test_an_agora_uid_agora_would_refuse_is_refused_before_any_request(uid: object) -> None:
    """Agora's uid is an unsigned 32-bit integer or a user account of at most 255 printable
    characters: anything else is a ConfigurationError naming ``agora_uid``, at construction."""
    with pytest.raises(ConfigurationError) as info:
        AgoraConfig(agora_app_id="app", agora_token="tok", agora_channel="ch", agora_uid=uid)  # type: ignore[arg-type]
    assert info.value.field == "agora_uid"


@pytest.mark.parametrize("uid", [0, 2**32 - 1, "user-42", "Zoë"])
def test_an_agora_uid_agora_takes_is_kept(uid: str | int) -> None:
    """Both of Agora's forms are kept as given."""
    config = AgoraConfig(agora_app_id="app", agora_token="tok", agora_channel="ch", agora_uid=uid)
    assert config.agora_uid == uid
