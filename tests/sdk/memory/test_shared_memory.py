"""NPC memory shared by several nodes on one PostgreSQL store: each node is an engine
with its own data folder (as each daemon node has), on one schema and one key."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import asyncpg
import pytest

from encounters import Engine
from encounters.errors import StoreError
from encounters.memory import MemoryKeyError, NPCMemoryManager
from encounters.memory.crypto import MemoryCipher
from encounters.memory.postgres import PostgresMemory, copy_memory_file
from encounters.settings import Settings
from encounters.storage.postgres import PostgresStore
from tests.support.services import POSTGRES_URL

pytestmark = pytest.mark.anyio


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
async def nodes(pg_schema: str, tmp_path: Path) -> AsyncIterator[list[Engine]]:
    """Two opened engines ("nodes") on one schema, one AE_MEMORY_KEY, two data folders."""
    secret = key()
    async with AsyncExitStack() as stack:
        engines = []
        for name in ("node1", "node2"):
            settings = Settings(store=f"{POSTGRES_URL}?schema={pg_schema}",
                                data_dir=tmp_path / name, memory_key=secret)  # fmt: skip
            engines.append(await stack.enter_async_context(Engine(settings)))
        yield engines


async def test_a_memory_recorded_on_one_node_is_retrieved_on_another(nodes: list[Engine]) -> None:
    one, two = nodes
    await one.memory.record_interaction(
        "smith", "ana", {"dialogue": ["You brought back my lost ring!"], "outcome": "positive"}
    )
    found = await two.memory.retrieve("smith", "ana", "ring")
    assert [r.text for r in found] == ["You brought back my lost ring!"]
    assert (await two.memory.get_memory("smith", "ana")).relationship == 10
    assert "NPC smith:" in await two.memory.context_for_player("ana")


async def test_a_profile_changed_on_one_node_is_seen_on_the_other(nodes: list[Engine]) -> None:
    one, two = nodes
    await one.memory.add_fact("smith", "ana", "the player is a mage")
    assert (await two.memory.get_memory("smith", "ana")).known_facts == ["the player is a mage"]
    # node 2 has the profile at hand now; node 1 changes it: node 2 reads the change
    await one.memory.add_fact("smith", "ana", "the player owes 40 gold")
    await one.memory.record_interaction("smith", "ana", {"outcome": "negative"})
    seen = await two.memory.get_memory("smith", "ana")
    assert seen.known_facts == ["the player is a mage", "the player owes 40 gold"]
    assert seen.relationship == -10 and seen.interactions_total == 1
    # and the other way round, on a profile node 1 holds
    await two.memory.set_traits("smith", "ana", {"wary": 0.9})
    assert (await one.memory.get_memory("smith", "ana")).personality_traits == {"wary": 0.9}


async def test_a_node_with_another_key_fails_at_start(
    nodes: list[Engine], pg_schema: str, tmp_path: Path
) -> None:
    await nodes[0].memory.record_interaction("smith", "ana", {"dialogue": ["Hello."]})
    settings = Settings(store=f"{POSTGRES_URL}?schema={pg_schema}",
                        data_dir=tmp_path / "node3", memory_key=key())  # fmt: skip
    with pytest.raises(MemoryKeyError, match="AE_MEMORY_KEY"):
        async with Engine(settings):
            pass
    # without AE_MEMORY_KEY, the node's own key file is another key too
    alone = Settings(store=f"{POSTGRES_URL}?schema={pg_schema}", data_dir=tmp_path / "node4")
    async with Engine(alone) as engine:  # no key known yet: memory is not opened
        with pytest.raises(MemoryKeyError, match="AE_MEMORY_KEY"):
            await engine.memory.get_memory("smith", "ana")


async def test_concurrent_records_from_two_nodes_keep_every_memory(nodes: list[Engine]) -> None:
    async with anyio.create_task_group() as tg:
        for i in range(30):
            node = nodes[i % 2]
            outcome = "positive" if i < 8 else "neutral"
            tg.start_soon(node.memory.record_interaction, "smith", "ana",
                          {"dialogue": [f"meeting {i}"], "outcome": outcome})  # fmt: skip
    for node in nodes:
        profile = await node.memory.get_memory("smith", "ana")
        assert profile.interactions_total == 30 and profile.relationship == 80
        found = await node.memory.retrieve("smith", "ana", k=100)
        assert sorted(r.text for r in found) == sorted(f"meeting {i}" for i in range(30))


async def test_folds_from_two_nodes_lose_nothing_and_stay_within_budget(
    pg_schema: str,
) -> None:
    secret = MemoryCipher(os.urandom(32))
    async with (
        PostgresStore(POSTGRES_URL, schema=pg_schema) as s1,
        PostgresStore(POSTGRES_URL, schema=pg_schema) as s2,
    ):
        managers = [NPCMemoryManager(PostgresMemory(s, secret), budget=6) for s in (s1, s2)]
        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(managers[i % 2].record_interaction, "inn", "ana",
                              {"dialogue": [f"room {i}"]})  # fmt: skip
        profile = await managers[0].get_memory("inn", "ana")
        assert profile.interactions_total == 40
        rows = await managers[1].backend.rows(managers[1].backend.pair("inn", "ana"))
        left = sum(1 for r in rows if r.kind == "interaction")
        assert profile.summarised + left == 40  # every meeting kept whole or in a summary
        # within the budget, but for the meeting each node may have added since a fold
        assert len(rows) <= 6 + 2


async def test_postgresql_holds_no_plaintext_dialogue_or_ids(
    nodes: list[Engine], pg_schema: str
) -> None:
    await nodes[0].memory.record_interaction(
        "npc_zorblax", "player_quuxington",
        {"dialogue": ["Meet me at the Xanthippe fountain with the moonstone."],
         "player_choices": ["bring the moonstone"], "outcome": "positive"},
    )  # fmt: skip
    await nodes[1].memory.add_fact("npc_zorblax", "player_quuxington", "owes 40 gold to Barnabus")
    assert await nodes[1].memory.retrieve("npc_zorblax", "player_quuxington", "moonstone")
    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql", "postgres"))
    try:
        dump = b""
        for table in ("npc_memory_meta", "npc_memory_profiles", "npc_memories"):
            for row in await conn.fetch(f"SELECT * FROM {pg_schema}.{table}"):
                dump += b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
    finally:
        await conn.close()
    for secret in (b"xanthippe", b"moonstone", b"fountain", b"barnabus", b"zorblax",
                   b"quuxington", b"meet me"):  # fmt: skip
        assert secret not in dump.lower()


async def test_a_memory_file_copied_into_postgresql_opens_with_its_key(
    tmp_path: Path, pg_schema: str
) -> None:
    secret = key()
    old = NPCMemoryManager.open(tmp_path / "old", secret, budget=4)
    for i in range(6):  # a fold: a summary among the rows
        said = {"dialogue": [f"The player bought sword {i}."]}
        await old.record_interaction("smith", "ana", said)
    await old.add_fact("smith", "ana", "likes swords")
    before = await old.retrieve("smith", "ana", "sword", k=10)
    old.close()
    async with PostgresStore(POSTGRES_URL, schema=pg_schema) as store:
        assert await copy_memory_file(tmp_path / "old" / "memory.db", store) == len(before)
    settings = Settings(store=f"{POSTGRES_URL}?schema={pg_schema}",
                        data_dir=tmp_path / "node1", memory_key=secret)  # fmt: skip
    async with Engine(settings) as engine:
        profile = await engine.memory.get_memory("smith", "ana")
        assert profile.interactions_total == 6 and profile.known_facts == ["likes swords"]
        after = await engine.memory.retrieve("smith", "ana", "sword", k=10)
        assert sorted(r.text for r in after) == sorted(r.text for r in before)
        # new memories go after the copied ids
        await engine.memory.record_interaction("smith", "ana", {"dialogue": ["A shield now."]})
        (shield,) = await engine.memory.retrieve("smith", "ana", "shield", k=1)
        assert shield.text == "A shield now."
    async with PostgresStore(POSTGRES_URL, schema=pg_schema) as store:
        with pytest.raises(StoreError, match="already holds NPC memories"):
            await copy_memory_file(tmp_path / "old" / "memory.db", store)
