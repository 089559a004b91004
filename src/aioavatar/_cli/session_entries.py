"""A session entry as ``aioavatar sessions`` shows it: its stable JSON, and a table of entries."""

from __future__ import annotations

from typing import Any

from .. import SessionEntry
from .common import printable

__all__ = ["session_json", "table"]


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
