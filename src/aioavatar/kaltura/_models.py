"""Requests and responses of the Kaltura Avatar session endpoints, as frozen attrs classes.

Request models validate themselves at construction (:class:`~aioavatar.ConfigurationError` naming the
field). Response models hold what the server sent, without its ``success`` flag; fields the server adds later
are ignored. The camelCase names of the wire live in ``aioavatar._converter`` only.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import attrs

from .._enums import TolerantEnum
from .._secret import Secret
from .._validation import boolean, credential, optional, path_id, positive_number, string
from ..exceptions import ConfigurationError

__all__ = [
    "KalturaCatalogEntry",
    "KalturaCatalogPage",
    "KalturaCatalogType",
    "KalturaCatalogTypeName",
    "KalturaSessionInfo",
    "KalturaSessionRequest",
    "KalturaSessionToken",
    "KalturaTurnServer",
    "SayAudioFields",
    "SayTextRequest",
]

# --- request models -------------------------------------------------------------------------------------


@attrs.frozen
class KalturaSessionRequest:
    """The body of ``POST /v1/avatar-session/create``.

    Sent as ``{"visualConfig": {"avatarId": avatar_id, "id": avatar_id}, "voiceConfig": {"id": voice_id,
    "speed": voice_speed}}``: the avatar under ``avatarId`` as the documentation names it and under
    ``id`` as Kaltura's own SDK sends it, so that a server written to either finds it.

    Attributes:
        avatar_id: the avatar's visual catalog id (``itemId`` of ``catalog-item/list``, type ``Visual``).
        voice_id: a voice catalog id; the avatar's own voice when not given.
        voice_speed: the voice's speed; needs ``voice_id``.

    Raises:
        ConfigurationError: naming the field.
    """

    avatar_id: str = attrs.field(validator=string)
    voice_id: str | None = attrs.field(default=None, validator=optional(string))
    voice_speed: float | None = attrs.field(default=None, validator=optional(positive_number))

    def __attrs_post_init__(self) -> None:
        if self.voice_speed is not None and self.voice_id is None:
            raise ConfigurationError(
                "needs voice_id (it is a setting of that voice)", field="voice_speed"
            )


@attrs.frozen
class SayTextRequest:
    """The body of ``POST /v1/avatar-session/{id}/say-text``: ``{text, turnId, isFinal}``."""

    text: str = attrs.field(validator=string)
    turn_id: str = attrs.field(validator=string)
    is_final: bool = attrs.field(validator=boolean)


@attrs.frozen
class SayAudioFields:
    """The text fields of the ``say-audio`` multipart form (the audio itself is the file part)."""

    turn_id: str = attrs.field(validator=string)
    duration: float = attrs.field(validator=positive_number)


# --- response models ------------------------------------------------------------------------------------


@attrs.frozen
class KalturaSessionToken:
    """The answer of ``create``: the session's id and its token.

    ``token`` is a :class:`~aioavatar.Secret`: the JWT grants full control of the session for about 24 hours;
    keep it on the server.
    """

    session_id: str = attrs.field(validator=path_id)
    token: Secret = attrs.field(repr=False, validator=credential)


@attrs.frozen
class KalturaTurnServer:
    """The TURN relay a viewer uses to reach the WebRTC stream (``turn`` of ``init-client``)."""

    url: str
    username: str = attrs.field(repr=False)
    credential: str = attrs.field(repr=False)


@attrs.frozen
class KalturaSessionInfo:
    """The answer of ``init-client``: what a viewer needs to play the avatar (WebRTC over WHEP).

    Hand ``whep_url`` and ``turn`` to the browser; unlike the session token they grant no control.
    """

    whep_url: str = attrs.field(repr=False)
    turn: KalturaTurnServer


# --- the catalog ----------------------------------------------------------------------------------------


class KalturaCatalogType(TolerantEnum):
    """What a catalog item is: an avatar (``Visual``) or a voice (``Voice``); read in any case."""

    VISUAL = "Visual"
    VOICE = "Voice"


KalturaCatalogTypeName: TypeAlias = Literal["Visual", "visual", "VISUAL", "Voice", "voice", "VOICE"]
"""The values of :class:`KalturaCatalogType` as strings the type checker accepts."""


@attrs.frozen
class KalturaCatalogEntry:
    """One item of ``POST /v1/catalog-item/list``: an avatar or a voice.

    Attributes:
        item_id: what a create request names (``avatar_id``: a ``Visual`` item's, ``voice_id``: a
            ``Voice`` item's).
        type: ``Visual`` or ``Voice`` (a kind the server adds later is kept as it is sent).
        name: its display name (``attributes.visual.name`` or ``attributes.voice.name``), ``None``
            when the answer has none.
    """

    item_id: str
    type: KalturaCatalogType | None = None
    name: str | None = None


@attrs.frozen
class KalturaCatalogPage:
    """The answer of ``POST /v1/catalog-item/list``: ``{objects, totalCount}``."""

    objects: list[KalturaCatalogEntry]
    total_count: int | None = None
