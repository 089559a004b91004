"""``aioavatar avatars list``, ``voices list``, ``credits`` and ``catalog list``: what a session can
refer to, and whether the account can pay for one.

The first three are LiveAvatar's (API key from ``LIVEAVATAR_API_KEY`` or ``--api-key``); ``catalog
list`` is Kaltura's (admin KS from ``KALTURA_AVATAR_KS`` or ``--ks``). Each prints a table, or with
``--json`` one JSON document; errors and exit statuses are every command's (see the package docs).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import anyio

from .. import (
    SANDBOX_AVATAR_ID,
    Avatar,
    Credits,
    KalturaCatalogEntry,
    Mode,
    Page,
    Pager,
    Voice,
)
from .clients import kaltura_client, liveavatar_client, require_ks
from .common import EXIT_OK, KALTURA, print_json, printable
from .options import (
    Command,
    Parser,
    add_api_key_option,
    add_commands,
    add_connection_options,
    add_region_option,
    positive_int,
)

__all__ = ["AVATARS", "CATALOG", "CREDITS", "VOICES"]

T = TypeVar("T")
_PAGE_SIZE = 100


def _limit_option(parser: Parser, noun: str) -> None:
    parser.add_argument(
        "--limit",
        type=positive_int,
        default=500,
        metavar="N",
        help=f"show at most N {noun} (default 500)",
    )


def _common(parser: Parser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_api_key_option(parser)
    add_connection_options(parser)


async def _take(pager: Pager[T], limit: int) -> tuple[list[T], int | None]:
    """Up to ``limit`` items of ``pager`` (reading no page beyond them) and the server's count."""
    page: Page[T] | None = await pager
    assert page is not None
    count = page.count
    items: list[T] = []
    while page is not None:
        items.extend(page.items[: limit - len(items)])
        if len(items) >= limit:
            break
        page = await page.next_page()
    return items, count


def _table(rows: list[list[str]], header: list[str]) -> str:
    rows = [[printable(cell) for cell in row] for row in rows]  # what the server wrote
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def _show(
    args: argparse.Namespace,
    items: list[Any],
    count: int | None,
    *,
    noun: str,
    document: Callable[[Any], dict[str, Any]],
    header: list[str],
) -> int:
    shown = [document(item) for item in items]
    if args.json:
        print_json({"count": count, noun: shown})
        return EXIT_OK
    if not shown:
        print(f"No {noun}.")
        return EXIT_OK
    rows = [["-" if v is None else str(v) for v in row.values()] for row in shown]
    print(_table(rows, header))
    total = count if count is not None else len(shown)
    more = f" (showing {len(shown)}; raise --limit for more)" if total > len(shown) else ""
    print(f"{total} {noun}{more}")
    return EXIT_OK


# --- avatars ---------------------------------------------------------------------------------------


def _avatar_document(avatar: Avatar) -> dict[str, Any]:
    return {
        "id": avatar.id,
        "name": avatar.name,
        "status": None if avatar.status is None else avatar.status.value,
        "type": None if avatar.type is None else avatar.type.value,
        "default_voice": None if avatar.default_voice is None else avatar.default_voice.name,
        "sandbox": avatar.id == SANDBOX_AVATAR_ID,
    }


def _avatars_arguments(parser: Parser) -> None:
    parser.add_argument(
        "--public",
        action="store_true",
        help="LiveAvatar's public avatars (the sandbox avatar among them) instead of the account's",
    )
    _limit_option(parser, "avatars")
    _common(parser)


def _avatars(args: argparse.Namespace) -> int:
    client = liveavatar_client(args)

    async def main() -> tuple[list[Avatar], int | None]:
        async with client:
            return await _take(
                client.avatars.list(public=args.public, page_size=_PAGE_SIZE), args.limit
            )

    items, count = anyio.run(main)
    return _show(
        args,
        items,
        count,
        noun="avatars",
        document=_avatar_document,
        header=["ID", "NAME", "STATUS", "TYPE", "DEFAULT VOICE", "SANDBOX"],
    )


# --- voices ----------------------------------------------------------------------------------------


def _voice_document(voice: Voice) -> dict[str, Any]:
    return {
        "id": voice.id,
        "name": voice.name,
        "language": voice.language,
        "gender": voice.gender,
        "voice_type": voice.voice_type,
    }


def _voices_arguments(parser: Parser) -> None:
    parser.add_argument(
        "--type",
        dest="voice_type",
        type=str.lower,
        choices=("public", "private"),
        help="LiveAvatar's public voices or the account's private ones (default: the server's choice)",
    )
    _limit_option(parser, "voices")
    _common(parser)


