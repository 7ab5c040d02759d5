"""The structure and numbers of a procedural encounter, shared by every word bank.

Why a module of its own: the English generator and the grammar-aware generator for
other languages write different words but must build the same shape: objective
kinds that fit the category, how many objectives and NPCs, quantities, rewards and
duration. Keeping those rules here means a Spanish encounter is exactly as hard and
as rewarding as an English one from the same inputs. Every helper draws from the
``Random`` it is given, in a fixed order, so output stays deterministic per seed.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable
from random import Random
from typing import Any

from ..models import Category, ObjectiveKind, RewardKind
from ..models.encounter import MAX_QUANTITY, MAX_REWARD

#: Objective kinds that fit each category; every objective is one of these.
CATEGORY_KINDS: dict[Category, tuple[ObjectiveKind, ...]] = {
    Category.COMBAT: (ObjectiveKind.ELIMINATE, ObjectiveKind.SURVIVE, ObjectiveKind.DEFEND),
    Category.STEALTH: (ObjectiveKind.AVOID_DETECTION, ObjectiveKind.REACH, ObjectiveKind.COLLECT),
    Category.SOCIAL: (ObjectiveKind.TALK, ObjectiveKind.ESCORT, ObjectiveKind.DELIVER),
    Category.PUZZLE: (ObjectiveKind.SOLVE, ObjectiveKind.COLLECT, ObjectiveKind.INVESTIGATE),
    Category.EXPLORATION: (ObjectiveKind.REACH, ObjectiveKind.INVESTIGATE, ObjectiveKind.COLLECT),
}

#: Counted kinds: (low, high, exponent). The base count is drawn from [low, high] and
#: multiplied by ``scale ** exponent``; an exponent below 1 keeps waves and patrols few.
COUNTED: dict[ObjectiveKind, tuple[int, int, float]] = {
    ObjectiveKind.ELIMINATE: (3, 8, 1.0),
    ObjectiveKind.SURVIVE: (2, 4, 0.5),
    ObjectiveKind.DEFEND: (2, 4, 0.5),
    ObjectiveKind.AVOID_DETECTION: (2, 4, 0.5),
    ObjectiveKind.COLLECT: (3, 10, 1.0),
    ObjectiveKind.DELIVER: (2, 5, 0.5),
    ObjectiveKind.INVESTIGATE: (2, 6, 0.75),
}
#: Kinds whose target is an NPC of the encounter.
NPC_TARGET = frozenset({ObjectiveKind.TALK, ObjectiveKind.ESCORT})
#: Rough minutes an objective of each kind takes, before difficulty.
MINUTES: dict[ObjectiveKind, int] = {
    ObjectiveKind.ELIMINATE: 6,
    ObjectiveKind.SURVIVE: 5,
    ObjectiveKind.DEFEND: 7,
    ObjectiveKind.AVOID_DETECTION: 6,
    ObjectiveKind.REACH: 4,
    ObjectiveKind.COLLECT: 5,
    ObjectiveKind.TALK: 3,
    ObjectiveKind.ESCORT: 8,
    ObjectiveKind.DELIVER: 5,
    ObjectiveKind.SOLVE: 7,
    ObjectiveKind.INVESTIGATE: 6,
}
MAX_OBJECTIVES = 4
MAX_NPCS = 3
BONUS_CHANCE = 0.35


def tier(difficulty: float) -> int:
    return 0 if difficulty < 0.35 else 1 if difficulty < 0.6 else 2 if difficulty < 0.85 else 3


def clamp(value: float, high: int) -> int:
    return max(0, min(high, round(value)))


def npc_id(name: str, index: int) -> str:
    slug = re.sub(
        r"[^a-z0-9]+",
        "_",
        unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower(),
    ).strip("_")[:50]
    return f"npc_{slug}" if slug else f"npc_{index + 1}"


def npc_count(rng: Random, cat: Category) -> int:
    """Social encounters always have NPCs; elsewhere they are a bonus."""
    u = rng.random()
    if cat is Category.SOCIAL:
        return 1 + int(u * MAX_NPCS)
    return 0 if u < 0.35 else 1 if u < 0.75 else 2 if u < 0.93 else 3


def objective_count(rng: Random, d: float) -> tuple[int, bool]:
    """(required objectives, whether a bonus one follows): harder means more."""
    n_required = min(MAX_OBJECTIVES, 1 + int(rng.random() * (2.0 + 2.0 * d)))
    bonus = n_required < MAX_OBJECTIVES and rng.random() < BONUS_CHANCE
    return n_required, bonus


def quantity_scale(d: float, level: int) -> float:
    return (0.5 + d) * (1.0 + math.sqrt(level) / 10.0)


def quantity(rng: Random, kind: ObjectiveKind, scale: float) -> int:
    if kind not in COUNTED:
        return 1
    low, high, exponent = COUNTED[kind]
    base: float = rng.randint(low, high) * scale**exponent
    return max(2, min(MAX_QUANTITY, round(base)))


def minutes(kind: ObjectiveKind, count: int, optional: bool) -> float:
    return (MINUTES[kind] + math.log2(count)) * (0.5 if optional else 1.0)


def rewards(
    rng: Random,
    cat: Category,
    d: float,
    level: int,
    n_required: int,
    item_name: Callable[[], str],
    faction: str,
) -> list[dict[str, Any]]:
    """Experience always; currency, an item and reputation sometimes."""
    lvl_factor = 1.0 + level / 10.0
    diff_factor = 0.5 + d
    size_factor = 1.0 + 0.25 * (n_required - 1)
    xp = rng.randint(40, 120) * lvl_factor * diff_factor * size_factor
    out: list[dict[str, Any]] = [
        {"kind": RewardKind.EXPERIENCE.value, "amount": clamp(xp, MAX_REWARD)}
    ]
    if rng.random() < 0.8:
        gold = xp * rng.uniform(0.3, 0.6)
        out.append({"kind": RewardKind.CURRENCY.value, "amount": clamp(gold, MAX_REWARD)})
    if rng.random() < 0.25 + 0.5 * d:
        out.append({"kind": RewardKind.ITEM.value, "amount": 1, "item": item_name()})
    if cat is Category.SOCIAL or rng.random() < 0.3:
        rep = rng.randint(5, 20) * diff_factor * (1.0 + level / 100.0)
        out.append(
            {
                "kind": RewardKind.REPUTATION.value,
                "amount": clamp(rep, MAX_REWARD),
                "faction": faction,
            }
        )
    return out


def duration(total_minutes: float, d: float) -> int:
    return max(5, min(600, round(total_minutes * (0.75 + 0.5 * d))))


def encounter_id(seed: int, cat: Category, d: float, level: int, lang: str) -> str:
    """A hash of the inputs, so the same story at another difficulty has another id."""
    key = f"{seed}/{cat.value}/{d!r}/{level}/{lang}".encode()
    return "enc_" + hashlib.blake2b(key, digest_size=8).hexdigest()


def story_rng(seed: int, cat: Category) -> Random:
    """The story depends on (seed, category) only; string seeds are hashed with SHA-512
    by ``random``, so this is stable across processes and PYTHONHASHSEED."""
    return Random(f"procedural/1/{seed}/{cat.value}")
