"""The credentials a client sends: its account credential, resolved once, and the session-scoped
tokens checked before they travel in a header."""

from __future__ import annotations

import os

from ._secret import Secret
from ._validation import check_credential
from .exceptions import ConfigurationError

__all__ = ["bearer_token", "resolve_credential"]


def bearer_token(token: str | Secret, field: str) -> str:
    """A session-scoped token checked for ``Authorization: Bearer`` (``_prepare(bearer=...)``), as
    the caller holds it: the same string, not a copy.

    Raises:
        ConfigurationError: naming ``field``, for an empty token or one that cannot travel in a header.
    """
    return check_credential(token, field)  # a Secret: checked once


def resolve_credential(
    given: str | Secret | None, field: str, env: str, *, required: bool
) -> Secret | None:
    """The account credential argument ``field``: ``given``, else the environment variable ``env``
    (``None`` when neither is set and it is not ``required``).

    Raises:
        ConfigurationError: naming the field, when it is required and missing, or when it is not a
            string that can travel in a header.
    """
    if given is None:
        from_env = os.environ.get(env)
        if from_env is None:
            if required:
                raise ConfigurationError(f"none given: pass {field}=... or set {env}", field=field)
            return None
        given = from_env
    if not isinstance(given, str | Secret):
        raise ConfigurationError(
            f"must be a string or a Secret, got {type(given).__name__}", field=field
        )
    secret = Secret(given)
    check_credential(secret.get_secret_value(), field)
    return secret
