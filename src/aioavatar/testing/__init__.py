"""Test helpers: local emulators of the LiveAvatar and Kaltura Avatar session APIs.

:class:`LiveAvatarEmulator` serves a faithful imitation of the LiveAvatar session REST API on
127.0.0.1, so the SDK's tests and your own bots can run without an account::

    async with LiveAvatarEmulator() as emulator:
        client = ...  # point it at emulator.base_url with emulator.api_key
        emulator.inject("stop", status=503, retry_after="1")  # the next stop fails once
        ...
        assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]

:class:`KalturaEmulator` does the same for the Kaltura Avatar session API: point a
``KalturaAvatarClient`` at its ``base_url`` (the API root: the paths carry ``/v1``) with its ``ks``.

``emulator.ws`` (a :class:`LiteSocketEmulator`) serves the LITE-mode WebSocket at each LITE session's
``ws_url`` and journals what it receives (``emulator.ws.messages(session_id)``).

Run it standalone with ``python -m aioavatar.testing --port 8000``.
"""

from .._public import publish as _publish
from ._contract import RecordedRequest
from ._faults import Fault
from ._kaltura import (
    KalturaCatalogItem,
    KalturaEmulatedSession,
    KalturaEmulator,
    KalturaTurn,
)
from ._liveavatar import (
    EmulatedSession,
    LiteSocketEmulator,
    LiveAvatarEmulator,
    RecordedHandshake,
    RecordedMessage,
)

__all__ = [
    "EmulatedSession",
    "Fault",
    "KalturaCatalogItem",
    "KalturaEmulatedSession",
    "KalturaEmulator",
    "KalturaTurn",
    "LiteSocketEmulator",
    "LiveAvatarEmulator",
    "RecordedHandshake",
    "RecordedMessage",
    "RecordedRequest",
]

_publish(__all__, globals(), __name__)
