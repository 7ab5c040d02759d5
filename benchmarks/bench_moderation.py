"""Text-check throughput: our TextFilter against better-profanity, same messages, one run.

Both libraries check the same messages from the labelled corpus
(tests/moderation_corpus), pinned to one core. better-profanity is much slower, so it
checks an evenly spaced sample; ours checks that sample and the whole corpus. Figures
are medians of several rounds (shared, noisy machines: read the ratio).

Targets (issue 4): >= 100,000 messages/s on one core, >= 100x better-profanity.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from better_profanity import profanity  # noqa: E402
from tests.moderation_corpus.load import load_corpus  # noqa: E402

from encounters.moderation import TextFilter  # noqa: E402


def rate(check: Callable[[str], object], messages: list[str], min_seconds: float) -> float:
    """Messages per second over at least ``min_seconds``."""
    done = 0
    start = time.perf_counter()
    while True:
        for m in messages:
            check(m)
        done += len(messages)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sample", type=int, default=200, help="messages for better-profanity")
    parser.add_argument("--quick", action="store_true", help="short run for smoke tests")
    args = parser.parse_args()
    rounds, seconds = (2, 0.2) if args.quick else (args.rounds, 1.0)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    corpus = [str(r["text"]) for r in load_corpus()]
    step = max(1, len(corpus) // args.sample)
    sample = corpus[::step][: args.sample]
    text_filter = TextFilter.default()
    profanity.load_censor_words()
    ours_all, ours_sample, theirs = [], [], []
    for _ in range(rounds):
        ours_all.append(rate(text_filter.categories_in, corpus, seconds))
        ours_sample.append(rate(text_filter.categories_in, sample, seconds))
        theirs.append(rate(profanity.contains_profanity, sample, seconds))
    a, b, c = (statistics.median(x) for x in (ours_all, ours_sample, theirs))
    print(f"moderation text check, one core, {rounds} rounds (medians)")
    print(f"  TextFilter.categories_in, whole corpus ({len(corpus)} msgs): {a:>12,.0f} msgs/s")
    print(f"  TextFilter.categories_in, sample ({len(sample)} msgs)      : {b:>12,.0f} msgs/s")
    print(f"  baseline better-profanity, same sample          : {c:>12,.0f} msgs/s")
    print(f"  ratio ours/better-profanity on the sample: {b / c:,.0f}x")
    print(
        f"  targets: >= 100,000 msgs/s ({'met' if a >= 100_000 else 'NOT met'}), "
        f">= 100x better-profanity ({'met' if b / c >= 100 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
