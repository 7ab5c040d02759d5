"""Fencing of link writes in the store shared by daemon nodes (PostgreSQL): a node that
loads a link to write it (``take_link``) bumps its epoch, and a write carrying an older
epoch is refused with ``LinkMoved`` with nothing of its batch stored, while the writes
queued with it by others commit. Stores one process writes (SQLite, memory) load the
same newest link and keep its epoch. The cluster-level case (a node paused past its
lease) is in tests/bridge/test_cluster.py.

What the next loader finds says which adapter events were taken: the stored ``in_s``
moves with the write that stores an event, never with another write of the link made
while the event was being taken (a dispatch), so a process killed in between leaves
the event to the adapter's resend, taken once by the next loader."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import text

from encounters.models.audit import AuditEntry
from encounters.storage import SQLiteStore, Store, WriteBatch
from encounters.storage.postgres import PostgresStore
from encounters_bridge.frames import Frame, encode
from encounters_bridge.links import LinkOwner
from encounters_bridge.protocol import EventIn, ServerLink
from encounters_bridge.store import (
    BridgeStore,
    LinkBatch,
    LinkMoved,
    LinkRecord,
    LinkWrite,
    open_bridge_store,
)
from encounters_bridge.store import schema as bridge_schema
from tests.support.services import POSTGRES_URL, postgres_schema, store_backend

pytestmark = pytest.mark.anyio
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as schema:
        yield f"{POSTGRES_URL}?schema={schema}"


@pytest.fixture(params=["sqlite", "memory"])
def one_process_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with store_backend(request.param, tmp_path) as factory:
        yield factory()


def frame(s: int) -> dict[str, Any]:
    return {"op": "dispatch", "d": {"n": s}, "s": s}


def link(link_id: str = "lnk_1", server: str = "srv-1", out_s: int = 0) -> LinkRecord:
    return LinkRecord(id=link_id, world="gmod", server_id=server, key_id="wk_1",
                      token_hash="h", out_s=out_s, updated_at=T0)  # fmt: skip


def batch(change: LinkWrite, tag: str) -> LinkBatch:
    entry = AuditEntry(kind="event", decision="allow", session_id=tag, input={"tag": tag})
    return LinkBatch([change], WriteBatch(audit=[entry]))


async def taken(records: BridgeStore, server: str = "srv-1") -> LinkRecord:
    found = await records.take_link("gmod", server)
    assert found is not None
    return found


async def test_a_write_of_a_stale_loader_is_refused_and_stores_nothing(pg_url: str) -> None:
    async with PostgresStore(pg_url) as node_a, PostgresStore(pg_url) as node_b:
        a, b = await open_bridge_store(node_a), await open_bridge_store(node_b)
        await a.write_links(batch(LinkWrite(link(out_s=1), [frame(1)]), "created"))
        mine = await taken(a)  # node A loads the link to write it
        assert mine.epoch == 1
        await a.write_links(batch(LinkWrite(mine.model_copy(update={"out_s": 2}),
                                            [frame(2)]), "a-wrote"))  # fmt: skip
        theirs = await taken(b)  # node B takes it over: A's writes so far are in it
        assert theirs.epoch == 2 and theirs.out_s == 2
        assert [f["s"] for f in theirs.unacked] == [1, 2]

        stale = LinkWrite(mine.model_copy(update={"out_s": 3, "in_s": 7}), [frame(3)], acked=1)
        with pytest.raises(LinkMoved, match="taken over by another node"):
            await a.write_links(batch(stale, "a-stale"))
        got = await b.get_link("lnk_1")
        assert got is not None and (got.out_s, got.in_s, got.epoch) == (2, 0, 2)
        assert [f["s"] for f in got.unacked] == [1, 2]  # not trimmed, not appended
        assert [e.session_id for e in await node_a.list_audit()] == ["created", "a-wrote"]

        # the holder writes on, gaplessly; A stays refused
        await b.write_links(batch(LinkWrite(theirs.model_copy(update={"out_s": 3}),
                                            [frame(3)], acked=1), "b-wrote"))  # fmt: skip
        with pytest.raises(LinkMoved):
            await a.write_links(batch(LinkWrite(mine, [frame(4)]), "a-again"))
        got = await a.get_link("lnk_1")
        assert got is not None and [f["s"] for f in got.unacked] == [2, 3]
        assert [e.seq for e in await node_b.list_audit()] == [1, 2, 3]  # no gap left
        assert [e.session_id for e in await node_b.list_audit()][-1] == "b-wrote"


async def test_a_refused_write_fails_alone_in_its_group_commit(pg_url: str) -> None:
    async with PostgresStore(pg_url) as node_a, PostgresStore(pg_url) as node_b:
        a, b = await open_bridge_store(node_a), await open_bridge_store(node_b)
        await a.write_links(batch(LinkWrite(link()), "one"))
        await a.write_links(batch(LinkWrite(link("lnk_2", "srv-2")), "two"))
        stale, kept = await taken(a), await taken(a, "srv-2")
        await taken(b)  # srv-1 moves to B; A still holds srv-2
        outcome: dict[str, BaseException | None] = {}

        async def write(name: str, change: LinkWrite) -> None:
            try:
                await a.write_links(batch(change, name))
                outcome[name] = None
            except LinkMoved as exc:
                outcome[name] = exc

        # both queued while a flush holds the commit lock: one transaction for both
        async with node_a._commits.lock:
            async with anyio.create_task_group() as tg:
                tg.start_soon(write, "stale", LinkWrite(stale, [frame(1)]))
                tg.start_soon(write, "kept", LinkWrite(kept, [frame(1)]))
                await anyio.wait_all_tasks_blocked()
                node_a._commits.lock.release()
            await node_a._commits.lock.acquire()  # for the context manager to release
        assert isinstance(outcome["stale"], LinkMoved) and outcome["kept"] is None
        assert [e.session_id for e in await node_a.list_audit()] == ["one", "two", "kept"]
        got = await b.get_link("lnk_2")
        assert got is not None and [f["s"] for f in got.unacked] == [1]
        got = await b.get_link("lnk_1")
        assert got is not None and got.unacked == []


async def test_taking_a_link_follows_its_replacements_and_bumps_the_newest(pg_url: str) -> None:
    async with PostgresStore(pg_url) as shared:
        records = await open_bridge_store(shared)
        old = link("lnk_old").model_copy(update={"replaced_by": "lnk_new"})
        new = link("lnk_new").model_copy(update={"updated_at": T0 - timedelta(hours=1)})
        await records.write_links(LinkBatch([LinkWrite(old), LinkWrite(new, [frame(1)])]))
        found = await taken(records)  # the old one is the most recently updated
        assert (found.id, found.epoch, [f["s"] for f in found.unacked]) == ("lnk_new", 1, [1])
        assert await records.take_link("gmod", "srv-none") is None


async def test_a_store_one_process_writes_takes_the_newest_link_as_it_is(
    one_process_store: Store,
) -> None:
    """SQLite and memory: no fence (one process writes), the same newest link."""
    async with one_process_store as store:
        records = await open_bridge_store(store)
        old = link("lnk_old").model_copy(update={"replaced_by": "lnk_new"})
        await records.write_links(LinkBatch([LinkWrite(old), LinkWrite(link("lnk_new"))]))
        found = await taken(records)
        assert (found.id, found.epoch) == ("lnk_new", 0)
        await records.write_links(LinkBatch([LinkWrite(found, [frame(1)])]))
        again = await taken(records)
        assert again.epoch == 0 and [f["s"] for f in again.unacked] == [1]


async def test_a_bridge_schema_of_version_1_gains_the_epoch_column(tmp_path: Path) -> None:
    path = tmp_path / "encounters.db"
    async with SQLiteStore(path) as store:
        records = await open_bridge_store(store)
        await records.write_links(LinkBatch([LinkWrite(link(out_s=4), [frame(4)])]))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("ALTER TABLE bridge_links DROP COLUMN epoch")
    db.execute("UPDATE schema_meta SET value = '1' WHERE key = ?", (bridge_schema.TRACK,))
    db.close()
    async with SQLiteStore(path) as store:
        records = await open_bridge_store(store)
        found = await taken(records)
        assert (found.out_s, found.epoch, [f["s"] for f in found.unacked]) == (4, 0, [4])
        async with store.engine.connect() as conn:
            version = (await conn.execute(
                text("SELECT value FROM schema_meta WHERE key = :k"), {"k": bridge_schema.TRACK}
            )).scalar()  # fmt: skip
    assert version == str(bridge_schema.SCHEMA_VERSION) == "2"


async def test_a_postgresql_schema_of_version_1_gains_the_epoch_and_its_fence(pg_url: str) -> None:
    """A deployment made before links had epochs: its links load, and the first loader's
    takeover fences the writer before it."""
    async with PostgresStore(pg_url) as shared:
        records = await open_bridge_store(shared)
        await records.write_links(LinkBatch([LinkWrite(link(out_s=4), [frame(4)])]))
        async with shared.engine.begin() as conn:  # what version 1 had
            await conn.execute(text("DROP TRIGGER bridge_links_fence ON bridge_links"))
            await conn.execute(text("DROP FUNCTION bridge_links_fence()"))
            await conn.execute(text("ALTER TABLE bridge_links DROP COLUMN epoch"))
            await conn.execute(text("UPDATE schema_meta SET value = '1' WHERE key = :k"),
                               {"k": bridge_schema.TRACK})  # fmt: skip
    async with PostgresStore(pg_url) as node_a, PostgresStore(pg_url) as node_b:
        a, b = await open_bridge_store(node_a), await open_bridge_store(node_b)
        mine = await taken(a)
        assert (mine.out_s, mine.epoch, [f["s"] for f in mine.unacked]) == (4, 1, [4])
        await taken(b)
        with pytest.raises(LinkMoved):
            await a.write_links(LinkBatch([LinkWrite(mine, [frame(5)])]))
        got = await b.get_link("lnk_1")
        assert got is not None and [f["s"] for f in got.unacked] == [4]


@pytest.fixture(params=["sqlite", "postgresql"])
def two_loaders(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two store objects on one database: two nodes (PostgreSQL), or a process and the
    one that starts after it was killed (SQLite)."""
    with store_backend(request.param, tmp_path) as factory:
        yield factory(), factory()


