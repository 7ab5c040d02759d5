"""The NPC memory file: SQLite with an FTS5 index over blind tokens, rows sealed with
AES-GCM (see :mod:`.crypto`).

Tables: ``profiles`` (one sealed :class:`~.models.NPCMemory` per NPC-player pair),
``memories`` (sealed interactions, summaries and facts, with the time and importance
in the clear for ranking), ``memory_index`` (FTS5: the pair's token and the blind
tokens of the words) and ``meta`` (a sealed check value, so a wrong key fails when the
file is opened, not at the first read). Nothing in the file is plaintext dialogue.

It implements :class:`~.backend.MemoryBackend` for one process: the methods are
``async`` for the protocol's sake, but the SQLite calls inside are synchronous and short
(indexed reads of one pair, single-row writes) and run on the event loop's thread, as
the main store does for small writes. :meth:`MemoryFile.locked` adds no transaction:
the file has one writer, whose manager holds the pair's lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from ..storage.wal import use_wal
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

__all__ = ["MemoryFile", "Row"]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (
    pair TEXT PRIMARY KEY, player TEXT NOT NULL, last_met REAL NOT NULL, blob BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_profiles_player ON profiles (player, last_met);
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY, pair TEXT NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL,
    importance REAL NOT NULL, blob BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_memories_pair_at ON memories (pair, at);
CREATE VIRTUAL TABLE IF NOT EXISTS memory_index USING fts5 (pair, words);
"""


