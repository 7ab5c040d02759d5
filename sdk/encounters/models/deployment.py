"""The deployment flow's records: submitted personas and companion sessions in game
worlds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from .common import STRICT, Id, Language, Timestamp, utcnow
from .persona import PersonaCore

PersonaStatus = Literal["pending_moderation", "rejected", "approved"]
CompanionStatus = Literal["spawning", "live", "ended"]


class PersonaRecord(BaseModel):
    """A submitted persona. ``pending_moderation`` means the automatic checks passed
    and an admin has yet to approve it; ``rejected`` (by moderation or an admin)
    carries the reasons. ``token_hash``: the hash of the one deploy token that may
    spawn it now (single-use; each approval replaces it)."""

    model_config = STRICT

    persona: PersonaCore
    status: PersonaStatus = "pending_moderation"
    reasons: list[str] = []
    submitted_at: Timestamp = Field(default_factory=utcnow)
    approved_at: Timestamp | None = None
    token_hash: Annotated[str, Field(max_length=128)] | None = None


class Location(BaseModel):
    model_config = STRICT

    x: Annotated[float, Field(allow_inf_nan=False)] = 0.0
    y: Annotated[float, Field(allow_inf_nan=False)] = 0.0
    z: Annotated[float, Field(allow_inf_nan=False)] = 0.0


class CompanionSession(BaseModel):
    """One persona spawned on one game server."""

    model_config = STRICT

    id: Id
    persona_id: Id
    world: Literal["gmod", "minecraft", "web"]
    server_id: Annotated[str, Field(min_length=1, max_length=64)]
    location: Location = Location()
    #: the players' language (BCP 47): the companion speaks it, moderation reads it
    language: Language = "en"
    status: CompanionStatus = "spawning"
    entity: Annotated[str, Field(max_length=64)] | None = None
    started_at: Timestamp = Field(default_factory=utcnow)
    ended_at: Timestamp | None = None
    #: its companion's brain stops reacting to the game (actions sent by hand still go)
    paused: bool = False
    actions_sent: Annotated[int, Field(ge=0)] = 0
    actions_blocked: Annotated[int, Field(ge=0)] = 0
    actions_done: Annotated[int, Field(ge=0)] = 0
    actions_failed: Annotated[int, Field(ge=0)] = 0
    events: Annotated[int, Field(ge=0)] = 0
