"""NPC memory: relationships, retrieval, summaries, encryption at rest, keys."""

from __future__ import annotations

import base64
import os
import stat
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from encounters.errors import ConfigError, ValidationFailed
from encounters.memory import Interaction, MemoryKeyError, NPCMemoryManager
from encounters.models.common import utcnow
from tests.sdk.memory.conftest import OpenMemory

pytestmark = pytest.mark.anyio


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def meeting(
    text: str, outcome: str = "neutral", days_ago: float = 0.0, **kw: object
) -> dict[str, object]:
    return {"dialogue": [text], "outcome": outcome,
            "timestamp": utcnow() - timedelta(days=days_ago), **kw}  # fmt: skip


async def test_relationship_moves_by_ten_and_stays_within_bounds(open_memory: OpenMemory) -> None:
    memory = await open_memory()
    for _ in range(15):
        profile = await memory.record_interaction("smith", "p1", meeting("Thanks!", "positive"))
    assert profile.relationship == 100
    profile = await memory.record_interaction("smith", "p1", meeting("Hm.", "neutral"))
    assert profile.relationship == 100
    for _ in range(25):
        profile = await memory.record_interaction("smith", "p1", meeting("Thief!", "negative"))
    assert profile.relationship == -100
    assert profile.interactions_total == 41
    # another player starts from zero with the same NPC
    assert (await memory.get_memory("smith", "p2")).relationship == 0


async def test_relevant_memories_come_before_recent_irrelevant_ones(
    open_memory: OpenMemory,
) -> None:
    memory = await open_memory()
    old = [
        "The player asked where the dragon sleeps; I told them about the lair in the north.",
        "We spoke of the dragon's hoard of gold under the mountain.",
        "The player swore to slay the dragon that burned my farm.",
    ]
    for i, text in enumerate(old):
        await memory.record_interaction("hermit", "p1", meeting(text, days_ago=30 + i))
    recent = ["Nice weather for fishing today.", "Bread is cheap at the market.",
              "The mill wheel squeaks again.", "My cat caught a mouse.",
              "Rain is coming from the west.", "I mended my boots."]  # fmt: skip
    for i, text in enumerate(recent):
        await memory.record_interaction("hermit", "p1", meeting(text, days_ago=i * 0.01))

    found = await memory.retrieve("hermit", "p1", "Where is the dragon lair?", k=3)
    assert {r.text for r in found} == set(old)
    assert found[0].text == old[0]  # the closest match leads
    assert all(r.relevance > 0 for r in found)
    # with no query, the recent ones lead
    latest = await memory.retrieve("hermit", "p1", k=2)
    assert [r.text for r in latest] == recent[:2]


async def test_importance_counts_outcomes_and_choices(open_memory: OpenMemory) -> None:
    memory = await open_memory()
    await memory.record_interaction("guard", "p1", meeting("Move along.", days_ago=0.0))
    await memory.record_interaction(
        "guard", "p1",
        meeting("You spared the thief.", "positive", days_ago=0.02,
                player_choices=["spare the thief", "give him bread"]),
    )  # fmt: skip
    top = await memory.retrieve("guard", "p1", k=1)
    assert top[0].text.startswith("You spared the thief.")
    assert top[0].importance > 0.6


async def test_summaries_keep_a_memory_under_budget(open_memory: OpenMemory) -> None:
    memory = await open_memory(budget=10)
    for i in range(50):
        outcome = "positive" if i % 7 == 0 else "neutral"
        await memory.record_interaction(
            "innkeeper", "p1", meeting(f"Visit {i}: the player asked about room {i}.", outcome,
                                       days_ago=50 - i),
        )  # fmt: skip
        pair = memory.backend.pair("innkeeper", "p1")
        assert len(await memory.backend.rows(pair)) <= 10
    profile = await memory.get_memory("innkeeper", "p1")
    assert profile.interactions_total == 50
    assert profile.summarised > 0
    kinds = [r.kind for r in await memory.backend.rows(memory.backend.pair("innkeeper", "p1"))]
    assert "summary" in kinds and "interaction" in kinds
    # the summary still answers for what it replaced; the latest visits are kept whole
    found = await memory.retrieve("innkeeper", "p1", "room", k=10)
    assert any(r.kind == "summary" and "Visit" in r.text for r in found)
    latest = await memory.recent("innkeeper", "p1", 2)
    assert [i.dialogue[0][:8] for i in latest] == ["Visit 48", "Visit 49"]
    memory.close()


