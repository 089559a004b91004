"""Where the LiveAvatar emulator's account endpoints are (``_resources`` answers them): method, path
pattern and endpoint name, matched as Starlette matches (the first pattern that fits wins)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["RESOURCE_ROUTE_NAMES", "route_resource"]

_ID: Final = "(?P<id>[^/]+)"
_ROUTES: Final[tuple[tuple[str, str, str], ...]] = (
    ("GET", "/v1/avatars", "avatars"),
    ("GET", "/v1/avatars/public", "public_avatars"),
    ("GET", f"/v1/avatars/{_ID}", "avatar_get"),
    ("PATCH", f"/v1/avatars/{_ID}", "avatar_update"),
    ("DELETE", f"/v1/avatars/{_ID}", "avatar_delete"),
    ("GET", "/v1/voices", "voices"),
    ("POST", "/v1/voices/third_party", "voice_third_party"),
    ("GET", f"/v1/voices/{_ID}", "voice_get"),
    ("PATCH", f"/v1/voices/{_ID}", "voice_update"),
    ("DELETE", f"/v1/voices/{_ID}", "voice_delete"),
    ("GET", f"/v1/voices/{_ID}/preview", "voice_preview"),
    ("GET", "/v1/contexts", "contexts"),
    ("POST", "/v1/contexts", "context_create"),
    ("GET", f"/v1/contexts/{_ID}", "context_get"),
    ("PATCH", f"/v1/contexts/{_ID}", "context_update"),
    ("DELETE", f"/v1/contexts/{_ID}", "context_delete"),
    ("GET", "/v1/llm-configurations", "llm_configurations"),
    ("POST", "/v1/llm-configurations", "llm_configuration_create"),
    ("GET", f"/v1/llm-configurations/{_ID}", "llm_configuration_get"),
    ("PATCH", f"/v1/llm-configurations/{_ID}", "llm_configuration_update"),
    ("DELETE", f"/v1/llm-configurations/{_ID}", "llm_configuration_delete"),
    ("GET", "/v1/secrets", "secrets"),
    ("POST", "/v1/secrets", "secret_create"),
    ("DELETE", f"/v1/secrets/{_ID}", "secret_delete"),
    ("GET", "/v1/memory", "memories"),
    ("POST", "/v1/memory", "memory_create"),
    ("GET", f"/v1/memory/{_ID}", "memory_get"),
    ("DELETE", f"/v1/memory/{_ID}", "memory_delete"),
    ("GET", "/v1/languages", "languages"),
    ("GET", "/v1/users/credits", "credits"),
    ("POST", "/v2/embeddings", "embedding_create"),
)
_COMPILED: Final = tuple((m, re.compile(p), name) for m, p, name in _ROUTES)

#: The endpoint names of the account's resources, for ``inject`` and the journal.
RESOURCE_ROUTE_NAMES: Final = tuple(name for _, _, name in _ROUTES)


def route_resource(method: str, path: str) -> tuple[str, str | None, str | None] | None:
    """``(endpoint, path id, None)`` for a resource route, ``("unknown", None, allow)`` for one of
    its paths with the wrong method, ``None`` for none of them (the first pattern that matches wins,
    as in Starlette)."""
    allowed: list[str] = []
    for route_method, pattern, name in _COMPILED:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method == method:
            return name, match.groupdict().get("id"), None
        allowed.append(route_method)
    if allowed:
        return "unknown", None, ", ".join(dict.fromkeys(allowed))
    return None
