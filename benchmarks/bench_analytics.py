"""Analytics events ingested per second into the embedded SQLite store.

A realistic stream of engine events (sessions started, objective progress and
completion, choices, NPC interactions, completed/failed/abandoned sessions, encounters
generated) goes through ``AnalyticsRecorder.record`` one event at a time, the way an
``EventBus`` delivers them; the recorder writes batches of ``flush_every`` (500) rows.

Prints, side by side in one run (machines here are shared and noisy, so read medians
and ratios, not absolute numbers):

- recorder: events/s through ``AnalyticsRecorder.record`` into ``SQLiteStore``
  (building each row and its session-level copy, batching, ``append_events``),
  flushing inline (the event that fills a batch waits for its write), and with
  ``run()`` in a task group (full batches are written in the background);
- baseline: the very rows the recorder wrote (both logs, read back from its file),
  ``json.dumps``-ed and inserted with the stdlib ``sqlite3`` module's ``executemany``
  into a plain table with the same columns and indexes, in the same batches, one
  transaction per batch, same pragmas (WAL, synchronous=NORMAL): the floor;
- reads after ingest: the first ``encounter()`` (reads every row of the busiest
  encounter), a cached repeat, and ``global_stats()``.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from encounters.analytics import EVENTS_LOG, SESSIONS_LOG, AnalyticsRecorder
from encounters.events import EngineEvent
from encounters.generation import ProceduralGenerator
from encounters.models import Category, EncounterSpec, new_id, utcnow
from encounters.storage import SQLiteStore

BATCH = 500


def make_specs(n: int) -> list[EncounterSpec]:
    gen = ProceduralGenerator()
    cats = list(Category)
    return [gen.generate(cats[i % len(cats)], 0.5, seed=i) for i in range(n)]


def make_stream(
    n_events: int, specs: list[EncounterSpec], players: int = 2000
) -> list[EngineEvent]:
    """Engine events as the Engine emits them, with timestamps a few seconds apart."""
    rng = random.Random(7)
    out: list[EngineEvent] = []
    at = utcnow() - timedelta(days=3)

    def emit(kind: Any, data: dict[str, Any], sid: str | None, pid: str | None) -> None:
        nonlocal at
        at += timedelta(milliseconds=rng.randint(1, 3000))
        out.append(EngineEvent(kind, data, sid, pid, at))

    while len(out) < n_events:
        spec = rng.choice(specs)
        if rng.random() < 0.2:
            emit("encounter.generated", {"encounter_id": spec.id, "category": spec.category.value,
                                         "generator": spec.generator}, None, None)  # fmt: skip
        sid, pid = new_id("sess"), f"player_{rng.randrange(players)}"
        started = at
        emit("session.started", {"encounter_id": spec.id, "difficulty": spec.difficulty,
                                 "campaign_id": None}, sid, pid)  # fmt: skip
        for o in spec.objectives:
            if rng.random() < 0.8:
                emit("objective.progressed", {"objective_id": o.id, "progress": o.quantity,
                                              "completed": True}, sid, pid)  # fmt: skip
                emit("objective.completed", {"objective_id": o.id}, sid, pid)
        emit("choice.made", {"choice_id": new_id("choice"), "description": "Spare the leader?",
                             "selected_option": rng.choice(["yes", "no"])}, sid, pid)  # fmt: skip
        if spec.npcs:
            emit("npc.interaction", {"npc_id": spec.npcs[0].id, "outcome": "positive",
                                     "dialogue": ["Well met."]}, sid, pid)  # fmt: skip
        roll = rng.random()
        kind = (
            "session.completed" if roll < 0.7 else "session.failed" if roll < 0.9
            else "session.abandoned"
        )  # fmt: skip
        emit(kind, {"encounter_id": spec.id, "duration_seconds": (at - started).total_seconds(),
                    "reason": None if kind == "session.completed" else "fell in battle"},
             sid, pid)  # fmt: skip
    return out[:n_events]


async def recorder_round(
    path: Path, specs: list[EncounterSpec], events: list[EngineEvent], background: bool
) -> tuple[float, list[tuple[str, list[Any]]], dict[str, float]]:
    """Ingest ``events`` (flushing inline, or with ``run()`` in the background);
    returns events/s, the rows written (for the baseline) and the read timings."""
    async with SQLiteStore(path) as store:
        for spec in specs:
            await store.save_encounter(spec)
        recorder = AnalyticsRecorder(store, flush_every=BATCH)
        start = time.perf_counter()
        if background:  # run() writes full batches while the next one is built
            async with anyio.create_task_group() as tg:
                tg.start_soon(recorder.run)
                for event in events:
                    await recorder.record(event)
                tg.cancel_scope.cancel()  # run() flushes the rest as it stops
        else:
            for event in events:
                await recorder.record(event)
            await recorder.flush()
        rate = len(events) / (time.perf_counter() - start)

        reads: dict[str, float] = {}
        plays = Counter(str(e.data["encounter_id"]) for e in events if e.type == "session.started")
        busiest = plays.most_common(1)[0][0]
        t = time.perf_counter()
        await recorder.encounter(busiest)
        reads["encounter (cold)"] = time.perf_counter() - t
        t = time.perf_counter()
        await recorder.encounter(busiest)
        reads["encounter (cached)"] = time.perf_counter() - t
        t = time.perf_counter()
        await recorder.global_stats()
        reads["global_stats (cold)"] = time.perf_counter() - t

        # the rows as written, in the recorder's batches, for the baseline
        batches: list[tuple[str, list[Any]]] = []
        for kind in (EVENTS_LOG, SESSIONS_LOG):
            rows: list[Any] = []
            cursor = 0
            while page := await store.list_events(kind, after_id=cursor, limit=10_000):
                rows += [(r.kind, r.key, r.at, r.data) for r in page]
                cursor = page[-1].id
            batches.append((kind, rows))
    return rate, batches, reads


BASELINE_SCHEMA = """
CREATE TABLE event_log (id INTEGER PRIMARY KEY AUTOINCREMENT, kind VARCHAR(32) NOT NULL,
  key VARCHAR(200), at DATETIME NOT NULL, data TEXT NOT NULL);
