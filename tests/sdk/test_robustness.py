"""Robustness of the SDK as a game sees it: bad input never reaches the store,
objective semantics, concurrency and cancellation, damage found at read time,
settings from the environment, logging that stays out of the game's way, and an
engine that is never closed."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import anyio
import pytest
import sqlalchemy.exc
import structlog
from structlog.typing import EventDict, WrappedLogger

import tests.support.services as services
from encounters import (
    EncounterSpec,
    Engine,
    EngineEvent,
    ObjectivesIncomplete,
    Session,
    Settings,
    StoreError,
    SyncEngine,
    ValidationFailed,
)
from encounters.errors import ConfigError
from encounters.log import configure_logging
from encounters.models import SessionStatus
from encounters.validation import validate_model
from tests.conftest import encounter_dict


def paths(exc: ValidationFailed) -> set[str]:
    return {e.path for e in exc.errors}


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a store several engines can share (see tests/support/services.py)."""
    with services.sql_settings(request.param, tmp_path) as settings:
        yield settings


@pytest.fixture(params=["sqlite", "memory", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncEngine]:
    if request.param == "memory":
        with SyncEngine(Settings(store="memory")) as eng:
            yield eng
        return
    with services.sql_settings(request.param, tmp_path) as settings, SyncEngine(settings) as eng:
        yield eng


def started(engine: SyncEngine, player: str = "alice") -> Session:
    spec = engine.save_encounter(encounter_dict())
    return engine.start_session(player, spec)


# -- 1. bad values never reach the store ----------------------------------------------


@pytest.mark.parametrize("bad", [2.5, "3", True, -1])
def test_bad_progress_is_refused_and_the_stored_session_is_unchanged(
    engine: SyncEngine, bad: Any
) -> None:
    session = started(engine)
    engine.update_objective(session.id, "obj_1", progress=1)
    before = engine.get_session(session.id)
    with pytest.raises(ValidationFailed) as info:
        engine.update_objective(session.id, "obj_1", progress=bad)
    assert paths(info.value) == {"progress"}
    after = engine.get_session(session.id)
    assert after == before
    assert after.objectives["obj_1"].progress == 1
    assert session.id in {s.id for s in engine.list_sessions()}
    # the session still plays on normally
    assert engine.update_objective(session.id, "obj_1", progress=3).objectives["obj_1"].completed


def test_a_contradiction_found_inside_the_store_write_leaves_the_row_unchanged(
    engine: SyncEngine,
) -> None:
    session = started(engine)
    before = engine.get_session(session.id)
    with pytest.raises(ValidationFailed) as info:
        engine.update_objective(session.id, "obj_1", progress=1, completed=True)
    assert paths(info.value) == {"progress"}
    assert engine.get_session(session.id) == before
    assert [s.id for s in engine.list_sessions()] == [session.id]


# -- 2. a spec changed after validation is checked again -------------------------------


def test_a_spec_mutated_after_validation_is_refused_and_nothing_is_stored(
    engine: SyncEngine,
) -> None:
    spec = EncounterSpec.model_validate(encounter_dict())
    spec.objectives[0].quantity = 0  # pydantic does not check assignments
    with pytest.raises(ValidationFailed) as info:
        engine.start_session("alice", spec)
    assert any(p.endswith("objectives[0].quantity") for p in paths(info.value)), info.value
    assert engine.list_sessions() == []
    with pytest.raises(ValidationFailed):
        engine.save_encounter(spec)
    assert engine.list_encounters() == []


def test_mutating_a_returned_spec_does_not_change_the_stored_one(engine: SyncEngine) -> None:
    spec = engine.generate(category="combat", seed=4)
    quantity = spec.objectives[0].quantity
    spec.objectives[0].quantity = 0
    assert engine.get_encounter(spec.id).objectives[0].quantity == quantity


# -- 3. bad arguments name the field ---------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"language": "!!"}, "language"),
        ({"campaign_id": "has space"}, "campaign_id"),
        ({"voice_enabled": "yes"}, "voice_enabled"),
    ],
)
def test_start_session_names_the_bad_argument(
    engine: SyncEngine, kwargs: dict[str, Any], field: str
) -> None:
    spec = engine.save_encounter(encounter_dict())
    with pytest.raises(ValidationFailed) as info:
        engine.start_session("alice", spec, **kwargs)
    assert field in paths(info.value), info.value
    assert engine.list_sessions() == []


