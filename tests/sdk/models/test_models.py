from __future__ import annotations

import json

import pytest

from encounters import EncounterSpec, PlayerContext, Session, ValidationFailed
from encounters.models import SessionStatus
from encounters.validation import validate_json, validate_model
from tests.conftest import encounter_dict


def errors_of(data: object) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        validate_model(EncounterSpec, data, "encounter")
    return [str(e) for e in info.value.errors]


def test_valid_encounter_round_trips_through_json() -> None:
    spec = validate_model(EncounterSpec, encounter_dict())
    again = validate_json(EncounterSpec, spec.model_dump_json())
    assert again == spec
    assert spec.objectives[0].quantity == 3
    assert spec.rewards[1].item == "Bridge Key"


def test_errors_name_the_field_path() -> None:
    data = encounter_dict()
    data["objectives"].append(
        {"id": "obj_3", "description": "x", "kind": "eliminate", "target": "y", "quantity": 0}
    )
    assert errors_of(data) == ["objectives[2].quantity: must be >= 1"]


def test_every_problem_is_reported_at_once() -> None:
    data = encounter_dict(difficulty=1.5, category="dance", color="red")
    data["objectives"][0]["kind"] = "teleport"
    data["objectives"][1]["quantity"] = "many"
    data["rewards"][0]["amount"] = -5
    lines = errors_of(data)
    assert "difficulty: must be <= 1.0" in lines
    assert any(line.startswith("category: must be one of 'combat'") for line in lines)
    assert "color: unknown field (remove it or check its spelling)" in lines
    assert any(line.startswith("objectives[0].kind: must be one of") for line in lines)
    assert "objectives[1].quantity: must be a whole number" in lines
    assert "rewards[0].amount: must be >= 0" in lines


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"objectives": []}, "objectives: must have at least 1 item(s)"),
        ({"title": ""}, "title: must be at least 1 character(s)"),
        ({"title": "x" * 121}, "title: must be at most 120 characters"),
        ({"difficulty": 0.05}, "difficulty: must be >= 0.1"),
        ({"difficulty": float("nan")}, "difficulty: must be a finite number"),
        ({"estimated_duration": 2.5}, "estimated_duration: must be a whole number"),
        ({"language": "english!"}, "language: must be a language tag such as en"),
        ({"id": "has space"}, "id: may hold only letters, digits and _ . : -"),
        ({"difficulty": "0.5"}, "difficulty: must be a finite number"),
        ({"estimated_duration": "15"}, "estimated_duration: must be a whole number"),
        ({"tags": "combat"}, "tags: must be a list"),
    ],
)
def test_out_of_range_and_wrong_types(change: dict[str, object], expected: str) -> None:
    lines = errors_of(encounter_dict(**change))
    assert any(line.startswith(expected) for line in lines), lines


def test_missing_fields_are_required() -> None:
    data = encounter_dict()
    del data["title"]
    del data["objectives"][0]["kind"]
    assert sorted(errors_of(data)) == ["objectives[0].kind: required", "title: required"]


def test_duplicate_ids_and_item_rewards_without_item() -> None:
    data = encounter_dict()
    data["objectives"][1]["id"] = "obj_1"
    assert errors_of(data) == ["objectives[1].id: duplicate id 'obj_1'"]
    data = encounter_dict(rewards=[{"kind": "item", "amount": 1}])
    assert errors_of(data) == ["rewards[0]: an item reward needs 'item' (the item's name)"]


def test_numbers_and_flags_must_have_their_real_type() -> None:
    for bad in (2.5, "3", True):
        data = encounter_dict()
        data["objectives"][0]["quantity"] = bad
        assert errors_of(data) == ["objectives[0].quantity: must be a whole number"]
    for bad_flag in ("no", "true", 0):
        data = encounter_dict()
        data["objectives"][1]["optional"] = bad_flag
        assert errors_of(data) == ["objectives[1].optional: must be true or false"]
    with pytest.raises(ValidationFailed) as info:
        validate_model(PlayerContext, {"player_id": "p", "level": True})
    assert [str(e) for e in info.value.errors] == ["level: must be a whole number"]


def test_malformed_json_is_a_clear_error_not_a_traceback() -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_json(EncounterSpec, '{"title": "x", ')
    assert str(info.value.errors[0]).startswith("malformed JSON: ")
    assert "line 1" in str(info.value.errors[0])


def test_not_an_object() -> None:
    assert errors_of([1, 2]) == ["must be an object"]


def test_player_context_bounds() -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_model(
            PlayerContext,
            {"player_id": "p", "level": 0, "attributes": {f"k{i}": i for i in range(40)}},
        )
    lines = [str(e) for e in info.value.errors]
    assert "level: must be >= 1" in lines
    assert "attributes: must have at most 32 item(s)" in lines


def test_session_starts_active_with_progress_for_every_objective() -> None:
    spec = validate_model(EncounterSpec, encounter_dict())
    session = Session.start("alice", spec, campaign_id="camp_1", voice_enabled=True)
    assert session.status is SessionStatus.ACTIVE
    assert set(session.objectives) == {"obj_1", "obj_2"}
    assert session.difficulty == spec.difficulty
    assert session.language == "en" and session.voice_enabled and session.campaign_id == "camp_1"
    assert session.open_required() == ["obj_1"]  # obj_2 is optional
    assert session.id.startswith("sess_") and session.analytics_id.startswith("an_")


def test_choice_must_pick_an_available_option() -> None:
    from encounters.models import Choice

    with pytest.raises(ValidationFailed) as info:
        validate_model(
            Choice,
            {"description": "Which door?", "selected_option": "c", "available_options": ["a", "b"]},
        )
    assert "selected_option 'c' is not one of available_options" in str(info.value)


def test_schema_describes_the_encounter() -> None:
    schema = EncounterSpec.model_json_schema()
    assert set(schema["required"]) == {"title", "category", "objectives"}
    assert schema["additionalProperties"] is False
    text = json.dumps(schema)
    assert "avoid_detection" in text and "reputation" in text


def test_an_encounter_needs_one_required_objective() -> None:
    data = encounter_dict()
    data["objectives"][0]["optional"] = True
    assert errors_of(data) == [
        "objectives: at least one objective must be required (optional: false), "
        "or the encounter can never be completed"
    ]
