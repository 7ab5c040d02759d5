"""Fencing of link writes in the store shared by daemon nodes (PostgreSQL): a node that
loads a link to write it (``take_link``) bumps its epoch, and a write carrying an older
epoch is refused with ``LinkMoved`` with nothing of its batch stored, while the writes
queued with it by others commit. Stores one process writes (SQLite, memory) load the
same newest link and keep its epoch. The cluster-level case (a node paused past its
lease) is in tests/bridge/test_cluster.py.

What the next loader finds says which adapter events were taken: the stored ``in_s``
moves with the write that stores an event, never with another write of the link made
while the event was being taken (a dispatch), so a process killed in between leaves
the event to the adapter's resend, taken once by the next loader.

A new link (an identify) has no row to fence it: its game server's epoch does, so of
two nodes identifying one server at once only the later taker's link is stored, and a
node held between its take and its write stores none. A take locks the server's row
and then the links it followed in id order, the order writes lock them in, so a take
and a write locking two links of one chain do not deadlock."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from encounters.models import utcnow
from encounters.models.audit import AuditEntry
from encounters.storage import SQLiteStore, Store, WriteBatch
from encounters.storage.postgres import PostgresStore
from encounters_bridge.frames import CloseCode, Frame, encode
from encounters_bridge.keys import create_world_key
from encounters_bridge.links import LinkOwner
from encounters_bridge.protocol import EventIn, LinkState, ServerLink
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import (
    BridgeStore,
    LinkBatch,
    LinkMoved,
    LinkRecord,
    LinkWrite,
    open_bridge_store,
)
from encounters_bridge.store import postgres as bridge_postgres
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


async def taken(records: BridgeStore, server: str = "srv-1", world: str = "gmod") -> LinkRecord:
    found = await records.take_link(world, server)
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


async def test_a_take_stays_above_an_epoch_a_node_of_the_version_before_stamped(
    pg_url: str,
) -> None:
    """Nodes of the version before game servers had epochs bumped a link's epoch alone
    (during a rolling upgrade, beyond its server's): a take stamps the link above it."""
    async with PostgresStore(pg_url) as shared:
        records = await open_bridge_store(shared)
        await records.write_links(LinkBatch([LinkWrite(link().model_copy(update={"epoch": 7}))]))
        found = await taken(records)
        assert found.epoch == records.taken_epoch("gmod", "srv-1") == 8
        assert (await taken(records)).epoch == 9


async def test_a_process_remembers_the_take_epochs_of_its_latest_game_servers_only(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The epoch a process took a game server with (what its new link for the server
    carries) is kept for the latest ``MAX_TAKEN`` servers it took, not for every server
    it ever took. One forgotten reads 0: a new link carrying that is refused, nothing
    stored, as if another node had taken the server (its adapter identifies again)."""
    monkeypatch.setattr(bridge_postgres, "MAX_TAKEN", 3, raising=False)
    async with PostgresStore(pg_url) as shared:
        records = await open_bridge_store(shared)
        for n in range(5):
            assert await records.take_link("gmod", f"srv-{n}") is None
        assert await records.take_link("gmod", "srv-2") is None  # again: the newest now
        epochs = [records.taken_epoch("gmod", f"srv-{n}") for n in range(5)]
        assert epochs == [0, 0, 2, 1, 1]
        forgotten = link("lnk_0", "srv-0").model_copy(update={"epoch": epochs[0]})
        with pytest.raises(LinkMoved):
            await records.write_links(batch(LinkWrite(forgotten, new=True), "forgotten"))
        assert await records.get_link("lnk_0") is None
        kept = link("lnk_2", "srv-2").model_copy(update={"epoch": epochs[2]})
        await records.write_links(batch(LinkWrite(kept, new=True), "kept"))
        assert (await taken(records, "srv-2")).id == "lnk_2"


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
    assert version == str(bridge_schema.SCHEMA_VERSION) == "3"


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


# -- new links, and chains of replaced links ---------------------------------------------


async def identify(records: BridgeStore, server: str, link_id: str) -> None:
    """What an identify does to the store (``BridgeEdge._authenticate``): take the game
    server, make a new link with the epoch of that take, move the previous link's
    dispatches into it, write it. Raises :class:`LinkMoved` when the write is refused."""
    previous = await records.take_link("gmod", server)
    epoch = previous.epoch if previous else records.taken_epoch("gmod", server)
    record = link(link_id, server).model_copy(update={"epoch": epoch, "updated_at": utcnow()})
    new = LinkOwner(records, LinkState(link_id, "gmod", server), record)
    if previous is not None:
        await LinkOwner.from_record(records, previous).move_into(new)
    await new.save()


async def identify_or_not(
    records: BridgeStore, server: str, link_id: str, stored: list[str]
) -> None:
    """:func:`identify`; ``link_id`` added to ``stored`` unless it was refused."""
    with contextlib.suppress(LinkMoved):
        await identify(records, server, link_id)
        stored.append(link_id)


async def chain(store: PostgresStore | SQLiteStore, server: str) -> dict[str, str | None]:
    """Every stored link of ``server``: what replaced it (None: live)."""
    async with store.engine.connect() as conn:
        rows = (await conn.execute(
            text("SELECT id, data FROM bridge_links WHERE server_id = :s"), {"s": server}
        )).all()  # fmt: skip
    return {row.id: json.loads(row.data).get("replaced_by") for row in rows}


async def test_a_new_link_of_a_node_that_lost_its_server_is_refused(pg_url: str) -> None:
    """The first link of a game server has no row to fence it: the server's row does. A
    node that took the server before another one did cannot store a link of its own,
    whether the other node stored one already or not."""
    async with PostgresStore(pg_url) as node_a, PostgresStore(pg_url) as node_b:
        a, b = await open_bridge_store(node_a), await open_bridge_store(node_b)
        for server, b_writes_first in (("srv-1", True), ("srv-2", False)):
            assert await a.take_link("gmod", server) is None  # A takes the server
            assert await b.take_link("gmod", server) is None  # B takes it after A
            mine = link(f"lnk_a_{server}", server).model_copy(
                update={"epoch": a.taken_epoch("gmod", server)}
            )
            theirs = link(f"lnk_b_{server}", server).model_copy(
                update={"epoch": b.taken_epoch("gmod", server)}
            )
            if b_writes_first:
                await b.write_links(batch(LinkWrite(theirs, [frame(1)], new=True), "b-new"))
            with pytest.raises(LinkMoved, match="taken by another node"):
                await a.write_links(batch(LinkWrite(mine, [frame(1)], new=True), "a-new"))
            if not b_writes_first:
                await b.write_links(batch(LinkWrite(theirs, [frame(1)], new=True), "b-new"))
            assert await chain(node_a, server) == {theirs.id: None}
            assert await a.get_link(mine.id) is None
        assert [e.session_id for e in await node_a.list_audit()] == ["b-new", "b-new"]
        # the holder writes its new link on as usual; the server's next taker gets it
        await b.write_links(LinkBatch([LinkWrite(theirs, [frame(2)], new=True)]))
        found = await taken(a, "srv-2")
        assert found.id == theirs.id and [f["s"] for f in found.unacked] == [1, 2]


async def test_two_nodes_identifying_one_server_at_once_leave_one_chain(pg_url: str) -> None:
    """Two nodes identify the same game server at the same moment, again and again:
    whatever the interleaving, the server's links form one chain with one live link at
    its end, each identify either stored its link in it (moving the previous link's
    dispatches) or was refused and stored nothing. Without the server's fence both
    nodes stored a first link of their own, two live links: the dispatches of the one
    not found next were never delivered."""
    async with PostgresStore(pg_url) as node_a, PostgresStore(pg_url) as node_b:
        a, b = await open_bridge_store(node_a), await open_bridge_store(node_b)
        for round_ in range(25):
            server = f"srv-{round_}"
            stored: list[str] = []
            async with anyio.create_task_group() as tg:
                for n in range(2):  # each node identifies twice: new links and replacements
                    tg.start_soon(identify_or_not, a, server, f"lnk_a{n}_{round_}", stored)
                    tg.start_soon(identify_or_not, b, server, f"lnk_b{n}_{round_}", stored)
            links = await chain(node_a, server)
            assert set(links) == set(stored), round_  # the refused ones stored nothing
            live = [i for i, by in links.items() if by is None]
            assert len(live) == 1, (round_, links)
            order = [live[0]]  # walk the chain back from its live end: it holds them all
            while len(order) < len(links):
                order.append(next(i for i, by in links.items() if by == order[-1]))
            assert (await taken(a, server)).id == live[0]


async def blocked_by(store: PostgresStore, pid: int) -> bool:
    """Whether a statement waits for a lock the backend ``pid`` holds."""
    async with store.engine.connect() as conn:
        waiting = (await conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": pid},
        )).scalar()  # fmt: skip
    return bool(waiting)


async def test_a_take_locks_a_chain_of_links_in_the_order_writes_do(pg_url: str) -> None:
    """Writes lock links' rows in id order (the store sorts them). A take used to lock
    the chain of replaced links in the order it followed it, oldest first: with a
    writer holding the newer link (a lower id) and then asking for the older one, each
    waited for the other and PostgreSQL aborted one of them (a deadlock). The take
    locks the chain in id order now: it waits for the writer, which finishes."""
    async with PostgresStore(pg_url) as shared:
        records = await open_bridge_store(shared)
        # the replaced link is the most recently updated (another node's clock ahead)
        old = link("lnk_2_old").model_copy(update={"replaced_by": "lnk_1_new"})
        new = link("lnk_1_new").model_copy(update={"updated_at": T0 - timedelta(hours=1)})
        await records.write_links(LinkBatch([LinkWrite(old), LinkWrite(new, [frame(1)])]))
        touch = "UPDATE bridge_links SET updated_at = updated_at WHERE id = :id"
        found: list[LinkRecord | None] = []

        async def take() -> None:
            found.append(await records.take_link("gmod", "srv-1"))

        async with shared.engine.connect() as writer, anyio.create_task_group() as tg:
            await writer.begin()
            pid = (await writer.execute(text("SELECT pg_backend_pid()"))).scalar()
            await writer.execute(text(touch), {"id": "lnk_1_new"})  # the lower id first
            tg.start_soon(take)
            with anyio.fail_after(10):
                while not await blocked_by(shared, int(pid or 0)):
                    await anyio.sleep(0.02)
            await writer.execute(text(touch), {"id": "lnk_2_old"})  # then the higher
            await writer.commit()
        assert found and found[0] is not None
        got = found[0]
        assert (got.id, got.epoch, [f["s"] for f in got.unacked]) == ("lnk_1_new", 1, [1])
        replaced = await records.get_link("lnk_2_old")
        assert replaced is not None and replaced.epoch == 1  # the replaced one is fenced too


@asynccontextmanager
async def serving(records: BridgeStore) -> AsyncIterator[str]:
    """A daemon's adapter endpoint on ``records`` (no cluster): its URL."""
    edge = BridgeEdge(records)
    server = await edge.serve("127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws?encoding=json"
    finally:
        await edge.close_all()
        server.close()
        await server.wait_closed()


async def identified(ws: ClientConnection, key: str, server: str) -> dict[str, Any]:
    """Identify on ``ws`` (its hello read); the ``ready`` frame."""
    await ws.send(json.dumps({"op": "identify", "d": {
        "protocol": 1, "world": "minecraft", "server_id": server, "key": key,
        "capabilities": ["chat"]}}))  # fmt: skip
    with anyio.fail_after(30):
        while (frame := json.loads(await ws.recv()))["op"] != "ready":
            pass
    return dict(frame["d"])


async def closed_with(ws: ClientConnection) -> int:
    """The code the daemon closes ``ws`` with (frames before it are skipped)."""
    with anyio.fail_after(30):
        try:
            while json.loads(await ws.recv())["op"] != "ready":
                pass
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "dropped, not closed"
            return closed.rcvd.code
    raise AssertionError("the daemon sent ready")


async def test_a_node_held_between_taking_a_new_server_and_storing_its_link_loses_it(
    pg_url: str,
) -> None:
    """Two daemons on one PostgreSQL identify the same new game server: node A takes it
    first but its write waits (as a node paused past its lease would), node B takes it
    after and links it. A's link is refused when its write goes on (its connection is
    closed with 1001, not an internal error; its adapter identifies again), and B's is
    the server's one link. Before, A stored a second live link beside B's."""
    server = "srv-new"
    async with PostgresStore(pg_url) as store_a, PostgresStore(pg_url) as store_b:
        a, b = await open_bridge_store(store_a), await open_bridge_store(store_b)
        _, key = await create_world_key(a, "the server", "minecraft", [server])
        async with (
            serving(a) as url_a, serving(b) as url_b,
            connect(url_a) as ws_a, connect(url_b) as ws_b,
        ):  # fmt: skip
            for ws in (ws_a, ws_b):
                assert json.loads(await ws.recv())["op"] == "hello"
            await store_a._commits.lock.acquire()  # node A's writes wait from here
            try:
                await ws_a.send(json.dumps({"op": "identify", "d": {
                    "protocol": 1, "world": "minecraft", "server_id": server, "key": key,
                    "capabilities": ["chat"]}}))  # fmt: skip
                with anyio.fail_after(30):  # A took the server and queued its new link
                    while not store_a._commits._pending:
                        await anyio.sleep(0.01)
                assert a.taken_epoch("minecraft", server) == 1
                ready = await identified(ws_b, key, server)
            finally:
                store_a._commits.lock.release()
            assert await closed_with(ws_a) == CloseCode.GOING_AWAY
        links = await chain(store_b, server)
        assert links == {ready["link_id"]: None}
        assert (await taken(b, server, "minecraft")).id == ready["link_id"]


async def test_two_identifies_of_a_new_server_on_one_daemon_leave_one_live_link(
    tmp_path: Path,
) -> None:
    """SQLite: one process writes the file, and a daemon identifies one game server at a
    time (no fence is needed): of two identifies at once, the later one replaces the
    earlier one's link, whose connection is closed with 4014 (before or after its
    ready), and the server's links form one chain with one live link."""
    server = "srv-new"
    async with SQLiteStore(tmp_path / "encounters.db") as store:
        records = await open_bridge_store(store)
        _, key = await create_world_key(records, "the server", "minecraft", [server])
        async with serving(records) as url, connect(url) as one, connect(url) as two:
            outcomes: dict[ClientConnection, dict[str, Any]] = {}

            async def link(ws: ClientConnection) -> None:
                assert json.loads(await ws.recv())["op"] == "hello"
                try:
                    outcomes[ws] = await identified(ws, key, server)
                except ConnectionClosed as closed:
                    outcomes[ws] = {"close": closed.rcvd.code if closed.rcvd else None}

            async with anyio.create_task_group() as tg:
                tg.start_soon(link, one)
                tg.start_soon(link, two)
            live = (await taken(records, server, "minecraft")).id
            (winner,) = [ws for ws, got in outcomes.items() if got.get("link_id") == live]
            loser = two if winner is one else one
            if "close" not in outcomes[loser]:  # it was ready, then replaced
                outcomes[loser] = {"close": await closed_with(loser)}
            assert outcomes[loser] == {"close": CloseCode.REPLACED}
        links = await chain(store, server)
        assert [i for i, by in links.items() if by is None] == [live]
        assert set(links.values()) <= {live, None}  # at most the loser's, replaced by it
