"""Record what moderation decides on every line of the tuning corpora, as digests.

``decisions.json`` pins the decisions of the code it was recorded with: a speed-up
must leave every digest as it was (``test_moderation_pinned.py`` compares). Run
``.venv/bin/python -m tests.sdk.moderation.pinned.record`` to record them again, on
purpose, after a change of behaviour (new word lists, a retrained topic model):
the file also holds a digest of the shipped moderation data, and the test names a
change of data as the reason when that digest differs.

Tuning data only: ``corpus.jsonl`` and ``train_*.jsonl`` next to the corpus loader;
never ``holdout.jsonl`` or ``game_corpus.jsonl`` (whose held-out split must stay
unseen). What is recorded per line (see :func:`outcome`): the text check's
categories in both contexts, the moderator's result and audit entry for several
personas, the mask of every finding, and the personal data found in the shared
forms and in two national ones. Digests, not values, so the file stays small:
:func:`outcome` of a line shows the values.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from encounters.models.persona import Safety
from encounters.moderation import AuditLogger, ContentModerator, TextFilter, pii
from encounters.storage import MemoryStore
from tests.sdk.moderation.corpus.load import CORPUS_PATH, load_corpus

FIXTURE = Path(__file__).with_name("decisions.json")
#: The tuning files (never the held-out ones).
FILES = ("corpus.jsonl", *sorted(p.name for p in CORPUS_PATH.parent.glob("train_*.jsonl")))
SAFETIES = (
    Safety(),
    Safety(moderation="block"),
    Safety(context="general"),
    Safety(blocked_topics=["self_harm", "sexual", "hate", "violence", "politics"]),
    Safety(blocked_topics=[]),
)


def data_digest() -> str:
    """A digest of the shipped moderation data (word lists, topic model)."""
    digest = hashlib.sha256()
    root = resources.files("encounters.moderation").joinpath("data")
    for path in sorted(Path(str(root)).rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(Path(str(root))).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def lines(name: str) -> list[str]:
    return [str(r["text"]) for r in load_corpus(CORPUS_PATH.with_name(name))]


class Recorder:
    """One moderator writing to one memory store, used for every line in turn (as a
    server does: what it remembers between lines must not change a decision)."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.moderator = ContentModerator(TextFilter.default(), audit=AuditLogger(self.store))
        self.filter = self.moderator.filter

    def outcome(self, text: str) -> dict[str, Any]:
        f = self.filter
        out: dict[str, Any] = {
            "game": sorted(f.categories_in(text, "game")),
            "general": sorted(f.categories_in(text, "general")),
            "mask": f.mask(text),
            "pii": [pii.find(text, lang) for lang in (None, "es", "pt-BR")],
            "results": [],
        }
        for safety in SAFETIES:
            result = asyncio.run(self.moderator.moderate_message(text, safety, session_id="s"))
            entry = json.loads(self.store._audit[-1])
            entry.pop("at")
            out["results"].append(
                [result.decision, result.reason, list(result.categories), result.topic,
                 result.text, entry]
            )  # fmt: skip
        return out


def digest(outcome: dict[str, Any]) -> str:
    canonical = json.dumps(outcome, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def record() -> dict[str, Any]:
    recorder = Recorder()
    return {
        "data": data_digest(),
        "lines": {
            name: " ".join(digest(recorder.outcome(t)) for t in lines(name)) for name in FILES
        },
    }


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(record(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {FIXTURE}")
