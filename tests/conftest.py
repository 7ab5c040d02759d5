from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from encounters.models import EncounterSpec
from encounters.settings import LLMSettings
from encounters.storage import SQLiteStore, Store
from encounters.storage.postgres import PostgresStore
from tests.support.services import store_backend

#: text_filter, threaded, pg_schema, redis_key_prefix: shared by every test package
pytest_plugins = ["tests.support.fixtures"]

#: Every variable the LLM settings read, and those the ollama client reads by itself.
LLM_ENV = (
    *(name.upper() for name in LLMSettings.model_fields),
    "OLLAMA_HOST",
    "OLLAMA_API_KEY",
)


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never let a test write into the real user data folder, nor reach a real LLM
    because the developer's shell holds an API key."""
    monkeypatch.setenv("AE_DATA_DIR", str(tmp_path / "ae-data"))
    for name in LLM_ENV:
        monkeypatch.delenv(name, raising=False)
    yield


def encounter_dict(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "enc_test",
        "title": "Bandits at the Bridge",
        "description": "Bandits hold the old bridge.",
        "category": "combat",
        "difficulty": 0.5,
        "estimated_duration": 10,
        "objectives": [
            {
                "id": "obj_1",
                "description": "Defeat the bandits",
                "kind": "eliminate",
                "target": "bandit",
                "quantity": 3,
            },
            {
                "id": "obj_2",
                "description": "Find the toll box",
                "kind": "collect",
                "target": "toll box",
                "quantity": 1,
                "optional": True,
            },
        ],
        "npcs": [
            {
                "id": "npc_1",
                "name": "Marta",
                "role": "ferrywoman",
                "personality_traits": ["gruff", "loyal"],
                "dialogue": ["Took you long enough.", "The bridge is theirs now."],
            }
        ],
        "rewards": [
            {"kind": "experience", "amount": 120},
            {"kind": "item", "amount": 1, "item": "Bridge Key"},
        ],
    }
    base.update(over)
    return base


@pytest.fixture
def spec() -> EncounterSpec:
    return EncounterSpec.model_validate(encounter_dict())


@pytest.fixture(params=["sqlite", "memory", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens stores of each backend (see ``tests.support.services.store_backend``)."""
    with store_backend(request.param, tmp_path) as factory:
        yield factory


@pytest.fixture(params=["sqlite", "postgresql"])
def new_sql_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], SQLiteStore | PostgresStore]]:
    """Opens stores of each SQL backend, on one database for the whole test."""
    with store_backend(request.param, tmp_path) as factory:
        yield cast(Callable[[], SQLiteStore | PostgresStore], factory)
