"""What a finished session carries forward (:func:`session_state`) and how a completed
step changes a run's state (:func:`apply_step`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..models import RewardKind, Session, SessionStatus
from .limits import (
    MAX_LIST_ITEMS,
    MAX_STATE_CHARS,
    CampaignError,
)
from .model import CampaignStep
from .transformations import (
    _Apply,
    _ApplyError,
)
from .values import (
    Scalar,
    Value,
)

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
