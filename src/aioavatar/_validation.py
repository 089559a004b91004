"""attrs validators that raise :class:`ConfigurationError` naming the field and the rule.

The models call these at construction, so an invalid request never exists, let alone reaches the network.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from .exceptions import ConfigurationError

__all__ = [
    "DYNAMIC_VARIABLES_MAX_ENTRIES",
    "DYNAMIC_VARIABLES_MAX_KEY",
    "DYNAMIC_VARIABLES_MAX_VALUE",
    "check_dynamic_variables",
    "check_uuid",
    "dynamic_variables",
    "known_enum",
    "number_in",
    "optional",
    "positive_int",
    "uuid_string",
]

DYNAMIC_VARIABLES_MAX_ENTRIES = 50
DYNAMIC_VARIABLES_MAX_KEY = 64
DYNAMIC_VARIABLES_MAX_VALUE = 1000

Validator = Callable[[Any, Any, Any], None]


def optional(validator: Validator) -> Validator:
    """Skip ``None`` (an unset field, omitted from the request)."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            validator(instance, attribute, value)

    return check


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_uuid(value: object, field: str) -> None:
    """Raise naming ``field`` unless ``value`` is a UUID string in its 8-4-4-4-12 form."""
    if not isinstance(value, str) or _UUID.fullmatch(value) is None:
        raise ConfigurationError(
            f"must be a UUID string such as '{uuid.UUID(int=0)}', got {value!r}", field=field
        )


def uuid_string(instance: Any, attribute: Any, value: Any) -> None:
    """The value is a UUID (string or :class:`uuid.UUID`)."""
    check_uuid(value, attribute.name)


def known_enum(enum: type[StrEnum]) -> Validator:
    """The value is a member of ``enum`` (or the string of one)."""
    allowed = {m.value for m in enum}

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if not isinstance(value, str) or str(value) not in allowed:
            shown = str(value) if isinstance(value, str) else value
            raise ConfigurationError(
                f"must be one of {', '.join(sorted(allowed))}, got {shown!r}", field=attribute.name
            )

    return check


def number_in(low: float, high: float) -> Validator:
    """The value is a real number in ``[low, high]``."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise ConfigurationError(
                f"must be a number from {low:g} to {high:g}, got {value!r}", field=attribute.name
            )

    return check


def positive_number(instance: Any, attribute: Any, value: Any) -> None:
    """The value is a finite number above zero."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(f"must be a number above 0, got {value!r}", field=attribute.name)


def positive_int(instance: Any, attribute: Any, value: Any) -> None:
    """The value is an integer above zero."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"must be an integer above 0, got {value!r}", field=attribute.name)


def boolean(instance: Any, attribute: Any, value: Any) -> None:
    """The value is a bool."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"must be true or false, got {value!r}", field=attribute.name)


def string(instance: Any, attribute: Any, value: Any) -> None:
    """The value is a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"must be a non-empty string, got {value!r}", field=attribute.name)


def check_dynamic_variables(value: object, field: str) -> None:
    """At most 50 entries, string keys of at most 64 characters, string values of at most 1000."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"must be a mapping of strings to strings, got {value!r}", field=field
        )
    if len(value) > DYNAMIC_VARIABLES_MAX_ENTRIES:
        raise ConfigurationError(
            f"at most {DYNAMIC_VARIABLES_MAX_ENTRIES} entries are allowed, got {len(value)}",
            field=field,
        )
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"keys must be non-empty strings, got {key!r}", field=field)
        if len(key) > DYNAMIC_VARIABLES_MAX_KEY:
            raise ConfigurationError(
                f"keys must be at most {DYNAMIC_VARIABLES_MAX_KEY} characters, "
                f"got {len(key)} for {key[:20]!r}...",
                field=field,
            )
        if not isinstance(item, str):
            raise ConfigurationError(
                f"values must be strings, got {type(item).__name__} for key {key!r}", field=field
            )
        if len(item) > DYNAMIC_VARIABLES_MAX_VALUE:
            raise ConfigurationError(
                f"values must be at most {DYNAMIC_VARIABLES_MAX_VALUE} characters, "
                f"got {len(item)} for key {key!r}",
                field=field,
            )


def dynamic_variables(instance: Any, attribute: Any, value: Any) -> None:
    """attrs form of :func:`check_dynamic_variables`."""
    check_dynamic_variables(value, attribute.name)