def test_generate_refuses_arguments_that_do_not_apply(engine: SyncEngine) -> None:
    with pytest.raises(ValidationFailed) as info:
        engine.generate(params={"enemy_type": "wolves"})
    assert paths(info.value) == {"params"}
    with pytest.raises(ValidationFailed) as info:
        engine.generate(template="combat-ambush", params={"enemy_type": "x"}, seed=1)
    assert paths(info.value) == {"seed"}
    with pytest.raises(ValidationFailed) as info:
        engine.generate(template="combat-ambush", params={"enemy_type": "x"}, category="combat")
    assert paths(info.value) == {"category"}
    assert engine.list_encounters() == []


def test_list_filters_must_be_known_values(engine: SyncEngine) -> None:
    with pytest.raises(ValidationFailed, match="must be one of") as info:
        engine.list_sessions(status="bogus")
    assert paths(info.value) == {"status"}
    assert "active" in str(info.value)
    with pytest.raises(ValidationFailed, match="must be one of") as info:
        engine.list_encounters(category="bogus")
    assert paths(info.value) == {"category"}
    assert "combat" in str(info.value)


# -- 4. objective semantics ------------------------------------------------------------


def test_progress_zero_reopens_a_completed_objective(engine: SyncEngine) -> None:
    sid = started(engine).id
    s = engine.update_objective(sid, "obj_1", completed=True)
    assert s.objectives["obj_1"].progress == 3 and s.objectives["obj_1"].completed_at
    s = engine.update_objective(sid, "obj_1", progress=0)
    state = s.objectives["obj_1"]
    assert (state.progress, state.completed, state.completed_at) == (0, False, None)
    assert engine.get_session(sid).objectives["obj_1"] == state
    with pytest.raises(ObjectivesIncomplete) as info:
        engine.complete_session(sid)
    assert info.value.open_ids == ["obj_1"]
    assert engine.get_session(sid).status is SessionStatus.ACTIVE


def test_contradicting_progress_and_completed_are_refused(engine: SyncEngine) -> None:
    sid = started(engine).id
    for progress, completed in ((3, False), (99, False), (2, True), (0, True)):
        with pytest.raises(ValidationFailed) as info:
            engine.update_objective(sid, "obj_1", progress=progress, completed=completed)
        assert paths(info.value) == {"progress"}, (progress, completed)
    state = engine.get_session(sid).objectives["obj_1"]
    assert (state.progress, state.completed) == (0, False)


def test_completed_false_reopens_a_done_objective_one_short(engine: SyncEngine) -> None:
    sid = started(engine).id
    engine.update_objective(sid, "obj_1", progress=3)
    s = engine.update_objective(sid, "obj_1", completed=False)
    state = s.objectives["obj_1"]
    assert (state.progress, state.completed, state.completed_at) == (2, False, None)
    # an open objective below the quantity keeps its progress
    s = engine.update_objective(sid, "obj_1", progress=1)
    s = engine.update_objective(sid, "obj_1", completed=False)
    assert s.objectives["obj_1"].progress == 1
    with pytest.raises(ObjectivesIncomplete):
        engine.complete_session(sid)


# -- 5. two engines on one data folder -------------------------------------------------


def test_two_async_engines_on_one_store_lose_no_step(shared: Settings) -> None:
    async def main() -> list[str]:
        a, b = Engine(shared), Engine(shared)
        assert a.store is not b.store
        async with a, b:
            spec = await a.save_encounter(encounter_dict())
            sid = (await a.start_session("alice", spec)).id
            async with anyio.create_task_group() as tg:
                for i in range(30):
                    tg.start_soon(a.record_choice, sid, f"a {i}", "x")
                    tg.start_soon(b.record_choice, sid, f"b {i}", "x")
        async with Engine(shared) as fresh:
            return [c.description for c in (await fresh.get_session(sid)).choices_made]

    kept = anyio.run(main)
    expected = [f"a {i}" for i in range(30)] + [f"b {i}" for i in range(30)]
    assert sorted(kept) == sorted(expected)


