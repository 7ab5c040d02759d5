"""Small shared types: enums, id patterns, clocks. Imports nothing of ours."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

#: Ids are short, URL- and log-safe. Generated ids look like ``enc_3f9a0c2b7d1e``.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
#: Language tags in the BCP 47 shape games use: ``en``, ``de``, ``pt-BR``.
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Difficulty = Annotated[float, Field(ge=0.1, le=1.0, allow_inf_nan=False)]


def new_id(prefix: str) -> str:
    """A random id such as ``sess_5c0f2e91a3b4d6e8``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Category(StrEnum):
    COMBAT = "combat"
    PUZZLE = "puzzle"
    SOCIAL = "social"
    EXPLORATION = "exploration"
    STEALTH = "stealth"


class ObjectiveKind(StrEnum):
    ELIMINATE = "eliminate"
    COLLECT = "collect"
    REACH = "reach"
    TALK = "talk"
    ESCORT = "escort"
    SOLVE = "solve"
    SURVIVE = "survive"
    AVOID_DETECTION = "avoid_detection"
    DEFEND = "defend"
    DELIVER = "deliver"
    INVESTIGATE = "investigate"


class RewardKind(StrEnum):
    EXPERIENCE = "experience"
    ITEM = "item"
    CURRENCY = "currency"
    REPUTATION = "reputation"
