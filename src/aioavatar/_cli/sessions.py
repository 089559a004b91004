"""``aioavatar sessions list|get|stop|reap``: see and stop the account's sessions.

The cure for sessions leaked by other programs: ``reap`` stops every active session (older than
``--older-than``) after asking, so they stop burning credits and count against the concurrency limit.

Kaltura (``--provider kaltura``) has no call that lists or reads sessions, and its end needs the
session's own token: ``sessions stop ID --provider kaltura`` ends a session whose token you hold
(``--token`` or ``KALTURA_AVATAR_SESSION_TOKEN``); ``list``, ``get`` and ``reap`` say they cannot.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Awaitable
from typing import Any

import anyio

from .. import (
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    EndReason,
    LiveAvatarClient,
    Page,
    SessionEntry,
    SessionStopError,
    SessionType,
)
from .clients import kaltura_client, liveavatar_client
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    JSON_FIELDS_URL,
    KALTURA,
    KALTURA_BASE_URL_ENV,
    KALTURA_TOKEN_ENV,
    UsageError,
    error_report,
    print_json,
)
from .options import (
    Command,
    Parser,
    add_api_key_option,
    add_commands,
    add_connection_options,
    add_provider_option,
    add_region_option,
    check_session_id,
    end_reason,
    positive_int,
    positive_seconds,
)
from .session_entries import session_json, table

__all__ = ["COMMAND"]

_PAGE_SIZE = 100
# Bounds the pages `reap` reads, so a server that keeps answering `next` cannot loop it forever.
_MAX_PAGES = 100


def _list_arguments(listing: Parser) -> None:
    listing.add_argument(
        "--historic", action="store_true", help="list ended sessions instead of active ones"
    )
    listing.add_argument(
        "--limit",
        type=positive_int,
        default=100,
        metavar="N",
        help="show at most N sessions (default 100)",
    )
    _add_common(listing)


def _get_arguments(get: Parser) -> None:
    # Checked once the provider is known (as stop's): Kaltura's ids are no UUIDs, and Kaltura's
    # refusal is the line to give.
    get.add_argument("session_id", metavar="SESSION_ID", help="a LiveAvatar session id (a UUID)")
    _add_common(get)


def _stop_arguments(stop: Parser) -> None:
    stop.add_argument(
        "session_id", metavar="SESSION_ID", help="a UUID for LiveAvatar, Kaltura's id for Kaltura"
    )
    _add_reason(
        stop,
        help="the end reason sent with the stop, any case (default USER_CLOSED; LiveAvatar only)",
    )
    kaltura = stop.add_argument_group("Kaltura only")
    kaltura.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"the session's own token, which its creator received (default: ${KALTURA_TOKEN_ENV}; "
        "flags are visible to other local users in `ps`: prefer the variable)",
    )
    add_region_option(kaltura)
    _add_common(stop, kaltura=True)


def _reap_arguments(reap: Parser) -> None:
    reap.add_argument(
        "--older-than",
        type=positive_seconds,
        default=None,
        metavar="S",
        help="only sessions that have run longer than S seconds (default: every active session)",
    )
    _add_reason(
        reap,
        default=EndReason.ZOMBIE_SESSION_REAP,
        help="the end reason sent with each stop (default ZOMBIE_SESSION_REAP)",
    )
    reap.add_argument("-y", "--yes", action="store_true", help="stop them without asking")
    _add_common(reap)


def _add_reason(parser: Parser, *, help: str, default: EndReason | None = None) -> None:
    """``--reason R``: the end reason of each stop, any case."""
    parser.add_argument("--reason", type=end_reason, default=default, metavar="R", help=help)


def _add_common(parser: Parser, *, kaltura: bool = False) -> None:
    parser.add_argument(
        "--json", action="store_true", help=f"print JSON (fields: {JSON_FIELDS_URL})"
    )
    add_provider_option(
        parser, help="whose sessions (default liveavatar; Kaltura's API can only end one: `stop`)"
    )
    add_api_key_option(parser)
    kaltura_url = f"; Kaltura: ${KALTURA_BASE_URL_ENV}, else --region's" if kaltura else ""
    add_connection_options(
        parser,
        base_url_help="the API root (default: $LIVEAVATAR_BASE_URL, else https://api.liveavatar.com"
        f"{kaltura_url}); point it at `aioavatar emulator` to try commands without an account",
    )


def _liveavatar_only(args: argparse.Namespace) -> None:
    """Refuse ``--provider kaltura`` for what Kaltura's API cannot do, in one line."""
    if args.provider == KALTURA:
        raise UsageError(
            f"Kaltura's API cannot list or read sessions, so `sessions {args.action}` is for "
            "LiveAvatar only; `sessions stop ID --provider kaltura` ends a session whose token you hold"
        )