class MemoryFile:
    """``path`` None keeps everything in memory (``AE_STORE=memory``). The key is
    checked when the file is opened (here)."""

    shared = False

    def __init__(self, path: Path | None, cipher: MemoryCipher) -> None:
        self.path = path
        self.cipher = cipher
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path) if path else ":memory:", isolation_level=None, check_same_thread=False
        )
        try:
            if path is not None:
                use_wal(self._db)
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_key()
        except BaseException:
            self._db.close()
            raise

    def _check_key(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'check'").fetchone()
        if row is None:
            sealed = self.cipher.seal(CHECK_VALUE, b"meta")
            self._db.execute("INSERT INTO meta (key, value) VALUES ('check', ?)", (sealed,))
            return
        try:
            ok = self.cipher.open(row[0], b"meta") == CHECK_VALUE
        except MemoryKeyError:
            ok = False
        if not ok:
            where = str(self.path) if self.path else "memory"
            raise MemoryKeyError(
                f"the NPC memory file {where!r} was written with another key: set "
                "AE_MEMORY_KEY (or restore memory.key) to the key it was written with, or "
                "move the file aside to start with empty memories"
            )

    async def open(self) -> None:
        """Nothing to do: the file was opened, and its key checked, on construction."""

    def close(self) -> None:
        self._db.close()

    @asynccontextmanager
    async def locked(self, pair: str) -> AsyncIterator[MemoryFile]:
        yield self

    # -- pairs -------------------------------------------------------------------------

    def pair(self, npc_id: str, player_id: str, scope: str | None = None) -> str:
        return pair_id(self.cipher, npc_id, player_id, scope)

    async def load_profile(self, pair: str) -> NPCMemory | None:
        row = self._db.execute("SELECT blob FROM profiles WHERE pair = ?", (pair,)).fetchone()
        if row is None:
            return None
        return NPCMemory.model_validate_json(self.cipher.open(row[0], profile_context(pair)))

    async def profiles_of(
        self, player_id: str, limit: int, scope: str | None = None
    ) -> list[NPCMemory]:
        """The player's profiles, most recently met first."""
        rows = self._db.execute(
            "SELECT pair, blob FROM profiles WHERE player = ? ORDER BY last_met DESC LIMIT ?",
            (player_id_blind(self.cipher, player_id, scope), limit),
        ).fetchall()
        return [
            NPCMemory.model_validate_json(self.cipher.open(blob, profile_context(pair)))
            for pair, blob in rows
        ]

    async def save_profile(self, pair: str, profile: NPCMemory, scope: str | None = None) -> None:
        sealed = self.cipher.seal(profile.model_dump_json().encode(), profile_context(pair))
        last = profile.last_met.timestamp() if profile.last_met else 0.0
        self._db.execute(
            "INSERT INTO profiles (pair, player, last_met, blob) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (pair) DO UPDATE SET last_met = excluded.last_met, blob = excluded.blob",
            (pair, player_id_blind(self.cipher, profile.player_id, scope), last, sealed),
        )

    # -- memories ------------------------------------------------------------------------

    async def add(
        self, pair: str, kind: MemoryKind, at: float, importance: float, text: str, payload: bytes
    ) -> int:
        """Store one memory and index its words; one transaction (or part of the one
        :meth:`transaction` holds open: imports, benchmarks)."""
        if self._db.in_transaction:
            return self._insert(pair, kind, at, importance, text, payload)
        with self.transaction():
            return self._insert(pair, kind, at, importance, text, payload)

    def _insert(
        self, pair: str, kind: MemoryKind, at: float, importance: float, text: str, payload: bytes
    ) -> int:
        cur = self._db.execute(
            "INSERT INTO memories (pair, kind, at, importance, blob) VALUES (?, ?, ?, ?, ?)",
            (pair, kind, at, importance, b""),
        )
        row_id = int(cur.lastrowid or 0)
        sealed = self.cipher.seal(payload, memory_context(pair, kind, row_id))
        self._db.execute("UPDATE memories SET blob = ? WHERE id = ?", (sealed, row_id))
        self._db.execute(
            "INSERT INTO memory_index (rowid, pair, words) VALUES (?, ?, ?)",
            (row_id, pair, " ".join(self.cipher.tokens(text))),
        )
        return row_id

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def count(self, pair: str) -> int:
        (n,) = self._db.execute("SELECT count(*) FROM memories WHERE pair = ?", (pair,)).fetchone()
        return int(n)

    async def rows(self, pair: str, kind: MemoryKind | None = None) -> list[Row]:
        sql = "SELECT id, kind, at, importance FROM memories WHERE pair = ?"
        args: tuple[str, ...] = (pair,)
        if kind is not None:
            sql += " AND kind = ?"
            args = (pair, kind)
        return [Row(*r) for r in self._db.execute(sql + " ORDER BY at, id", args).fetchall()]

    async def relevance(self, pair: str, query: str, limit: int) -> dict[int, float]:
        """BM25 as FTS5 computes it (over the whole file's statistics)."""
        tokens = sorted(set(self.cipher.tokens(query)))
        if not tokens:
            return {}
        match = f"pair : {pair} AND words : ({' OR '.join(tokens)})"
        rows = self._db.execute(
            "SELECT rowid, bm25(memory_index, 0.0, 1.0) FROM memory_index "
            "WHERE memory_index MATCH ? ORDER BY bm25(memory_index, 0.0, 1.0) LIMIT ?",
            (match, limit),
        ).fetchall()
        return {int(r): -float(score) for r, score in rows}

    async def payloads(self, pair: str, ids: list[int]) -> dict[int, tuple[MemoryKind, bytes]]:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT id, kind, blob FROM memories WHERE pair = ? AND id IN ({marks})",
            (pair, *ids),
        ).fetchall()
        return {
            row_id: (kind, self.cipher.open(blob, memory_context(pair, kind, row_id)))
            for row_id, kind, blob in rows
        }

    async def replace(
        self, pair: str, drop: list[int], summary_at: float, summary: str, importance: float
    ) -> bool:
        """A crash keeps the memories or the summary, never neither."""
        marks = ",".join("?" * len(drop))
        with self.transaction():
            (found,) = self._db.execute(
                f"SELECT count(*) FROM memories WHERE pair = ? AND id IN ({marks})", (pair, *drop)
            ).fetchone()
            if found != len(set(drop)):
                return False
            self._db.execute(f"DELETE FROM memories WHERE id IN ({marks})", drop)
            self._db.execute(f"DELETE FROM memory_index WHERE rowid IN ({marks})", drop)
            self._insert(pair, "summary", summary_at, importance, summary, summary.encode())
        return True
