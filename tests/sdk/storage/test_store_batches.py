"""Write batches: what lands together, in which order, and what survives a restart and
a concurrent writer. (The daemon's link outboxes, written in the same transactions, are
tested in tests/bridge/test_store.py.)"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from encounters.models.audit import AuditEntry
from encounters.models.deployment import CompanionChange, CompanionSession, Location
from encounters.storage import SQLiteStore, Store, WriteBatch
from encounters.storage.postgres import PostgresStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store(new_store: Callable[[], Store]) -> Store:
    """Every backend."""
    return new_store()


def entry(tag: str, n: int = 0) -> AuditEntry:
    return AuditEntry(kind="event", decision="allow", session_id=tag, input={"tag": tag, "n": n})


def companion(cid: str, sent: int = 0) -> CompanionSession:
    return CompanionSession(
        id=cid, persona_id="per_1", world="gmod", server_id="srv-1", actions_sent=sent
    )


# -- both stores ------------------------------------------------------------------------


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

    async def one(i: int) -> None:
        batch = WriteBatch(
            audit=[entry(f"t{i}", 0), entry(f"t{i}", 1)],
            companions=[companion(f"cmp_{i}", sent=i)],
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
        assert sorted(c.actions_sent for c in await store.list_companions()) == list(range(tasks))


# -- SQLite only ------------------------------------------------------------------------


async def test_reads_do_not_wait_for_another_connections_write_lock(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "r.db") as store:
        await store.write_batch(WriteBatch(audit=[entry("before")]))
        other = sqlite3.connect(str(tmp_path / "r.db"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        try:
            started = time.perf_counter()
            with anyio.fail_after(3):
                assert len(await store.list_audit()) == 1
                assert await store.get_companion("cmp_none") is None
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
                               companions=[companion("cmp_1", sent=1)])  # fmt: skip
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
        saved = await store.get_companion("cmp_1")
        assert saved is not None and saved.actions_sent == 1


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
            WriteBatch(audit=[entry("a")], companions=[companion("cmp_1", sent=2)])
        )
        in_file: list[str] = []
        with anyio.move_on_after(5):
            while in_file != ["a"]:
                await anyio.sleep(0.05)
                in_file = main_file_audit(path, tmp_path / "copy.db")
        assert in_file == ["a"]  # copied from the WAL without waiting for close
        await store.write_batch(
            WriteBatch(audit=[entry("b")], companions=[companion("cmp_1", sent=3)])
        )
    assert not wal.exists() or wal.stat().st_size == 0
    assert main_file_audit(path, tmp_path / "copy2.db") == ["a", "b"]
    async with SQLiteStore(path) as store:
        assert [e.session_id for e in await store.list_audit()] == ["a", "b"]
        saved = await store.get_companion("cmp_1")
        assert saved is not None and saved.actions_sent == 3
        assert await store.append_audit([entry("c")]) == [3]


async def test_companion_changes_are_made_to_the_stored_row(store: Store) -> None:
    """A change is made to the session as stored when its batch commits, and one for a
    session that is not stored changes nothing."""
    async with store:
        await store.save_companion(companion("cmp_1", sent=3))
        bump = CompanionChange(session_id="cmp_1", add={"actions_sent": 2})
        await store.write_batch(WriteBatch(audit=[entry("a")], changes=[bump]))
        assert bump.result is not None and bump.result.actions_sent == 5
        stored = await store.get_companion("cmp_1")
        assert stored is not None and stored.actions_sent == 5
        nobody = CompanionChange(session_id="cmp_none", add={"actions_sent": 1})
        await store.write_batch(WriteBatch(changes=[nobody]))
        assert nobody.result is None and await store.get_companion("cmp_none") is None


async def test_a_change_of_counters_alone_keeps_the_rest_of_the_session(store: Store) -> None:
    """Counting (what every signal and game event does) changes the counters and
    nothing else of the stored session, and the result is the session as stored; a
    count that would go below 0 is refused and leaves the row as it was."""
    async with store:
        here = companion("cmp_1", sent=3).model_copy(update={
            "entity": "Écuyer 🛡", "language": "fr", "paused": True, "actions_done": 2,
            "location": Location(x=1.5e-7, y=-64.0, z=1e16),
        })  # fmt: skip
        here = CompanionSession.model_validate_json(here.model_dump_json())  # validated
        await store.save_companion(here)
        bump = CompanionChange(session_id="cmp_1", add={"actions_sent": 2, "events": 1})
        await store.write_batch(WriteBatch(changes=[bump]))
        stored = await store.get_companion("cmp_1")
        assert stored == bump.result == here.model_copy(update={"actions_sent": 5, "events": 1})
        below = CompanionChange(session_id="cmp_1", add={"actions_done": -3})
        with pytest.raises(ValueError):
            await store.write_batch(WriteBatch(audit=[entry("a")], changes=[below]))
        assert await store.get_companion("cmp_1") == stored


async def test_companion_changes_from_two_stores_on_one_database_all_count(
    new_sql_store: Callable[[], SQLiteStore | PostgresStore],
) -> None:
    """Two daemon nodes counting one companion's actions at once: no count is lost
    (each change saw the row the one before it wrote)."""
    a, b = new_sql_store(), new_sql_store()
    async with a, b:
        await a.save_companion(companion("cmp_1"))
        changes = [CompanionChange(session_id="cmp_1", add={"actions_sent": 1}) for _ in range(40)]
        async with anyio.create_task_group() as tg:
            for n, change in enumerate(changes):
                tg.start_soon((a if n % 2 else b).write_batch, WriteBatch(changes=[change]))
        stored = await b.get_companion("cmp_1")
        assert stored is not None and stored.actions_sent == 40
        seen = sorted(c.result.actions_sent for c in changes if c.result is not None)
        assert seen == list(range(1, 41))


async def test_an_audit_entry_is_stored_as_its_json_without_seq(tmp_path: Path) -> None:
    """The row's data is what ``model_dump_json(exclude={"seq"})`` gives (the store
    serialises with the model's serializer directly), also for an entry that carries a
    seq already, and reads back as the entry with its new seq."""
    given = [entry("a", 1), entry("b\u00e9", 2).model_copy(update={"seq": 41})]
    async with SQLiteStore(tmp_path / "j.db") as store:
        assert await store.write_batch(WriteBatch(audit=given)) == [1, 2]
        db = sqlite3.connect(tmp_path / "j.db")
        rows = [r[0] for r in db.execute("SELECT data FROM audit_log ORDER BY seq")]
        db.close()
        assert rows == [e.model_dump_json(exclude={"seq"}) for e in given]
        read = await store.list_audit()
    assert [e.model_dump(exclude={"seq"}) for e in read] == [
        e.model_dump(exclude={"seq"}) for e in given
    ]
    assert [e.seq for e in read] == [1, 2]
