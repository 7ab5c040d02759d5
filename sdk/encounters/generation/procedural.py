"""The offline procedural encounter generator.

Why it exists: a game must get an encounter even with no network, no API key and no
budget, and tests and demos need encounters that are identical on every run. The
procedural generator is that floor. It is the first :class:`EncounterGenerator` and
the one an LLM router can always fall back to.

How it works: a :class:`random.Random` seeded from ``(seed, category)`` picks words
from the language's word bank (names, places, foes, items, factions, title patterns,
dialogue lines, traits), fills category-specific sentence patterns and builds a dict
that is validated into an :class:`EncounterSpec`. Difficulty and player level do not
pick words, so one seed keeps its title, setting and NPCs at every difficulty and
level; harder means more objectives, larger counts and bigger rewards.

Guarantees and limits:

- Deterministic: the same seed, category, difficulty, player level and language give
  an identical encounter, id included (the id is a hash of those inputs, so the same
  story at another difficulty has another id). Only the player's level is read from
  :class:`PlayerContext`; name and attributes never change the output. ``seed=None``
  draws a fresh random seed from the OS. No global random state is used.
- Objective kinds fit the category (see :data:`CATEGORY_KINDS`); there are 1-4
  objectives, of which one may be an optional bonus. Social encounters always have
  1-3 NPCs, other categories 0-3.
- Numbers grow with difficulty (0.1-1.0) and level (1-1000) but stay inside the
  model's limits: quantities rise with ``(0.5 + difficulty) * (1 + sqrt(level) / 10)``
  (at most about 60 even at level 1000, never above ``MAX_QUANTITY``); experience is
  ``base * (1 + level / 10) * (0.5 + difficulty)``, times up to 1.75 for more
  objectives (at most about 32,000 at the extreme; every reward is capped at
  ``MAX_REWARD``).
- Variety is combinatorial, not creative: hundreds of thousands of possible titles per
  category (over 9,000 distinct in 10,000 seeds, about 98% in 1,000), but sentences are
  fixed patterns. Use an LLM provider for prose.
- Language: English, Spanish, German, French, Brazilian Portuguese and Russian are
  written natively: English from ``wordbanks.json``, the others from
  ``languages/<tag>.json`` with their grammar (gender, number and case agreement; see
  :mod:`.localized`). The tag is resolved by :func:`encounters.i18n.tags.resolve`
  (``es-419`` -> ``es``, ``pt`` -> ``pt-BR``, ``en-GB`` -> ``en``); a language with no
  bank gets English content with ``language`` set to ``"en"``, so the field always
  says what the text really is. A malformed tag raises ``ValueError``.
- Speed: generation plus validation takes about 0.08 ms here, over ten times the
  target of 1,000 per second on one core (see ``benchmarks/bench_procedural.py``), so
  the async API runs it inline rather than in a worker thread. The other languages do
  more (agreement, contractions): about 0.4-0.6 ms, still over the target.
"""

from __future__ import annotations

import json
import secrets
from functools import cache
from importlib import resources
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..i18n import tags
from ..models import Category, EncounterSpec, ObjectiveKind, PlayerContext
from ..validation import validate_model
from . import localized, shape
from .base import GenerationRequest
from .shape import CATEGORY_KINDS, COUNTED, MAX_NPCS, NPC_TARGET

__all__ = ["CATEGORY_KINDS", "ProceduralGenerator"]

#: Placeholders every text pattern may use, and the extra ones objective patterns get.
_TEXT_KEYS = (
    "adj",
    "place",
    "foe",
    "foes",
    "Foes",
    "item",
    "items",
    "Item",
    "Items",
    "clue",
    "clues",
    "landmark",
    "Landmark",
    "puzzle",
    "Puzzle",
    "faction",
    "structure",
    "guards",
    "Guards",
    "npc",
)
_OBJECTIVE_KEYS = (*_TEXT_KEYS, "n", "target")

_Pair = tuple[str, str]
_Words = tuple[str, ...]
_BANK = ConfigDict(extra="forbid", frozen=True)


def _check_pattern(text: str, keys: tuple[str, ...], where: str) -> None:
    sample: dict[str, object] = {k: "x" for k in keys}
    try:
        text.format_map(sample)
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise ValueError(f"{where}: bad placeholder in {text!r} ({exc!r})") from None


