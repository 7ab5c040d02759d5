"""Small shared types: enums, id patterns, clocks. Imports nothing of ours."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

#: Content models refuse unknown fields and values of the wrong type ("5" for 5,
#: "yes" for true): content comes from files, templates and LLMs, and a silent
#: coercion would hide a mistake. Enum and datetime fields stay lax (see LaxEnum).
STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)
#: Field marker that lets enums take their string value and datetimes their ISO text
#: under :data:`STRICT`.
LAX = Field(strict=False)

#: Ids are short, URL- and log-safe. Generated ids look like ``enc_3f9a0c2b7d1e``.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
#: What each pattern means, for error messages that people can act on.
PATTERN_HINTS = {
    ID_PATTERN: "may hold only letters, digits and _ . : - (at most 64 characters, "
    "starting with a letter or digit)",
    LANGUAGE_PATTERN: "must be a language tag such as en, de or pt-BR (lower-case language)",
    r"^[A-Za-z0-9][A-Za-z0-9_:.-]{0,63}$": "must be an id: a whole number >= 0, or letters, "
    "digits and _ : . - (at most 64 characters)",
}
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
#: Language tags in the BCP 47 shape games use: ``en``, ``de``, ``pt-BR``.
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Difficulty = Annotated[float, Field(ge=0.1, le=1.0, allow_inf_nan=False)]


def _aware(value: datetime) -> datetime:
    """A time without a zone is taken as UTC (every time the project writes is UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


#: A point in time, always with its zone (UTC when none was given).
Timestamp = Annotated[datetime, LAX, AfterValidator(_aware)]


def new_id(prefix: str) -> str:
    """A random id such as ``sess_5c0f2e91a3b4d6e8``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` ids as :func:`new_id` makes them (each 8 random bytes), from one read of
    the system's random source instead of one each (a relayed batch of actions)."""
    hexed = secrets.token_hex(8 * count)
    return [f"{prefix}_{hexed[i : i + 16]}" for i in range(0, 16 * count, 16)]


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
