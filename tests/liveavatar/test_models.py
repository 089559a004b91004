"""Request validation (before any I/O), serialization, and tolerant response decoding."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aioavatar import (
    AvatarPersona,
    ConfigurationError,
    ElevenLabsVoiceSettings,
    EndReason,
    Mode,
    SessionTokenRequest,
    VideoQuality,
    VideoSettings,
)
from aioavatar._converter import DecodeFailure, structure_request, structure_response, unstructure
from aioavatar.liveavatar import SessionEntry, SessionInfo, SessionPage, Transcript

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


def test_unknown_end_reason_pickles() -> None:
    """A pseudo-member survives pickling."""
    import pickle

    reason = EndReason("SOMETHING_NEW")
    assert pickle.loads(pickle.dumps(reason)) == reason
