"""The Kaltura emulator's state: its sessions, their tokens, and the keep-alive window that reaps them.

A session is ``active`` from create until an end call, :meth:`KalturaState.end` (the platform), or a
keep-alive window without keep-alive (the reaper); then ``ended``, for good.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import attrs

from .._due import DueTimes
from ._catalog import SEED, KalturaCatalogItem

__all__ = ["EndedBy", "KalturaEmulatedSession", "KalturaState", "KalturaTurn", "SessionState"]

SessionState = Literal["active", "ended"]
EndedBy = Literal["end", "idle", "server"]


@attrs.frozen(kw_only=True)
class KalturaTurn:
    """One utterance a session accepted: ``kind`` ``"text"`` (``text``, ``is_final``) or ``"audio"``
    (``duration``, ``audio``, ``filename``, ``content_type``). ``at`` is on ``time.monotonic()``."""

    kind: Literal["text", "audio"]
    turn_id: str
    at: float
    text: str | None = None
    is_final: bool | None = None
    duration: float | None = None
    audio: bytes | None = attrs.field(default=None, repr=False)
    filename: str | None = None
    content_type: str | None = None


@attrs.define(kw_only=True)
class KalturaEmulatedSession:
    """The emulator's state for one session (mutable; owned by the emulator).

    ``ended_by`` says how it ended: ``"end"`` (an end call), ``"idle"`` (reaped after its keep-alive
    window) or ``"server"`` (:meth:`KalturaEmulator.end_session`). ``streams`` counts the init-client
    calls answered (each may open a stream); ``turns`` holds what the avatar was asked to say and
    ``interrupts`` how often it was interrupted. Times are on the ``time.monotonic()`` clock;
    ``create_request`` is the JSON body of the create call.
    """

    id: str
    token: str = attrs.field(repr=False)
    avatar_id: str
    voice_id: str | None
    voice_speed: float | None
    created_at: float
    last_activity: float
    state: SessionState = "active"
    ended_at: float | None = None
    ended_by: EndedBy | None = None
    streams: int = 0
    turns: list[KalturaTurn] = attrs.field(factory=list)
    interrupts: int = 0
    create_request: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def is_active(self) -> bool:
        """Whether the session has not ended."""
        return self.state == "active"


class KalturaState:
    """Every session of one emulator, by id and by token, and the settings its answers follow.

    Args:
        ks: the admin KS that create accepts.
        non_admin_ks: a valid KS that is not an admin one (create answers it 403), or ``None``.
        idle_timeout: seconds a session lives without keep-alive.
        ended_status: what calls about an ended session answer (404 or 410).
        say_text_unavailable: whether say-text answers 503.
    """

    def __init__(
        self,
        *,
        ks: str,
        non_admin_ks: str | None,
        idle_timeout: float,
        ended_status: int,
        say_text_unavailable: bool,
    ) -> None:
        self.ks = ks
        self.non_admin_ks = non_admin_ks
        self.idle_timeout = idle_timeout
        self.ended_status = ended_status
        self.say_text_unavailable = say_text_unavailable
        self.catalog: list[KalturaCatalogItem] = list(SEED)
        self.sessions: dict[str, KalturaEmulatedSession] = {}
        self._tokens: dict[str, str] = {}
        # The active sessions by the earliest time the reaper may end them (see ``_due.py``).
        self._due: DueTimes[KalturaEmulatedSession] = DueTimes()

    def add(self, session: KalturaEmulatedSession) -> None:
        """Keep a newly created session (findable by id and by its token)."""
        self.sessions[session.id] = session
        self._tokens[session.token] = session.id
        if session.is_active:
            self._due.add(session.last_activity + self.idle_timeout, session)

    def token_owner(self, token: str) -> str | None:
        """The id of the session a token was minted for, if it is one of ours."""
        return self._tokens.get(token)

    def reap_period(self) -> float:
        """How often the reaper sweeps: a tenth of the window, 1 ms to 50 ms."""
        return max(0.001, min(0.05, self.idle_timeout / 10))

    def sweep(self, only: KalturaEmulatedSession | None = None) -> None:
        """End the active sessions (or just ``only``) whose keep-alive window has passed.

        Every session is looked at only when its window may have passed (``_due.py``): a sweep costs
        the sessions due, not every session the emulator holds.
        """
        now = time.monotonic()
        for session in self._due.pop_due(now) if only is None else (only,):
            if not session.is_active:
                continue
            deadline = session.last_activity + self.idle_timeout
            if deadline <= now:
                self.end(session, "idle", deadline)
            elif only is None:
                self._due.add(deadline, session)  # kept alive meanwhile: due again later

    @staticmethod
    def end(session: KalturaEmulatedSession, by: EndedBy, at: float) -> None:
        """End a session as of ``at``, recording how."""
        session.state = "ended"
        session.ended_by = by
        session.ended_at = at
