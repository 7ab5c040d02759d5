"""Transformations: the named operations a completed step applies to a run's state.

They are data, never code (see :mod:`encounters.campaigns`): each is a pydantic model
with an ``op`` tag, checked when a campaign is saved and applied by
:func:`~encounters.campaigns.state.apply_step`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, model_validator

from ..models.common import STRICT
from .limits import (
    MAX_LIST_ITEMS,
    MAX_STATE_KEYS,
    MAX_TEXT,
)
from .values import (
    Number,
    Scalar,
    SourcePath,
    StateKey,
    StateScalar,
    StateValue,
    Value,
    _check_scalar,
    _expect,
    _kind_of,
    session_key_kind,
)

# -- transformations --------------------------------------------------------------------


class _Apply:
    """One step's working copy of the state, and the finished session's values."""

    def __init__(self, state: Mapping[str, Value], carried: Mapping[str, Value]) -> None:
        self.state: dict[str, Value] = {
            k: list(v) if isinstance(v, list) else v for k, v in state.items()
        }
        self.carried = carried

    def read(self, source: str) -> Value | None:
        if source.startswith("state."):
            return self.state.get(source[len("state.") :])
        return self.carried.get(source)

    def write(self, key: str, value: Value) -> None:
        if isinstance(value, list):
            value = value[-MAX_LIST_ITEMS:]
            for item in value:
                self._check_scalar(key, item)
        else:
            self._check_scalar(key, value)
        if key not in self.state and len(self.state) >= MAX_STATE_KEYS:
            raise _ApplyError(
                f"state would hold more than {MAX_STATE_KEYS} keys with {key!r}; "
                "carry fewer keys (name them instead of using <family>.*)"
            )
        self.state[key] = value

    @staticmethod
    def _check_scalar(key: str, value: Scalar) -> None:
        try:
            _check_scalar(value)
        except ValueError:
            if isinstance(value, str):
                raise _ApplyError(
                    f"state {key!r} would hold text longer than {MAX_TEXT} characters"
                ) from None
            raise _ApplyError(
                f"state {key!r} would become {value}, beyond +-10^12; add a clamp transformation"
            ) from None


class _ApplyError(Exception):
    pass


def _number(value: Value, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _ApplyError(f"{what} holds {value!r}, not a number")
    return value


def _same(a: Value, b: Value) -> bool:
    """Equality without Python's ``True == 1``: booleans only equal booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _operand(ctx: _Apply, source: str | None, value: Value | None) -> Value | None:
    return ctx.read(source) if source is not None else value


def _one_operand(source: str | None, value: object) -> None:
    if source is not None and value is not None:
        raise ValueError("value: give source or value, not both")
    if source is None and value is None:
        raise ValueError("value: required when there is no source")


class CopyOp(BaseModel):
    """``target = source``."""

    model_config = STRICT
    op: Literal["copy"]
    source: SourcePath
    target: StateKey

    def apply(self, ctx: _Apply) -> None:
        got = ctx.read(self.source)
        if got is not None:
            ctx.write(self.target, got)


class SetOp(BaseModel):
    """``target = value``."""

    model_config = STRICT
    op: Literal["set"]
    target: StateKey
    value: StateValue

    def apply(self, ctx: _Apply) -> None:
        ctx.write(self.target, self.value)


class AddOp(BaseModel):
    """``target = target + (source or value)``; a missing target counts as 0."""

    model_config = STRICT
    op: Literal["add"]
    target: StateKey
    source: SourcePath | None = None
    value: Number | None = None

    @model_validator(mode="after")
    def _operands(self) -> Self:
        _one_operand(self.source, self.value)
        _expect(self.source, ("number",), "add needs a number")
        return self

    def apply(self, ctx: _Apply) -> None:
        got = _operand(ctx, self.source, self.value)
        if got is not None:
            now = _number(ctx.state.get(self.target, 0), f"state {self.target!r}")
            ctx.write(self.target, now + _number(got, self.source or "value"))


