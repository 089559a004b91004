"""The LiveAvatar emulator's state: its sessions, their tokens, and the rules of time.

A session goes ``created`` (token minted) -> ``started`` -> ``ended``. A started session ends on its own
when its idle window passes without activity (``IDLE_TIMEOUT``) or when it reaches its duration limit
(``MAX_DURATION_REACHED``), whichever comes first; :meth:`LiveAvatarState.sweep` applies those rules, and
an ended session keeps its deadline as ``ended_at`` however late the sweep runs. Paying sessions
also end together (``NO_CREDITS``) when the account's balance runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from aioavatar._enums import EndReason
from aioavatar.liveavatar._enums import Mode

from .._due import DueTimes
from .._ratelimit import RateLimiter
from ._account import Account

__all__ = [
    "CREDITS_PER_MINUTE",
    "SANDBOX_AVATAR_ID",
    "EmulatedSession",
    "LiveAvatarState",
    "SessionState",
]

SessionState = Literal["created", "started", "ended"]

#: The one avatar sandbox sessions may use.
SANDBOX_AVATAR_ID: Final = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"

#: What a minute of each mode costs.
CREDITS_PER_MINUTE: Final = {"FULL": 2.0, "LITE": 1.0}


@attrs.define(kw_only=True)
class EmulatedSession:
    """The emulator's state for one session (mutable; owned by the emulator).

    Times (``created_at``, ``updated_at``, ``started_at``, ``ended_at``, ``last_activity``) are on
    the ``time.monotonic()`` clock. ``max_session_duration`` is what the token request asked for;
    ``duration_limit`` is the limit actually enforced: the sandbox cap for sandbox sessions, else the
    request's, else the account tier's. ``memory_id`` is the memory the session is attached to, if
    any. ``token_request`` is the JSON body of the token request that created the session.
    """

    id: str
    token: str = attrs.field(repr=False)
    avatar_id: str
    mode: Mode
    is_sandbox: bool
    max_session_duration: int | None
    duration_limit: float | None
    context_id: str | None
    has_ws: bool
    created_at: float
    updated_at: float
    last_activity: float
    state: SessionState = "created"
    started_at: float | None = None
    ended_at: float | None = None
    end_reason: EndReason | None = None
    memory_id: str | None = None
    token_request: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def is_active(self) -> bool:
        """Whether the session is started and not ended."""
        return self.state == "started"

    def duration_at(self, now: float) -> float:
        """Seconds between start and end (or ``now`` while running); ``0.0`` if never started."""
        if self.started_at is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, end - self.started_at)

    @property
    def duration(self) -> float:
        """Seconds between start and end (or now while running); ``0.0`` if never started."""
        return self.duration_at(time.monotonic())

    @property
    def rate_per_second(self) -> float:
        """Credits a second while it runs: 0 in the sandbox, else 2/min (FULL) or 1/min (LITE)."""
        if self.is_sandbox:
            return 0.0
        return CREDITS_PER_MINUTE.get(self.mode.value, 2.0) / 60.0

    def credits_at(self, now: float) -> float:
        """Credits used by ``now``: 0 in the sandbox, else 2/min (FULL) or 1/min (LITE) pro rata."""
        return round(self.rate_per_second * self.duration_at(now), 4)


class LiveAvatarState:
    """Every session of one emulator, by id and by token, and the timers that end them.

    Args:
        api_key: the account's API key.
        idle_timeout: seconds a started session lives without activity.
        sandbox_max_duration: the duration cap of sandbox sessions.
        tier_max_session_duration: the account tier's limit of ``max_session_duration``, and the
            duration of a session that asks for none.
        rate_limit: requests per caller, per endpoint, per second (``None``: no limit).
        credits: the account's starting balance.

    ``on_end`` callbacks are called with the id of each session that ends, however it ends.
    """

    def __init__(
        self,
        *,
        api_key: str,
        idle_timeout: float,
        sandbox_max_duration: float,
        tier_max_session_duration: int,
        rate_limit: int | None,
        credits: Decimal = Decimal(10_000),
    ) -> None:
        self.api_key = api_key
        self.idle_timeout = idle_timeout
        self.sandbox_max_duration = sandbox_max_duration
        self.tier_max_session_duration = tier_max_session_duration
        self.limiter = RateLimiter(rate_limit)
        self.sessions: dict[str, EmulatedSession] = {}
        self.on_end: list[Callable[[str], None]] = []
        self._tokens: dict[str, str] = {}
        self._wall0 = datetime.now(UTC)
        self._mono0 = time.monotonic()
        self.account = Account(
            credits=credits, sandbox_avatar_id=SANDBOX_AVATAR_ID, now=self.iso(self._mono0)
        )
        self._spent = Decimal(0)  # by the sessions that have ended
        # The running paying sessions, kept as they start and end (so that the balance costs O(1),
        # not a pass over every session, on each start): credits a second together, and the sum of
        # each one's rate times its start (what they used by ``now`` is rate * now - that sum).
        self._rate = 0.0
        self._rate_starts = 0.0
        # How many there are: with none, both sums are reset to zero, not left at what adding and
        # taking away floats leaves (a positive rest made every sweep, once the balance ran out, a
        # pass over every session).
        self._paying = 0
        # The started sessions by the earliest time their timers may end them (see ``_due.py``).
        self._due: DueTimes[EmulatedSession] = DueTimes()

    def credits_left(self, now: float | None = None) -> Decimal:
        """The balance: what the account started with less what its sessions used by ``now``."""
        now = time.monotonic() if now is None else now
        running = max(0.0, self._rate * now - self._rate_starts)
        return self.account.credits - self._spent - Decimal(repr(round(running, 4)))

    def _paying_rate(self) -> float:
        """Credits a second the running sessions use together."""
        return self._rate

    def start(self, session: EmulatedSession, now: float) -> None:
        """Mark ``session`` started at ``now``: from here it runs, and draws on the balance."""
        session.state = "started"
        session.started_at = session.last_activity = session.updated_at = now
        self._due.add(self._end_of(session)[0], session)
        if not session.is_sandbox:
            rate = session.rate_per_second
            self._rate += rate
            self._rate_starts += rate * now
            self._paying += 1

    def add(self, session: EmulatedSession) -> None:
        """Keep a newly created session (findable by id and by its token)."""
        self.sessions[session.id] = session
        self._tokens[session.token] = session.id

    def by_token(self, token: str) -> EmulatedSession | None:
        """The session a session token was minted for, if it is one of ours."""
        session_id = self._tokens.get(token)
        return self.sessions[session_id] if session_id is not None else None

    def live(self, session_id: str) -> EmulatedSession | None:
        """The session, its timers enforced first (``None`` for an unknown id)."""
        session = self.sessions.get(session_id)
        if session is not None:
            self.sweep(session)
        return session

    def touch(self, session: EmulatedSession, now: float | None = None) -> None:
        """Activity on a started session: its idle window starts again."""
        if session.state == "started":
            session.last_activity = session.updated_at = time.monotonic() if now is None else now

    def iso(self, mono: float) -> str:
        """A ``time.monotonic()`` instant as an ISO 8601 UTC timestamp."""
        return (self._wall0 + timedelta(seconds=mono - self._mono0)).isoformat()

    def reap_period(self) -> float:
        """How often the reaper sweeps: a tenth of the shortest window, 1 ms to 50 ms."""
        return max(0.001, min(0.05, self.idle_timeout / 10, self.sandbox_max_duration / 10))

    def _end_of(self, session: EmulatedSession) -> tuple[float, EndReason]:
        """When a started session's timers end it as things stand, and with which reason."""
        assert session.started_at is not None
        deadline = session.last_activity + self.idle_timeout
        reason = EndReason.IDLE_TIMEOUT
        if session.duration_limit is not None:
            max_deadline = session.started_at + session.duration_limit
            if max_deadline <= deadline:
                deadline, reason = max_deadline, EndReason.MAX_DURATION_REACHED
        return deadline, reason

    def sweep(self, only: EmulatedSession | None = None) -> None:
        """End the started sessions (or just ``only``) whose idle or duration deadline has passed.

        Every session is looked at only when its timers may have run out (``_due.py``): a sweep costs
        the sessions due, not every session the emulator holds.
        """
        now = time.monotonic()
        for session in self._due.pop_due(now) if only is None else (only,):
            if session.state != "started" or session.started_at is None:
                continue
            deadline, reason = self._end_of(session)
            if deadline <= now:
                self.end(session, reason, deadline)
            elif only is None:
                self._due.add(deadline, session)  # it was active meanwhile: due again later
        if only is None:
            self.end_when_broke(now)

    def end_when_broke(self, now: float | None = None) -> None:
        """End every paying session with ``NO_CREDITS`` once the balance has run out, as of the
        moment it did (a pass over the sessions only then)."""
        now = time.monotonic() if now is None else now
        rate = self._paying_rate()
        if rate <= 0:
            return
        left = self.credits_left(now)
        if left > 0:
            return
        at = now + float(left) / rate  # when the balance crossed zero
        for session in list(self.sessions.values()):
            if session.is_active and not session.is_sandbox:
                assert session.started_at is not None
                self.end(session, EndReason.NO_CREDITS, max(at, session.started_at))

    def end(self, session: EmulatedSession, reason: EndReason, at: float) -> None:
        """End a session now (as of ``at``) with ``reason``, and tell the ``on_end`` callbacks."""
        if session.is_active:
            self._spent += Decimal(repr(session.credits_at(at)))
            if not session.is_sandbox and session.started_at is not None:
                rate = session.rate_per_second
                self._rate -= rate
                self._rate_starts -= rate * session.started_at
                self._paying -= 1
                if not self._paying:
                    self._rate = self._rate_starts = 0.0
        session.state = "ended"
        session.end_reason = reason
        session.ended_at = at
        session.updated_at = at
        for callback in self.on_end:
            callback(session.id)
