"""The campaign (:class:`CampaignSpec`) and a player's run of it (:class:`CampaignRun`)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, model_validator

from ..models.common import (
    LAX,
    STRICT,
    Id,
    LongText,
    ShortText,
    Timestamp,
    new_id,
    utcnow,
)
from .limits import (
    MAX_SESSION_IDS,
    MAX_STATE_CHARS,
    MAX_STEPS,
)
from .transformations import Transformation
from .values import (
    CarryKey,
    State,
)

# -- campaigns ---------------------------------------------------------------------------


class CampaignStep(BaseModel):
    """One encounter of a campaign. ``prerequisites`` are encounter ids of earlier
    steps that must be *completed* (not skipped) for this step to be offered."""

    model_config = STRICT

    encounter_id: Id
    prerequisites: Annotated[list[Id], Field(max_length=MAX_STEPS)] = []
    carry_forward: Annotated[list[CarryKey], Field(max_length=50)] = []
    transformations: Annotated[list[Transformation], Field(max_length=50)] = []
    on_failure: Literal["retry", "skip"] = "retry"


class CampaignSpec(BaseModel):
    """A campaign: 1 to 100 steps in play order. Each encounter appears once, and a
    prerequisite must be an earlier step, which also rules out cycles.
    ``initial_state`` is the state a run starts with."""

    model_config = STRICT

    id: Id = Field(default_factory=lambda: new_id("camp"))
    name: ShortText
    description: LongText = ""
    steps: Annotated[list[CampaignStep], Field(min_length=1, max_length=MAX_STEPS)]
    initial_state: State = {}

    @model_validator(mode="after")
    def _steps_form_an_order(self) -> Self:
        problems: list[str] = []
        position: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            first = position.setdefault(step.encounter_id, i)
            if first != i:
                problems.append(
                    f"steps[{i}].encounter_id: {step.encounter_id!r} is already steps[{first}]; "
                    "an encounter appears once per campaign"
                )
        known = ", ".join(position)
        for i, step in enumerate(self.steps):
            for k, pre in enumerate(step.prerequisites):
                where = f"steps[{i}].prerequisites[{k}]"
                j = position.get(pre)
                if j is None:
                    problems.append(
                        f"{where}: {pre!r} is not an encounter of this campaign; "
                        f"its steps are: {known}"
                    )
                elif j == i:
                    problems.append(f"{where}: a step cannot require itself; remove {pre!r}")
                elif j > i:
                    problems.append(
                        f"{where}: {pre!r} is steps[{j}], after this step; a prerequisite "
                        f"must be an earlier step (move it before steps[{i}])"
                    )
        if problems:
            raise ValueError("\n".join(problems))
        return self


class RunStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class CampaignRun(BaseModel):
    """One player's way through a campaign. ``current_index`` and
    ``current_encounter`` name the step to play next (the index is
    ``len(steps)`` once the run is completed); ``completed`` and ``skipped`` hold
    encounter ids in the order they were resolved; ``session_ids`` every session
    applied to the run, failed ones included."""

    model_config = STRICT

    id: Id = Field(default_factory=lambda: new_id("run"))
    campaign_id: Id
    player_id: Id
    status: Annotated[RunStatus, LAX] = RunStatus.ACTIVE
    current_index: Annotated[int, Field(ge=0, le=MAX_STEPS)] = 0
    current_encounter: Id | None = None
    state: State = {}
    completed: Annotated[list[Id], Field(max_length=2 * MAX_STEPS)] = []
    skipped: Annotated[list[Id], Field(max_length=2 * MAX_STEPS)] = []
    session_ids: Annotated[list[Id], Field(max_length=MAX_SESSION_IDS)] = []
    started_at: Timestamp = Field(default_factory=utcnow)
    updated_at: Timestamp = Field(default_factory=utcnow)
    completed_at: Timestamp | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        size = len(json.dumps(self.state))
        if size > MAX_STATE_CHARS:
            raise ValueError(
                f"state: holds {size} characters as JSON, more than {MAX_STATE_CHARS}; "
                "carry fewer or shorter values"
            )
        if self.status is RunStatus.ACTIVE and self.current_encounter is None:
            raise ValueError("current_encounter: an active run has a step to play")
        if self.status is RunStatus.COMPLETED and self.completed_at is None:
            raise ValueError("completed_at: required for a completed run")
        if self.status is not RunStatus.COMPLETED and self.completed_at is not None:
            raise ValueError("completed_at: only a completed run has one")
        return self


class _ActiveRun(BaseModel):
    """Index document: the active run of a (player, campaign), if any."""

    model_config = STRICT
    run_id: Id
