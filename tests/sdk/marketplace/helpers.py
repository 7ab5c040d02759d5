"""Shared pieces of the marketplace tests: a marketplace over a real SQLite file with
the real moderator, and submissions of each kind."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from encounters.marketplace import Actor, Marketplace, SQLiteMarketStore
from encounters.moderation import ContentModerator, TextFilter
from encounters.storage import MemoryStore
from tests.conftest import encounter_dict

ALICE = Actor("key:alice")
BOB = Actor("key:bob")
ADMIN = Actor("key:root", admin=True)


@contextlib.asynccontextmanager
async def open_market(
    path: Path, text_filter: TextFilter
) -> AsyncIterator[tuple[Marketplace, MemoryStore]]:
    """A marketplace on ``path`` whose decisions are audited in a memory store."""
    audit = MemoryStore()
    await audit.open()
    store = SQLiteMarketStore(path)
    await store.open()
    try:
        yield Marketplace(store, ContentModerator(text_filter), audit), audit
    finally:
        await store.close()
        await audit.close()


def meta(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Bandits at the Bridge",
        "description": "A toll bridge held by bandits; drive them off.",
        "tags": ["bandits", "bridge"],
        "category": "combat",
        "difficulty_min": 0.3,
        "difficulty_max": 0.6,
        "worlds": ["minecraft"],
        "languages": ["en"],
        "licence": "CC-BY-4.0",
        "preview": "Three bandits, one bridge, one toll box.",
    }
    base.update(over)
    return base


def encounter_submission(
    enc_id: str = "enc_test", version: str = "1.0.0", **over: Any
) -> dict[str, Any]:
    return {
        "kind": "encounter",
        "version": version,
        "meta": meta(**over),
        "content": encounter_dict(id=enc_id),
    }


def campaign_submission(encounter_listing: str, encounter_id: str = "enc_test") -> dict[str, Any]:
    return {
        "kind": "campaign",
        "meta": meta(title="The Bridge Saga", category="story", tags=["saga"]),
        "content": {"id": "saga", "name": "The Bridge Saga",
                    "steps": [{"encounter_id": encounter_id}]},
        "dependencies": [{"listing": encounter_listing}],
    }  # fmt: skip


def persona_submission(**over: Any) -> dict[str, Any]:
    persona = {"name": "Helpful Guide", "description": "A friendly guide who knows every road.",
               "goals": ["guide"]}  # fmt: skip
    persona.update(over)
    return {"kind": "persona", "meta": meta(title="Helpful Guide", category="companion",
                                            tags=["guide"]),
            "content": {"persona": persona}}  # fmt: skip
