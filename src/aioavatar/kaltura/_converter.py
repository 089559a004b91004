"""How Kaltura Avatar's models go to and from JSON, registered on the one converter at import.

Kaltura is camelCase on the wire (``sessionId``, ``whepUrl``, ``turnId``); the create request is
nested as ``visualConfig`` / ``voiceConfig``; a catalog item's name is read from whichever of
``attributes.visual.name`` / ``attributes.voice.name`` it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._converter import (
    converter,
    register_camel_requests,
    register_camel_responses,
    register_requests,
)
from ._models import (
    KalturaCatalogEntry,
    KalturaCatalogPage,
    KalturaCatalogType,
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
    # The avatar under both names: ``avatarId`` as the documentation has it, ``id`` as Kaltura's own
    # SDK sends it (a server written to either reads its own and ignores the other).
    visual = {"avatarId": request.avatar_id, "id": request.avatar_id}
    body: dict[str, Any] = {"visualConfig": visual}
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


def _catalog_entry(value: Any, _: Any) -> KalturaCatalogEntry:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    item_id = value["itemId"]
    if not isinstance(item_id, str):
        raise TypeError(f"itemId: expected a string, got {type(item_id).__name__}")
    kind = value.get("type")
    attributes = value.get("attributes")
    name = None
    if isinstance(attributes, Mapping):
        for part in ("visual", "voice"):
            named = attributes.get(part)
            if isinstance(named, Mapping) and isinstance(named.get("name"), str):
                name = named["name"]
                break
    return KalturaCatalogEntry(
        item_id=item_id,
        type=KalturaCatalogType(kind) if isinstance(kind, str) else None,
        name=name,
    )


converter.register_structure_hook(KalturaCatalogEntry, _catalog_entry)
register_camel_responses(KalturaCatalogPage)
