"""The Kaltura catalog of avatars and voices: ``POST /v1/catalog-item/list`` with an admin KS.

The request is ``{"filter": {"typeEqual": "Visual" | "Voice"}, "pager": {"offset": 0, "limit": 100}}``
(both parts optional: no filter lists both kinds, no pager the first 100); the answer
``{"success": true, "objects": [...], "totalCount": N}`` where each item is ``{itemId, type,
attributes: {visual|voice: {name}}}``. The sources show little of this route: the emulator answers the
shape the reference describes and refuses (400) a filter or pager it cannot read.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import attrs

from .._contract import Outcome
from ._requests import Incoming, fail, succeed

__all__ = ["SEED", "KalturaCatalogItem", "list_catalog"]

_KINDS: Final = ("Visual", "Voice")
_DEFAULT_LIMIT: Final = 100
_MAX_LIMIT: Final = 500


@attrs.frozen
class KalturaCatalogItem:
    """One item of the catalog: an avatar (``type="Visual"``) or a voice (``type="Voice"``).

    ``item_id`` is what a create request names (``visualConfig.id``, ``voiceConfig.id``).
    """

    item_id: str
    type: Literal["Visual", "Voice"]
    name: str

    def to_json(self) -> dict[str, Any]:
        """The item as the API lists it."""
        kind = "visual" if self.type == "Visual" else "voice"
        return {
            "itemId": self.item_id,
            "type": self.type,
            "attributes": {kind: {"name": self.name}},
        }


#: What a new emulator's catalog holds: three avatars and two voices.
SEED: Final = (
    KalturaCatalogItem("65f1a2b3c4d5e6f708192a3b", "Visual", "Ava (studio)"),
    KalturaCatalogItem("65f1a2b3c4d5e6f708192a3c", "Visual", "Noah (office)"),
    KalturaCatalogItem("65f1a2b3c4d5e6f708192a3d", "Visual", "Mia (outdoor)"),
    KalturaCatalogItem("65f1a2b3c4d5e6f708192b01", "Voice", "Warm female (en-US)"),
    KalturaCatalogItem("65f1a2b3c4d5e6f708192b02", "Voice", "Calm male (en-GB)"),
)


def list_catalog(catalog: list[KalturaCatalogItem], incoming: Incoming) -> Outcome:
    """Answer a catalog list (the caller's admin KS already checked)."""
    if incoming.body_error is not None:
        return fail(400, incoming.body_error)
    body = incoming.body if incoming.has_body else {}
    if not isinstance(body, dict):
        return fail(400, "The body must be a JSON object")
    wanted: tuple[str, ...] = _KINDS
    filter_ = body.get("filter")
    if filter_ is not None:
        kind = filter_.get("typeEqual") if isinstance(filter_, dict) else None
        if kind is not None and kind not in _KINDS:
            return fail(400, f"filter.typeEqual must be one of {', '.join(_KINDS)}")
        if kind is not None:
            wanted = (kind,)
    pager = body.get("pager") or {}
    offset: Any = pager.get("offset", 0) if isinstance(pager, dict) else None
    limit: Any = pager.get("limit", _DEFAULT_LIMIT) if isinstance(pager, dict) else None
    if not _whole(offset, 0) or not _whole(limit, 1) or limit > _MAX_LIMIT:
        return fail(400, f"pager needs an offset from 0 and a limit from 1 to {_MAX_LIMIT}")
    selected = [item for item in catalog if item.type in wanted]
    page = [item.to_json() for item in selected[offset : offset + limit]]
    return succeed(None, objects=page, totalCount=len(selected))


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least
