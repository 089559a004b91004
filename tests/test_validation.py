"""``aioavatar._validation``: the checks every public input goes through before any I/O."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from aioavatar import ConfigurationError
from aioavatar._validation import check_bytes, check_options


class _Options(TypedDict, total=False):
    timeout: float
    retry_policy: object


def test_check_options_accepts_known_keywords_and_names_an_unknown_one() -> None:
    """Known keywords pass; an unknown one is refused by name, with the closest accepted one and the
    whole list."""
    check_options({"timeout": 1.0, "retry_policy": None}, _Options)
    with pytest.raises(ConfigurationError) as info:
        check_options({"timeout": 1.0, "timout": 2.0}, _Options)
    assert info.value.field == "timout"
    assert "did you mean 'timeout'?" in str(info.value)
    assert "timeout, retry_policy" in str(info.value)


@pytest.mark.parametrize("value", [b"ab", bytearray(b"ab"), memoryview(b"ab")])
def test_check_bytes_returns_bytes(value: Any) -> None:
    """bytes, bytearray and memoryview come back as bytes with the same content."""
    assert check_bytes(value, "audio", empty="nothing") == b"ab"


def test_check_bytes_refuses_what_is_not_usable_bytes() -> None:
    """Not bytes, a released buffer, or empty: a ConfigurationError naming the field."""
    released = memoryview(b"ab")
    released.release()
    for value, words in [
        ("ab", "must be bytes, got str"),
        (released, "released"),
        (b"", "nothing"),
    ]:
        with pytest.raises(ConfigurationError, match=words) as info:
            check_bytes(value, "audio", empty="nothing to say")
        assert info.value.field == "audio"
