"""The procedural generator's non-English languages: native word banks with grammar.

Why it exists: an encounter in Spanish, German, French, Brazilian Portuguese or
Russian must read as if written in that language, not as English with the words
swapped. Each language has its own bank (``languages/<tag>.json``) of nouns with
gender (and Russian case forms), adjectives, names with gender, and sentence
patterns written natively, whose slots say which form they need (article, number,
case; see :mod:`.grammar`). The structure and numbers come from :mod:`.shape`, the
same rules the English generator follows.

Guarantees and limits:

- Deterministic per (seed, category, difficulty, level, language), like English.
- Agreement: articles, adjectives, NPC roles and traits agree with the gender and
  number of what they describe; German articles and adjectives follow case and
  declension; Russian adjectives and nouns follow case, and counted nouns follow
  the number (see :func:`.grammar.ru_count_form`).
- Tags stay English identifiers (``forest``, ``hard``, objective kinds) in every
  language: they are for filters and analytics, not for players.
- Every bank is checked once at load: every slot, flag, noun and adjective of every
  pattern is rendered with sample words, so a mistake fails with its path.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from random import Random
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..models import Category, ObjectiveKind
from ..validation import validate_model
from . import shape
from .grammar import (
    _ADJ_FLAGS,
    _NOUN_FLAGS,
    GRAMMARS,
    Adjective,
    Form,
    Gender,
    Grammar,
    Noun,
    Phrase,
    cap,
    noun_form,
    parse_flags,
)

#: The phrase slots every pattern may use; ``adj`` (a title adjective), ``n`` and the
#: bank's ``words`` are the others.
PHRASE_SLOTS = (
    "place",
    "foe",
    "item",
    "clue",
    "landmark",
    "structure",
    "guards",
    "puzzle",
    "faction",
    "npc",
)
_SLOT = re.compile(r"\{(\w+)(?::([\w.]*))?\}")
_BANK = ConfigDict(extra="forbid", frozen=True)
_Words = tuple[str, ...]


class Person(BaseModel):
    """A first name with its gender; Russian names list their case forms."""

    model_config = _BANK

    name: str
    g: Literal["m", "f"]
    forms: dict[str, str] | None = None


class _CategoryBank(BaseModel):
    model_config = _BANK

    titles: _Words = Field(min_length=1)
    intros: _Words = Field(min_length=1)
    hooks: _Words = Field(min_length=1)
    #: (masculine, feminine) role names; the NPC's gender picks one.
    roles: tuple[tuple[str, str], ...] = Field(min_length=shape.MAX_NPCS)
    dialogue: _Words = Field(min_length=3)
    objectives: dict[ObjectiveKind, _Words]
    tags: _Words = ()


class LocalBank(BaseModel):
    """One language's words and patterns (see the module docstring)."""

    model_config = _BANK

    version: Literal[1]
    comment: str = Field(default="", alias="_comment")
    language: str
    first_names: tuple[Person, ...] = Field(min_length=shape.MAX_NPCS)
    surnames: _Words = Field(min_length=1)
    traits: tuple[Adjective, ...] = Field(min_length=3)
    title_adjectives: tuple[Adjective, ...] = Field(min_length=1)
    place_adjectives: tuple[Adjective, ...] = Field(min_length=1)
    places: tuple[Noun, ...] = Field(min_length=1)
    towns: tuple[Noun, ...] = Field(min_length=1)
    #: How a place near a town is written, with ``{town:...}`` as its only slot.
    near: str
    landmarks: tuple[Noun, ...] = Field(min_length=2)
    structures: tuple[Noun, ...] = Field(min_length=2)
    guards: tuple[Noun, ...] = Field(min_length=2)
    foes: tuple[Noun, ...] = Field(min_length=2)
    foe_adjectives: tuple[Adjective, ...] = Field(min_length=1)
    items: tuple[Noun, ...] = Field(min_length=2)
    item_adjectives: tuple[Adjective, ...] = Field(min_length=1)
    clues: tuple[Noun, ...] = Field(min_length=2)
    clue_adjectives: tuple[Adjective, ...] = Field(min_length=1)
    puzzles: tuple[Noun, ...] = Field(min_length=2)
    puzzle_adjectives: tuple[Adjective, ...] = Field(min_length=1)
    factions: tuple[Noun, ...] = Field(min_length=1)
    reward_items: tuple[Noun, ...] = Field(min_length=1)
    rarity_tiers: tuple[
        tuple[Adjective, ...], tuple[Adjective, ...], tuple[Adjective, ...], tuple[Adjective, ...]
    ]
    stakes: tuple[_Words, _Words, _Words, _Words]
    greetings: _Words = Field(min_length=1)
    farewells: _Words = Field(min_length=1)
    #: Put before an optional objective, e.g. ``"Extra: "``.
    bonus: str
    #: Counted nouns patterns may use by name (``{wave:n}``).
    words: dict[str, Noun] = {}
    categories: dict[Category, _CategoryBank]

    @model_validator(mode="after")
    def _complete(self) -> Self:
        grammar = GRAMMARS.get(self.language)
        if grammar is None:
            raise ValueError(f"language: no grammar for {self.language!r}")
        missing = [c.value for c in Category if c not in self.categories]
        if missing:
            raise ValueError(f"categories: missing {', '.join(missing)}")
        _check_words(self, grammar)
        sample = _sample_story(self, grammar)
        _render(grammar, self.near, {"town": Phrase(self.towns[0])}, 2, "near")
        for cat, cb in self.categories.items():
            where = f"categories.{cat.value}"
            if set(cb.objectives) != set(shape.CATEGORY_KINDS[cat]):
                want = ", ".join(k.value for k in shape.CATEGORY_KINDS[cat])
                raise ValueError(f"{where}.objectives: must have exactly the kinds {want}")
            for field in ("titles", "intros", "hooks", "dialogue"):
                for i, text in enumerate(getattr(cb, field)):
                    _render(grammar, text, sample, 2, f"{where}.{field}[{i}]")
            for kind, patterns in cb.objectives.items():
                if len(patterns) < 2:
                    raise ValueError(f"{where}.objectives.{kind.value}: needs 2+ patterns")
                for i, text in enumerate(patterns):
                    here = f"{where}.objectives.{kind.value}[{i}]"
                    _render(grammar, text, sample, 2, here)
                    counted = "{n}" in text or any(
                        "n" in (m.group(2) or "").split(".") for m in _SLOT.finditer(text)
                    )
                    if kind in shape.COUNTED and not counted:
                        raise ValueError(f"{here}: {text!r} needs a count ({{n}} or :n)")
                    if kind in shape.NPC_TARGET and "{npc" not in text:
                        raise ValueError(f"{here}: {text!r} needs the {{npc}} it is about")
        plain = (*self.greetings, *self.farewells, *(s for tier in self.stakes for s in tier))
        for text in plain:
            if "{" in text or "}" in text:
                raise ValueError(f"greetings, farewells and stakes take no placeholders: {text!r}")
        return self


