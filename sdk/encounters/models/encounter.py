"""The encounter a game plays: objectives, NPCs (with their dialogue trees), the choices
it offers and rewards.

``EncounterSpec`` is the one schema used for template output, LLM output, storage and
the CLI's ``validate``. Unknown fields are refused so a typo never passes silently.

Schema versions (``schema_version``): 1, the first; 2 adds ``NPC.dialogue_tree`` (the
studio's NPCDialogueTree: branching lines); 3 adds ``Objective.requires`` (the
objectives that must be completed before this one can progress) and ``choices`` (the
decisions the encounter offers). Data of an older version (or without the field, as
stored before version 2) is migrated when read: its NPCs get an empty tree and keep
their ``dialogue`` lines, its objectives require nothing, it offers no choices. A
version newer than this code knows is refused.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, Self

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
    bandits to eliminate; ``optional`` objectives are not needed to complete;
    ``requires`` names the objectives (by id) that must be completed before this one
    can make progress (the order of ``objectives`` is only the order they are shown in)."""

    model_config = STRICT

    id: Id
    description: Annotated[str, Field(min_length=1, max_length=300)]
    kind: Annotated[ObjectiveKind, LAX]
    target: ShortText
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = 1
    optional: bool = False
    requires: Annotated[
        list[Id],
        Field(max_length=20, description="ids of objectives to complete before this one"),
    ] = []


#: The encounter schema this code writes; older versions are migrated on read.
SCHEMA_VERSION: Final = 3


class DialogueResponse(BaseModel):
    """What the player may answer; ``next`` is the node it leads to (``None`` ends the
    conversation)."""

    model_config = STRICT

    text: Annotated[str, Field(min_length=1, max_length=200)]
    next: Id | None = None


class DialogueNode(BaseModel):
    """One thing the NPC says, with the player's possible answers."""

    model_config = STRICT

    id: Id
    text: Line
    responses: Annotated[list[DialogueResponse], Field(max_length=8)] = []


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
    #: Branching dialogue: the first node is where a conversation starts.
    dialogue_tree: Annotated[list[DialogueNode], Field(max_length=50)] = []

    @model_validator(mode="after")
    def _tree_links(self) -> Self:
        ids: set[str] = set()
        for i, node in enumerate(self.dialogue_tree):
            if node.id in ids:
                raise ValueError(f"dialogue_tree[{i}].id: duplicate id {node.id!r}")
            ids.add(node.id)
        for i, node in enumerate(self.dialogue_tree):
            for j, response in enumerate(node.responses):
                if response.next is not None and response.next not in ids:
                    raise ValueError(
                        f"dialogue_tree[{i}].responses[{j}].next: no node {response.next!r} "
                        "in this NPC's dialogue tree"
                    )
        return self

    def dialogue_node(self, node_id: str) -> DialogueNode | None:
        return next((n for n in self.dialogue_tree if n.id == node_id), None)


class ChoicePoint(BaseModel):
    """A decision the encounter offers the player: a question and its options. The
    game records what was picked with ``record_choice(..., choice_id=<id>,
    available_options=<options>)``; analytics count the picks."""

    model_config = STRICT

    id: Id
    description: Annotated[str, Field(min_length=1, max_length=300)]
    options: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=2, max_length=8)
    ]

    @model_validator(mode="after")
    def _distinct_options(self) -> Self:
        if len(set(self.options)) != len(self.options):
            raise ValueError("options: each option must be different")
        return self


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

    schema_version: Literal[3] = SCHEMA_VERSION
    id: Id = Field(default_factory=lambda: new_id("enc"))
    title: ShortText
    description: LongText = ""
    category: Annotated[Category, LAX]
    difficulty: Difficulty = 0.5
    estimated_duration: Annotated[int, Field(ge=1, le=600, description="minutes")] = 15
    objectives: Annotated[list[Objective], Field(min_length=1, max_length=20)]
    npcs: Annotated[list[NPC], Field(max_length=20)] = []
    choices: Annotated[
        list[ChoicePoint],
        Field(max_length=20, description="decisions the encounter offers the player"),
    ] = []
    rewards: Annotated[list[Reward], Field(max_length=20)] = []
    language: Language = "en"
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=20)
    ] = []
    template_id: Id | None = None
    generator: Annotated[str, Field(max_length=80)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        """Versions 1 (or no version: stored before versions) and 2 -> 3: NPCs gain an
        empty ``dialogue_tree``, objectives an empty ``requires`` and the encounter empty
        ``choices`` by default, so only the version changes."""
        if isinstance(data, dict):
            version = data.get("schema_version", 1)
            if version in (1, 2):
                data = {**data, "schema_version": SCHEMA_VERSION}
            elif isinstance(version, int) and version > SCHEMA_VERSION:
                raise ValueError(
                    f"schema_version {version} is newer than this version of ai-encounters "
                    f"reads ({SCHEMA_VERSION}): upgrade ai-encounters"
                )
        return data

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
            ("choices", [c.id for c in self.choices]),
        ):
            seen: set[str] = set()
            for i, ident in enumerate(ids):
                if ident in seen:
                    raise ValueError(f"{name}[{i}].id: duplicate id {ident!r}")
                seen.add(ident)
        return self

    @model_validator(mode="after")
    def _prerequisites(self) -> Self:
        """Each ``requires`` names another objective of this encounter, and no chain of
        them leads back to where it started (such an objective could never progress)."""
        ids = {o.id for o in self.objectives}
        for i, o in enumerate(self.objectives):
            for j, needed in enumerate(o.requires):
                if needed == o.id:
                    raise ValueError(
                        f"objectives[{i}].requires[{j}]: an objective cannot require itself"
                    )
                if needed not in ids:
                    raise ValueError(
                        f"objectives[{i}].requires[{j}]: no objective {needed!r} in this encounter"
                    )
        requires = {o.id: o.requires for o in self.objectives}
        for i, o in enumerate(self.objectives):
            seen: set[str] = set()
            todo = list(o.requires)
            while todo:
                current = todo.pop()
                if current == o.id:
                    raise ValueError(
                        f"objectives[{i}].requires: {o.id!r} requires itself through other "
                        "objectives; remove one of the links"
                    )
                if current not in seen:
                    seen.add(current)
                    todo.extend(requires.get(current, []))
        return self

    def objectives_in_play_order(self) -> list[Objective]:
        """The objectives in list order, except that each comes after the ones it
        ``requires``: an order a player (or a test run) can complete them in."""
        done: set[str] = set()
        ordered: list[Objective] = []
        remaining = list(self.objectives)
        while remaining:  # the validator refused circles, so one is always ready
            ready = next(o for o in remaining if done.issuperset(o.requires))
            ordered.append(ready)
            done.add(ready.id)
            remaining.remove(ready)
        return ordered

    def objective(self, objective_id: str) -> Objective | None:
        return next((o for o in self.objectives if o.id == objective_id), None)

    def npc(self, npc_id: str) -> NPC | None:
        return next((n for n in self.npcs if n.id == npc_id), None)
