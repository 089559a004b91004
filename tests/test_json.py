"""The one JSON reader and writer (``aioavatar._json``) against ``json.loads`` and ``json.dumps``:
the same values, the same refusals."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioavatar._json import TooDeep, dump_json, parse_json


def _values(*, allow_nan: bool) -> st.SearchStrategy[object]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=allow_nan) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    )


def _loads_or_error(data: bytes | str) -> object:
    try:
        return json.loads(data)
    except ValueError as exc:  # a UnicodeDecodeError is a ValueError too
        return type(exc)


@given(
    value=st.dictionaries(st.text(), _values(allow_nan=False), max_size=4),
    tail=st.text(alphabet=" \t\n\r\x0bx}0", max_size=3),
    as_bytes=st.booleans(),
)
def test_an_object_is_read_exactly_as_json_loads_reads_it(
    value: dict[str, object], tail: str, as_bytes: bool
) -> None:
    """The fast path for objects (every answer and frame) accepts and refuses what ``json.loads``
    does: JSON's own whitespace after the value is fine, anything else (a vertical tab, a second
    value, a stray brace) is a ValueError."""
    text = json.dumps(value, ensure_ascii=False) + tail
    data: bytes | str = text.encode("utf-8", "surrogatepass") if as_bytes else text
    expected = _loads_or_error(data)
    if isinstance(expected, type):
        with pytest.raises(expected):  # the same error, JSONDecodeError included
            parse_json(data)
    else:
        assert parse_json(data) == expected


@given(data=st.binary(max_size=40) | st.text(max_size=40))
def test_anything_else_is_read_or_refused_as_json_loads_does(data: bytes | str) -> None:
    """What is not an object takes ``json.loads`` itself, sniffing included."""
    expected = _loads_or_error(data)
    if isinstance(expected, type):
        with pytest.raises(ValueError):  # noqa: PT011 - json.loads' own errors, any text
            parse_json(data)
    else:
        assert parse_json(data) == expected or expected != expected  # NaN is itself unequal


@pytest.mark.parametrize("data", [b"[" * 200_000, b'{"a": ' * 200_000, '{"a": ' * 200_000])
def test_nesting_past_the_recursion_limit_is_a_value_error(data: bytes | str) -> None:
    """200,000 levels, on both paths: a ValueError, never a RecursionError."""
    with pytest.raises(TooDeep):
        parse_json(data)


@given(value=_values(allow_nan=True))
def test_a_value_is_written_exactly_as_json_dumps_writes_it(value: object) -> None:
    """Compact and ASCII, NaN and the infinities as ``json.dumps`` writes them."""
    assert dump_json(value) == json.dumps(value, separators=(",", ":"))


def test_a_cycle_and_a_value_json_cannot_hold_are_refused_as_json_dumps_refuses_them() -> None:
    """The encoder made once has no cycle check of its own: the standard one's error comes back."""
    cycle: dict[str, object] = {}
    cycle["self"] = cycle
    with pytest.raises(ValueError, match="Circular reference"):
        dump_json(cycle)
    with pytest.raises(TypeError, match="not JSON serializable"):
        dump_json({"when": object()})


def test_trailing_data_is_refused_where_json_loads_says_it_starts() -> None:
    """Not only a ValueError: the same JSONDecodeError, at the same position."""
    text = '{"a": 1} \n x'
    with pytest.raises(json.JSONDecodeError) as ours:
        parse_json(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)
    assert ours.value.pos == text.index("x")
