"""``ae store migrate --to postgresql://...``: an embedded SQLite store moved into
PostgreSQL, as an operator runs it. Needs PostgreSQL at 127.0.0.1:5432 (see
tests/support/services.py)."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest
from anyio.from_thread import start_blocking_portal
from typer.testing import CliRunner

from encounters import EncounterSpec, Engine, Session
from encounters.cli import app
from encounters.memory import NPCMemoryManager
from encounters.models.audit import AuditEntry
from encounters.models.usage import UsageRecord
from encounters.moderation import TextFilter
from encounters.settings import Settings
from encounters.storage import SQLiteStore
from encounters.storage.postgres import PostgresStore
from encounters.webhooks.models import Webhook
from tests.conftest import encounter_dict
from tests.sdk.marketplace.helpers import ADMIN, encounter_submission, open_market
from tests.support.services import POSTGRES_URL

runner = CliRunner()


def ae(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


async def fill(path: Path) -> dict[str, Any]:
    """A store with a bit of everything, as a daemon leaves it."""
    spec = EncounterSpec.model_validate(encounter_dict())
    session = Session.start("alice", spec)
    async with SQLiteStore(path) as store:
        await store.save_encounter(spec)
        await store.save_session(session)
        seqs = await store.append_audit([
            AuditEntry(kind="event", decision="allow", session_id=session.id, input={"n": n})
            for n in range(3)
        ])  # fmt: skip
        ids = await store.append_events("analytics", [
            (spec.id, datetime(2024, 5, 1, 12, n, tzinfo=UTC), {"n": n}) for n in range(5)
        ])  # fmt: skip
        hook = Webhook(id="wh_1", url="https://example.com/hook", events=["*"],
                       created_at=datetime(2024, 5, 1, tzinfo=UTC))  # fmt: skip
        await store.save_document("webhook", hook.id, hook)
        await store.append_usage([UsageRecord(provider="openai", model="m", ok=True,
                                              input_tokens=10)] * 2)  # fmt: skip
    return {"spec": spec, "session": session, "seqs": seqs, "ids": ids, "hook": hook}


def test_migrate_copies_everything_with_ids_and_cursors_kept(
    tmp_path: Path, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    made = anyio.run(fill, data / "encounters.db")
    url = f"{POSTGRES_URL}?schema={pg_schema}"

    code, out, err = ae("--data-dir", str(data), "store", "migrate", "--to", url)
    assert code == 0, err
    assert "copied" in out and "sessions" in out

    async def check() -> None:
        async with PostgresStore(url) as store:
            assert await store.get_session(made["session"].id) == made["session"]
            assert [e.id for e in await store.list_encounters()] == [made["spec"].id]
            assert [e.seq for e in await store.list_audit()] == made["seqs"]
            events = await store.list_events("analytics", after_id=made["ids"][1])
            assert [e.id for e in events] == made["ids"][2:]
            assert [e.data["n"] for e in events] == [2, 3, 4]
            assert events[0].at == datetime(2024, 5, 1, 12, 2, tzinfo=UTC)
            assert await store.get_document("webhook", "wh_1", Webhook) == made["hook"]
            # new appends continue after the copied numbers
            (next_id,) = await store.append_events("analytics", [(None, datetime.now(UTC), {})])
            assert next_id == made["ids"][-1] + 1
            await store.append_usage([UsageRecord(provider="openai", model="m", ok=False)])
            (usage,) = await store.usage_totals()
            assert (usage.calls, usage.failures, usage.input_tokens) == (3, 1, 20)

    anyio.run(check)

    # a second run finds the target full and changes nothing
    code, _, err = ae("--data-dir", str(data), "store", "migrate", "--to", url)
    assert code == 1 and "already holds rows" in err and "1 in sessions" in err

    # the next step: AE_STORE names the database, and the same commands see the data
    monkeypatch.setenv("AE_STORE", url)
    (data / "encounters.db").rename(data / "moved-away.db")
    code, out, err = ae("--data-dir", str(data), "sessions", "list", "--json")
    assert code == 0, err
    assert [s["id"] for s in json.loads(out)] == [made["session"].id]
    assert not (data / "encounters.db").exists()


def test_a_failed_copy_leaves_the_target_empty(tmp_path: Path, pg_schema: str) -> None:
    path = tmp_path / "old.db"
    anyio.run(fill, path)
    with sqlite3.connect(path) as db:  # a value PostgreSQL cannot hold (a NUL character)
        db.execute("UPDATE documents SET data = ?", ("bad\x00value",))
    url = f"{POSTGRES_URL}?schema={pg_schema}"

    code, _, err = ae("store", "migrate", "--from", str(path), "--to", url)
    assert code == 1 and "nothing was copied" in err
    assert len(err.strip().splitlines()) == 1

    async def count_sessions() -> int:
        async with PostgresStore(url) as store:
            return len(await store.list_sessions())

    assert anyio.run(count_sessions) == 0


def test_ctrl_c_while_the_copy_waits_on_postgresql_stops_it_and_leaves_the_target_empty(
    tmp_path: Path, pg_schema: str
) -> None:
    """Ctrl-C in the middle of the copy, as an operator presses it, while the copy's
    INSERT waits on a lock someone else holds (and keeps holding): the copy stops at
    once, says no rows were copied, exits 130 without a traceback, and the next run
    copies everything."""
    data = tmp_path / "data"
    made = anyio.run(fill, data / "encounters.db")
    url = f"{POSTGRES_URL}?schema={pg_schema}"

    async def create_tables() -> None:
        async with PostgresStore(url):
            pass

    anyio.run(create_tables)
    ae_bin = str(Path(sys.executable).parent / "ae")
    with start_blocking_portal("asyncio") as portal:
        holder = portal.call(asyncpg.connect, POSTGRES_URL)
        watcher = portal.call(asyncpg.connect, POSTGRES_URL)
        try:
            portal.call(holder.execute, f"SET search_path TO {pg_schema}")
            # reads pass, writes wait: the copy counts every table, then its INSERT waits
            portal.call(holder.execute, "BEGIN; LOCK TABLE audit_log IN SHARE MODE")
            copy = subprocess.Popen(
                [ae_bin, "--data-dir", str(data), "store", "migrate", "--to", url],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                blocked = (
                    "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))"
                )
                while not portal.call(watcher.fetchval, blocked, holder.get_server_pid()):
                    assert copy.poll() is None, copy.communicate()
                    time.sleep(0.02)  # polling PostgreSQL, not a synchronisation by time
                copy.send_signal(signal.SIGINT)
                _, err = copy.communicate(timeout=120)  # the lock is still held
            finally:
                if copy.poll() is None:
                    copy.kill()
                portal.call(holder.execute, "ROLLBACK")
        finally:
            portal.call(holder.close)
            portal.call(watcher.close)
    assert copy.returncode == 130, err
    assert "interrupted: no rows were copied" in err and "Traceback" not in err
    assert "run the command again" in err

    async def counts() -> tuple[int, int]:
        async with PostgresStore(url) as store:
            return len(await store.list_sessions()), len(await store.list_encounters())

    assert anyio.run(counts) == (0, 0)
    code, _, err = ae("--data-dir", str(data), "store", "migrate", "--to", url)
    assert code == 0, err
    assert anyio.run(counts) == (1, 1)
    assert made["session"].id in {s.id for s in anyio.run(_sessions, url)}


def test_a_second_ctrl_c_quits_at_once_while_connecting(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """Connecting is a wait the first Ctrl-C cannot cut short (here a server that
    takes the connection and never answers): the first press says the copy is being
    stopped and how to quit at once, the second quits at once with status 130, no
    traceback, and the marketplace file already copied is taken back."""
    data = tmp_path / "data"
    anyio.run(fill, data / "encounters.db")

    async def publish() -> None:
        async with open_market(data / "encounters.db", text_filter) as (market, _):
            await market.publish(encounter_submission("enc_moved", title="The Cave"), ADMIN)

    anyio.run(publish)
    ae_bin = str(Path(sys.executable).parent / "ae")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        silent.settimeout(60)
        url = f"postgresql://ae@127.0.0.1:{silent.getsockname()[1]}/test"
        copy = subprocess.Popen(
            [ae_bin, "--data-dir", str(data), "store", "migrate", "--to", url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            conn, _ = silent.accept()  # the copy connects: its Ctrl-C handler is set
            with conn:
                assert (data / "market.db").exists()  # copied before PostgreSQL
                copy.send_signal(signal.SIGINT)
                assert copy.stderr is not None
                said = []
                while line := copy.stderr.readline():  # until it says it is stopping
                    said.append(line)
                    if line.startswith("stopping:"):
                        break
                assert "press Ctrl-C again to quit at once" in said[-1], said
                copy.send_signal(signal.SIGINT)
                _, err = copy.communicate(timeout=30)
        finally:
            if copy.poll() is None:
                copy.kill()
                copy.wait()
    assert copy.returncode == 130, err
    assert "interrupted: the copy into" in err and "run the command again" in err
    assert "Traceback" not in err
    assert not (data / "market.db").exists()


def test_a_damaged_source_is_named_as_the_source(tmp_path: Path, pg_schema: str) -> None:
    path = tmp_path / "old.db"

    async def many_rows() -> None:
        async with SQLiteStore(path) as store:
            await store.append_audit([
                AuditEntry(kind="event", decision="allow", input={"n": n, "pad": "x" * 500})
                for n in range(3000)
            ])  # fmt: skip

    anyio.run(many_rows)
    size = path.stat().st_size
    with path.open("r+b") as f:  # pages in the last third (audit rows), not the schema
        f.seek(size * 2 // 3)
        f.write(b"\xa5" * 8192)
    url = f"{POSTGRES_URL}?schema={pg_schema}"
    code, _, err = ae("store", "migrate", "--from", str(path), "--to", url)
    assert code == 1
    assert f"reading the SQLite store {str(path)!r} failed, nothing was copied" in err
    assert "integrity_check" in err and "copying into" not in err


async def _sessions(url: str) -> list[Session]:
    async with PostgresStore(url) as store:
        return await store.list_sessions()


def test_a_missing_source_is_named(tmp_path: Path, pg_schema: str) -> None:
    missing = tmp_path / "nope.db"
    url = f"{POSTGRES_URL}?schema={pg_schema}"
    code, _, err = ae("store", "migrate", "--from", str(missing), "--to", url)
    assert code == 1 and "no SQLite store at" in err and str(missing) in err


def test_the_marketplace_moves_into_its_own_file(
    tmp_path: Path, pg_schema: str, text_filter: TextFilter
) -> None:
    """The marketplace has no PostgreSQL backend: a node on PostgreSQL keeps it in
    ``market.db`` in its data folder, which ``ae store migrate`` fills from the SQLite
    store (searchable there, and holding nothing else of the store)."""
    data = tmp_path / "data"
    made = anyio.run(fill, data / "encounters.db")

    async def publish() -> str:
        async with open_market(data / "encounters.db", text_filter) as (market, _):
            sub = encounter_submission("enc_moved", title="The Dragon's Cave", tags=["lair"])
            return (await market.publish(sub, ADMIN)).listing_id

    listing = anyio.run(publish)
    url = f"{POSTGRES_URL}?schema={pg_schema}"
    (data / "market.db").write_bytes(b"")  # taken: refused before anything is copied
    code, _, err = ae("--data-dir", str(data), "store", "migrate", "--to", url)
    assert code == 1 and "market.db" in err and "--market-to" in err
    (data / "market.db").unlink()

    # the PostgreSQL copy fails (a value it cannot hold): the marketplace file copied
    # first is taken back, so the run leaves nothing behind and can run again
    with sqlite3.connect(data / "encounters.db") as db:
        db.execute("UPDATE documents SET data = ?", ("bad\x00value",))
    code, _, err = ae("--data-dir", str(data), "store", "migrate", "--to", url)
    assert code == 1 and "nothing was copied" in err
    assert not (data / "market.db").exists()
    with sqlite3.connect(data / "encounters.db") as db:
        db.execute("DELETE FROM documents")

    code, out, err = ae("--data-dir", str(data), "store", "migrate", "--to", url, "--json")
    assert code == 0, err
    assert {"table": "market_listings", "rows": 1, "file": str(data / "market.db")} in json.loads(
        out
    )

    async def found() -> list[str]:
        async with open_market(data / "market.db", text_filter) as (market, _):
            return [i.id for i in (await market.search({"text": "dragon"})).items]

    assert anyio.run(found) == [listing]
    with sqlite3.connect(data / "market.db") as db:
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "sessions" not in tables and "market_listings" in tables

    async def session_moved() -> None:  # and the store itself is in PostgreSQL
        async with PostgresStore(url) as store:
            assert await store.get_session(made["session"].id) == made["session"]

    anyio.run(session_moved)


def test_migrate_moves_the_npc_memories_of_memory_db(tmp_path: Path, pg_schema: str) -> None:
    data = tmp_path / "data"
    anyio.run(fill, data / "encounters.db")
    secret = base64.b64encode(os.urandom(32)).decode()

    async def remember() -> None:
        memory = NPCMemoryManager.open(data, secret)
        await memory.record_interaction("smith", "ana", {"dialogue": ["You found my ring."],
                                                         "outcome": "positive"})  # fmt: skip
        memory.close()

    anyio.run(remember)
    url = f"{POSTGRES_URL}?schema={pg_schema}"
    code, out, err = ae("--data-dir", str(data), "store", "migrate", "--to", url)
    assert code == 0, err
    assert "npc_memories" in out

    async def on_a_node() -> None:  # a node of the cluster: its own folder, the key set
        settings = Settings(store=url, data_dir=tmp_path / "node2", memory_key=secret)
        async with Engine(settings) as engine:
            assert (await engine.memory.get_memory("smith", "ana")).relationship == 10
            (found,) = await engine.memory.retrieve("smith", "ana", "ring")
            assert found.text == "You found my ring."

    anyio.run(on_a_node)
