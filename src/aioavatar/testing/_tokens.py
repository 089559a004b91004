"""Credentials the emulators mint: random tokens shaped like JWTs, whose claims a client may read."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

__all__ = ["jwt_like"]


def jwt_like(claims: dict[str, Any]) -> str:
    """A token shaped like a JWT (header.payload.signature, base64url without padding).

    The payload holds ``claims``, readable by whoever decodes it as clients do; the signature is random
    bytes, so no two tokens are alike and none can be forged from the claims.
    """
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{_b64(secrets.token_bytes(32))}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
