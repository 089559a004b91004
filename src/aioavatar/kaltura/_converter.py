"""How Kaltura Avatar's models go to and from JSON, registered on the one converter at import.

Kaltura is camelCase on the wire (``sessionId``, ``whepUrl``, ``turnId``); the create request is
nested as ``visualConfig`` / ``voiceConfig``.
"""

from __future__ import annotations

from typing import Any

from .._converter import (
    converter,
    register_camel_requests,
    register_camel_responses,
    register_requests,
)
from ._models import (
    KalturaSessionInfo,
    KalturaSessionRequest,
    KalturaSessionToken,
    KalturaTurnServer,
    SayAudioFields,
    SayTextRequest,
)

__all__ = ["form_fields"]

register_requests(KalturaSessionRequest)


def _session_request(request: KalturaSessionRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"visualConfig": {"id": request.avatar_id}}
    if request.voice_id is not None:
        voice: dict[str, Any] = {"id": request.voice_id}
        if request.voice_speed is not None:
            voice["speed"] = request.voice_speed
        body["voiceConfig"] = voice
    return body


converter.register_unstructure_hook(KalturaSessionRequest, _session_request)
register_camel_requests(SayTextRequest, SayAudioFields)
register_camel_responses(KalturaSessionToken, KalturaSessionInfo, KalturaTurnServer)


def form_fields(fields: SayAudioFields) -> dict[str, str]:
    """The text fields of the say-audio multipart form (``turnId``, ``duration``), as strings."""
    return {key: str(value) for key, value in converter.unstructure(fields).items()}