class _CategoryBank(BaseModel):
    model_config = _BANK

    titles: _Words = Field(min_length=1)
    intros: _Words = Field(min_length=1)
    hooks: _Words = Field(min_length=1)
    roles: _Words = Field(min_length=MAX_NPCS)
    dialogue: _Words = Field(min_length=3)
    objectives: dict[ObjectiveKind, _Words]
    tags: _Words = ()


class _Bank(BaseModel):
    """One language's words. Checked once at load, so a typo in the JSON fails loudly
    with its path instead of producing an invalid encounter later."""

    model_config = _BANK

    first_names: _Words = Field(min_length=MAX_NPCS)
    surnames: _Words = Field(min_length=1)
    traits: _Words = Field(min_length=3)
    title_adjectives: _Words = Field(min_length=1)
    place_adjectives: _Words = Field(min_length=1)
    place_nouns: tuple[_Pair, ...] = Field(min_length=1)
    towns: _Words = Field(min_length=1)
    landmark_nouns: _Words = Field(min_length=2)
    structures: _Words = Field(min_length=2)
    guards: _Words = Field(min_length=2)
    foes: tuple[_Pair, ...] = Field(min_length=2)
    items: tuple[_Pair, ...] = Field(min_length=2)
    clues: tuple[_Pair, ...] = Field(min_length=2)
    puzzle_adjectives: _Words = Field(min_length=1)
    puzzle_nouns: _Words = Field(min_length=2)
    factions: _Words = Field(min_length=1)
    reward_item_nouns: _Words = Field(min_length=1)
    rarity_tiers: tuple[_Words, _Words, _Words, _Words]
    difficulty_tags: tuple[str, str, str, str]
    stakes: tuple[_Words, _Words, _Words, _Words]
    greetings: _Words = Field(min_length=1)
    farewells: _Words = Field(min_length=1)
    categories: dict[Category, _CategoryBank]

    @model_validator(mode="after")
    def _complete(self) -> Self:
        missing = [c.value for c in Category if c not in self.categories]
        if missing:
            raise ValueError(f"categories: missing {', '.join(missing)}")
        for cat, cb in self.categories.items():
            where = f"categories.{cat.value}"
            if set(cb.objectives) != set(CATEGORY_KINDS[cat]):
                want = ", ".join(k.value for k in CATEGORY_KINDS[cat])
                raise ValueError(f"{where}.objectives: must have exactly the kinds {want}")
            for field in ("titles", "intros", "hooks", "dialogue"):
                for text in getattr(cb, field):
                    _check_pattern(text, _TEXT_KEYS, f"{where}.{field}")
            for kind, patterns in cb.objectives.items():
                if len(patterns) < 2:
                    raise ValueError(f"{where}.objectives.{kind.value}: needs 2+ patterns")
                for text in patterns:
                    _check_pattern(text, _OBJECTIVE_KEYS, f"{where}.objectives.{kind.value}")
                    if kind in COUNTED and "{n}" not in text:
                        raise ValueError(f"{where}.objectives.{kind.value}: {text!r} needs {{n}}")
                    if kind in NPC_TARGET and "{target}" not in text:
                        raise ValueError(
                            f"{where}.objectives.{kind.value}: {text!r} needs {{target}}"
                        )
        plain = (*self.greetings, *self.farewells, *(s for tier in self.stakes for s in tier))
        for text in plain:
            if "{" in text or "}" in text:
                raise ValueError(f"greetings, farewells and stakes take no placeholders: {text!r}")
        return self


class _BankFile(BaseModel):
    model_config = _BANK

    version: Literal[1]
    comment: str = Field(default="", alias="_comment")
    languages: dict[str, _Bank]

    @model_validator(mode="after")
    def _has_english(self) -> Self:
        if "en" not in self.languages:
            raise ValueError("languages: the 'en' word bank is required (it is the fallback)")
        return self


@cache
def _word_banks() -> dict[str, _Bank]:
    """Load and check ``wordbanks.json`` once per process."""
    raw = resources.files(__package__).joinpath("wordbanks.json").read_text(encoding="utf-8")
    return validate_model(_BankFile, json.loads(raw), "wordbanks.json").languages


