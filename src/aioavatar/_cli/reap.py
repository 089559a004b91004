"""``aioavatar sessions reap``: stop every active session of the account (older than ``--older-than``),
after asking, with ``ZOMBIE_SESSION_REAP``: the cure for sessions leaked by other programs.

The sessions are read first (at most :data:`~.session_entries.MAX_PAGES` pages: a listing cut there
is said to be, and exits 1), then stopped one at a time. A signal (SIGINT, SIGTERM, SIGHUP) while
they are stopped lets the stop under way finish, stops no more and reports what was done: every
session's line, its id among them, is printed whatever happens.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio

from .. import AvatarError, EndReason, LiveAvatarClient, SessionEntry, SessionType
from .clients import liveavatar_client
from .common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    notice,
    print_json,
    printable,
    stop_signals,
)
from .session_entries import MAX_PAGES, PAGE_SIZE, read_sessions, stop_confirmed, table

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Read, confirm and stop; return the exit status (1: a stop failed or the listing was cut; 130:
    a signal left sessions unstopped)."""
    client = liveavatar_client(args)  # a user error (no key, bad URL) surfaces before any I/O

    async def find() -> tuple[int, list[SessionEntry], bool]:
        async with client:
            count, active, complete = await read_sessions(
                client, SessionType.ACTIVE, limit=PAGE_SIZE * MAX_PAGES
            )
            return count, _reapable(active, args.older_than), complete

    count, matched, complete = anyio.run(find)
    if not complete:
        notice(
            f"aioavatar: the server's listing was read only in part ({count} active sessions "
            "counted): run `aioavatar sessions reap` again for the rest"
        )
    if matched and not args.yes and not _confirm(matched, args.reason):
        notice("aioavatar: aborted: no session stopped")
        return EXIT_FAILURE
    results: list[dict[str, Any]] = []
    signals_received = anyio.run(_stop_all, args, matched, results) if matched else []
    _report(args, results, matched=len(matched), complete=complete and len(results) == len(matched))
    if signals_received and len(results) < len(matched):
        notice(f"Interrupted: {len(matched) - len(results)} sessions were not stopped.")
    if any(r["result"] == "failed" for r in results) or not complete:
        return EXIT_FAILURE
    return EXIT_INTERRUPTED if len(results) < len(matched) else EXIT_OK


def _age(entry: SessionEntry, now: dt.datetime) -> float | None:
    """Seconds the session has run: the server's ``duration``, else since ``created_at``."""
    if entry.duration is not None:
        return entry.duration
    if entry.created_at is None:
        return None
    try:
        created = dt.datetime.fromisoformat(entry.created_at)
    except ValueError:
        return None
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return (now - created).total_seconds()


def _reapable(entries: list[SessionEntry], older_than: float | None) -> list[SessionEntry]:
    if older_than is None:
        return entries
    now = dt.datetime.now(dt.UTC)
    chosen = []
    for entry in entries:
        age = _age(entry, now)
        if age is not None and age > older_than:
            chosen.append(entry)
    return chosen


def _confirm(entries: list[SessionEntry], reason: EndReason) -> bool:
    """Ask on the terminal; ``False`` unless the answer is yes.

    Raises:
        UsageError: standard input is not a terminal (pass ``--yes``).
    """
    count = f"{len(entries)} session{'s' if len(entries) != 1 else ''}"
    if not sys.stdin.isatty():
        raise UsageError(
            f"refusing to stop {count} without confirmation: standard input is not a terminal; "
            "pass --yes to stop them"
        )
    sys.stderr.write(table(entries, historic=False) + "\n")
    sys.stderr.write(f"Stop these {count} with reason {reason.value}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


async def _stop_all(
    args: argparse.Namespace, entries: list[SessionEntry], results: list[dict[str, Any]]
) -> list[int]:
    """Stop ``entries`` one at a time (an operator's tool: the output keeps the list's order) into
    ``results``, until a signal; return the signals received."""
    received: list[int] = []
    with stop_signals() as signals:
        async with liveavatar_client(args) as client, anyio.create_task_group() as tg:
            if signals is not None:
                tg.start_soon(_watch, signals, received)
            for entry in entries:
                if received:
                    break
                results.append(await _stop_one(client, entry, args.reason))
            tg.cancel_scope.cancel()
    return received


async def _watch(signals: AsyncIterator[int], received: list[int]) -> None:
    async for signum in signals:
        if not received:
            notice("Interrupted: the stop under way is finished, no other is sent.")
        received.append(signum)


async def _stop_one(
    client: LiveAvatarClient, entry: SessionEntry, reason: EndReason
) -> dict[str, Any]:
    result: dict[str, Any] = {"id": entry.id, "duration": entry.duration, "error": None}
    try:
        stopped, _ = await stop_confirmed(client, entry.id, reason)
    except AvatarError as exc:
        result["result"] = "failed"
        result["error"] = str(exc)
    else:
        result["result"] = "stopped" if stopped else "already_ended"
    return result


def _report(
    args: argparse.Namespace, results: list[dict[str, Any]], *, matched: int, complete: bool
) -> None:
    if args.json:
        print_json({"reason": args.reason.value, "sessions": results, "complete": complete})
    elif not matched:
        older = f" older than {args.older_than:g} s" if args.older_than is not None else ""
        print(f"No active session{older}: nothing to stop.")
    else:
        for r in results:
            label = {"stopped": "stopped", "already_ended": "had already ended"}.get(
                r["result"], f"FAILED: {r['error']}"
            )
            print(printable(f"{r['id']}  {label}"))  # what the server wrote, for a terminal
        done = sum(r["result"] != "failed" for r in results)
        print(f"{done} of {matched} sessions ended ({args.reason.value}).")
