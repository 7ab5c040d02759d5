"""Where the marketplace keeps listings: the :class:`MarketStore` protocol and its
embedded implementation, :class:`SQLiteMarketStore` (SQLite with an FTS5 index).

The marketplace has its own tables (``market_*``) and its own migrations (version in
``market_schema``), apart from the engine's store, so it can live in the engine's
SQLite file (or a file of its own, or ``:memory:``) and a PostgreSQL backend can
implement the protocol by itself later. Search is full text (FTS5, external content
kept in step by triggers) over title, description and tags, with filters and keyset
pagination (see :mod:`.cursor`).

Limits: one connection, used from a worker thread under a lock, so calls are
serialised (search latency over 100,000 listings: ``benchmarks/bench_market.py``);
writers wait up to 5 s for another process's write on the same file
(``busy_timeout``). Needs SQLite built with FTS5 (Python's is). Words match whole
(no stemming, no prefixes), after ``unicode61`` folding (case, accents).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import anyio

from ..errors import StoreCorrupt, StoreError
from ..storage.wal import use_wal
from .cursor import decode, encode
from .models import (
    Listing,
    ListingMeta,
    Policy,
    Report,
    Review,
    SearchPage,
    SearchQuery,
    VersionRecord,
    parse_semver,
)

T = TypeVar("T")


class MarketStore(Protocol):
    """What the marketplace service needs of a backend. Every method is one
    transaction. Versions are immutable: ``add_version`` refuses an existing one."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def get_policy(self) -> Policy: ...

    async def set_policy(self, policy: Policy) -> None: ...

    async def add_version(self, listing: Listing, version: VersionRecord) -> bool:
        """Store ``version``, creating ``listing`` when it is new; False (and nothing
        written) when that version exists already."""
        ...

    async def get_listing(self, listing_id: str) -> Listing | None: ...

    async def get_version(self, listing_id: str, version: str) -> VersionRecord | None: ...

    async def list_versions(self, listing_id: str) -> list[VersionRecord]:
        """Newest first."""
        ...

    async def list_pending(self, limit: int = 100) -> list[VersionRecord]: ...

    async def set_version_status(
        self, listing_id: str, version: str, status: str, reason: str | None
    ) -> None:
        """Approve or reject; the listing then shows its newest published version."""
        ...

    async def deprecate(self, listing_id: str, version: str, note: str) -> None: ...

    async def set_unlisted(self, listing_id: str, reason: str | None) -> None: ...

    async def search(self, query: SearchQuery, cursor: str | None = None) -> SearchPage: ...

    async def count_download(self, listing_id: str) -> None: ...

    async def put_review(self, review: Review) -> None:
        """Insert or replace the user's one review of a listing; ratings follow."""
        ...

    async def list_reviews(self, listing_id: str, limit: int = 100) -> list[Review]: ...

    async def get_review(self, listing_id: str, user: str) -> Review | None: ...

    async def add_report(self, report: Report) -> None: ...

    async def list_reports(self, listing_id: str) -> list[Report]: ...


# -- schema and migrations -------------------------------------------------------------

