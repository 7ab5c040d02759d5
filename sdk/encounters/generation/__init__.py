"""Encounter generators: the protocol, the offline procedural generator and, later,
LLM providers behind a fallback router."""

from .base import EncounterGenerator, GenerationRequest
from .procedural import ProceduralGenerator

__all__ = ["EncounterGenerator", "GenerationRequest", "ProceduralGenerator"]