async def test_the_file_holds_no_plaintext_dialogue_or_ids(tmp_path: Path) -> None:
    memory = NPCMemoryManager.open(tmp_path, key())
    await memory.record_interaction(
        "npc_zorblax", "player_quuxington",
        meeting("Meet me at the Xanthippe fountain with the moonstone.", "positive",
                player_choices=["bring the moonstone"]),
    )  # fmt: skip
    await memory.add_fact("npc_zorblax", "player_quuxington", "owes 40 gold to Barnabus")
    assert await memory.retrieve("npc_zorblax", "player_quuxington", "moonstone fountain")
    memory.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("memory.db"))
    for secret in (b"Xanthippe", b"moonstone", b"fountain", b"Barnabus", b"zorblax",
                   b"quuxington", b"xanthippe", b"Meet me"):  # fmt: skip
        assert secret not in raw


async def test_a_wrong_key_fails_clearly_and_the_right_one_reads(tmp_path: Path) -> None:
    right = key()
    memory = NPCMemoryManager.open(tmp_path, right)
    await memory.record_interaction("smith", "p1", meeting("Hello there.", "positive"))
    memory.close()
    with pytest.raises(MemoryKeyError, match="AE_MEMORY_KEY"):
        NPCMemoryManager.open(tmp_path, key())
    again = NPCMemoryManager.open(tmp_path, right)
    assert (await again.get_memory("smith", "p1")).relationship == 10
    assert [i.dialogue for i in await again.recent("smith", "p1")] == [["Hello there."]]
    again.close()


async def test_the_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    memory = NPCMemoryManager.open(tmp_path)
    await memory.record_interaction("smith", "p1", meeting("Hi.", "positive"))
    memory.close()
    key_file = tmp_path / "memory.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = NPCMemoryManager.open(tmp_path)
    assert (await again.get_memory("smith", "p1")).relationship == 10
    again.close()
    key_file.write_text("not base64 at all!\n")
    with pytest.raises(MemoryKeyError, match="damaged"):
        NPCMemoryManager.open(tmp_path)


def test_a_malformed_key_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AE_MEMORY_KEY"):
        NPCMemoryManager.open(tmp_path, "c2hvcnQ=")


async def test_bad_input_names_the_field() -> None:
    memory = NPCMemoryManager.open(None)
    with pytest.raises(ValidationFailed, match="npc_id"):
        await memory.record_interaction("bad id!", "p1", meeting("x"))
    with pytest.raises(ValidationFailed, match="outcome"):
        await memory.record_interaction("smith", "p1", meeting("x", "furious"))
    with pytest.raises(ValidationFailed, match=r"dialogue\[0\]"):
        await memory.record_interaction("smith", "p1", {"dialogue": ["x" * 501]})


async def test_context_prompt_follows_the_design(open_memory: OpenMemory) -> None:
    memory = await open_memory()
    for text in ("We met at the gate.", "You fixed my cart.", "You paid for the ale."):
        await memory.record_interaction("smith", "p1", meeting(text, "positive"))
    await memory.add_fact("smith", "p1", "the player is a mage")
    await memory.set_traits("smith", "p1", {"friendly": 0.8})
    prompt = await memory.context_prompt("smith", "p1", "cart")
    assert "This NPC has met the player 3 times before." in prompt
    assert "Relationship level: 30/100" in prompt
    assert "Previous interactions: We met at the gate.; You fixed my cart.; You paid" in prompt
    assert "The NPC should remember these facts: the player is a mage" in prompt
    assert "friendly 0.8" in prompt and "Relevant memories: You fixed my cart." in prompt
    context = await memory.context_for_player("p1")
    assert context.startswith("NPC smith:")
    assert await memory.context_for_player("stranger") == ""
    memory.close()


async def test_cache_eviction_and_restart_lose_nothing(tmp_path: Path) -> None:
    secret = key()
    memory = NPCMemoryManager.open(tmp_path, secret, cache_size=2)
    for n in range(6):
        for _ in range(n):
            await memory.record_interaction(f"npc{n}", "p1", meeting("Good day.", "positive"))
    assert [(await memory.get_memory(f"npc{n}", "p1")).relationship for n in range(6)] == [
        0, 10, 20, 30, 40, 50,
    ]  # fmt: skip
    memory.close()
    again = NPCMemoryManager.open(tmp_path, secret)
    assert (await again.get_memory("npc5", "p1")).interactions_total == 5
    again.close()


async def test_concurrent_interactions_are_all_counted(open_memory: OpenMemory) -> None:
    memory = await open_memory()
    async with anyio.create_task_group() as tg:
        for i in range(40):
            outcome = "positive" if i < 7 else "neutral"
            tg.start_soon(memory.record_interaction, "smith", "p1", meeting(f"m{i}", outcome))
    profile = await memory.get_memory("smith", "p1")
    assert profile.interactions_total == 40 and profile.relationship == 70
    assert len(await memory.retrieve("smith", "p1", k=100)) == 40


