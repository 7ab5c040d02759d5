"""Finding listings: full text over title, description and tags, every filter, the
three sorts, and cursors that stay stable while listings are published between pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from encounters.errors import ValidationFailed
from encounters.marketplace import Marketplace, SearchQuery
from encounters.moderation import TextFilter

from .helpers import ADMIN, encounter_submission, open_market

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


async def publish(market: Marketplace, n: int, **meta: Any) -> str:
    record = await market.publish(encounter_submission(f"enc_{n}", **meta), ADMIN)
    return record.listing_id


async def all_pages(market: Marketplace, query: dict[str, Any]) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await market.search(query, cursor)
        pages.append([i.id for i in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages


async def test_full_text_matches_whole_words_in_title_description_and_tags(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        dragon = await publish(market, 1, title="The Dragon's Cave", description="A lair.",
                               tags=["lair"])  # fmt: skip
        ferry = await publish(market, 2, title="Ferry Crossing",
                              description="Help Márta carry crates over the river.")  # fmt: skip
        tagged = await publish(market, 3, title="Night Watch", description="Guard the walls.",
                               tags=["dragon", "siege"])  # fmt: skip

        async def ids(text: str) -> set[str]:
            return {i.id for i in (await market.search({"text": text})).items}

        assert await ids("dragon") == {dragon, tagged}  # a title word, and a tag
        assert await ids("DRAGON cave") == {dragon}  # every word, any case
        assert await ids("drag") == set()  # whole words
        assert await ids("river crates") == {ferry}
        assert await ids("marta") == {ferry}  # accents ignored
        assert await ids("siege") == {tagged}
        assert await ids("submarine") == set()
        assert await ids('"; DROP TABLE market_listings; --') == set()  # only words count
        assert len(await ids("")) == 3


async def test_words_in_most_listings_do_not_narrow_a_search_with_rarer_ones(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        made = [await publish(market, n, title=f"Quest number {n}", description="A quest.")
                for n in range(4)]  # fmt: skip
        river = await publish(market, 9, title="River Crossing", description="Cross it.")
        # "quest" is in most listings: alone it is matched as usual ...
        assert {i.id for i in (await market.search({"text": "quest"})).items} == set(made)
        # ... beside a rarer word it is left out, as a stop word would be
        assert [i.id for i in (await market.search({"text": "quest river"})).items] == [river]
        assert (await market.search({"text": "quest submarine"})).items == []


async def test_filters_narrow_the_results(tmp_path: Path, text_filter: TextFilter) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        mc_en = await publish(
            market,
            1,
            worlds=["minecraft"],
            languages=["en"],
            category="combat",
            difficulty_min=0.2,
            difficulty_max=0.4,
        )
        gmod_de = await publish(
            market,
            2,
            worlds=["gmod"],
            languages=["de", "en"],
            category="puzzle",
            difficulty_min=0.5,
            difficulty_max=0.9,
        )
        anywhere = await publish(
            market,
            3,
            worlds=["any"],
            languages=["fr"],
            category="combat",
            difficulty_min=0.1,
            difficulty_max=1.0,
        )
        persona = await market.publish({
            "kind": "persona", "meta": {"title": "Guide", "category": "companion"},
            "content": {"persona": {"name": "Guide"}}}, ADMIN)  # fmt: skip

        async def ids(**query: Any) -> set[str]:
            return {i.id for i in (await market.search(query)).items}

        assert await ids(world="gmod") == {gmod_de, anywhere, persona.listing_id}
        assert await ids(world="minecraft", kind="encounter") == {mc_en, anywhere}
        assert await ids(language="de") == {gmod_de}
        assert await ids(language="en", kind="encounter") == {mc_en, gmod_de}
        assert await ids(category="combat") == {mc_en, anywhere}
        assert await ids(difficulty=0.3, kind="encounter") == {mc_en, anywhere}
        assert await ids(difficulty=0.95, kind="encounter") == {anywhere}
        assert await ids(kind="persona") == {persona.listing_id}

        await market.rate(mc_en, "key:u1", 5)
        await market.rate(gmod_de, "key:u1", 2)
        assert await ids(min_rating=4) == {mc_en}
        assert await ids(min_rating=1) == {mc_en, gmod_de}  # unrated ones have no rating


async def test_sorts_new_top_rated_and_most_downloaded(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        a, b, c = [await publish(market, n) for n in range(3)]
        await market.rate(a, "key:u1", 3)
        await market.rate(b, "key:u1", 5)
        await market.rate(b, "key:u2", 4)
        await market.rate(c, "key:u1", 5)
        for _ in range(3):
            await market.resolve(a)
        await market.resolve(c)

        async def order(sort: str) -> list[str]:
            return [i.id for i in (await market.search({"sort": sort})).items]

        assert await order("new") == [c, b, a]
        assert await order("top") == [c, b, a]  # 5.0, 4.5, 3.0
        assert await order("downloads") == [a, c, b]
        top = (await market.search({"sort": "top"})).items
        assert [(i.rating, i.ratings) for i in top] == [(5.0, 1), (4.5, 2), (3.0, 1)]


@pytest.mark.parametrize("sort", ["new", "top", "downloads"])
async def test_cursors_neither_repeat_nor_skip_when_listings_arrive_between_pages(
    tmp_path: Path, text_filter: TextFilter, sort: str
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        first = [await publish(market, n) for n in range(7)]
        for n, listing in enumerate(first):
            await market.rate(listing, "key:judge", 1 + n % 5)  # ties on rating too
        seen: list[str] = []
        query = {"kind": "encounter", "sort": sort, "limit": 3}
        page = await market.search(query)
        seen += [i.id for i in page.items]
        arrivals = 0
        while page.next_cursor is not None:
            for _ in range(2):  # new listings land between every two pages
                await publish(market, 100 + arrivals)
                arrivals += 1
            page = await market.search(query, page.next_cursor)
            seen += [i.id for i in page.items]
        assert len(seen) == len(set(seen))  # no listing twice
        assert set(first) <= set(seen)  # none of those there at the start missed
        assert arrivals >= 4


async def test_pages_cover_everything_once(tmp_path: Path, text_filter: TextFilter) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        made = [await publish(market, n) for n in range(10)]
        pages = await all_pages(market, {"limit": 4})
        assert [len(p) for p in pages] == [4, 4, 2]
        assert [i for p in pages for i in p] == made[::-1]


async def test_bad_cursors_are_refused_clearly(tmp_path: Path, text_filter: TextFilter) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        for n in range(3):
            await publish(market, n)
        page = await market.search({"limit": 1})
        assert page.next_cursor is not None
        with pytest.raises(ValidationFailed, match="another sort"):
            await market.search({"limit": 1, "sort": "top"}, page.next_cursor)
        with pytest.raises(ValidationFailed, match="other filters"):
            await market.search({"limit": 1, "text": "bridge"}, page.next_cursor)
        with pytest.raises(ValidationFailed, match="not a cursor this search gave"):
            await market.search({"limit": 1}, page.next_cursor[:-3] + "xyz")
        with pytest.raises(ValidationFailed, match="not a cursor"):
            await market.search({"limit": 1}, "%%%")
        # the page size may change between pages
        rest = await market.search(SearchQuery(limit=5), page.next_cursor)
        assert len(rest.items) == 2


async def test_every_search_plan_gives_the_same_page(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """The plan only changes the cost: read the matches, list them, or probe per row."""
    import sqlite3

    from encounters.marketplace.store import search_sql

    path = tmp_path / "m.db"
    async with open_market(path, text_filter) as (market, _):
        for n in range(24):
            words = ["river crossing" if n % 2 else "mountain pass", "night" if n % 3 else "day"]
            world = ["gmod", "web"][n % 2]
            lid = await publish(market, n, title=f"{words[0].title()} {n}",
                                description=f"A {words[1]} quest.", worlds=[world])  # fmt: skip
            if n % 4:
                await market.rate(lid, "key:judge", 1 + n % 5)
    conn = sqlite3.connect(path)
    try:
        queries = [
            SearchQuery(text="river", sort="new", limit=5),
            SearchQuery(text="night quest", sort="top", world="web", limit=4),
            SearchQuery(text="day", sort="downloads", kind="encounter", limit=3),
        ]
        for query in queries:
            match = f'"{query.text.split()[0]}"'
            pages = {plan: [r[0] for r in conn.execute(*search_sql(query, None, match, plan))]
                     for plan in ("fts", "list", "probe")}  # fmt: skip
            assert pages["fts"] == pages["list"] == pages["probe"]
            assert len(pages["fts"]) == query.limit + 1  # a full page and one more
    finally:
        conn.close()
