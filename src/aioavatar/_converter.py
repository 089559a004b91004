"""The one cattrs converter: every rename, omission and structure hook of every model lives here.

- Requests: nested objects are accepted as model instances or as dicts shaped like the JSON body; strings
  become enums; unknown keys, wrong types and broken rules raise :class:`ConfigurationError` naming the
  dotted field path. Unset (``None``) fields are omitted from the body.
- Responses: unknown keys are ignored (the server adds fields over time); unknown values of the tolerant
  enums become pseudo-members; a missing required field or a wrong type raises :class:`DecodeFailure`,
  which the protocol layer turns into :class:`~aioavatar.ResponseDecodeError`.
- Primitives are strict (no ``str(5)`` or ``bool("no")`` coercion): a wrong type is an error, not a guess.
- Kaltura models are camelCase on the wire (``sessionId``, ``whepUrl``, ``turnId``); the create request is
  nested as ``visualConfig`` / ``voiceConfig``.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable, Mapping
from enum import Enum, StrEnum
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._secret import Secret
from .exceptions import ConfigurationError

__all__ = ["DecodeFailure", "converter", "structure_request", "structure_response", "unstructure"]

T = TypeVar("T")


class DecodeFailure(Exception):
    """A response body did not fit its model; the message names the field."""


converter = cattrs.Converter(detailed_validation=True)


def _error_path(exc: BaseException, path: list[str]) -> tuple[list[str], BaseException]:
    """Follow cattrs' nested validation errors to the first leaf, collecting the field names."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        sub = exc.exceptions[0]
        for note in getattr(sub, "__notes__", ()):
            name = getattr(note, "name", None)
            if name is None:
                name = getattr(note, "index", None)
            if name is not None:
                return _error_path(sub, [*path, str(name)])
        return _error_path(sub, path)
    if isinstance(exc, ConfigurationError) and exc.field:
        return [*path, exc.field], exc
    return path, exc


def structure_request(data: Mapping[str, Any], cls: type[T]) -> T:
    """Build the request model ``cls`` from ``data``.

    Raises:
        ConfigurationError: naming the dotted field path and the rule broken.
    """
    try:
        return converter.structure(data, cls)
    except ConfigurationError:
        raise
    except (
        ClassValidationError,
        IterableValidationError,
        ForbiddenExtraKeysError,
        TypeError,
        ValueError,
    ) as exc:
        path, leaf = _error_path(exc, [])
        field = ".".join(path) or None
        if isinstance(leaf, ForbiddenExtraKeysError):
            raise ConfigurationError(_unknown_fields(leaf), field=field) from None
        if isinstance(leaf, KeyError):
            raise ConfigurationError("is required", field=field) from None
        if isinstance(leaf, ConfigurationError):
            message = str(leaf).removeprefix(f"{leaf.field}: ") if leaf.field else str(leaf)
            raise ConfigurationError(message, field=field) from None
        raise ConfigurationError(_leaf_message(leaf), field=field) from None


def _unknown_fields(error: ForbiddenExtraKeysError) -> str:
    """Name the unknown keys, suggest the closest accepted one, and list the accepted ones."""
    accepted = [a.name for a in attrs.fields(error.cl)] if attrs.has(error.cl) else []
    parts = []
    for key in sorted(error.extra_fields):
        close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
        parts.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    noun = "field" if len(parts) == 1 else "fields"
    listed = ", ".join(accepted)
    return f"unknown {noun} {', '.join(parts)}; the accepted ones are: {listed}"


def _leaf_message(leaf: BaseException) -> str:
    text = str(leaf)
    if isinstance(leaf, ValueError) and "is not a valid" in text:
        return f"unknown value: {text}"
    return text or type(leaf).__name__


def unstructure(obj: Any) -> Any:
    """The JSON-ready form of a request model (unset fields omitted)."""
    return converter.unstructure(obj)