_V1 = """
CREATE TABLE market_listings (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    category TEXT NOT NULL,
    difficulty_min REAL NOT NULL,
    difficulty_max REAL NOT NULL,
    worlds TEXT NOT NULL,
    languages TEXT NOT NULL,
    meta TEXT NOT NULL,
    latest_version TEXT,
    listed_seq INTEGER,
    visible INTEGER NOT NULL DEFAULT 0,
    unlisted TEXT,
    downloads INTEGER NOT NULL DEFAULT 0,
    rating REAL NOT NULL DEFAULT 0,
    rating_sum INTEGER NOT NULL DEFAULT 0,
    rating_count INTEGER NOT NULL DEFAULT 0,
    reports INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX ix_market_new ON market_listings (visible, listed_seq);
CREATE INDEX ix_market_top ON market_listings (visible, rating, rating_count, listed_seq);
CREATE INDEX ix_market_downloads ON market_listings (visible, downloads, listed_seq);
CREATE INDEX ix_market_owner ON market_listings (owner);
CREATE TABLE market_versions (
    listing_id TEXT NOT NULL,
    version TEXT NOT NULL,
    major INTEGER NOT NULL,
    minor INTEGER NOT NULL,
    patch INTEGER NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (listing_id, version)
);
CREATE INDEX ix_market_versions_status ON market_versions (status, created_at);
CREATE INDEX ix_market_versions_order ON market_versions (listing_id, major, minor, patch);
CREATE TABLE market_reviews (
    listing_id TEXT NOT NULL,
    user TEXT NOT NULL,
    rating INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (listing_id, user)
);
CREATE TABLE market_reports (
    id TEXT PRIMARY KEY,
    listing_id TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX ix_market_reports_listing ON market_reports (listing_id);
CREATE TABLE market_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE market_fts USING fts5(
    title, description, tags,
    content='market_listings', content_rowid='seq',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE market_vocab USING fts5vocab(market_fts, 'row');
CREATE TRIGGER market_fts_insert AFTER INSERT ON market_listings BEGIN
    INSERT INTO market_fts(rowid, title, description, tags)
    VALUES (new.seq, new.title, new.description, new.tags);
END;
CREATE TRIGGER market_fts_delete AFTER DELETE ON market_listings BEGIN
    INSERT INTO market_fts(market_fts, rowid, title, description, tags)
    VALUES ('delete', old.seq, old.title, old.description, old.tags);
END;
CREATE TRIGGER market_fts_update AFTER UPDATE OF title, description, tags ON market_listings
BEGIN
    INSERT INTO market_fts(market_fts, rowid, title, description, tags)
    VALUES ('delete', old.seq, old.title, old.description, old.tags);
    INSERT INTO market_fts(rowid, title, description, tags)
    VALUES (new.seq, new.title, new.description, new.tags);
END;
"""

