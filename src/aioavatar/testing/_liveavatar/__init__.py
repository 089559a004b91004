"""The LiveAvatar emulator, by concern.

``_state`` (sessions and timers), ``_validation`` (FastAPI-style 422 items), ``_routes`` (routing, auth,
shared answers), ``_lifecycle`` and ``_reads`` (the endpoints), ``_ws`` (the LITE WebSocket), ``_api``
(the server's provider half) and ``_emulator`` (the public class).
"""

from ._emulator import LiveAvatarEmulator
from ._routes import ENDPOINTS
from ._state import EmulatedSession
from ._ws import LiteSocketEmulator, RecordedHandshake, RecordedMessage

__all__ = [
    "ENDPOINTS",
    "EmulatedSession",
    "LiteSocketEmulator",
    "LiveAvatarEmulator",
    "RecordedHandshake",
    "RecordedMessage",
]
