"""The Kaltura Avatar emulator, by concern.

``_state`` (sessions and the keep-alive window), ``_requests`` (routing, parsing, answer shapes),
``_handlers`` (the session endpoints), ``_catalog`` (avatars and voices), ``_api`` (the server's provider half) and ``_emulator`` (the public class).
"""

from ._catalog import KalturaCatalogItem
from ._emulator import KalturaEmulator
from ._requests import ENDPOINTS
from ._state import KalturaEmulatedSession, KalturaTurn

__all__ = [
    "ENDPOINTS",
    "KalturaCatalogItem",
    "KalturaEmulatedSession",
    "KalturaEmulator",
    "KalturaTurn",
]
