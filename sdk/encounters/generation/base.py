"""The shape every encounter generator plugs into.

The procedural generator is the first implementation; the LLM providers (OpenAI,
Anthropic, Ollama) implement the same protocol, so the engine never cares which one
produced an encounter.
"""

from __future__ import annotations

from typing import Annotated, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ..models import Category, EncounterSpec, PlayerContext
from ..models.common import Difficulty, Language


class GenerationRequest(BaseModel):
    """What the game asks for. ``seed`` makes deterministic generators repeatable; LLM
    providers may ignore it."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    difficulty: Difficulty = 0.5
    player: PlayerContext
    language: Language = "en"
    seed: int | None = None
    #: What NPCs remember of this player, for LLM prompts (the NPC memory system).
    memory_context: Annotated[str, Field(max_length=4000)] | None = None
    #: The player's recent record (the adaptive difficulty system fills it).
    player_record: Annotated[str, Field(max_length=500)] | None = None


@runtime_checkable
class EncounterGenerator(Protocol):
    """A source of encounters. ``generate_encounter`` must return a validated
    :class:`EncounterSpec` or raise; it never returns partial data."""

    name: str

    async def generate_encounter(self, request: GenerationRequest) -> EncounterSpec: ...

    def estimate_cost(self, request: GenerationRequest) -> float:
        """Estimated cost in US dollars of one call (0.0 for local generators)."""
        ...

    async def check_health(self) -> bool: ...
