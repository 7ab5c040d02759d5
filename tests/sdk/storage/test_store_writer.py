"""The group-commit writer as a store sharing the SQLite file uses it: tables of its
own under their own schema version, statements of its own committed in the SDK's
transactions, and units of work whose errors stay their own."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import anyio
import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert

from encounters import StoreError
from encounters.models.audit import AuditEntry
from encounters.storage import SQLiteStore, WriteBatch
from encounters.storage.writer import CHECKPOINT_NICENESS, Statement, Write

notes_metadata = MetaData()
notes = Table(
    "test_notes",
    notes_metadata,
    Column("id", Integer, primary_key=True),
    Column("text", String(40), nullable=False),
)
NOTE = Statement("test_notes", insert(notes), rank=100)


def create_notes(conn: Connection) -> None:
    notes_metadata.create_all(conn)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def entry(tag: str) -> AuditEntry:
    return AuditEntry(kind="event", decision="allow", session_id=tag, input={})


def test_a_sharing_stores_rows_commit_with_the_sdks_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    async def main() -> None:
        async with SQLiteStore(path) as store:
            await store.migrate("test_notes_version", [create_notes])
            seqs = await store.write_batch(
                WriteBatch(audit=[entry("a")]), with_writes=[Write(NOTE, {"id": 1, "text": "a"})]
            )
            assert seqs == [1]
            # the same id again breaks the primary key: the audit entry goes too
            with pytest.raises(StoreError, match="was refused"):
                await store.write_batch(
                    WriteBatch(audit=[entry("b")]),
                    with_writes=[Write(NOTE, {"id": 1, "text": "b"})],
                )
            assert [e.session_id for e in await store.list_audit()] == ["a"]

    anyio.run(main)
    assert rows(path, "SELECT id, text FROM test_notes") == [(1, "a")]
    assert ("test_notes_version", "1") in rows(path, "SELECT key, value FROM schema_meta")


def test_a_unit_of_works_error_is_its_own(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    def count_then_fail(conn: sqlite3.Connection) -> int:
        (n,) = conn.execute("SELECT count(*) FROM test_notes").fetchone()
        raise ValueError(f"refused after seeing {n} note(s)")

    def count(conn: sqlite3.Connection) -> int:
        (n,) = conn.execute("SELECT count(*) FROM test_notes").fetchone()
        return int(n)

    async def main() -> None:
        async with SQLiteStore(path) as store:
            await store.migrate("test_notes_version", [create_notes])
            await store.migrate("test_notes_version", [create_notes])  # once is enough
            ok = Write(NOTE, {"id": 1, "text": "kept"})
            seen = Write(Statement("count", None, rank=101), {}, change=count)
            bad = Write(Statement("fail", None, rank=101), {}, change=count_then_fail)
            with pytest.raises(ValueError, match=r"after seeing 1 note\(s\)"):
                await store.commit([ok, seen, bad])
            assert ok.error is None and seen.result == 1  # ran in the same transaction

    anyio.run(main)
    assert rows(path, "SELECT text FROM test_notes") == [("kept",)]


def test_tables_of_a_newer_sharing_store_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    async def main(migrations: int) -> None:
        async with SQLiteStore(path) as store:
            await store.migrate("test_notes_version", [create_notes] * migrations)

    anyio.run(main, 2)
    with pytest.raises(StoreError, match="test notes version 2, newer than this SDK"):
        anyio.run(main, 1)


def test_checkpoints_yield_the_cpu_to_the_event_loop(tmp_path: Path) -> None:
    """The checkpoint thread (copying the WAL into the file, with an fsync) runs at a
    lower priority than the event loop's thread, so on a busy machine the loop's
    commits do not wait for a core behind it (Linux schedules each thread with its own
    nice value)."""
    checkpointed: list[tuple[str, int]] = []

    async def main() -> None:
        async with SQLiteStore(path := tmp_path / "s.db") as store:
            await store.append_audit([entry("a")])  # the first commit starts a checkpoint
            started = store._writer._checkpoint
            assert started is not None, "no checkpoint after a commit"
            await anyio.to_thread.run_sync(started.result, 10)  # ran in its thread
            for t in threading.enumerate():
                if t.name.startswith("ae-checkpoint") and t.native_id is not None:
                    niceness = os.getpriority(os.PRIO_PROCESS, t.native_id)
                    checkpointed.append((t.name, niceness))
        assert rows(path, "SELECT count(*) FROM audit_log") == [(1,)]

    loop_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    anyio.run(main)
    assert [n for _, n in checkpointed] == [min(19, loop_niceness + CHECKPOINT_NICENESS)]
