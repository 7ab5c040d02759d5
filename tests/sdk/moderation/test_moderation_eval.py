"""Accuracy of the moderator on the labelled corpora (tests/sdk/moderation/corpus).

The tuning set holds the targets the word lists and patterns were fitted to. The
held-out set (never fitted to) is printed and held to floors that a regression would
break; ``make bench`` prints it next to the previous release and better-profanity.
"""

from __future__ import annotations

from collections import Counter

import pytest

from encounters.models.persona import PersonaCore
from encounters.moderation import ContentModerator, ModerationSettings, TextFilter
from tests.sdk.moderation.corpus.evaluate import CLASSES, evaluate, heldout_set, table, tuning_set


@pytest.fixture(scope="module")
def check() -> object:
    moderator = ContentModerator(TextFilter.default())
    persona = PersonaCore(name="Companion")

    def categories(text: str) -> set[str]:
        return set(moderator.check_message(text, persona).categories)

    return categories


def test_corpus_is_big_and_covers_every_class() -> None:
    rows = tuning_set() + heldout_set()
    assert len(rows) >= 5000
    groups = Counter(str(r["group"]) for r in rows)
    for group in ("clean_chat", "game_context", "scunthorpe", "profanity_obfuscated"):
        assert groups[group] >= 100
    labels = Counter(label for r in rows for label in r["labels"])  # type: ignore[attr-defined]
    assert all(labels[c] >= 50 for c in CLASSES)
    assert len(heldout_set()) >= 1000


def test_accuracy_targets_on_the_tuning_set(
    check: object, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = evaluate(tuning_set(), check)  # type: ignore[arg-type]
    with capsys.disabled():
        print(f"\ntuning set: {scores.rows} lines\n" + table({"moderator": scores}))
    assert scores.obfuscated_recall >= 0.97
    assert scores.game_chat_fp <= 0.005
    for c, (precision, recall, _) in scores.per_class.items():
        assert precision >= 0.9 and recall >= 0.9, c


def test_held_out_set_is_reported(check: object, capsys: pytest.CaptureFixture[str]) -> None:
    scores = evaluate(heldout_set(), check)  # type: ignore[arg-type]
    with capsys.disabled():
        print(
            f"\nheld-out set (never tuned on): {scores.rows} lines\n" + table({"moderator": scores})
        )
    assert scores.obfuscated_recall >= 0.97
    assert scores.game_chat_fp <= 0.01
    assert scores.per_class["profanity"][1] >= 0.95
    assert scores.per_class["personal_data"][1] >= 0.9
    # word lists and the topic model together (floors a regression would break; the
    # target, 0.90 each, is not met by all: docs/moderation.md). Violence 0.89 to 0.88
    # in the fifth round: chosen on validation (0.807 to 0.869), the held-out set measured
    # once gave one line of 75 fewer (word lists alone one line more); the sixth round
    # (validation 0.831 to 0.864 on comparable lines) measured 0.880 again; the eighth
    # (validation 0.825 to 0.842) measured 0.893; the ninth (validation 0.842 to 0.864 on
    # comparable lines, fresh lines 44 to 49 of 65) measured 0.880; the tenth (validation
    # 0.826 to 0.833, fresh lines 26 to 27 of 40) measured 0.947
    floors = {"hate": 0.93, "self_harm": 0.98, "violence": 0.94, "sexual": 0.92}
    for c, floor in floors.items():
        precision, recall, _ = scores.per_class[c]
        assert recall >= floor and precision >= 0.9, c


def test_topic_model_adds_recall_without_game_chat_false_positives(
    check: object,
) -> None:
    rows = heldout_set()
    rules = ContentModerator(TextFilter.default(), settings=ModerationSettings(topic_model=False))
    persona = PersonaCore(name="Companion")
    without = evaluate(rows, lambda t: set(rules.check_message(t, persona).categories))
    with_model = evaluate(rows, check)  # type: ignore[arg-type]
    for c in ("hate", "sexual", "self_harm", "violence"):
        assert with_model.per_class[c][1] >= without.per_class[c][1] + 0.05, c
    assert with_model.game_chat_fp <= without.game_chat_fp + 0.005