def _title_case(words: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in words.split(" "))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class ProceduralGenerator:
    """Offline, deterministic encounters from word banks. See the module docstring for
    the guarantees and limits."""

    name = "procedural"

    async def generate_encounter(self, request: GenerationRequest) -> EncounterSpec:
        return self.generate(
            request.category,
            request.difficulty,
            request.player,
            seed=request.seed,
            language=request.language,
        )

    def estimate_cost(self, request: GenerationRequest) -> float:
        return 0.0

    async def check_health(self) -> bool:
        return True

    def generate(
        self,
        category: Category | str,
        difficulty: float = 0.5,
        player: PlayerContext | None = None,
        *,
        seed: int | None = None,
        language: str = "en",
    ) -> EncounterSpec:
        """One validated encounter. Raises ``ValueError`` for an unknown category, a
        difficulty outside 0.1-1.0 or a malformed language tag."""
        try:
            cat = Category(category)
        except ValueError:
            known = ", ".join(c.value for c in Category)
            raise ValueError(f"unknown category {category!r}; expected one of {known}") from None
        d = float(difficulty)
        if not 0.1 <= d <= 1.0:  # also refuses NaN
            raise ValueError(f"difficulty must be between 0.1 and 1.0, got {difficulty!r}")
        level = player.level if player is not None else 1
        if seed is None:
            seed = secrets.randbits(63)
        lang = tags.resolve_or_english(language)
        if lang == "en":
            data = _build(_word_banks()["en"], lang, cat, d, level, seed)
        else:
            data = localized.build(lang, cat, d, level, seed)
        return validate_model(EncounterSpec, data, "procedural encounter")


