"""The offline topic model: a small linear classifier for harm topics (``hate``,
``sexual``, ``self_harm``, ``violence``) that catches phrasing the word lists miss
("nobody would even notice if i was gone", "i know where you live, watch yourself").

It runs after the word lists, only on text they did not block, and needs no download
and no provider: the weights ship in ``data/topic_model.json``. The model is one
logistic regression per topic over word features of the folded text (the same
skeleton the word lists see, so obfuscation is already undone):

- words (``w:kill``), with numbers as ``#``;
- pairs of neighbouring words (``b:kill yourself``);
- word beginnings (``p:immig``), so unseen endings of a known word count.

A text is given a topic when its score passes that topic's threshold, chosen when the
model was trained so that ordinary and role-play game chat is almost never flagged.
Scoring is a few dictionary lookups per word (a few microseconds per message).

Trained by ``tests/moderation_corpus/train_topic_model.py`` on the tuning split of the
evaluation corpus only (never the held-out split); method and figures in
docs/moderation.md.

Limits: a linear model over words knows no grammar. It learns which words and pairs
go with harm in its training lines; new phrasing with none of those words is missed,
and a game line built from harm words and no game words can be flagged.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

#: Topics the shipped model knows.
MODEL_TOPICS = ("hate", "sexual", "self_harm", "violence")
_WORD = re.compile(r"[^\W_]+")
#: Word beginnings of this many letters are a feature (words longer than this).
PREFIX = 5


def features(skeleton: str) -> list[str]:
    """The feature names of a folded text (see the module docstring)."""
    words = ["#" if w.isdigit() else w for w in _WORD.findall(skeleton.replace("'", ""))]
    out = [f"w:{w}" for w in words]
    out += [f"p:{w[:PREFIX]}" for w in words if len(w) > PREFIX]
    out += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    return out


@dataclass(frozen=True)
class TopicModel:
    """One linear scorer per topic: ``bias + sum(weights of the text's features)``,
    compared with the topic's threshold (both in log-odds)."""

    topics: tuple[str, ...]
    bias: tuple[float, ...]
    thresholds: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TopicModel:
        topics = tuple(str(t) for t in data["topics"])  # type: ignore[attr-defined]
        n = len(topics)

        def row(value: object) -> tuple[float, ...]:
            values = tuple(float(v) for v in value)  # type: ignore[attr-defined]
            if len(values) != n or not all(math.isfinite(v) for v in values):
                raise ValueError(f"topic model: expected {n} finite numbers, got {value!r}")
            return values

        weights = {str(k): row(v) for k, v in data["weights"].items()}  # type: ignore[attr-defined]
        return cls(topics, row(data["bias"]), row(data["thresholds"]), weights)

    @classmethod
    def load(cls, path: str | Path | None = None) -> TopicModel:
        """The model in ``path``, or the shipped one."""
        if path is None:
            text = resources.files(__package__).joinpath("data/topic_model.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return cls.from_json(json.loads(text))

    def to_json(self) -> dict[str, object]:
        return {
            "topics": list(self.topics),
            "bias": list(self.bias),
            "thresholds": list(self.thresholds),
            "weights": {k: list(v) for k, v in sorted(self.weights.items())},
        }

    def scores(self, skeleton: str) -> dict[str, float]:
        """Log-odds per topic for a folded text."""
        total = list(self.bias)
        get = self.weights.get
        for name in features(skeleton):
            w = get(name)
            if w is not None:
                for i, v in enumerate(w):
                    total[i] += v
        return dict(zip(self.topics, total, strict=True))

    def topics_in(self, skeleton: str, only: Iterable[str] | None = None) -> set[str]:
        """The topics whose score passes their threshold (among ``only`` when given)."""
        wanted = None if only is None else set(only)
        scores = self.scores(skeleton)
        return {
            t
            for t, limit in zip(self.topics, self.thresholds, strict=True)
            if scores[t] >= limit and (wanted is None or t in wanted)
        }


@lru_cache(maxsize=1)
def default_model() -> TopicModel:
    """The shipped model, read once."""
    return TopicModel.load()
