"""What the engine knows about the player an encounter is for."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from .common import LAX, STRICT, Category, Id, Language

Scalar = str | int | float | bool


class PlayerContext(BaseModel):
    """The player's id, level and tastes. ``attributes`` carries free game state (class,
    zone, faction) as short scalar values; it is capped so it cannot balloon a prompt."""

    model_config = STRICT

    player_id: Id
    name: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    level: Annotated[int, Field(ge=1, le=1000)] = 1
    preferences: Annotated[list[Annotated[Category, LAX]], Field(max_length=5)] = []
    language: Language = "en"
    attributes: Annotated[
        dict[Annotated[str, Field(max_length=40)], Scalar], Field(max_length=32)
    ] = {}
