"""The memory backends the manager's tests run on: the SQLite file and real PostgreSQL."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from encounters.memory import NPCMemoryManager
from encounters.memory.crypto import MemoryCipher
from encounters.storage.postgres import PostgresStore
from tests.support.services import POSTGRES_URL

#: ``await open_memory(**manager_options)``: a manager on the test's backend
OpenMemory = Callable[..., Awaitable[NPCMemoryManager]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the PostgreSQL store runs on asyncio only


@pytest.fixture(params=["sqlite", "postgresql"])
def memory_schema(request: pytest.FixtureRequest) -> str | None:
    """None for the SQLite file, else a fresh PostgreSQL schema (the ``pg_schema``
    fixture, created outside the test's event loop)."""
    return request.getfixturevalue("pg_schema") if request.param == "postgresql" else None


@pytest.fixture
async def open_memory(memory_schema: str | None, tmp_path: Path) -> AsyncIterator[OpenMemory]:
    """Managers on one backend (each call: another manager, as another node or a
    restarted process would open it, on the same memories and key)."""
    secret = base64.b64encode(os.urandom(32)).decode()
    opened: list[NPCMemoryManager] = []
    stores: list[PostgresStore] = []

    async def make(**kwargs: Any) -> NPCMemoryManager:
        if memory_schema is None:
            memory = NPCMemoryManager.open(tmp_path, secret, **kwargs)
        else:
            from encounters.memory.postgres import PostgresMemory

            store = PostgresStore(POSTGRES_URL, schema=memory_schema)
            await store.open()
            stores.append(store)
            cipher = MemoryCipher(base64.b64decode(secret))
            memory = NPCMemoryManager(PostgresMemory(store, cipher), **kwargs)
            await memory.ready()
        opened.append(memory)
        return memory

    yield make
    for memory in opened:
        memory.close()
    for store in stores:
        await store.close()
