"""What is said of a session that may still run (rule 12 of ``_session.py``): the WARNING, once; the
note on what propagates; the :class:`SessionStopError` of ``stop()`` and of the exit. One text for
all three, built from the session's id and why its stop was not confirmed.

:class:`Unconfirmed` is the part of ``_stop.Stopping`` that says it (its state is ``Stopping``'s).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from ._logging import describe_error, error_text
from .exceptions import SessionStopError

__all__ = ["Unconfirmed"]

logger = logging.getLogger("aioavatar")


class _Identified(Protocol):
    @property
    def session_id(self) -> str | None: ...


class Unconfirmed:
    """Reports a stop that was not confirmed, at one place (rule 12)."""

    __slots__ = ("_stop_error_reported", "_unconfirmed", "_unconfirmed_warned")

    if TYPE_CHECKING:  # what it reads of ``Stopping``

        @property
        def _backend(self) -> _Identified: ...

        _block_task: asyncio.Task[Any] | None
        _stop_error: BaseException | None

        @property
        def session_id(self) -> str: ...

    def __init__(self) -> None:
        # Rule 12: what to say when the session may still run (default: the stop's failure), once;
        # and whether the block's own stop() said it (its exit then does not say it again).
        self._unconfirmed: str | None = None
        self._unconfirmed_warned = False
        self._stop_error_reported = False

    def _unconfirmed_text(self) -> str:
        what = self._unconfirmed or (
            f"its stop was not confirmed ({describe_error(self._stop_error or RuntimeError())})"
        )
        sid = self._backend.session_id or "(id unknown)"
        return (
            f"aioavatar: session {sid}: {what}: it may still be running "
            "(and billing) until the server's idle timeout ends it"
        )

    def _warn_unconfirmed(self) -> None:
        if not self._unconfirmed_warned:
            self._unconfirmed_warned = True
            logger.warning("%s", self._unconfirmed_text().removeprefix("aioavatar: "))

    def _note_unconfirmed(self, *carriers: BaseException) -> None:
        """Say on each of ``carriers`` (what propagates, or may) that the session may still run."""
        text = self._unconfirmed_text()
        for carrier in carriers:
            if text not in getattr(carrier, "__notes__", ()):
                carrier.add_note(text)

    def _raise_stop_error(self, *, by_stop: bool = False) -> None:
        """Rule 12: every ``stop()`` is told; the exit too, unless the block's own ``stop()`` was."""
        error = self._stop_error
        if error is None or (self._stop_error_reported and not by_stop):
            return
        if not by_stop or asyncio.current_task() is self._block_task:
            self._stop_error_reported = True
        raise SessionStopError(self.session_id, error_text(error)) from error
