"""Request validation in the manner of FastAPI and pydantic v2: the 422 ``detail`` items LiveAvatar answers.

Written out by hand on purpose (no SDK models, no pydantic), so that the SDK's tests against the emulator
check the SDK's own encoding. :class:`Errors` collects items shaped like pydantic's (``type``, ``loc``,
``msg``, ``input``, ``ctx``); :func:`validate_token_body` checks a ``POST /v1/sessions/token`` body.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "CONNECTORS",
    "END_REASONS",
    "HOSTED_CONNECTORS",
    "Errors",
    "Loc",
    "expected_choices",
    "parse_uuid",
    "present",
    "validate_token_body",
]

# Value sets of the token body, written out here on purpose (not taken from the SDK's models) so
# that the SDK's tests against the emulator check the SDK's own encoding.
_MODES: Final = ("FULL", "LITE")
_VIDEO_QUALITIES: Final = ("very_high", "high", "medium", "low")
_VIDEO_ENCODINGS: Final = ("VP8", "H264")
_INTERACTIVITY_TYPES: Final = ("CONVERSATIONAL", "PUSH_TO_TALK")
_VOICE_PROVIDERS: Final = ("elevenLabs", "fish")
_ELEVENLABS_MODELS: Final = ("eleven_flash_v2_5", "eleven_multilingual_v2")
_FISH_MODELS: Final = ("s1", "s2")
_FISH_LATENCY_MODES: Final = ("normal", "balanced")
_STT_PROVIDERS: Final = ("deepgram", "assembly_ai", "gladia", "elevenlabs")
#: ``SessionEndReasonEnum``, the ``reason`` of a stop.
END_REASONS: Final = (
    "UNKNOWN",
    "USER_DISCONNECTED",
    "SERVER_ERROR",
    "IDLE_TIMEOUT",
    "NO_CREDITS",
    "USER_CLOSED",
    "AVATAR_DELETED",
    "MAX_DURATION_REACHED",
    "ZOMBIE_SESSION_REAP",
    "AGENT_HANG_UP",
)
CONNECTORS: Final = (
    "livekit_config",
    "agora_config",
    "elevenlabs_agent_config",
    "openai_realtime_config",
    "gemini_realtime_config",
)
# LITE sessions driven by a hosted connector get no WebSocket: the connector speaks for the avatar.
HOSTED_CONNECTORS: Final = (
    "elevenlabs_agent_config",
    "openai_realtime_config",
    "gemini_realtime_config",
)
_MAX_DYNAMIC_VARIABLES: Final = 50
_MAX_DYNAMIC_KEY: Final = 64
_MAX_DYNAMIC_VALUE: Final = 1000
Loc = tuple[str | int, ...]


class Errors:
    """Collects FastAPI-style validation error items."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(
        self, type_: str, loc: Loc, msg: str, input_: Any, ctx: dict[str, Any] | None = None
    ) -> None:
        item: dict[str, Any] = {"type": type_, "loc": list(loc), "msg": msg, "input": input_}
        if ctx is not None:
            item["ctx"] = ctx
        self.items.append(item)

    def __bool__(self) -> bool:
        return bool(self.items)

    def missing(self, loc: Loc, input_: Any) -> None:
        self.add("missing", loc, "Field required", input_)

    def uuid(self, value: Any, loc: Loc) -> str | None:
        if not isinstance(value, str):
            self.add("uuid_type", loc, "UUID input should be a string, bytes or UUID object", value)
            return None
        parsed = parse_uuid(value)
        if parsed is None:
            self.add("uuid_parsing", loc, "Input should be a valid UUID, invalid format", value)
        return parsed

    def string(self, value: Any, loc: Loc, *, max_length: int | None = None) -> str | None:
        if not isinstance(value, str):
            self.add("string_type", loc, "Input should be a valid string", value)
            return None
        if max_length is not None and len(value) > max_length:
            self.add(
                "string_too_long",
                loc,
                f"String should have at most {max_length} characters",
                value,
                {"max_length": max_length},
            )
            return None
        return value

    def boolean(self, value: Any, loc: Loc) -> bool | None:
        if not isinstance(value, bool):
            self.add("bool_type", loc, "Input should be a valid boolean", value)
            return None
        return value

    def positive_int(self, value: Any, loc: Loc) -> int | None:
        # JSON Schema's (OpenAPI 3.1's) integer is a number with no fractional part: 60.0 is one.
        if isinstance(value, float) and math.isfinite(value):
            if not value.is_integer():
                msg = "Input should be a valid integer, got a number with a fractional part"
                self.add("int_from_float", loc, msg, value)
                return None
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add("int_type", loc, "Input should be a valid integer", value)
            return None
        if value <= 0:
            self.add("greater_than", loc, "Input should be greater than 0", value, {"gt": 0})
            return None
        return value

    def number(
        self, value: Any, loc: Loc, *, ge: float | None = None, le: float | None = None
    ) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add("float_type", loc, "Input should be a valid number", value)
            return None
        if ge is not None and value < ge:
            msg = f"Input should be greater than or equal to {ge}"
            self.add("greater_than_equal", loc, msg, value, {"ge": ge})
            return None
        if le is not None and value > le:
            msg = f"Input should be less than or equal to {le}"
            self.add("less_than_equal", loc, msg, value, {"le": le})
            return None
        return float(value)

    def choice(self, value: Any, choices: tuple[str, ...], loc: Loc) -> str | None:
        if not isinstance(value, str) or value not in choices:
            expected = expected_choices(choices)
            self.add("enum", loc, f"Input should be {expected}", value, {"expected": expected})
            return None
        return value

    def model(self, value: Any, loc: Loc, class_name: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(
                "model_type",
                loc,
                f"Input should be a valid dictionary or instance of {class_name}",
                value,
                {"class_name": class_name},
            )
            return None
        return value

    def str_dict(self, value: Any, loc: Loc) -> dict[str, str] | None:
        if not isinstance(value, dict):
            self.add("dict_type", loc, "Input should be a valid dictionary", value)
            return None
        before = len(self.items)
        for key, item in value.items():
            self.string(key, (*loc, key, "[key]"), max_length=_MAX_DYNAMIC_KEY)
            self.string(item, (*loc, key), max_length=_MAX_DYNAMIC_VALUE)
        if len(value) > _MAX_DYNAMIC_VARIABLES:
            self.add(
                "too_long",
                loc,
                f"Dictionary should have at most {_MAX_DYNAMIC_VARIABLES} items after "
                f"validation, not {len(value)}",
                value,
                {
                    "field_type": "Dictionary",
                    "max_length": _MAX_DYNAMIC_VARIABLES,
                    "actual_length": len(value),
                },
            )
        return value if len(self.items) == before else None


def expected_choices(choices: tuple[str, ...]) -> str:
    quoted = [f"'{c}'" for c in choices]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def parse_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def present(body: Mapping[str, Any], key: str) -> bool:
    """A field counts as given when present, ``null`` too: no documented schema of these bodies
    allows ``null`` (none has OpenAPI's ``anyOf [..., {type: 'null'}]``), so the field's own check
    refuses it with 422, as FastAPI does."""
    return key in body


def validate_token_body(body: dict[str, Any], errors: Errors) -> None:
    """Validate a ``POST /v1/sessions/token`` body; append error items to ``errors``."""
    b: Loc = ("body",)
    if "avatar_id" not in body:
        errors.missing((*b, "avatar_id"), body)
    else:
        errors.uuid(body["avatar_id"], (*b, "avatar_id"))
    if present(body, "mode"):
        errors.choice(body["mode"], _MODES, (*b, "mode"))
    if present(body, "is_sandbox"):
        errors.boolean(body["is_sandbox"], (*b, "is_sandbox"))
    if present(body, "video_settings"):
        video = errors.model(body["video_settings"], (*b, "video_settings"), "VideoSettings")
        if video is not None:
            if present(video, "quality"):
                errors.choice(video["quality"], _VIDEO_QUALITIES, (*b, "video_settings", "quality"))
            if present(video, "encoding"):
                loc = (*b, "video_settings", "encoding")
                errors.choice(video["encoding"], _VIDEO_ENCODINGS, loc)
    if present(body, "max_session_duration"):
        errors.positive_int(body["max_session_duration"], (*b, "max_session_duration"))
    if present(body, "avatar_persona"):
        validate_persona(body["avatar_persona"], (*b, "avatar_persona"), errors)
    if present(body, "voice_agent"):
        validate_voice_agent(body["voice_agent"], (*b, "voice_agent"), errors)
    if present(body, "interactivity_type"):
        errors.choice(body["interactivity_type"], _INTERACTIVITY_TYPES, (*b, "interactivity_type"))
    if present(body, "llm_configuration_id"):
        errors.uuid(body["llm_configuration_id"], (*b, "llm_configuration_id"))
    if present(body, "dynamic_variables"):
        errors.str_dict(body["dynamic_variables"], (*b, "dynamic_variables"))
    if present(body, "memory"):
        memory = errors.model(body["memory"], (*b, "memory"), "MemoryConfig")
        if memory is not None:
            for key in ("prev_session_id", "session_memory_id"):
                if present(memory, key):
                    errors.uuid(memory[key], (*b, "memory", key))
    for key in CONNECTORS:
        if present(body, key):
            validate_connector(key, body[key], (*b, key), errors)
    if errors:
        return
    # Model-level rules run only once every field is valid, as pydantic's "after" validators do.
    if present(body, "avatar_persona") and present(body, "voice_agent"):
        errors.add(
            "value_error",
            b,
            "Value error, avatar_persona and voice_agent are mutually exclusive",
            body,
        )
    connectors = [key for key in CONNECTORS if present(body, key)]
    if len(connectors) > 1:
        errors.add(
            "value_error",
            b,
            f"Value error, at most one of {', '.join(CONNECTORS)} may be given, "
            f"got {', '.join(connectors)}",
            body,
        )


#: Each connector's fields: (required, optional string, temperature range). ``agora_uid`` may also be an
#: int; ``context_id`` is a UUID; ``dynamic_variables`` the usual string map.
_CONNECTOR_FIELDS: Final[
    dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[float, float] | None]]
] = {
    "livekit_config": (("livekit_url", "livekit_room", "livekit_client_token"), (), None),
    "agora_config": (("agora_app_id", "agora_token", "agora_channel", "agora_uid"), (), None),
    "elevenlabs_agent_config": (("secret_id", "agent_id"), ("voice_id",), None),
    "openai_realtime_config": (("secret_id", "voice"), ("model",), (0.6, 1.2)),
    "gemini_realtime_config": (("secret_id", "voice"), ("model",), (0.0, 2.0)),
}


