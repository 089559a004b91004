"""The checks of ``dynamic_variables`` (a session's or an agent's), before any request: the limits
the API documents, each refusal naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._validation import shown
from ..exceptions import ConfigurationError

__all__ = [
    "DYNAMIC_VARIABLES_MAX_ENTRIES",
    "DYNAMIC_VARIABLES_MAX_KEY",
    "DYNAMIC_VARIABLES_MAX_VALUE",
    "check_dynamic_variables",
    "dynamic_variables",
]

DYNAMIC_VARIABLES_MAX_ENTRIES = 50
DYNAMIC_VARIABLES_MAX_KEY = 64
DYNAMIC_VARIABLES_MAX_VALUE = 1000


def check_dynamic_variables(value: object, field: str) -> None:
    """At most 50 entries, string keys of at most 64 characters, string values of at most 1000."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"must be a mapping of strings to strings, got {shown(value)}", field=field
        )
    if len(value) > DYNAMIC_VARIABLES_MAX_ENTRIES:
        raise ConfigurationError(
            f"at most {DYNAMIC_VARIABLES_MAX_ENTRIES} entries are allowed, got {len(value)}",
            field=field,
        )
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ConfigurationError(
                f"keys must be non-empty strings, got {shown(key)}", field=field
            )
        if len(key) > DYNAMIC_VARIABLES_MAX_KEY:
            raise ConfigurationError(
                f"keys must be at most {DYNAMIC_VARIABLES_MAX_KEY} characters, "
                f"got {len(key)} for {shown(key[:20])}...",
                field=field,
            )
        if not isinstance(item, str):
            raise ConfigurationError(
                f"values must be strings, got {type(item).__name__} for key {shown(key)}",
                field=field,
            )
        if len(item) > DYNAMIC_VARIABLES_MAX_VALUE:
            raise ConfigurationError(
                f"values must be at most {DYNAMIC_VARIABLES_MAX_VALUE} characters, "
                f"got {len(item)} for key {shown(key)}",
                field=field,
            )


def dynamic_variables(instance: Any, attribute: Any, value: Any) -> None:
    """attrs form of :func:`check_dynamic_variables`."""
    check_dynamic_variables(value, attribute.name)