def _check_words(bank: LocalBank, grammar: Grammar) -> None:
    nouns: dict[str, tuple[Noun, ...]] = {
        "places": bank.places,
        "towns": bank.towns,
        "landmarks": bank.landmarks,
        "structures": bank.structures,
        "guards": bank.guards,
        "foes": bank.foes,
        "items": bank.items,
        "clues": bank.clues,
        "puzzles": bank.puzzles,
        "factions": bank.factions,
        "reward_items": bank.reward_items,
        "words": tuple(bank.words.values()),
    }
    for field, entries in nouns.items():
        for i, noun in enumerate(entries):
            grammar.check_noun(noun, f"{field}[{i}]")
            if field in ("foes", "items", "clues", "guards", "words") and noun.pl is None:
                raise ValueError(f"{field}[{i}]: {noun.sg!r} needs a plural")
    adjectives: dict[str, tuple[Adjective, ...]] = {
        "title_adjectives": bank.title_adjectives,
        "place_adjectives": bank.place_adjectives,
        "foe_adjectives": bank.foe_adjectives,
        "item_adjectives": bank.item_adjectives,
        "clue_adjectives": bank.clue_adjectives,
        "puzzle_adjectives": bank.puzzle_adjectives,
        **{f"rarity_tiers[{i}]": t for i, t in enumerate(bank.rarity_tiers)},
    }
    if bank.language != "de":  # German traits are predicative and never inflect
        adjectives["traits"] = bank.traits
    for field, adjs in adjectives.items():
        for i, adj in enumerate(adjs):
            try:
                grammar.check_adjective(adj, f"{field}[{i}]")
            except ValueError as exc:
                raise ValueError(f"{field}[{i}]: {exc}") from None
    if bank.language == "ru":
        for i, person in enumerate(bank.first_names):
            if person.forms is None or set(person.forms) != {"gen", "dat", "acc", "ins", "loc"}:
                raise ValueError(f"first_names[{i}]: Russian names list gen dat acc ins loc")
        for i, surname in enumerate(bank.surnames):
            if not surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
                raise ValueError(
                    f"surnames[{i}]: {surname!r} must end in -ов, -ев, -ёв, -ин or -ын"
                )


