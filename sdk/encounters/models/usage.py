"""One record per LLM or speech call attempt: who, how many tokens, what it cost, how
it went. Speech (``purpose="speech"``) counts characters in ``input_tokens``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from .common import STRICT, Timestamp, utcnow


class UsageRecord(BaseModel):
    """Failed attempts are recorded too (``ok`` false, ``error`` set: a timeout, an HTTP
    error, invalid or truncated output, a refusal): a game pays for tokens a provider
    consumed even when the answer was unusable. On a successful attempt ``error`` notes
    what was wrong but worked around (a chat reply cut at the output limit, a difficulty
    outside the schema that was replaced)."""

    model_config = STRICT

    at: Timestamp = Field(default_factory=utcnow)
    provider: Annotated[str, Field(max_length=64)]
    model: Annotated[str, Field(max_length=128)]
    purpose: Annotated[str, Field(max_length=32)] = "encounter"
    ok: bool
    error: Annotated[str, Field(max_length=500)] | None = None
    input_tokens: Annotated[int, Field(ge=0)] = 0
    output_tokens: Annotated[int, Field(ge=0)] = 0
    cost_usd: Annotated[float, Field(ge=0)] = 0.0
    latency_ms: Annotated[float, Field(ge=0)] = 0.0


class UsageTotals(BaseModel):
    provider: str
    model: str
    calls: int
    failures: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
