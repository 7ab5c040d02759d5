"""Campaigns: step order and prerequisites, state carried between sessions by
declarative transformations, refusals with clear messages, idempotent and concurrent
advances, and runs that survive a restart. Sessions are played through a real Engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import pytest
from pydantic import BaseModel

import tests.support.services as services
from encounters import Engine, NotFound, SessionNotFound, Settings, ValidationFailed
from encounters.campaigns import (
    CampaignError,
    CampaignManager,
    CampaignNotFound,
    CampaignRun,
    CampaignRunNotFound,
    CampaignSpec,
    RunStatus,
    parse_campaign,
    session_key_kind,
    session_state,
)
from encounters.models import Choice, Outcome, PlayerContext, Session
from encounters.storage import MemoryStore
from tests.conftest import encounter_dict

pytestmark = pytest.mark.anyio
M = TypeVar("M", bound=BaseModel)
ENCOUNTERS = ("enc_a", "enc_b", "enc_c", "enc_d")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _open(engine: Engine) -> Engine:
    await engine.open()
    for encounter_id in ENCOUNTERS:
        await engine.save_encounter(encounter_dict(id=encounter_id))
    return engine


class YieldingStore(MemoryStore):
    """A memory store whose document and session reads and writes let other tasks run,
    as a real store's I/O does, so races between tasks can actually happen."""

    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None:
        await anyio.lowlevel.checkpoint()
        await super().save_document(kind, key, doc)

    async def get_document(self, kind: str, key: str, model: type[M]) -> M | None:
        await anyio.lowlevel.checkpoint()
        return await super().get_document(kind, key, model)

    async def get_session(self, session_id: str) -> Session | None:
        await anyio.lowlevel.checkpoint()
        return await super().get_session(session_id)


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await _open(Engine(Settings(store="memory"), store=YieldingStore()))
    try:
        yield engine
    finally:
        await engine.close()


@pytest.fixture
def manager(engine: Engine) -> CampaignManager:
    return CampaignManager(engine.store)


async def play(
    engine: Engine,
    player: str,
    encounter_id: str,
    *,
    finish: str = "complete",
    toll_box: bool = False,
    choices: tuple[tuple[str, str], ...] = (),
    npc: tuple[Outcome, ...] = (),
    asked: tuple[str, ...] = (),
    campaign_id: str | None = None,
) -> Session:
    """Play one session of the conftest encounter: the bridge bandits (obj_1, required),
    optionally the toll box (obj_2), choices as (choice id, option), NPC outcomes,
    then choices recorded by the engine (``asked``)."""
    session = await engine.start_session(player, encounter_id, campaign_id=campaign_id)
    await engine.update_objective(session.id, "obj_1", completed=True)
    if toll_box:
        await engine.update_objective(session.id, "obj_2", completed=True)
    for choice_id, option in choices:  # known ids: Engine.record_choice makes random ones

        def add(s: Session, choice_id: str = choice_id, option: str = option) -> None:
            s.choices_made.append(
                Choice(id=choice_id, description="What now?", selected_option=option)
            )

        await engine.store.update_session(session.id, add)
    for outcome in npc:
        await engine.record_npc_interaction(session.id, "npc_1", outcome=outcome)
    for option in asked:  # through the engine: random choice ids
        await engine.record_choice(session.id, "Which way?", option)
    if finish == "complete":
        return await engine.complete_session(session.id)
    if finish == "fail":
        return await engine.fail_session(session.id, "fell off the bridge")
    if finish == "abandon":
        return await engine.abandon_session(session.id)
    return await engine.get_session(session.id)


def campaign(*steps: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"id": "camp_1", "name": "The Bridge Road", "steps": list(steps), **over}