def structure_response(data: Any, cls: type[T]) -> T:
    """Build the response model ``cls`` from a decoded JSON value.

    Raises:
        DecodeFailure: naming the field that is missing or of the wrong type.
    """
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, TypeError, ValueError, KeyError) as exc:
        path, leaf = _error_path(exc, [])
        where = ".".join(path) or "body"
        if isinstance(leaf, KeyError):
            raise DecodeFailure(f"required field {where!r} is missing") from None
        message = _leaf_message(leaf)
        if isinstance(leaf, ConfigurationError) and leaf.field:
            message = message.removeprefix(f"{leaf.field}: ")
        raise DecodeFailure(f"field {where!r}: {message}") from None


# --- provider models ----------------------------------------------------------------------------------
# Imported after the functions above: each provider's client imports them, and importing a provider's
# models runs its package, client included. So either provider may come first.
from .kaltura import _models as kt  # noqa: E402
from .liveavatar import _models as la  # noqa: E402

_REQUEST_CLASSES: frozenset[type] = frozenset(
    {
        la.SessionTokenRequest,
        la.VideoSettings,
        la.ElevenLabsVoiceSettings,
        la.FishVoiceSettings,
        la.SttConfig,
        la.AvatarPersona,
        la.VoiceAgent,
        la.Memory,
        la.LiveKitConfig,
        la.AgoraConfig,
        la.ElevenLabsAgentConfig,
        la.OpenAIRealtimeConfig,
        la.GeminiRealtimeConfig,
    }
)

# --- strict primitives ------------------------------------------------------------------------------------


def _str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _float(value: Any, _: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {type(value).__name__}")


def _passthrough_mapping(value: Any, _: Any) -> dict[str, Any]:
    # Keys and values are checked by the model's own validator, which names the rule.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"expected a mapping, got {type(value).__name__}")


def _str_or_int(value: Any, _: Any) -> str | int:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(f"expected a string or an integer, got {type(value).__name__}")


def _enum(value: Any, cls: type[Enum]) -> Any:
    # Tolerant enums turn unknown strings into pseudo-members; for the others an unknown string is kept
    # as it is, so that the model's validator rejects it with the field name and the allowed values.
    text = _str(value, None)
    try:
        return cls(text)
    except ValueError:
        return text


converter.register_structure_hook(str, _str)
converter.register_structure_hook(int, _int)
converter.register_structure_hook(float, _float)
converter.register_structure_hook(bool, _bool)
converter.register_structure_hook(StrEnum, _enum)  # more specific than `str` in every StrEnum MRO
converter.register_structure_hook_func(lambda t: t == dict[str, str], _passthrough_mapping)
converter.register_structure_hook_func(lambda t: t == str | int, _str_or_int)
converter.register_structure_hook(Secret, lambda value, _: Secret(_str(value, None)))
converter.register_unstructure_hook(Secret, lambda secret: secret.get_secret_value())
# StrEnum members and plain strings serialize alike; json encodes both as their text.
converter.register_unstructure_hook_func(
    lambda t: isinstance(t, type) and issubclass(t, Enum), lambda value: value
)

# --- request models ---------------------------------------------------------------------------------------


def _request_structure_factory(cls: type[T]) -> Callable[[Any, Any], T]:
    generated = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True)

    def structure(value: Any, _: Any) -> T:
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a {cls.__name__} or a dict, got {type(value).__name__}")
        return generated(value, cls)

    return structure


def _request_unstructure_factory(cls: type[T]) -> Callable[[T], dict[str, Any]]:
    generated = make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True)
    # The voice settings carry their discriminator as a ClassVar string; a model whose *field* is named
    # ``provider`` (SttConfig) shows a slot descriptor here instead, and is serialized as it is.
    provider = getattr(cls, "provider", None)
    if not isinstance(provider, str):
        return generated

    def unstructure(obj: T) -> dict[str, Any]:
        return {"provider": provider, **generated(obj)}

    return unstructure


