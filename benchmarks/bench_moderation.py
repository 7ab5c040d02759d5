"""Moderation: accuracy by category on the held-out lines, and throughput on one core.

Accuracy: precision and recall per category on the held-out set (``holdout.jsonl`` and
the held-out split of ``game_corpus.jsonl``; see tests/sdk/moderation/corpus), for this
release's moderator (game context, as companions use it), the same without its topic
model (word lists and patterns only), the previous release's text
filter (a frozen copy in benchmarks/previous_filter) and ``better-profanity`` (profanity
only). Targets: obfuscated profanity recall >= 0.97, each harm category >= 0.90, false
positives on game chat <= 1%.

Throughput: the bare text check (``TextFilter.categories_in``) on the whole corpus, and
the audited path (``ContentModerator.moderate_message`` with its audit write to an
in-memory store; also on the corpus's plain ASCII lines alone, the chat the fast path
serves), beside the previous release's filter and better-profanity on a sample, and
the figures before issue #25's work. Rates are messages per second of CPU time of this
process, pinned to one core: on a shared machine the wall clock also counts the time
other processes held the core. Medians of several rounds: read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from better_profanity import profanity  # noqa: E402
from tests.sdk.moderation.corpus.evaluate import HARM, evaluate, heldout_set, table  # noqa: E402
from tests.sdk.moderation.corpus.load import load_corpus  # noqa: E402

from benchmarks.previous_filter import TextFilter as PreviousFilter  # noqa: E402
from encounters.models.persona import PersonaCore  # noqa: E402
from encounters.moderation import (  # noqa: E402
    AuditLogger,
    ContentModerator,
    ModerationSettings,
    TextFilter,
)
from encounters.moderation.normalize import fold_plain  # noqa: E402
from encounters.storage import MemoryStore  # noqa: E402

#: Messages per CPU second measured the same way before issue #25's work (this
#: machine, the same corpus): what the targets' ratios are read against.
BEFORE = {"check": 65_500, "audited": 18_200}


def rate(check: Callable[[str], object], messages: list[str], min_seconds: float) -> float:
    """Messages per CPU second over at least ``min_seconds`` of CPU time."""
    done = 0
    start = time.process_time()
    while True:
        for m in messages:
            check(m)
        done += len(messages)
        elapsed = time.process_time() - start
        if elapsed >= min_seconds:
            return done / elapsed


async def audited_rate(moderator: ContentModerator, messages: list[str], seconds: float) -> float:
    persona = PersonaCore(name="Companion")
    done = 0
    start = time.process_time()
    while True:
        for m in messages:
            await moderator.moderate_message(m, persona, session_id="bench")
        done += len(messages)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return done / elapsed


def accuracy() -> None:
    rows = heldout_set()
    moderator = ContentModerator(TextFilter.default())
    persona = PersonaCore(name="Companion")
    previous = PreviousFilter.default()
    profanity.load_censor_words()

    rules = ContentModerator(TextFilter.default(), settings=ModerationSettings(topic_model=False))

    def ours(text: str) -> set[str]:
        return set(moderator.check_message(text, persona).categories)

    def word_lists(text: str) -> set[str]:
        return set(rules.check_message(text, persona).categories)

    def theirs(text: str) -> set[str]:
        return {"profanity"} if profanity.contains_profanity(text) else set()

    scores = {
        "this release": evaluate(rows, ours),
        "word lists only": evaluate(rows, word_lists),
        "previous release": evaluate(rows, previous.categories_in),
        "better-profanity": evaluate(rows, theirs),
    }
    print(f"moderation accuracy, held-out set ({len(rows)} lines, never tuned on)")
    print(table(scores))
    s = scores["this release"]
    met = [
        ("obfuscated profanity recall >= 0.97", s.obfuscated_recall >= 0.97),
        *((f"{c} recall >= 0.90", s.per_class[c][1] >= 0.90) for c in HARM),
        ("false positives on game chat <= 1%", s.game_chat_fp <= 0.01),
    ]
    print("  targets: " + "; ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in met))


def throughput(rounds: int, seconds: float, sample_size: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    corpus = [str(r["text"]) for r in load_corpus()]
    plain = [m for m in corpus if fold_plain(m) is not None]
    step = max(1, len(corpus) // sample_size)
    sample = corpus[::step][:sample_size]
    text_filter = TextFilter.default()
    previous = PreviousFilter.default()
    audited = ContentModerator(text_filter, audit=AuditLogger(MemoryStore()))
    measures: dict[str, Callable[[], float]] = {
        "check": lambda: rate(text_filter.categories_in, corpus, seconds),
        "previous": lambda: rate(previous.categories_in, corpus, seconds),
        "audited": lambda: asyncio.run(audited_rate(audited, corpus, seconds)),
        "plain": lambda: asyncio.run(audited_rate(audited, plain, seconds)),
        "theirs": lambda: rate(profanity.contains_profanity, sample, seconds),
    }
    runs: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, measure in measures.items():
            runs.setdefault(name, []).append(measure())
    m = {name: statistics.median(values) for name, values in runs.items()}

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"moderation throughput, one core, {rounds} rounds (medians, msgs per CPU second)")
    print(f"  text check, corpus ({len(corpus)} msgs)")
    print(f"    this release (TextFilter.categories_in)   : {m['check']:>10,.0f}")
    print(f"    baseline: previous release's filter       : {m['previous']:>10,.0f}")
    print(f"    baseline: better-profanity ({len(sample)} msgs)    : {m['theirs']:>10,.0f}")
    print("  audited: moderate_message + audit write (memory store), topic model on")
    print(f"    whole corpus                              : {m['audited']:>10,.0f}")
    print(f"    plain ASCII lines only ({len(plain)} msgs)       : {m['plain']:>10,.0f}")
    print(
        f"  ratios: text check / previous release {m['check'] / m['previous']:.2f}x, "
        f"/ better-profanity {m['check'] / m['theirs']:,.0f}x; "
        f"audited / better-profanity {m['audited'] / m['theirs']:,.0f}x"
    )
    for name, what, target in (("check", "text check", 100_000), ("audited", "audited", 50_000)):
        print(
            f"  target: {what} >= {target:,} msgs/s: {met(m[name] >= target)} "
            f"({m[name] / target:.0%} of it); before #25: {BEFORE[name]:,} msgs/s, "
            f"{m[name] / BEFORE[name]:.2f}x that"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sample", type=int, default=200, help="messages for better-profanity")
    parser.add_argument("--quick", action="store_true", help="short run for smoke tests")
    args = parser.parse_args()
    rounds, seconds = (2, 0.2) if args.quick else (args.rounds, 1.0)
    accuracy()
    throughput(rounds, seconds, args.sample)


if __name__ == "__main__":
    main()
