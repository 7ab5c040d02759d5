"""SyncEngine is the blocking twin of Engine: the same surface, and every service
usable without ``await``."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from encounters import Engine, Settings, SyncEngine
from encounters.storage import MemoryStore

EXAMPLES = Path(__file__).parents[2] / "examples"

#: Names only one of the two has, and why.
ASYNC_ONLY = {"open"}  # SyncEngine opens in its constructor
SYNC_ONLY = {
    "engine",  # the async engine inside
    "moderate_message",  # typed shortcuts for engine.moderator's coroutines
    "moderate_action",
}


def public_names(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def test_sync_engine_has_every_public_name_of_engine_with_the_same_parameters() -> None:
    engine = Engine(Settings(store="memory"), store=MemoryStore())
    with SyncEngine(Settings(store="memory")) as sync:
        assert public_names(engine) - ASYNC_ONLY == public_names(sync) - SYNC_ONLY
        for name in public_names(engine) - ASYNC_ONLY:
            method = getattr(type(engine), name, None)
            if not inspect.isfunction(method):
                continue
            wanted = inspect.signature(method).parameters
            got = inspect.signature(getattr(type(sync), name)).parameters
            assert list(got) == list(wanted), name
            for parameter in wanted.values():
                other = got[parameter.name]
                assert (other.kind, other.default) == (parameter.kind, parameter.default), (
                    f"{name}({parameter.name})"
                )


def test_a_campaign_plays_through_the_sync_engine() -> None:
    with SyncEngine(Settings(store="memory")) as engine:
        for encounter_id, category in (
            ("enc_bridge_ambush", "combat"),
            ("enc_toll_house", "exploration"),
        ):
            spec = engine.generate(category=category, player="bob", seed=3, save=False)
            engine.save_encounter({**spec.model_dump(), "id": encounter_id})
        campaign = engine.campaigns.save_campaign(
            json.loads((EXAMPLES / "campaign.json").read_text())
        )
        run = engine.start_campaign(campaign.id, "bob")
        played = []
        while (step := engine.campaigns.current_encounter(run)) is not None:
            session = engine.play_campaign_step(run.id)
            engine.record_choice(session.id, "Mercy?", "spare him", choice_id="spare")
            for objective in session.encounter.objectives:
                engine.update_objective(session.id, objective.id, completed=True)
            engine.complete_session(session.id)
            run = engine.campaigns.status(run.id)
            played.append(step)
        assert played == ["enc_bridge_ambush", "enc_toll_house"]
        assert run.status.value == "completed" and run.state["merciful"] is True


def test_player_systems_answer_without_await() -> None:
    with SyncEngine(Settings(store="memory")) as engine:
        spec = engine.generate(category="social", player="alice", seed=1)
        session = engine.start_session("alice", spec)
        npc = spec.npcs[0].id
        engine.record_npc_interaction(session.id, npc, dialogue=["Hello"], outcome="positive")
        engine.abandon_session(session.id)
        assert engine.memory.get_memory(npc, "alice").interactions_total == 1
        assert engine.difficulty.history("alice").recorded == 1
        engine.analytics.flush()
        stats: Any = engine.analytics.encounter(spec.id)
        assert (stats.total_plays, stats.abandons) == (1, 1)
        template = engine.publish_template(engine.templates.get("combat-ambush"))
        assert template.id == "combat-ambush"
        engine.notify("persona.approved", {"persona_id": "p1"})  # no webhook: nothing happens
        assert engine.webhooks.list() == []