class MultiplyOp(BaseModel):
    """``target = target * (source or value)``; a missing target stays missing."""

    model_config = STRICT
    op: Literal["multiply"]
    target: StateKey
    source: SourcePath | None = None
    value: Number | None = None

    @model_validator(mode="after")
    def _operands(self) -> Self:
        _one_operand(self.source, self.value)
        _expect(self.source, ("number",), "multiply needs a number")
        return self

    def apply(self, ctx: _Apply) -> None:
        got = _operand(ctx, self.source, self.value)
        now = ctx.state.get(self.target)
        if got is not None and now is not None:
            factor = _number(got, self.source or "value")
            ctx.write(self.target, _number(now, f"state {self.target!r}") * factor)


class AppendOp(BaseModel):
    """Append ``source`` or ``value`` to the list ``target`` (a list is appended item
    by item); a missing target starts empty; the newest 32 items are kept."""

    model_config = STRICT
    op: Literal["append"]
    target: StateKey
    source: SourcePath | None = None
    value: StateValue | None = None

    @model_validator(mode="after")
    def _operands(self) -> Self:
        _one_operand(self.source, self.value)
        return self

    def apply(self, ctx: _Apply) -> None:
        got = _operand(ctx, self.source, self.value)
        if got is None:
            return
        now = ctx.state.get(self.target, [])
        if not isinstance(now, list):
            raise _ApplyError(
                f"state {self.target!r} holds {now!r}, not a list; append to another key"
            )
        ctx.write(self.target, now + (got if isinstance(got, list) else [got]))


class SetIfCompletedOp(BaseModel):
    """``target = value`` when ``source`` is exactly true (an objective of the finished
    session such as ``objectives.<id>``, or a ``state.<key>`` flag)."""

    model_config = STRICT
    op: Literal["set_if_completed"]
    source: SourcePath
    target: StateKey
    value: StateValue

    @model_validator(mode="after")
    def _source_is_a_flag(self) -> Self:
        _expect(self.source, ("bool",), "set_if_completed needs true/false (objectives.<id>)")
        return self

    def apply(self, ctx: _Apply) -> None:
        if ctx.read(self.source) is True:
            ctx.write(self.target, self.value)


class SetIfEqualsOp(BaseModel):
    """``target = value`` when ``source`` equals ``equals`` (booleans only equal
    booleans; 1 equals 1.0)."""

    model_config = STRICT
    op: Literal["set_if_equals"]
    source: SourcePath
    equals: StateScalar
    target: StateKey
    value: StateValue

    @model_validator(mode="after")
    def _comparable(self) -> Self:
        kind = session_key_kind(self.source)
        if kind == "list":
            raise ValueError(
                f"source: {self.source} holds a list; set_if_equals compares one value"
            )
        if kind is not None and kind != _kind_of(self.equals):
            raise ValueError(f"equals: {self.source} holds {kind}; compare it with {kind}")
        return self

    def apply(self, ctx: _Apply) -> None:
        got = ctx.read(self.source)
        if got is not None and _same(got, self.equals):
            ctx.write(self.target, self.value)


class ClampOp(BaseModel):
    """``target = source`` (or ``target`` itself without a source) bounded to ``min``
    and/or ``max``."""

    model_config = STRICT
    op: Literal["clamp"]
    target: StateKey
    source: SourcePath | None = None
    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("min: give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"max: must be >= min ({self.min})")
        _expect(self.source, ("number",), "clamp needs a number")
        return self

    def apply(self, ctx: _Apply) -> None:
        got = ctx.read(self.source) if self.source is not None else ctx.state.get(self.target)
        if got is None:
            return
        result = _number(got, self.source or f"state {self.target!r}")
        if self.min is not None and result < self.min:
            result = self.min
        if self.max is not None and result > self.max:
            result = self.max
        ctx.write(self.target, result)


Transformation = Annotated[
    CopyOp | SetOp | AddOp | MultiplyOp | AppendOp | SetIfCompletedOp | SetIfEqualsOp | ClampOp,
    Field(discriminator="op"),
]
OPS = (
    "copy",
    "set",
    "add",
    "multiply",
    "append",
    "set_if_completed",
    "set_if_equals",
    "clamp",
)
