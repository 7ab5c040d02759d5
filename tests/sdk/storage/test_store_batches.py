"""Write batches and bridge link outboxes: what lands together, in which order, and
what survives a restart, a concurrent writer and the schema migration to v6."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from encounters import StoreError
from encounters.models.audit import AuditEntry
from encounters.models.bridge import LinkRecord
from encounters.models.deployment import CompanionSession
from encounters.storage import LinkWrite, MemoryStore, SQLiteStore, Store, WriteBatch
from encounters.storage.postgres import PostgresStore
from encounters.storage.schema import SCHEMA_VERSION, metadata

pytestmark = pytest.mark.anyio
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
V5_TABLES = {"schema_meta", "encounters", "sessions", "audit_log", "llm_usage", "api_keys",
             "world_keys", "bridge_links", "personas", "deploy_tokens",
             "companion_sessions"}  # fmt: skip


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store(new_store: Callable[[], Store]) -> Store:
    """Every backend (the PostgreSQL store keeps no links: the bridge does)."""
    return new_store()


@pytest.fixture(params=["sqlite", "memory"])
def link_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The stores that keep the daemon's links and their outbox."""
    return SQLiteStore(tmp_path / "s.db") if request.param == "sqlite" else MemoryStore()


def frame(s: int) -> dict[str, Any]:
    return {"op": "dispatch", "d": {"n": s, "say": "héllo ✓", "xyz": [1.5, None]}, "s": s}


def link(link_id: str = "lnk_1", server: str = "srv-1", at: datetime = T0) -> LinkRecord:
    return LinkRecord(
        id=link_id, world="gmod", server_id=server, key_id="wk_1", token_hash="h", updated_at=at
    )


def entry(tag: str, n: int = 0) -> AuditEntry:
    return AuditEntry(kind="event", decision="allow", session_id=tag, input={"tag": tag, "n": n})


def companion(cid: str, sent: int = 0) -> CompanionSession:
    return CompanionSession(
        id=cid, persona_id="per_1", world="gmod", server_id="srv-1", actions_sent=sent
    )


async def outbox(store: Store, link_id: str = "lnk_1") -> list[int]:
    got = await store.get_link(link_id)
    assert got is not None
    return [f["s"] for f in got.unacked]


# -- every store ------------------------------------------------------------------------


async def test_outbox_appends_in_order_trims_up_to_acked_and_replaces(link_store: Store) -> None:
    async with link_store as store:
        rec = link()
        await store.write_batch(WriteBatch(links=[LinkWrite(rec, [frame(s) for s in (1, 2, 3)])]))
        got = await store.get_link("lnk_1")
        assert got is not None and got.unacked == [frame(1), frame(2), frame(3)]
        # the record's own `unacked` is ignored by a LinkWrite
        junk = rec.model_copy(update={"unacked": [frame(99)], "out_s": 5})
        await store.write_batch(WriteBatch(links=[LinkWrite(junk, [frame(4), frame(5)])]))
        assert await outbox(store) == [1, 2, 3, 4, 5]
        got = await store.get_link("lnk_1")
        assert got is not None and got.out_s == 5  # the record itself was upserted
        await store.write_batch(WriteBatch(links=[LinkWrite(rec, acked=3)]))
        assert await outbox(store) == [4, 5]
        await store.write_batch(WriteBatch(links=[LinkWrite(rec, [frame(6)], acked=4)]))
        assert await outbox(store) == [5, 6]
        await store.write_batch(WriteBatch(links=[LinkWrite(rec, [frame(10)], replace=True)]))
        assert await outbox(store) == [10]
        await store.write_batch(WriteBatch(links=[LinkWrite(rec, acked=10)]))
        assert await outbox(store) == []
        assert await store.get_link("lnk_other") is None


async def test_save_link_round_trips_unacked_exactly(link_store: Store) -> None:
    async with link_store as store:
        frames = [frame(7), {"op": "x", "d": {"deep": {"a": [True, {"b": "ü"}]}}, "s": 8}]
        rec = link().model_copy(update={"unacked": frames, "out_s": 8, "in_s": 3})
        await store.save_link(rec)
        assert await store.get_link("lnk_1") == rec
        # saving again replaces the stored dispatches, it does not add to them
        shorter = rec.model_copy(update={"unacked": [frame(9)]})
        await store.save_link(shorter)
        assert await store.get_link("lnk_1") == shorter
        await store.save_link(rec.model_copy(update={"unacked": []}))
        assert await outbox(store) == []


