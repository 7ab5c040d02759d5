"""What an NPC remembers of one player (the original design's ``NPCMemory``).

Interactions are stored one by one (encrypted) and found again by retrieval; the
profile below holds what is always true of the pair: the relationship, known facts,
personality traits and a running count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..models.common import STRICT, Id, Line, Timestamp, utcnow
from ..models.session import Outcome

#: Relationship bounds and the step of one positive or negative outcome (the design's).
RELATIONSHIP_MIN, RELATIONSHIP_MAX, RELATIONSHIP_STEP = -100, 100, 10

MemoryKind = Literal["interaction", "summary", "fact"]


class Interaction(BaseModel):
    """One meeting of the NPC and the player."""

    model_config = STRICT

    timestamp: Timestamp = Field(default_factory=utcnow)
    encounter_id: Id | None = None
    dialogue: Annotated[list[Line], Field(max_length=50)] = []
    player_choices: Annotated[list[Line], Field(max_length=20)] = []
    outcome: Outcome = "neutral"
    #: 0..1; when absent it is estimated (outcome, choices, length of the dialogue).
    importance: Annotated[float, Field(ge=0.0, le=1.0)] | None = None

    def text(self) -> str:
        """The words this interaction is found by and summarised from."""
        parts = [*self.dialogue, *(f"Player chose: {c}" for c in self.player_choices)]
        return " ".join(parts)


class NPCMemory(BaseModel):
    """The profile of one NPC-player pair."""

    model_config = STRICT

    npc_id: Id
    player_id: Id
    relationship: Annotated[int, Field(ge=RELATIONSHIP_MIN, le=RELATIONSHIP_MAX)] = 0
    known_facts: Annotated[list[Line], Field(max_length=50)] = []
    personality_traits: Annotated[
        dict[Annotated[str, Field(max_length=40)], Annotated[float, Field(ge=0, le=1)]],
        Field(max_length=20),
    ] = {}
    interactions_total: Annotated[int, Field(ge=0)] = 0
    summarised: Annotated[int, Field(ge=0)] = 0  #: interactions folded into summaries
    first_met: Timestamp | None = None
    last_met: Timestamp | None = None


class Recollection(BaseModel):
    """A memory found by retrieval, with the parts of its score."""

    kind: MemoryKind
    at: datetime
    text: str
    interaction: Interaction | None = None
    importance: float
    recency: float
    relevance: float
    score: float