def validate_connector(key: str, value: Any, loc: Loc, errors: Errors) -> None:
    """Check one connector config (``livekit_config``, ``openai_realtime_config``, ...)."""
    config = errors.model(value, loc, "".join(p.title() for p in key.split("_")))
    if config is None:
        return
    required, optional, temperature = _CONNECTOR_FIELDS[key]
    for field in required:
        if field not in config:
            errors.missing((*loc, field), config)
        elif field == "agora_uid" and isinstance(config[field], int):
            pass  # a number is a uid too
        else:
            errors.string(config[field], (*loc, field))
    for field in optional:
        if present(config, field):
            errors.string(config[field], (*loc, field))
    if present(config, "context_id"):
        errors.uuid(config["context_id"], (*loc, "context_id"))
    if present(config, "dynamic_variables"):
        errors.str_dict(config["dynamic_variables"], (*loc, "dynamic_variables"))
    if temperature is not None and present(config, "temperature"):
        low, high = temperature
        errors.number(config["temperature"], (*loc, "temperature"), ge=low, le=high)


def validate_persona(value: Any, loc: Loc, errors: Errors) -> None:
    persona = errors.model(value, loc, "AvatarPersona")
    if persona is None:
        return
    for key in ("voice_id", "context_id"):
        if present(persona, key):
            errors.uuid(persona[key], (*loc, key))
    if present(persona, "language"):
        errors.string(persona["language"], (*loc, "language"))
    if present(persona, "voice_settings"):
        validate_voice_settings(persona["voice_settings"], (*loc, "voice_settings"), errors)
    if present(persona, "stt_config"):
        stt = errors.model(persona["stt_config"], (*loc, "stt_config"), "SttConfig")
        if stt is not None and present(stt, "provider"):
            errors.choice(stt["provider"], _STT_PROVIDERS, (*loc, "stt_config", "provider"))


