"""The daemon's own store: link outboxes, keys and tokens, what lands with the SDK's
records in one transaction, and data folders written when the SDK's schema still held
these records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import text

from encounters import StoreError
from encounters.models.audit import AuditEntry
from encounters.models.deployment import CompanionSession
from encounters.storage import SQLiteStore, Store, WriteBatch
from encounters.storage.postgres import PostgresStore
from encounters.storage.schema import SCHEMA_VERSION
from encounters_bridge.keys import check_api_key, check_world_key, create_api_key, create_world_key
from encounters_bridge.store import (
    BridgeStore,
    DeployToken,
    LinkBatch,
    LinkRecord,
    LinkWrite,
    open_bridge_store,
)
from encounters_bridge.store import schema as bridge_schema

pytestmark = pytest.mark.anyio
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DATA = Path(__file__).parent / "data"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store(new_store: Callable[[], Store]) -> Store:
    """A store of each backend (SQLite, memory, PostgreSQL in a fresh schema)."""
    return new_store()


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


def links(*changes: LinkWrite, audit: list[AuditEntry] | None = None,
          companions: list[CompanionSession] | None = None) -> LinkBatch:  # fmt: skip
    return LinkBatch(list(changes), WriteBatch(audit=audit or [], companions=companions or []))


async def outbox(records: BridgeStore, link_id: str = "lnk_1") -> list[int]:
    got = await records.get_link(link_id)
    assert got is not None
    return [f["s"] for f in got.unacked]


# -- every backend ----------------------------------------------------------------------


async def test_outbox_appends_in_order_trims_up_to_acked_and_replaces(store: Store) -> None:
    async with store:
        records = await open_bridge_store(store)
        rec = link()
        await records.write_links(links(LinkWrite(rec, [frame(s) for s in (1, 2, 3)])))
        got = await records.get_link("lnk_1")
        assert got is not None and got.unacked == [frame(1), frame(2), frame(3)]
        # the record's own `unacked` is ignored by a LinkWrite
        junk = rec.model_copy(update={"unacked": [frame(99)], "out_s": 5})
        await records.write_links(links(LinkWrite(junk, [frame(4), frame(5)])))
        assert await outbox(records) == [1, 2, 3, 4, 5]
        got = await records.get_link("lnk_1")
        assert got is not None and got.out_s == 5  # the record itself was upserted
        await records.write_links(links(LinkWrite(rec, acked=3)))
        assert await outbox(records) == [4, 5]
        await records.write_links(links(LinkWrite(rec, [frame(6)], acked=4)))
        assert await outbox(records) == [5, 6]
        await records.write_links(links(LinkWrite(rec, [frame(10)], replace=True)))
        assert await outbox(records) == [10]
        await records.write_links(links(LinkWrite(rec, acked=10)))
        assert await outbox(records) == []
        assert await records.get_link("lnk_other") is None


async def test_save_link_round_trips_unacked_exactly(store: Store) -> None:
    async with store:
        records = await open_bridge_store(store)
        frames = [frame(7), {"op": "x", "d": {"deep": {"a": [True, {"b": "ü"}]}}, "s": 8}]
        rec = link().model_copy(update={"unacked": frames, "out_s": 8, "in_s": 3})
        await records.save_link(rec)
        assert await records.get_link("lnk_1") == rec
        # saving again replaces the stored dispatches, it does not add to them
        shorter = rec.model_copy(update={"unacked": [frame(9)]})
        await records.save_link(shorter)
        assert await records.get_link("lnk_1") == shorter
        await records.save_link(rec.model_copy(update={"unacked": []}))
        assert await outbox(records) == []


async def test_find_link_returns_the_newest_link_of_a_server_with_its_outbox(
    store: Store,
) -> None:
    async with store:
        records = await open_bridge_store(store)
        old, new = link("lnk_old", at=T0), link("lnk_new", at=T0 + timedelta(minutes=5))
        other = link("lnk_x", server="srv-2", at=T0 + timedelta(hours=1))
        await records.write_links(links(
            LinkWrite(new, [frame(3), frame(4)]),
            LinkWrite(old, [frame(1)]),
            LinkWrite(other, [frame(9)]),
        ))  # fmt: skip
        found = await records.find_link("gmod", "srv-1")
        assert found is not None and found.id == "lnk_new"
        assert found.unacked == [frame(3), frame(4)]
        assert await records.find_link("minecraft", "srv-1") is None
        assert await outbox(records, "lnk_old") == [1]


async def test_concurrent_dispatches_land_with_their_audit_entries_and_counters(
    store: Store,
) -> None:
    tasks = 50
    seqs: dict[int, list[int]] = {}

    async def one(records: BridgeStore, i: int) -> None:
        batch = links(
            LinkWrite(link(f"lnk_{i}"), [frame(1), frame(2)]),
            audit=[entry(f"t{i}", 0), entry(f"t{i}", 1)],
            companions=[companion(f"cmp_{i}", sent=i)],
        )
        seqs[i] = await records.write_links(batch)

    async with store:
        records = await open_bridge_store(store)
        await store.append_audit([entry("before")])
        async with anyio.create_task_group() as tg:
            for i in range(tasks):
                tg.start_soon(one, records, i)
        everything = sorted(s for got in seqs.values() for s in got)
        assert everything == list(range(2, 2 * tasks + 2))  # unique, no gaps, after seq 1
        by_seq = {e.seq: e for e in await store.list_audit()}
        for i, (a, b) in seqs.items():
            assert by_seq[a].input == {"tag": f"t{i}", "n": 0}
            assert by_seq[b].input == {"tag": f"t{i}", "n": 1}
            assert await outbox(records, f"lnk_{i}") == [1, 2]
        assert sorted(c.actions_sent for c in await store.list_companions()) == list(range(tasks))


async def test_keys_and_deploy_tokens_are_kept_by_hash(store: Store) -> None:
    async with store:
        records = await open_bridge_store(store)
        world, world_secret = await create_world_key(records, "box", "web", ["srv-1"])
        api, api_secret = await create_api_key(records, "ops", "admin")
        assert await check_world_key(records, world_secret, "web") == world
        assert await check_world_key(records, world_secret, "gmod") is None
        assert await check_api_key(records, api_secret) == api
        assert world_secret not in world.model_dump_json()
        assert api_secret not in api.model_dump_json()
        token = DeployToken(token_hash="t" * 64, persona_id="per_1", expires_at=T0)
        await records.save_deploy_token(token)
        assert await records.get_deploy_token("t" * 64) == token
        assert await records.get_deploy_token("x" * 64) is None
        # the same records from another opening over the same store
        again = await open_bridge_store(store)
        assert await again.list_world_keys() == [world]
        assert await again.list_api_keys() == [api]


async def test_keys_holding_a_server_and_revoked_ids_are_found_without_listing(
    store: Store,
) -> None:
    """The two questions the daemon asks while it serves (a web world pass, a first
    identify, the revocation sweep) answered by the store: the server id is matched
    whole, whatever characters it holds (``%`` and ``_`` are wildcards in SQL
    ``LIKE``), only active keys of the world count, and revoked ids are all there."""
    async with store:
        records = await open_bridge_store(store)
        odd = 'a%b_c"d\\é'
        web, _ = await create_world_key(records, "web", "web", ["srv-1", odd])
        other, _ = await create_world_key(records, "gmod", "gmod", ["srv-1"])
        near, _ = await create_world_key(records, "near", "web", ["srv-10", "axbyc", "xsrv-1"])
        gone, _ = await create_world_key(records, "gone", "web", ["srv-2"])
        await records.save_world_key(gone.model_copy(update={"revoked_at": T0}))
        assert await records.world_keys_holding("web", "srv-1") == [web]
        assert await records.world_keys_holding("gmod", "srv-1") == [other]
        assert await records.world_keys_holding("web", odd) == [web]
        assert await records.world_keys_holding("web", "a%b_c") == []
        assert await records.world_keys_holding("web", "srv-10") == [near]
        assert await records.world_keys_holding("web", "srv-2") == []  # revoked
        assert await records.world_keys_holding("minecraft", "srv-1") == []
        assert await records.revoked_world_key_ids() == {gone.id}


async def test_writes_of_one_link_queued_together_keep_their_order(store: Store) -> None:
    """Appends, trims and a replacement of one link, queued by concurrent tasks, land
    as if written one after another (whichever transactions they share)."""
    rec = link()
    changes = [
        LinkWrite(rec, [frame(1), frame(2)]),
        LinkWrite(rec, [frame(3)], acked=2),
        LinkWrite(rec, [frame(4)]),
        LinkWrite(rec, [frame(7), frame(8)], replace=True),
        LinkWrite(rec, [frame(9)], acked=7),
    ]
    async with store:
        records = await open_bridge_store(store)
        for _ in range(3):
            async with anyio.create_task_group() as tg:
                for change in changes:
                    tg.start_soon(records.write_links, links(change))
            assert await outbox(records) == [8, 9]
            await records.write_links(links(LinkWrite(rec, replace=True)))


# -- SQL backends ------------------------------------------------------------------------


async def test_a_failed_batch_commits_none_of_its_writes(
    new_sql_store: Callable[[], SQLiteStore | PostgresStore],
) -> None:
    async with new_sql_store() as store:
        records = await open_bridge_store(store)
        await records.write_links(links(LinkWrite(link(), [frame(1)]), audit=[entry("ok")]))
        # a dispatch that was never sequenced: its outbox row (written last) breaks NOT NULL
        bad = links(
            LinkWrite(link("lnk_1", at=T0 + timedelta(hours=1)), [frame(2), {"op": "x", "s": None}],
                      acked=1),
            audit=[entry("lost")],
            companions=[companion("cmp_lost")],
        )  # fmt: skip
        with pytest.raises(StoreError):
            await records.write_links(bad)
        assert [e.session_id for e in await store.list_audit()] == ["ok"]
        assert await store.get_companion("cmp_lost") is None
        got = await records.get_link("lnk_1")
        assert got is not None and got.updated_at == T0 and [f["s"] for f in got.unacked] == [1]
        # the store goes on, and the failed batch used up no seq
        assert await store.write_batch(WriteBatch(audit=[entry("next")])) == [2]


async def test_bridge_tables_from_a_newer_release_are_refused(
    new_sql_store: Callable[[], SQLiteStore | PostgresStore],
) -> None:
    async with new_sql_store() as store:
        await open_bridge_store(store)
        async with store.engine.begin() as conn:
            await conn.execute(
                text("UPDATE schema_meta SET value = '99' WHERE key = :k"),
                {"k": bridge_schema.TRACK},
            )
    async with new_sql_store() as store:
        with pytest.raises(StoreError, match="bridge schema version 99, newer than"):
            await open_bridge_store(store)


async def test_daemons_starting_together_create_the_tables_once(
    new_sql_store: Callable[[], SQLiteStore | PostgresStore],
) -> None:
    """Several daemons opening one fresh database at once (nodes of one deployment)."""
    stores = [new_sql_store() for _ in range(4)]
    opened: list[BridgeStore] = []

    async def start(store: SQLiteStore | PostgresStore) -> None:
        await store.open()
        opened.append(await open_bridge_store(store))

    try:
        async with anyio.create_task_group() as tg:
            for store in stores:
                tg.start_soon(start, store)
        key, _ = await create_world_key(opened[0], "box", "gmod", ["srv-1"])
        for records in opened:
            assert await records.list_world_keys() == [key]
        async with stores[0].engine.connect() as conn:
            version = (await conn.execute(
                text("SELECT value FROM schema_meta WHERE key = :k"), {"k": bridge_schema.TRACK}
            )).scalar()  # fmt: skip
        assert version == str(bridge_schema.SCHEMA_VERSION)
    finally:
        for store in stores:
            await store.close()


# -- SQLite ------------------------------------------------------------------------------


async def test_a_data_folder_from_the_shared_schema_keeps_keys_links_and_outbox(
    tmp_path: Path,
) -> None:
    """A store written when the SDK's schema (version 9) held the daemon's records."""
    path = tmp_path / "encounters.db"
    db = sqlite3.connect(path)
    db.executescript((DATA / "store_schema_v9.sql").read_text("utf-8"))
    db.close()
    async with SQLiteStore(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        records = await open_bridge_store(store)
        bound, revoked = await records.list_world_keys()
        assert (bound.id, bound.world, bound.server_ids) == ("wk_bound", "gmod", ["srv-1"])
        assert revoked.id == "wk_revoked" and revoked.revoked_at is not None
        assert [k.id for k in await records.list_api_keys()] == ["ak_admin"]
        token = await records.get_deploy_token("t" * 64)
        assert token is not None and token.persona_id == "per_1"
        found = await records.find_link("gmod", "srv-1")
        assert found is not None and (found.id, found.out_s, found.in_s) == ("link_1", 3, 2)
        assert [(f["s"], f["d"]["text"]) for f in found.unacked] == [(2, "héllo 2"), (3, "héllo 3")]
        # the SDK's records are where they were
        (audited,) = await store.list_audit()
        assert audited.seq == 1 and audited.session_id == "cmp_1"
        saved = await store.get_companion("cmp_1")
        assert saved is not None and saved.actions_sent == 3
        # and the daemon goes on writing: acknowledged up to 2, one more dispatch
        await records.write_links(links(LinkWrite(found, [frame(4)], acked=2), audit=[entry("n")]))
        assert await outbox(records, "link_1") == [3, 4]
        assert [e.seq for e in await store.list_audit()] == [1, 2]
    meta = dict(sqlite3.connect(path).execute("SELECT key, value FROM schema_meta").fetchall())
    assert meta == {"schema_version": str(SCHEMA_VERSION),
                    bridge_schema.TRACK: str(bridge_schema.SCHEMA_VERSION)}  # fmt: skip


def downgrade(path: Path, version: int) -> None:
    """Turn the version 9 store at ``path`` into what SDK schema ``version`` kept, by
    undoing the steps that came after it: 9 bound keys to game servers, 8 and 7 added
    the event log and documents, 6 moved a link's dispatches out of its JSON into
    outbox rows, 5 the deployment tables, 4 the bridge's, 3 LLM usage, 2 the audit log."""
    db = sqlite3.connect(path, isolation_level=None)
    if version < 9:
        db.execute("ALTER TABLE world_keys DROP COLUMN server_ids")
    for step, tables in ((8, ["event_log"]), (7, ["documents"]),
                         (5, ["personas", "deploy_tokens", "companion_sessions", "api_keys"]),
                         (4, ["world_keys", "bridge_links"]), (3, ["llm_usage"]),
                         (2, ["audit_log"])):  # fmt: skip
        if version < step:
            for table in tables:
                db.execute(f"DROP TABLE {table}")
    if 4 <= version < 6:
        for link_id, data in db.execute("SELECT id, data FROM bridge_links").fetchall():
            outbox_rows = "SELECT data FROM bridge_outbox WHERE link_id = ? ORDER BY s"
            frames = [json.loads(d) for (d,) in db.execute(outbox_rows, (link_id,))]
            record = json.dumps({**json.loads(data), "unacked": frames})
            db.execute("UPDATE bridge_links SET data = ? WHERE id = ?", (record, link_id))
    if version < 6:
        db.execute("DROP TABLE bridge_outbox")
    db.execute("UPDATE schema_meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    db.close()


@pytest.mark.parametrize("version", range(1, 10))
async def test_a_store_of_every_earlier_version_opens_with_what_it_held(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "encounters.db"
    db = sqlite3.connect(path)
    db.executescript((DATA / "store_schema_v9.sql").read_text("utf-8"))
    db.close()
    downgrade(path, version)
    async with SQLiteStore(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        records = await open_bridge_store(store)
        keys = await records.list_world_keys()
        found = await records.find_link("gmod", "srv-1")
        if version < 4:
            assert keys == [] and found is None
        else:
            assert [k.id for k in keys] == ["wk_bound", "wk_revoked"]
            # a key of a version before 9 is bound again at its next identify
            assert keys[0].server_ids == (["srv-1"] if version >= 9 else [])
            assert found is not None and [f["s"] for f in found.unacked] == [2, 3]
            await records.write_links(links(LinkWrite(found, [frame(4)], acked=2)))
            assert await outbox(records, "link_1") == [3, 4]
        token = await records.get_deploy_token("t" * 64)
        assert [k.id for k in await records.list_api_keys()] == (
            ["ak_admin"] if version >= 5 else []
        )
        assert (token is not None) == (version >= 5)
        companions = await store.list_companions()
        assert [c.actions_sent for c in companions] == ([3] if version >= 5 else [])
        assert len(await store.list_audit()) == (1 if version >= 2 else 0)
        # everything works from here on, whatever the file held
        await store.write_batch(WriteBatch(audit=[entry("after")]))
        await records.save_deploy_token(DeployToken(token_hash="n" * 64, persona_id="per_2",
                                                    expires_at=T0))  # fmt: skip
    db = sqlite3.connect(path)
    for (data,) in db.execute("SELECT data FROM bridge_links"):
        assert "unacked" not in json.loads(data)
    db.close()


async def test_the_sdk_alone_creates_none_of_the_daemons_tables(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path):
        pass
    db = sqlite3.connect(path)
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert not tables & set(bridge_schema.metadata.tables)
    assert {"sessions", "audit_log", "companion_sessions"} <= tables


async def test_a_deploy_token_is_used_up_once_by_racing_stores(
    new_sql_store: Callable[[], SQLiteStore | PostgresStore],
) -> None:
    """Two daemon nodes on one database, each spawning with the same token at once:
    exactly one use succeeds, and the token is gone for both."""
    a, b = new_sql_store(), new_sql_store()
    async with a, b:
        first, second = await open_bridge_store(a), await open_bridge_store(b)
        await first.save_deploy_token(DeployToken(
            token_hash="u" * 64, persona_id="per_1", expires_at=T0 + timedelta(days=9999),
        ))  # fmt: skip
        used: list[bool] = []

        async def use(records: BridgeStore) -> None:
            used.append(await records.use_deploy_token("u" * 64))

        async with anyio.create_task_group() as tg:
            for n in range(12):
                tg.start_soon(use, first if n % 2 else second)
        assert sorted(used) == [False] * 11 + [True]
        assert await first.get_deploy_token("u" * 64) is None
        assert await second.get_deploy_token("u" * 64) is None
        assert await first.use_deploy_token("never-issued") is False
