"""The account's sessions as ``aioavatar sessions`` reads, stops and shows them: the entries read page
by page, a stop confirmed by the server's own record, their stable JSON and a table."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from .. import (
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    EndReason,
    LiveAvatarClient,
    SessionEntry,
    SessionStopError,
    SessionType,
)
from .common import error_report, printable

__all__ = [
    "MAX_PAGES",
    "PAGE_SIZE",
    "read_sessions",
    "session_json",
    "stop_confirmed",
    "table",
    "unconfirmed_if_failed",
]

PAGE_SIZE = 100
#: Bounds the pages read, so that a server that keeps answering ``next`` cannot loop a command forever.
MAX_PAGES = 100


async def read_sessions(
    client: LiveAvatarClient, kind: SessionType, limit: int
) -> tuple[int, list[SessionEntry], bool]:
    """Up to ``limit`` sessions of ``kind``, in the server's order (each once, whatever pages
    repeat), the server's total count, and whether they are all there were: ``False`` when the
    limit, or the bound on pages, came before the last page."""
    page = await client.list_sessions(kind, page_size=PAGE_SIZE)
    count = page.count or 0
    entries: dict[str, SessionEntry] = {}
    for _ in range(MAX_PAGES):
        for entry in page.items:
            entries.setdefault(entry.id, entry)
        if len(entries) >= limit:
            return (
                count,
                list(entries.values())[:limit],
                len(entries) == limit and not page.has_next,
            )
        following = await page.next_page()
        if following is None:
            return count, list(entries.values()), True
        page = following
    return count, list(entries.values()), False


async def unconfirmed_if_failed(session_id: str, stop: Awaitable[bool]) -> bool:
    """Await ``stop``; a failure that leaves the session possibly running (no answer, a 5xx, an
    answer that cannot be read, a refusal) is a :class:`SessionStopError`, whose line says so and
    how to retry. A refused credential keeps its own line (which says what to check)."""
    try:
        return await stop
    except (AuthenticationError, ConfigurationError):
        raise
    except AvatarError as exc:
        report = error_report(exc)
        raise SessionStopError(session_id, report[1] if report else type(exc).__name__) from exc


async def stop_confirmed(
    client: LiveAvatarClient, session_id: str, reason: EndReason
) -> tuple[bool, EndReason | None]:
    """Stop a LiveAvatar session: ``(True, reason)`` when this stop ended it, ``(False, the reason
    the server recorded)`` when it had already ended (``None``: gone without a trace, or the lookup
    failed).

    Raises:
        SessionStopError: not confirmed: the stop failed, or it was answered "already ended" while
            the server still lists the session as running (the lifecycle's rule 9).
        AuthenticationError, ConfigurationError: as ``stop_session``.
    """
    if await unconfirmed_if_failed(session_id, client.stop_session(session_id, reason=reason)):
        return True, reason
    try:  # already ended: the reason the server recorded, not the one sent
        entry = await client.get_session(session_id)
    except AvatarError:  # gone without a trace, or the lookup failed: not known
        return False, None
    if entry.ended_with is None:  # listed as running: not confirmed (rule 9)
        raise SessionStopError(
            session_id, "answered 'already ended', yet the server lists it as running"
        )
    return False, entry.ended_with


def session_json(entry: SessionEntry) -> dict[str, Any]:
    """The stable JSON of one session: every key always present, ``null`` when the server sent none."""
    return {
        "id": entry.id,
        "mode": _text(entry.mode),
        "is_sandbox": entry.is_sandbox,
        "source": _text(entry.source),
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "duration": entry.duration,
        "credits_consumed": entry.credits_consumed,
        "end_at": entry.end_at,
        "end_reason": _text(entry.end_reason),
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _seconds(value: float | None) -> str:
    if value is None or not 0 <= value < 10**9:  # none, or nothing a session lasts
        return "-"
    whole = int(value)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def table(entries: list[SessionEntry], *, historic: bool) -> str:
    header = ["ID", "MODE", "SANDBOX", "SOURCE", "CREATED", "DURATION"]
    if historic:
        header.append("END REASON")
    rows = [header]
    for e in entries:
        row = [
            e.id,
            _text(e.mode) or "-",
            "-" if e.is_sandbox is None else ("yes" if e.is_sandbox else "no"),
            _text(e.source) or "-",
            (e.created_at or "-")[:19],
            _seconds(e.duration),
        ]
        if historic:
            row.append(_text(e.end_reason) or "-")
        rows.append([printable(cell) for cell in row])  # what the server wrote, for a terminal
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
