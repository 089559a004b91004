"""The LiveAvatar emulator's account: its resources (avatars, voices, contexts, LLM configurations,
secrets, memories, embeds), as JSON objects by id, seeded, and its credit balance.

Written out by hand (no SDK models), so that the SDK's tests check the SDK's own reading. The balance
is what the account started with less what its sessions have used (2 credits a minute for FULL, 1 for
LITE, none in the sandbox, pro rata to the second); :class:`~._state.LiveAvatarState` ends the running
sessions with ``NO_CREDITS`` when it reaches zero, and refuses to start one it cannot pay a minute of.
"""

from __future__ import annotations

import base64
import uuid
from decimal import Decimal
from typing import Any, Final

__all__ = [
    "LANGUAGES",
    "PREVIEW_AUDIO",
    "Account",
    "Collection",
]

#: What every voice preview plays: 0.1 s of silence, PCM 16-bit mono 24 kHz in a WAV.
PREVIEW_AUDIO: Final = (
    b"RIFF" + (36 + 4800).to_bytes(4, "little") + b"WAVEfmt "
    b"\x10\x00\x00\x00\x01\x00\x01\x00\xc0\x5d\x00\x00\x80\xbb\x00\x00\x02\x00\x10\x00"
    b"data" + (4800).to_bytes(4, "little") + bytes(4800)
)

#: ``GET /v1/languages``.
LANGUAGES: Final = (
    {"language": "English", "code": "en"},
    {"language": "Spanish", "code": "es"},
    {"language": "French", "code": "fr"},
    {"language": "German", "code": "de"},
    {"language": "Japanese", "code": "ja"},
)


class Collection:
    """One kind of resource: JSON objects by id, in creation order; ``deleted`` ones are kept (a
    soft delete) but neither listed nor found."""

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.items: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()

    def add(self, item: dict[str, Any]) -> dict[str, Any]:
        """Keep ``item`` (its ``id`` made when it has none) and return it."""
        item.setdefault("id", str(uuid.uuid4()))
        self.items[item["id"]] = item
        return item

    def live(self) -> list[dict[str, Any]]:
        """The items not deleted, in creation order."""
        return [item for key, item in self.items.items() if key not in self.deleted]

    def find(self, item_id: str) -> dict[str, Any] | None:
        """The item, unless unknown or deleted."""
        return None if item_id in self.deleted else self.items.get(item_id)


def _avatar(avatar_id: str | None, name: str, *, public: bool, now: str) -> dict[str, Any]:
    return {
        "id": avatar_id or str(uuid.uuid4()),
        "space_id": None if public else "emulator-space",
        "type": "VIDEO",
        "status": "ACTIVE",
        "name": name,
        "preview_url": f"https://previews.emulator.invalid/{name.split()[0].lower()}.webp",
        "is_expired": False,
        "default_voice": None,
        "is_1080p": public,
        "created_at": now,
        "updated_at": now,
        "error_message": None,
    }


def _voice(name: str, language: str, gender: str, voice_type: str, now: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "language": language,
        "gender": gender,
        "voice_type": voice_type,
        "created_at": now,
        "updated_at": now,
    }


class Account:
    """Every resource of the emulated account, seeded, and the credits it started with.

    Args:
        credits: the starting balance.
        sandbox_avatar_id: the sandbox avatar, seeded among the public ones.
        now: the ISO timestamp the seeded resources carry.
    """

    def __init__(self, *, credits: Decimal, sandbox_avatar_id: str, now: str) -> None:
        self.credits = credits
        self.public_avatars = Collection("Avatar")
        self.avatars = Collection("Avatar")
        self.voices = Collection("Voice")
        self.contexts = Collection("Context")
        self.llm_configurations = Collection("LLM configuration")
        self.secrets = Collection("Secret")
        self.memories = Collection("Memory")
        self.embeds = Collection("Embed")
        self.public_avatars.add(_avatar(sandbox_avatar_id, "Sandbox avatar", public=True, now=now))
        for name in ("Ann (therapist)", "Dexter (doctor)"):
            self.public_avatars.add(_avatar(None, name, public=True, now=now))
        self.avatars.add(_avatar(None, "My avatar", public=False, now=now))
        for name, language, gender in (
            ("Ivy", "en", "female"),
            ("Liam", "en", "male"),
            ("Lucía", "es", "female"),
        ):
            self.voices.add(_voice(name, language, gender, "public", now))
        self.voices.add(_voice("My cloned voice", "en", "female", "private", now))
        for avatar in self.public_avatars.live():
            voice = self.voices.live()[0]
            avatar["default_voice"] = {"id": voice["id"], "name": voice["name"]}

    def avatar(self, avatar_id: str) -> tuple[Collection, dict[str, Any]] | None:
        """The avatar (the account's or a public one) and the collection holding it."""
        for collection in (self.avatars, self.public_avatars):
            found = collection.find(avatar_id)
            if found is not None:
                return collection, found
        return None

    def add_avatar(self, name: str, *, public: bool, now: str) -> dict[str, Any]:
        """Seed one more avatar, the account's or (``public``) LiveAvatar's."""
        collection = self.public_avatars if public else self.avatars
        return collection.add(_avatar(None, name, public=public, now=now))

    def add_voice(self, name: str, *, voice_type: str, now: str) -> dict[str, Any]:
        """Seed one more voice, ``"public"`` or ``"private"``."""
        return self.voices.add(_voice(name, "en", "female", voice_type, now))

    @staticmethod
    def preview() -> str:
        """A voice preview's ``audio_base64``."""
        return base64.b64encode(PREVIEW_AUDIO).decode()
