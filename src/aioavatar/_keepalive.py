"""Rules 5 to 8 of the lifecycle for one session: its beats, its idle window and its deadline, run on
its client's :class:`~aioavatar._scheduler.Scheduler`.

An idle session holds one entry in its client's timer heap here (two with a deadline), and no
object of its own for either: the :class:`KeepAlive` is the job of both. When a beat is due, a worker
of the client runs it; what the outcome means (the server ended the session, the session is presumed lost,
the deadline is reached) is handed back to the lifecycle through :class:`Owner`, which the session
itself implements (``_stop.py``) and which the keep-alive forgets once cancelled. The rules
themselves are written in ``_session.py``'s module documentation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import random
import time
from collections.abc import Awaitable, Coroutine
from typing import Any, Protocol

import attrs

from ._logging import describe_error
from ._scheduler import Scheduler
from .exceptions import APIError

__all__ = ["KeepAlive", "Owner", "SessionStatistics", "next_due", "statistics_of"]

logger = logging.getLogger("aioavatar")


@attrs.frozen
class SessionStatistics:
    """A snapshot of a session's keep-alive record.

    Attributes:
        keep_alives_sent: beats answered with success.
        keep_alives_failed: beats that failed (after their retries).
        keep_alives_skipped: beats not sent because they fell due while the loop or the client's
            workers were busy (rule 5: a beat late by a whole interval is skipped, never queued).
        last_keep_alive_at: when the last beat succeeded (UTC), if one has.
        started_at: when the start was confirmed (UTC).
        deadline: when ``max_session_duration`` runs out (UTC), if the session has one.
    """

    keep_alives_sent: int
    keep_alives_failed: int
    last_keep_alive_at: dt.datetime | None
    started_at: dt.datetime | None
    deadline: dt.datetime | None
    keep_alives_skipped: int = 0


class Owner(Protocol):
    """What a session's keep-alive needs from its lifecycle (the session itself, through private
    members: none of it shows on the public session)."""

    @property
    def session_id(self) -> str | None: ...

    @property
    def _stopping(self) -> bool:
        """A stop has begun, or the lifecycle is over: no more beats."""
        ...

    @property
    def _idle_timeout(self) -> float:
        """The provider's idle window (rule 6), read when a beat fails."""
        ...

    def _beat(self, *, timeout: float, deadline: float) -> Awaitable[None]:
        """One beat (the provider's call); raises an ``APIError`` with ``session_gone`` once the
        server has ended the session."""
        ...

    async def _server_ended(self) -> None:
        """Rule 7: a beat was answered 404 or 410."""
        ...

    async def _presumed_lost(self) -> None:
        """Rule 6: no beat has succeeded for the provider's idle window."""
        ...

    async def _deadline_reached(self) -> None:
        """Rule 8: ``max_session_duration`` ran out."""
        ...

    def _background_failed(self, error: Exception) -> None:
        """Rule 4: the keep-alive itself failed (a bug, a broken dependency)."""
        ...


def statistics_of(beats: KeepAlive | None, started: float | None) -> SessionStatistics:
    """The statistics of a session whose keep-alive is ``beats`` (``None``: not started yet) and
    whose start was confirmed at ``started`` (``time.time()``)."""
    return SessionStatistics(
        keep_alives_sent=beats.sent if beats else 0,
        keep_alives_failed=beats.failed if beats else 0,
        last_keep_alive_at=beats.last_success_at if beats else None,
        started_at=None if started is None else dt.datetime.fromtimestamp(started, dt.UTC),
        deadline=beats.deadline_at if beats else None,
        keep_alives_skipped=beats.skipped if beats else 0,
    )


def next_due(due: float, interval: float, now: float) -> float:
    """The first time ``due + k * interval`` (k >= 1) after ``now``, computed, not counted up to."""
    nxt = due + interval
    if nxt > now:
        return nxt
    nxt = due + interval * (math.floor((now - due) / interval) + 1)
    return nxt if nxt > now else nxt + interval  # a rounding step short of now