def _voices(args: argparse.Namespace) -> int:
    client = liveavatar_client(args)

    async def main() -> tuple[list[Voice], int | None]:
        async with client:
            pager = client.voices.list(voice_type=args.voice_type, page_size=_PAGE_SIZE)
            return await _take(pager, args.limit)

    items, count = anyio.run(main)
    return _show(
        args,
        items,
        count,
        noun="voices",
        document=_voice_document,
        header=["ID", "NAME", "LANGUAGE", "GENDER", "TYPE"],
    )


# --- credits ---------------------------------------------------------------------------------------


def _credits(args: argparse.Namespace) -> int:
    client = liveavatar_client(args)

    async def main() -> Credits:
        async with client:
            return await client.get_credits()

    credits = anyio.run(main)
    minutes = {mode.value: credits.minutes(mode) for mode in (Mode.FULL, Mode.LITE)}
    if args.json:
        print_json(
            {
                "credits_left": str(credits.credits_left),
                "minutes": {mode: str(_whole(m)) for mode, m in minutes.items()},
            }
        )
    else:
        print(f"{credits.credits_left} credits left")
        print(
            f"about {_whole(minutes['FULL'])} minutes of FULL sessions (2 a minute) or "
            f"{_whole(minutes['LITE'])} of LITE (1 a minute); sandbox sessions are free"
        )
    return EXIT_OK


def _whole(minutes: Decimal) -> Decimal:
    return max(minutes, Decimal(0)).to_integral_value(rounding="ROUND_FLOOR")


# --- Kaltura's catalog -----------------------------------------------------------------------------


def _catalog_arguments(parser: Parser) -> None:
    # Kaltura's: an error names the KS, not the LiveAvatar key (see ``credential_name``).
    parser.set_defaults(provider=KALTURA)
    parser.add_argument(
        "--type",
        dest="item_type",
        type=str.lower,
        choices=("visual", "voice"),
        help="avatars (visual) or voices (voice); default both",
    )
    parser.add_argument(
        "--ks",
        metavar="KS",
        help="an admin Kaltura Session (default: $KALTURA_AVATAR_KS; flags are visible to other "
        "local users in `ps`: prefer the variable)",
    )
    add_region_option(parser)
    _limit_option(parser, "items")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_connection_options(
        parser,
        base_url_help="the API root (default: $KALTURA_AVATAR_BASE_URL, else --region's)",
    )


def _catalog_document(item: KalturaCatalogEntry) -> dict[str, Any]:
    return {
        "item_id": item.item_id,
        "type": None if item.type is None else item.type.value,
        "name": item.name,
    }


def _catalog(args: argparse.Namespace) -> int:
    client = kaltura_client(args, require_ks(args))

    async def main() -> tuple[list[KalturaCatalogEntry], int | None]:
        async with client:
            return await _take(
                client.catalog.list(args.item_type, page_size=_PAGE_SIZE), args.limit
            )

    items, count = anyio.run(main)
    return _show(
        args,
        items,
        count,
        noun="items",
        document=_catalog_document,
        header=["ITEM ID", "TYPE", "NAME"],
    )


def _listing(
    arguments: Callable[[Parser], None], run: Callable[[argparse.Namespace], int], help: str
) -> Callable[[Parser], None]:
    """The arguments of a command whose one action is ``list``."""
    action = Command(name="list", help=help, arguments=arguments, run=run)
    return lambda parser: add_commands(parser, (action,), dest="action", metavar="ACTION")


AVATARS = Command(
    name="avatars",
    help="list the account's avatars, or LiveAvatar's public ones (--public)",
    description="List avatars: the account's, or with --public LiveAvatar's (the sandbox avatar, "
    f"{SANDBOX_AVATAR_ID}, among them). API key from LIVEAVATAR_API_KEY or --api-key.",
    arguments=_listing(_avatars_arguments, _avatars, "list avatars"),
)
VOICES = Command(
    name="voices",
    help="list the voices a session may speak with",
    description="List LiveAvatar voices (API key from LIVEAVATAR_API_KEY or --api-key).",
    arguments=_listing(_voices_arguments, _voices, "list voices"),
)
CREDITS = Command(
    name="credits",
    help="show the account's credit balance and the minutes it pays for",
    description="Show the LiveAvatar account's balance (FULL sessions cost 2 credits a minute, "
    "LITE 1, sandbox none). API key from LIVEAVATAR_API_KEY or --api-key.",
    arguments=_common,
    run=_credits,
)
CATALOG = Command(
    name="catalog",
    help="list Kaltura's avatars and voices (catalog ids for `run --provider kaltura`)",
    description="List Kaltura Avatar's catalog (admin KS from KALTURA_AVATAR_KS or --ks).",
    arguments=_listing(_catalog_arguments, _catalog, "list catalog items"),
)
