"""``aioavatar sessions list|get|stop|reap``: see and stop the account's sessions.

The cure for sessions leaked by other programs: ``reap`` stops every active session (older than
``--older-than``) after asking, so they stop burning credits and count against the concurrency limit.

Kaltura (``--provider kaltura``) has no call that lists or reads sessions, and its end needs the
session's own token: ``sessions stop ID --provider kaltura`` ends a session whose token you hold
(``--token`` or ``KALTURA_AVATAR_SESSION_TOKEN``); ``list``, ``get`` and ``reap`` say they cannot.
"""

from __future__ import annotations

import argparse
import os

import anyio

from .. import (
    EndReason,
    SessionEntry,
    SessionType,
)
from .clients import kaltura_client, liveavatar_client
from .common import (
    EXIT_OK,
    JSON_FIELDS_URL,
    KALTURA,
    KALTURA_BASE_URL_ENV,
    KALTURA_TOKEN_ENV,
    UsageError,
    print_json,
    printable,
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
from .reap import run as reap_sessions
from .session_entries import (
    read_sessions,
    session_json,
    stop_confirmed,
    table,
    unconfirmed_if_failed,
)

__all__ = ["COMMAND"]


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


def _list(args: argparse.Namespace) -> int:
    _liveavatar_only(args)
    kind = SessionType.HISTORIC if args.historic else SessionType.ACTIVE

    async def main() -> tuple[int, list[SessionEntry]]:
        async with liveavatar_client(args) as client:
            count, entries, _ = await read_sessions(client, kind, args.limit)
            return count, entries

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
    client = liveavatar_client(args)  # first: its key, pasted as the id, is masked in the error
    check_session_id(args.session_id)

    async def main() -> SessionEntry:
        async with client:
            return await client.get_session(args.session_id)

    entry = anyio.run(main)
    document = session_json(entry)
    if args.json:
        print_json(document)
    else:
        width = max(len(k) for k in document)
        for key, value in document.items():
            print(printable(f"{key.ljust(width)}  {'-' if value is None else value}"))
    return EXIT_OK


def _stop(args: argparse.Namespace) -> int:
    if args.provider == KALTURA:
        return _stop_kaltura(args)
    if args.token is not None or args.region is not None:
        raise UsageError("--token and --region are for --provider kaltura only")
    client = liveavatar_client(args)  # first: its key, pasted as the id, is masked in the error
    check_session_id(args.session_id)
    reason = args.reason or EndReason.USER_CLOSED

    async def main() -> tuple[bool, EndReason | None]:
        async with client:
            return await stop_confirmed(client, args.session_id, reason)

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
        print(printable(f"Session {args.session_id} had already ended{why}: nothing to stop."))
    return EXIT_OK


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
            return await unconfirmed_if_failed(
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


def _reap(args: argparse.Namespace) -> int:
    _liveavatar_only(args)
    return reap_sessions(args)


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
