"""Stored sessions written per second to the embedded SQLite store, and to PostgreSQL.

Prints, side by side in one run (machines here are shared and noisy, so read medians
and ratios, not absolute numbers):

- engine path: ``SQLiteStore.save_session`` one transaction per session (what every
  play step costs);
- concurrent: 64 tasks (players) saving at once, which group commit folds into shared
  transactions;
- batched: ``SQLiteStore.save_sessions`` in batches of 500;
- baseline: the same rows, upserted into the same table and indexes with the stdlib
  ``sqlite3`` module, one transaction per row, same pragmas (WAL, synchronous=NORMAL):
  the floor our SQLAlchemy/aiosqlite layer adds overhead to.

Then the same three on ``PostgresStore`` (``--postgres URL``, default the local test
database, each round in a fresh schema dropped afterwards), plus event-log appends
from 64 tasks (the path of analytics events and the webhook outbox, numbered under
the store's advisory lock). Skipped with a line saying so when PostgreSQL is not
reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio

from encounters.generation import ProceduralGenerator
from encounters.models import Category, Session
from encounters.storage import SQLiteStore, Store
from encounters.storage.postgres import PostgresStore

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def make_sessions(n: int) -> list[Session]:
    gen = ProceduralGenerator()
    specs = [gen.generate(Category(c), 0.5, seed=i) for i, c in enumerate(Category)]
    return [Session.start(f"p{i % 50}", specs[i % len(specs)]) for i in range(n)]


def _store(where: Path | Store) -> Store:
    return SQLiteStore(where) if isinstance(where, Path) else where


async def engine_path(path: Path | Store, sessions: list[Session]) -> float:
    async with _store(path) as store:
        start = time.perf_counter()
        for s in sessions:
            await store.save_session(s)
        return len(sessions) / (time.perf_counter() - start)


async def concurrent(path: Path | Store, sessions: list[Session], tasks: int = 64) -> float:
    async with _store(path) as store:

        async def player(mine: list[Session]) -> None:
            for s in mine:
                await store.save_session(s)

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for k in range(tasks):
                tg.start_soon(player, sessions[k::tasks])
        return len(sessions) / (time.perf_counter() - start)


async def batched(path: Path | Store, sessions: list[Session]) -> float:
    async with _store(path) as store:
        start = time.perf_counter()
        for i in range(0, len(sessions), 500):
            await store.save_sessions(sessions[i : i + 500])
        return len(sessions) / (time.perf_counter() - start)


async def events(store: Store, n: int, tasks: int = 64) -> float:
    """Event-log appends (one row each) from ``tasks`` concurrent tasks."""
    async with store:
        at = datetime.now(UTC)

        async def producer(k: int) -> None:
            for i in range(k, n, tasks):
                await store.append_events("bench", [(f"k{i % 50}", at, {"i": i})])

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for k in range(tasks):
                tg.start_soon(producer, k)
        return n / (time.perf_counter() - start)


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_round(url: str, sessions: list[Session], r: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, run in (("engine", engine_path), ("concurrent", concurrent),
                      ("batched", batched), ("events", None)):  # fmt: skip
        schema = f"bench_{os.getpid()}_{r}_{name}"
        asyncio.run(_admin(url, f"CREATE SCHEMA {schema}"))
        try:
            store = PostgresStore(url, schema=schema)
            if run is None:
                out[name] = anyio.run(events, store, len(sessions))
            else:
                out[name] = anyio.run(run, store, sessions)
        finally:
            asyncio.run(_admin(url, f"DROP SCHEMA {schema} CASCADE"))
    return out


#: The same table and indexes as the store's ``sessions`` table (storage/schema.py).
BASELINE_SCHEMA = """
CREATE TABLE sessions (id VARCHAR(64) PRIMARY KEY, player_id VARCHAR(64) NOT NULL,
  status VARCHAR(16) NOT NULL, campaign_id VARCHAR(64), encounter_id VARCHAR(64) NOT NULL,
  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, data TEXT NOT NULL);
CREATE INDEX ix_sessions_player_created ON sessions (player_id, created_at);
CREATE INDEX ix_sessions_status ON sessions (status);
CREATE INDEX ix_sessions_campaign ON sessions (campaign_id);
"""


def baseline(path: Path, sessions: list[Session]) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(BASELINE_SCHEMA)
    start = time.perf_counter()
    for s in sessions:
        db.execute("BEGIN")
        now = s.updated_at.isoformat()
        db.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "player_id=excluded.player_id, status=excluded.status, "
            "campaign_id=excluded.campaign_id, encounter_id=excluded.encounter_id, "
            "updated_at=excluded.updated_at, data=excluded.data",
            (
                s.id,
                s.player_id,
                s.status.value,
                s.campaign_id,
                s.encounter.id,
                s.created_at.isoformat(),
                now,
                s.model_dump_json(),
            ),
        )
        db.execute("COMMIT")
    rate = len(sessions) / (time.perf_counter() - start)
    db.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small run for smoke tests")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="PostgreSQL database URL")
    args = parser.parse_args()
    n, rounds = (300, 2) if args.quick else (args.sessions, args.rounds)
    sessions = make_sessions(n)
    results: dict[str, list[float]] = {"engine": [], "concurrent": [], "batched": [], "sqlite3": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            base = Path(tmp) / str(r)
            results["engine"].append(anyio.run(engine_path, base / "e.db", sessions))
            results["concurrent"].append(anyio.run(concurrent, base / "c.db", sessions))
            results["batched"].append(anyio.run(batched, base / "b.db", sessions))
            base.mkdir(parents=True, exist_ok=True)
            results["sqlite3"].append(baseline(base / "s.db", sessions))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"sessions per round: {n}, rounds: {rounds} (medians)")
    print(f"  SQLiteStore.save_session, 1 tx each : {med['engine']:>10,.0f} sessions/s")
    print(f"  save_session from 64 concurrent tasks: {med['concurrent']:>10,.0f} sessions/s")
    print(f"  SQLiteStore.save_sessions, batches  : {med['batched']:>10,.0f} sessions/s")
    print(f"  baseline stdlib sqlite3, 1 tx each  : {med['sqlite3']:>10,.0f} sessions/s")
    floor = med["sqlite3"]
    print(
        f"  ratio to baseline: single {med['engine'] / floor:.2f}, "
        f"concurrent {med['concurrent'] / floor:.2f}, batched {med['batched'] / floor:.2f}"
    )
    try:
        asyncio.run(_admin(args.postgres, "SELECT 1"))
    except (OSError, TimeoutError, ImportError) as exc:
        print(f"PostgreSQL: skipped, not reachable at {args.postgres} ({exc})")
        return
    pg: dict[str, list[float]] = {"engine": [], "concurrent": [], "batched": [], "events": []}
    for r in range(rounds):
        for name, rate in postgres_round(args.postgres, sessions, r).items():
            pg[name].append(rate)
    pmed = {k: statistics.median(v) for k, v in pg.items()}
    print("PostgreSQL (loopback, same sessions, every commit fsynced; medians)")
    print(f"  PostgresStore.save_session, 1 tx each: {pmed['engine']:>9,.0f} sessions/s")
    print(f"  save_session from 64 concurrent tasks: {pmed['concurrent']:>10,.0f} sessions/s")
    print(f"  PostgresStore.save_sessions, batches : {pmed['batched']:>9,.0f} sessions/s")
    print(f"  append_events from 64 concurrent tasks: {pmed['events']:>9,.0f} events/s")


if __name__ == "__main__":
    main()
