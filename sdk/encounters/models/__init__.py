"""Data models (pydantic v2). This package imports nothing else of ours but the typed
errors (:mod:`encounters.errors`, which imports nothing of ours), so the session's rules
can raise them."""

from .common import Category, ObjectiveKind, RewardKind, new_id, utcnow
from .encounter import (
    NPC,
    ChoicePoint,
    DialogueNode,
    DialogueResponse,
    EncounterSpec,
    Objective,
    Reward,
)
from .player import PlayerContext
from .session import (
    TRANSITIONS,
    Choice,
    NPCInteraction,
    ObjectiveProgress,
    Outcome,
    Session,
    SessionStatus,
)

__all__ = [
    "NPC",
    "TRANSITIONS",
    "Category",
    "Choice",
    "ChoicePoint",
    "DialogueNode",
    "DialogueResponse",
    "EncounterSpec",
    "NPCInteraction",
    "Objective",
    "ObjectiveKind",
    "ObjectiveProgress",
    "Outcome",
    "PlayerContext",
    "Reward",
    "RewardKind",
    "Session",
    "SessionStatus",
    "new_id",
    "utcnow",
]
