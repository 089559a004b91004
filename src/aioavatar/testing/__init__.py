"""Test helpers: a local emulator of the LiveAvatar session API.

:class:`LiveAvatarEmulator` serves a faithful imitation of the LiveAvatar session REST API on
127.0.0.1, so the SDK's tests and your own bots can run without an account::

    async with LiveAvatarEmulator() as emulator:
        client = ...  # point it at emulator.base_url with emulator.api_key
        emulator.inject("stop", status=503, retry_after="1")  # the next stop fails once
        ...
        assert emulator.stop_reasons(session_id) == ["USER_CLOSED"]

Run it standalone with ``python -m aioavatar.testing --port 8000``.
"""

from aioavatar.testing._liveavatar import (
    EmulatedSession,
    Fault,
    LiveAvatarEmulator,
    RecordedRequest,
)

__all__ = ["EmulatedSession", "Fault", "LiveAvatarEmulator", "RecordedRequest"]
