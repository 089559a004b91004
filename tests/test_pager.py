"""The one pager (``_pager.py``) over real sockets: awaiting reads one page, ``async for`` walks every
page and reads none it does not need, the cursor is the client's own (never a URL the server sent),
and the same pager serves the LiveAvatar lists, ``list_sessions`` and the Kaltura catalog."""

from __future__ import annotations

import gc
import json
import weakref

import pytest

from aioavatar import (
    SANDBOX_AVATAR_ID,
    KalturaAvatarClient,
    LiveAvatarClient,
    Page,
    Pager,
    ResponseDecodeError,
    SessionEntry,
)
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

pytestmark = pytest.mark.anyio


def pages_read(emulator: LiveAvatarEmulator, endpoint: str = "avatars") -> list[str]:
    """The ``page`` query of every list request the emulator received, in order."""
    return [r.query["page"] for r in emulator.requests(endpoint)]


async def test_awaiting_reads_one_page_with_its_count_and_links(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """``await pager`` sends one request and gives that page: items, count, the server's links."""
    for index in range(24):
        emulator.add_avatar(f"Avatar {index}")
    pager = client.avatars.list(page_size=10)
    assert isinstance(pager, Pager)
    assert emulator.requests("avatars") == []  # nothing is read before it is awaited
    page = await pager
    assert isinstance(page, Page)
    assert (len(page.items), page.count, page.cursor) == (10, 25, 1)
    assert page.has_next
    assert page.next is not None
    assert page.previous is None
    assert page.results == page.items
    assert [r.query for r in emulator.requests("avatars")] == [{"page": "1", "page_size": "10"}]


async def test_next_page_reads_the_following_page_until_the_last(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """``next_page()`` asks for the next page number with the same size; after the last it gives
    ``None`` without a request."""
    for index in range(14):
        emulator.add_avatar(f"Avatar {index}")
    first = await client.avatars.list(page_size=6)
    second = await first.next_page()
    assert second is not None
    last = await second.next_page()
    assert last is not None
    assert [len(p.items) for p in (first, second, last)] == [6, 6, 3]
    assert not last.has_next
    assert await last.next_page() is None
    assert pages_read(emulator) == ["1", "2", "3"]
    ids = [a.id for p in (first, second, last) for a in p.items]
    assert len(set(ids)) == 15


async def test_async_for_walks_every_page_once(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """``async for`` yields every item of every page in order, one request per page."""
    for index in range(44):
        emulator.add_avatar(f"Avatar {index}")
    names = [avatar.name async for avatar in client.avatars.list(page_size=20)]
    assert names == ["My avatar", *(f"Avatar {i}" for i in range(44))]
    assert pages_read(emulator) == ["1", "2", "3"]


async def test_stopping_early_reads_no_further_page(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """Breaking out after the first page's items reads only that page; a page is read only when the
    item after the last one of the page before is asked for."""
    for index in range(30):
        emulator.add_avatar(f"Avatar {index}")
    taken = 0
    async for _ in client.avatars.list(page_size=10):
        taken += 1
        if taken == 10:
            break
    assert pages_read(emulator) == ["1"]
    walk = aiter(client.avatars.list(page_size=10))
    for _ in range(11):
        await anext(walk)
    assert pages_read(emulator) == ["1", "1", "2"]


async def test_a_last_page_that_is_full_is_not_followed(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """When the items fill the last page exactly the server's ``next`` is null: no extra request."""
    for index in range(9):
        emulator.add_avatar(f"Avatar {index}")
    assert len([a async for a in client.avatars.list(page_size=5)]) == 10
    assert pages_read(emulator) == ["1", "2"]


async def test_the_walk_holds_one_page_at_a_time(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A finished page is let go before the next is read: only the current page is referenced."""
    for index in range(5):
        emulator.add_avatar(f"Avatar {index}")
    walk = aiter(client.avatars.list(page_size=3))
    first_item = await anext(walk)
    first_ref = weakref.ref(first_item)
    del first_item
    for _ in range(3):  # the rest of page 1, then the first item of page 2
        await anext(walk)
    gc.collect()
    assert first_ref() is None, "the walk still holds the first page"


async def test_the_cursor_never_follows_the_servers_link(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A ``next`` pointing at another host is not followed: the next request goes to the client's
    own API root, with the page number it computed (the API key never leaves for that host)."""
    emulator.inject(
        "avatars",
        body=b'{"code": 1000, "message": "ok", "data": {"count": 3, "next": '
        b'"https://evil.invalid/steal?page=2", "previous": null, "results": [{"id": "'
        + SANDBOX_AVATAR_ID.encode()
        + b'"}]}}',
    )
    page = await client.avatars.list(page_size=1)
    assert page.next == "https://evil.invalid/steal?page=2"
    second = await page.next_page()
    assert second is not None
    assert [r.path for r in emulator.requests("avatars")] == ["/v1/avatars", "/v1/avatars"]
    assert pages_read(emulator) == ["1", "2"]


async def test_an_empty_page_ends_the_walk_whatever_next_says(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A page with no items but a ``next`` link ends the walk: no loop on a broken server."""
    emulator.inject(
        "avatars",
        body=b'{"code": 1000, "data": {"count": 9, "next": "/v1/avatars?page=2", "results": []}}',
    )
    assert [a async for a in client.avatars.list()] == []
    assert pages_read(emulator) == ["1"]


async def test_list_sessions_is_the_same_pager(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """``list_sessions`` walks the historic sessions of an avatar across pages with its filters kept
    on every request; awaiting it still gives one page, from ``page``."""
    ids = []
    for _ in range(5):
        token = await client.create_session_token(SANDBOX_AVATAR_ID, is_sandbox=True)
        await client.start_session(token.session_token)
        assert await client.stop_session(token.session_id)
        ids.append(token.session_id)
    pager = client.list_sessions("historic", avatar_id=SANDBOX_AVATAR_ID, page_size=2)
    walked: list[SessionEntry] = [entry async for entry in pager]
    assert [e.id for e in walked] == ids[::-1]
    queries = [r.query for r in emulator.requests("list")]
    assert [q["page"] for q in queries] == ["1", "2", "3"]
    assert all(q["avatar_id"] == SANDBOX_AVATAR_ID and q["type"] == "historic" for q in queries)
    second = await client.list_sessions("historic", page=2, page_size=2)
    assert (second.cursor, second.count, [e.id for e in second.items]) == (2, 5, ids[2:0:-1])


async def test_the_kaltura_catalog_pages_by_offset(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """The Kaltura catalog is the same pager, its cursor the offset: 5 items by 2 are 3 requests."""
    items = [item async for item in kaltura_client.catalog.list(page_size=2)]
    assert len(items) == 5
    pagers = [r.body["pager"] for r in kaltura_emulator.requests("catalog_list")]
    assert pagers == [
        {"offset": 0, "limit": 2},
        {"offset": 2, "limit": 2},
        {"offset": 4, "limit": 2},
    ]


def _page_body(count: int, next_link: str | None, ids: list[str]) -> bytes:
    results = [{"id": i} for i in ids]
    data = {"count": count, "next": next_link, "previous": None, "results": results}
    return json.dumps({"code": 1000, "message": "ok", "data": data}).encode()


@pytest.mark.parametrize(
    ("count", "next_link", "pages"),
    [
        (1, "https://api.liveavatar.com/v1/sessions?type=active&page=1", ["1"]),  # links back
        (50, "https://api.liveavatar.com/v1/sessions?type=active&page=1", ["1"]),
        (50, "/v1/sessions?page=1&page_size=1", ["1"]),  # to itself, relative
        (3, "https://api.liveavatar.com/v1/sessions?page=next", ["1", "2", "3"]),  # by count
    ],
)
async def test_a_server_that_keeps_sending_next_cannot_walk_the_list_forever(
    client: LiveAvatarClient,
    emulator: LiveAvatarEmulator,
    count: int,
    next_link: str,
    pages: list[str],
) -> None:
    """A server that ignores ``page`` (the same page, with a ``next``, whatever is asked) ends the
    walk at its own ``count`` or at a ``next`` that names no later page; before, it was read without
    end (thousands of requests a second). Each item is yielded once per page read."""
    emulator.inject("list", body=_page_body(count, next_link, [SANDBOX_AVATAR_ID]), times=1000)
    walked = [entry.id async for entry in client.list_sessions("active", page_size=1)]
    assert walked == [SANDBOX_AVATAR_ID] * len(pages)
    assert pages_read(emulator, "list") == pages


@pytest.mark.parametrize(
    "next_link",
    ["http://[::1/v1/sessions?page=2", "https://api\uff03liveavatar/v1/sessions?page=2"],
)
async def test_a_next_link_that_is_no_url_is_not_read(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, next_link: str
) -> None:
    """A ``next`` that no URL parser takes (an unbalanced "[", a host with a character that
    normalizes to "#"; its text, in Python's error, could quote what the server put there, a
    credential included) raised a bare ``ValueError`` from every list: the link is not read, the
    cursor is ours, and the walk goes on by the count."""
    for _ in range(2):
        emulator.inject("list", body=_page_body(2, next_link, [SANDBOX_AVATAR_ID]))
    walked = [entry.id async for entry in client.list_sessions("active", page_size=1)]
    assert walked == [SANDBOX_AVATAR_ID] * 2
    assert pages_read(emulator, "list") == ["1", "2"]


async def test_next_page_is_none_past_the_count(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """``next_page()`` follows the same bound as the walk: past ``count`` there is no next page."""
    emulator.inject("list", body=_page_body(2, "/v1/sessions?page=3", [SANDBOX_AVATAR_ID]))
    page = await client.list_sessions("active", page=2, page_size=1)
    assert not page.has_next
    assert await page.next_page() is None
    assert pages_read(emulator, "list") == ["2"]


@pytest.mark.parametrize("results", [{}, "", {"a": 1}], ids=["empty object", "text", "object"])
async def test_results_that_are_not_a_list_are_a_decode_error(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator, results: object
) -> None:
    """``results`` must be a JSON array: an object or a string was read as no items at all (or as
    its keys), a page of nothing that counted 7."""
    data = {"count": 7, "next": None, "previous": None, "results": results}
    emulator.inject("avatars", body=json.dumps({"code": 1000, "data": data}).encode())
    with pytest.raises(ResponseDecodeError, match=r"results.*expected a list"):
        await client.avatars.list()


async def test_a_server_that_sends_fewer_items_than_asked_is_walked_to_the_end(
    client: LiveAvatarClient, emulator: LiveAvatarEmulator
) -> None:
    """A server whose pages are shorter than the ``page_size`` asked for (a cap of its own): the
    walk follows its ``next`` to the end of its ``count``, not to the count divided by the size
    asked for."""
    ids = [f"session-{n:02}" for n in range(25)]
    for number, first in enumerate(range(0, 25, 10), start=1):
        following = f"/v1/sessions?page={number + 1}" if first + 10 < 25 else None
        emulator.inject("list", body=_page_body(25, following, ids[first : first + 10]))
    walked = [entry.id async for entry in client.list_sessions("active", page_size=50)]
    assert walked == ids
    assert pages_read(emulator, "list") == ["1", "2", "3"]
