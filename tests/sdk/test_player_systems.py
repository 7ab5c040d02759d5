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


async def test_a_history_scope_keeps_finished_sessions_and_adaptive_picks_apart(
    tmp_path: Path,
) -> None:
    async with Engine(data_dir=tmp_path) as engine:
        for i in range(5):  # five defeats on one game server
            spec = await engine.generate(category="combat", player="ana", seed=i)
            session = await engine.start_session("ana", spec)
            await engine.fail_session(session.id, history_scope="server:web:one")
        session = await engine.start_session("ana", spec)
        await engine.abandon_session(session.id, record_history=False)  # counted nowhere

        async def adaptive(scope: str | None, *, use_history: bool = True) -> float:
            spec = await engine.generate(category="combat", player="ana", difficulty=0.5,
                                         adaptive=True, use_history=use_history,
                                         history_scope=scope)  # fmt: skip
            return spec.difficulty

        assert await adaptive("server:web:one") == pytest.approx(0.3)
        assert await adaptive("server:web:two") == 0.5
        assert await adaptive(None) == 0.5
        assert (await engine.difficulty.history("ana")).recorded == 0
        assert await adaptive("server:web:one", use_history=False) == 0.5


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
            await engine.memory.record_interaction(spec.npcs[0].id, "ana",
                                                   {"dialogue": ["Elsewhere."]},
                                                   scope="server:web:one")  # fmt: skip
            elsewhere = await engine.start_session("ana", spec)
            await engine.abandon_session(elsewhere.id, history_scope="server:web:one")
            again = await engine.start_session("ana", spec)
            await engine.abandon_session(again.id, history_scope="server:web:one")
            return spec.npcs[0].id

    npc = anyio.run(seed)
    runner = CliRunner()
    shown = runner.invoke(app, ["--data-dir", str(tmp_path), "memory", "show", npc, "ana",
                                "--query", "herbs", "--json"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["profile"]["relationship"] == 10
    assert data["memories"][0]["text"] == "Thanks for the herbs."
    scoped = runner.invoke(app, ["--data-dir", str(tmp_path), "memory", "show", npc, "ana",
                                 "--scope", "server:web:one", "--json"])  # fmt: skip
    assert scoped.exit_code == 0, scoped.output
    assert [m["text"] for m in json.loads(scoped.output)["memories"]] == ["Elsewhere."]
    diff = runner.invoke(app, ["--data-dir", str(tmp_path), "difficulty", "show", "ana"])
    assert diff.exit_code == 0, diff.output
    assert "The player won 0 of their last 1 encounters" in " ".join(diff.output.split())
    diff = runner.invoke(app, ["--data-dir", str(tmp_path), "difficulty", "show", "ana",
                               "--scope", "server:web:one", "--json"])  # fmt: skip
    assert diff.exit_code == 0, diff.output
    assert json.loads(diff.output)["history"]["recorded"] == 2
    bad = runner.invoke(app, ["--data-dir", str(tmp_path), "memory", "show", "bad id!", "ana"])
    assert bad.exit_code == 1 and "npc_id" in bad.output


# -- campaigns through the engine, the control API and the CLI -----------------------------


async def two_step_campaign(engine: Engine) -> dict[str, object]:
    first = await engine.generate(category="combat", player="ana", seed=1)
    second = await engine.generate(category="exploration", player="ana", seed=2)
    return {
        "id": "bridge_saga", "name": "The Bridge Saga",
        "steps": [
            {"encounter_id": first.id, "carry_forward": ["outcome"],
             "transformations": [
                 {"op": "add", "target": "xp", "source": "rewards.experience"},
                 {"op": "set_if_equals", "target": "hero", "source": "choices.spare",
                  "equals": "spare him", "value": True},
             ]},
            {"encounter_id": second.id, "prerequisites": [first.id]},
        ],
    }  # fmt: skip


async def play_through(engine: Engine, run_id: str, *, spare: bool = False) -> str:
    session = await engine.play_campaign_step(run_id)
    if spare:
        await engine.record_choice(session.id, "The bandit begs", "spare him",
                                   choice_id="spare")  # fmt: skip
    for objective in session.encounter.objectives:
        await engine.update_objective(session.id, objective.id, completed=True)
    await engine.complete_session(session.id)
    return session.id


async def test_a_campaign_chains_sessions_carries_state_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    async with Engine(data_dir=tmp_path) as engine:
        spec = await engine.campaigns.save_campaign(await two_step_campaign(engine))
        run = await engine.start_campaign(spec.id, "ana")
        first = await play_through(engine, run.id, spare=True)
        run = await engine.campaigns.status(run.id)  # finishing the session advanced it
        assert run.completed == [spec.steps[0].encounter_id]
        assert run.state["outcome"] == "completed" and run.state["hero"] is True
        assert isinstance(run.state["xp"], int) and run.state["xp"] > 0
        assert first in run.session_ids
    async with Engine(data_dir=tmp_path) as engine:  # a restart: the run goes on
        session = await engine.play_campaign_step(run.id)
        assert session.encounter.id == spec.steps[1].encounter_id
        assert session.campaign_id == spec.id
        # the next session (and its prompts) see the carried state
        player = await engine.campaigns.status(run.id)
        ctx = engine.campaigns.player_context(
            player,
            __import__("encounters.models", fromlist=["PlayerContext"]).PlayerContext(
                player_id="ana"
            ),
        )
        assert ctx.attributes["hero"] is True
        await engine.fail_session(session.id, "ran away")
        assert (await engine.campaigns.status(run.id)).status == "active"  # retry the step
        await play_through(engine, run.id)
        done = await engine.campaigns.status(run.id)
        assert done.status == "completed" and done.completed_at is not None
        with pytest.raises(Exception, match="no step to play"):
            await engine.play_campaign_step(run.id)


async def test_player_systems_over_the_control_api(tmp_path: Path) -> None:
    import httpx

    from tests.bridge.test_operator_systems import control_api

    async with Engine(data_dir=tmp_path) as engine, control_api(engine) as (url, key, _):
        auth = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=auth) as api:
            body = await two_step_campaign(engine)
            assert (await api.post("/campaigns", json=body)).status_code == 201
            bad = await api.post(
                "/campaigns",
                json={
                    **body,
                    "steps": [
                        {
                            "encounter_id": "x",
                            "transformations": [{"op": "lambda", "target": "t"}],
                        }
                    ],
                },
            )
            assert bad.status_code == 422
            assert "steps[0].transformations[0]" in bad.text
            run = (await api.post("/campaigns/bridge_saga/start", json={"player": "ana"})).json()
            session = (await api.post(f"/campaign-runs/{run['id']}/play")).json()
            for objective in session["encounter"]["objectives"]:
                r = await api.post(f"/sessions/{session['id']}/objectives/{objective['id']}",
                                   json={"completed": True})  # fmt: skip
                assert r.status_code == 200
            assert (await api.post(f"/sessions/{session['id']}/complete")).status_code == 200
            status = (await api.get(f"/campaign-runs/{run['id']}")).json()
            assert status["completed"] == [body["steps"][0]["encounter_id"]]  # type: ignore[index]
            again = await api.post(f"/campaign-runs/{run['id']}/advance",
                                   json={"sessionId": session["id"]})  # fmt: skip
            assert again.status_code == 200 and again.json()["completed"] == status["completed"]

            r = await api.post("/memory/smith/ana", json={"dialogue": ["Fine blade!"],
                                                          "outcome": "positive"})  # fmt: skip
            assert r.status_code == 201 and r.json()["relationship"] == 10
            got = (await api.get("/memory/smith/ana", params={"query": "blade"})).json()
            assert got["memories"][0]["text"] == "Fine blade!"
            assert "Relationship level: 10/100" in got["context"]
            bad_memory = await api.post("/memory/smith/ana", json={"outcome": "angry"})
            assert bad_memory.status_code == 422 and "outcome" in bad_memory.text

            diff = (await api.get("/difficulty/ana")).json()
            assert diff["history"]["recorded"] == 1
            made = await api.post("/generate", json={"category": "combat", "player": "ana",
                                                     "adaptive": True})  # fmt: skip
            assert made.status_code == 201 and made.json()["difficulty"] == diff["difficulty"]


def test_cli_runs_a_campaign(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from encounters.cli import app

    async def prepare() -> Path:
        async with Engine(data_dir=tmp_path) as engine:
            body = await two_step_campaign(engine)
        path = tmp_path / "saga.json"
        path.write_text(json.dumps(body))
        return path

    path = anyio.run(prepare)
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path), "campaign"]
    started = runner.invoke(app, [*base, "start", str(path), "ana"])
    assert started.exit_code == 0, started.output
    run_id = started.output.split()[1]
    assert "active" in started.output
    status = runner.invoke(app, [*base, "status", run_id])
    assert status.exit_code == 0 and "next:" in status.output
    twice = runner.invoke(app, [*base, "start", "bridge_saga", "ana"])
    assert twice.exit_code == 1  # one active run per player and campaign
    missing = runner.invoke(app, [*base, "advance", run_id, "sess_nope"])
    assert missing.exit_code == 1 and "sess_nope" in missing.output
