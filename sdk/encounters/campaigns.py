"""Campaigns: encounters played one after another, with state carried from each
finished session into the next.

A :class:`CampaignSpec` lists steps, one encounter each. A :class:`CampaignRun` is one
player's way through a campaign: which steps are done or skipped, the sessions that
moved it, and ``state``, a small dict of JSON values built from finished sessions. The
run's state reaches the next generation or session through
:meth:`CampaignManager.player_context`, which puts it into ``PlayerContext.attributes``.

What a finished session offers is one flat dict, :func:`session_state`. A completed
step copies the keys named in ``carry_forward`` into the run's state (same key), then
applies its ``transformations`` in order; each sees the results of the ones before.

Transformations are data, never code: a fixed set of named operations with
parameters (``{"op": "add", "source": "rewards.experience", "target": "xp"}``). A
campaign loaded from a file, the store or an HTTP body cannot run anything; an unknown
``op`` is refused like any other bad field. The operations (``source`` is a session
key from :func:`session_state`, or ``state.<key>`` for the run's state; a missing
source leaves the target unchanged):

- ``copy``: ``target = source``.
- ``set``: ``target = value``.
- ``add``: ``target = target + (source or value)``; a missing target counts as 0.
- ``multiply``: ``target = target * (source or value)``; a missing target stays
  missing (there is nothing to scale: set it first, e.g. in ``initial_state``).
- ``append``: append ``source`` or ``value`` to the list ``target`` (a list is appended
  item by item); a missing target starts empty; the newest 32 items are kept.
- ``set_if_completed``: ``target = value`` when ``source`` is exactly true, e.g. an
  optional objective ``objectives.<id>`` the player completed.
- ``set_if_equals``: ``target = value`` when ``source`` equals ``equals``, e.g.
  ``choices.<choice id>`` equals ``"spare"``.
- ``clamp``: ``target = source`` (or ``target`` itself without a source) bounded to
  ``min`` and/or ``max``.

Where a session key's kind is known (:data:`SESSION_KEYS`), a campaign that feeds it to
an operation of the wrong kind (``add`` from ``outcome``) is refused when saved; values
from ``state.<key>`` are checked when applied (see :meth:`CampaignManager.advance`).

Failed and abandoned sessions: by default (``on_failure: "retry"``) the step stays
current and the state is unchanged, so the player can play the encounter again. A step
with ``on_failure: "skip"`` is passed over instead; steps that list it as a
prerequisite are then skipped as well (a prerequisite must be *completed*). That is
what prerequisites are for: branches that only open when an earlier encounter was won.

Limits, stated once:

- A run follows the stored campaign by encounter id, not a copy of it: fixing a
  transformation or adding a step with :meth:`CampaignManager.save_campaign` applies to
  runs in progress; completed steps are never replayed.
- One run is advanced by one task at a time (a lock per run in the manager), each
  session is applied at most once (its id is kept), and a player has one active run
  per campaign. These guards hold within one :class:`CampaignManager` (use one per
  store): the store's documents are last-writer-wins with no compare-and-set yet, so two processes
  advancing the same run at the same moment are not guarded against each other.
- ``choices.<choice id>`` keys are only predictable when choices are recorded with
  known ids; ``Engine.record_choice`` generates random ids today.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, TypeAlias

from pydantic import AfterValidator, BaseModel, Field, PlainValidator, model_validator
from pydantic import ValidationError as PydanticValidationError

from ._util.locks import KeyedLocks
from .errors import EncountersError, FieldError, NotFound, SessionNotFound, ValidationFailed
from .models import PlayerContext, RewardKind, Session, SessionStatus
from .models.common import (
    ID_PATTERN,
    LAX,
    STRICT,
    Id,
    LongText,
    ShortText,
    Timestamp,
    new_id,
    utcnow,
)
from .storage import Store
from .validation import field_errors, format_path, validate_model

#: Store document kinds.
CAMPAIGN_KIND = "campaign"
RUN_KIND = "campaign_run"
ACTIVE_KIND = "campaign_active"

MAX_STEPS = 100
MAX_STATE_KEYS = 100
MAX_LIST_ITEMS = 32
MAX_TEXT = 200
#: Numbers in a run's state stay within +-MAX_NUMBER; runaway arithmetic is an error.
MAX_NUMBER = 10**12
#: The whole state, as JSON, stays below this many characters.
MAX_STATE_CHARS = 32_000
#: Sessions remembered per run (for idempotence); older ids are dropped. A dropped id
#: cannot be applied twice either: its step is no longer current.
MAX_SESSION_IDS = 1000
#: PlayerContext limits (see models/player.py) and how long carried text may get there.
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_KEY = 40
MAX_ATTRIBUTE_TEXT = 80


# -- errors ------------------------------------------------------------------------------


class CampaignError(EncountersError):
    """A campaign operation was refused: a session that does not fit the run, a run
    that is finished, a second active run, or a transformation that cannot apply."""


class CampaignNotFound(NotFound):
    def __init__(self, campaign_id: str) -> None:
        self.campaign_id = campaign_id
        super().__init__(
            f"no stored campaign with id {campaign_id!r}; save it with save_campaign first"
        )


class CampaignRunNotFound(NotFound):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"no campaign run with id {run_id!r}; start(campaign_id, player_id) returns "
            "the run and its id"
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


# -- campaigns ---------------------------------------------------------------------------


class CampaignStep(BaseModel):
    """One encounter of a campaign. ``prerequisites`` are encounter ids of earlier
    steps that must be *completed* (not skipped) for this step to be offered."""

    model_config = STRICT

    encounter_id: Id
    prerequisites: Annotated[list[Id], Field(max_length=MAX_STEPS)] = []
    carry_forward: Annotated[list[CarryKey], Field(max_length=50)] = []
    transformations: Annotated[list[Transformation], Field(max_length=50)] = []
    on_failure: Literal["retry", "skip"] = "retry"


class CampaignSpec(BaseModel):
    """A campaign: 1 to 100 steps in play order. Each encounter appears once, and a
    prerequisite must be an earlier step, which also rules out cycles.
    ``initial_state`` is the state a run starts with."""

    model_config = STRICT

    id: Id = Field(default_factory=lambda: new_id("camp"))
    name: ShortText
    description: LongText = ""
    steps: Annotated[list[CampaignStep], Field(min_length=1, max_length=MAX_STEPS)]
    initial_state: State = {}

    @model_validator(mode="after")
    def _steps_form_an_order(self) -> Self:
        problems: list[str] = []
        position: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            first = position.setdefault(step.encounter_id, i)
            if first != i:
                problems.append(
                    f"steps[{i}].encounter_id: {step.encounter_id!r} is already steps[{first}]; "
                    "an encounter appears once per campaign"
                )
        known = ", ".join(position)
        for i, step in enumerate(self.steps):
            for k, pre in enumerate(step.prerequisites):
                where = f"steps[{i}].prerequisites[{k}]"
                j = position.get(pre)
                if j is None:
                    problems.append(
                        f"{where}: {pre!r} is not an encounter of this campaign; "
                        f"its steps are: {known}"
                    )
                elif j == i:
                    problems.append(f"{where}: a step cannot require itself; remove {pre!r}")
                elif j > i:
                    problems.append(
                        f"{where}: {pre!r} is steps[{j}], after this step; a prerequisite "
                        f"must be an earlier step (move it before steps[{i}])"
                    )
        if problems:
            raise ValueError("\n".join(problems))
        return self


class RunStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class CampaignRun(BaseModel):
    """One player's way through a campaign. ``current_index`` and
    ``current_encounter`` name the step to play next (the index is
    ``len(steps)`` once the run is completed); ``completed`` and ``skipped`` hold
    encounter ids in the order they were resolved; ``session_ids`` every session
    applied to the run, failed ones included."""

    model_config = STRICT

    id: Id = Field(default_factory=lambda: new_id("run"))
    campaign_id: Id
    player_id: Id
    status: Annotated[RunStatus, LAX] = RunStatus.ACTIVE
    current_index: Annotated[int, Field(ge=0, le=MAX_STEPS)] = 0
    current_encounter: Id | None = None
    state: State = {}
    completed: Annotated[list[Id], Field(max_length=2 * MAX_STEPS)] = []
    skipped: Annotated[list[Id], Field(max_length=2 * MAX_STEPS)] = []
    session_ids: Annotated[list[Id], Field(max_length=MAX_SESSION_IDS)] = []
    started_at: Timestamp = Field(default_factory=utcnow)
    updated_at: Timestamp = Field(default_factory=utcnow)
    completed_at: Timestamp | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        size = len(json.dumps(self.state))
        if size > MAX_STATE_CHARS:
            raise ValueError(
                f"state: holds {size} characters as JSON, more than {MAX_STATE_CHARS}; "
                "carry fewer or shorter values"
            )
        if self.status is RunStatus.ACTIVE and self.current_encounter is None:
            raise ValueError("current_encounter: an active run has a step to play")
        if self.status is RunStatus.COMPLETED and self.completed_at is None:
            raise ValueError("completed_at: required for a completed run")
        if self.status is not RunStatus.COMPLETED and self.completed_at is not None:
            raise ValueError("completed_at: only a completed run has one")
        return self


class _ActiveRun(BaseModel):
    """Index document: the active run of a (player, campaign), if any."""

    model_config = STRICT
    run_id: Id


# -- session state -----------------------------------------------------------------------

_NPC_SCORE = {"positive": 1, "neutral": 0, "negative": -1}


def session_state(session: Session) -> dict[str, Value]:
    """What a finished session carries forward: one flat dict, keys as in
    :data:`SESSION_KEYS` and :data:`SESSION_FAMILIES`.

    - ``outcome``: the session's status (``completed``, ``failed``, ``abandoned``,
      ``active``); ``encounter_id``, ``category``, ``difficulty``;
      ``duration_seconds`` (rounded to ms; absent while the session is active).
    - ``objectives_completed`` / ``objectives_total``: counts, optional objectives
      included; ``objectives.<objective id>``: true when that objective was completed.
    - ``choices.<choice id>``: the option selected; ``choices_selected``: the options
      in the order chosen (the newest 32); ``choice_count``.
    - ``rewards.experience`` / ``rewards.item`` / ``rewards.currency`` /
      ``rewards.reputation``: the summed amounts of the encounter's rewards of that
      kind, ``rewards.items``: the item names; all zero or empty unless the session
      was completed (rewards are earned by completing).
    - ``npcs.<npc id>``: the relationship score of this session (+1 per positive
      interaction, -1 per negative); ``npcs_last.<npc id>``: the last outcome.
      Only NPCs the player dealt with appear.
    """
    encounter = session.encounter
    earned = session.status is SessionStatus.COMPLETED
    out: dict[str, Value] = {
        "outcome": session.status.value,
        "encounter_id": encounter.id,
        "category": encounter.category.value,
        "difficulty": session.difficulty,
    }
    if session.duration_seconds is not None:
        out["duration_seconds"] = round(session.duration_seconds, 3)
    out["objectives_completed"] = sum(1 for p in session.objectives.values() if p.completed)
    out["objectives_total"] = len(encounter.objectives)
    for objective in encounter.objectives:
        out[f"objectives.{objective.id}"] = session.objectives[objective.id].completed
    for choice in session.choices_made:
        out[f"choices.{choice.id}"] = choice.selected_option
    selected: list[Scalar] = [c.selected_option for c in session.choices_made]
    out["choices_selected"] = selected[-MAX_LIST_ITEMS:]
    out["choice_count"] = len(session.choices_made)
    for kind in RewardKind:
        amount = sum(r.amount for r in encounter.rewards if r.kind is kind)
        out[f"rewards.{kind.value}"] = amount if earned else 0
    items: list[Scalar] = [
        r.item for r in encounter.rewards if r.kind is RewardKind.ITEM and r.item
    ]
    out["rewards.items"] = items[:MAX_LIST_ITEMS] if earned else []
    scores: dict[str, int] = {}
    for interaction in session.npc_interactions:
        scores[interaction.npc_id] = (
            scores.get(interaction.npc_id, 0) + _NPC_SCORE[interaction.outcome]
        )
        out[f"npcs_last.{interaction.npc_id}"] = interaction.outcome
    for npc_id, score in scores.items():
        out[f"npcs.{npc_id}"] = score
    return out


def apply_step(
    step: CampaignStep,
    carried: Mapping[str, Value],
    state: Mapping[str, Value],
    *,
    where: str = "step",
) -> dict[str, Value]:
    """The state after a completed ``step``: ``carry_forward`` first, then the
    transformations in order. ``carried`` is the :func:`session_state` of the session
    that completed it. Raises :class:`CampaignError` (naming ``where``) when a
    transformation cannot apply; ``state`` itself is never changed."""
    ctx = _Apply(state, carried)
    try:
        for key in step.carry_forward:
            if key.endswith(".*"):
                prefix = key[:-1]
                for name, value in carried.items():
                    if name.startswith(prefix):
                        ctx.write(name, value)
            elif (found := carried.get(key)) is not None:
                ctx.write(key, found)
    except _ApplyError as exc:
        raise CampaignError(f"{where}.carry_forward: {exc}") from None
    for k, transformation in enumerate(step.transformations):
        try:
            transformation.apply(ctx)
        except _ApplyError as exc:
            raise CampaignError(
                f"{where}.transformations[{k}] ({transformation.op}): {exc}"
            ) from None
    size = len(json.dumps(ctx.state))
    if size > MAX_STATE_CHARS:
        raise CampaignError(
            f"{where}: the state would hold {size} characters as JSON, more than "
            f"{MAX_STATE_CHARS}; carry fewer or shorter values"
        )
    return ctx.state


# -- validation --------------------------------------------------------------------------

_PATH_MESSAGE = re.compile(
    r"((?:\[\d+\]|[A-Za-z_]\w*)(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (.+)", re.DOTALL
)


def _join(path: str, rest: str) -> str:
    if not path:
        return rest
    return path + rest if rest.startswith("[") else f"{path}.{rest}"


def _without_op_tag(loc: Sequence[int | str]) -> list[int | str]:
    """Drop the union tag pydantic puts in a transformation's error location, so
    ``steps[1].transformations[0].add.value`` reads ``...transformations[0].value``."""
    out: list[int | str] = []
    for i, part in enumerate(loc):
        if (
            part in OPS
            and i >= 2
            and isinstance(loc[i - 1], int)
            and loc[i - 2] == "transformations"
        ):
            continue
        out.append(part)
    return out


def _located(exc: PydanticValidationError) -> list[FieldError]:
    """Field errors with exact paths: a model-level check that says
    ``value: required`` is reported at ``...transformations[0].value``."""
    out: list[FieldError] = []
    for err, plain in zip(exc.errors(), field_errors(exc), strict=True):
        loc = _without_op_tag(err["loc"])
        key = ""
        if len(loc) >= 2 and loc[-1] == "[key]":  # a bad dict key: name it in the message
            key, loc = f"key {loc[-2]!r}: ", loc[:-2]
        path = format_path(loc)
        kind = err["type"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            tag = (err.get("ctx") or {}).get("tag")
            what = f"unknown op {tag!r}" if kind == "union_tag_invalid" else "required"
            out.append(
                FieldError(
                    _join(path, "op"),
                    f"{what}; known ops: {', '.join(OPS)} (a transformation is a named "
                    "operation with parameters, never code)",
                )
            )
        elif kind == "value_error":
            for line in plain.message.splitlines():
                match = None if key else _PATH_MESSAGE.fullmatch(line)
                out.append(
                    FieldError(_join(path, match[1]), match[2])
                    if match
                    else FieldError(path, key + line)
                )
        else:
            out.append(FieldError(path, key + plain.message))
    return out


def parse_campaign(data: CampaignSpec | Mapping[str, Any]) -> CampaignSpec:
    """Validate a campaign (a spec, or a dict from a file or request) or raise
    :class:`ValidationFailed` with one path-named line per problem, such as
    ``steps[1].transformations[0].value: required when there is no source``."""
    if isinstance(data, CampaignSpec):
        raw: Any = data.model_dump()
    elif isinstance(data, Mapping):
        raw = dict(data)
    else:
        raise ValidationFailed("campaign", [FieldError("", "must be an object")])
    try:
        return CampaignSpec.model_validate(raw)
    except PydanticValidationError as exc:
        raise ValidationFailed("campaign", _located(exc)) from None


# -- the manager -------------------------------------------------------------------------


def _next_step(spec: CampaignSpec, run: CampaignRun) -> tuple[int, str] | None:
    """The first step neither completed nor skipped, in campaign order; steps met on
    the way whose prerequisites were not all completed are added to ``run.skipped``
    (earlier steps are all resolved by then, so such a prerequisite was skipped)."""
    done = set(run.completed)
    for i, step in enumerate(spec.steps):
        if step.encounter_id in done or step.encounter_id in run.skipped:
            continue
        if all(p in done for p in step.prerequisites):
            return i, step.encounter_id
        run.skipped.append(step.encounter_id)
    return None


def _move_on(spec: CampaignSpec, run: CampaignRun) -> None:
    """Point ``run`` at its next step, or complete it when none is left."""
    found = _next_step(spec, run)
    if found is None:
        run.status = RunStatus.COMPLETED
        run.current_index = len(spec.steps)
        run.current_encounter = None
        run.completed_at = utcnow()
    else:
        run.current_index, run.current_encounter = found


def _attribute(value: Value) -> Scalar | None:
    """A state value as a PlayerContext attribute: text cut to 80 characters, a list
    as its items joined with ", " (then cut), an empty list left out."""
    if isinstance(value, list):
        if not value:
            return None
        value = ", ".join(json.dumps(v) if isinstance(v, bool) else str(v) for v in value)
    if isinstance(value, str):
        return value[:MAX_ATTRIBUTE_TEXT]
    return value


class CampaignManager:
    """Campaigns and their runs, kept as documents in a :class:`Store` (kinds
    ``campaign``, ``campaign_run`` and ``campaign_active``).

    Sessions are played through the engine as usual; after each finished session the
    game calls :meth:`advance`. The store's copy of the session is what counts, so a
    caller holding an older copy (taken before ``complete_session``) cannot mislead
    the run::

        manager = CampaignManager(engine.store)
        run = await manager.start("camp_north", "alice")
        session = await engine.start_session(
            manager.player_context(run, player), run.current_encounter,
            campaign_id=run.campaign_id,
        )
        ...  # play, complete_session
        run = await manager.advance(run.id, session)
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._locks: KeyedLocks[str] = KeyedLocks()

    # -- campaigns ---------------------------------------------------------------------

    async def save_campaign(self, spec: CampaignSpec | Mapping[str, Any]) -> CampaignSpec:
        """Validate and store a campaign (replacing one with the same id). Encounter
        ids are not looked up: encounters may be generated or saved later."""
        checked = parse_campaign(spec)
        await self.store.save_document(CAMPAIGN_KIND, checked.id, checked)
        return checked

    async def get_campaign(self, campaign_id: str) -> CampaignSpec:
        """A stored campaign; :class:`CampaignNotFound` if there is none."""
        spec = await self.store.get_document(CAMPAIGN_KIND, campaign_id, CampaignSpec)
        if spec is None:
            raise CampaignNotFound(campaign_id)
        return spec

    async def list_campaigns(self) -> list[CampaignSpec]:
        """Stored campaigns in id order."""
        return await self.store.list_documents(CAMPAIGN_KIND, CampaignSpec)

    # -- runs --------------------------------------------------------------------------

    async def start(self, campaign_id: str, player_id: str) -> CampaignRun:
        """Start ``player_id`` on the campaign's first step. A player has at most one
        active run per campaign: a second start raises :class:`CampaignError` naming
        the active run (advance it, or abandon it first)."""
        key = f"{player_id}/{campaign_id}"
        async with self._locks.hold(f"start:{key}"):
            active = await self._active_run(key)
            if active is not None:
                raise CampaignError(
                    f"player {player_id!r} already has an active run {active.id!r} of "
                    f"campaign {campaign_id!r} (at {active.current_encounter!r}); continue it "
                    f"with advance, or call abandon({active.id!r}) before starting again"
                )
            spec = await self.get_campaign(campaign_id)
            run = validate_model(
                CampaignRun,
                {
                    "campaign_id": spec.id,
                    "player_id": player_id,
                    "current_encounter": spec.steps[0].encounter_id,
                    "state": dict(spec.initial_state),
                },
                "campaign run",
            )
            # index first: a crash in between leaves an index to a missing run (ignored),
            # never an active run the index does not know
            await self.store.save_document(ACTIVE_KIND, key, _ActiveRun(run_id=run.id))
            await self.store.save_document(RUN_KIND, run.id, run)
            return run

    async def _active_run(self, key: str) -> CampaignRun | None:
        index = await self.store.get_document(ACTIVE_KIND, key, _ActiveRun)
        if index is None:
            return None
        run = await self.store.get_document(RUN_KIND, index.run_id, CampaignRun)
        return run if run is not None and run.status is RunStatus.ACTIVE else None

    async def status(self, run_id: str) -> CampaignRun:
        """A stored run; :class:`CampaignRunNotFound` if there is none."""
        run = await self.store.get_document(RUN_KIND, run_id, CampaignRun)
        if run is None:
            raise CampaignRunNotFound(run_id)
        return run

    async def list_runs(
        self,
        *,
        player_id: str | None = None,
        campaign_id: str | None = None,
        status: RunStatus | str | None = None,
    ) -> list[CampaignRun]:
        """Stored runs in id order, optionally filtered (reads every run: for tools
        and small stores, not a game's hot path)."""
        return [
            r
            for r in await self.store.list_documents(RUN_KIND, CampaignRun)
            if (player_id is None or r.player_id == player_id)
            and (campaign_id is None or r.campaign_id == campaign_id)
            and (status is None or r.status == status)
        ]

    async def advance(self, run_id: str, session: Session | str) -> CampaignRun:
        """Apply a finished session (or its id) to the run and return the run.

        The session, as stored, must belong to the run's player, be finished, be for
        the current step's encounter, not belong to another campaign, and not have
        started before the run; otherwise :class:`CampaignError` says which and what to
        do. A session already applied returns the run unchanged (safe to retry).

        Completed: ``carry_forward`` and the transformations update the state, the
        step is completed and the run moves to the next step whose prerequisites are
        all completed, or completes. Failed or abandoned: with ``on_failure: "retry"``
        the step stays current (play it again); with ``"skip"`` the step and the steps
        requiring it are skipped. If a transformation cannot apply, nothing changes:
        fix the campaign with :meth:`save_campaign` and advance with the same session.
        If the campaign was edited so that no step is left for the run, the run is
        completed and returned without applying the session.
        """
        session_id = session.id if isinstance(session, Session) else session
        async with self._locks.hold(run_id):
            run = await self.status(run_id)
            if session_id in run.session_ids:
                return run
            if run.status is not RunStatus.ACTIVE:
                raise CampaignError(
                    f"campaign run {run.id!r} is {run.status.value}; it takes no more "
                    "sessions (start a new run to play the campaign again)"
                )
            played = await self.store.get_session(session_id)
            if played is None:
                raise SessionNotFound(session_id)
            spec = await self.get_campaign(run.campaign_id)
            updated = run.model_copy(deep=True)
            found = _next_step(spec, updated)
            if found is None:  # the campaign was edited: no step left for this run
                _move_on(spec, updated)
                return await self._save(updated)
            index, encounter_id = found
            self._check_fits(run, played, index, encounter_id)
            step = spec.steps[index]
            if played.status is SessionStatus.COMPLETED:
                updated.state = apply_step(
                    step,
                    session_state(played),
                    run.state,
                    where=f"campaign {spec.id!r} steps[{index}]",
                )
                updated.completed.append(encounter_id)
            elif step.on_failure == "skip":
                updated.skipped.append(encounter_id)
            updated.session_ids = [*run.session_ids, played.id][-MAX_SESSION_IDS:]
            _move_on(spec, updated)
            return await self._save(updated)

    def _check_fits(self, run: CampaignRun, played: Session, index: int, encounter_id: str) -> None:
        sid = played.id
        if played.player_id != run.player_id:
            raise CampaignError(
                f"session {sid!r} was played by {played.player_id!r}, but campaign run "
                f"{run.id!r} is {run.player_id!r}'s; advance that player's own run"
            )
        if not played.status.finished:
            raise CampaignError(
                f"session {sid!r} is still active; complete, fail or abandon it before "
                f"advancing campaign run {run.id!r}"
            )
        if played.campaign_id is not None and played.campaign_id != run.campaign_id:
            raise CampaignError(
                f"session {sid!r} was started for campaign {played.campaign_id!r}, not "
                f"{run.campaign_id!r}; start sessions with campaign_id={run.campaign_id!r}"
            )
        if played.created_at < run.started_at:
            raise CampaignError(
                f"session {sid!r} started before campaign run {run.id!r} did; play the "
                f"encounter again within the run"
            )
        got = played.encounter.id
        if got != encounter_id:
            done = " (already completed in this run)" if got in run.completed else ""
            raise CampaignError(
                f"session {sid!r} is for encounter {got!r}{done}, but campaign run "
                f"{run.id!r} is at steps[{index}], encounter {encounter_id!r}; start a "
                f"session for {encounter_id!r}"
            )

    async def _save(self, run: CampaignRun) -> CampaignRun:
        run.updated_at = utcnow()
        checked = validate_model(CampaignRun, run.model_dump(), f"campaign run {run.id}")
        await self.store.save_document(RUN_KIND, checked.id, checked)
        return checked

    async def abandon(self, run_id: str) -> CampaignRun:
        """Stop an active run (the player may start the campaign again). Abandoning an
        abandoned run returns it unchanged; a completed run raises
        :class:`CampaignError`."""
        async with self._locks.hold(run_id):
            run = await self.status(run_id)
            if run.status is RunStatus.ABANDONED:
                return run
            if run.status is RunStatus.COMPLETED:
                raise CampaignError(
                    f"campaign run {run.id!r} is completed; only an active run can be abandoned"
                )
            run.status = RunStatus.ABANDONED
            return await self._save(run)

    # -- helpers for the next session --------------------------------------------------

    def current_encounter(self, run: CampaignRun) -> str | None:
        """The encounter to play next; None once the run is completed or abandoned."""
        return run.current_encounter if run.status is RunStatus.ACTIVE else None

    def player_context(
        self, run: CampaignRun, base: PlayerContext, *, keys: Iterable[str] | None = None
    ) -> PlayerContext:
        """``base`` with the run's state added to its ``attributes``, so the next
        generation or session sees it. Rules, within PlayerContext's limits:

        - ``base`` attributes win over state keys of the same name (the game's own
          value is the current truth);
        - state keys longer than 40 characters are left out (copy such a value to a
          short key with a ``copy`` transformation);
        - text is cut to 80 characters; a list becomes its items joined with ", " (then
          cut); an empty list is left out;
        - at most 32 attributes: state keys are added in ``keys`` order (default: the
          state's own order, oldest key first) until the limit is reached.
        """
        attributes: dict[str, Scalar] = dict(base.attributes)
        for key in run.state if keys is None else keys:
            if len(attributes) >= MAX_ATTRIBUTES:
                break
            if key in attributes or key not in run.state or len(key) > MAX_ATTRIBUTE_KEY:
                continue
            value = _attribute(run.state[key])
            if value is not None:
                attributes[key] = value
        return validate_model(
            PlayerContext,
            {**base.model_dump(), "attributes": attributes},
            "player context",
        )


__all__ = [
    "OPS",
    "SESSION_FAMILIES",
    "SESSION_KEYS",
    "AddOp",
    "AppendOp",
    "CampaignError",
    "CampaignManager",
    "CampaignNotFound",
    "CampaignRun",
    "CampaignRunNotFound",
    "CampaignSpec",
    "CampaignStep",
    "ClampOp",
    "CopyOp",
    "MultiplyOp",
    "RunStatus",
    "SetIfCompletedOp",
    "SetIfEqualsOp",
    "SetOp",
    "Transformation",
    "apply_step",
    "parse_campaign",
    "session_key_kind",
    "session_state",
]
