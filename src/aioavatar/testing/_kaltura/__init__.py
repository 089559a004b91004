"""The Kaltura Avatar emulator, by concern.

``_state`` (sessions and the keep-alive window), ``_requests`` (routing, parsing, answer shapes),
``_handlers`` (the endpoints), ``_api`` (the server's provider half) and ``_emulator`` (the public class).
"""

from ._emulator import KalturaEmulator
from ._requests import ENDPOINTS
from ._state import KalturaEmulatedSession, KalturaTurn

__all__ = ["ENDPOINTS", "KalturaEmulatedSession", "KalturaEmulator", "KalturaTurn"]
