"""The player-facing systems through the Engine: adaptive difficulty from finished
sessions, NPCs that remember players, and what an LLM prompt then carries."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import anyio
import pytest

from encounters.engine import Engine
from encounters.generation.openai_provider import OpenAIProvider
from encounters.generation.router import ProviderManager, RouterPolicy
from encounters.settings import Settings
from tests.fakes.http import fake_server
from tests.fakes.llm import Script, openai_chat_reply

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def lose(engine: Engine, player: str, times: int) -> None:
    for i in range(times):
        spec = await engine.generate(category="combat", player=player, seed=i)
        session = await engine.start_session(player, spec)
        await engine.fail_session(session.id, "fell in battle")


async def test_adaptive_generation_follows_finished_sessions(tmp_path: Path) -> None:
    async with Engine(data_dir=tmp_path) as engine:
        await lose(engine, "weak", 5)
        easy = await engine.generate(category="combat", player="weak", difficulty=0.5,
                                     adaptive=True)  # fmt: skip
        assert easy.difficulty == pytest.approx(0.3)
        fixed = await engine.generate(category="combat", player="weak", difficulty=0.5)
        assert fixed.difficulty == 0.5  # only when asked
    async with Engine(data_dir=tmp_path) as engine:  # the history was kept
        history = await engine.difficulty.history("weak")
        assert history.recorded == 5 and history.success_rate() == 0.0
        with pytest.raises(Exception, match="player"):
            await engine.generate(category="combat", adaptive=True)


async def test_the_rating_policy_is_chosen_by_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, difficulty_policy="rating", target_success=0.5)
    async with Engine(settings) as engine:
        await lose(engine, "p1", 6)
        spec = await engine.generate(category="combat", player="p1", adaptive=True)
        assert spec.difficulty < 0.45  # a losing player gets easier encounters


async def test_npcs_remember_players_and_the_prompt_carries_it(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(data_dir=tmp_path, memory_key=key)
    with fake_server() as server:
        replies = Script(default=openai_chat_reply("{}"))
        server.route("POST", "/v1/chat/completions", replies)
        provider = OpenAIProvider(
            api_key="sk-test-0000000000000000", base_url=server.base_url + "/v1"
        )
        router = ProviderManager([provider], policy=RouterPolicy(max_retries=0, timeout=5.0))
        async with Engine(settings) as engine:
            spec = await engine.generate(category="social", player="ana", seed=3)
            npc = spec.npcs[0].id
            session = await engine.start_session("ana", spec)
            await engine.record_npc_interaction(
                session.id, npc, dialogue=["You brought back my lost ring!"],
                player_choices=["return the ring"], outcome="positive",
            )  # fmt: skip
            await engine.fail_session(session.id)
            profile = await engine.memory.get_memory(npc, "ana")
            assert profile.relationship == 10 and profile.interactions_total == 1

        # a game with an LLM: the prompt for this player carries the memory and record
        async with Engine(settings, generator=router) as engine:
            # the fake's "{}" is no encounter: the router falls back to the offline one
            await engine.generate(category="social", player="ana", adaptive=True)
        prompt = replies.bodies[0]["messages"][-1]["content"]
        assert "You brought back my lost ring!" in prompt
        assert "Relationship level: 10/100" in prompt
        assert "The player won 0 of their last 1 encounters" in prompt
        assert "difficulty 0.30" in prompt
    # on disk, the dialogue is not in the clear
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("memory.db"))
    assert b"lost ring" not in raw


async def test_a_player_never_met_gets_no_memory_and_no_file(tmp_path: Path) -> None:
    async with Engine(data_dir=tmp_path) as engine:
        await engine.generate(category="combat", player="new")
    assert not (tmp_path / "memory.db").exists()
    assert not (tmp_path / "memory.key").exists()


def test_cli_shows_memory_and_difficulty(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from encounters.cli import app

    async def seed() -> str:
        async with Engine(data_dir=tmp_path) as engine:
            spec = await engine.generate(category="social", player="ana", seed=3)
            session = await engine.start_session("ana", spec)
            await engine.record_npc_interaction(session.id, spec.npcs[0].id,
                                                dialogue=["Thanks for the herbs."],
                                                outcome="positive")  # fmt: skip
            await engine.fail_session(session.id)
            return spec.npcs[0].id

    npc = anyio.run(seed)
    runner = CliRunner()
    shown = runner.invoke(app, ["--data-dir", str(tmp_path), "memory", "show", npc, "ana",
                                "--query", "herbs", "--json"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["profile"]["relationship"] == 10
    assert data["memories"][0]["text"] == "Thanks for the herbs."
    diff = runner.invoke(app, ["--data-dir", str(tmp_path), "difficulty", "show", "ana"])
    assert diff.exit_code == 0, diff.output
    assert "The player won 0 of their last 1 encounters" in " ".join(diff.output.split())
    bad = runner.invoke(app, ["--data-dir", str(tmp_path), "memory", "show", "bad id!", "ana"])
    assert bad.exit_code == 1 and "npc_id" in bad.output
