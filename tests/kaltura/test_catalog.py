"""``client.catalog`` of ``KalturaAvatarClient`` (``kaltura/_catalog.py``) against the Kaltura emulator
over real sockets: the body it posts (``filter.typeEqual``, ``pager.offset/limit``), the admin KS, the
items read defensively, paging by offset, retries, and arguments refused before any I/O."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioavatar import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    KalturaAvatarClient,
    KalturaCatalogEntry,
    KalturaCatalogType,
    ResponseDecodeError,
)
from aioavatar._logging import MASK
from aioavatar.testing import KalturaCatalogItem, KalturaEmulator

from ..conftest import FAST_RETRIES, KS
from ..liveavatar.strategies import EXAMPLES

pytestmark = pytest.mark.anyio


async def test_listing_avatars_posts_the_filter_and_pager_with_the_ks(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """``catalog.list("visual")`` posts ``{"filter": {"typeEqual": "Visual"}, "pager": ...}`` with
    ``Authorization: KS``, and reads each item's id, type and name."""
    page = await kaltura_client.catalog.list("visual")
    assert [item.name for item in page.items] == ["Ava (studio)", "Noah (office)", "Mia (outdoor)"]
    assert all(item.type is KalturaCatalogType.VISUAL for item in page.items)
    assert (page.count, page.has_next) == (3, False)
    request = kaltura_emulator.requests("catalog_list")[-1]
    assert (request.method, request.path, request.auth) == ("POST", "/v1/catalog-item/list", "ks")
    assert request.body == {"pager": {"offset": 0, "limit": 100}, "filter": {"typeEqual": "Visual"}}