async def test_interaction_model_is_accepted_as_is(open_memory: OpenMemory) -> None:
    memory = await open_memory()
    item = Interaction(dialogue=["Take this map."], encounter_id="enc_1", importance=0.9)
    await memory.record_interaction("smith", "p1", item)
    (found,) = await memory.retrieve("smith", "p1", "map")
    assert found.interaction is not None and found.interaction.encounter_id == "enc_1"
    assert found.importance == 0.9


async def test_summaries_come_from_the_llm_when_configured_and_fall_back_when_it_fails(
    open_memory: OpenMemory,
) -> None:
    from encounters.generation.openai_provider import OpenAIProvider
    from encounters.generation.router import ProviderManager, RouterPolicy
    from encounters.memory import LLMSummarizer
    from tests.fakes.http import fake_server
    from tests.fakes.llm import Script, openai_chat_reply, openai_error

    with fake_server() as server:
        replies = Script([openai_chat_reply("The player often asked about rooms and paid.")],
                         default=openai_error(500, "down"))  # fmt: skip
        server.route("POST", "/v1/chat/completions", replies)
        provider = OpenAIProvider(
            api_key="sk-test-0000000000000000", base_url=server.base_url + "/v1"
        )
        router = ProviderManager([provider], policy=RouterPolicy(max_retries=0, timeout=5.0))
        memory = await open_memory(budget=6, summarizer=LLMSummarizer(router))
        for i in range(7):
            await memory.record_interaction(
                "inn", "p1", meeting(f"Room {i} please.", days_ago=9 - i)
            )
        # the oldest half went to the model, as a transcript, and came back as the summary
        prompt = replies.bodies[0]["messages"][-1]["content"]
        assert "Room 0 please." in prompt and "Room 2 please." in prompt
        found = await memory.retrieve("inn", "p1", "rooms paid", k=1)
        assert found[0].kind == "summary"
        assert found[0].text == "The player often asked about rooms and paid."
        # the provider is down now: the extractive summary is used, nothing is lost
        for i in range(7, 12):
            await memory.record_interaction(
                "inn", "p1", meeting(f"Room {i} please.", days_ago=9 - i)
            )
        summaries = [
            r for r in await memory.retrieve("inn", "p1", "room", k=20) if r.kind == "summary"
        ]
        assert summaries and summaries[0].text.startswith("Earlier (")
        await router.aclose()
        memory.close()


async def test_scopes_keep_the_same_ids_apart_and_no_scope_is_unchanged(
    open_memory: OpenMemory,
) -> None:
    memory = await open_memory(budget=4)
    await memory.record_interaction("smith", "ana", meeting("The old ring.", "positive"))
    for i in range(6):  # folds into a summary within the scope
        await memory.record_interaction("smith", "ana", meeting(f"Forged blade {i}.", "positive"),
                                        scope="server:w:one")  # fmt: skip
    await memory.record_interaction("smith", "ana", meeting("Stolen gold.", "negative"),
                                    scope="server:w:two")  # fmt: skip
    await memory.add_fact("smith", "ana", "Owes a debt", scope="server:w:two")
    await memory.set_traits("smith", "ana", {"grumpy": 0.9}, scope="server:w:two")

    again = await open_memory()  # another node, or this one restarted
    one = await again.get_memory("smith", "ana", scope="server:w:one")
    two = await again.get_memory("smith", "ana", scope="server:w:two")
    plain = await again.get_memory("smith", "ana")
    assert (one.relationship, one.interactions_total) == (60, 6) and one.summarised > 0
    assert (two.relationship, two.known_facts, two.personality_traits) == (
        -10,
        ["Owes a debt"],
        {"grumpy": 0.9},
    )
    assert (plain.relationship, plain.interactions_total, plain.known_facts) == (10, 1, [])
    found = await again.retrieve("smith", "ana", "blade ring gold", scope="server:w:one")
    assert any("blade" in r.text for r in found)
    assert not any("ring" in r.text or "gold" in r.text for r in found)

    # a generation prompt for the player sees only its scope's NPCs
    await again.record_interaction("baker", "ana", meeting("Fresh bread."), scope="server:w:two")
    mine = await again.context_for_player("ana", scope="server:w:two")
    assert "NPC baker" in mine and "Stolen gold" in mine and "Owes a debt" in mine
    assert "blade" not in mine and "old ring" not in mine
    unscoped = await again.context_for_player("ana")
    assert "old ring" in unscoped and "bread" not in unscoped and "gold" not in unscoped
    assert await again.context_for_player("ana", scope="server:w:three") == ""
    with pytest.raises(ValidationFailed, match="scope"):
        await again.get_memory("smith", "ana", scope="bad\nscope")
