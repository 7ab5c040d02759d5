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

from pydantic import BaseModel, Field, model_validator

from ..errors import (
    FieldError,
    IllegalTransition,
    ObjectiveLocked,
    ObjectivesIncomplete,
    UnknownNPC,
    UnknownObjective,
    ValidationFailed,
)
from .common import LAX, STRICT, Difficulty, Id, Language, Line, Timestamp, new_id, utcnow
from .encounter import EncounterSpec


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


def _bad_argument(name: str, message: str) -> ValidationFailed:
    return ValidationFailed("argument", [FieldError(name, message)])


class ObjectiveProgress(BaseModel):
    model_config = STRICT

    progress: Annotated[int, Field(ge=0)] = 0
    completed: bool = False
    completed_at: Timestamp | None = None


class Choice(BaseModel):
    """A decision the player made. When ``available_options`` is given the selected
    option must be one of them."""

    model_config = STRICT

    id: Id = Field(default_factory=lambda: new_id("choice"))
    timestamp: Timestamp = Field(default_factory=utcnow)
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

    model_config = STRICT

    npc_id: Id
    timestamp: Timestamp = Field(default_factory=utcnow)
    dialogue: Annotated[list[Line], Field(max_length=50)] = []
    player_choices: Annotated[list[Line], Field(max_length=20)] = []
    outcome: Outcome = "neutral"


class Session(BaseModel):
    """A player's run through one encounter. ``encounter`` is a copy, so a stored session replays
    even if the encounter is later edited or deleted."""

    model_config = STRICT

    id: Id = Field(default_factory=lambda: new_id("sess"))
    player_id: Id
    encounter: EncounterSpec
    status: Annotated[SessionStatus, LAX] = SessionStatus.ACTIVE
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
    created_at: Timestamp = Field(default_factory=utcnow)
    updated_at: Timestamp = Field(default_factory=utcnow)
    ended_at: Timestamp | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Progress belongs to the encounter's objectives, stays within each objective's
        quantity, and an objective is completed exactly when its quantity is reached."""
        if set(self.objectives) != {o.id for o in self.encounter.objectives}:
            raise ValueError("objectives: must hold one entry per objective of the encounter")
        for o in self.encounter.objectives:
            state = self.objectives[o.id]
            if state.progress > o.quantity:
                raise ValueError(f"objectives.{o.id}.progress: must be <= {o.quantity}")
            if state.completed != (state.progress == o.quantity):
                raise ValueError(
                    f"objectives.{o.id}: completed must be true exactly when progress "
                    f"reaches {o.quantity}"
                )
        if self.status is SessionStatus.ACTIVE and self.ended_at is not None:
            raise ValueError("ended_at: an active session has not ended")
        return self

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

    def set_objective(
        self,
        objective_id: str,
        *,
        progress: int | None = None,
        completed: bool | None = None,
        now: datetime,
    ) -> bool:
        """Set an objective's progress and/or completion in place; return whether the
        objective became completed by this change.

        ``progress`` is clamped to the objective's quantity; reaching it completes the
        objective and going below it re-opens it. ``completed=True`` sets progress to
        the quantity; ``completed=False`` re-opens it. Contradicting arguments (e.g.
        ``completed=False`` with the full quantity) raise :class:`ValidationFailed`;
        an id the encounter does not have raises :class:`UnknownObjective`; moving it
        forward while an objective it ``requires`` is open raises
        :class:`ObjectiveLocked` (setting it back never does). The status is not
        checked here: playing a finished session is the caller's rule.
        """
        if progress is not None and (type(progress) is not int or progress < 0):
            raise _bad_argument("progress", "must be a whole number >= 0")
        if completed is not None and type(completed) is not bool:
            raise _bad_argument("completed", "must be true or false")
        objective = self.encounter.objective(objective_id)
        if objective is None:
            raise UnknownObjective(self.id, objective_id, list(self.objectives))
        state = self.objectives[objective_id]
        was_done = state.completed
        value = state.progress if progress is None else min(progress, objective.quantity)
        full = value >= objective.quantity
        if completed is not None and progress is not None and full != completed:
            raise _bad_argument(
                "progress", f"contradicts completed={completed} (quantity {objective.quantity})"
            )
        if completed is True:
            value = objective.quantity
        elif completed is False:
            value = min(value, objective.quantity - 1)
        if value > state.progress:
            waiting = [o for o in objective.requires if not self.objectives[o].completed]
            if waiting:
                raise ObjectiveLocked(self.id, objective_id, waiting)
        state.progress = value
        state.completed = value == objective.quantity
        state.completed_at = (state.completed_at or now) if state.completed else None
        return state.completed and not was_done

    def check_npc(self, npc_id: str) -> None:
        """Raise :class:`UnknownNPC` unless the encounter has this NPC."""
        if self.encounter.npc(npc_id) is None:
            raise UnknownNPC(self.id, npc_id, [n.id for n in self.encounter.npcs])

    def finish(self, status: SessionStatus, reason: str | None = None, *, now: datetime) -> None:
        """Move the state machine to a finished ``status`` in place.

        Only an active session moves (:class:`IllegalTransition` otherwise), and it is
        completed only when every required objective is done
        (:class:`ObjectivesIncomplete`); optional objectives never hold it back. The
        reason is kept, cut to 500 characters.
        """
        if status not in TRANSITIONS[self.status]:
            raise IllegalTransition(self.id, self.status.value, status.value)
        if status is SessionStatus.COMPLETED and (open_ids := self.open_required()):
            raise ObjectivesIncomplete(self.id, open_ids)
        self.status = status
        self.ended_at = now
        if reason is not None:
            self.failure_reason = reason[:500]

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.created_at).total_seconds()
