"""NPC dialogue trees (schema version 2): branching lines stored in the encounter, checked
for dangling links, and encounters written before version 2 read as version 2."""

from __future__ import annotations

import pytest

from encounters.errors import ValidationFailed
from encounters.models import EncounterSpec
from encounters.validation import validate_model
from tests.conftest import encounter_dict


def tree_npc(**over: object) -> dict[str, object]:
    npc: dict[str, object] = {
        "id": "smith",
        "name": "Greta",
        "role": "blacksmith",
        "dialogue_tree": [
            {
                "id": "hello",
                "text": "Need a blade?",
                "responses": [{"text": "Yes.", "next": "price"}, {"text": "No.", "next": None}],
            },
            {"id": "price", "text": "Ten gold.", "responses": [{"text": "Deal."}]},
        ],
    }
    npc.update(over)
    return npc


def test_a_version_1_encounter_reads_as_version_2_and_keeps_its_lines() -> None:
    old = encounter_dict()
    old.pop("schema_version", None)
    spec = EncounterSpec.model_validate(old)
    assert spec.schema_version == 3
    assert spec.npcs[0].dialogue == old["npcs"][0]["dialogue"]
    assert spec.npcs[0].dialogue_tree == []
    assert spec.objectives[0].requires == []
    assert EncounterSpec.model_validate({**old, "schema_version": 1}).schema_version == 3
    assert EncounterSpec.model_validate({**old, "schema_version": 2}).schema_version == 3
    again = EncounterSpec.model_validate(spec.model_dump(mode="json"))
    assert again == spec


def test_a_newer_version_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_model(EncounterSpec, {**encounter_dict(), "schema_version": 4}, "encounter")
    assert "upgrade ai-encounters" in str(caught.value.errors[0])


def test_a_dialogue_tree_is_stored_and_its_links_are_checked() -> None:
    spec = EncounterSpec.model_validate({**encounter_dict(), "npcs": [tree_npc()]})
    greta = spec.npcs[0]
    start = greta.dialogue_tree[0]
    assert [r.next for r in start.responses] == ["price", None]
    assert greta.dialogue_node("price") is not None and greta.dialogue_node("nope") is None

    dangling = tree_npc()
    dangling["dialogue_tree"][1]["responses"][0]["next"] = "haggle"  # type: ignore[index]
    with pytest.raises(ValidationFailed) as caught:
        validate_model(EncounterSpec, {**encounter_dict(), "npcs": [dangling]}, "encounter")
    assert [str(e) for e in caught.value.errors] == [
        "npcs[0]: dialogue_tree[1].responses[0].next: no node 'haggle' in this NPC's dialogue tree"
    ]

    twice = tree_npc()
    twice["dialogue_tree"][1]["id"] = "hello"  # type: ignore[index]
    with pytest.raises(ValidationFailed) as caught:
        validate_model(EncounterSpec, {**encounter_dict(), "npcs": [twice]}, "encounter")
    assert "dialogue_tree[1].id: duplicate id 'hello'" in str(caught.value.errors[0])
