"""The stores (SQLite, in memory, PostgreSQL): persistence across restarts,
concurrency, damage handling. PostgreSQL tests need the server at 127.0.0.1:5432
(see tests/support/services.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from pydantic import BaseModel
from sqlalchemy import text

from encounters import EncounterSpec, Session, StoreCorrupt, StoreError
from encounters.models import Category, SessionStatus
from encounters.storage import SQLiteStore, Store
from encounters.storage.postgres import PostgresStore
from encounters.storage.schema import SCHEMA_VERSION
from tests.conftest import encounter_dict


def make_spec(i: int = 0, category: str = "combat") -> EncounterSpec:
    return EncounterSpec.model_validate(encounter_dict(id=f"enc_{i}", category=category))


SQLStore = SQLiteStore | PostgresStore


@pytest.fixture
def store(new_store: Callable[[], Store]) -> Store:
    return new_store()


async def run_sql(store: SQLStore, sql: str, **params: str) -> None:
    """Change the database behind the store's back (as another program could)."""
    async with store.engine.begin() as conn:
        await conn.execute(text(sql), params)


def test_save_get_list_and_filter(store: Store) -> None:
    async def main() -> None:
        async with store:
            await store.save_encounter(make_spec(1, "combat"))
            await store.save_encounter(make_spec(2, "puzzle"))
            assert await store.get_encounter("missing") is None
            got = await store.get_encounter("enc_1")
            assert got is not None and got.id == "enc_1"
            assert [e.id for e in await store.list_encounters()] == ["enc_2", "enc_1"]
            puzzles = await store.list_encounters(category=Category.PUZZLE)
            assert [e.id for e in puzzles] == ["enc_2"]

            a = Session.start("alice", make_spec(1))
            b = Session.start("bob", make_spec(2))
            for s in (a, b):
                await store.save_session(s)
            b.status = SessionStatus.FAILED
            await store.save_session(b)
            assert {s.id for s in await store.list_sessions(player_id="alice")} == {a.id}
            failed = await store.list_sessions(status=SessionStatus.FAILED)
            assert [s.id for s in failed] == [b.id]
            assert await store.get_session(b.id) == b
            # reads are copies: changing one does not change the store
            copy = await store.get_session(a.id)
            assert copy is not None
            copy.status = SessionStatus.ABANDONED
            again = await store.get_session(a.id)
            assert again is not None and again.status is SessionStatus.ACTIVE

    anyio.run(main)


def test_a_deleted_document_is_gone_and_its_neighbours_stay(store: Store) -> None:
    class Note(BaseModel):
        text: str

    async def main() -> None:
        async with store:
            for key in ("a/1", "a/2", "b/1"):
                await store.save_document("note", key, Note(text=key))
            await store.save_document("other", "a/1", Note(text="other kind"))
            assert await store.delete_document("note", "a/1") is True
            assert await store.delete_document("note", "a/1") is False
            assert await store.delete_document("note", "missing") is False
            assert await store.get_document("note", "a/1", Note) is None
            assert [n.text for n in await store.list_documents("note", Note)] == ["a/2", "b/1"]
            assert await store.get_document("other", "a/1", Note) == Note(text="other kind")
            await store.save_document("note", "a/1", Note(text="again"))
            assert await store.get_document("note", "a/1", Note) == Note(text="again")

    anyio.run(main)


def test_everything_survives_a_restart(new_sql_store: Callable[[], SQLStore]) -> None:
    async def write() -> str:
        async with new_sql_store() as store:
            await store.save_encounter(make_spec(1))
            session = Session.start("alice", make_spec(1))
            await store.save_session(session)
            return session.id

    async def read(session_id: str) -> None:
        async with new_sql_store() as store:
            assert (await store.get_encounter("enc_1")) is not None
            got = await store.get_session(session_id)
            assert got is not None and got.player_id == "alice"
            assert await store.schema_version() == SCHEMA_VERSION

    sid = anyio.run(write)
    anyio.run(read, sid)


