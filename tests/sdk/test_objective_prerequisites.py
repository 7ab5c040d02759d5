"""Objective prerequisites (encounter schema version 3): ``requires`` names objectives
that must be completed first; the validator refuses unknown, self and circular links,
and a session refuses to move a locked objective forward."""

from __future__ import annotations

from typing import Any

import pytest

from encounters import ObjectiveLocked, Settings, SyncEngine
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