converter.register_structure_hook_factory(
    lambda t: t in _REQUEST_CLASSES, _request_structure_factory
)
converter.register_unstructure_hook_factory(
    lambda t: t in _REQUEST_CLASSES, _request_unstructure_factory
)

_VOICE_PROVIDERS: dict[str, type[la.ElevenLabsVoiceSettings | la.FishVoiceSettings]] = {
    la.ElevenLabsVoiceSettings.provider: la.ElevenLabsVoiceSettings,
    la.FishVoiceSettings.provider: la.FishVoiceSettings,
}


_VOICE_PROVIDERS_ANY_CASE = {name.casefold(): cls for name, cls in _VOICE_PROVIDERS.items()}


def _voice_settings(value: Any, _: Any) -> la.VoiceSettings | None:
    if value is None or isinstance(value, la.ElevenLabsVoiceSettings | la.FishVoiceSettings):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"expected voice settings or a dict, got {type(value).__name__}")
    provider = value.get("provider")
    cls = _VOICE_PROVIDERS_ANY_CASE.get(provider.casefold()) if isinstance(provider, str) else None
    if cls is None:
        raise ConfigurationError(
            f"must be one of {', '.join(_VOICE_PROVIDERS)}, got {provider!r}", field="provider"
        )
    fields = {key: item for key, item in value.items() if key != "provider"}
    return converter.structure(fields, cls)


converter.register_structure_hook_func(
    lambda t: t in (la.VoiceSettings, la.VoiceSettings | None), _voice_settings
)


def _is_response_model(t: Any) -> bool:
    return attrs.has(t) and t not in _REQUEST_CLASSES


def _response_structure_factory(
    cls: type[T], overrides: Mapping[str, Any] | None = None
) -> Callable[[Any, Any], T]:
    generated = make_dict_structure_fn(cls, converter, **(overrides or {}))

    def structure(value: Any, _: Any) -> T:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        return generated(value, cls)

    return structure


converter.register_structure_hook_factory(_is_response_model, _response_structure_factory)


def _number_or_none(value: Any, _: Any) -> float | None:
    # A duration the server sends is kept only when it is a number; anything else reads as "not
    # given", never as a broken answer (the lifecycle then has no deadline: rule 8).
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


converter.register_structure_hook_factory(
    lambda t: t is la.SessionInfo,
    lambda cls: _response_structure_factory(
        cls, {"max_session_duration": override(struct_hook=_number_or_none)}
    ),
)


# --- Kaltura ----------------------------------------------------------------------------------------------
_KALTURA_CAMEL_REQUESTS: frozenset[type] = frozenset({kt.SayTextRequest, kt.SayAudioFields})
_KALTURA_RESPONSES: frozenset[type] = frozenset(
    {kt.KalturaSessionToken, kt.KalturaSessionInfo, kt.KalturaTurnServer}
)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _camel_overrides(cls: type) -> dict[str, Any]:
    return {a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)}


def _kaltura_session_request(request: kt.KalturaSessionRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"visualConfig": {"id": request.avatar_id}}
    if request.voice_id is not None:
        voice: dict[str, Any] = {"id": request.voice_id}
        if request.voice_speed is not None:
            voice["speed"] = request.voice_speed
        body["voiceConfig"] = voice
    return body


converter.register_unstructure_hook(kt.KalturaSessionRequest, _kaltura_session_request)
converter.register_unstructure_hook_factory(
    lambda t: t in _KALTURA_CAMEL_REQUESTS,
    lambda cls: make_dict_unstructure_fn(cls, converter, **_camel_overrides(cls)),
)
# Registered after the generic response factory, so that it wins for these classes.
converter.register_structure_hook_factory(
    lambda t: t in _KALTURA_RESPONSES,
    lambda cls: _response_structure_factory(cls, _camel_overrides(cls)),
)