async def test_find_link_returns_the_newest_link_of_a_server_with_its_outbox(
    link_store: Store,
) -> None:
    async with link_store as store:
        old, new = link("lnk_old", at=T0), link("lnk_new", at=T0 + timedelta(minutes=5))
        other = link("lnk_x", server="srv-2", at=T0 + timedelta(hours=1))
        await store.write_batch(WriteBatch(links=[
            LinkWrite(new, [frame(3), frame(4)]),
            LinkWrite(old, [frame(1)]),
            LinkWrite(other, [frame(9)]),
        ]))  # fmt: skip
        found = await store.find_link("gmod", "srv-1")
        assert found is not None and found.id == "lnk_new"
        assert found.unacked == [frame(3), frame(4)]
        assert await store.find_link("minecraft", "srv-1") is None
        assert await outbox(store, "lnk_old") == [1]


async def test_write_batch_seqs_continue_across_batches_and_companions_land(
    store: Store,
) -> None:
    async with store:
        first = await store.write_batch(WriteBatch(audit=[entry("a", 0), entry("a", 1)]))
        second = await store.write_batch(
            WriteBatch(audit=[entry("b")], companions=[companion("cmp_1", sent=4)])
        )
        assert first == [1, 2] and second == [3]
        assert await store.write_batch(WriteBatch(companions=[companion("cmp_2")])) == []
        assert await store.append_audit([entry("c")]) == [4]
        got = await store.list_audit()
        assert [(e.seq, e.session_id) for e in got] == [(1, "a"), (2, "a"), (3, "b"), (4, "c")]
        saved = await store.get_companion("cmp_1")
        assert saved is not None and saved.actions_sent == 4
        assert {c.id for c in await store.list_companions()} == {"cmp_1", "cmp_2"}


async def test_concurrent_batches_get_unique_seqs_matching_their_entries(store: Store) -> None:
    tasks = 50
    seqs: dict[int, list[int]] = {}

    keeps_links = not isinstance(store, PostgresStore)  # the bridge keeps them there

    async def one(i: int) -> None:
        batch = WriteBatch(
            audit=[entry(f"t{i}", 0), entry(f"t{i}", 1)],
            companions=[companion(f"cmp_{i}", sent=i)],
            links=[LinkWrite(link(f"lnk_{i}"), [frame(1), frame(2)])] if keeps_links else [],
        )
        seqs[i] = await store.write_batch(batch)

    async with store:
        await store.append_audit([entry("before")])
        async with anyio.create_task_group() as tg:
            for i in range(tasks):
                tg.start_soon(one, i)
        everything = sorted(s for got in seqs.values() for s in got)
        assert everything == list(range(2, 2 * tasks + 2))  # unique, no gaps, after seq 1
        by_seq = {e.seq: e for e in await store.list_audit()}
        assert len(by_seq) == 2 * tasks + 1
        for i, (a, b) in seqs.items():
            assert a < b
            assert by_seq[a].input == {"tag": f"t{i}", "n": 0}
            assert by_seq[b].input == {"tag": f"t{i}", "n": 1}
        assert len(await store.list_companions()) == tasks
        for i in (0, tasks - 1) if keeps_links else ():
            assert await outbox(store, f"lnk_{i}") == [1, 2]


# -- SQLite only ------------------------------------------------------------------------


