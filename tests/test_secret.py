"""``aioavatar._secret``: a credential holder that never shows its value and refuses to be pickled."""

from __future__ import annotations

import pickle

import pytest

from aioavatar import ConfigurationError, Secret


def test_secret_is_masked_and_refuses_pickle() -> None:
    """A Secret never shows its value and cannot be pickled."""
    secret = Secret("sk-canary-123")
    assert "canary" not in repr(secret)
    assert "canary" not in str(secret)
    assert "canary" not in f"{secret}"
    assert secret.get_secret_value() == "sk-canary-123"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_a_secret_of_something_else_names_its_parameter() -> None:
    """``Secret(value)``: the refusal names ``value``, the parameter."""
    for bad in (None, b"k" * 10, 5):
        with pytest.raises(ConfigurationError) as info:
            Secret(bad)  # type: ignore[arg-type]
        assert info.value.field == "value"
