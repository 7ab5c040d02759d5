"""Audit entries: one line per moderation decision, kept append-only for replay."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from .common import STRICT, Timestamp, utcnow

Decision = Literal["allow", "sanitize", "block"]


class AuditEntry(BaseModel):
    """What was asked (``input``, secrets redacted), what moderation decided, and why.
    ``seq`` is assigned by the store and orders a session's replay."""

    model_config = STRICT

    seq: int | None = None
    at: Timestamp = Field(default_factory=utcnow)
    session_id: Annotated[str, Field(max_length=64)] | None = None
    persona_id: Annotated[str, Field(max_length=64)] | None = None
    kind: Literal["message", "action", "event", "persona", "link", "listing", "review", "report"]
    input: Any = None
    decision: Decision
    reason: Annotated[str, Field(max_length=200)] | None = None
    categories: list[str] = []
    output: Any = None
