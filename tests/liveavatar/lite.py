"""LITE sessions for the realtime tests, and what the emulator's socket received from them."""

from __future__ import annotations

from typing import Any

from aioavatar import AvatarSession, LiveAvatarClient
from aioavatar.testing import LiveAvatarEmulator, RecordedMessage

from ..providers import AVATAR_ID

__all__ = ["lite", "speak_chunks", "wire"]


def lite(client: LiveAvatarClient, **kw: Any) -> AvatarSession:
    """A LITE sandbox session on ``client`` (keep-alive every 30 s, stop timeout 2 s, by default)."""
    kw.setdefault("keep_alive_interval", 30.0)
    kw.setdefault("stop_timeout", 2.0)
    return client.session(AVATAR_ID, is_sandbox=True, mode="LITE", **kw)


def speak_chunks(emulator: LiveAvatarEmulator, session_id: str) -> list[RecordedMessage]:
    """The agent.speak messages the emulator accepted for the session, in arrival order."""
    return emulator.ws.messages(session_id, type="agent.speak")


def wire(emulator: LiveAvatarEmulator, session_id: str) -> list[tuple[str | None, str | None]]:
    """(type, event_id) of every message the server accepted, in arrival order (keep-alives left out)."""
    return [
        (m.type, m.event_id)
        for m in emulator.ws.messages(session_id)
        if m.type != "session.keep_alive"
    ]
