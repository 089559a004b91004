"""The one cattrs converter: every rename, omission and structure hook of every model lives here.

- Requests: nested objects are accepted as model instances or as dicts shaped like the JSON body; strings
  become enums; unknown keys, wrong types and broken rules raise :class:`ConfigurationError` naming the
  dotted field path. Unset (``None``) fields are omitted from the body.
- Responses: unknown keys are ignored (the server adds fields over time); unknown values of the tolerant
  enums become pseudo-members; a missing required field or a wrong type raises :class:`DecodeFailure`,
  which the protocol layer turns into :class:`~aioavatar.ResponseDecodeError`.
- Primitives are strict (no ``str(5)`` or ``bool("no")`` coercion): a wrong type is an error, not a guess.
- Each provider registers its own models here at import (its ``_converter`` module): which are
  requests, which fields are renamed (Kaltura's camelCase) or read tolerantly. This module imports no
  provider.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from typing import Any, TypeVar, get_origin

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._flat_hook import flat_hook
from ._secret import Secret
from .exceptions import ConfigurationError

__all__ = [
    "DecodeFailure",
    "build_request",
    "camel",
    "camel_overrides",
    "converter",
    "number_or_none",
    "register_camel_requests",
    "register_camel_responses",
    "register_requests",
    "register_response",
    "structure_request",
    "structure_response",
    "unstructure",
]

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


#: The structure hook of each response model, as the converter dispatches it. Every registration
#: runs at import, before the first answer is read; one that could change a kept hook goes through
#: ``register_response`` or ``register_requests``, which forget them all (a model nests others).
_response_hooks: dict[Any, Callable[[Any, Any], Any]] = {}


def structure_response(data: Any, cls: type[T]) -> T:
    """Build the response model ``cls`` from a decoded JSON value.

    Raises:
        DecodeFailure: naming the field that is missing or of the wrong type.
    """
    hook = _response_hooks.get(cls)
    if hook is None:  # looked up once per model, not on every answer
        hook = _response_hooks[cls] = converter.get_structure_hook(cls)
    try:
        return hook(data, cls)  # type: ignore[no-any-return]
    except (ClassValidationError, IterableValidationError, TypeError, ValueError, KeyError) as exc:
        path, leaf = _error_path(exc, [])
        where = ".".join(path) or "body"
        if isinstance(leaf, KeyError):
            raise DecodeFailure(f"required field {where!r} is missing") from None
        message = _leaf_message(leaf)
        if isinstance(leaf, ConfigurationError) and leaf.field:
            message = message.removeprefix(f"{leaf.field}: ")
        raise DecodeFailure(f"field {where!r}: {message}") from None


# --- the models each provider registers (``register_requests`` and friends, below) ---------------
_REQUEST_CLASSES: set[type] = set()

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


def _decimal(value: Any, _: Any) -> Decimal:
    # Amounts come as decimal strings and stay exact; a JSON number is read through its text.
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = repr(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = Decimal("NaN")
        # Within what arithmetic in the default context keeps finite: 1E+9999999 is a number, but
        # dividing it (the minutes a balance pays for) overflows.
        if number.is_finite() and -_DECIMAL_EXPONENT <= number.adjusted() <= _DECIMAL_EXPONENT:
            return number
    raise TypeError(f"expected a decimal number, got {value!r:.40}")


#: The largest power of ten (either way) an amount read as a decimal may have.
_DECIMAL_EXPONENT = 1000


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
converter.register_structure_hook(Decimal, _decimal)
converter.register_structure_hook(StrEnum, _enum)  # more specific than `str` in every StrEnum MRO
converter.register_structure_hook_func(lambda t: t == dict[str, str], _passthrough_mapping)
converter.register_structure_hook_func(lambda t: t == str | int, _str_or_int)
# What cattrs does for any optional type, without its dispatch on every value: most optional fields
# of the answers are strings.
converter.register_structure_hook_func(
    lambda t: t == str | None, lambda value, _: None if value is None else _str(value, None)
)
converter.register_structure_hook(Secret, lambda value, _: Secret(_str(value, None)))


def _list_factory(cls: Any) -> Callable[[Any, Any], Any]:
    # cattrs reads any iterable as a list: an object as its keys (``{}`` as no items at all), a
    # string as its characters. A JSON array (or a tuple given as a request's list) is a list.
    generated = list_structure_factory(cls, converter)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return generated(value, cls)

    return structure


def _is_list(cls: Any) -> bool:
    return get_origin(cls) is list


converter.register_structure_hook_factory(_is_list, _list_factory)
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


def _is_response_model(t: Any) -> bool:
    return attrs.has(t) and t not in _REQUEST_CLASSES


def _response_structure_factory(
    cls: type[T], overrides: Mapping[str, Any] | None = None
) -> Callable[[Any, Any], T]:
    generated = make_dict_structure_fn(cls, converter, **(overrides or {}))

    def structure(value: Any, _: Any) -> T:
        if type(value) is not dict and not isinstance(value, Mapping):  # JSON's: a dict
            raise TypeError(f"expected an object, got {type(value).__name__}")
        return generated(value, cls)

    # A flat model's answer is read by a first pass, which hands the rest to this hook.
    return flat_hook(cls, overrides or {}, structure) or structure


converter.register_structure_hook_factory(_is_response_model, _response_structure_factory)


def number_or_none(value: Any, _: Any) -> float | None:
    """A structure hook for a number the server may send broken: anything that is not a number
    reads as "not given", never as a broken answer."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def camel(name: str) -> str:
    """``session_id`` -> ``sessionId``."""
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def camel_overrides(cls: type) -> dict[str, Any]:
    """cattrs overrides that rename every field of ``cls`` to its camelCase wire name."""
    return {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}


# --- what a provider registers ------------------------------------------------------------------------


def register_requests(*classes: type) -> None:
    """Make ``classes`` request models: built from model instances or dicts, unknown keys refused,
    unset fields left out of the body."""
    _REQUEST_CLASSES.update(classes)
    _response_hooks.clear()  # a response model may nest one of them


def register_response(cls: type, overrides: Mapping[str, Any]) -> None:
    """Read the response model ``cls`` with per-field cattrs ``overrides`` (a rename, a hook)."""
    converter.register_structure_hook_factory(
        lambda t: t is cls, lambda c: _response_structure_factory(c, overrides)
    )
    _response_hooks.clear()  # as the converter forgets what it dispatched


def register_camel_requests(*classes: type) -> None:
    """Write the request models ``classes`` with camelCase wire names."""
    chosen = frozenset(classes)
    converter.register_unstructure_hook_factory(
        lambda t: t in chosen,
        lambda cls: make_dict_unstructure_fn(cls, converter, **camel_overrides(cls)),
    )


def register_camel_responses(*classes: type) -> None:
    """Read the response models ``classes`` from camelCase wire names."""
    for cls in classes:
        register_response(cls, camel_overrides(cls))


def build_request(cls: type[T], request: T | None, fields: Mapping[str, Any]) -> T:
    """A request model from keyword ``fields`` (``None`` values left out) or a ready ``request``.

    Raises:
        ConfigurationError: naming the field; ``request`` with fields, or of the wrong type.
    """
    given = {name: value for name, value in fields.items() if value is not None}
    if request is not None:
        if given:
            raise ConfigurationError(
                "give either request= or the fields, not both", field="request"
            )
        if not isinstance(request, cls):
            raise ConfigurationError(f"must be a {cls.__name__}", field="request")
        return request
    return structure_request(given, cls)