async def test_voices_and_everything(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """``type="Voice"`` lists the voices; no type lists both kinds, with no filter sent."""
    voices = [v async for v in kaltura_client.catalog.list(KalturaCatalogType.VOICE)]
    assert [v.item_id for v in voices] == ["65f1a2b3c4d5e6f708192b01", "65f1a2b3c4d5e6f708192b02"]
    everything = [i async for i in kaltura_client.catalog.list()]
    assert len(everything) == 5
    assert "filter" not in kaltura_emulator.requests("catalog_list")[-1].body


async def test_paging_by_offset_across_several_pages(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """Seven avatars by three: offsets 0, 3, 6 and no request past the total."""
    kaltura_emulator.catalog.extend(
        KalturaCatalogItem(f"66000000000000000000000{i}", "Visual", f"Extra {i}") for i in range(4)
    )
    items = [i async for i in kaltura_client.catalog.list("Visual", page_size=3)]
    assert len(items) == 7
    offsets = [r.body["pager"]["offset"] for r in kaltura_emulator.requests("catalog_list")]
    assert offsets == [0, 3, 6]


async def test_an_answer_without_success_or_names_is_read_defensively(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """Answers need not carry ``success``; an item without a name or with a new type is kept; a
    missing ``totalCount`` pages on while pages come back full."""
    kaltura_emulator.inject(
        "catalog_list",
        body=b'{"objects": [{"itemId": "a1", "type": "Hologram"}, {"itemId": "a2", '
        b'"attributes": {"voice": {"name": "V"}}}]}',
    )
    page = await kaltura_client.catalog.list(page_size=2)
    assert page.items == [
        KalturaCatalogEntry("a1", KalturaCatalogType("Hologram"), None),
        KalturaCatalogEntry("a2", None, "V"),
    ]
    assert page.count is None
    assert page.has_next
    assert not page.items[0].type.is_known


async def test_a_server_that_ignores_the_offset_and_counts_nothing_is_not_walked_forever(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """Every page full, no ``totalCount``, and the same items whatever the offset: the walk ends at
    the first page that repeats the one before it, having given each item once (until now it
    walked on forever, sending the admin KS thousands of times a second)."""
    page = {"objects": [{"itemId": f"a{i}", "type": "Visual"} for i in range(2)]}
    kaltura_emulator.inject("catalog_list", body=json.dumps(page).encode(), times=1000)
    items = [i.item_id async for i in kaltura_client.catalog.list(page_size=2)]
    assert items == ["a0", "a1"]
    offsets = [r.body["pager"]["offset"] for r in kaltura_emulator.requests("catalog_list")]
    assert offsets == [0, 2]


async def test_a_counted_catalog_whose_pages_begin_alike_is_walked_whole(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """The guard against a server that ignores the offset takes whole pages: a counted catalog
    whose pages begin with the same item (a duplicate) but bring new ones is walked to its count."""
    pages = [["a0", "a1", "a2"], ["a0", "a3", "a4"], ["a5"]]
    for page in pages:
        objects = [{"itemId": item, "type": "Visual"} for item in page]
        answer = {"objects": objects, "totalCount": 7}
        kaltura_emulator.inject("catalog_list", body=json.dumps(answer).encode())
    items = [i.item_id async for i in kaltura_client.catalog.list(page_size=3)]
    assert items == [item for page in pages for item in page]
    offsets = [r.body["pager"]["offset"] for r in kaltura_emulator.requests("catalog_list")]
    assert offsets == [0, 3, 6]


@pytest.mark.parametrize(
    ("pages", "total"),
    [([["a0", "a1"]], 10**9), ([["a0", "a1"], ["b0", "b1"]], None)],
    ids=["the same page with a count that lies", "two pages in turn, uncounted"],
)
async def test_a_catalog_whose_pages_bring_nothing_new_is_not_walked_forever(
    kaltura_client: KalturaAvatarClient,
    kaltura_emulator: KalturaEmulator,
    pages: list[list[str]],
    total: int | None,
) -> None:
    """A server that ignores the offset and claims a billion items, or one that hands out two pages
    in turn: the walk ends at the first page of items read already (both walked on forever)."""
    for _ in range(500):
        for page in pages:
            answer: dict[str, object] = {"objects": [{"itemId": i, "type": "Visual"} for i in page]}
            if total is not None:
                answer["totalCount"] = total
            kaltura_emulator.inject("catalog_list", body=json.dumps(answer).encode())
    items = [i.item_id async for i in kaltura_client.catalog.list(page_size=2)]
    assert items == [item for page in pages for item in page]
    assert len(kaltura_emulator.requests("catalog_list")) == len(pages) + 1


async def test_a_session_token_echoed_in_a_catalog_answer_is_masked(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """The catalog is a read sent as a POST: a live session's token echoed in its answer (another
    credential than the KS it was sent with) is masked in the model, as in any read."""
    created = await kaltura_client.create_session("avatar-1")
    raw_token = created.token.get_secret_value()
    item = {
        "itemId": "a1",
        "type": "Visual",
        "attributes": {"visual": {"name": f"echo {raw_token}"}},
    }
    kaltura_emulator.inject("catalog_list", body=json.dumps({"objects": [item]}).encode())
    page = await kaltura_client.catalog.list()
    assert raw_token not in repr(page.items)
    assert page.items[0].name == f"echo {MASK}"


async def test_a_catalog_pager_walked_again_reads_the_same_items(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """A pager awaited, walked, awaited again, and a page's ``next_page()`` twice: each walk starts
    from its own beginning and reads every item (the guard against repeated pages is per offset:
    a first version kept what any walk had read, and the second walk gave nothing)."""
    pager = kaltura_client.catalog.list(page_size=2)
    first = await pager
    walked = [item.item_id async for item in pager]
    again = await pager
    following = [await first.next_page() for _ in range(2)]
    assert len(walked) == 5
    assert [i.item_id for i in first.items] == [i.item_id for i in again.items] == walked[:2]
    for page in following:
        assert page is not None
        assert [i.item_id for i in page.items] == walked[2:4]


async def test_a_failed_catalog_walk_holds_the_ks_in_no_local_of_its_traceback(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator
) -> None:
    """A traceback shown with its frames' locals (Sentry's, rich's) shows no KS: the headers are
    formed inline, held by no local of the pager's frames nor by a cell of its fetch."""
    kaltura_emulator.inject("catalog_list", body=b'{"success": false, "error": "nope"}')
    with pytest.raises(APIError) as info:
        await kaltura_client.catalog.list()
    shown = []
    tb = info.value.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        shown += [repr(value) for value in frame.f_locals.values()]
        for value in frame.f_locals.values():
            for cell in getattr(value, "__closure__", None) or ():
                shown.append(repr(cell.cell_contents))
        tb = tb.tb_next
    assert shown
    assert not [text for text in shown if KS in text]


@pytest.mark.parametrize(
    "body",
    [
        b'{"success": false, "error": "nope"}',
        b'{"objects": [{"type": "Visual"}], "totalCount": 1}',
        b'{"objects": "x"}',
    ],
)
async def test_a_refusal_or_a_broken_answer_is_an_error(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator, body: bytes
) -> None:
    """``success: false`` is an error; an item without ``itemId`` or objects that are not a list is
    a ResponseDecodeError."""
    kaltura_emulator.inject("catalog_list", body=body)
    with pytest.raises(Exception) as info:  # noqa: PT011 - the two kinds are checked below
        await kaltura_client.catalog.list()
    if b"success" in body:
        assert "nope" in str(info.value)
    else:
        assert isinstance(info.value, ResponseDecodeError)


async def test_a_5xx_is_retried_and_a_wrong_ks_refused(kaltura_emulator: KalturaEmulator) -> None:
    """The list is a read though a POST: a 503 is retried. A KS that is not the admin's is 401."""
    async with KalturaAvatarClient(
        KS, base_url=kaltura_emulator.base_url, retry_policy=FAST_RETRIES
    ) as client:
        kaltura_emulator.inject("catalog_list", status=503)
        assert len((await client.catalog.list()).items) == 5
    assert [r.status for r in kaltura_emulator.requests("catalog_list")] == [503, 200]
    async with KalturaAvatarClient("not-the-admin-ks", base_url=kaltura_emulator.base_url) as bad:
        with pytest.raises(AuthenticationError):
            await bad.catalog.list()


async def test_no_ks_is_refused_before_any_io(
    kaltura_emulator: KalturaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client without a KS refuses to list the catalog, naming ``ks``, and sends nothing."""
    monkeypatch.delenv("KALTURA_AVATAR_KS", raising=False)
    async with KalturaAvatarClient(base_url=kaltura_emulator.base_url) as client:
        with pytest.raises(ConfigurationError) as info:
            client.catalog.list()
    assert info.value.field == "ks"
    assert kaltura_emulator.journal == []


@given(
    case=st.one_of(
        st.tuples(st.just("type"), st.sampled_from(["avatar", "", 3, "Visuals"])),
        st.tuples(st.just("page_size"), st.sampled_from([0, 101, -1, 2.0, "10", None])),
    )
)
@EXAMPLES
async def test_invalid_arguments_are_refused_before_any_io(
    kaltura_client: KalturaAvatarClient, kaltura_emulator: KalturaEmulator, case: tuple[str, Any]
) -> None:
    """An unknown type or a page size outside 1..100: ConfigurationError naming it, nothing sent."""
    field, value = case
    with pytest.raises(ConfigurationError) as info:
        kaltura_client.catalog.list(**{field: value})
    assert info.value.field == field
    assert kaltura_emulator.journal == []