@cache
def bank(language: str) -> LocalBank:
    """Load and check ``languages/<language>.json`` once per process."""
    path = resources.files(__package__).joinpath("languages", f"{language}.json")
    where = f"languages/{language}.json"
    return validate_model(LocalBank, json.loads(path.read_text(encoding="utf-8")), where)


def languages() -> tuple[str, ...]:
    """The languages with a grammar (and so a bank)."""
    return tuple(GRAMMARS)


# --- names --------------------------------------------------------------------------------

_RU_SURNAME = {
    "m": {"nom": "", "gen": "а", "dat": "у", "acc": "а", "ins": "ым", "loc": "е"},
    "f": {"nom": "а", "gen": "ой", "dat": "ой", "acc": "у", "ins": "ой", "loc": "ой"},
}


def person_noun(language: str, person: Person, surname: str) -> Noun:
    """An NPC's full name as a proper noun of the person's gender. Russian names
    decline: the first name from its listed forms, the surname (-ов, -ин) by rule."""
    if language != "ru" or person.forms is None:
        return Noun(sg=f"{person.name} {surname}", g=person.g, anim=True, proper=True)
    forms = {"nom": person.name, **person.forms}
    ends = _RU_SURNAME[person.g]
    full = {case: f"{forms[case]} {surname}{ends[case]}" for case in ends}
    return Noun(sg=full, pl=None, g=person.g, anim=True, proper=True)


# --- rendering ----------------------------------------------------------------------------


def _render(
    grammar: Grammar,
    text: str,
    slots: dict[str, Any],
    count: int,
    where: str,
) -> str:
    """Fill a pattern's slots. ``slots`` maps names to :class:`Phrase` objects, an
    adjective under ``adj``, and plain strings (``target``)."""

    def one(match: re.Match[str]) -> str:
        name, flags = match.group(1), match.group(2) or ""
        if name == "n":
            return str(count)
        if name not in slots:
            raise ValueError(f"{where}: unknown slot {{{name}}} in {text!r}")
        value = slots[name]
        if name == "adj":
            fl = _flags(flags, _ADJ_FLAGS)
            g: Gender = "f" if "f" in fl else "n" if "n" in fl else "m"
            number = "pl" if "pl" in fl else "sg"
            case = next((c for c in grammar.cases if c in fl), "nom")
            decl = next((x for x in ("weak", "mixed", "strong") if x in fl), "weak")
            word = grammar.adjective(value, g, number, case, decl)
            return cap(word) if "cap" in fl else word
        if isinstance(value, str):
            return value
        form = _form(flags)
        if form.case not in grammar.cases:
            raise ValueError(f"{where}: {grammar.language} has no case {form.case!r}")
        return grammar.render(value, form, count)

    try:
        return grammar.fix(_SLOT.sub(one, text))
    except (ValueError, KeyError) as exc:
        raise ValueError(f"{where}: {exc}") from None


@cache
def _flags(flags: str, allowed: frozenset[str]) -> frozenset[str]:
    """Parsed slot flags (patterns repeat: parsed once per process)."""
    return parse_flags(flags, allowed, "slot")


@cache
def _form(flags: str) -> Form:
    return noun_form(_flags(flags, _NOUN_FLAGS))


