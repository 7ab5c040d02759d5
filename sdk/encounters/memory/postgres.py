"""NPC memory in the PostgreSQL store's database, so every node using that store sees
the same memories (a game server's link moving to another node keeps its companions'
memories of the players).

Tables (their own schema version, ``npc_memory_version`` in ``schema_meta``, migrated
under the store's migration lock): ``npc_memory_meta`` (the sealed check value),
``npc_memory_profiles`` (one sealed profile per pair) and ``npc_memories`` (sealed
memories, with the time, the importance and the blind tokens of the words in the
clear). Rows are sealed as in ``memory.db`` (:mod:`.crypto`, the same associated data),
so :func:`copy_memory_file` copies a file's blobs as they are. Nothing is plaintext
dialogue or ids.

Relevance is BM25 computed here over the pair's rows (a pair holds at most the
manager's budget of memories), with FTS5's parameters and formula (k1 1.2, b 0.75, an
idf of at most-zero clamped to 1e-6). Limits: the statistics are the pair's, where
FTS5's are the whole file's, so scores differ from ``memory.db``'s while the order of
one pair's memories stays close; the manager only uses them relative to the best match.

Writes of one pair from :meth:`PostgresMemory.locked` are one transaction holding a
transaction-level advisory lock of the pair, so two nodes recording for one pair at
once are serialised: neither loses a memory or the other's profile update.
"""

from __future__ import annotations

import math
import sqlite3
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import StoreError
from ..storage.postgres import PostgresStore
from .backend import (
    CHECK_VALUE,
    Row,
    memory_context,
    pair_id,
    player_id_blind,
    profile_context,
)
from .crypto import MemoryCipher, MemoryKeyError
from .models import MemoryKind, NPCMemory

#: The schema version of these tables, counted apart from the store's.
TRACK = "npc_memory_version"
#: FTS5's BM25 parameters.
_K1, _B = 1.2, 0.75

