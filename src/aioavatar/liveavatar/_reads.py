"""What the LiveAvatar read endpoints answer: the account's sessions, one session, a transcript. Frozen
attrs classes holding what the server sent; fields it adds later are ignored."""

from __future__ import annotations

import attrs

from .._enums import EndReason
from ._enums import Mode, SessionSource, TranscriptRole
from ._resource_models import ResultsPage

__all__ = ["SessionEntry", "SessionPage", "Transcript", "TranscriptEntry"]


@attrs.frozen
class SessionEntry:
    """A session as listed by ``GET /v1/sessions`` or read by ``GET /v1/sessions/{id}``.

    Historic sessions also carry ``end_at`` and ``end_reason``. Timestamps are kept as the server's strings
    (a number as its text). Only ``id`` must be readable: any other field the server sends broken reads
    as ``None`` (``duration`` and ``credits_consumed`` also from a number written as text, such as
    ``"2.5000"``).
    """

    id: str
    created_at: str | None = None
    updated_at: str | None = None
    duration: float | None = None
    source: SessionSource | None = None
    mode: Mode | None = None
    is_sandbox: bool | None = None
    credits_consumed: float | None = None
    end_at: str | None = None
    end_reason: EndReason | None = None

    @property
    def ended_with(self) -> EndReason | None:
        """The end the server recorded: ``None`` while the entry shows the session running (no
        ``end_reason`` and no ``end_at``), ``EndReason.UNKNOWN`` for an end with no readable reason."""
        if self.end_reason is None and self.end_at is None:
            return None
        return self.end_reason or EndReason.UNKNOWN


@attrs.frozen
class SessionPage(ResultsPage[SessionEntry]):
    """One page of ``GET /v1/sessions`` as the server sends it (``list_sessions`` gives it as a
    :class:`~aioavatar.Page`)."""


@attrs.frozen
class TranscriptEntry:
    """One line of a transcript."""

    role: TranscriptRole
    transcript: str
    absolute_timestamp: float | None = None
    relative_timestamp: float | None = None


@attrs.frozen
class Transcript:
    """The answer of ``GET /v1/sessions/{id}/transcript`` (FULL sessions)."""

    session_active: bool
    transcript_data: list[TranscriptEntry] = attrs.field(factory=list)
    next_timestamp: float | None = None
