"""The session's rules as plain methods: no engine, no store, time given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from encounters import IllegalTransition, ObjectivesIncomplete, UnknownObjective, ValidationFailed
from encounters.models import EncounterSpec, Session, SessionStatus
from tests.conftest import encounter_dict

NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)


def session() -> Session:
    return Session.start("alice", EncounterSpec.model_validate(encounter_dict()))


def test_progress_completes_at_the_quantity_and_reopens_below_it() -> None:
    s = session()
    assert s.set_objective("obj_1", progress=2, now=NOON) is False
    assert s.set_objective("obj_1", progress=9, now=NOON) is True  # clamped to 3
    assert (s.objectives["obj_1"].progress, s.objectives["obj_1"].completed_at) == (3, NOON)
    assert s.set_objective("obj_1", completed=False, now=NOON) is False
    assert (s.objectives["obj_1"].progress, s.objectives["obj_1"].completed) == (2, False)


def test_contradicting_or_unknown_objective_changes_are_refused() -> None:
    s = session()
    with pytest.raises(ValidationFailed, match="contradicts completed=False"):
        s.set_objective("obj_1", progress=3, completed=False, now=NOON)
    with pytest.raises(UnknownObjective):
        s.set_objective("obj_9", progress=1, now=NOON)


def test_completing_needs_required_objectives_only_and_happens_once() -> None:
    s = session()
    with pytest.raises(ObjectivesIncomplete, match="obj_1"):
        s.finish(SessionStatus.COMPLETED, now=NOON)
    s.set_objective("obj_1", completed=True, now=NOON)
    s.finish(SessionStatus.COMPLETED, now=NOON)  # the optional obj_2 is still open
    assert (s.status, s.ended_at) == (SessionStatus.COMPLETED, NOON)
    with pytest.raises(IllegalTransition):
        s.finish(SessionStatus.FAILED, "late", now=NOON)