metadata = MetaData()
memory_meta = Table(
    "npc_memory_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)
memory_profiles = Table(
    "npc_memory_profiles",
    metadata,
    Column("pair", String(32), primary_key=True),
    Column("player", String(32), nullable=False),
    Column("last_met", Float, nullable=False),
    Column("blob", LargeBinary, nullable=False),
    Index("ix_npc_memory_profiles_player", "player", "last_met"),
)
memories = Table(
    "npc_memories",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("pair", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", Float, nullable=False),
    Column("importance", Float, nullable=False),
    Column("words", Text, nullable=False),  #: blind tokens, space-separated
    Column("blob", LargeBinary, nullable=False),
    Index("ix_npc_memories_pair_at", "pair", "at"),
)


def _v1_tables(conn: Connection) -> None:
    metadata.create_all(conn)


#: ``MIGRATIONS[i]`` brings the memory tables from version ``i`` to ``i + 1``.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_tables]


def _int32(value: int) -> int:
    """An unsigned 32-bit value as PostgreSQL's (signed) ``integer``."""
    return value - (1 << 32) if value >= 1 << 31 else value


class PostgresMemory:
    """NPC memories in ``store``'s database (through its connection pool; the store
    owns the pool, so :meth:`close` closes nothing). The store must be open before
    the first call; :meth:`open` migrates the tables and checks the key, and every
    other method opens first."""

    shared = True

    def __init__(
        self, store: PostgresStore, cipher: MemoryCipher, *, _tx: AsyncConnection | None = None
    ) -> None:
        self.store = store
        self.cipher = cipher
        self._tx = _tx  #: the transaction of a :meth:`locked` view
        self._opened = _tx is not None
        # advisory locks of pairs: a key space of the store's schema (two-int locks do
        # not overlap the store's one-bigint ones)
        self._lock_space = _int32(zlib.crc32(b"npc-memory/" + (store.schema or "").encode()))

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._opened:
            return
        await self.store.migrate(TRACK, MIGRATIONS)
        sealed = self.cipher.seal(CHECK_VALUE, b"meta")
        async with self._begin() as conn:  # the first node to open seals the check value
            await conn.execute(
                pg_insert(memory_meta)
                .values(key="check", value=sealed)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            stored = (
                await conn.execute(select(memory_meta.c.value).where(memory_meta.c.key == "check"))
            ).scalar_one()
        try:
            ok = self.cipher.open(bytes(stored), b"meta") == CHECK_VALUE
        except MemoryKeyError:
            ok = False
        if not ok:
            raise MemoryKeyError(
                f"the NPC memories in the PostgreSQL store {self.store.where} were written "
                "with another key: set AE_MEMORY_KEY to the key every node uses (the one "
                "they were written with)"
            )
        self._opened = True

    def close(self) -> None:
        """Nothing to close: the connections are the store's."""

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """This view's transaction, or a new one committed on leaving; an unreachable
        server or a refused statement is a :class:`StoreError`."""
        if self._tx is not None:
            yield self._tx
            return
        async with self.store.transaction() as conn:
            yield conn

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[AsyncConnection]:
        await self.open()
        async with self._begin() as conn:
            yield conn

    @asynccontextmanager
    async def locked(self, pair: str) -> AsyncIterator[PostgresMemory]:
        if self._tx is not None:
            raise StoreError("NPC memory: locked() within locked()")
        async with self._conn() as conn:
            lock = _int32(zlib.crc32(pair.encode()))
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:space, :key)"),
                {"space": self._lock_space, "key": lock},
            )
            yield PostgresMemory(self.store, self.cipher, _tx=conn)

    # -- pairs -------------------------------------------------------------------------

    def pair(self, npc_id: str, player_id: str, scope: str | None = None) -> str:
        return pair_id(self.cipher, npc_id, player_id, scope)

    def _profile(self, pair: str, blob: bytes) -> NPCMemory:
        return NPCMemory.model_validate_json(self.cipher.open(bytes(blob), profile_context(pair)))

    async def load_profile(self, pair: str) -> NPCMemory | None:
        async with self._conn() as conn:
            blob = (
                await conn.execute(
                    select(memory_profiles.c.blob).where(memory_profiles.c.pair == pair)
                )
            ).scalar()
        return None if blob is None else self._profile(pair, blob)

    async def profiles_of(
        self, player_id: str, limit: int, scope: str | None = None
    ) -> list[NPCMemory]:
        async with self._conn() as conn:
            rows = (
                await conn.execute(
                    select(memory_profiles.c.pair, memory_profiles.c.blob)
                    .where(
                        memory_profiles.c.player == player_id_blind(self.cipher, player_id, scope)
                    )
                    .order_by(memory_profiles.c.last_met.desc())
                    .limit(limit)
                )
            ).all()
        return [self._profile(pair, blob) for pair, blob in rows]

    async def save_profile(self, pair: str, profile: NPCMemory, scope: str | None = None) -> None:
        sealed = self.cipher.seal(profile.model_dump_json().encode(), profile_context(pair))
        last = profile.last_met.timestamp() if profile.last_met else 0.0
        stmt = pg_insert(memory_profiles).values(
            pair=pair,
            player=player_id_blind(self.cipher, profile.player_id, scope),
            last_met=last,
            blob=sealed,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["pair"],
            set_={"last_met": stmt.excluded.last_met, "blob": stmt.excluded.blob},
        )
        async with self._conn() as conn:
            await conn.execute(stmt)

    # -- memories ------------------------------------------------------------------------

    async def add(
        self, pair: str, kind: MemoryKind, at: float, importance: float, text: str, payload: bytes
    ) -> int:
        async with self._conn() as conn:
            return await self._insert(conn, pair, kind, at, importance, text, payload)

    async def _insert(
        self,
        conn: AsyncConnection,
        pair: str,
        kind: MemoryKind,
        at: float,
        importance: float,
        words: str,
        payload: bytes,
    ) -> int:
        # the id first: it is part of the sealed row's associated data
        row_id = int(
            (
                await conn.execute(
                    text("SELECT nextval(pg_get_serial_sequence('npc_memories', 'id'))")
                )
            ).scalar_one()
        )
        await conn.execute(
            insert(memories).values(
                id=row_id, pair=pair, kind=kind, at=at, importance=importance,
                words=" ".join(self.cipher.tokens(words)),
                blob=self.cipher.seal(payload, memory_context(pair, kind, row_id)),
            )
        )  # fmt: skip
        return row_id

    async def count(self, pair: str) -> int:
        async with self._conn() as conn:
            n = (
                await conn.execute(
                    select(func.count()).select_from(memories).where(memories.c.pair == pair)
                )
            ).scalar_one()
        return int(n)

    async def rows(self, pair: str, kind: MemoryKind | None = None) -> list[Row]:
        stmt = select(memories.c.id, memories.c.kind, memories.c.at, memories.c.importance).where(
            memories.c.pair == pair
        )
        if kind is not None:
            stmt = stmt.where(memories.c.kind == kind)
        async with self._conn() as conn:
            found = (await conn.execute(stmt.order_by(memories.c.at, memories.c.id))).all()
        return [Row(int(i), k, float(a), float(imp)) for i, k, a, imp in found]

    async def relevance(self, pair: str, query: str, limit: int) -> dict[int, float]:
        tokens = set(self.cipher.tokens(query))
        if not tokens:
            return {}
        async with self._conn() as conn:
            found = (
                await conn.execute(
                    select(memories.c.id, memories.c.words).where(memories.c.pair == pair)
                )
            ).all()
        scores = bm25({int(i): w.split() for i, w in found}, tokens)
        best = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:limit]
        return dict(best)

    async def payloads(self, pair: str, ids: list[int]) -> dict[int, tuple[MemoryKind, bytes]]:
        if not ids:
            return {}
        async with self._conn() as conn:
            found = (
                await conn.execute(
                    select(memories.c.id, memories.c.kind, memories.c.blob).where(
                        memories.c.pair == pair, memories.c.id.in_(ids)
                    )
                )
            ).all()
        return {
            int(row_id): (kind, self.cipher.open(bytes(blob), memory_context(pair, kind, row_id)))
            for row_id, kind, blob in found
        }

    async def replace(
        self, pair: str, drop: list[int], summary_at: float, summary: str, importance: float
    ) -> bool:
        if self._tx is None:
            async with self.locked(pair) as view:
                return await view.replace(pair, drop, summary_at, summary, importance)
        conn = self._tx  # the pair's lock is held: the rows cannot go meanwhile
        where = (memories.c.pair == pair, memories.c.id.in_(drop))
        found = (
            await conn.execute(select(func.count()).select_from(memories).where(*where))
        ).scalar_one()
        if found != len(set(drop)):  # folded by another node meanwhile
            return False
        await conn.execute(delete(memories).where(*where))
        await self._insert(conn, pair, "summary", summary_at, importance, summary, summary.encode())
        return True


