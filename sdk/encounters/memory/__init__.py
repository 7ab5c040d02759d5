"""NPC memory: what each NPC remembers of each player, encrypted at rest, found again
by recency, importance and relevance (see :mod:`.manager`)."""

from .crypto import MemoryKeyError
from .manager import NPCMemoryManager, estimate_importance
from .models import Interaction, NPCMemory, Recollection
from .summary import ExtractiveSummarizer, LLMSummarizer, Summarizer

__all__ = [
    "ExtractiveSummarizer",
    "Interaction",
    "LLMSummarizer",
    "MemoryKeyError",
    "NPCMemory",
    "NPCMemoryManager",
    "Recollection",
    "Summarizer",
    "estimate_importance",
]