def _build(
    bank: _Bank, lang: str, cat: Category, d: float, level: int, seed: int
) -> dict[str, Any]:
    """The encounter as a plain dict, ready for validation."""
    rng = shape.story_rng(seed, cat)
    ch = rng.choice
    cb = bank.categories[cat]
    tier = shape.tier(d)

    def place() -> tuple[str, str]:
        u = rng.random()
        if u < 0.05:
            return ch(bank.towns), "town"
        noun, tag = ch(bank.place_nouns)
        if u < 0.3:
            return f"{ch(bank.towns)} {noun}", tag
        return f"the {ch(bank.place_adjectives)} {noun}", tag

    def landmark() -> tuple[str, str]:
        name = f"{ch(bank.place_adjectives)} {ch(bank.landmark_nouns)}"
        return f"the {name}", name

    def puzzle() -> tuple[str, str]:
        name = f"{ch(bank.puzzle_adjectives)} {ch(bank.puzzle_nouns)}"
        return f"the {name}", _title_case(name)

    where, place_tag = place()
    foe, foes = ch(bank.foes)
    item, items = ch(bank.items)
    clue, clues = ch(bank.clues)
    lm, lm_name = landmark()
    pz, pz_name = puzzle()
    guards = ch(bank.guards)
    names = [f"{first} {ch(bank.surnames)}" for first in rng.sample(bank.first_names, MAX_NPCS)]
    ctx: dict[str, object] = {
        "adj": ch(bank.title_adjectives),
        "place": where,
        "foe": foe,
        "foes": foes,
        "Foes": _title_case(foes),
        "item": item,
        "items": items,
        "Item": _title_case(item),
        "Items": _title_case(items),
        "clue": clue,
        "clues": clues,
        "landmark": lm,
        "Landmark": lm_name,
        "puzzle": pz,
        "Puzzle": pz_name,
        "faction": ch(bank.factions),
        "structure": ch(bank.structures),
        "guards": guards,
        "Guards": _title_case(guards),
        "npc": names[0],
    }
    title = _cap(ch(cb.titles).format_map(ctx))
    description = " ".join(
        (
            _cap(ch(cb.intros).format_map(ctx)),
            _cap(ch(cb.hooks).format_map(ctx)),
            ch(bank.stakes[tier]),
        )
    )

    n_npcs = shape.npc_count(rng, cat)
    roles = rng.sample(cb.roles, n_npcs)
    npcs: list[dict[str, Any]] = []
    for i in range(n_npcs):
        n_lines = rng.randint(2, 4)
        lines = [ch(bank.greetings)]
        lines += [_cap(t.format_map(ctx)) for t in rng.sample(cb.dialogue, n_lines - 1)]
        if n_lines >= 3 and rng.random() < 0.5:
            lines[-1] = ch(bank.farewells)
        npcs.append(
            {
                # named after the character, so NPC memory knows them again in the
                # next encounter they appear in (an index would mix characters up)
                "id": shape.npc_id(names[i], i),
                "name": names[i],
                "role": roles[i],
                "personality_traits": rng.sample(bank.traits, rng.randint(2, 3)),
                "dialogue": lines,
            }
        )

    # Objectives: harder encounters tend to have more of them.
    kinds = CATEGORY_KINDS[cat]
    n_required, bonus = shape.objective_count(rng, d)
    scale = shape.quantity_scale(d, level)
    used: dict[ObjectiveKind, list[str]] = {}
    objectives: list[dict[str, Any]] = []
    minutes = 0.0
    for i in range(n_required + int(bonus)):
        optional = i >= n_required
        fresh = [k for k in kinds if k not in used]
        kind = ch(fresh or kinds)
        local = dict(ctx)
        if npcs:
            local["npc"] = npcs[i % len(npcs)]["name"]
        if kind in used:  # a second objective of a kind gets new things to act on
            local["foe"], local["foes"] = ch(bank.foes)
            local["item"], local["items"] = ch(bank.items)
            local["clue"], local["clues"] = ch(bank.clues)
            local["landmark"], local["Landmark"] = landmark()
            local["puzzle"], local["Puzzle"] = puzzle()
            local["structure"] = ch(bank.structures)
            local["guards"] = ch(bank.guards)
        patterns = [p for p in cb.objectives[kind] if p not in used.get(kind, ())]
        pattern = ch(patterns)
        used.setdefault(kind, []).append(pattern)
        quantity = shape.quantity(rng, kind, scale)
        target = _target(kind, local)
        local["n"], local["target"] = quantity, target
        text = _cap(pattern.format_map(local))
        objectives.append(
            {
                "id": f"obj_{i + 1}",
                "description": f"Bonus: {text}" if optional else text,
                "kind": kind.value,
                "target": target,
                "quantity": quantity,
                "optional": optional,
            }
        )
        minutes += shape.minutes(kind, quantity, optional)

    def item_name() -> str:
        return _title_case(f"{ch(bank.rarity_tiers[tier])} {ch(bank.reward_item_nouns)}")

    rewards = shape.rewards(rng, cat, d, level, n_required, item_name, str(ctx["faction"]))
    tags = dict.fromkeys(
        (*cb.tags, place_tag, bank.difficulty_tags[tier], *(k.value for k in used))
    )
    return {
        "id": shape.encounter_id(seed, cat, d, level, lang),
        "title": title,
        "description": description,
        "category": cat.value,
        "difficulty": d,
        "estimated_duration": shape.duration(minutes, d),
        "objectives": objectives,
        "npcs": npcs,
        "rewards": rewards,
        "language": lang,
        "tags": list(tags),
        "generator": ProceduralGenerator.name,
    }


def _target(kind: ObjectiveKind, ctx: dict[str, object]) -> str:
    """What an objective acts on, as shown in ``Objective.target``."""
    if kind in (ObjectiveKind.ELIMINATE, ObjectiveKind.SURVIVE):
        value = ctx["foes"]
    elif kind is ObjectiveKind.DEFEND:
        value = ctx["structure"]
    elif kind is ObjectiveKind.AVOID_DETECTION:
        value = ctx["guards"]
    elif kind is ObjectiveKind.REACH:
        value = ctx["landmark"]
    elif kind in (ObjectiveKind.COLLECT, ObjectiveKind.DELIVER):
        value = ctx["items"]
    elif kind is ObjectiveKind.SOLVE:
        value = ctx["puzzle"]
    elif kind is ObjectiveKind.INVESTIGATE:
        value = ctx["clues"]
    else:  # talk, escort: the NPC
        value = ctx["npc"]
    return str(value)
