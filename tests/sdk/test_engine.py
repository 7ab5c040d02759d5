"""The engine facade, async and sync: generation, the session state machine, events."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from encounters import (
    EncounterNotFound,
    EncounterSpec,
    Engine,
    EngineEvent,
    IllegalTransition,
    ObjectivesIncomplete,
    SessionNotActive,
    SessionNotFound,
    Settings,
    SyncEngine,
    TemplateNotFound,
    TemplateParameterError,
    UnknownNPC,
    UnknownObjective,
    ValidationFailed,
)
from encounters.models import SessionStatus
from encounters.storage import MemoryStore
from tests.conftest import encounter_dict

ROOT = Path(__file__).resolve().parents[2]


def mem_engine() -> SyncEngine:
    return SyncEngine(Settings(store="memory"))


def test_generate_by_category_is_valid_stored_and_repeatable(tmp_path: Path) -> None:
    with SyncEngine(data_dir=tmp_path) as engine:
        a = engine.generate(category="stealth", difficulty=0.7, player="alice", seed=42)
        b = engine.generate(category="stealth", difficulty=0.7, player="alice", seed=42, save=False)
        assert a == b
        assert a.category.value == "stealth" and a.difficulty == 0.7
        assert engine.get_encounter(a.id) == a
    assert (tmp_path / "encounters.db").exists()


def test_generate_from_a_template_with_typed_params() -> None:
    with mem_engine() as engine:
        spec = engine.generate(
            template="combat-ambush", params={"enemy_type": "wolves", "enemy_count": "4"}
        )
        assert spec.objectives[0].quantity == 4 and spec.objectives[0].target == "wolves"
        assert spec.template_id == "combat-ambush"
        with pytest.raises(TemplateParameterError) as info:
            engine.generate(template="combat-ambush", params={"enemy_count": 500})
        assert {e.path for e in info.value.errors} == {"enemy_type", "enemy_count"}
        with pytest.raises(TemplateNotFound):
            engine.generate(template="no-such-template")


def test_generate_rejects_bad_requests_with_named_fields() -> None:
    with mem_engine() as engine:
        with pytest.raises(ValidationFailed) as info:
            engine.generate(category="dancing", difficulty=3.0)
        paths = {e.path for e in info.value.errors}
        assert paths == {"category", "difficulty"}
        with pytest.raises(ValidationFailed) as info:
            engine.generate(category="combat", player={"player_id": "p", "level": -1})
        assert [str(e) for e in info.value.errors] == ["level: must be >= 1"]


def test_a_whole_session_is_played_and_kept() -> None:
    with mem_engine() as engine:
        spec = engine.save_encounter(encounter_dict())
        session = engine.start_session(
            {"player_id": "alice", "level": 4}, spec.id, campaign_id="camp_a", voice_enabled=True
        )
        assert session.status is SessionStatus.ACTIVE and session.campaign_id == "camp_a"
        s = engine.update_objective(session.id, "obj_1", progress=2)
        assert s.objectives["obj_1"].progress == 2 and not s.objectives["obj_1"].completed
        s = engine.update_objective(session.id, "obj_1", progress=99)  # clamped, completes
        assert s.objectives["obj_1"].progress == 3 and s.objectives["obj_1"].completed
        s = engine.record_choice(
            session.id,
            "Spare the leader?",
            "spare",
            available_options=["spare", "arrest"],
            consequences=["the gang owes you"],
        )
        s = engine.record_npc_interaction(
            session.id, "npc_1", dialogue=["Thanks."], outcome="positive"
        )
        done = engine.complete_session(session.id)  # obj_2 is optional
        assert done.status is SessionStatus.COMPLETED and done.ended_at is not None
        assert done.duration_seconds is not None and done.duration_seconds >= 0
        kept = engine.get_session(session.id)
        assert kept.choices_made[0].selected_option == "spare"
        assert kept.npc_interactions[0].outcome == "positive"
        assert [x.id for x in engine.list_sessions(player_id="alice")] == [session.id]
        assert engine.list_sessions(status="completed")[0].id == session.id


def test_illegal_moves_raise_typed_errors() -> None:
    with mem_engine() as engine:
        spec = engine.save_encounter(encounter_dict())
        sid = engine.start_session("bob", spec).id
        with pytest.raises(ObjectivesIncomplete) as incomplete:
            engine.complete_session(sid)
        assert incomplete.value.open_ids == ["obj_1"]
        with pytest.raises(UnknownObjective, match="its objectives are: obj_1, obj_2"):
            engine.update_objective(sid, "obj_9", completed=True)
        with pytest.raises(UnknownNPC):
            engine.record_npc_interaction(sid, "npc_404")
        with pytest.raises(ValueError, match="progress"):
            engine.update_objective(sid, "obj_1", progress=-1)
        engine.fail_session(sid, "fell off the bridge")
        with pytest.raises(IllegalTransition, match="is failed; it cannot become completed"):
            engine.complete_session(sid)
        with pytest.raises(IllegalTransition):
            engine.abandon_session(sid)
        with pytest.raises(SessionNotActive):
            engine.update_objective(sid, "obj_1", completed=True)
        with pytest.raises(SessionNotActive):
            engine.record_choice(sid, "Again?", "yes")
        assert engine.get_session(sid).failure_reason == "fell off the bridge"
        with pytest.raises(SessionNotFound):
            engine.get_session("sess_nope")
        with pytest.raises(EncounterNotFound):
            engine.start_session("bob", "enc_missing")


def test_abandon_is_allowed_from_active_only() -> None:
    with mem_engine() as engine:
        spec = engine.save_encounter(encounter_dict())
        sid = engine.start_session("carol", spec).id
        assert engine.abandon_session(sid).status is SessionStatus.ABANDONED
        with pytest.raises(IllegalTransition):
            engine.fail_session(sid)


def test_concurrent_steps_on_one_session_are_all_kept(tmp_path: Path) -> None:
    async def main() -> None:
        async with Engine(data_dir=tmp_path) as engine:
            spec = await engine.save_encounter(encounter_dict())
            session = await engine.start_session("alice", spec)
            async with anyio.create_task_group() as tg:
                for i in range(40):
                    tg.start_soon(engine.record_choice, session.id, f"choice {i}", f"option {i}")
            kept = await engine.get_session(session.id)
            assert sorted(c.description for c in kept.choices_made) == sorted(
                f"choice {i}" for i in range(40)
            )

    anyio.run(main)


def test_events_are_emitted_and_a_broken_listener_is_contained() -> None:
    seen: list[tuple[str, str | None]] = []

    async def listener(event: EngineEvent) -> None:
        seen.append((event.type, event.data.get("objective_id")))

    async def broken(event: EngineEvent) -> None:
        raise RuntimeError("listener bug")

    with mem_engine() as engine:
        engine.on(broken)
        engine.on(listener)
        spec = engine.save_encounter(encounter_dict())
        sid = engine.start_session("alice", spec).id
        engine.update_objective(sid, "obj_1", completed=True)
        engine.update_objective(sid, "obj_1", completed=True)  # already done: no 2nd event
        engine.record_choice(sid, "Left or right?", "left")
        engine.record_npc_interaction(sid, "npc_1")
        engine.complete_session(sid)
    types = [t for t, _ in seen]
    assert types.count("objective.completed") == 1
    assert ("objective.completed", "obj_1") in seen
    for expected in ("session.started", "choice.made", "npc.interaction", "session.completed"):
        assert expected in types


def test_engine_runs_under_trio_too() -> None:
    async def main() -> str:
        async with Engine(store=MemoryStore()) as engine:
            spec = await engine.generate(category="puzzle", seed=3)
            return (await engine.start_session("t", spec)).id

    assert anyio.run(main, backend="trio").startswith("sess_")


def test_closed_sync_engine_refuses_calls() -> None:
    engine = mem_engine()
    engine.close()
    with pytest.raises(RuntimeError, match="closed"):
        engine.generate(category="combat")
    engine.close()  # closing twice is harmless


def test_sessions_survive_a_restart(tmp_path: Path) -> None:
    with SyncEngine(data_dir=tmp_path) as engine:
        spec: EncounterSpec = engine.generate(category="social", seed=1)
        sid = engine.start_session("dana", spec).id
        engine.update_objective(sid, spec.objectives[0].id, completed=True)
    with SyncEngine(data_dir=tmp_path) as engine:
        session = engine.get_session(sid)
        assert session.objectives[spec.objectives[0].id].completed
        assert session.encounter == spec


def test_published_templates_are_kept_in_the_store(tmp_path: Path) -> None:
    import json as _json

    from encounters.engine import Engine
    from encounters.errors import TemplateError

    builtin = _json.loads(
        next((ROOT / "sdk/encounters/templates/builtin").glob("*.json")).read_text()
    )
    mine = {**builtin, "id": "my-errand", "name": "My errand"}

    async def publish() -> None:
        async with Engine(data_dir=tmp_path) as engine:
            await engine.publish_template(mine)
            with pytest.raises(TemplateError, match="id"):
                await engine.publish_template({**mine, "id": "bad id!"})

    async def reopen() -> list[str]:
        async with Engine(data_dir=tmp_path) as engine:
            return [t.id for t in engine.templates.list()]

    anyio.run(publish)
    assert "my-errand" in anyio.run(reopen)
