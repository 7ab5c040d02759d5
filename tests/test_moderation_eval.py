"""Accuracy of the text check on the labelled corpus (tests/moderation_corpus).

Prints precision and recall per class, and holds the targets: recall >= 0.98 on
obfuscated profanity, false positives <= 0.5% on clean chat. The held-out set, written
by someone who never saw the word lists or the tuning, is reported next to it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from encounters.moderation import TextFilter

from .moderation_corpus.load import load_corpus

CLASSES = ("profanity", "hate", "sexual", "self_harm", "violence", "politics", "personal_data")
HOLDOUT = Path(__file__).parent / "moderation_corpus" / "holdout.jsonl"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


def evaluate(rows: list[dict[str, object]], f: TextFilter) -> dict[str, object]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    flagged_clean: Counter[str] = Counter()
    clean: Counter[str] = Counter()
    obfuscated_hit = obfuscated = 0
    for row in rows:
        text = str(row["text"])
        want = set(row["labels"])  # type: ignore[call-overload]
        got = f.categories_in(text) & set(CLASSES)
        for c in CLASSES:
            tp[c] += c in got and c in want
            fp[c] += c in got and c not in want
            fn[c] += c in want and c not in got
        group = str(row["group"])
        if not want:
            clean[group] += 1
            flagged_clean[group] += bool(got)
        if group == "profanity_obfuscated":
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
    return {
        "per_class": per_class,
        "obfuscated_recall": obfuscated_hit / obfuscated if obfuscated else 1.0,
        "clean_chat_fp": flagged_clean["clean_chat"] / max(1, clean["clean_chat"]),
        "all_clean_fp": sum(flagged_clean.values()) / max(1, sum(clean.values())),
        "rows": len(rows),
    }


def report(name: str, result: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{name}: {result['rows']} messages")
        print(f"  {'class':14} {'precision':>9} {'recall':>7} {'support':>7}")
        for c, (p, r, n) in result["per_class"].items():  # type: ignore[attr-defined]
            print(f"  {c:14} {p:9.3f} {r:7.3f} {n:7d}")
        print(
            f"  obfuscated profanity recall {result['obfuscated_recall']:.3f}; "
            f"false positives on clean chat {result['clean_chat_fp']:.2%}, "
            f"on all clean lines {result['all_clean_fp']:.2%}"
        )


def test_corpus_is_big_and_covers_every_class() -> None:
    rows = load_corpus()
    assert len(rows) >= 2000
    groups = Counter(str(r["group"]) for r in rows)
    for group in ("clean_chat", "scunthorpe", "profanity_obfuscated", "multilingual_clean"):
        assert groups[group] >= 100
    labels = Counter(label for r in rows for label in r["labels"])  # type: ignore[attr-defined]
    assert all(labels[c] >= 50 for c in CLASSES)
    assert len({r["lang"] for r in rows}) >= 4


def test_accuracy_targets(text_filter: TextFilter, capsys: pytest.CaptureFixture[str]) -> None:
    result = evaluate(load_corpus(), text_filter)
    report("labelled corpus", result, capsys)
    assert result["obfuscated_recall"] >= 0.98  # type: ignore[operator]
    assert result["clean_chat_fp"] <= 0.005  # type: ignore[operator]
    assert result["all_clean_fp"] <= 0.005  # type: ignore[operator]
    for c, (precision, recall, _) in result["per_class"].items():  # type: ignore[attr-defined]
        assert precision >= 0.9 and recall >= 0.9, c


def test_held_out_set_is_reported(
    text_filter: TextFilter, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = load_corpus(HOLDOUT)
    result = evaluate(rows, text_filter)
    report("held-out set (never used for tuning)", result, capsys)
    # Looser floors than the tuned corpus: this set measures how the lists generalise.
    assert result["all_clean_fp"] <= 0.03  # type: ignore[operator]
    assert result["per_class"]["profanity"][1] >= 0.85  # type: ignore[index]
