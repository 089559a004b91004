"""The one pager of every list the SDK offers, whatever the provider pages by.

A list method checks its arguments (``page_size`` and the filters, before any I/O) and returns a
:class:`Pager` over a *fetch*: a coroutine function that reads the page at a cursor (LiveAvatar: the
page number; Kaltura: the offset) and returns a :class:`PageData`. Awaiting the pager reads its first
page (a :class:`Page`, whose :meth:`~Page.next_page` reads the following one); ``async for`` walks
every item of every page, reading a page only when the items before it have all been taken, and
holding one page at a time. A page's cursor to the next is computed here from what the previous
request asked for, never taken from a URL the server sent: a ``next`` link pointing at another host
would carry the account credential there. A walk ends at the server's ``count`` and at a ``next``
that does not name a later page (:func:`page_after`): a server that ignores ``page`` is walked
no further than its own ``count``. A list paged by offset ends, too, at a page that repeats the one
before it (Kaltura's catalog, whose server may count nothing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any, Generic, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

import attrs

__all__ = ["Page", "PageData", "Pager", "page_after"]

T = TypeVar("T")


@attrs.frozen
class PageData(Generic[T]):
    """What a provider's fetch read of one page, for the pager: its items, the total the server
    counts (``None`` when it gives none), the cursor of the following page (``None``: this is the
    last), and the server's ``next`` / ``previous`` links as sent."""

    items: Sequence[T]
    count: int | None
    next_cursor: int | None
    next: str | None = None
    previous: str | None = None


Fetch = Callable[[int], Awaitable[PageData[T]]]


def page_after(number: int, items: int, count: int | None, next_link: str | None) -> int | None:
    """The number of the page after page ``number``, which held ``items`` items, of a list paged by
    number, or ``None`` when it is the last: when the server sends no ``next``, when its ``count``
    leaves no item for a later page (pages as long as this one: a server may send fewer than were
    asked for), or when its ``next`` names a page that is not later (a server that ignores ``page``
    or links back would otherwise be walked forever)."""
    if next_link is None or (count is not None and number * items >= count):
        return None
    try:
        named = parse_qs(urlsplit(next_link).query).get("page")
    except ValueError:  # no URL (an unbalanced "[", a host that normalizes to "#"): nothing to read
        named = None
    if named is not None:
        try:
            if int(named[-1]) <= number:
                return None
        except ValueError:
            pass  # not a number: the server's affair, the cursor is ours
    return number + 1


@attrs.frozen
class Page(Generic[T]):
    """One page of a list: what awaiting a :class:`Pager` gives.

    Attributes:
        items: the page's items, in the server's order.
        count: how many items the whole list holds, as the server counts them (``None`` when it
            does not say).
        next, previous: the server's links to the pages around this one, as it sent them (``None``
            at either end, or when it sends none); :meth:`next_page` does not follow them blindly.
        cursor: where this page starts (LiveAvatar: its page number, from 1; Kaltura: its offset).
    """

    items: Sequence[T]
    count: int | None
    next: str | None
    previous: str | None
    cursor: int
    _next_cursor: int | None = attrs.field(alias="next_cursor", repr=False)
    _fetch: Fetch[T] = attrs.field(alias="fetch", repr=False, eq=False)

    @property
    def results(self) -> Sequence[T]:
        """:attr:`items` under LiveAvatar's own name for them (``results``)."""
        return self.items

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self._next_cursor is not None

    async def next_page(self) -> Page[T] | None:
        """Read the page after this one (same filters, same page size, same call options);
        ``None`` when this is the last.

        Raises:
            APIError, TransportError, ResponseDecodeError: as the list call itself.
        """
        if self._next_cursor is None:
            return None
        return await _read(self._fetch, self._next_cursor)


async def _read(fetch: Fetch[T], cursor: int) -> Page[T]:
    data = await fetch(cursor)
    # A page with no items cannot move the walk on: it is the last, whatever the server says next.
    next_cursor = data.next_cursor if data.items else None
    return Page(
        items=data.items,
        count=data.count,
        next=data.next,
        previous=data.previous,
        cursor=cursor,
        next_cursor=next_cursor,
        fetch=fetch,
    )


class Pager(Generic[T]):
    """A list: ``await`` it for its first page, ``async for`` it for every item of every page.

    ::

        page = await client.avatars.list(page_size=50)      # one request
        async for avatar in client.avatars.list():          # a request per page, as needed
            ...

    Walking reads a page only when every item of the one before has been taken (stopping early
    reads no further page), holds one page at a time, and ends after the page the server marks as
    the last (or an empty one). Each request goes through the client's call path: its retries, time
    limits and typed errors. The arguments were checked when the list method was called.
    """

    __slots__ = ("_fetch", "_start")

    def __init__(self, fetch: Fetch[T], start: int) -> None:
        self._fetch = fetch
        self._start = start

    def __repr__(self) -> str:
        return f"<{type(self).__name__} from {self._start}>"

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return _read(self._fetch, self._start).__await__()

    async def first(self) -> Page[T]:
        """The first page (the same as ``await pager``)."""
        return await _read(self._fetch, self._start)

    def __aiter__(self) -> _Items[T]:
        return _Items(self._fetch, self._start)


class _Items(Generic[T]):
    """The walk of one ``async for``: the current page and the position in it, nothing more."""

    __slots__ = ("_cursor", "_fetch", "_index", "_page")

    def __init__(self, fetch: Fetch[T], start: int) -> None:
        self._fetch = fetch
        self._cursor: int | None = start
        self._page: Page[T] | None = None
        self._index = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        while self._page is None or self._index >= len(self._page.items):
            if self._page is not None:
                self._cursor = self._page._next_cursor
                self._page = None  # let the finished page go before the next is read
            if self._cursor is None:
                raise StopAsyncIteration
            self._page = await _read(self._fetch, self._cursor)
            self._index = 0
        item = self._page.items[self._index]
        self._index += 1
        return item