CREATE INDEX ix_event_log_kind_id ON event_log (kind, id);
CREATE INDEX ix_event_log_kind_key_id ON event_log (kind, key, id);
"""


def baseline(path: Path, logs: list[tuple[str, list[Any]]], n_events: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(BASELINE_SCHEMA)
    main, brief = logs[0][1], logs[1][1]
    # the recorder's flushes: BATCH main rows, then the session rows buffered with them
    flushes = max(1, -(-len(main) // BATCH))
    cuts = [round(len(brief) * k / flushes) for k in range(flushes + 1)]
    start = time.perf_counter()
    for f in range(flushes):
        for rows in (main[f * BATCH : (f + 1) * BATCH], brief[cuts[f] : cuts[f + 1]]):
            if not rows:
                continue
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO event_log (kind, key, at, data) VALUES (?, ?, ?, ?)",
                [(k, key, at.isoformat(sep=" "), json.dumps(d)) for k, key, at, d in rows],
            )
            db.execute("COMMIT")
    rate = n_events / (time.perf_counter() - start)
    db.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small run for smoke tests")
    args = parser.parse_args()
    n, rounds = (5_000, 2) if args.quick else (args.events, args.rounds)
    specs = make_specs(40)
    events = make_stream(n, specs)
    results: dict[str, list[float]] = {"recorder": [], "background": [], "sqlite3": []}
    reads: dict[str, list[float]] = {}
    rows_written = (0, 0)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            base = Path(tmp) / str(r)
            base.mkdir(parents=True)
            rate, logs, timings = anyio.run(recorder_round, base / "a.db", specs, events, False)
            results["recorder"].append(rate)
            rate, _, _ = anyio.run(recorder_round, base / "b.db", specs, events, True)
            results["background"].append(rate)
            for name, seconds in timings.items():
                reads.setdefault(name, []).append(seconds)
            rows_written = (len(logs[0][1]), len(logs[1][1]))
            results["sqlite3"].append(baseline(base / "s.db", logs, len(events)))
    med = {k: statistics.median(v) for k, v in results.items()}
    started = datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"analytics ingest ({started}): {n:,} engine events per round, {rounds} rounds (medians)")
    print(f"  rows written per round: {rows_written[0]:,} ({EVENTS_LOG}) + "
          f"{rows_written[1]:,} ({SESSIONS_LOG})")  # fmt: skip
    print(f"  AnalyticsRecorder.record, inline flushes: {med['recorder']:>10,.0f} events/s")
    print(f"  record + run() flushing in background   : {med['background']:>10,.0f} events/s")
    print(f"  baseline stdlib sqlite3 executemany     : {med['sqlite3']:>10,.0f} events/s")
    print(
        f"  ratio to baseline: inline {med['recorder'] / med['sqlite3']:.2f}, "
        f"background {med['background'] / med['sqlite3']:.2f}"
    )
    for name, values in reads.items():
        print(f"  read {name:<22}: {statistics.median(values) * 1000:>10,.1f} ms")


if __name__ == "__main__":
    main()