class KeepAlive:
    """One session's beats and deadline on its client's scheduler (rules 5-8).

    Attributes:
        sent: beats answered with success.
        failed: beats that failed after their retries.
        skipped: beats that fell due but were not sent (rule 5).
        last_success_at: when the last beat succeeded (UTC), or ``None``.
        deadline_at: when ``max_session_duration`` runs out (UTC), or ``None``.
    """

    __slots__ = (
        "_beat",
        "_beat_cut",
        "_deadline",
        "_deadline_timer",
        "_deadline_wall",
        "_due",
        "_interval",
        "_last_success",
        "_last_success_wall",
        "_over",
        "_owner",
        "_scheduler",
        "_timer",
        "failed",
        "sent",
        "skipped",
    )

    def __init__(
        self,
        owner: Owner,
        scheduler: Scheduler,
        *,
        interval: float,
        duration: float | None,
    ) -> None:
        now = asyncio.get_running_loop().time()
        self._owner: Owner | None = owner  # forgotten once cancelled: the session is no cycle
        self._scheduler = scheduler
        self._interval = interval
        self._deadline = math.inf if duration is None else now + duration
        # Wall-clock times as floats (a datetime is twice the memory, for each of thousands of
        # sessions); read as datetimes.
        self._deadline_wall = None if duration is None else time.time() + duration
        self._last_success = now
        self._last_success_wall: float | None = None
        self.sent = 0
        self.failed = 0
        self.skipped = 0
        self._beat: asyncio.Task[object] | None = None  # the worker sending a beat, while it does
        self._beat_cut = False
        self._over = False  # cancelled: a job already queued on the scheduler runs nothing
        # Rule 5: the first beat at a random phase, so that sessions started together do not beat
        # in lockstep.
        self._due = now + random.uniform(0.0, interval)  # noqa: S311 - jitter, not cryptography
        # The scheduler's keys of the armed beat and deadline (this object is the job of both).
        self._timer: int | None = None
        self._deadline_timer: int | None = None

    @property
    def deadline_at(self) -> dt.datetime | None:
        wall = self._deadline_wall
        return None if wall is None else dt.datetime.fromtimestamp(wall, dt.UTC)

    @property
    def last_success_at(self) -> dt.datetime | None:
        wall = self._last_success_wall
        return None if wall is None else dt.datetime.fromtimestamp(wall, dt.UTC)

    def start(self) -> None:
        """Arm the first beat and the deadline (from the start, urgent: a beat arms the next one
        only once a worker runs it, and a pool busy with slow beats or stops must not hold the
        deadline back)."""
        if self._due < self._deadline:
            self._timer = self._scheduler.call_at(self._due, self)
        if self._deadline != math.inf:
            self._deadline_timer = self._scheduler.call_at(self._deadline, self, urgent=True)

    def cancel(self) -> None:
        """No beat after this: disarm the timers, cut a beat in flight short, forget the owner."""
        self._over = True
        self._owner = None
        for timer in (self._timer, self._deadline_timer):
            if timer is not None:
                self._scheduler.cancel(timer)
        self._timer = self._deadline_timer = None
        beat = self._beat
        # A beat in flight is cut short: its worker's task is cancelled, once, and takes that back
        # (no cancel scope per beat). Not from the beat's own task: it is running, not waiting.
        if beat is not None and not self._beat_cut and beat is not asyncio.current_task():
            self._beat_cut = True
            beat.cancel()

    def __call__(self, urgent: bool) -> Coroutine[Any, Any, None]:
        """The scheduler's job: the deadline (scheduled ``urgent``) or the next beat (their
        coroutine: no level of its own above every beat)."""
        return self._run_deadline() if urgent else self._run_beat()

    async def _run_beat(self) -> None:
        self._timer = None
        owner = self._owner
        if owner is None:
            return  # cancelled
        try:
            if self._over or owner._stopping:
                return
            loop = asyncio.get_running_loop()
            now = loop.time()
            if now >= self._due + self._interval:  # rule 5: a beat that is late is skipped
                silent_for = now - self._last_success
                if silent_for >= owner._idle_timeout:  # rule 6: skipped beats count as failed
                    logger.warning(
                        "session %s: no keep-alive reached a worker in time for %.0f s (the client's"
                        " workers were busy); presuming it lost",
                        owner.session_id,
                        silent_for,
                    )
                    await owner._presumed_lost()
                    return
                self._rearm(now, sent=False)
                return
            task = self._beat = asyncio.current_task()
            try:
                outcome = await self._send(owner)
            except asyncio.CancelledError:
                if not self._beat_cut:
                    raise  # the worker itself is cancelled (the client closing)
                assert task is not None
                task.uncancel()  # cut short by cancel(): a stop began
                outcome = "over"
            finally:
                self._beat = None
            if outcome == "gone":
                await owner._server_ended()
            elif outcome == "lost":
                await owner._presumed_lost()
            elif outcome == "beating" and not owner._stopping:
                self._rearm(loop.time(), sent=True)
        except Exception as exc:  # noqa: BLE001 - rule 4: reported by the lifecycle, never lost
            owner._background_failed(exc)
        finally:
            # The failure the session keeps (rule 4) holds this frame in its traceback: the frame
            # must not hold the session too (a cycle only the collector would free).
            owner = None

    async def _send(self, owner: Owner) -> str:
        """One beat: ``"beating"`` (answered, or failed within the idle window), ``"gone"`` (the
        server ended the session), ``"lost"`` (the idle window has passed), ``"over"`` (stopping)."""
        # Each attempt at most half the interval (and the client's own keep-alive limit: _beat), and
        # no retry starts unless it ends before the next beat is due.
        timeout = self._interval / 2
        try:
            await owner._beat(timeout=timeout, deadline=self._due + self._interval - timeout)
        except Exception as exc:  # noqa: BLE001 - rule 6: counted and logged, never raised
            if owner._stopping:
                return "over"
            if isinstance(exc, APIError) and exc.session_gone:
                return "gone"  # rule 7
            self.failed += 1
            silent_for = asyncio.get_running_loop().time() - self._last_success
            logger.warning(
                "session %s: keep-alive failed (%s); %.0f s since the last success",
                owner.session_id,
                describe_error(exc),
                silent_for,
            )
            return "lost" if silent_for >= owner._idle_timeout else "beating"
        self.sent += 1
        self._last_success = asyncio.get_running_loop().time()
        self._last_success_wall = time.time()
        return "beating"

    def _rearm(self, now: float, *, sent: bool) -> None:
        due = next_due(self._due, self._interval, now)
        # The due times from the last one to the next, the last included: each unsent is skipped.
        passed = round((due - self._due) / self._interval)
        self.skipped += passed - 1 if sent else passed
        self._due = due
        if self._due < self._deadline:
            self._timer = self._scheduler.call_at(self._due, self)

    async def _run_deadline(self) -> None:
        self._deadline_timer = None
        owner = self._owner  # kept: the stop this starts cancels the keep-alive (forgets it)
        if owner is None:
            return  # cancelled
        try:
            if not self._over and not owner._stopping:
                await owner._deadline_reached()  # rule 8: a beat in flight does not delay it
        except Exception as exc:  # noqa: BLE001 - rule 4
            owner._background_failed(exc)
        finally:
            owner = None  # as in _run_beat
