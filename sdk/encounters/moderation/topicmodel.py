"""The offline topic model: a small linear classifier for harm topics (``hate``,
``sexual``, ``self_harm``, ``violence``) that catches phrasing the word lists miss
("nobody would even notice if i was gone", "i know where you live, watch yourself").

It runs after the word lists, on every text (a blocked line gets all its topics), needs no download
and no provider: the weights ship in ``data/topic_model.json``. The model is one
logistic regression per topic over word features of the folded text (the same
skeleton the word lists see, so obfuscation is already undone):

- words (``w:kill``), with numbers as ``#`` (function words such as ``the`` and ``all``
  only in pairs);
- pairs of neighbouring words (``b:kill yourself``);
- word beginnings (``p:immig``), so unseen endings of a known word count;
- hand-written word classes present in the text (``c:REAL`` for home, school,
  tonight...; ``c:GAME`` for spawn, base, boss...; see ``WORD_CLASSES``) and pairs of
  them (``cc:REAL+THREAT``), so a threat verb learnt next to one home word counts next
  to another, and the same verbs about a game place do not (used by the sexual and
  violence models).

A text is given a topic when its score passes that topic's threshold, chosen when the
model was trained so that ordinary and role-play game chat is almost never flagged.
Scoring is a few dictionary lookups per word (a few microseconds per message).

Trained by ``tools/moderation_corpus/train_topic_model.py`` on the tuning split of the
evaluation corpus and lines written for training (never the held-out split); method and
figures in docs/moderation.md.

Limits: a linear model over words knows no grammar. It learns which words and pairs
go with harm in its training lines; new phrasing with none of those words is missed,
and a game line built from harm words and no game words can be flagged.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from operator import truediv
from pathlib import Path

#: Topics the shipped model knows.
MODEL_TOPICS = ("hate", "sexual", "self_harm", "violence")
_WORD = re.compile(r"[^\W_]+")
_DIGIT = re.compile(r"\d")
#: Word beginnings of this many letters are a feature (words longer than this).
PREFIX = 5
#: Words whose weights a model remembers (see :meth:`TopicModel._word_row`); the memory
#: is emptied when full, so a flood of made-up words cannot grow it.
_MAX_REMEMBERED_WORDS = 50_000
#: Marks a word not yet remembered (no row of weights is empty).
_UNSEEN: tuple[float, ...] = ()


#: ASCII letters and digits kept, every other ASCII character a space (see _words).
_ASCII_WORDS = bytes.maketrans(
    bytes(c for c in range(128) if not chr(c).isalnum()),
    b" " * sum(not chr(c).isalnum() for c in range(128)),
)


def _words(skeleton: str) -> list[str]:
    """The words of a folded text: runs of letters and digits (an apostrophe joins
    ``don't`` into ``dont``), numbers as ``#``. ASCII text is split by C-level
    ``bytes`` methods, which find the same words as ``_WORD`` (see ``_words_full``)."""
    if not skeleton.isascii():
        return _words_full(skeleton)
    words = skeleton.encode("ascii").translate(_ASCII_WORDS, b"'").decode("ascii").split()
    if _DIGIT.search(skeleton):
        words = ["#" if w.isdigit() else w for w in words]
    return words


def _words_full(skeleton: str) -> list[str]:
    """:func:`_words` by regex, for any text."""
    words = _WORD.findall(skeleton.replace("'", "") if "'" in skeleton else skeleton)
    if _DIGIT.search(skeleton):
        words = ["#" if w.isdigit() else w for w in words]
    return words


#: Function words have no weight of their own (they gather chance weight from harm
#: lines and flag long, ordinary sentences); they count in word pairs (``all the``).
STOP_WORDS = frozenset((
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "and", "or", "is", "are", "was",
    "were", "be", "been", "it", "its", "this", "that", "these", "those", "with", "from", "by",
    "as", "all", "some", "any", "so", "than", "then", "there", "here",
))  # fmt: skip


#: Hand-written word classes. A linear model learns from a few lines that a threat
#: verb next to a home or a school is harm and next to a spawn or a boss is game talk,
#: and carries that to words of the same class it never saw in such a line. Each
#: class present in a text is a feature (``c:REAL``), and so is each pair of classes
#: present together (``cc:REAL+THREAT``, names in sorted order).
WORD_CLASSES: dict[str, str] = {
    "REAL": """irl real life house home homes address street school schools class classroom
        work job office mom mum mother dad father family parents sister brother wife husband
        girlfriend boyfriend car tomorrow tonight monday tuesday wednesday thursday friday
        saturday sunday neighborhood neighbourhood city town door doors window bedroom
        apartment teacher teachers church mall hospital bus walk live lives sleep sleeping
        grandma grandpa dog cat pet neighbors neighbours yard driveway""",
    "THREAT": """kill killing killed kills shoot shooting shot stab stabbing stabbed hurt
        beat beating murder murdered strangle choke choking burn burning bomb bombing find
        follow followed following watch watching watched visit slit gut cut torture
        bleed bleeding smash break skin behead hang rape raping kidnap kidnapped stalk
        stalking strangled die dead death blood""",
    "WEAPON": """gun guns knife knives rifle glock ar15 bat machete pistol shotgun blade
        axe hammer bullet bullets ammo explosive explosives pipe gas acid rope uzi ak47
        ak ar loaded piece""",
    "GAME": """spawn spawns spawnpoint base raid raiding boss respawn arena pvp pve match
        round rounds lobby server mob mobs npc npcs quest level lvl gg noob team teammate
        teammates squad map loot dungeon clan guild headshot frag camp camping kd elo rank
        ranked game games play playing player players character char avatar skin build
        craft minecraft gmod creeper zombie zombies enemy enemies hp mana xp inventory
        fortnite valorant rp roleplay ooc faction dragon orc goblin sword bow spell
        villager village kit nerf buff ult respawned killfeed tdm ffa scrim bot bots
        realm dps tank healer""",
    "SEXUAL": """wet naughty erp ride riding slut thicc booty pp inside please hookup hook
        photos video videos pictures nsfw lewd kinky kink fetish bj blowjob handjob penis
        vagina titties breasts sperm condom cuddle spank seduce bedroom sex sexy
        sexual nude nudes naked pics pic boobs tits dick cock pussy horny
        suck sucking lick licking touch touching kiss kissing undress clothes underwear bra
        panties thong porn cum cumming orgasm moan moaning virgin body bed daddy babe
        sext sexting hot thick ass butt feet legs lap strip stripping shower bath""",
    "MINOR": """sweetie sweety kiddo princess cutie old age
        kid kids child children young younger little underage minor minors teen
        teens girl girls boy boys daughter son grade middle elementary 12yo 13yo 14yo
        baby""",
    "CONTACT": """camera lock hotel irl
        snap snapchat sc discord dm dms pm pms whatsapp insta instagram telegram
        kik number meet meetup private alone secret secrets tell webcam cam facetime
        call""",
    "BRIBE": """pay paying robux vbucks money cash gift gifts candy free reward paypal
        giftcard""",
    "YOU": "u you ur your youre yourself ya yall urself",
}
#: word -> the classes it belongs to
_CLASS_OF: dict[str, tuple[str, ...]] = {}
for _name, _members in WORD_CLASSES.items():
    for _w in _members.split():
        if _name not in _CLASS_OF.get(_w, ()):
            _CLASS_OF[_w] = (*_CLASS_OF.get(_w, ()), _name)


def _share(weight: float, pair: float, gap: float) -> float:
    """What a word can add to a topic (its weight and the largest weight of a pair it
    starts) as a share of the topic's gap (see :meth:`TopicModel.topics_in`)."""
    return (weight + pair) / gap


def _class_set(words: list[str]) -> frozenset[str]:
    """The classes present in ``words``."""
    return frozenset(itertools.chain.from_iterable(filter(None, map(_CLASS_OF.get, words))))


def _classes(words: list[str]) -> list[str]:
    """The classes present in ``words``, sorted."""
    return sorted(_class_set(words))


def features(skeleton: str) -> list[str]:
    """The feature names of a folded text (see the module docstring)."""
    words = _words(skeleton)
    out = [f"w:{w}" for w in words if w not in STOP_WORDS]
    out += [f"p:{w[:PREFIX]}" for w in words if len(w) > PREFIX]
    out += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    classes = _classes(words)
    out += [f"c:{c}" for c in classes]
    out += [f"cc:{a}+{b}" for a, b in itertools.combinations(classes, 2)]
    return out


#: Weights of words, of word beginnings, of word pairs, of classes and of class pairs,
#: apart, so a text is scored by C-level lookups without building feature names.
_Tables = tuple[
    dict[str, tuple[float, ...]],
    dict[str, tuple[float, ...]],
    dict[tuple[str, str], tuple[float, ...]],
    dict[str, tuple[float, ...]],
    dict[tuple[str, str], tuple[float, ...]],
]


def _tables(weights: dict[str, tuple[float, ...]]) -> _Tables:
    words: dict[str, tuple[float, ...]] = {}
    starts: dict[str, tuple[float, ...]] = {}
    pairs: dict[tuple[str, str], tuple[float, ...]] = {}
    classes: dict[str, tuple[float, ...]] = {}
    class_pairs: dict[tuple[str, str], tuple[float, ...]] = {}
    for name, values in weights.items():
        kind, key = name[:2], name[2:]
        if kind == "cc" and name[2:3] == ":" and name[3:].count("+") == 1:
            a, b = name[3:].split("+")
            if a not in WORD_CLASSES or b not in WORD_CLASSES or a >= b:
                raise ValueError(f"topic model: unknown feature {name!r}")
            class_pairs[a, b] = values
        elif kind == "c:":
            if key not in WORD_CLASSES:
                raise ValueError(f"topic model: unknown feature {name!r}")
            classes[key] = values
        elif kind == "w:":
            if key not in STOP_WORDS:  # see STOP_WORDS: never a feature
                words[key] = values
        elif kind == "p:":
            starts[key] = values
        elif kind == "b:" and key.count(" ") == 1:
            a, b = key.split(" ")
            pairs[a, b] = values
        else:
            raise ValueError(f"topic model: unknown feature {name!r}")
    return words, starts, pairs, classes, class_pairs


@dataclass(frozen=True)
class TopicModel:
    """One linear scorer per topic: ``bias + sum(weights of the text's features)``,
    compared with the topic's threshold (both in log-odds)."""

    topics: tuple[str, ...]
    bias: tuple[float, ...]
    thresholds: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]
    _tables: _Tables = field(init=False, repr=False, compare=False)
    #: word -> the weights it brings by itself (see :meth:`_word_row`)
    _word_rows: dict[str, tuple[float, ...] | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    #: word -> the most it can add to any one topic, as a share of that topic's gap
    #: between bias and threshold (see :meth:`topics_in`)
    _word_ceilings: dict[str, float] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    #: word -> per topic, the largest weight (or 0) of a word pair it starts
    _pair_ceilings: dict[str, tuple[float, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    #: classes present in a text -> the weights their features bring (at most 2**9 sets)
    _class_rows: dict[frozenset[str], tuple[float, ...] | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    #: per topic, its threshold less its bias (what its features must add up to)
    _gaps: tuple[float, ...] = field(init=False, repr=False, compare=False, default=())
    #: texts whose words' ceilings add up to less than this reach no threshold
    _out_of_reach: float = field(init=False, repr=False, compare=False, default=0.0)

    def __post_init__(self) -> None:
        tables = _tables(self.weights)
        object.__setattr__(self, "_tables", tables)
        zero = (0.0,) * len(self.topics)
        for (first, _), row in tables[2].items():
            known = self._pair_ceilings.get(first, zero)
            self._pair_ceilings[first] = tuple(map(max, known, row))
        gaps = tuple(t - b for t, b in zip(self.thresholds, self.bias, strict=True))
        object.__setattr__(self, "_gaps", gaps)
        # ceilings are shares of the gaps: 1 less a margin far above the rounding error
        # of adding up a few dozen weights. A topic that needs no weight to be reached
        # (a gap of 0 or less) leaves nothing out of reach.
        reachable = bool(gaps) and min(gaps) > 0
        object.__setattr__(self, "_out_of_reach", 1 - 1e-6 if reachable else -math.inf)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TopicModel:
        topics = tuple(str(t) for t in data["topics"])  # type: ignore[attr-defined]
        n = len(topics)

        def row(value: object) -> tuple[float, ...]:
            values = tuple(float(v) for v in value)  # type: ignore[attr-defined]
            if len(values) != n or not all(math.isfinite(v) for v in values):
                raise ValueError(f"topic model: expected {n} finite numbers, got {value!r}")
            return values

        weights = {str(k): row(v) for k, v in data["weights"].items()}  # type: ignore[attr-defined]
        return cls(topics, row(data["bias"]), row(data["thresholds"]), weights)

    @classmethod
    def load(cls, path: str | Path | None = None) -> TopicModel:
        """The model in ``path``, or the shipped one."""
        if path is None:
            text = resources.files(__package__).joinpath("data/topic_model.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return cls.from_json(json.loads(text))

    def to_json(self) -> dict[str, object]:
        return {
            "topics": list(self.topics),
            "bias": list(self.bias),
            "thresholds": list(self.thresholds),
            "weights": {k: list(v) for k, v in sorted(self.weights.items())},
        }

    def _word_row(self, word: str) -> tuple[float, ...] | None:
        """The weights one word brings by itself: as a word, and by its beginning."""
        by_word, by_start = self._tables[0], self._tables[1]
        rows = [by_word.get(word), by_start.get(word[:PREFIX]) if len(word) > PREFIX else None]
        found = [r for r in rows if r]
        if not found:
            return None
        return found[0] if len(found) == 1 else tuple(map(sum, zip(*found, strict=True)))

    def _learn(self, word: str) -> tuple[tuple[float, ...] | None, float]:
        """The row and the ceiling of ``word`` (see :meth:`topics_in`), remembered. Full
        memory is emptied first: a flood of made-up words cannot grow it. Callers use
        the values returned, not the memory, which another thread may empty."""
        if len(self._word_rows) >= _MAX_REMEMBERED_WORDS:
            self._word_rows.clear()
            self._word_ceilings.clear()
        zero = (0.0,) * len(self.topics)
        row = self._word_row(word)
        pairs = self._pair_ceilings.get(word, zero)
        # no ceiling counts when nothing is out of reach (a gap may be 0 there)
        ceiling = (
            max(map(_share, row or zero, pairs, self._gaps)) if self._out_of_reach > 0 else 0.0
        )
        self._word_rows[word] = row
        self._word_ceilings[word] = ceiling
        return row, ceiling

    def _found(
        self, words: list[str], classes: tuple[float, ...] | None = _UNSEEN
    ) -> list[tuple[float, ...]]:
        """The weight rows of the features of ``words`` that the model knows: one per
        word that has weight (its word and beginning features added up), one per known
        pair of neighbouring words, one for the classes of the words (``classes``, when
        known already). Each word's row is remembered: chat repeats its
        words, so a word costs one lookup."""
        try:  # every word known (topics_in has learnt them): no sentinel to look for
            rows = list(map(self._word_rows.__getitem__, words))
        except KeyError:
            rows = [
                r if (r := self._word_rows.get(w, _UNSEEN)) is not _UNSEEN else self._learn(w)[0]
                for w in words
            ]
        found = [
            *filter(None, rows),
            *filter(None, map(self._tables[2].get, itertools.pairwise(words))),
        ]
        if classes is _UNSEEN:
            classes = self._class_row(_class_set(words))
        if classes:
            found.append(classes)
        return found

    def _class_row(self, classes: frozenset[str]) -> tuple[float, ...] | None:
        """The weights the class features of a text bring, added up (remembered per set
        of classes: there are few)."""
        row = self._class_rows.get(classes, _UNSEEN)
        if row is _UNSEEN:
            names = sorted(classes)
            rows = [
                *filter(None, map(self._tables[3].get, names)),
                *filter(None, map(self._tables[4].get, itertools.combinations(names, 2))),
            ]
            row = tuple(map(sum, zip(*rows, strict=True))) if rows else None
            self._class_rows[classes] = row
        return row

    def _totals(self, words: list[str], classes: tuple[float, ...] | None = _UNSEEN) -> map[float]:
        return map(sum, zip(self.bias, *self._found(words, classes), strict=True))

    def scores(self, skeleton: str) -> dict[str, float]:
        """Log-odds per topic for a folded text: the bias plus the weights of its
        features (see :func:`features`)."""
        return dict(zip(self.topics, self._totals(_words(skeleton)), strict=True))

    def topics_in(self, skeleton: str) -> set[str]:
        """The topics whose score reaches their threshold.

        Most chat is far from every threshold, and that is known before any score is
        added up: each word has a ceiling, the most it can add to any topic (its own
        weights plus the largest weight of a pair it starts) as a share of that topic's
        gap between bias and threshold. When the ceilings of a text's words add up to
        less than 1, every topic's features add up to less than its gap, so no topic
        can be reached (one C-level ``sum``). The classes of its words (see
        ``WORD_CLASSES``) add their weights once per text, so their largest share is
        added to the ceilings only when a class word is there."""
        words = _words(skeleton)
        # a word not seen before counts as NaN, which makes the sum NaN (weights are finite)
        reach = sum(map(self._word_ceilings.get, words, itertools.repeat(math.nan)))
        if math.isnan(reach):
            reach = sum(
                c if (c := self._word_ceilings.get(w)) is not None else self._learn(w)[1]
                for w in words
            )
        classes: tuple[float, ...] | None = _UNSEEN
        if reach < self._out_of_reach:
            if _CLASS_OF.keys().isdisjoint(words):
                return set()
            classes = self._class_row(_class_set(words))
            if (
                classes is None
                or reach + max(map(truediv, classes, self._gaps)) < self._out_of_reach
            ):
                return set()
        # what self._totals(words, classes) gives, without its call
        totals = map(sum, zip(self.bias, *self._found(words, classes), strict=True))
        return {
            topic
            for topic, total, limit in zip(self.topics, totals, self.thresholds, strict=True)
            if total >= limit
        }


@lru_cache(maxsize=1)
def default_model() -> TopicModel:
    """The shipped model, read once."""
    return TopicModel.load()