def test_the_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "encounters.db"

    async def create() -> None:
        async with SQLiteStore(path):
            pass

    anyio.run(create)
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_stores_opening_one_fresh_file_together_all_open(tmp_path: Path) -> None:
    """Nodes of one deployment starting at once on a new data folder: every one opens
    (switching a fresh file to WAL at the same moment deadlocks inside SQLite, which
    answers "database is locked" without waiting)."""

    async def main(path: Path) -> None:
        stores = [SQLiteStore(path) for _ in range(8)]
        try:
            async with anyio.create_task_group() as tg:
                for store in stores:
                    tg.start_soon(store.open)
            for store in stores:
                assert await store.schema_version() == SCHEMA_VERSION
        finally:
            for store in stores:
                await store.close()

    for round_ in range(12):
        path = tmp_path / f"round{round_}" / "encounters.db"
        anyio.run(main, path)
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_read_cancelled_at_any_moment_leaves_no_task_behind(tmp_path: Path) -> None:
    """Readers cancelled while their connections are set up or given back (a client
    that went away): once the store is closed nothing is left running, so the process
    can exit (a task left waiting on a closed connection's thread hangs the event
    loop's shutdown forever)."""

    async def main() -> None:
        me = asyncio.current_task()
        for turns in range(40):
            store = SQLiteStore(tmp_path / f"t{turns}.db")
            async with store, anyio.create_task_group() as tg:
                for _ in range(3):  # more readers than pooled connections: new ones
                    tg.start_soon(store.list_sessions)
                for _ in range(turns):
                    await anyio.lowlevel.checkpoint()
                tg.cancel_scope.cancel()
            left = [task for task in asyncio.all_tasks() if task is not me]
            assert left == [], f"cancelled after {turns} loop turns, still running: {left}"

    anyio.run(main)


def test_concurrent_writers_lose_nothing(new_sql_store: Callable[[], SQLStore]) -> None:
    async def main() -> None:
        async with new_sql_store() as store:
            spec = make_spec(1)
            sessions = [Session.start(f"p{i % 7}", spec) for i in range(200)]
            async with anyio.create_task_group() as tg:
                for s in sessions:
                    tg.start_soon(store.save_session, s)
                for i in range(50):
                    tg.start_soon(store.save_encounter, make_spec(100 + i))
            listed = await store.list_sessions(limit=1000)
            assert {s.id for s in listed} == {s.id for s in sessions}
            assert len(await store.list_encounters(limit=1000)) == 50

    anyio.run(main)


def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "encounters.db"
    garbage = b"this is not sqlite at all\x00\xff" * 100
    path.write_bytes(garbage)

    async def main() -> None:
        async with SQLiteStore(path):
            pass

    with pytest.raises(StoreCorrupt) as info:
        anyio.run(main)
    assert str(path) in str(info.value) and "left untouched" in str(info.value)
    assert path.read_bytes() == garbage


def test_a_damaged_page_is_reported_not_repaired(tmp_path: Path) -> None:
    path = tmp_path / "encounters.db"

    async def setup() -> None:
        async with SQLiteStore(path) as store:
            await store.save_encounter(make_spec(1))

    anyio.run(setup)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xde\xad" * ((4096 - 100) // 2)  # smash the schema page
    path.write_bytes(bytes(data))
    before = path.read_bytes()

    async def reopen() -> None:
        async with SQLiteStore(path):
            pass

    with pytest.raises(StoreError):
        anyio.run(reopen)
    assert path.read_bytes() == before


def test_a_damaged_row_does_not_hide_the_others(new_sql_store: Callable[[], SQLStore]) -> None:
    good = Session.start("alice", make_spec(1))
    bad = Session.start("alice", make_spec(2))

    async def setup() -> None:
        async with new_sql_store() as store:
            await store.save_session(good)
            await store.save_session(bad)
            await run_sql(store, "UPDATE sessions SET data = '{\"oops\": 1}' WHERE id = :id",
                          id=bad.id)  # fmt: skip

    anyio.run(setup)

    async def check() -> None:
        async with new_sql_store() as store:
            with pytest.raises(StoreCorrupt) as info:
                await store.get_session(bad.id)
            assert bad.id in str(info.value) and "other rows are unaffected" in str(info.value)
            assert await store.get_session(good.id) == good
            assert [s.id for s in await store.list_sessions()] == [good.id]

    anyio.run(check)


def test_a_store_from_a_newer_sdk_is_refused(new_sql_store: Callable[[], SQLStore]) -> None:
    async def open_close() -> None:
        async with new_sql_store():
            pass

    async def from_the_future() -> None:
        async with new_sql_store() as store:
            await run_sql(store, "UPDATE schema_meta SET value = '999' "
                                 "WHERE key = 'schema_version'")  # fmt: skip

    anyio.run(from_the_future)
    with pytest.raises(StoreError, match="newer than this SDK understands"):
        anyio.run(open_close)


def test_using_a_closed_store_says_how_to_open_it(new_sql_store: Callable[[], SQLStore]) -> None:
    async def main() -> None:
        await new_sql_store().get_session("s")

    with pytest.raises(StoreError, match="not open"):
        anyio.run(main)