def _sample_story(b: LocalBank, grammar: Grammar) -> dict[str, Any]:
    person = person_noun(b.language, b.first_names[0], b.surnames[0])
    slots: dict[str, Any] = {
        "place": Phrase(b.places[0], b.place_adjectives[0]),
        "foe": Phrase(b.foes[0], b.foe_adjectives[0]),
        "item": Phrase(b.items[0], b.item_adjectives[0]),
        "clue": Phrase(b.clues[0], b.clue_adjectives[0]),
        "landmark": Phrase(b.landmarks[0], b.place_adjectives[0]),
        "structure": Phrase(b.structures[0]),
        "guards": Phrase(b.guards[0]),
        "puzzle": Phrase(b.puzzles[0], b.puzzle_adjectives[0]),
        "faction": Phrase(b.factions[0]),
        "npc": Phrase(person),
        "adj": b.title_adjectives[0],
        "target": "x",
    }
    slots.update({name: Phrase(noun) for name, noun in b.words.items()})
    return slots


class _Story:
    """The words one encounter uses, drawn from the bank in a fixed order."""

    def __init__(self, b: LocalBank, grammar: Grammar, rng: Random) -> None:
        self.b, self.g, self.rng = b, grammar, rng

    def maybe_adj(self, noun: Noun, adjectives: tuple[Adjective, ...], chance: float) -> Phrase:
        adj = self.rng.choice(adjectives) if self.rng.random() < chance else None
        return Phrase(noun, adj)

    def place(self) -> Phrase:
        ch, b = self.rng.choice, self.b
        u = self.rng.random()
        if u < 0.05:
            return Phrase(ch(b.towns))
        noun = ch(b.places)
        if u < 0.3:
            tail = _render(self.g, b.near, {"town": Phrase(ch(b.towns))}, 0, "near")
            return Phrase(noun, tail=tail)
        return Phrase(noun, ch(b.place_adjectives))

    def things(self) -> dict[str, Phrase]:
        ch, b = self.rng.choice, self.b
        return {
            "foe": self.maybe_adj(ch(b.foes), b.foe_adjectives, 0.6),
            "item": self.maybe_adj(ch(b.items), b.item_adjectives, 0.6),
            "clue": self.maybe_adj(ch(b.clues), b.clue_adjectives, 0.7),
            "landmark": Phrase(ch(b.landmarks), ch(b.place_adjectives)),
            "puzzle": Phrase(ch(b.puzzles), ch(b.puzzle_adjectives)),
            "structure": Phrase(ch(b.structures)),
            "guards": Phrase(ch(b.guards)),
        }


def _target(grammar: Grammar, kind: ObjectiveKind, slots: dict[str, Any]) -> str:
    """What an objective acts on, as shown in ``Objective.target``: countable things
    in the bare nominative plural, everything else in the nominative singular."""
    bare_pl = noun_form(frozenset({"bare", "pl"}))
    nominative = noun_form(frozenset({"def"}))
    slot, form = {
        ObjectiveKind.ELIMINATE: ("foe", bare_pl),
        ObjectiveKind.SURVIVE: ("foe", bare_pl),
        ObjectiveKind.DEFEND: ("structure", nominative),
        ObjectiveKind.AVOID_DETECTION: ("guards", nominative),
        ObjectiveKind.REACH: ("landmark", nominative),
        ObjectiveKind.COLLECT: ("item", bare_pl),
        ObjectiveKind.DELIVER: ("item", bare_pl),
        ObjectiveKind.SOLVE: ("puzzle", nominative),
        ObjectiveKind.INVESTIGATE: ("clue", bare_pl),
    }.get(kind, ("npc", nominative))
    if slot == "guards":  # guards are a group: plural with its article
        form = noun_form(frozenset({"def", "pl"}))
    return grammar.fix(grammar.render(slots[slot], form))


