"""Hypothesis strategies shared by the property-based tests of the LiveAvatar models and client."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "EXAMPLES",
    "NOT_BOOL",
    "NOT_POSITIVE_INT",
    "NOT_UUID",
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