def bm25(docs: dict[int, list[str]], query: set[str]) -> dict[int, float]:
    """BM25 of each document (its tokens) sharing a token with ``query``, with FTS5's
    formula and parameters over these documents' statistics."""
    if not docs:
        return {}
    n = len(docs)
    avgdl = sum(len(d) for d in docs.values()) / n or 1.0
    idf = {}
    for term in query:
        having = sum(1 for d in docs.values() if term in d)
        if having:
            idf[term] = max(math.log((n - having + 0.5) / (having + 0.5)), 1e-6)
    out: dict[int, float] = {}
    for doc_id, doc in docs.items():
        score = 0.0
        for term, weight in idf.items():
            tf = doc.count(term)
            if tf:
                score += weight * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * len(doc) / avgdl))
        if score > 0:
            out[doc_id] = score
    return out


@dataclass(frozen=True)
class MemoryRows:
    """The rows of a memory file, read in one snapshot (blobs as they are)."""

    meta: list[tuple[Any, ...]]
    profiles: list[tuple[Any, ...]]
    memories: list[tuple[Any, ...]]


def read_memory_file(source: Path) -> MemoryRows:
    """Every row of the memory file ``source`` (``memory.db``), read-only, in one read
    transaction."""
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the NPC memory file {str(source)!r}: {exc}") from None
    try:
        src.execute("BEGIN")
        return MemoryRows(
            meta=src.execute("SELECT key, value FROM meta").fetchall(),
            profiles=src.execute("SELECT pair, player, last_met, blob FROM profiles").fetchall(),
            memories=src.execute(
                "SELECT m.id, m.pair, m.kind, m.at, m.importance, i.words, m.blob "
                "FROM memories m JOIN memory_index i ON i.rowid = m.id ORDER BY m.id"
            ).fetchall(),
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the NPC memory file {str(source)!r}: {exc}") from None
    finally:
        src.close()


async def write_memory_rows(conn: AsyncConnection, rows: MemoryRows, where: str) -> int:
    """Write ``rows`` into the memory tables on ``conn`` (in its transaction; the tables
    migrated), ids kept and the id sequence moved past them, the file's check value
    replacing any other; returns the number of memories. Raises :class:`StoreError`
    when the tables already hold memories or profiles."""
    held = 0
    for table in (memory_profiles, memories):
        held += (await conn.execute(select(func.count()).select_from(table))).scalar_one()
    if held:
        raise StoreError(
            f"the PostgreSQL store {where} already holds NPC memories: the memory file "
            "can only be copied into empty memory tables"
        )
    await conn.execute(delete(memory_meta))
    records: list[tuple[Table, list[dict[str, Any]]]] = [
        (memory_meta, [{"key": k, "value": v} for k, v in rows.meta]),
        (memory_profiles, [
            {"pair": p, "player": pl, "last_met": lm, "blob": b}
            for p, pl, lm, b in rows.profiles
        ]),
        (memories, [
            {"id": i, "pair": p, "kind": k, "at": a, "importance": imp, "words": w, "blob": b}
            for i, p, k, a, imp, w, b in rows.memories
        ]),
    ]  # fmt: skip
    for table, values in records:
        for start in range(0, len(values), 1000):
            await conn.execute(insert(table), values[start : start + 1000])
    await conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('npc_memories', 'id'), "
            "COALESCE((SELECT max(id) FROM npc_memories), 0) + 1, false)"
        )
    )
    return len(rows.memories)


async def copy_memory_file(source: Path, target: PostgresStore) -> int:
    """Copy the memory file ``source`` (``memory.db``) into the memory tables of
    ``target`` (open), blobs as they are (sealed with the file's key, which every node
    must then use as ``AE_MEMORY_KEY``), in one transaction; returns the number of
    memories copied. ``ae store migrate`` does this inside its own copy's transaction
    (:func:`~encounters.storage.transfer.copy_sqlite_to_postgres`)."""
    rows = read_memory_file(source)
    await target.migrate(TRACK, MIGRATIONS)
    async with target.transaction() as conn:
        return await write_memory_rows(conn, rows, target.where)
