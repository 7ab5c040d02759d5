"""Loader for the moderation evaluation corpus (``corpus.jsonl`` next to this file)."""

from __future__ import annotations

import json
from pathlib import Path

CORPUS_PATH = Path(__file__).with_name("corpus.jsonl")


def load_corpus(path: Path = CORPUS_PATH) -> list[dict[str, object]]:
    """Return every record of ``corpus.jsonl`` (or another file) in file order.

    Each record has the keys ``id``, ``text``, ``labels`` (sorted list of class names; empty
    means clean), ``lang`` and ``group``.
    """
    records: list[dict[str, object]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"{path.name}:{number}: expected a JSON object")
            records.append(record)
    return records
