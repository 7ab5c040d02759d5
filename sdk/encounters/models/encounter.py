"""The encounter a game plays: objectives, NPCs and rewards.

``EncounterSpec`` is the one schema used for template output, LLM output, storage and
the CLI's ``validate``. Unknown fields are refused so a typo never passes silently.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from .common import (
    LAX,
    STRICT,
    Category,
    Difficulty,
    Id,
    Language,
    Line,
    LongText,
    ObjectiveKind,
    RewardKind,
    ShortText,
    new_id,
)

MAX_QUANTITY = 10_000
MAX_REWARD = 1_000_000


class Objective(BaseModel):
    """Something the player must do. ``quantity`` counts towards completion, e.g. five
    bandits to eliminate; ``optional`` objectives are not needed to complete."""

    model_config = STRICT

    id: Id
    description: Annotated[str, Field(min_length=1, max_length=300)]
    kind: Annotated[ObjectiveKind, LAX]
    target: ShortText
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = 1
    optional: bool = False


class NPC(BaseModel):
    """A character in the encounter. ``personality_traits`` are short words (``gruff``,
    ``loyal``); ``dialogue`` lines are what the NPC may say."""

    model_config = STRICT

    id: Id
    name: ShortText
    role: ShortText
    personality_traits: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=12)
    ] = []
    dialogue: Annotated[list[Line], Field(max_length=50)] = []


class Reward(BaseModel):
    """What completing the encounter grants. ``item`` names the item for item rewards;
    ``faction`` names who the reputation is with."""

    model_config = STRICT

    kind: Annotated[RewardKind, LAX]
    amount: Annotated[int, Field(ge=0, le=MAX_REWARD)]
    item: ShortText | None = None
    faction: ShortText | None = None

    @model_validator(mode="after")
    def _item_named(self) -> Self:
        if self.kind is RewardKind.ITEM and not self.item:
            raise ValueError("an item reward needs 'item' (the item's name)")
        return self


class EncounterSpec(BaseModel):
    """A complete, playable encounter."""

    model_config = STRICT

    id: Id = Field(default_factory=lambda: new_id("enc"))
    title: ShortText
    description: LongText = ""
    category: Annotated[Category, LAX]
    difficulty: Difficulty = 0.5
    estimated_duration: Annotated[int, Field(ge=1, le=600, description="minutes")] = 15
    objectives: Annotated[list[Objective], Field(min_length=1, max_length=20)]
    npcs: Annotated[list[NPC], Field(max_length=20)] = []
    rewards: Annotated[list[Reward], Field(max_length=20)] = []
    language: Language = "en"
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=20)
    ] = []
    template_id: Id | None = None
    generator: Annotated[str, Field(max_length=80)] | None = None

    @model_validator(mode="after")
    def _one_required_objective(self) -> Self:
        if self.objectives and all(o.optional for o in self.objectives):
            raise ValueError(
                "objectives: at least one objective must be required "
                "(optional: false), or the encounter can never be completed"
            )
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        for name, ids in (
            ("objectives", [o.id for o in self.objectives]),
            ("npcs", [n.id for n in self.npcs]),
        ):
            seen: set[str] = set()
            for i, ident in enumerate(ids):
                if ident in seen:
                    raise ValueError(f"{name}[{i}].id: duplicate id {ident!r}")
                seen.add(ident)
        return self

    def objective(self, objective_id: str) -> Objective | None:
        return next((o for o in self.objectives if o.id == objective_id), None)

    def npc(self, npc_id: str) -> NPC | None:
        return next((n for n in self.npcs if n.id == npc_id), None)
