"""What the LiveAvatar account endpoints answer: avatars, voices, contexts, LLM configurations, secrets,
memories, languages, credits and embeds. Frozen attrs classes holding what the server sent; fields it
adds later are ignored, enum values it adds later are kept as pseudo-members. Only ``id`` (or the one
field a caller needs) is required: the reference shows little of these bodies, so the rest may be
missing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Generic, TypeVar

import attrs

from .._validation import shown
from ..exceptions import ConfigurationError
from ._enums import AvatarStatus, AvatarType, Mode, ModeName, Orientation, SecretType

__all__ = [
    "CREDITS_PER_MINUTE",
    "AccountSecret",
    "Avatar",
    "AvatarVoice",
    "Context",
    "ContextLink",
    "Credits",
    "Embed",
    "LLMConfiguration",
    "Language",
    "ResultsPage",
    "SessionMemory",
    "ThirdPartyVoice",
    "Voice",
    "VoicePreview",
]

T = TypeVar("T")

#: Credits a minute of each mode costs (FULL and embeds 2, LITE 1); a session cannot start without
#: credit for one minute.
CREDITS_PER_MINUTE: dict[str, Decimal] = {Mode.FULL.value: Decimal(2), Mode.LITE.value: Decimal(1)}


@attrs.frozen
class ResultsPage(Generic[T]):
    """One page of a LiveAvatar list as the server sends it: ``{count, next, previous, results}``."""

    count: int
    results: list[T]
    next: str | None = None
    previous: str | None = None


@attrs.frozen
class AvatarVoice:
    """An avatar's default voice."""

    id: str
    name: str | None = None


@attrs.frozen
class Avatar:
    """An avatar (``GET /v1/avatars``, ``/v1/avatars/public``, ``/v1/avatars/{id}``)."""

    id: str
    name: str | None = None
    type: AvatarType | None = None
    status: AvatarStatus | None = None
    space_id: str | None = None
    preview_url: str | None = None
    is_expired: bool | None = None
    default_voice: AvatarVoice | None = None
    is_1080p: bool | None = None
    created_at: str | None = None
    updated_at: str | None = None
    error_message: str | None = None


@attrs.frozen
class Voice:
    """A voice (``GET /v1/voices``, ``/v1/voices/{id}``)."""

    id: str
    name: str | None = None
    language: str | None = None
    gender: str | None = None
    voice_type: str | None = None
    preview_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@attrs.frozen
class VoicePreview:
    """A voice's audio sample (``GET /v1/voices/{id}/preview``), decoded from base64."""

    audio: bytes = attrs.field(repr=lambda audio: f"<{len(audio)} bytes>")


@attrs.frozen
class ThirdPartyVoice:
    """The voice made from another provider's (``POST /v1/voices/third_party``)."""

    voice_id: str


@attrs.frozen
class ContextLink:
    """A link of a context: a page the avatar may draw on, and ``faq``, a short description of what
    it answers (a string, as the API documents it)."""

    url: str
    faq: str | None = None


@attrs.frozen
class Context:
    """A context: the persona's prompt and opening line (``/v1/contexts``); the detail adds
    ``required_dynamic_variables``."""

    id: str
    name: str | None = None
    prompt: str | None = None
    opening_text: str | None = None
    links: list[ContextLink] | None = None
    required_dynamic_variables: list[str] | None = None
    created_at: str | None = None
    updated_at: str | None = None


@attrs.frozen
class LLMConfiguration:
    """An OpenAI-compatible LLM endpoint a FULL session may use (``/v1/llm-configurations``)."""

    id: str
    display_name: str | None = None
    model_name: str | None = None
    secret_id: str | None = None
    base_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@attrs.frozen
class AccountSecret:
    """A secret stored on the account (``/v1/secrets``): its id, name and kind; never its value,
    which the SDK sends once and never reads back."""

    id: str
    secret_name: str | None = None
    secret_type: SecretType | None = None
    created_at: str | None = None


@attrs.frozen
class SessionMemory:
    """A memory that carries what was said across sessions (``/v1/memory``): its ``memory_content``
    (a list gives ``memory_content_preview``); read one by one it also holds its
    ``session_episodes`` (kept as the server sent them)."""

    id: str
    memory_type: str | None = None
    session_id: str | None = None
    memory_content: str | None = None
    memory_content_preview: str | None = None
    session_episodes: list[Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None


@attrs.frozen
class Language:
    """A language a session may speak (``GET /v1/languages``)."""

    language: str
    code: str


@attrs.frozen
class Credits:
    """The account's balance (``GET /v1/users/credits``), exact: a :class:`~decimal.Decimal` read
    from the server's decimal string, never a float."""

    credits_left: Decimal

    def minutes(self, mode: Mode | ModeName = Mode.FULL) -> Decimal:
        """How many minutes of ``mode`` (``"FULL"`` or ``"LITE"``, any case) the balance pays for.

        Raises:
            ConfigurationError: naming ``mode``, for any other value.
        """
        name = mode.value if isinstance(mode, Mode) else str(mode).upper()
        rate = CREDITS_PER_MINUTE.get(name)
        if rate is None:
            raise ConfigurationError(
                f"must be one of {', '.join(CREDITS_PER_MINUTE)}, got {shown(mode)}", field="mode"
            )
        return self.credits_left / rate


@attrs.frozen
class Embed:
    """An embed of an avatar in a page (``POST /v2/embeddings``)."""

    embed_id: str
    url: str
    script: str | None = None
    orientation: Orientation | None = None