# --- list, get, stop -----------------------------------------------------------------------------------


async def _read_sessions(
    client: LiveAvatarClient, kind: SessionType, limit: int
) -> tuple[int, list[SessionEntry]]:
    """Up to ``limit`` sessions of ``kind``, in the server's order (each once, whatever pages
    repeat), and the server's total count."""
    page: Page[SessionEntry] | None = await client.list_sessions(kind, page_size=_PAGE_SIZE)
    assert page is not None
    count = page.count or 0
    entries: dict[str, SessionEntry] = {}
    for _ in range(_MAX_PAGES):
        for entry in page.items:
            entries.setdefault(entry.id, entry)
        if len(entries) >= limit:
            break
        page = await page.next_page()
        if page is None:
            break
    return count, list(entries.values())[:limit]


def _list(args: argparse.Namespace) -> int:
    _liveavatar_only(args)
    kind = SessionType.HISTORIC if args.historic else SessionType.ACTIVE

    async def main() -> tuple[int, list[SessionEntry]]:
        async with liveavatar_client(args) as client:
            return await _read_sessions(client, kind, args.limit)

    count, entries = anyio.run(main)
    if args.json:
        print_json(
            {"type": kind.value, "count": count, "sessions": [session_json(e) for e in entries]}
        )
    elif not entries:
        print(f"No {kind.value} session.")
    else:
        print(table(entries, historic=args.historic))
        more = f" (showing {len(entries)}; raise --limit for more)" if count > len(entries) else ""
        print(f"{count} {kind.value} session{'s' if count != 1 else ''}{more}")
    return EXIT_OK


def _get(args: argparse.Namespace) -> int:
    _liveavatar_only(args)
    check_session_id(args.session_id)

    async def main() -> SessionEntry:
        async with liveavatar_client(args) as client:
            return await client.get_session(args.session_id)

    entry = anyio.run(main)
    document = session_json(entry)
    if args.json:
        print_json(document)
    else:
        width = max(len(k) for k in document)
        for key, value in document.items():
            print(f"{key.ljust(width)}  {'-' if value is None else value}")
    return EXIT_OK


def _stop(args: argparse.Namespace) -> int:
    if args.provider == KALTURA:
        return _stop_kaltura(args)
    if args.token is not None or args.region is not None:
        raise UsageError("--token and --region are for --provider kaltura only")
    check_session_id(args.session_id)
    reason = args.reason or EndReason.USER_CLOSED
    client = liveavatar_client(args)

    async def main() -> tuple[bool, EndReason | None]:
        async with client:
            if await _unconfirmed_if_failed(
                args.session_id, client.stop_session(args.session_id, reason=reason)
            ):
                return True, reason
            try:  # already ended: the reason the server recorded, not the one sent
                entry = await client.get_session(args.session_id)
            except AvatarError:  # gone without a trace, or the lookup failed: not known
                return False, None
            if entry.ended_with is None:  # listed as running: not confirmed (rule 9)
                raise SessionStopError(
                    args.session_id, "answered 'already ended', yet the server lists it as running"
                )
            return False, entry.ended_with

    stopped, ended = anyio.run(main)
    if args.json:
        print_json(
            {
                "id": args.session_id,
                "reason": None if ended is None else ended.value,
                "stopped": stopped,
            }
        )
    elif stopped:
        print(f"Stopped session {args.session_id} ({reason.value}).")
    else:
        why = f" ({ended.value})" if ended is not None else " (or never existed)"
        print(f"Session {args.session_id} had already ended{why}: nothing to stop.")
    return EXIT_OK


async def _unconfirmed_if_failed(session_id: str, stop: Awaitable[bool]) -> bool:
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


