"""Top-10 NPC memory retrieval over 100,000 stored memories (issue 8; target p99 <= 10 ms).

100,000 interactions are stored through the real path (sealed with AES-GCM, indexed
by blind tokens) for 1,000 NPC-player pairs, in one file. Then queries of the kind a
prompt builder makes ("what does the smith remember about the dragon?") are timed
end to end through ``NPCMemoryManager.retrieve``: the pair's rows, the FTS5/BM25
relevance, the recency/importance/relevance score, decryption of the 10 returned.

Baseline in the same run: the same words in a plaintext FTS5 table, top 10 by BM25
for the pair, with no encryption and no scoring: what the privacy and the ranking
cost on top of SQLite's own full-text search. Machines here are shared and noisy:
read the medians, p99 and the ratio.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import anyio

from encounters.memory import Interaction, NPCMemoryManager
from encounters.memory.store import MemoryFile
from encounters.models.common import utcnow

# fmt: off
WORDS = [
    "dragon", "sword", "bread", "ale", "forge", "river", "bridge", "gold", "map", "cave",
    "wolf", "mountain", "harvest", "king", "tower", "raid", "caravan", "storm", "potion",
    "herb", "thief", "guard", "lantern", "ship", "harbor", "mine", "crystal", "ghost",
    "tavern", "debt", "letter", "festival", "shrine", "frost", "bandit", "bow", "arrow",
    "wheat", "mill", "horse", "saddle", "market", "wizard", "scroll", "key", "chest",
    "ruin", "boar", "hunt", "song", "feast", "oath",
]
# fmt: on


def line(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(memories: int, pairs: int, queries: int) -> None:
    rng = random.Random(7)
    per_pair = memories // pairs
    texts: list[tuple[int, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        memory = NPCMemoryManager.open(Path(tmp), budget=per_pair + 10)
        start = time.perf_counter()
        now = utcnow()
        assert isinstance(memory.backend, MemoryFile)
        with memory.backend.transaction():
            for p in range(pairs):
                for k in range(per_pair):
                    text = line(rng)
                    texts.append((p, text))
                    await memory.record_interaction(f"npc{p}", f"player{p % 97}", Interaction(
                        timestamp=now - timedelta(hours=per_pair - k), dialogue=[text],
                        outcome=rng.choice(["positive", "neutral", "negative"]),
                    ))  # fmt: skip
        stored = time.perf_counter() - start
        print(f"stored {len(texts):,} memories for {pairs:,} pairs in {stored:.1f} s "
              f"({len(texts) / stored:,.0f}/s, encrypted and indexed)")  # fmt: skip

        ours: list[float] = []
        for _ in range(queries):
            p = rng.randrange(pairs)
            query = " ".join(rng.sample(WORDS, 3))
            t = time.perf_counter()
            found = await memory.retrieve(f"npc{p}", f"player{p % 97}", query, k=10)
            ours.append((time.perf_counter() - t) * 1000)
            assert len(found) == 10
        memory.close()

    base = baseline(texts, pairs, queries, rng)
    print(f"top-10 retrieval, {queries} queries (ms): ours p50 {statistics.median(ours):.2f}, "
          f"p99 {percentile(ours, 0.99):.2f} (target p99 <= 10 ms)")  # fmt: skip
    print(f"  baseline plaintext FTS5 bm25 top-10: p50 {statistics.median(base):.2f}, "
          f"p99 {percentile(base, 0.99):.2f}")  # fmt: skip
    print(f"  ratio ours/baseline at p50: {statistics.median(ours) / statistics.median(base):.1f}x")


def baseline(
    texts: list[tuple[int, str]], pairs: int, queries: int, rng: random.Random
) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(str(Path(tmp) / "plain.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE VIRTUAL TABLE t USING fts5 (pair, words)")
        db.execute("BEGIN")
        db.executemany("INSERT INTO t (pair, words) VALUES (?, ?)",
                       [(f"p{p}", text) for p, text in texts])  # fmt: skip
        db.execute("COMMIT")
        out = []
        for _ in range(queries):
            p = rng.randrange(pairs)
            query = " OR ".join(rng.sample(WORDS, 3))
            t = time.perf_counter()
            db.execute(
                "SELECT rowid, words FROM t WHERE t MATCH ? ORDER BY bm25(t, 0.0, 1.0) LIMIT 10",
                (f"pair : p{p} AND words : ({query})",),
            ).fetchall()
            out.append((time.perf_counter() - t) * 1000)
        db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run for smoke tests")
    args = parser.parse_args()
    memories, pairs, queries = (5_000, 50, 200) if args.quick else (100_000, 1_000, 2_000)
    anyio.run(run, memories, pairs, queries)


if __name__ == "__main__":
    main()