#: Migration n (1-based) takes the schema from version n-1 to n; never edit a shipped
#: one, add the next.
#: V2: who a rating or report came through (``tenant``: a game server's owner tag,
#: NULL for a user acting for itself), so one tenant's weight in a listing's
#: aggregates can be capped. Ratings and reports stored before, by a world key's
#: players (``player:<world>:<id>``), count as one tenant per world
#: (``player:<world>``). The aggregates are recomputed on open.
_V2 = """
ALTER TABLE market_reviews ADD COLUMN tenant TEXT;
ALTER TABLE market_reports ADD COLUMN tenant TEXT;
UPDATE market_reviews SET tenant = substr(user, 1, 6 + instr(substr(user, 8), ':'))
    WHERE user LIKE 'player:%:%';
UPDATE market_reports SET tenant = substr(json_extract(record, '$.reporter'), 1,
        6 + instr(substr(json_extract(record, '$.reporter'), 8), ':'))
    WHERE json_extract(record, '$.reporter') LIKE 'player:%:%';
UPDATE market_reviews SET record = json_set(record, '$.tenant', tenant)
    WHERE tenant IS NOT NULL;
UPDATE market_reports SET record = json_set(record, '$.tenant', tenant)
    WHERE tenant IS NOT NULL;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)

#: The most one tenant (a game server, rating and reporting for its players) weighs
#: in a listing's rating aggregates (as this many ratings at its players' mean) and
#: in its report count; see :meth:`SQLiteMarketStore._aggregate`.
TENANT_RATING_CAP = 10
TENANT_REPORT_CAP = 3

_SORTS: dict[str, tuple[str, ...]] = {
    "new": ("listed_seq",),
    "top": ("rating", "rating_count", "listed_seq"),
    "downloads": ("downloads", "listed_seq"),
}
_WORD = re.compile(r"[^\W_]+")


def search_words(text: str) -> list[str]:
    """The words of a search as the index holds them: lower case, accents dropped (as
    the ``unicode61`` tokenizer with ``remove_diacritics 2`` does), at most 16."""
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(ch)
    )
    return list(dict.fromkeys(_WORD.findall(plain)))[:16]


def fts_query(words: list[str]) -> str | None:
    """Words as an FTS5 query: every one must appear as a whole word; operators and
    quotes in what the user typed are not special."""
    return " ".join(f'"{w}"' for w in words) or None


def _when(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _bars(values: Sequence[str]) -> str:
    return "|" + "|".join(values) + "|"


class SQLiteMarketStore:
    """The marketplace in a SQLite file (``":memory:"`` for a throwaway one)."""

    def __init__(
        self,
        path: str | Path,
        *,
        tenant_rating_cap: int = TENANT_RATING_CAP,
        tenant_report_cap: int = TENANT_REPORT_CAP,
    ) -> None:
        for name, cap in (("tenant_rating_cap", tenant_rating_cap),
                          ("tenant_report_cap", tenant_report_cap)):  # fmt: skip
            if cap < 0:
                raise ValueError(f"{name} must be 0 or more, not {cap}")
        self.path = str(path)
        self.tenant_rating_cap = tenant_rating_cap
        self.tenant_report_cap = tenant_report_cap
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------

    async def open(self) -> None:
        """Open the file, creating or migrating the tables (also done on first use)."""

        def job() -> None:
            with self._lock:
                if self._conn is None:
                    self._open()

        await anyio.to_thread.run_sync(job)

    def _open(self) -> None:
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the marketplace store {self.path!r}: {exc}") from None
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            if self.path != ":memory:":
                use_wal(conn)
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreCorrupt(
                f"{self.path}: the marketplace tables cannot be read or created ({exc}); "
                "restore the file from a backup"
            ) from None
        self._conn = conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS market_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM market_schema").fetchone()
            current = row[0] if row else 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: the marketplace tables are version {current}, newer than "
                    f"this program knows ({SCHEMA_VERSION}); upgrade ai-encounters"
                )
            for step in MIGRATIONS[current:]:
                for statement in _statements(step):
                    conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO market_schema VALUES (?)", (SCHEMA_VERSION,))
            else:
                conn.execute("UPDATE market_schema SET version = ?", (SCHEMA_VERSION,))
            caps = f"{self.tenant_rating_cap},{self.tenant_report_cap}"
            held = conn.execute(
                "SELECT value FROM market_settings WHERE name = 'tenant_caps'"
            ).fetchone()
            if held is None or held[0] != caps or current < SCHEMA_VERSION:
                for (listing_id,) in conn.execute("SELECT id FROM market_listings").fetchall():
                    self._aggregate(conn, listing_id)
                conn.execute(
                    "INSERT INTO market_settings VALUES ('tenant_caps', ?) ON CONFLICT(name)"
                    " DO UPDATE SET value = excluded.value",
                    (caps,),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._lock:
                conn.close()

    async def __aenter__(self) -> SQLiteMarketStore:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _run(self, work: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        def job() -> T:
            with self._lock:
                if self._conn is None:  # opened on first use
                    self._open()
                conn = self._conn
                assert conn is not None
                if not write:
                    return work(conn)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result

        try:
            return await anyio.to_thread.run_sync(job)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"marketplace store {self.path!r}: {exc}") from None

    # -- settings ---------------------------------------------------------------------

    async def get_policy(self) -> Policy:
        def work(conn: sqlite3.Connection) -> Policy:
            row = conn.execute("SELECT value FROM market_settings WHERE name = 'policy'").fetchone()
            return "open" if row and row[0] == "open" else "review"

        return await self._run(work)

    async def set_policy(self, policy: Policy) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO market_settings VALUES ('policy', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (policy,),
            ),
            write=True,
        )

    # -- listings and versions --------------------------------------------------------

    async def add_version(self, listing: Listing, version: VersionRecord) -> bool:
        return await self._run(lambda conn: _add(conn, listing, version), write=True)

    async def add_versions(self, pairs: Sequence[tuple[Listing, VersionRecord]]) -> int:
        """Store many versions in one transaction (imports, mirrors, the benchmark);
        how many were new. Not part of :class:`MarketStore`."""

        def work(conn: sqlite3.Connection) -> int:
            return sum(_add(conn, listing, version) for listing, version in pairs)

        return await self._run(work, write=True)

    async def get_listing(self, listing_id: str) -> Listing | None:
        def work(conn: sqlite3.Connection) -> Listing | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM market_listings WHERE id = ?", (listing_id,)
            ).fetchone()
            return _listing(row) if row else None

        return await self._run(work)

    async def get_version(self, listing_id: str, version: str) -> VersionRecord | None:
        def work(conn: sqlite3.Connection) -> VersionRecord | None:
            row = conn.execute(
                "SELECT record FROM market_versions WHERE listing_id = ? AND version = ?",
                (listing_id, version),
            ).fetchone()
            return _version(row[0]) if row else None

        return await self._run(work)

    async def list_versions(self, listing_id: str) -> list[VersionRecord]:
        def work(conn: sqlite3.Connection) -> list[VersionRecord]:
            rows = conn.execute(
                "SELECT record FROM market_versions WHERE listing_id = ?"
                " ORDER BY major DESC, minor DESC, patch DESC",
                (listing_id,),
            ).fetchall()
            return [_version(r[0]) for r in rows]

        return await self._run(work)

    async def list_pending(self, limit: int = 100) -> list[VersionRecord]:
        def work(conn: sqlite3.Connection) -> list[VersionRecord]:
            rows = conn.execute(
                "SELECT record FROM market_versions WHERE status = 'pending'"
                " ORDER BY created_at LIMIT ?",
                (limit,),
            ).fetchall()
            return [_version(r[0]) for r in rows]

        return await self._run(work)

    async def set_version_status(
        self, listing_id: str, version: str, status: str, reason: str | None
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            record = _locked_version(conn, listing_id, version)
            changed = record.model_copy(update={"status": status, "reason": reason})
            conn.execute(
                "UPDATE market_versions SET status = ?, record = ?"
                " WHERE listing_id = ? AND version = ?",
                (status, changed.model_dump_json(), listing_id, version),
            )
            _refresh(conn, listing_id)

        await self._run(work, write=True)

    async def deprecate(self, listing_id: str, version: str, note: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            record = _locked_version(conn, listing_id, version)
            changed = record.model_copy(update={"deprecated": note})
            conn.execute(
                "UPDATE market_versions SET record = ? WHERE listing_id = ? AND version = ?",
                (changed.model_dump_json(), listing_id, version),
            )
            _refresh(conn, listing_id)

        await self._run(work, write=True)

    async def set_unlisted(self, listing_id: str, reason: str | None) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE market_listings SET unlisted = ?, updated_at = ? WHERE id = ?",
                (reason, _when(datetime.now(UTC)), listing_id),
            )
            _refresh(conn, listing_id)

        await self._run(work, write=True)

    async def count_download(self, listing_id: str) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE market_listings SET downloads = downloads + 1 WHERE id = ?", (listing_id,)
            ),
            write=True,
        )

    # -- search -----------------------------------------------------------------------

    async def search(self, query: SearchQuery, cursor: str | None = None) -> SearchPage:
        after = decode(query, cursor) if cursor else None
        keys = _SORTS[query.sort]
        if after is not None and len(after) != len(keys):
            after = decode(query, "!")  # raises: not a cursor of this sort

        def work(conn: sqlite3.Connection) -> SearchPage:
            match, plan = plan_for(conn, query.text)
            rows = conn.execute(*search_sql(query, after, match, plan)).fetchall()
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            items = [_listing(r) for r in rows]
            next_cursor = None
            if more and rows:
                last = rows[-1]
                next_cursor = encode(query, [last[_INDEX[k]] for k in keys])
            return SearchPage(items=items, next_cursor=next_cursor)

        return await self._run(work)

    # -- reviews and reports ----------------------------------------------------------

    def _aggregate(self, conn: sqlite3.Connection, listing_id: str) -> None:
        """Recompute a listing's rating aggregates and report count from its rows, so
        they stay right whatever was replaced. A user acting for itself (no tenant)
        weighs 1; each tenant's ratings weigh as its mean rating counted
        ``min(n, tenant_rating_cap)`` times, its reports as ``min(n,
        tenant_report_cap)``. ``rating_count`` and ``reports`` hold these weights
        (every row stays stored and listed)."""
        total, count = conn.execute(
            "SELECT COALESCE(SUM(w * mean), 0), COALESCE(SUM(w), 0) FROM ("
            " SELECT CASE WHEN tenant IS NULL THEN COUNT(*) ELSE MIN(COUNT(*), ?) END AS w,"
            " AVG(rating) AS mean FROM market_reviews WHERE listing_id = ?"
            " GROUP BY tenant IS NULL, COALESCE(tenant, user))",
            (self.tenant_rating_cap, listing_id),
        ).fetchone()
        (reports,) = conn.execute(
            "SELECT COALESCE(SUM(w), 0) FROM ("
            " SELECT CASE WHEN tenant IS NULL THEN COUNT(*) ELSE MIN(COUNT(*), ?) END AS w"
            " FROM market_reports WHERE listing_id = ? GROUP BY tenant IS NULL,"
            " COALESCE(tenant, id))",
            (self.tenant_report_cap, listing_id),
        ).fetchone()
        conn.execute(
            "UPDATE market_listings SET rating_sum = ?, rating_count = ?, rating = ?,"
            " reports = ? WHERE id = ?",
            (total, count, total / count if count else 0.0, reports, listing_id),
        )

    async def put_review(self, review: Review) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO market_reviews VALUES (?,?,?,?,?) ON CONFLICT(listing_id, user)"
                " DO UPDATE SET rating = excluded.rating, record = excluded.record,"
                " tenant = excluded.tenant",
                (review.listing_id, review.user, review.rating, review.model_dump_json(),
                 review.tenant),
            )  # fmt: skip
            self._aggregate(conn, review.listing_id)

        await self._run(work, write=True)

    async def get_review(self, listing_id: str, user: str) -> Review | None:
        def work(conn: sqlite3.Connection) -> Review | None:
            row = conn.execute(
                "SELECT record FROM market_reviews WHERE listing_id = ? AND user = ?",
                (listing_id, user),
            ).fetchone()
            return Review.model_validate_json(row[0]) if row else None

        return await self._run(work)

    async def list_reviews(self, listing_id: str, limit: int = 100) -> list[Review]:
        def work(conn: sqlite3.Connection) -> list[Review]:
            rows = conn.execute(
                "SELECT record FROM market_reviews WHERE listing_id = ?"
                " ORDER BY rowid DESC LIMIT ?",
                (listing_id, limit),
            ).fetchall()
            return [Review.model_validate_json(r[0]) for r in rows]

        return await self._run(work)

    async def add_report(self, report: Report) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO market_reports VALUES (?,?,?,?)",
                (report.id, report.listing_id, report.model_dump_json(), report.tenant),
            )
            self._aggregate(conn, report.listing_id)

        await self._run(work, write=True)

    async def list_reports(self, listing_id: str) -> list[Report]:
        def work(conn: sqlite3.Connection) -> list[Report]:
            rows = conn.execute(
                "SELECT record FROM market_reports WHERE listing_id = ? ORDER BY rowid",
                (listing_id,),
            ).fetchall()
            return [Report.model_validate_json(r[0]) for r in rows]

        return await self._run(work)


def _add(conn: sqlite3.Connection, listing: Listing, version: VersionRecord) -> bool:
    """Store one version (and its listing when new); False when the version exists."""
    if conn.execute(
        "SELECT 1 FROM market_versions WHERE listing_id = ? AND version = ?",
        (version.listing_id, version.version),
    ).fetchone():
        return False
    exists = conn.execute("SELECT 1 FROM market_listings WHERE id = ?", (listing.id,)).fetchone()
    if not exists:
        meta = listing.meta
        conn.execute(
            "INSERT INTO market_listings (id, kind, owner, title, description, tags,"
            " category, difficulty_min, difficulty_max, worlds, languages, meta,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                listing.id,
                listing.kind,
                listing.owner,
                meta.title,
                meta.description,
                " ".join(meta.tags),
                meta.category,
                meta.difficulty_min,
                meta.difficulty_max,
                _bars(meta.worlds),
                _bars(meta.languages),
                meta.model_dump_json(),
                _when(listing.created_at),
                _when(listing.updated_at),
            ),
        )
    major, minor, patch = parse_semver(version.version)
    conn.execute(
        "INSERT INTO market_versions VALUES (?,?,?,?,?,?,?,?)",
        (
            version.listing_id,
            version.version,
            major,
            minor,
            patch,
            version.status,
            version.model_dump_json(),
            _when(version.created_at),
        ),
    )
    if version.status == "published":
        _refresh(conn, version.listing_id)
    return True


# -- rows -------------------------------------------------------------------------------

_FIELDS = (
    "id",
    "kind",
    "owner",
    "meta",
    "latest_version",
    "unlisted",
    "downloads",
    "rating",
    "rating_count",
    "reports",
    "created_at",
    "updated_at",
    "listed_seq",
)
_COLUMNS = ", ".join(_FIELDS)
_INDEX = {name: i for i, name in enumerate(_FIELDS)}


#: Words found in more than this share of listings narrow a search little and cost
#: much (a long posting list): with rarer words beside them they are left out.
COMMON_SHARE = 0.5
#: Up to this many matches, a search reads the matches and sorts them.
FTS_DRIVEN_MAX = 300
#: ``fts``: read the matches, look each listing up and sort them (cost grows with the
#: matches); ``list``: read the matches into a list and walk the sort's index keeping
#: listed rows until the page is full (cost grows with the matches and with the rows
#: skipped, few when matches are many); ``probe``: walk the sort's index and look each
#: row up in the full-text index (a costly look-up, but for words in most listings
#: few rows are skipped).
Plan = Literal["fts", "list", "probe"]


def plan_for(conn: sqlite3.Connection, text: str) -> tuple[str | None, Plan]:
    """The FTS5 query and the plan for the words of ``text``, from how many listings
    hold each word (the index's own counts: one look-up per word) and, when that does
    not settle it, the number of matches counted up to ``FTS_DRIVEN_MAX``."""
    words = search_words(text)
    if not words:
        return None, "list"
    (total,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM market_listings").fetchone()
    docs = {}
    for word in words:
        row = conn.execute("SELECT doc FROM market_vocab WHERE term = ?", (word,)).fetchone()
        docs[word] = row[0] if row else 0
    rare = [w for w in words if docs[w] <= COMMON_SHARE * total]
    if not rare:
        return fts_query(words), "probe"
    match = fts_query(rare)
    if min(docs[w] for w in rare) <= FTS_DRIVEN_MAX:
        return match, "fts"
    (count,) = conn.execute(
        "SELECT count(*) FROM (SELECT rowid FROM market_fts WHERE market_fts MATCH ? LIMIT ?)",
        (match, FTS_DRIVEN_MAX + 1),
    ).fetchone()
    return match, "fts" if count <= FTS_DRIVEN_MAX else "list"


def search_sql(
    query: SearchQuery, after: list[Any] | None, match: str | None = None, plan: Plan = "list"
) -> tuple[str, list[Any]]:
    """The SQL of one search page (one row more than the page, to know if there is a
    next one): ``match`` and ``plan`` from :func:`plan_for`. Public for the benchmark,
    which times it beside a LIKE baseline."""
    keys = _SORTS[query.sort]
    where = ["l.visible = 1"]
    args: list[Any] = []
    source = f"market_listings l INDEXED BY ix_market_{query.sort}"
    if match is not None and plan == "fts":
        source = "market_fts f CROSS JOIN market_listings l ON l.seq = f.rowid"
        where.append("market_fts MATCH ?")
        args.append(match)
    elif match is not None and plan == "list":
        where.append("l.seq IN (SELECT rowid FROM market_fts WHERE market_fts MATCH ?)")
        args.append(match)
    elif match is not None:
        where.append("EXISTS (SELECT 1 FROM market_fts WHERE market_fts MATCH ? AND rowid = l.seq)")
        args.append(match)
    if query.kind is not None:
        where.append("l.kind = ?")
        args.append(query.kind)
    if query.category is not None:
        where.append("l.category = ?")
        args.append(query.category)
    if query.world is not None:
        where.append("(instr(l.worlds, ?) > 0 OR instr(l.worlds, '|any|') > 0)")
        args.append(f"|{query.world}|")
    if query.language is not None:
        where.append("instr(l.languages, ?) > 0")
        args.append(f"|{query.language}|")
    if query.difficulty is not None:
        where.append("l.difficulty_min <= ? AND l.difficulty_max >= ?")
        args += [query.difficulty, query.difficulty]
    if query.min_rating is not None:
        where.append("l.rating_count > 0 AND l.rating >= ?")
        args.append(query.min_rating)
    if after is not None:
        columns = ", ".join(f"l.{k}" for k in keys)
        where.append(f"({columns}) < ({', '.join('?' for _ in keys)})")
        args += after
    order = ", ".join(f"l.{k} DESC" for k in keys)
    columns = ", ".join(f"l.{f}" for f in _FIELDS)
    sql = f"SELECT {columns} FROM {source} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?"
    args.append(query.limit + 1)
    return sql, args


def _listing(row: Sequence[Any]) -> Listing:
    try:
        meta = ListingMeta.model_validate_json(row[3])
    except ValueError:
        raise StoreCorrupt(
            f"marketplace listing {row[0]!r}: its metadata no longer "
            "validates; restore it from a backup"
        ) from None
    count = row[8]
    return Listing(
        id=row[0],
        kind=row[1],
        owner=row[2],
        meta=meta,
        latest_version=row[4],
        unlisted=row[5],
        downloads=row[6],
        rating=row[7] if count else None,
        ratings=count,
        reports=row[9],
        created_at=datetime.fromisoformat(row[10]),
        updated_at=datetime.fromisoformat(row[11]),
    )


def _version(raw: str) -> VersionRecord:
    try:
        return VersionRecord.model_validate_json(raw)
    except ValueError:
        raise StoreCorrupt(
            "a marketplace version row no longer validates; restore the file from a backup"
        ) from None


def _locked_version(conn: sqlite3.Connection, listing_id: str, version: str) -> VersionRecord:
    row = conn.execute(
        "SELECT record FROM market_versions WHERE listing_id = ? AND version = ?",
        (listing_id, version),
    ).fetchone()
    if row is None:
        raise StoreError(f"no version {version!r} of listing {listing_id!r}")
    return _version(row[0])


def _refresh(conn: sqlite3.Connection, listing_id: str) -> None:
    """Show the newest published version's metadata (the newest not deprecated, when
    there is one); visible when there is one and the listing is not unlisted. First
    publication takes the next ``listed_seq``."""
    found = conn.execute(
        "SELECT record FROM market_versions WHERE listing_id = ? AND status = 'published'"
        " ORDER BY major DESC, minor DESC, patch DESC",
        (listing_id,),
    )
    row = first = found.fetchone()
    while row is not None and _version(row[0]).deprecated is not None:
        row = found.fetchone()
    row = row or first
    now = _when(datetime.now(UTC))
    listed = conn.execute(
        "SELECT listed_seq, title, description, tags FROM market_listings WHERE id = ?",
        (listing_id,),
    ).fetchone()
    if row is not None and listed is not None and listed[0] is None:
        conn.execute(
            "INSERT INTO market_settings VALUES ('listed_seq', '1') ON CONFLICT(name)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        (number,) = conn.execute(
            "SELECT CAST(value AS INTEGER) FROM market_settings WHERE name = 'listed_seq'"
        ).fetchone()
        conn.execute("UPDATE market_listings SET listed_seq = ? WHERE id = ?", (number, listing_id))
    if row is None:
        conn.execute(
            "UPDATE market_listings SET latest_version = NULL, visible = 0,"
            " updated_at = ? WHERE id = ?",
            (now, listing_id),
        )
        return
    version = _version(row[0])
    meta = version.meta
    text = (meta.title, meta.description, " ".join(meta.tags))
    if listed is not None and tuple(listed[1:]) != text:  # only then touch the FTS index
        conn.execute("UPDATE market_listings SET title = ?, description = ?, tags = ?"
                     " WHERE id = ?", (*text, listing_id))  # fmt: skip
    conn.execute(
        "UPDATE market_listings SET category = ?, difficulty_min = ?, difficulty_max = ?,"
        " worlds = ?, languages = ?, meta = ?, latest_version = ?,"
        " visible = (unlisted IS NULL), updated_at = ? WHERE id = ?",
        (meta.category, meta.difficulty_min, meta.difficulty_max, _bars(meta.worlds),
         _bars(meta.languages), meta.model_dump_json(), version.version, now, listing_id),
    )  # fmt: skip


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    out: list[str] = []
    buffer = ""
    for line in script.strip().splitlines():
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        out.append(buffer.strip())
    return out


__all__ = [
    "COMMON_SHARE",
    "FTS_DRIVEN_MAX",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TENANT_RATING_CAP",
    "TENANT_REPORT_CAP",
    "MarketStore",
    "SQLiteMarketStore",
    "fts_query",
    "plan_for",
    "search_sql",
    "search_words",
]
