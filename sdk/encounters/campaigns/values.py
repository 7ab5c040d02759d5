"""The values a campaign's state holds, and the session keys a step can read.

A state value is a bool, a number, a short text or a short list of those; keys
and session sources are checked when a campaign is saved.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal, TypeAlias

from pydantic import AfterValidator, Field, PlainValidator

from ..models import RewardKind
from ..models.common import ID_PATTERN
from .limits import (
    MAX_LIST_ITEMS,
    MAX_NUMBER,
    MAX_STATE_KEYS,
    MAX_TEXT,
)

# -- values ------------------------------------------------------------------------------

Scalar: TypeAlias = bool | int | float | str
Value: TypeAlias = Scalar | list[Scalar]

_SCALAR_HINT = (
    f"must be true/false, a number within +-10^12 or text of at most {MAX_TEXT} characters"
)
_VALUE_HINT = f"{_SCALAR_HINT}, or a list of at most {MAX_LIST_ITEMS} of those"


def _check_scalar(value: object, hint: str = _SCALAR_HINT) -> Scalar:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if math.isfinite(value) and abs(value) <= MAX_NUMBER:
            return value
    elif isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    raise ValueError(hint)


def _check_scalar_value(value: object) -> Scalar:
    """The validator of :data:`StateScalar` (one parameter: pydantic would take a second
    one for its ``info``). One checker instead of a union, so a bad value gets one
    error, not one per member of the union."""
    return _check_scalar(value)


def _check_value(value: object) -> Value:
    if not isinstance(value, list):
        return _check_scalar(value, _VALUE_HINT)
    if len(value) > MAX_LIST_ITEMS:
        raise ValueError(_VALUE_HINT)
    for i, item in enumerate(value):
        try:
            _check_scalar(item)
        except ValueError:
            raise ValueError(f"[{i}]: {_SCALAR_HINT}") from None
    return list(value)


Number = (
    Annotated[int, Field(ge=-MAX_NUMBER, le=MAX_NUMBER)]
    | Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER, allow_inf_nan=False)]
)
#: true/false, a bounded number, or text of at most 200 characters.
StateScalar = Annotated[Scalar, PlainValidator(_check_scalar_value)]
#: A :data:`StateScalar` or a list of at most 32 of them.
StateValue = Annotated[Value, PlainValidator(_check_value)]

_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_ID_RE = re.compile(ID_PATTERN)
_KEY_HINT = (
    "must be a state key: letters, digits and _ . : - "
    "(at most 100 characters, starting with a letter or digit)"
)


def _check_key(key: str) -> str:
    if not _KEY_RE.fullmatch(key):
        raise ValueError(_KEY_HINT)
    return key


#: A key in a run's state (and a transformation's ``target``).
StateKey = Annotated[str, AfterValidator(_check_key)]
State = Annotated[dict[StateKey, StateValue], Field(max_length=MAX_STATE_KEYS)]

Kind = Literal["number", "text", "bool", "list"]

#: Keys :func:`session_state` always gives, with the kind of their value.
SESSION_KEYS: dict[str, Kind] = {
    "outcome": "text",
    "encounter_id": "text",
    "category": "text",
    "difficulty": "number",
    "duration_seconds": "number",
    "objectives_completed": "number",
    "objectives_total": "number",
    "choices_selected": "list",
    "choice_count": "number",
    **{f"rewards.{kind.value}": "number" for kind in RewardKind},
    "rewards.items": "list",
}
#: Key families ``<family>.<id>`` of :func:`session_state`, with the kind of their value.
SESSION_FAMILIES: dict[str, Kind] = {
    "objectives": "bool",
    "choices": "text",
    "npcs": "number",
    "npcs_last": "text",
}
_CARRY_PREFIXES = (*SESSION_FAMILIES, "rewards")
_SOURCE_FORMS = (
    ", ".join(SESSION_KEYS) + ", objectives.<objective id>, choices.<choice id>, npcs.<npc id>, "
    "npcs_last.<npc id>, or state.<key> for the run's state"
)


def session_key_kind(key: str) -> Kind | None:
    """The kind of value :func:`session_state` holds under ``key``; None when ``key``
    is not one of its keys."""
    if key in SESSION_KEYS:
        return SESSION_KEYS[key]
    family, dot, rest = key.partition(".")
    if dot and family in SESSION_FAMILIES and _ID_RE.fullmatch(rest):
        return SESSION_FAMILIES[family]
    return None


def _check_source(path: str) -> str:
    if path.startswith("state."):
        if not _KEY_RE.fullmatch(path[len("state.") :]):
            raise ValueError(f"after 'state.' {_KEY_HINT.removeprefix('must be ')}")
        return path
    if session_key_kind(path) is None:
        raise ValueError(f"{path!r} is not a value of a finished session; use {_SOURCE_FORMS}")
    return path


def _check_carry(path: str) -> str:
    if path.endswith(".*") and path[:-2] in _CARRY_PREFIXES:
        return path
    if session_key_kind(path) is None:
        raise ValueError(
            f"{path!r} is not a value of a finished session; use {_SOURCE_FORMS.split(', or')[0]}"
            f", or {', '.join(p + '.*' for p in _CARRY_PREFIXES)} for a whole family"
        )
    return path


#: Where a transformation reads: a :func:`session_state` key or ``state.<key>``.
SourcePath = Annotated[str, AfterValidator(_check_source)]
#: What ``carry_forward`` names: a :func:`session_state` key, or ``<family>.*``.
CarryKey = Annotated[str, AfterValidator(_check_carry)]


def _kind_of(value: object) -> Kind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    return "text"


def _expect(source: str | None, allowed: tuple[Kind, ...], needs: str) -> None:
    """Refuse a session source whose kind is known and wrong for the operation."""
    kind = session_key_kind(source) if source is not None else None
    if kind is not None and kind not in allowed:
        raise ValueError(f"source: {source} holds {kind}; {needs}")
