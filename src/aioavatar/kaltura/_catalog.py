"""``client.catalog`` of a :class:`~aioavatar.KalturaAvatarClient`: the avatars and voices a session
may use, listed with the admin KS through ``POST /v1/catalog-item/list`` (``filter.typeEqual``,
``pager.offset`` / ``pager.limit``), as a :class:`~aioavatar.Pager` whose cursor is the offset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Unpack

from .._options import CallOptions
from .._pager import PageData, Pager
from .._provider import Namespace
from .._validation import check_int, check_options, shown
from ..exceptions import ConfigurationError
from ._endpoints import CATALOG_LIST
from ._models import (
    KalturaCatalogEntry,
    KalturaCatalogPage,
    KalturaCatalogType,
    KalturaCatalogTypeName,
)

if TYPE_CHECKING:
    from ._client import KalturaAvatarClient  # noqa: F401 - named in the base class below, as a string

__all__ = ["KalturaCatalog"]


class KalturaCatalog(Namespace["KalturaAvatarClient"]):
    """``client.catalog``: Kaltura's avatars (``Visual``) and voices (``Voice``)."""

    __slots__ = ()

    def list(
        self,
        type: KalturaCatalogType | KalturaCatalogTypeName | None = None,  # the API's own name
        *,
        page_size: int = 100,
        **options: Unpack[CallOptions],
    ) -> Pager[KalturaCatalogEntry]:
        """The catalog's items of ``type`` (``"Visual"`` or ``"Voice"``, any case; ``None``: both).

        ``await`` it for one page, ``async for`` it for every item; ``page_size`` is the pager's
        ``limit``.

        Raises:
            ConfigurationError: an unknown type, ``page_size`` outside 1..100, no KS (the catalog
                needs the admin KS), a bad option.
        """
        kind: KalturaCatalogType | None = None
        if type is not None:
            try:
                kind = KalturaCatalogType.known(type)
            except ValueError:
                raise ConfigurationError(
                    f"must be 'Visual' or 'Voice', got {shown(type)}", field="type"
                ) from None
        limit = check_int(page_size, "page_size", low=1, high=100)
        check_options(options, CallOptions)
        client = self._client
        client._account_headers()  # no KS: refused here, before any request
        # Each item read, and the lowest offset it was read at: a pager may be walked again (await
        # it, ``async for`` it, a page's ``next_page()`` twice), each walk from its own start.
        first_at: dict[str, int] = {}

        async def fetch(offset: int) -> PageData[KalturaCatalogEntry]:
            body: dict[str, Any] = {"pager": {"offset": offset, "limit": limit}}
            if kind is not None:
                body["filter"] = {"typeEqual": kind.value}
            # The headers formed inline: no local of this frame (nor a cell of the pager's) holds
            # the KS under a name, for a traceback that shows locals to show.
            call = client._prepare(CATALOG_LIST, headers=client._account_headers(), json=body)
            read: KalturaCatalogPage = await client.send(call, **options)
            items = [item.item_id for item in read.objects]
            if items and all(first_at.get(item, offset) < offset for item in items):
                # Nothing but items read at an earlier offset: a server that ignores the offset (or
                # alternates pages) would be walked forever, whatever total it claims. Nothing
                # after it.
                return PageData([], None, None)
            for item in items:
                if first_at.get(item, offset) >= offset:
                    first_at[item] = offset
            reached = offset + len(read.objects)
            more = (
                reached < read.total_count
                if read.total_count is not None
                else len(read.objects) == limit
            )
            return PageData(read.objects, read.total_count, reached if more else None)

        return Pager(fetch, 0)
