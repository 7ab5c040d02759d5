"""What the PostgreSQL store adds to the shared store tests: several nodes (store
objects with their own connection pools) on one database, a process killed
mid-write, failed transactions, and the errors an operator sees. Needs PostgreSQL at
127.0.0.1:5432 (see tests/support/services.py)."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import text

from encounters import EncounterSpec, Session, SyncEngine
from encounters.errors import ConfigError, StoreError, StoreValueRefused
from encounters.models.audit import AuditEntry
from encounters.models.deployment import CompanionSession
from encounters.settings import load_settings
from encounters.storage import WriteBatch
from encounters.storage.postgres import PostgresStore
from encounters.storage.schema import SCHEMA_VERSION
from tests.conftest import encounter_dict
from tests.support.services import POSTGRES_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def node(schema: str) -> PostgresStore:
    """A store object as one daemon node would open it (its own pool)."""
    return PostgresStore(POSTGRES_URL, schema=schema, pool_size=2)


def entry(tag: str) -> AuditEntry:
    return AuditEntry(kind="event", decision="allow", session_id=tag, input={"tag": tag})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_a_nul_character_is_a_refused_value_not_a_store_failure(pg_schema: str) -> None:
    store = node(pg_schema)
    await store.open()
    try:
        with pytest.raises(StoreValueRefused, match="SQLSTATE 22021"):
            await store.get_encounter("enc\x00x")
        assert await store.get_encounter("enc_x") is None  # the pool is fine after it
    finally:
        await store.close()


async def test_nodes_opening_a_new_database_at_once_migrate_it_once(pg_schema: str) -> None:
    stores = [node(pg_schema) for _ in range(4)]
    async with anyio.create_task_group() as tg:
        for store in stores:
            tg.start_soon(store.open)
    try:
        for store in stores:
            assert await store.schema_version() == SCHEMA_VERSION
        await stores[0].append_events("e", [(None, datetime.now(UTC), {"n": 1})])
        assert [e.data for e in await stores[3].list_events("e")] == [{"n": 1}]
    finally:
        for store in stores:
            await store.close()


async def test_appends_from_two_nodes_are_numbered_without_gaps_and_no_cursor_skips(
    pg_schema: str,
) -> None:
    """A reader following the log by cursor while two nodes append sees every row:
    numbers are committed in increasing order."""
    per_node, batches = 60, 3
    total = 2 * per_node * batches
    seen: list[int] = []
    written: dict[int, dict[str, Any]] = {}
    async with node(pg_schema) as a, node(pg_schema) as b, node(pg_schema) as reader:

        async def append(store: PostgresStore, name: str, i: int) -> None:
            rows: list[tuple[str | None, datetime, dict[str, Any]]] = [
                (name, datetime.now(UTC), {"node": name, "i": i, "k": k}) for k in range(batches)
            ]
            for event_id, (_, _, data) in zip(
                await store.append_events("bus", rows), rows, strict=True
            ):
                written[event_id] = data

        async def follow() -> None:
            cursor = 0
            while len(seen) < total:
                got = await reader.list_events("bus", after_id=cursor, limit=50)
                seen.extend(e.id for e in got)
                cursor = got[-1].id if got else cursor
                await anyio.sleep(0)

        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            for i in range(per_node):
                tg.start_soon(append, a, "a", i)
                tg.start_soon(append, b, "b", i)
        assert sorted(written) == list(range(1, total + 1))  # unique, no gaps
        assert seen == list(range(1, total + 1))  # in order, none skipped
        stored = {e.id: e.data for e in await reader.list_events("bus", limit=total)}
        assert stored == written
        # a node's own batch keeps its order
        only_a = await reader.list_events("bus", key="a", limit=total)
        assert len(only_a) == per_node * batches
        for first, second in itertools.pairwise(only_a):
            if first.data["i"] == second.data["i"]:
                assert first.data["k"] < second.data["k"]


async def test_session_updates_from_two_nodes_lose_nothing(pg_schema: str) -> None:
    session = Session.start("alice", EncounterSpec.model_validate(encounter_dict()))

    def add(tag: str) -> Callable[[Session], None]:
        return lambda s: s.webhooks_triggered.append(tag)

    async with node(pg_schema) as a, node(pg_schema) as b:
        await a.save_session(session)
        async with anyio.create_task_group() as tg:
            for i in range(25):
                tg.start_soon(a.update_session, session.id, add(f"a{i}"))
                tg.start_soon(b.update_session, session.id, add(f"b{i}"))
        got = await b.get_session(session.id)
        assert got is not None
        assert sorted(got.webhooks_triggered) == sorted(
            [f"a{i}" for i in range(25)] + [f"b{i}" for i in range(25)]
        )


async def test_nodes_saving_the_same_rows_in_opposite_orders_do_not_deadlock(
    pg_schema: str,
) -> None:
    spec = EncounterSpec.model_validate(encounter_dict())
    rows = [Session.start(f"p{i}", spec) for i in range(20)]
    async with node(pg_schema) as a, node(pg_schema) as b:
        await a.save_sessions(rows)
        for _ in range(15):  # each node's batch locks all 20 rows in one transaction
            async with anyio.create_task_group() as tg:
                tg.start_soon(a.save_sessions, rows)
                tg.start_soon(b.save_sessions, rows[::-1])
        assert len(await a.list_sessions(limit=100)) == 20


async def test_a_failed_batch_commits_none_of_its_writes(pg_schema: str) -> None:
    async with node(pg_schema) as store:
        assert await store.append_audit([entry("ok")]) == [1]
        companion = CompanionSession(id="cmp_lost", persona_id="per_1", world="gmod",
                                     server_id="srv-1")  # fmt: skip
        # the last row breaks a column's limit (stores take models as given; callers
        # validate): the whole transaction is refused
        too_long = entry("late").model_copy(update={"session_id": "x" * 65})
        bad = WriteBatch(audit=[entry("lost"), too_long], companions=[companion])
        with pytest.raises(StoreError) as info:
            await store.write_batch(bad)
        assert "nothing of it was stored" in str(info.value) and "\n" not in str(info.value)
        assert [e.session_id for e in await store.list_audit()] == ["ok"]
        assert await store.get_companion("cmp_lost") is None
        assert await store.write_batch(WriteBatch(audit=[entry("next")])) == [2]  # no gap


async def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    port = free_port()  # nothing listens there
    store = PostgresStore(f"postgresql://ae:s3cret-pw@127.0.0.1:{port}/ae")
    with pytest.raises(StoreError) as info:
        await store.open()
    message = str(info.value)
    assert f"127.0.0.1:{port}/ae" in message and "AE_STORE" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(store)
    assert "\n" not in message


async def test_a_refused_statement_is_named_with_its_sqlstate_not_the_url(
    pg_schema: str,
) -> None:
    """A statement the server refuses on a working connection (here a division by zero;
    in a cluster a deadlock or a fence) is not an unreachable server: the message names
    the refusal and its SQLSTATE, and does not send the operator to check the URL."""
    async with node(pg_schema) as store:
        with pytest.raises(StoreError) as info:
            async with store.reading() as conn:
                await conn.execute(text("SELECT 1 / 0"))
        message = str(info.value)
        assert "refused a statement" in message and "SQLSTATE 22012" in message
        assert "division by zero" in message and "AE_STORE" not in message
        async with store.reading() as conn:  # the store goes on working
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1


async def test_a_missing_schema_is_named_with_the_fix(pg_schema: str) -> None:
    store = PostgresStore(f"{POSTGRES_URL}?schema={pg_schema}_missing")
    with pytest.raises(StoreError, match=rf"create it \(CREATE SCHEMA {pg_schema}_missing\)"):
        await store.open()


def test_the_store_setting_takes_a_postgresql_url_and_refuses_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AE_STORE", "postgresql://ae:pw-of-db@db.example:5432/ae")
    settings = load_settings()
    assert settings.store.startswith("postgresql://") and "pw-of-db" not in repr(settings)
    monkeypatch.setenv("AE_STORE", "mysql://db/ae")
    with pytest.raises(ConfigError, match=r"AE_STORE: .*postgresql://"):
        load_settings()
    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        PostgresStore("sqlite:///x.db")


def test_the_engine_opens_the_store_named_by_ae_store(pg_schema: str, tmp_path: Path) -> None:
    url = f"{POSTGRES_URL}?schema={pg_schema}"
    settings = load_settings(store=url, data_dir=tmp_path)
    with SyncEngine(settings) as engine:
        spec = engine.save_encounter(encounter_dict())
        session = engine.start_session("alice", spec)
    assert not (tmp_path / "encounters.db").exists()

    async def check() -> None:
        async with node(pg_schema) as store:
            got = await store.get_session(session.id)
            assert got is not None and got.player_id == "alice"

    anyio.run(check)


def test_trio_is_refused_with_the_reason(pg_schema: str) -> None:
    async def main() -> None:
        async with node(pg_schema):
            pass

    with pytest.raises(StoreError, match="asyncio only"):
        anyio.run(main, backend="trio")


WRITER = textwrap.dedent(
    """
    import sys, anyio
    from encounters.generation import ProceduralGenerator
    from encounters.models import Category, Session
    from encounters.storage.postgres import PostgresStore

    async def main(url, schema):
        spec = ProceduralGenerator().generate(Category.COMBAT, 0.5, seed=1)
        async with PostgresStore(url, schema=schema) as store:
            async def one(i):
                s = Session.start(f"p{i % 5}", spec)
                await store.save_session(s)
                print(s.id, flush=True)   # only after the commit returned
            i = 0
            while True:   # several writes in flight: group commits of many rows
                async with anyio.create_task_group() as tg:
                    for _ in range(8):
                        tg.start_soon(one, i)
                        i += 1

    anyio.run(main, sys.argv[1], sys.argv[2])
    """
)


def test_sigkill_mid_write_loses_no_acknowledged_session(pg_schema: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, POSTGRES_URL, pg_schema], stdout=subprocess.PIPE, text=True
    )
    acked: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(line.strip())
            if len(acked) >= 300:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert len(acked) >= 300

    async def check() -> tuple[set[str], list[str]]:
        async with node(pg_schema) as store:
            kept = await store.list_sessions(limit=100_000)
            return {s.id for s in kept}, [s.player_id for s in kept]

    kept, players = anyio.run(check)
    assert set(acked) <= kept
    assert set(players) <= {f"p{i}" for i in range(5)}  # whole rows only
