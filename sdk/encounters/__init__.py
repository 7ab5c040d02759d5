"""AI Encounters: an in-process engine for AI-driven game encounters.

The public surface is small: :class:`Engine` (async) and :class:`SyncEngine` (blocking),
the models, and the typed errors::

    from encounters import SyncEngine

    with SyncEngine() as engine:
        spec = engine.generate(category="combat", player="alice")
        session = engine.start_session("alice", spec)
"""

from .engine import Engine
from .errors import (
    ConfigError,
    EncounterNotFound,
    EncountersError,
    FieldError,
    GenerationError,
    IllegalTransition,
    NotFound,
    ObjectiveLocked,
    ObjectivesIncomplete,
    SessionNotActive,
    SessionNotFound,
    StoreCorrupt,
    StoreError,
    TemplateError,
    TemplateNotFound,
    TemplateParameterError,
    UnknownNPC,
    UnknownObjective,
    ValidationFailed,
)
from .events import EngineEvent
from .models import (
    NPC,
    Category,
    Choice,
    EncounterSpec,
    NPCInteraction,
    Objective,
    ObjectiveKind,
    PlayerContext,
    Reward,
    RewardKind,
    Session,
    SessionStatus,
)
from .settings import Settings
from .sync import SyncEngine

__version__ = "0.1.0"

__all__ = [
    "NPC",
    "Category",
    "Choice",
    "ConfigError",
    "EncounterNotFound",
    "EncounterSpec",
    "EncountersError",
    "Engine",
    "EngineEvent",
    "FieldError",
    "GenerationError",
    "IllegalTransition",
    "NPCInteraction",
    "NotFound",
    "Objective",
    "ObjectiveKind",
    "ObjectiveLocked",
    "ObjectivesIncomplete",
    "PlayerContext",
    "Reward",
    "RewardKind",
    "Session",
    "SessionNotActive",
    "SessionNotFound",
    "SessionStatus",
    "Settings",
    "StoreCorrupt",
    "StoreError",
    "SyncEngine",
    "TemplateError",
    "TemplateNotFound",
    "TemplateParameterError",
    "UnknownNPC",
    "UnknownObjective",
    "ValidationFailed",
    "__version__",
]