def test_two_sync_engines_in_two_threads_lose_no_step(shared: Settings) -> None:
    errors: list[BaseException] = []
    with SyncEngine(shared) as a, SyncEngine(shared) as b:
        sid = started(a).id

        def play(engine: SyncEngine, name: str) -> None:
            try:
                for i in range(30):
                    engine.record_choice(sid, f"{name} {i}", "x")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=play, args=(e, n)) for e, n in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        kept = [c.description for c in b.get_session(sid).choices_made]
    assert len(kept) == 60 and len(set(kept)) == 60


# -- 6. cancellation -------------------------------------------------------------------


@pytest.mark.timeout(60)  # a flush broken by cancellation can leave the loop hanging
def test_a_cancelled_step_never_fails_the_steps_of_others(shared: Settings) -> None:
    """50 tasks in 5 rounds: in each, a victim step takes the write lock first (so it
    commits the steps queued behind it) and is cancelled after 0-4 checkpoints while
    the others wait; one more step is cancelled at its first checkpoint."""

    async def main() -> tuple[list[str], list[str], list[tuple[str, BaseException]]]:
        errors: list[tuple[str, BaseException]] = []
        players: list[str] = []
        async with Engine(shared) as engine:
            spec = await engine.save_encounter(encounter_dict())
            sid = (await engine.start_session("alice", spec)).id

            async def player(name: str) -> None:
                players.append(name)
                try:
                    await engine.record_choice(sid, name, "x")
                except Exception as exc:
                    errors.append((name, exc))

            async def victim(scope: anyio.CancelScope, name: str) -> None:
                with scope:
                    await engine.record_choice(sid, name, "x")

            async def impatient(name: str) -> None:
                with anyio.move_on_after(0):
                    await engine.record_choice(sid, name, "x")

            async def cancel_after(scope: anyio.CancelScope, checkpoints: int) -> None:
                for _ in range(checkpoints):
                    await anyio.sleep(0)
                scope.cancel()

            for r in range(5):
                scope = anyio.CancelScope()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(victim, scope, f"victim {r}")
                    for j in range(8):
                        tg.start_soon(player, f"round {r} player {j}")
                    if r == 2:
                        tg.start_soon(impatient, "impatient")
                    else:
                        tg.start_soon(player, f"round {r} player 8")
                    tg.start_soon(cancel_after, scope, r)
            # the store still works afterwards
            await engine.record_choice(sid, "after", "x")
            kept = [c.description for c in (await engine.get_session(sid)).choices_made]
        return kept, players, errors

    kept, players, errors = anyio.run(main)
    assert errors == []
    assert len(players) == 44
    assert set(players) <= set(kept)
    assert len(kept) == len(set(kept))  # nothing applied twice
    assert "after" in kept


def test_a_step_cancelled_while_waiting_is_not_applied_later(shared: Settings) -> None:
    async def main() -> tuple[list[str], list[str]]:
        async with Engine(shared) as engine:
            spec = await engine.save_encounter(encounter_dict())
            sid = (await engine.start_session("alice", spec)).id
            async with anyio.create_task_group() as tg:
                tg.start_soon(engine.record_choice, sid, "first", "x")
                await anyio.sleep(0)
                await anyio.sleep(0)  # "first" now holds the write lock, mid-commit
                with anyio.move_on_after(0) as timed_out:
                    await engine.record_choice(sid, "timed out", "x")
                assert timed_out.cancelled_caught
            settled = [c.description for c in (await engine.get_session(sid)).choices_made]
            await engine.record_choice(sid, "next", "x")
            later = [c.description for c in (await engine.get_session(sid)).choices_made]
        return settled, later

    settled, later = anyio.run(main)
    assert "first" in settled
    # the timed-out step is either in by now or never: it does not show up later,
    # out of order, with somebody else's write (a game retrying it would record it twice)
    assert later == [*settled, "next"]


# -- 7. damage found at read time ------------------------------------------------------


