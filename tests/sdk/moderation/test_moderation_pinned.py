"""Moderation decides on every tuning-corpus line as it did when the decisions were
pinned (``pinned/decisions.json``; see ``pinned/record.py``): speed-ups may change how
a decision is reached, never what it is. Checked per line: the text check's
categories in both contexts, the mask, personal data in three languages, and the
moderator's result and audit entry for five personas.

A changed line is named by file and number with its outcome now (tuning data only).
When the shipped word lists or topic model change on purpose, record again."""

from __future__ import annotations

import json

import pytest

from tests.sdk.moderation.pinned.record import FILES, FIXTURE, Recorder, data_digest, digest, lines


@pytest.fixture(scope="module")
def pinned() -> dict[str, object]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_pinned_for_the_shipped_data(pinned: dict[str, object]) -> None:
    assert pinned["data"] == data_digest(), (
        "the moderation data changed since the decisions were pinned: record them again "
        "(python -m tests.sdk.moderation.pinned.record) at the commit that changed the data"
    )


@pytest.mark.parametrize("name", FILES)
def test_every_tuning_line_is_decided_as_pinned(pinned: dict[str, object], name: str) -> None:
    expected = pinned["lines"][name].split()  # type: ignore[index]
    texts = lines(name)
    assert len(expected) == len(texts), f"{name}: lines were added or removed; record again"
    recorder = Recorder()
    changed = [
        (number, outcome)
        for number, (text, want) in enumerate(zip(texts, expected, strict=True), start=1)
        if digest(outcome := recorder.outcome(text)) != want
    ]
    assert not changed, f"{name}: {len(changed)} lines decided otherwise, first: {changed[:3]}"