def validate_voice_settings(value: Any, loc: Loc, errors: Errors) -> None:
    if not isinstance(value, dict):
        errors.add(
            "model_attributes_type",
            loc,
            "Input should be a valid dictionary or object to extract fields from",
            value,
        )
        return
    provider = value.get("provider")
    if provider is None:
        errors.add(
            "union_tag_not_found",
            loc,
            "Unable to extract tag using discriminator 'provider'",
            value,
            {"discriminator": "'provider'"},
        )
        return
    if provider not in _VOICE_PROVIDERS:
        expected = ", ".join(f"'{p}'" for p in _VOICE_PROVIDERS)
        errors.add(
            "union_tag_invalid",
            loc,
            f"Input tag '{provider}' found using 'provider' does not match any of the "
            f"expected tags: {expected}",
            value,
            {"discriminator": "'provider'", "tag": str(provider), "expected_tags": expected},
        )
        return
    here: Loc = (*loc, provider)
    if provider == "elevenLabs":
        if present(value, "speed"):
            errors.number(value["speed"], (*here, "speed"), ge=0.8, le=1.2)
        for key in ("stability", "similarity_boost", "style"):
            if present(value, key):
                errors.number(value[key], (*here, key))
        for key in ("use_speaker_boost", "apply_language_text_normalization"):
            if present(value, key):
                errors.boolean(value[key], (*here, key))
        if present(value, "model"):
            errors.choice(value["model"], _ELEVENLABS_MODELS, (*here, "model"))
    else:
        if present(value, "speed"):
            errors.number(value["speed"], (*here, "speed"))
        if present(value, "model"):
            errors.choice(value["model"], _FISH_MODELS, (*here, "model"))
        if present(value, "latency_mode"):
            errors.choice(value["latency_mode"], _FISH_LATENCY_MODES, (*here, "latency_mode"))


def validate_voice_agent(value: Any, loc: Loc, errors: Errors) -> None:
    agent = errors.model(value, loc, "VoiceAgent")
    if agent is None:
        return
    if "id" not in agent:
        errors.missing((*loc, "id"), agent)
    else:
        errors.uuid(agent["id"], (*loc, "id"))
    if present(agent, "language"):
        errors.string(agent["language"], (*loc, "language"))
    if present(agent, "dynamic_variables"):
        errors.str_dict(agent["dynamic_variables"], (*loc, "dynamic_variables"))
