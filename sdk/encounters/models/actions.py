"""Actions a companion asks a game to perform, one model per type.

The ``type`` field selects the model (``{"type": "chat", "message": "hi"}``). These are
the shapes only; what a persona may do, with which bounds, on which world link, is the
moderation package's action policy.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter, model_validator

from .common import STRICT

Coord = Annotated[float, Field(allow_inf_nan=False)]
ENTITY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_:.-]{0,63}$"


def _int_id_to_text(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a negative number then fails the pattern with its message
    return value


#: Entity ids differ per game (GMod: integers, Minecraft: integers or UUIDs); they are
#: carried as text ("17", "4f1c...") and a whole number is accepted as such.
EntityId = Annotated[str, BeforeValidator(_int_id_to_text), Field(pattern=ENTITY_PATTERN)]
PlayerRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_:.-]{1,64}$")]


class _Action(BaseModel):
    model_config = STRICT

    #: Correlates the action with its ``action_done`` / ``action_failed`` event.
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = None


class Chat(_Action):
    type: Literal["chat"] = "chat"
    message: Annotated[str, Field(min_length=1, max_length=2000)]


class MoveTo(_Action):
    type: Literal["move_to"] = "move_to"
    x: Coord
    y: Coord
    z: Coord


class Follow(_Action):
    type: Literal["follow"] = "follow"
    target: PlayerRef
    distance: Annotated[float, Field(ge=1, le=32)] = 3.0


class LookAt(_Action):
    type: Literal["look_at"] = "look_at"
    x: Coord | None = None
    y: Coord | None = None
    z: Coord | None = None
    target: PlayerRef | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        point = (self.x, self.y, self.z)
        if self.target is None and None in point:
            raise ValueError("give a target (player) or all of x, y and z")
        if self.target is not None and any(c is not None for c in point):
            raise ValueError("give either a target or x, y, z, not both")
        return self


class Emote(_Action):
    type: Literal["emote"] = "emote"
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class UseEntity(_Action):
    type: Literal["use_entity"] = "use_entity"
    entity: EntityId


class Interact(_Action):
    type: Literal["interact"] = "interact"
    target_type: Literal["block", "entity"]
    x: Coord | None = None
    y: Coord | None = None
    z: Coord | None = None
    entity: EntityId | None = None

    @model_validator(mode="after")
    def _target_given(self) -> Self:
        if self.target_type == "block" and None in (self.x, self.y, self.z):
            raise ValueError("a block interaction needs x, y and z")
        if self.target_type == "entity" and self.entity is None:
            raise ValueError("an entity interaction needs entity")
        return self


class Equip(_Action):
    type: Literal["equip"] = "equip"
    item: Name
    hand: Literal["hand", "off-hand"] = "hand"


class UseItem(_Action):
    type: Literal["use_item"] = "use_item"
    item: Name | None = None


class Title(_Action):
    type: Literal["title"] = "title"
    text: Annotated[str, Field(min_length=1, max_length=200)]
    subtitle: Annotated[str, Field(max_length=200)] | None = None
    seconds: Annotated[float, Field(gt=0, le=30)] = 3.0


class Stop(_Action):
    type: Literal["stop"] = "stop"


Action = Annotated[
    Chat | MoveTo | Follow | LookAt | Emote | UseEntity | Interact | Equip | UseItem | Title | Stop,
    Field(discriminator="type"),
]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