def test_a_damaged_page_found_while_listing_is_a_store_error_naming_the_file(
    tmp_path: Path,
) -> None:
    spec = EncounterSpec.model_validate(encounter_dict())
    sessions = [Session.start(f"p{i}", spec) for i in range(300)]

    async def setup() -> None:
        async with Engine(data_dir=tmp_path) as engine:
            await engine.store.save_sessions(sessions)

    anyio.run(setup)
    path = tmp_path / "encounters.db"
    size = path.stat().st_size
    assert size > 200_000  # many pages
    start = (size // 2) // 4096 * 4096  # table pages in the middle; page 1 is intact
    data = bytearray(path.read_bytes())
    data[start : start + 32768] = b"\xde\xad" * (32768 // 2)
    path.write_bytes(bytes(data))
    before = path.read_bytes()

    # opening reads only the first pages, so it succeeds; listing finds the damage
    with SyncEngine(data_dir=tmp_path) as engine, pytest.raises(StoreError) as info:
        engine.list_sessions(limit=1000)
    assert not isinstance(info.value, sqlalchemy.exc.SQLAlchemyError)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


# -- 8. settings from the environment --------------------------------------------------


def _engine_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "encounters-engine")


def test_a_bad_store_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AE_STORE", "bogus")
    with pytest.raises(ConfigError, match="AE_STORE"):
        Engine()
    threads = _engine_threads()
    with pytest.raises(ConfigError, match="AE_STORE"):
        SyncEngine()
    assert _engine_threads() <= threads  # the helper thread was stopped


def test_template_dirs_must_be_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AE_TEMPLATE_DIRS", "notjson")
    with pytest.raises(ConfigError, match="AE_TEMPLATE_DIRS"):
        SyncEngine()


def test_template_dirs_from_the_environment_are_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "my templates"
    folder.mkdir()
    template = {
        "id": "user-duel",
        "name": "Duel",
        "category": "combat",
        "parameters": {"rival": {"type": "string", "required": True}},
        "structure": {
            "title": "Duel with {{rival}}",
            "objectives": [
                {"id": "o1", "description": "Beat {{rival}}", "kind": "eliminate", "target": "x"}
            ],
        },
    }
    (folder / "duel.json").write_text(json.dumps(template), encoding="utf-8")
    monkeypatch.setenv("AE_TEMPLATE_DIRS", json.dumps([str(folder)]))
    with SyncEngine() as engine:
        assert "user-duel" in engine.templates
        assert "combat-ambush" in engine.templates  # built-ins stay
        spec = engine.generate(template="user-duel", params={"rival": "Vex"})
        assert spec.title == "Duel with Vex"


def test_a_data_dir_that_is_a_file_is_a_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "plain-file"
    not_a_folder.write_text("keep me", encoding="utf-8")
    monkeypatch.setenv("AE_DATA_DIR", str(not_a_folder))
    with pytest.raises(StoreError) as info:
        SyncEngine()
    assert "AE_DATA_DIR" in str(info.value)
    assert str(not_a_folder) in str(info.value)
    assert not_a_folder.read_text(encoding="utf-8") == "keep me"


# -- 9. logging stays out of the game's way ---------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    config = structlog.get_config()
    yield
    structlog.reset_defaults()
    structlog.configure(**config)
    configure_logging()


def test_the_engine_leaves_a_games_structlog_setup_alone(
    tmp_path: Path, restore_logging: None
) -> None:
    game_events: list[dict[str, Any]] = []

    def keep(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> NoReturn:
        game_events.append(dict(event_dict))
        raise structlog.DropEvent

    structlog.configure(processors=[keep], cache_logger_on_first_use=False)
    before = structlog.get_config()
    root_handlers = list(logging.getLogger().handlers)
    sdk_out = io.StringIO()
    configure_logging("info", "json", stream=sdk_out)

    async def main() -> None:
        async with Engine(data_dir=tmp_path / "fresh") as engine:
            spec = await engine.generate(category="combat", seed=1)
            await engine.start_session("alice", spec)

    anyio.run(main)
    assert structlog.get_config() == before
    assert logging.getLogger().handlers == root_handlers
    sdk_lines = [json.loads(line) for line in sdk_out.getvalue().splitlines()]
    assert "store.migrated" in [x["event"] for x in sdk_lines]
    structlog.get_logger("game").info("game.saved", slot=1)
    assert [e["event"] for e in game_events] == ["game.saved"]  # no SDK event leaked in


def test_a_games_filtering_level_does_not_silence_the_sdk_logs(
    tmp_path: Path, restore_logging: None
) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    sdk_out = io.StringIO()
    configure_logging("info", "json", stream=sdk_out)
    with SyncEngine(data_dir=tmp_path / "fresh"):
        pass
    assert "store.migrated" in sdk_out.getvalue()


def test_importing_and_using_the_sdk_does_not_touch_global_logging(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import logging, structlog
        structlog.configure(
            processors=[structlog.processors.JSONRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        )
        config = structlog.get_config()
        handlers = list(logging.getLogger().handlers)
        level = logging.getLogger().level
        import encounters
        with encounters.SyncEngine() as engine:
            engine.generate(category="combat", seed=2)
        assert structlog.get_config() == config, "structlog config changed"
        assert logging.getLogger().handlers == handlers, "root handlers changed"
        assert logging.getLogger().level == level, "root level changed"
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AE_")}
    env["AE_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


# -- 10. an unclosed SyncEngine ---------------------------------------------------------


def test_an_unclosed_sync_engine_does_not_hang_exit_and_keeps_its_writes(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AE_")}
    env["AE_DATA_DIR"] = str(data)
    script = (
        "from encounters import SyncEngine; e = SyncEngine(); "
        "spec = e.generate(category='combat'); "
        "s = e.start_session('alice', spec); print(spec.id, s.id)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    spec_id, session_id = proc.stdout.split()
    with SyncEngine(data_dir=data) as engine:
        assert [e.id for e in engine.list_encounters()] == [spec_id]
        assert engine.get_session(session_id).encounter.id == spec_id


# -- 11. listeners ---------------------------------------------------------------------


def test_plain_and_async_listeners_both_receive_events() -> None:
    plain: list[str] = []
    awaited: list[str] = []

    def on_plain(event: EngineEvent) -> None:
        plain.append(event.type)

    async def on_async(event: EngineEvent) -> None:
        await anyio.sleep(0)
        awaited.append(event.type)

    with SyncEngine(Settings(store="memory")) as engine:
        assert engine.on(on_plain) is on_plain
        engine.on(on_async)
        sid = started(engine).id
        engine.update_objective(sid, "obj_1", completed=True)
        engine.complete_session(sid)
    expected = [
        "session.started",
        "objective.progressed",
        "objective.completed",
        "session.completed",
    ]
    assert [t for t in plain if t != "encounter.generated"] == expected
    assert awaited == plain


def test_listeners_on_the_async_engine() -> None:
    seen: list[tuple[str, str | None]] = []

    async def main() -> None:
        async with Engine(Settings(store="memory")) as engine:

            @engine.on
            def plain(event: EngineEvent) -> None:
                seen.append(("plain", event.session_id))

            @engine.on
            async def later(event: EngineEvent) -> None:
                seen.append(("async", event.session_id))

            spec = await engine.save_encounter(encounter_dict())
            session = await engine.start_session("bob", spec)
            assert seen == [("plain", session.id), ("async", session.id)]

    anyio.run(main)
    assert len(seen) == 2


# -- 12. session model invariants -------------------------------------------------------


def _session_data() -> dict[str, Any]:
    spec = EncounterSpec.model_validate(encounter_dict())
    return Session.start("alice", spec).model_dump(mode="json")


def _mismatched_keys(d: dict[str, Any]) -> None:
    d["objectives"]["obj_9"] = d["objectives"].pop("obj_2")


def _missing_key(d: dict[str, Any]) -> None:
    del d["objectives"]["obj_2"]


def _over_quantity(d: dict[str, Any]) -> None:
    d["objectives"]["obj_1"].update(progress=4, completed=False)


def _done_too_early(d: dict[str, Any]) -> None:
    d["objectives"]["obj_1"].update(progress=2, completed=True)


def _full_but_open(d: dict[str, Any]) -> None:
    d["objectives"]["obj_1"].update(progress=3, completed=False)


def _active_but_ended(d: dict[str, Any]) -> None:
    d["ended_at"] = d["created_at"]


@pytest.mark.parametrize(
    ("break_it", "words"),
    [
        (_mismatched_keys, "one entry per objective"),
        (_missing_key, "one entry per objective"),
        (_over_quantity, "obj_1.progress: must be <= 3"),
        (_done_too_early, "obj_1: completed must be true exactly when"),
        (_full_but_open, "obj_1: completed must be true exactly when"),
        (_active_but_ended, "ended_at"),
    ],
)
def test_session_invariants_are_enforced(
    break_it: Callable[[dict[str, Any]], None], words: str
) -> None:
    data = _session_data()
    assert validate_model(Session, data, "session").status is SessionStatus.ACTIVE
    break_it(data)
    with pytest.raises(ValidationFailed) as info:
        validate_model(Session, data, "session")
    assert words in str(info.value)
