"""``aioavatar._secret``: a credential holder that never shows its value and refuses to be pickled."""

from __future__ import annotations

import pickle

import pytest

from aioavatar import Secret


def test_secret_is_masked_and_refuses_pickle() -> None:
    """A Secret never shows its value and cannot be pickled."""
    secret = Secret("sk-canary-123")
    assert "canary" not in repr(secret)
    assert "canary" not in str(secret)
    assert "canary" not in f"{secret}"
    assert secret.get_secret_value() == "sk-canary-123"
    with pytest.raises(TypeError):
        pickle.dumps(secret)
