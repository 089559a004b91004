"""Hypothesis strategies shared by the property-based tests of the LiveAvatar models and client, and the
one check of "bad input is refused before any I/O" that a table of ``(field, call, bad values)`` is
run through."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from aioavatar import ConfigurationError, LiveAvatarClient
from aioavatar.testing import LiveAvatarEmulator

__all__ = [
    "EXAMPLES",
    "NOT_BOOL",
    "NOT_POSITIVE_INT",
    "NOT_UUID",
    "CallFactory",
    "Case",
    "Refusal",
    "assert_refused_before_io",
    "invalid_calls",
    "not_in",
    "optional_fields",
    "outside",
    "unit",
    "uuids",
    "words",
]

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


#: A call of the client with one bad value in it.
CallFactory = Callable[[LiveAvatarClient, Any], Any]
#: A field, the call that takes it, and values it must refuse.
Refusal = tuple[str, CallFactory, st.SearchStrategy[Any]]
#: One drawn case: the field, the call, the value.
Case = tuple[str, CallFactory, Any]


def invalid_calls(table: Sequence[Refusal]) -> st.SearchStrategy[Case]:
    """One case at a time: a row of ``table``, then one of its bad values."""
    return st.sampled_from(table).flatmap(
        lambda row: row[2].map(lambda value: (row[0], row[1], value))
    )


async def assert_refused_before_io(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, case: Case
) -> ConfigurationError:
    """The call raises :class:`ConfigurationError` naming the case's field (a list refuses when it
    is called, before it is awaited), and the emulator received nothing; returns the error."""
    field, call, value = case
    before = len(emulator.journal)
    with pytest.raises(ConfigurationError) as info:
        await call(client, value)
    assert info.value.field == field
    assert len(emulator.journal) == before
    return info.value
