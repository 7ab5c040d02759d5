"""Procedural encounters generated and validated per second, on one core.

Prints, side by side in one run (machines here are shared and noisy, so read medians
and the ratio, not absolute numbers):

- procedural: ``ProceduralGenerator.generate`` -- words drawn, dict built, validated
  into an ``EncounterSpec`` -- cycling through every category, difficulties 0.1-1.0,
  player levels 1-1000 and a new seed each time;
- baseline: ``EncounterSpec.model_validate`` of one fixed, pre-built encounter dict
  per iteration -- the validation floor that any generator returning a validated
  encounter pays, so the ratio shows what generation itself adds.

Rounds alternate procedural and baseline so both see the same machine conditions;
each figure is the median of the rounds. The target is 1,000 encounters per second.

Run: ``.venv/bin/python benchmarks/bench_procedural.py [--seconds 3] [--quick]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    import encounters
except ModuleNotFoundError:  # a checkout whose venv lacks the package: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))
    import encounters

import pydantic

from encounters.generation import ProceduralGenerator
from encounters.models import Category, EncounterSpec, PlayerContext

TARGET_PER_SECOND = 1_000
ROUNDS = 5
CHECK_EVERY = 50  # iterations between clock reads


def pin_to_one_core() -> str:
    """Pin this process to one CPU where the OS allows it; say what happened."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this OS)"
    cpu = min(os.sched_getaffinity(0))
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        return f"not pinned ({exc})"
    return f"pinned to CPU {cpu}"


def timed(step: Callable[[int], object], seconds: float, start_at: int = 0) -> tuple[float, int]:
    """Call ``step(i)`` for ``seconds``; returns (calls per second, next i)."""
    i = start_at
    begin = time.perf_counter()
    deadline = begin + seconds
    while True:
        for _ in range(CHECK_EVERY):
            step(i)
            i += 1
        now = time.perf_counter()
        if now >= deadline:
            return (i - start_at) / (now - begin), i


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=3.0,
        help=f"total measuring time, split over both sides and {ROUNDS} rounds (default 3)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short run (0.5 s in total) for smoke tests"
    )
    args = parser.parse_args()
    total = 0.5 if args.quick else args.seconds
    if total <= 0:
        parser.error("--seconds must be positive")
    slot = total / (2 * ROUNDS)

    pinning = pin_to_one_core()
    gen = ProceduralGenerator()
    categories = list(Category)
    difficulties = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    players = [PlayerContext(player_id="bench", level=lv) for lv in (1, 10, 50, 200, 1000)]

    def procedural(i: int) -> EncounterSpec:
        return gen.generate(categories[i % 5], difficulties[i % 10], players[i % 7 % 5], seed=i)

    # The fixed dict: a typical encounter (4 objectives, NPCs, several rewards) as JSON
    # data, so the baseline validates the same shape of payload the generator builds.
    fixed = max(
        (procedural(i) for i in range(50)),
        key=lambda s: (len(s.objectives), len(s.npcs), len(s.rewards)),
    )
    fixed_dict = fixed.model_dump(mode="json")

    def baseline(_: int) -> EncounterSpec:
        return EncounterSpec.model_validate(fixed_dict)

    for i in range(500):  # warm-up: word banks loaded, validators and caches warm
        procedural(i)
        baseline(i)

    proc_rates: list[float] = []
    base_rates: list[float] = []
    seed = 1_000
    for _ in range(ROUNDS):
        rate, seed = timed(procedural, slot, seed)
        proc_rates.append(rate)
        rate, _unused = timed(baseline, slot)
        base_rates.append(rate)

    proc = statistics.median(proc_rates)
    base = statistics.median(base_rates)
    overhead_us = (1 / proc - 1 / base) * 1e6

    def rounds(rates: list[float]) -> str:
        return ", ".join(f"{r:,.0f}" for r in rates)

    print("procedural encounter benchmark")
    print(f"  python {platform.python_version()}, pydantic {pydantic.VERSION}, {pinning}")
    print(f"  encounters from {Path(encounters.__file__).parent}")
    print(f"  {ROUNDS} rounds x {slot:.2f} s per side, alternating")
    print(
        f"  fixed dict: {len(fixed.objectives)} objectives, {len(fixed.npcs)} NPCs, "
        f"{len(fixed.rewards)} rewards"
    )
    print(
        f"procedural (generate + validate): {proc:,.0f} encounters/s "
        f"(median; rounds: {rounds(proc_rates)})"
    )
    print(
        f"baseline (model_validate of one fixed dict): {base:,.0f} validations/s "
        f"(median; rounds: {rounds(base_rates)})"
    )
    print(
        f"ratio procedural/baseline: {proc / base:.2f} "
        f"(generation adds about {overhead_us:.0f} us per encounter on top of "
        f"{1e6 / base:.0f} us of validation)"
    )
    verdict = "met" if proc >= TARGET_PER_SECOND else "NOT met"
    print(
        f"target {TARGET_PER_SECOND:,} encounters/s on one core: {verdict} "
        f"({proc / TARGET_PER_SECOND:.1f}x the target)"
    )


if __name__ == "__main__":
    main()