def paths(info: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {e.path: e.message for e in info.value.errors}


# -- session state -----------------------------------------------------------------------


async def test_session_state_is_a_flat_dict_of_what_the_session_did(engine: Engine) -> None:
    session = await play(
        engine,
        "alice",
        "enc_a",
        toll_box=True,
        choices=(("spare", "spare"), ("door", "left")),
        npc=("positive", "negative", "positive"),
        asked=("north",),
    )
    state = session_state(session)
    engine_choice = session.choices_made[-1].id
    assert state.pop(f"choices.{engine_choice}") == "north"
    duration = state.pop("duration_seconds")
    assert isinstance(duration, float) and duration >= 0
    assert state == {
        "outcome": "completed",
        "encounter_id": "enc_a",
        "category": "combat",
        "difficulty": 0.5,
        "objectives_completed": 2,
        "objectives_total": 2,
        "objectives.obj_1": True,
        "objectives.obj_2": True,
        "choices.spare": "spare",
        "choices.door": "left",
        "choices_selected": ["spare", "left", "north"],
        "choice_count": 3,
        "rewards.experience": 120,
        "rewards.item": 1,
        "rewards.currency": 0,
        "rewards.reputation": 0,
        "rewards.items": ["Bridge Key"],
        "npcs.npc_1": 1,
        "npcs_last.npc_1": "positive",
    }
    kinds = {bool: "bool", int: "number", float: "number", str: "text", list: "list"}
    for key, value in session_state(session).items():
        assert session_key_kind(key) == kinds[type(value)], key

    failed = session_state(await play(engine, "alice", "enc_b", finish="fail"))
    assert failed["outcome"] == "failed" and failed["objectives.obj_2"] is False
    assert failed["rewards.experience"] == 0 and failed["rewards.items"] == []  # not earned
    assert "npcs.npc_1" not in failed  # only NPCs the player dealt with


# -- validation --------------------------------------------------------------------------


async def test_invalid_prerequisites_are_rejected_with_field_paths(
    manager: CampaignManager,
) -> None:
    with pytest.raises(ValidationFailed) as info:
        await manager.save_campaign(
            campaign(
                {"encounter_id": "enc_a", "prerequisites": ["enc_a"]},
                {"encounter_id": "enc_b", "prerequisites": ["enc_c", "enc_x"]},
                {"encounter_id": "enc_c"},
                {"encounter_id": "enc_a"},
            )
        )
    got = paths(info)
    assert set(got) == {
        "steps[0].prerequisites[0]",
        "steps[1].prerequisites[0]",
        "steps[1].prerequisites[1]",
        "steps[3].encounter_id",
    }
    assert "cannot require itself" in got["steps[0].prerequisites[0]"]
    assert "is steps[2], after this step" in got["steps[1].prerequisites[0]"]
    assert "not an encounter of this campaign" in got["steps[1].prerequisites[1]"]
    assert "already steps[0]" in got["steps[3].encounter_id"]
    with pytest.raises(CampaignNotFound):  # nothing was stored
        await manager.get_campaign("camp_1")
    with pytest.raises(ValidationFailed) as info:
        await manager.save_campaign(campaign())
    assert paths(info) == {"steps": "must have at least 1 item(s)"}


async def test_transformation_errors_name_the_field(manager: CampaignManager) -> None:
    with pytest.raises(ValidationFailed) as info:
        await manager.save_campaign(
            campaign(
                {"encounter_id": "enc_a"},
                {
                    "encounter_id": "enc_b",
                    "carry_forward": ["rewards.*", "reward.xp"],
                    "transformations": [
                        {"op": "set", "target": "chapter"},
                        {"op": "add", "target": "xp", "source": "rewards.experience", "value": 1},
                        {"op": "add", "target": "xp"},
                        {"op": "multiply", "target": "xp", "source": "outcome"},
                        {"op": "clamp", "target": "xp"},
                        {"op": "clamp", "target": "xp", "min": 10, "max": 5},
                        {"op": "copy", "source": "rewards.xp", "target": "bad key!"},
                        {"op": "copy", "source": "outcome", "target": "o", "value": 3},
                        {"op": "set_if_completed", "source": "outcome", "target": "t", "value": 1},
                        {
                            "op": "set_if_equals",
                            "source": "choice_count",
                            "equals": "two",
                            "target": "t",
                            "value": 1,
                        },
                        {"op": "set", "target": "t", "value": float("inf")},
                    ],
                },
            )
        )
    got = paths(info)
    t = "steps[1].transformations"
    assert got == {
        "steps[1].carry_forward[1]": got["steps[1].carry_forward[1]"],
        f"{t}[0].value": "required",
        f"{t}[1].value": "give source or value, not both",
        f"{t}[2].value": "required when there is no source",
        f"{t}[3].source": "outcome holds text; multiply needs a number",
        f"{t}[4].min": "give min, max or both",
        f"{t}[5].max": "must be >= min (10)",
        f"{t}[6].source": got[f"{t}[6].source"],
        f"{t}[6].target": got[f"{t}[6].target"],
        f"{t}[7].value": "unknown field (remove it or check its spelling)",
        f"{t}[8].source": got[f"{t}[8].source"],
        f"{t}[9].equals": "choice_count holds number; compare it with number",
        f"{t}[10].value": got[f"{t}[10].value"],
    }
    assert "'reward.xp' is not a value of a finished session" in got["steps[1].carry_forward[1]"]
    assert "rewards.experience" in got[f"{t}[6].source"]  # the message lists valid sources
    assert got[f"{t}[6].target"].startswith("must be a state key")
    assert got[f"{t}[8].source"] == "outcome holds text; set_if_completed needs true/false " + (
        "(objectives.<id>)"
    )
    assert got[f"{t}[10].value"].startswith("must be true/false, a number")


async def test_campaign_data_holds_no_code(engine: Engine, manager: CampaignManager) -> None:
    with pytest.raises(ValidationFailed) as info:
        await manager.save_campaign(
            campaign(
                {
                    "encounter_id": "enc_a",
                    "transformations": [
                        {"op": "lambda", "target": "xp", "source": "lambda prev: prev * 2"},
                        {
                            "op": "copy",
                            "source": "outcome",
                            "target": "o",
                            "transform": "lambda prev: prev",
                        },
                        {"target": "xp", "value": 1},
                        lambda prev: prev,
                        "__import__('os').system('true')",
                    ],
                }
            )
        )
    got = paths(info)
    t = "steps[0].transformations"
    assert got[f"{t}[0].op"].startswith("unknown op 'lambda'; known ops: copy, set, add")
    assert "never code" in got[f"{t}[0].op"]
    assert got[f"{t}[1].transform"] == "unknown field (remove it or check its spelling)"
    assert got[f"{t}[2].op"].startswith("required; known ops:")
    assert got[f"{t}[3]"] == got[f"{t}[4]"] == "must be an object"
    # text that looks like code is only ever data
    code = "__import__('os').system('touch /tmp/pwned')"
    spec = await manager.save_campaign(
        campaign(
            {
                "encounter_id": "enc_a",
                "transformations": [{"op": "set", "target": "note", "value": code}],
            }
        )
    )
    assert await manager.get_campaign(spec.id) == spec
    run = await manager.start(spec.id, "alice")
    run = await manager.advance(run.id, await play(engine, "alice", "enc_a"))
    assert run.state == {"note": code} and run.status is RunStatus.COMPLETED


# -- state transfer ----------------------------------------------------------------------


async def test_carry_forward_and_every_transformation_op(
    engine: Engine, manager: CampaignManager
) -> None:
    spec = await manager.save_campaign(
        campaign(
            {
                "encounter_id": "enc_a",
                "carry_forward": ["rewards.experience", "objectives.*"],
                "transformations": [
                    {"op": "copy", "source": "outcome", "target": "last_outcome"},
                    {"op": "copy", "source": "choices.never_made", "target": "absent"},
                    {"op": "set", "target": "chapter", "value": 1},
                    {"op": "add", "source": "rewards.experience", "target": "xp"},
                    {"op": "add", "target": "gold", "value": 5},
                    {"op": "multiply", "target": "xp", "value": 2},
                    {"op": "multiply", "target": "missing", "value": 3},
                    {"op": "append", "source": "rewards.items", "target": "inventory"},
                    {"op": "append", "target": "inventory", "value": "Torch"},
                    {
                        "op": "set_if_completed",
                        "source": "objectives.obj_2",
                        "target": "found_box",
                        "value": True,
                    },
                    {
                        "op": "set_if_equals",
                        "source": "choices.leader",
                        "equals": "spare",
                        "target": "leader",
                        "value": "alive",
                    },
                    {
                        "op": "set_if_equals",
                        "source": "choices.leader",
                        "equals": "kill",
                        "target": "leader_dead",
                        "value": True,
                    },
                    {"op": "clamp", "target": "xp", "max": 200},
                    {
                        "op": "clamp",
                        "source": "rewards.experience",
                        "target": "capped",
                        "min": 0,
                        "max": 100,
                    },
                ],
            },
            {
                "encounter_id": "enc_b",
                "transformations": [
                    {"op": "add", "source": "state.gold", "target": "gold"},
                    {"op": "multiply", "target": "gold", "value": 1.5},
                    {"op": "clamp", "target": "gold", "min": 0, "max": 12},
                    {"op": "add", "source": "state.chapter", "target": "chapter"},
                    {
                        "op": "set_if_completed",
                        "source": "objectives.obj_2",
                        "target": "found_box_again",
                        "value": True,
                    },
                    {
                        "op": "set_if_equals",
                        "source": "state.leader",
                        "equals": "alive",
                        "target": "ally",
                        "value": "bandit leader",
                    },
                    {"op": "append", "source": "choices_selected", "target": "inventory"},
                    {"op": "copy", "source": "npcs.npc_1", "target": "marta"},
                ],
            },
            initial_state={"xp": 10},
        )
    )
    run = await manager.start(spec.id, "alice")
    assert run.state == {"xp": 10} and manager.current_encounter(run) == "enc_a"

    first = await play(engine, "alice", "enc_a", toll_box=True, choices=(("leader", "spare"),))
    run = await manager.advance(run.id, first)
    assert run.state == {
        "xp": 200,  # (10 + 120) * 2 = 260, clamped to 200
        "rewards.experience": 120,
        "objectives.obj_1": True,
        "objectives.obj_2": True,
        "last_outcome": "completed",
        "chapter": 1,
        "gold": 5,
        "inventory": ["Bridge Key", "Torch"],
        "found_box": True,
        "leader": "alive",
        "capped": 100,
    }
    assert run.completed == ["enc_a"] and manager.current_encounter(run) == "enc_b"

    second = await play(
        engine, "alice", "enc_b", choices=(("road", "north"),), npc=("positive", "positive")
    )
    run = await manager.advance(run.id, second)
    assert run.status is RunStatus.COMPLETED
    assert run.state["gold"] == 12  # (5 + 5) * 1.5 = 15.0, clamped to 12
    assert run.state["chapter"] == 2
    assert "found_box_again" not in run.state  # the toll box was not found this time
    assert run.state["ally"] == "bandit leader"
    assert run.state["inventory"] == ["Bridge Key", "Torch", "north"]
    assert run.state["marta"] == 2


async def test_a_transformation_that_cannot_apply_changes_nothing_until_fixed(
    engine: Engine, manager: CampaignManager
) -> None:
    broken = campaign(
        {
            "encounter_id": "enc_a",
            "transformations": [
                {"op": "add", "target": "xp", "source": "rewards.experience"},
                {"op": "append", "target": "inventory", "value": "Torch"},
            ],
        },
        {"encounter_id": "enc_b"},
        initial_state={"inventory": 5},
    )
    await manager.save_campaign(broken)
    run = await manager.start("camp_1", "alice")
    session = await play(engine, "alice", "enc_a")
    with pytest.raises(CampaignError) as info:
        await manager.advance(run.id, session)
    message = str(info.value)
    assert "campaign 'camp_1' steps[0].transformations[1] (append)" in message
    assert "holds 5, not a list" in message
    assert await manager.status(run.id) == run  # nothing applied, not even xp
    broken["steps"][0]["transformations"][1]["target"] = "items"
    await manager.save_campaign(broken)  # runs follow the stored campaign
    run = await manager.advance(run.id, session)
    assert run.state == {"inventory": 5, "xp": 120, "items": ["Torch"]}
    assert run.current_encounter == "enc_b"

    # runaway numbers are refused the same way, with the fix in the message
    await manager.save_campaign(
        campaign(
            {
                "encounter_id": "enc_a",
                "transformations": [{"op": "multiply", "target": "x", "value": 10**12}],
            },
            id="camp_2",
            initial_state={"x": 10},
        )
    )
    run2 = await manager.start("camp_2", "bob")
    with pytest.raises(CampaignError, match="beyond \\+-10\\^12; add a clamp"):
        await manager.advance(run2.id, await play(engine, "bob", "enc_a"))


# -- order, prerequisites, outcomes ------------------------------------------------------


async def test_steps_with_prerequisites_not_completed_are_not_offered(
    engine: Engine, manager: CampaignManager
) -> None:
    await manager.save_campaign(
        campaign(
            {"encounter_id": "enc_a", "on_failure": "skip"},
            {"encounter_id": "enc_b", "prerequisites": ["enc_a"]},
            {"encounter_id": "enc_c"},
            {"encounter_id": "enc_d", "prerequisites": ["enc_c"]},
        )
    )
    run = await manager.start("camp_1", "alice")
    run = await manager.advance(run.id, await play(engine, "alice", "enc_a", finish="fail"))
    assert run.skipped == ["enc_a", "enc_b"]  # b required a, which was not completed
    assert (run.current_index, run.current_encounter) == (2, "enc_c")
    with pytest.raises(CampaignError, match="at steps\\[2\\], encounter 'enc_c'"):
        await manager.advance(run.id, await play(engine, "alice", "enc_b"))
    run = await manager.advance(run.id, await play(engine, "alice", "enc_c"))
    run = await manager.advance(run.id, await play(engine, "alice", "enc_d"))
    assert run.status is RunStatus.COMPLETED and run.completed == ["enc_c", "enc_d"]

    # when a is completed, b is offered next
    other = await manager.start("camp_1", "bob")
    other = await manager.advance(other.id, await play(engine, "bob", "enc_a"))
    assert manager.current_encounter(other) == "enc_b" and other.skipped == []


async def test_a_failed_or_abandoned_session_keeps_the_step_current(
    engine: Engine, manager: CampaignManager
) -> None:
    await manager.save_campaign(
        campaign(
            {
                "encounter_id": "enc_a",
                "transformations": [{"op": "add", "source": "rewards.experience", "target": "xp"}],
            },
            {"encounter_id": "enc_b"},
        )
    )
    run = await manager.start("camp_1", "alice")
    failed = await play(engine, "alice", "enc_a", finish="fail")
    left = await play(engine, "alice", "enc_a", finish="abandon")
    for session in (failed, left):
        run = await manager.advance(run.id, session)
        assert run.current_encounter == "enc_a" and run.state == {} and run.completed == []
    assert run.session_ids == [failed.id, left.id]
    run = await manager.advance(run.id, await play(engine, "alice", "enc_a"))  # the retry
    assert run.state == {"xp": 120} and run.current_encounter == "enc_b"


async def test_sessions_that_do_not_fit_the_run_are_refused(
    engine: Engine, manager: CampaignManager
) -> None:
    await manager.save_campaign(campaign({"encounter_id": "enc_a"}, {"encounter_id": "enc_b"}))
    early = await play(engine, "alice", "enc_a")  # played before the run started
    run = await manager.start("camp_1", "alice")
    cases = [
        (await play(engine, "alice", "enc_a", finish="no"), "is still active; complete, fail"),
        (await play(engine, "bob", "enc_a"), "was played by 'bob'"),
        (await play(engine, "alice", "enc_b"), "is for encounter 'enc_b', but campaign run"),
        (
            await play(engine, "alice", "enc_a", campaign_id="camp_other"),
            "was started for campaign 'camp_other'",
        ),
        (early, "started before campaign run"),
    ]
    for session, expected in cases:
        with pytest.raises(CampaignError, match=expected):
            await manager.advance(run.id, session)
    with pytest.raises(SessionNotFound):
        await manager.advance(run.id, "sess_missing")
    assert await manager.status(run.id) == run

    run = await manager.advance(run.id, await play(engine, "alice", "enc_a", campaign_id="camp_1"))
    with pytest.raises(CampaignError, match="'enc_a' \\(already completed in this run\\)"):
        await manager.advance(run.id, await play(engine, "alice", "enc_a"))


async def test_the_same_session_is_applied_once(engine: Engine, manager: CampaignManager) -> None:
    await manager.save_campaign(
        campaign(
            {
                "encounter_id": "enc_a",
                "transformations": [{"op": "add", "source": "rewards.experience", "target": "xp"}],
            },
            {"encounter_id": "enc_b"},
        )
    )
    run = await manager.start("camp_1", "alice")
    session = await play(engine, "alice", "enc_a")
    once = await manager.advance(run.id, session)
    again = await manager.advance(run.id, session.id)  # by id too; a retry is harmless
    assert again == once
    assert once.state == {"xp": 120} and once.session_ids == [session.id]


async def test_concurrent_advances_of_one_session_apply_it_once(
    engine: Engine, manager: CampaignManager
) -> None:
    await manager.save_campaign(
        campaign(
            {
                "encounter_id": "enc_a",
                "transformations": [
                    {"op": "add", "source": "rewards.experience", "target": "xp"},
                    {"op": "append", "source": "encounter_id", "target": "log"},
                ],
            },
            {"encounter_id": "enc_b"},
        )
    )
    run = await manager.start("camp_1", "alice")
    session = await play(engine, "alice", "enc_a")
    results: list[CampaignRun] = []

    async def advance() -> None:
        results.append(await manager.advance(run.id, session))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(advance)
    stored = await manager.status(run.id)
    assert all(r == stored for r in results) and len(results) == 10
    assert stored.state == {"xp": 120, "log": ["enc_a"]}
    assert stored.session_ids == [session.id] and stored.completed == ["enc_a"]


async def test_the_campaign_completes_after_its_last_step(
    engine: Engine, manager: CampaignManager
) -> None:
    await manager.save_campaign(campaign({"encounter_id": "enc_a"}, {"encounter_id": "enc_b"}))
    run = await manager.start("camp_1", "alice")
    run = await manager.advance(run.id, await play(engine, "alice", "enc_a"))
    assert run.status is RunStatus.ACTIVE and run.completed_at is None
    last = await play(engine, "alice", "enc_b")
    run = await manager.advance(run.id, last)
    assert run.status is RunStatus.COMPLETED and run.completed_at is not None
    assert run.completed == ["enc_a", "enc_b"] and run.current_index == 2
    assert manager.current_encounter(run) is None and run.current_encounter is None
    assert await manager.advance(run.id, last) == run  # a retry of the last one
    with pytest.raises(CampaignError, match="is completed; it takes no more sessions"):
        await manager.advance(run.id, await play(engine, "alice", "enc_b"))
    with pytest.raises(CampaignError, match="only an active run can be abandoned"):
        await manager.abandon(run.id)
    again = await manager.start("camp_1", "alice")  # a finished run does not block
    assert again.id != run.id


async def test_one_active_run_per_player_and_campaign(
    engine: Engine, manager: CampaignManager
) -> None:
    await manager.save_campaign(campaign({"encounter_id": "enc_a"}, {"encounter_id": "enc_b"}))
    run = await manager.start("camp_1", "alice")
    with pytest.raises(CampaignError) as info:
        await manager.start("camp_1", "alice")
    assert f"already has an active run {run.id!r}" in str(info.value)
    assert f"abandon({run.id!r})" in str(info.value)
    bob = await manager.start("camp_1", "bob")
    assert {r.id for r in await manager.list_runs(campaign_id="camp_1")} == {run.id, bob.id}

    abandoned = await manager.abandon(run.id)
    assert abandoned.status is RunStatus.ABANDONED and manager.current_encounter(abandoned) is None
    assert await manager.abandon(run.id) == abandoned
    with pytest.raises(CampaignError, match="is abandoned"):
        await manager.advance(run.id, await play(engine, "alice", "enc_a"))
    fresh = await manager.start("camp_1", "alice")
    assert await manager.list_runs(player_id="alice", status="active") == [fresh]
    assert [c.id for c in await manager.list_campaigns()] == ["camp_1"]


async def test_concurrent_starts_make_one_run(manager: CampaignManager) -> None:
    await manager.save_campaign(campaign({"encounter_id": "enc_a"}))
    outcomes: list[str] = []

    async def start() -> None:
        try:
            outcomes.append((await manager.start("camp_1", "alice")).id)
        except CampaignError:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(start)
    assert outcomes.count("refused") == 4


async def test_unknown_ids_raise_not_found(manager: CampaignManager) -> None:
    with pytest.raises(CampaignNotFound, match="save it with save_campaign"):
        await manager.get_campaign("camp_none")
    with pytest.raises(CampaignNotFound):
        await manager.start("camp_none", "alice")
    with pytest.raises(CampaignRunNotFound) as info:
        await manager.status("run_none")
    assert isinstance(info.value, NotFound)
    with pytest.raises(CampaignRunNotFound):
        await manager.advance("run_none", "sess_none")
    await manager.save_campaign(campaign({"encounter_id": "enc_a"}))
    with pytest.raises(ValidationFailed, match="player_id: may hold only letters"):
        await manager.start("camp_1", "not a valid id!")


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings of the SQLite store in ``tmp_path``, or of PostgreSQL (a fresh schema)."""
    with services.sql_settings(request.param, tmp_path) as settings:
        yield settings


# -- restart -----------------------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the SQL stores run on asyncio
async def test_a_run_resumes_after_a_restart_on_a_sql_store(
    tmp_path: Path, sql_settings: Settings
) -> None:
    engine = await _open(Engine(sql_settings))
    try:
        manager = CampaignManager(engine.store)
        await manager.save_campaign(
            campaign(
                {
                    "encounter_id": "enc_a",
                    "transformations": [
                        {"op": "add", "source": "rewards.experience", "target": "xp"}
                    ],
                },
                {"encounter_id": "enc_b"},
            )
        )
        run = await manager.start("camp_1", "alice")
        run = await manager.advance(run.id, await play(engine, "alice", "enc_a"))
    finally:
        await engine.close()

    engine = Engine(sql_settings)
    await engine.open()
    try:
        manager = CampaignManager(engine.store)
        resumed = await manager.status(run.id)
        assert resumed == run and manager.current_encounter(resumed) == "enc_b"
        with pytest.raises(CampaignError, match="already has an active run"):
            await manager.start("camp_1", "alice")
        done = await manager.advance(run.id, await play(engine, "alice", "enc_b"))
        assert done.status is RunStatus.COMPLETED and done.state == {"xp": 120}
    finally:
        await engine.close()


# -- the next session's player context ---------------------------------------------------


async def test_player_context_carries_state_within_its_limits(manager: CampaignManager) -> None:
    long_key = "k" * 41
    state: dict[str, Any] = {
        "xp": 250,
        "class": "mage",
        "found_box": True,
        "inventory": ["Bridge Key", "Torch"],
        "flags": [True, False],
        "empty": [],
        "story": "x" * 150,
        long_key: "too long a key",
    }
    state.update({f"k{i:02}": i for i in range(40)})
    await manager.save_campaign(campaign({"encounter_id": "enc_a"}, initial_state=state))
    run = await manager.start("camp_1", "alice")
    base = PlayerContext(player_id="alice", level=3, attributes={"class": "ranger", "zone": "n"})

    ctx = manager.player_context(run, base)
    attrs = ctx.attributes
    assert len(attrs) == 32  # PlayerContext's cap
    assert attrs["class"] == "ranger" and attrs["zone"] == "n"  # the game's values win
    assert attrs["xp"] == 250 and attrs["found_box"] is True
    assert attrs["inventory"] == "Bridge Key, Torch" and attrs["flags"] == "true, false"
    assert attrs["story"] == "x" * 80
    assert "empty" not in attrs and long_key not in attrs
    assert list(attrs)[-1] == "k24"  # 2 base + 5 + k00..k24: state order, until the cap
    assert ctx.level == 3 and ctx.player_id == "alice"
    assert PlayerContext.model_validate(ctx.model_dump()) == ctx

    chosen = manager.player_context(run, base, keys=["k39", "nope", "xp"])
    assert chosen.attributes == {"class": "ranger", "zone": "n", "k39": 39, "xp": 250}


def test_specs_round_trip_through_json() -> None:
    spec = parse_campaign(
        campaign(
            {
                "encounter_id": "enc_a",
                "carry_forward": ["npcs.*"],
                "transformations": [
                    {"op": "set", "target": "t", "value": [1, 2.5, "x", True]},
                    {"op": "clamp", "target": "t2", "min": 0.5},
                ],
            },
            initial_state={"n": 1, "f": 2.0, "b": True},
        )
    )
    assert CampaignSpec.model_validate_json(spec.model_dump_json()) == spec
    assert parse_campaign(spec) == spec