async def test_a_failed_batch_commits_none_of_its_writes(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.write_batch(
            WriteBatch(audit=[entry("ok")], links=[LinkWrite(link(), [frame(1)])])
        )
        # a dispatch that was never sequenced: its outbox row (written last) breaks NOT NULL
        bad = WriteBatch(
            audit=[entry("lost")],
            companions=[companion("cmp_lost")],
            links=[
                LinkWrite(
                    link("lnk_1", at=T0 + timedelta(hours=1)),
                    [frame(2), {"op": "x", "s": None}],
                    acked=1,
                )
            ],
        )
        with pytest.raises(StoreError):
            await store.write_batch(bad)
        assert [e.session_id for e in await store.list_audit()] == ["ok"]
        assert await store.get_companion("cmp_lost") is None
        got = await store.get_link("lnk_1")
        assert got is not None and got.updated_at == T0 and [f["s"] for f in got.unacked] == [1]
        # the store goes on, and the failed batch used up no seq
        assert await store.write_batch(WriteBatch(audit=[entry("next")])) == [2]


async def test_reads_do_not_wait_for_another_connections_write_lock(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "r.db") as store:
        await store.write_batch(WriteBatch(audit=[entry("before")]))
        other = sqlite3.connect(str(tmp_path / "r.db"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        try:
            started = time.perf_counter()
            with anyio.fail_after(3):
                assert len(await store.list_audit()) == 1
                assert await store.get_link("link_none") is None
            assert time.perf_counter() - started < 2
        finally:
            other.execute("ROLLBACK")
            other.close()


async def test_a_batch_waits_for_another_connections_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        assert await store.append_audit([entry("first")]) == [1]
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        # another process appends an audit entry of its own while it holds the lock
        other.execute(
            "INSERT INTO audit_log (seq, at, kind, decision, data) VALUES (?, ?, ?, ?, ?)",
            (2, "2024-05-01 12:00:00.000000", "event", "allow",
             entry("theirs").model_dump_json(exclude={"seq"})),
        )  # fmt: skip
        ticks, seqs, at = [0], [], {"released": 0.0, "done": 0.0}

        async def ticker() -> None:
            while True:
                await anyio.sleep(0.01)
                ticks[0] += 1

        async def release() -> None:
            await anyio.sleep(0.3)
            peek = sqlite3.connect(path)  # the waiting batch is not committed yet
            assert peek.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)
            peek.close()
            at["released"] = time.monotonic()
            other.execute("COMMIT")

        async def write() -> None:
            batch = WriteBatch(audit=[entry("mine", 0), entry("mine", 1)],
                               links=[LinkWrite(link(), [frame(1)])])  # fmt: skip
            seqs.extend(await store.write_batch(batch))
            at["done"] = time.monotonic()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(ticker)
                async with anyio.create_task_group() as inner:
                    inner.start_soon(release)
                    inner.start_soon(write)
                tg.cancel_scope.cancel()
        finally:
            other.close()
        assert at["released"] > 0 and at["done"] >= at["released"]  # it waited for the lock
        assert ticks[0] >= 10  # and the event loop kept running meanwhile
        assert seqs == [3, 4]  # numbered after the other process's entry
        got = await store.list_audit()
        assert [(e.seq, e.session_id) for e in got] == [
            (1, "first"), (2, "theirs"), (3, "mine"), (4, "mine")
        ]  # fmt: skip
        assert await outbox(store) == [1]


async def test_v5_store_moves_unacked_into_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        await store.save_link(link("lnk_1", at=T0))
        await store.save_link(link("lnk_2", at=T0))
    # rewrite it as version 5 kept it: the replay window inside the link's JSON
    v5 = link("lnk_1", at=T0).model_copy(update={"unacked": [frame(4), frame(5)], "out_s": 5})
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE bridge_links SET data = ? WHERE id = 'lnk_1'", (v5.model_dump_json(),))
    for table in metadata.sorted_tables:  # bridge_outbox and whatever came after v5
        if table.name not in V5_TABLES:
            db.execute(f"DROP TABLE {table.name}")
    db.execute("UPDATE schema_meta SET value = '5' WHERE key = 'schema_version'")
    db.close()

    async with SQLiteStore(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION >= 6
        assert await store.get_link("lnk_1") == v5
        assert await outbox(store, "lnk_2") == []
        await store.write_batch(WriteBatch(links=[LinkWrite(v5, [frame(6)], acked=4)]))
        assert await outbox(store) == [5, 6]
    db = sqlite3.connect(path)
    for (data,) in db.execute("SELECT data FROM bridge_links"):
        assert "unacked" not in json.loads(data)
    db.close()


def main_file_audit(path: Path, copy: Path) -> list[str]:
    """Audit rows in the database file itself, not counting the WAL."""
    shutil.copyfile(path, copy)
    db = sqlite3.connect(copy)
    try:
        return [r[0] for r in db.execute("SELECT session_id FROM audit_log ORDER BY seq")]
    except sqlite3.DatabaseError:  # copied mid-checkpoint: try again
        return []
    finally:
        db.close()


async def test_checkpoints_run_while_open_and_data_survives_a_restart(tmp_path: Path) -> None:
    path, wal = tmp_path / "s.db", tmp_path / "s.db-wal"
    async with SQLiteStore(path) as store:
        await store.write_batch(
            WriteBatch(audit=[entry("a")], links=[LinkWrite(link(), [frame(1), frame(2)])])
        )
        in_file: list[str] = []
        with anyio.move_on_after(5):
            while in_file != ["a"]:
                await anyio.sleep(0.05)
                in_file = main_file_audit(path, tmp_path / "copy.db")
        assert in_file == ["a"]  # copied from the WAL without waiting for close
        await store.write_batch(
            WriteBatch(audit=[entry("b")], links=[LinkWrite(link(), [frame(3)], acked=1)])
        )
    assert not wal.exists() or wal.stat().st_size == 0
    assert main_file_audit(path, tmp_path / "copy2.db") == ["a", "b"]
    async with SQLiteStore(path) as store:
        assert [e.session_id for e in await store.list_audit()] == ["a", "b"]
        assert await outbox(store) == [2, 3]
        assert await store.append_audit([entry("c")]) == [3]
