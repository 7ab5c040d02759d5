"""Marketplace search latency over 100,000 listings in the embedded store.

Fills a fresh ``SQLiteMarketStore`` (one SQLite file with its FTS5 index) with
100,000 published listings: titles, descriptions and tags drawn from a 3,000-word
vocabulary with a Zipf-like spread (a few words are very common, most are rare, as
in real text), four kinds, worlds, languages, categories, difficulty ranges, ratings
and download counts. Then runs a mix of searches a studio page or ``ae market
search`` makes: one or two words (common and rare), words with filters, filters
alone under each sort, and next pages through cursors.

Prints, side by side (machines here are shared and noisy: read the ratios):

- ``store.search``: the whole call (query building, FTS5, the worker-thread hop,
  rows to models), p50/p90/p99 in ms, and whether p99 is under the 20 ms target;
- FTS5 SQL alone: the same statements (and the word counts that pick the plan) on
  a plain ``sqlite3`` connection;
- baseline: the same searches as plain SQL ``LIKE '%word%'`` over title,
  description and tags (every word must match), same filters, sort and page size,
  on the same file.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from encounters.marketplace import (
    Listing,
    ListingMeta,
    SearchQuery,
    SQLiteMarketStore,
    VersionRecord,
)
from encounters.marketplace.store import plan_for, search_sql

KINDS = ("encounter", "template", "campaign", "persona")
WORLDS = ("gmod", "minecraft", "web", "any")
LANGUAGES = ("en", "de", "fr", "es", "pt-BR", "ja")
CATEGORIES = ("combat", "puzzle", "social", "exploration", "story", "companion")
TARGET_MS = 20.0


def vocabulary(n: int, rng: random.Random) -> list[str]:
    syllables = [
        "ka",
        "lo",
        "mir",
        "tan",
        "es",
        "ver",
        "dra",
        "gon",
        "ul",
        "ith",
        "or",
        "bel",
        "shen",
        "ra",
        "quo",
        "fen",
        "ast",
        "mu",
        "zer",
        "pi",
        "nox",
        "al",
        "thu",
        "ry",
    ]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def make_rows(n: int, seed: int = 11) -> tuple[list[tuple[Listing, VersionRecord]], list[str]]:
    rng = random.Random(seed)
    words = vocabulary(3000, rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    now = datetime.now(UTC)
    content = {"id": "x"}
    rows = []
    for i in range(n):
        drawn = rng.choices(words, weights, k=30)
        low = round(rng.uniform(0.1, 0.7), 2)
        meta = ListingMeta(
            title=" ".join(drawn[:4]).title(),
            description=" ".join(drawn[4:26]),
            tags=drawn[26:30],
            category=rng.choice(CATEGORIES),
            difficulty_min=low,
            difficulty_max=round(min(1.0, low + rng.uniform(0.1, 0.5)), 2),
            worlds=rng.sample(WORLDS, rng.randint(1, 2)),
            languages=rng.sample(LANGUAGES, rng.randint(1, 2)),
        )
        lid = f"lst_{i:08d}"
        kind = KINDS[i % len(KINDS)]
        listing = Listing(id=lid, kind=kind, owner=f"key:c{i % 500}", meta=meta,
                          created_at=now, updated_at=now)  # fmt: skip
        version = VersionRecord(listing_id=lid, version="1.0.0", status="published", meta=meta,
                                content=content, content_hash="sha256:" + "0" * 64,
                                created_at=now)  # fmt: skip
        rows.append((listing, version))
    return rows, words


def make_queries(words: list[str], n: int, seed: int = 5) -> list[SearchQuery]:
    rng = random.Random(seed)
    common, rare = words[10:60], words[300:]
    out: list[SearchQuery] = []
    for i in range(n):
        shape = i % 6
        sort = rng.choice(("new", "top", "downloads"))
        if shape == 0:
            q = SearchQuery(text=rng.choice(common), sort=sort)
        elif shape == 1:
            q = SearchQuery(text=f"{rng.choice(common)} {rng.choice(common)}", sort=sort)
        elif shape == 2:
            q = SearchQuery(text=rng.choice(rare), sort=sort)
        elif shape == 3:
            q = SearchQuery(text=rng.choice(common), kind=rng.choice(KINDS),
                            world=rng.choice(WORLDS[:3]), sort=sort)  # fmt: skip
        elif shape == 4:
            q = SearchQuery(kind=rng.choice(KINDS), language=rng.choice(LANGUAGES), sort=sort)
        else:
            q = SearchQuery(category=rng.choice(CATEGORIES), difficulty=0.5, min_rating=3,
                            sort=sort)  # fmt: skip
        out.append(q)
    return out


def like_sql(query: SearchQuery, after: list[Any] | None) -> tuple[str, list[Any]]:
    """The baseline: ``search_sql`` with FTS5 swapped for LIKE over the three fields."""
    words = query.text.lower().split()
    plain = query.model_copy(update={"text": ""})
    sql, args = search_sql(plain, after)
    head, tail = sql.split(" WHERE ", 1)
    likes: list[str] = []
    like_args: list[Any] = []
    for word in words:
        likes.append("(l.title LIKE ? OR l.description LIKE ? OR l.tags LIKE ?)")
        like_args += [f"%{word}%"] * 3
    where = " AND ".join([*likes, tail])
    args = like_args + args
    return f"{head} WHERE {where}", args


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return at(0.5), at(0.9), at(0.99)


async def fill(path: Path, rows: list[tuple[Listing, VersionRecord]]) -> None:
    rng = random.Random(3)
    async with SQLiteMarketStore(path) as store:
        for start in range(0, len(rows), 5000):
            await store.add_versions(rows[start : start + 5000])
    with sqlite3.connect(path) as conn:  # ratings and downloads, spread out
        conn.executemany(
            "UPDATE market_listings SET downloads = ?, rating_count = ?, rating_sum = ?,"
            " rating = ? WHERE id = ?",
            [(int(rng.paretovariate(1.2) * 10), c, s, (s / c if c else 0.0), lid)
             for lid, c, s in ((r[0].id, n, sum(rng.randint(1, 5) for _ in range(n)))
                               for r in rows for n in [rng.randint(0, 8)])],
        )  # fmt: skip
        conn.execute("PRAGMA optimize")


async def time_store(path: Path, queries: list[SearchQuery]) -> tuple[list[float], int]:
    samples: list[float] = []
    found = 0
    async with SQLiteMarketStore(path) as store:
        for query in queries[:20]:  # warm the page cache
            await store.search(query)
        for query in queries:
            start = time.perf_counter()
            page = await store.search(query)
            samples.append(time.perf_counter() - start)
            found += len(page.items)
            if page.next_cursor and len(samples) % 3 == 0:  # some next pages too
                start = time.perf_counter()
                await store.search(query, page.next_cursor)
                samples.append(time.perf_counter() - start)
    return samples, found


def time_sql(path: Path, queries: list[SearchQuery], like: bool) -> tuple[list[float], int]:
    samples: list[float] = []
    found = 0
    conn = sqlite3.connect(path)
    try:
        for query in queries:
            start = time.perf_counter()
            if like:
                sql, args = like_sql(query, None)
            else:
                match, plan = plan_for(conn, query.text)
                sql, args = search_sql(query, None, match, plan)
            rows = conn.execute(sql, args).fetchall()
            samples.append(time.perf_counter() - start)
            found += min(len(rows), query.limit)
    finally:
        conn.close()
    return samples, found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1200)
    parser.add_argument("--quick", action="store_true", help="small run for smoke tests")
    args = parser.parse_args()
    n, q = (5_000, 120) if args.quick else (args.listings, args.queries)
    rows, words = make_rows(n)
    queries = make_queries(words, q)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "market.db"
        start = time.perf_counter()
        anyio.run(fill, path, rows)
        loaded = time.perf_counter() - start
        store_samples, store_found = anyio.run(time_store, path, queries)
        fts_samples, fts_found = time_sql(path, queries, like=False)
        like_samples, like_found = time_sql(path, queries, like=True)
        size = path.stat().st_size
    p = percentiles(store_samples)
    print(f"marketplace search: {n:,} listings ({size / 1e6:.0f} MB file, loaded in "
          f"{loaded:.1f} s), {len(queries):,} searches (+ next pages)")  # fmt: skip
    print(f"  store.search (FTS5)   : p50 {p[0]:6.2f} ms  p90 {p[1]:6.2f} ms  p99 {p[2]:6.2f} ms"
          f"  ({len(store_samples):,} calls, {store_found:,} results)")  # fmt: skip
    f = percentiles(fts_samples)
    print(f"  FTS5 SQL alone        : p50 {f[0]:6.2f} ms  p90 {f[1]:6.2f} ms  p99 {f[2]:6.2f} ms")
    b = percentiles(like_samples)
    print(
        f"  baseline SQL LIKE     : p50 {b[0]:6.2f} ms  p90 {b[1]:6.2f} ms  p99 {b[2]:6.2f} ms"
        f"  ({like_found:,} results, substrings; FTS5 whole words: {fts_found:,})"
    )
    verdict = "met" if p[2] < TARGET_MS else "NOT met"
    print(
        f"  target p99 < {TARGET_MS:.0f} ms: {verdict}; LIKE p99 / FTS5 p99 = "
        f"{b[2] / max(f[2], 1e-6):.1f}x; "
        f"mean store.search {statistics.fmean(store_samples) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
