"""Precision and recall of a moderation check on the labelled corpora, by category.

A check is any ``text -> set of categories`` function. The sets:

- ``tuning``: ``corpus.jsonl`` and the ``tune`` split of ``game_corpus.jsonl``, the lines
  word lists and patterns may be fitted to;
- ``heldout``: ``holdout.jsonl`` (written by hand without seeing the filter) and the
  ``heldout`` split of ``game_corpus.jsonl``; measured, never fitted to.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .load import load_corpus

HERE = Path(__file__).parent
CLASSES = ("profanity", "hate", "sexual", "self_harm", "violence", "politics", "personal_data")
HARM = ("hate", "sexual", "self_harm", "violence")
#: Groups of ordinary and role-play game chat: their false-positive rate is the one
#: players feel.
GAME_CHAT = ("clean_chat", "game_context")
OBFUSCATED = ("profanity_obfuscated", "obfuscated")


def _read(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def game_rows(split: str) -> list[dict[str, object]]:
    return [r for r in _read(HERE / "game_corpus.jsonl") if r["split"] == split]


def tuning_set() -> list[dict[str, object]]:
    return load_corpus() + game_rows("tune")


def heldout_set() -> list[dict[str, object]]:
    return _read(HERE / "holdout.jsonl") + game_rows("heldout")


@dataclass
class Scores:
    rows: int
    #: class -> (precision, recall, support)
    per_class: dict[str, tuple[float, float, int]]
    obfuscated_recall: float
    game_chat_fp: float
    all_clean_fp: float


def evaluate(rows: list[dict[str, object]], check: Callable[[str], set[str]]) -> Scores:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    flagged_clean: Counter[str] = Counter()
    clean: Counter[str] = Counter()
    obfuscated_hit = obfuscated = 0
    for row in rows:
        want = set(row["labels"])  # type: ignore[call-overload]
        got = check(str(row["text"])) & set(CLASSES)
        for c in CLASSES:
            tp[c] += c in got and c in want
            fp[c] += c in got and c not in want
            fn[c] += c in want and c not in got
        group = str(row["group"])
        if not want:
            clean[group] += 1
            flagged_clean[group] += bool(got)
        if group in OBFUSCATED:
            obfuscated += 1
            obfuscated_hit += "profanity" in got
    per_class = {
        c: (
            tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else 1.0,
            tp[c] / (tp[c] + fn[c]) if tp[c] + fn[c] else 1.0,
            tp[c] + fn[c],
        )
        for c in CLASSES
    }
    game_clean = sum(clean[g] for g in GAME_CHAT)
    return Scores(
        rows=len(rows),
        per_class=per_class,
        obfuscated_recall=obfuscated_hit / obfuscated if obfuscated else 1.0,
        game_chat_fp=sum(flagged_clean[g] for g in GAME_CHAT) / max(1, game_clean),
        all_clean_fp=sum(flagged_clean.values()) / max(1, sum(clean.values())),
    )


def table(named: dict[str, Scores]) -> str:
    """One text table: a precision/recall column pair per check."""
    names = list(named)
    lines = ["  " + f"{'class':14}" + "".join(f" {n[:19]:>19}" for n in names)]
    lines.append("  " + " " * 14 + "".join(f" {'prec':>9} {'recall':>9}" for _ in names))
    for c in CLASSES:
        cells = "".join(
            f" {named[n].per_class[c][0]:9.3f} {named[n].per_class[c][1]:9.3f}" for n in names
        )
        support = named[names[0]].per_class[c][2]
        lines.append(f"  {c:14}{cells}   (n={support})")
    for label, attr in (
        ("obfuscated profanity recall", "obfuscated_recall"),
        ("false positives, game chat", "game_chat_fp"),
        ("false positives, all clean", "all_clean_fp"),
    ):
        lines.append(f"  {label:30}" + "".join(f" {getattr(named[n], attr):>9.3f}" for n in names))
    return "\n".join(lines)