def _stop_kaltura(args: argparse.Namespace) -> int:
    """End a Kaltura session with its own token (Kaltura's end takes no reason)."""
    if args.reason is not None:
        raise UsageError("Kaltura's end takes no reason: drop --reason")
    if args.api_key is not None:
        raise UsageError("--api-key is for LiveAvatar: a Kaltura session is ended with its token")
    token = (args.token or os.environ.get(KALTURA_TOKEN_ENV, "")).strip()
    if not token:
        raise UsageError(
            f"ending a Kaltura session needs its own token: set {KALTURA_TOKEN_ENV} to the token "
            "its creator received (or pass --token)"
        )
    client = kaltura_client(args, None)

    async def main() -> bool:
        async with client:
            return await _unconfirmed_if_failed(
                args.session_id, client.end_session(args.session_id, token=token)
            )

    stopped = anyio.run(main)
    if args.json:
        print_json({"id": args.session_id, "reason": None, "stopped": stopped})
    elif stopped:
        print(f"Ended Kaltura session {args.session_id}.")
    else:
        print(f"Kaltura session {args.session_id} had already ended: nothing to end.")
    return EXIT_OK


# --- reap ----------------------------------------------------------------------------------------------


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


async def _stop_each(
    client: LiveAvatarClient, entries: list[SessionEntry], reason: EndReason
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for (
        entry
    ) in entries:  # one at a time: an operator's tool, and the output keeps the list's order
        result: dict[str, Any] = {"id": entry.id, "duration": entry.duration, "error": None}
        try:
            stopped = await client.stop_session(entry.id, reason=reason)
        except AvatarError as exc:
            result["result"] = "failed"
            result["error"] = str(exc)
        else:
            result["result"] = "stopped" if stopped else "already_ended"
        results.append(result)
    return results


def _reap(args: argparse.Namespace) -> int:
    _liveavatar_only(args)
    client = liveavatar_client(args)  # a user error (no key, bad URL) surfaces before any I/O

    async def find() -> list[SessionEntry]:
        async with client:
            _, active = await _read_sessions(
                client, SessionType.ACTIVE, limit=_PAGE_SIZE * _MAX_PAGES
            )
            return _reapable(active, args.older_than)

    matched = anyio.run(find)
    if matched and not args.yes and not _confirm(matched, args.reason):
        print("aioavatar: aborted: no session stopped", file=sys.stderr)
        return EXIT_FAILURE

    async def stop() -> list[dict[str, Any]]:
        async with liveavatar_client(args) as again:  # a new pool: the first loop has closed
            return await _stop_each(again, matched, args.reason)

    results = anyio.run(stop) if matched else []
    if args.json:
        print_json({"reason": args.reason.value, "sessions": results})
    elif not results:
        older = f" older than {args.older_than:g} s" if args.older_than is not None else ""
        print(f"No active session{older}: nothing to stop.")
    else:
        for r in results:
            label = {"stopped": "stopped", "already_ended": "had already ended"}.get(
                r["result"], f"FAILED: {r['error']}"
            )
            print(f"{r['id']}  {label}")
        done = sum(r["result"] != "failed" for r in results)
        print(f"{done} of {len(results)} sessions ended ({args.reason.value}).")
    return EXIT_OK if all(r["result"] != "failed" for r in results) else EXIT_FAILURE


_ACTIONS = (
    Command(
        name="list",
        help="list active (or historic) sessions, in the server's order",
        arguments=_list_arguments,
        run=_list,
    ),
    Command(
        name="get",
        help="show one session (historic ones carry the end reason)",
        arguments=_get_arguments,
        run=_get,
    ),
    Command(
        name="stop",
        help="stop one session",
        description="Stop one session. LiveAvatar: any session of the account, with --reason. "
        f"Kaltura (--provider kaltura): a session whose own token you hold ({KALTURA_TOKEN_ENV} or "
        "--token); Kaltura's end takes no reason.",
        arguments=_stop_arguments,
        run=_stop,
    ),
    Command(
        name="reap",
        help="stop every active session (older than --older-than), after asking",
        description="Stop every active session of the account that has run longer than "
        "--older-than seconds. Lists them and asks for confirmation on the terminal unless --yes; "
        "without a terminal and without --yes it refuses.",
        arguments=_reap_arguments,
        run=_reap,
    ),
)


COMMAND = Command(
    name="sessions",
    help="list, inspect and stop the account's LiveAvatar sessions (Kaltura: stop one)",
    description="List, inspect and stop the account's LiveAvatar sessions (API key from "
    "LIVEAVATAR_API_KEY or --api-key). Kaltura's API can neither list nor read sessions: "
    "with --provider kaltura only `stop` works, with the session's own token.",
    arguments=lambda sessions: add_commands(sessions, _ACTIONS, dest="action", metavar="ACTION"),
)