def build(language: str, cat: Category, d: float, level: int, seed: int) -> dict[str, Any]:
    """The encounter as a plain dict, ready for validation."""
    b = bank(language)
    grammar = GRAMMARS[language]
    rng = shape.story_rng(seed, cat)
    ch = rng.choice
    cb = b.categories[cat]
    tier = shape.tier(d)
    story = _Story(b, grammar, rng)

    people = rng.sample(b.first_names, shape.MAX_NPCS)
    npc_nouns = [person_noun(language, p, ch(b.surnames)) for p in people]
    slots: dict[str, Any] = {
        "place": story.place(),
        **story.things(),
        "faction": Phrase(ch(b.factions)),
        "npc": Phrase(npc_nouns[0]),
        "adj": ch(b.title_adjectives),
        **{name: Phrase(noun) for name, noun in b.words.items()},
    }

    def fill(text: str, local: dict[str, Any], count: int = 2) -> str:
        return cap(_render(grammar, text, local, count, language))

    title = fill(ch(cb.titles), slots)
    description = " ".join(
        (fill(ch(cb.intros), slots), fill(ch(cb.hooks), slots), ch(b.stakes[tier]))
    )

    nominative = noun_form(frozenset())
    names = [grammar.render(Phrase(n), nominative) for n in npc_nouns]
    n_npcs = shape.npc_count(rng, cat)
    roles = rng.sample(cb.roles, n_npcs)
    npcs: list[dict[str, Any]] = []
    for i in range(n_npcs):
        gender = people[i].g
        n_lines = rng.randint(2, 4)
        lines = [ch(b.greetings)]
        lines += [fill(t, slots) for t in rng.sample(cb.dialogue, n_lines - 1)]
        if n_lines >= 3 and rng.random() < 0.5:
            lines[-1] = ch(b.farewells)
        traits = rng.sample(b.traits, rng.randint(2, 3))
        npcs.append(
            {
                "id": shape.npc_id(names[i], i),
                "name": names[i],
                "role": roles[i][0 if gender == "m" else 1],
                "personality_traits": [_trait(grammar, t, gender) for t in traits],
                "dialogue": lines,
            }
        )

    kinds = shape.CATEGORY_KINDS[cat]
    n_required, bonus = shape.objective_count(rng, d)
    scale = shape.quantity_scale(d, level)
    used: dict[ObjectiveKind, list[str]] = {}
    objectives: list[dict[str, Any]] = []
    minutes = 0.0
    for i in range(n_required + int(bonus)):
        optional = i >= n_required
        fresh = [k for k in kinds if k not in used]
        kind = ch(fresh or kinds)
        local = dict(slots)
        if npcs:
            local["npc"] = Phrase(npc_nouns[i % len(npcs)])
        if kind in used:  # a second objective of a kind gets new things to act on
            local.update(story.things())
        patterns = [p for p in cb.objectives[kind] if p not in used.get(kind, ())]
        pattern = ch(patterns)
        used.setdefault(kind, []).append(pattern)
        count = shape.quantity(rng, kind, scale)
        target = _target(grammar, kind, local)
        local["target"] = target
        text = fill(pattern, local, count)
        objectives.append(
            {
                "id": f"obj_{i + 1}",
                "description": f"{b.bonus}{text}" if optional else text,
                "kind": kind.value,
                "target": target,
                "quantity": count,
                "optional": optional,
            }
        )
        minutes += shape.minutes(kind, count, optional)

    def item_name() -> str:
        noun = ch(b.reward_items)
        adj = ch(b.rarity_tiers[tier])
        return grammar.render(Phrase(noun, adj), noun_form(frozenset({"name"})))

    faction = cap(grammar.fix(grammar.render(slots["faction"], noun_form(frozenset({"bare"})))))
    rewards = shape.rewards(rng, cat, d, level, n_required, item_name, faction)
    place: Phrase = slots["place"]
    place_tag = place.noun.tag or "town"
    tags = dict.fromkeys(
        (*cb.tags, place_tag, ("easy", "normal", "hard", "heroic")[tier], *(k.value for k in used))
    )
    return {
        "id": shape.encounter_id(seed, cat, d, level, language),
        "title": title,
        "description": description,
        "category": cat.value,
        "difficulty": d,
        "estimated_duration": shape.duration(minutes, d),
        "objectives": objectives,
        "npcs": npcs,
        "rewards": rewards,
        "language": language,
        "tags": list(tags),
        "generator": "procedural",
    }


def _trait(grammar: Grammar, trait: Adjective, gender: Literal["m", "f"]) -> str:
    if isinstance(trait, str) and grammar.language == "de":
        return trait
    return grammar.adjective(trait, gender, "sg", "nom", "")
