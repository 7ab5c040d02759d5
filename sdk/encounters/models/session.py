"""A play session: one player playing one encounter.

The status is a small state machine::

    active --> completed | failed | abandoned

Every step is recorded on the session (objective progress, choices, NPC interactions)
so analytics, difficulty and NPC memory can be rebuilt from stored sessions.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .common import Difficulty, Id, Language, Line, new_id, utcnow
from .encounter import EncounterSpec

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SessionStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"

    @property
    def finished(self) -> bool:
        return self is not SessionStatus.ACTIVE


#: Allowed moves of the state machine.
TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.ACTIVE: frozenset(
        {SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.ABANDONED}
    ),
    SessionStatus.COMPLETED: frozenset(),
    SessionStatus.FAILED: frozenset(),
    SessionStatus.ABANDONED: frozenset(),
}


class ObjectiveProgress(BaseModel):
    model_config = _STRICT

    progress: Annotated[int, Field(ge=0)] = 0
    completed: bool = False
    completed_at: datetime | None = None


class Choice(BaseModel):
    """A decision the player made. When ``available_options`` is given the selected
    option must be one of them."""

    model_config = _STRICT

    id: Id = Field(default_factory=lambda: new_id("choice"))
    timestamp: datetime = Field(default_factory=utcnow)
    description: Line
    selected_option: Annotated[str, Field(min_length=1, max_length=200)]
    available_options: Annotated[
        list[Annotated[str, Field(max_length=200)]], Field(max_length=20)
    ] = []
    consequences: Annotated[list[Line], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _selected_is_available(self) -> Self:
        if self.available_options and self.selected_option not in self.available_options:
            raise ValueError(
                f"selected_option {self.selected_option!r} is not one of available_options"
            )
        return self


Outcome = Literal["positive", "neutral", "negative"]


class NPCInteraction(BaseModel):
    """The player talked to or dealt with an NPC."""

    model_config = _STRICT

    npc_id: Id
    timestamp: datetime = Field(default_factory=utcnow)
    dialogue: Annotated[list[Line], Field(max_length=50)] = []
    player_choices: Annotated[list[Line], Field(max_length=20)] = []
    outcome: Outcome = "neutral"


class Session(BaseModel):
    """The seed's enhanced session. ``encounter`` is a copy, so a stored session replays
    even if the encounter is later edited or deleted."""

    model_config = _STRICT

    id: Id = Field(default_factory=lambda: new_id("sess"))
    player_id: Id
    encounter: EncounterSpec
    status: SessionStatus = SessionStatus.ACTIVE
    difficulty: Difficulty
    objectives: dict[str, ObjectiveProgress] = {}
    choices_made: list[Choice] = []
    npc_interactions: list[NPCInteraction] = []
    campaign_id: Id | None = None
    analytics_id: Id = Field(default_factory=lambda: new_id("an"))
    webhooks_triggered: list[str] = []
    language: Language = "en"
    voice_enabled: bool = False
    failure_reason: Annotated[str, Field(max_length=500)] | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None

    @classmethod
    def start(
        cls,
        player_id: str,
        encounter: EncounterSpec,
        *,
        campaign_id: str | None = None,
        language: str | None = None,
        voice_enabled: bool = False,
    ) -> Session:
        return cls(
            player_id=player_id,
            encounter=encounter,
            difficulty=encounter.difficulty,
            objectives={o.id: ObjectiveProgress() for o in encounter.objectives},
            campaign_id=campaign_id,
            language=language or encounter.language,
            voice_enabled=voice_enabled,
        )

    def open_required(self) -> list[str]:
        """Ids of required objectives not yet completed."""
        return [
            o.id
            for o in self.encounter.objectives
            if not o.optional and not self.objectives[o.id].completed
        ]

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.created_at).total_seconds()
