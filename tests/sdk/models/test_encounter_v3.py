"""Encounter schema version 3: objective prerequisites (``requires`` names objectives
that must be completed first; the validator refuses unknown, self and circular links; a
session refuses to move a locked objective forward; play order follows them) and the
choices an encounter offers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from encounters import ObjectiveLocked, Settings, SyncEngine
from encounters.cli import app
from encounters.errors import ValidationFailed
from encounters.models import EncounterSpec
from encounters.validation import validate_model
from tests.conftest import encounter_dict


def with_requires(*requires: list[str]) -> dict[str, Any]:
    data = encounter_dict()
    for objective, needed in zip(data["objectives"], requires, strict=False):
        objective["requires"] = needed
    return data


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        validate_model(EncounterSpec, data, "encounter")
    return [str(e) for e in caught.value.errors]


def test_prerequisites_must_name_other_objectives_without_a_circle() -> None:
    spec = EncounterSpec.model_validate(with_requires([], ["obj_1"]))
    assert spec.objectives[1].requires == ["obj_1"]
    assert problems(with_requires([], ["obj_9"])) == [
        "objectives[1].requires[0]: no objective 'obj_9' in this encounter"
    ]
    assert problems(with_requires(["obj_1"])) == [
        "objectives[0].requires[0]: an objective cannot require itself"
    ]
    assert problems(with_requires(["obj_2"], ["obj_1"])) == [
        "objectives[0].requires: 'obj_1' requires itself through other objectives; "
        "remove one of the links"
    ]


def test_a_locked_objective_cannot_progress_until_its_prerequisite_is_done() -> None:
    spec = EncounterSpec.model_validate(with_requires([], ["obj_1"]))
    with SyncEngine(Settings(store="memory")) as engine:
        session = engine.start_session("alice", spec)
        with pytest.raises(ObjectiveLocked) as caught:
            engine.update_objective(session.id, "obj_2", completed=True)
        assert str(caught.value) == (
            f"objective 'obj_2' of session {session.id!r} needs obj_1 completed first"
        )
        assert engine.get_session(session.id).objectives["obj_2"].progress == 0
        engine.update_objective(session.id, "obj_2", progress=0)  # no step forward: fine
        engine.update_objective(session.id, "obj_1", progress=2)
        with pytest.raises(ObjectiveLocked):
            engine.update_objective(session.id, "obj_2", progress=1)
        engine.update_objective(session.id, "obj_1", completed=True)
        done = engine.update_objective(session.id, "obj_2", completed=True)
        assert done.objectives["obj_2"].completed
        # re-opening the prerequisite later does not undo what was done
        engine.update_objective(session.id, "obj_1", completed=False)
        assert engine.get_session(session.id).objectives["obj_2"].completed


def test_play_order_puts_prerequisites_first_and_ae_test_follows_it(tmp_path: Path) -> None:
    data = with_requires(["obj_2"])  # the first objective needs the second
    spec = EncounterSpec.model_validate(data)
    assert [o.id for o in spec.objectives_in_play_order()] == ["obj_2", "obj_1"]
    assert [
        o.id for o in EncounterSpec.model_validate(encounter_dict()).objectives_in_play_order()
    ] == [
        "obj_1",
        "obj_2",
    ]
    path = tmp_path / "enc.json"
    path.write_text(json.dumps(data))
    done = CliRunner().invoke(app, ["test", str(path)])
    assert done.exit_code == 0, done.output
    assert done.output.index("Completed: Find the toll box") < done.output.index(
        "Completed: Defeat the bandits"
    )


def test_playing_a_locked_objective_at_the_terminal_says_why(tmp_path: Path) -> None:
    path = tmp_path / "enc.json"
    path.write_text(json.dumps(with_requires([], ["obj_1"])))
    # work on objective 2 (locked), then quit
    done = CliRunner().invoke(app, ["play", "--file", str(path)], input="2\n1\nq\n")
    assert "2. Find the toll box [0/1] (optional) (locked: needs obj_1 first)" in done.output
    assert "needs obj_1 completed first" in done.output
    assert "Traceback" not in done.output


def test_an_encounter_offers_choices_with_distinct_options() -> None:
    offered = {"id": "spare", "description": "Spare the bandit?", "options": ["yes", "no"]}
    spec = EncounterSpec.model_validate({**encounter_dict(), "choices": [offered]})
    assert spec.choices[0].options == ["yes", "no"]
    assert problems({**encounter_dict(), "choices": [{**offered, "options": ["yes"]}]}) == [
        "choices[0].options: must have at least 2 item(s)"
    ]
    assert problems({**encounter_dict(), "choices": [{**offered, "options": ["a", "a"]}]}) == [
        "choices[0]: options: each option must be different"
    ]
    assert problems({**encounter_dict(), "choices": [offered, offered]}) == [
        "choices[1].id: duplicate id 'spare'"
    ]
    with SyncEngine(Settings(store="memory")) as engine:
        session = engine.start_session("alice", spec)
        played = engine.record_choice(
            session.id, "Spare the bandit?", "no", available_options=["yes", "no"],
            choice_id="spare",
        )  # fmt: skip
        assert (played.choices_made[0].id, played.choices_made[0].selected_option) == (
            "spare",
            "no",
        )