def reading(state_owner: LinkOwner) -> ServerLink:
    """A connection's protocol machine, ready on ``state_owner``'s link."""
    conn = ServerLink()
    conn.accept(state_owner.state, "token", [])
    return conn


def event(s: int) -> bytes | str:
    return encode(Frame("event", {"type": "action_done", "action_id": f"act-{s}"}, s, "sess_1"),
                  "json")  # fmt: skip


def stored_events(entries: list[AuditEntry]) -> list[str]:
    return [e.input["action_id"] for e in entries if e.kind == "event"]


async def test_a_write_made_while_an_event_is_taken_does_not_count_it_received(
    two_loaders: tuple[Store, Store],
) -> None:
    """The interleaving of a node killed mid-event: event 1 is read (in memory the link
    has received it), a signal's dispatch of the same link is written before the
    event's own write, and the node dies. The next loader must take the adapter's
    resend of event 1; before, the dispatch's write stored ``in_s`` 1, the resend was
    acknowledged as a duplicate and the event was lost."""
    node_a, node_b = two_loaders
    async with node_a:
        a = await open_bridge_store(node_a)
        await a.write_links(LinkBatch([LinkWrite(link())]))
        owner = LinkOwner.from_record(a, await taken(a))
        effects = reading(owner).receive(event(1), 0.0)
        assert isinstance(effects[0], EventIn) and owner.state.in_s == 1  # read, not stored
        await owner.dispatch([Frame("dispatch", {"type": "action"}, sid="sess_1")])
    async with node_b:  # node A is gone; B loads the link
        b = await open_bridge_store(node_b)
        found = await taken(b)
        assert (found.in_s, found.out_s) == (0, 1)
        again = LinkOwner.from_record(b, found)
        effects = reading(again).receive(event(1), 0.0)  # the adapter's resend
        assert isinstance(effects[0], EventIn)  # taken, not dropped as a duplicate
        entry = AuditEntry(kind="event", decision="allow", input={"action_id": "act-1"},
                           session_id="sess_1")  # fmt: skip
        await again.dispatch([], WriteBatch(audit=[entry]), received=1)
        await again.save_received(1)  # written already: nothing more
        assert stored_events(await node_b.list_audit()) == ["act-1"]
        assert (await taken(b)).in_s == 1


async def test_an_event_stored_before_a_kill_is_not_taken_again(
    two_loaders: tuple[Store, Store],
) -> None:
    """The other side: the event's write stores the event and its ``in_s`` together, so
    once it is stored the next loader acknowledges the resend without taking it."""
    node_a, node_b = two_loaders
    async with node_a:
        a = await open_bridge_store(node_a)
        await a.write_links(LinkBatch([LinkWrite(link())]))
        owner = LinkOwner.from_record(a, await taken(a))
        reading(owner).receive(event(1), 0.0)
        entry = AuditEntry(kind="event", decision="allow", input={"action_id": "act-1"},
                           session_id="sess_1")  # fmt: skip
        await owner.dispatch([], WriteBatch(audit=[entry]), received=1)
        assert owner.record.in_s == 1
    async with node_b:
        b = await open_bridge_store(node_b)
        again = LinkOwner.from_record(b, await taken(b))
        effects = reading(again).receive(event(1), 0.0)
        assert not any(isinstance(e, EventIn) for e in effects)  # acknowledged again
        assert stored_events(await node_b.list_audit()) == ["act-1"]
