"""Noun phrases with agreement, for the procedural generator's non-English word banks.

Why it exists: a Spanish, German, French, Portuguese or Russian encounter cannot be
made by pasting words into English-shaped sentences. Articles and adjectives agree
with the noun's gender and number (es, pt, fr, de), German articles and adjective
endings follow case and declension, and Russian adjectives and nouns take case
endings, with numbers governing the case of what they count. This module holds
those rules; the word banks (``languages/*.json``) hold the words and their gender,
and the sentence patterns say which form each slot needs.

A slot in a pattern is ``{name}`` or ``{name:flags}``, flags joined by dots:

- article: ``def`` (the default for common nouns), ``indef``, ``bare`` (none);
  ``name`` is ``bare`` with a capital first letter (for titles and labels);
- number: ``sg`` (default), ``pl``, or ``n``: the objective's quantity in digits
  followed by the phrase in the form that number needs (``5 lobos hambrientos``,
  ``5 hungrige Wölfe``, ``5 голодных волков``);
- case (German ``nom acc dat``; Russian ``nom acc gen dat ins loc``): default ``nom``;
- ``in``: the noun's own locative preposition in front (``en``/``em``/``dans``/
  ``in``/``в`` by default, ``auf``/``на``/``sur`` where the bank says so), with the
  case that preposition governs;
- ``cap``: capital first letter.

The title adjective slot ``{adj:...}`` takes a gender (``m f n``), number and case
instead, and in German a declension (``weak`` after der/die/das, ``mixed`` after
ein, ``strong`` with no article), because the noun it goes with is written in the
pattern itself.

Limits, on purpose: Romance adjectives always follow the noun (no ``vieil``/``bel``
forms); French elision treats every initial vowel and ``h`` as elidable, so the banks
avoid aspirated-h words; German never uses the genitive; Russian adjectives must
end in ``-ый``, ``-ой`` or a ``-ий`` after к, г or х (soft and hushing ``-ий``
adjectives are refused at load), and nouns list their case forms explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

Gender = Literal["m", "f", "n"]
CASES = ("nom", "acc", "gen", "dat", "ins", "loc")
_ARTICLES = frozenset({"def", "indef", "bare", "name"})
_NUMBERS = frozenset({"sg", "pl", "n"})
_DECLENSIONS = frozenset({"weak", "mixed", "strong"})
_ADJ_FLAGS = frozenset({"m", "f", "n", "sg", "pl", "cap", *CASES, *_DECLENSIONS})
_NOUN_FLAGS = frozenset({*_ARTICLES, *_NUMBERS, *CASES, "in", "cap"})

Forms = str | dict[str, str]


class Noun(BaseModel):
    """A noun from a word bank. ``sg``/``pl`` are one string (es, pt, fr, de) or a
    case -> form map (ru). ``tail`` is invariant text after the noun (``de la
    aldea``); ``adj`` a fixed adjective. ``loc`` overrides the language's locative
    preposition; ``obl`` is a German weak masculine's singular outside the
    nominative (``Bären``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sg: Forms
    pl: Forms | None = None
    g: Gender
    anim: bool = False
    proper: bool = False
    tag: str | None = None
    loc: str | None = None
    obl: str | None = None
    tail: str | None = None
    adj: str | tuple[str, ...] | None = None


Adjective = str | tuple[str, ...]


@dataclass(frozen=True)
class Phrase:
    """A noun with at most one adjective and an invariant tail."""

    noun: Noun
    adj: Adjective | None = None
    tail: str | None = None


@dataclass(frozen=True)
class Form:
    """What a slot asks for."""

    article: str = "def"
    number: str = "sg"
    case: str = "nom"
    locative: bool = False
    cap: bool = False


def parse_flags(flags: str, allowed: frozenset[str], where: str) -> frozenset[str]:
    out = frozenset(f for f in flags.split(".") if f)
    unknown = out - allowed
    if unknown:
        raise ValueError(f"{where}: unknown flag(s) {', '.join(sorted(unknown))}")
    return out


def noun_form(flags: frozenset[str]) -> Form:
    article = next((f for f in ("indef", "bare", "name") if f in flags), "def")
    number = next((f for f in ("pl", "n") if f in flags), "sg")
    case = next((c for c in CASES if c in flags), "nom")
    return Form(article, number, case, "in" in flags, "cap" in flags or article == "name")


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class Grammar:
    """One language's rules. Subclasses fill in the tables."""

    language: str = ""
    cases: tuple[str, ...] = ("nom",)
    default_in: str = ""

    def check_noun(self, noun: Noun, where: str) -> None:
        for number in ("sg", "pl"):
            forms = getattr(noun, number)
            if isinstance(forms, dict):
                raise ValueError(f"{where}: {self.language} nouns take one form per number")

    def check_adjective(self, adj: Adjective, where: str) -> None:
        self.adjective(adj, "m", "sg", "nom", "weak")

    def adjective(self, adj: Adjective, g: Gender, number: str, case: str, decl: str) -> str:
        raise NotImplementedError

    def phrase(self, p: Phrase, form: Form, count: int | None = None) -> str:
        raise NotImplementedError

    def fix(self, text: str) -> str:
        """Contractions and elisions over a filled sentence."""
        return text

    def render(self, p: Phrase, form: Form, count: int | None = None) -> str:
        text = self.phrase(p, form, count)
        return cap(text) if form.cap else text


def _sub_all(text: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, repl in rules:
        text = pattern.sub(repl, text)
    return text


def _rules(pairs: Mapping[str, str]) -> list[tuple[re.Pattern[str], str]]:
    """Word-pair contractions, applied to lower- and capitalised forms."""
    out: list[tuple[re.Pattern[str], str]] = []
    for src, dst in pairs.items():
        out.append((re.compile(rf"\b{src}\b"), dst))
        out.append((re.compile(rf"\b{cap(src)}\b"), cap(dst)))
    return out


# --- Spanish, Portuguese, French --------------------------------------------------------


class Romance(Grammar):
    """Article + noun + adjective + tail, all agreeing in gender and number."""

    definite: ClassVar[dict[tuple[str, str], str]] = {}
    indefinite: ClassVar[dict[tuple[str, str], str]] = {}
    contractions: ClassVar[list[tuple[re.Pattern[str], str]]] = []

    def four(self, adj: Adjective) -> tuple[str, str, str, str]:
        """(m sg, f sg, m pl, f pl)."""
        if isinstance(adj, tuple | list):
            if len(adj) != 4:
                raise ValueError(f"adjective {adj!r}: give 4 forms (m sg, f sg, m pl, f pl)")
            return (adj[0], adj[1], adj[2], adj[3])
        return self.regular(adj)

    def regular(self, adj: str) -> tuple[str, str, str, str]:
        if adj.endswith("o"):
            return (adj, adj[:-1] + "a", adj + "s", adj[:-1] + "as")
        if adj.endswith("e"):
            return (adj, adj, adj + "s", adj + "s")
        raise ValueError(f"adjective {adj!r}: not regular; give its 4 forms")

    def adjective(self, adj: Adjective, g: Gender, number: str, case: str, decl: str) -> str:
        forms = self.four(adj)
        return forms[(0 if g != "f" else 1) + (2 if number == "pl" else 0)]

    def noun_text(self, noun: Noun, number: str) -> str:
        text = noun.pl if number == "pl" else noun.sg
        if not isinstance(text, str):
            raise ValueError(f"noun {noun.sg!r} has no {number} form")
        return text

    def phrase(self, p: Phrase, form: Form, count: int | None = None) -> str:
        noun = p.noun
        number = "pl" if form.number in ("pl", "n") else "sg"
        words = [self.noun_text(noun, number)]
        adj = p.adj if p.adj is not None else noun.adj
        if adj is not None:
            words.append(self.adjective(adj, noun.g, number, "nom", ""))
        tail = p.tail or noun.tail
        if tail:
            words.append(tail)
        if form.number == "n":
            words.insert(0, str(count))
        elif not noun.proper and form.article in ("def", "indef"):
            table = self.definite if form.article == "def" else self.indefinite
            article = table[("f" if noun.g == "f" else "m", number)]
            if article:
                words.insert(0, article)
        if form.locative:
            words.insert(0, noun.loc or self.default_in)
        return " ".join(words)

    def fix(self, text: str) -> str:
        return _sub_all(text, self.contractions)


class Spanish(Romance):
    language = "es"
    default_in = "en"
    definite: ClassVar[dict[tuple[str, str], str]] = {
        ("m", "sg"): "el",
        ("f", "sg"): "la",
        ("m", "pl"): "los",
        ("f", "pl"): "las",
    }
    indefinite: ClassVar[dict[tuple[str, str], str]] = {
        ("m", "sg"): "un",
        ("f", "sg"): "una",
        ("m", "pl"): "unos",
        ("f", "pl"): "unas",
    }
    contractions: ClassVar[list[tuple[re.Pattern[str], str]]] = [
        *_rules({"de el": "del", "a el": "al"}),
        # "y" before an i-sound is "e", "o" before an o-sound is "u"
        (re.compile(r"\by (?=[iIíÍ]|[hH][iIíÍ](?![aeoáéó]))"), "e "),
        (re.compile(r"\bo (?=[oOóÓ]|[hH][oOóÓ])"), "u "),
    ]

    def regular(self, adj: str) -> tuple[str, str, str, str]:
        if adj.endswith(("l", "r")) and not adj.endswith(("or", "ol")):
            return (adj, adj, adj + "es", adj + "es")
        if adj.endswith("z"):
            return (adj, adj, adj[:-1] + "ces", adj[:-1] + "ces")
        return super().regular(adj)


class Portuguese(Romance):
    language = "pt-BR"
    default_in = "em"
    definite: ClassVar[dict[tuple[str, str], str]] = {
        ("m", "sg"): "o",
        ("f", "sg"): "a",
        ("m", "pl"): "os",
        ("f", "pl"): "as",
    }
    indefinite: ClassVar[dict[tuple[str, str], str]] = {
        ("m", "sg"): "um",
        ("f", "sg"): "uma",
        ("m", "pl"): "uns",
        ("f", "pl"): "umas",
    }
    contractions: ClassVar[list[tuple[re.Pattern[str], str]]] = _rules(
        {
            "de o": "do", "de a": "da", "de os": "dos", "de as": "das",
            "em o": "no", "em a": "na", "em os": "nos", "em as": "nas",
            "a o": "ao", "a a": "à", "a os": "aos", "a as": "às",
            "por o": "pelo", "por a": "pela", "por os": "pelos", "por as": "pelas",
        }
    )  # fmt: skip


_FR_VOWEL = "aeiouyhéèêëàâîïôûœAEIOUYHÉÈÊËÀÂÎÏÔÛŒ"


class French(Romance):
    language = "fr"
    default_in = "dans"
    definite: ClassVar[dict[tuple[str, str], str]] = {
        ("m", "sg"): "le",
        ("f", "sg"): "la",
        ("m", "pl"): "les",
        ("f", "pl"): "les",
    }
    indefinite: ClassVar[dict[tuple[str, str], str]] = {
        ("m", "sg"): "un",
        ("f", "sg"): "une",
        ("m", "pl"): "des",
        ("f", "pl"): "des",
    }
    contractions: ClassVar[list[tuple[re.Pattern[str], str]]] = [
        # elide the article first, so "de le arbre" becomes "de l'arbre", not "du arbre"
        (re.compile(rf"\b([lL])[ea] (?=[{_FR_VOWEL}])"), r"\1'"),
        *_rules({"de le": "du", "de les": "des", "à le": "au", "à les": "aux"}),
        (re.compile(rf"\b([dDjJ]|[qQ]u|[nN]|[sS])e (?=[{_FR_VOWEL}])"), r"\1'"),
    ]

    def regular(self, adj: str) -> tuple[str, str, str, str]:
        if adj.endswith("e"):
            return (adj, adj, adj + "s", adj + "s")
        irregular = ("eux", "if", "el", "eil", "en", "et", "er", "eur", "on", "al", "eau", "ot")
        if adj.endswith(irregular) or adj.endswith(("s", "x", "c", "g")) or " " in adj:
            raise ValueError(f"adjective {adj!r}: not regular; give its 4 forms")
        return (adj, adj + "e", adj + "s", adj + "es")


# --- German ------------------------------------------------------------------------------

_DE_DEF = {
    "nom": {"m": "der", "f": "die", "n": "das", "pl": "die"},
    "acc": {"m": "den", "f": "die", "n": "das", "pl": "die"},
    "dat": {"m": "dem", "f": "der", "n": "dem", "pl": "den"},
}
_DE_INDEF = {
    "nom": {"m": "ein", "f": "eine", "n": "ein"},
    "acc": {"m": "einen", "f": "eine", "n": "ein"},
    "dat": {"m": "einem", "f": "einer", "n": "einem"},
}
#: Adjective endings by declension, case and gender (``pl`` for every plural).
DE_ENDINGS = {
    "weak": {
        "nom": {"m": "e", "f": "e", "n": "e", "pl": "en"},
        "acc": {"m": "en", "f": "e", "n": "e", "pl": "en"},
        "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
    },
    "mixed": {
        "nom": {"m": "er", "f": "e", "n": "es", "pl": "en"},
        "acc": {"m": "en", "f": "e", "n": "es", "pl": "en"},
        "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
    },
    "strong": {
        "nom": {"m": "er", "f": "e", "n": "es", "pl": "e"},
        "acc": {"m": "en", "f": "e", "n": "es", "pl": "e"},
        "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
    },
}


class German(Grammar):
    """Article + adjective + noun, with case and the three declensions. Adjectives are
    given as the stem endings attach to (``alt``, ``dunkl``)."""

    language = "de"
    cases = ("nom", "acc", "dat")
    default_in = "in"
    contractions: ClassVar[list[tuple[re.Pattern[str], str]]] = _rules(
        {
            "in dem": "im", "an dem": "am", "zu dem": "zum", "zu der": "zur",
            "von dem": "vom", "bei dem": "beim", "in das": "ins", "auf das": "aufs",
        }
    )  # fmt: skip

    def check_adjective(self, adj: Adjective, where: str) -> None:
        if not isinstance(adj, str) or not adj.islower():
            raise ValueError(f"{where}: German adjectives are lower-case stems, got {adj!r}")

    def adjective(self, adj: Adjective, g: Gender, number: str, case: str, decl: str) -> str:
        if not isinstance(adj, str):
            raise ValueError(f"German adjective {adj!r} must be a stem")
        key = "pl" if number == "pl" else g
        return adj + DE_ENDINGS[decl or "weak"][case][key]

    def noun_text(self, noun: Noun, number: str, case: str) -> str:
        forms = noun.pl if number == "pl" else noun.sg
        if not isinstance(forms, str):
            raise ValueError(f"noun {noun.sg!r} has no {number} form")
        if number == "pl" and case == "dat" and not forms.endswith(("n", "s")):
            return forms + "n"
        if number == "sg" and case != "nom" and noun.obl:
            return noun.obl
        return forms

    def phrase(self, p: Phrase, form: Form, count: int | None = None) -> str:
        noun = p.noun
        case = "dat" if form.locative else form.case
        number = "pl" if form.number in ("pl", "n") else "sg"
        key = "pl" if number == "pl" else noun.g
        words: list[str] = []
        if form.locative:
            words.append(noun.loc or self.default_in)
        if form.number == "n":
            words.append(str(count))
            decl = "strong"
        elif (
            noun.proper
            or form.article in ("bare", "name")
            or (form.article == "indef" and number == "pl")
        ):
            decl = "strong"
        elif form.article == "indef":
            words.append(_DE_INDEF[case][noun.g])
            decl = "mixed"
        else:
            words.append(_DE_DEF[case][key])
            decl = "weak"
        adj = p.adj if p.adj is not None else noun.adj
        if adj is not None:
            words.append(self.adjective(adj, noun.g, number, case, decl))
        words.append(self.noun_text(noun, number, case))
        tail = p.tail or noun.tail
        if tail:
            words.append(tail)
        return " ".join(words)

    def fix(self, text: str) -> str:
        return _sub_all(text, self.contractions)


# --- Russian -----------------------------------------------------------------------------

#: Hard adjective endings by case and gender (``pl`` for every plural); the masculine
#: nominative comes from the dictionary form, accusative of animates is the genitive.
RU_ENDINGS = {
    "nom": {"m": "", "f": "ая", "n": "ое", "pl": "ые"},
    "acc": {"m": "", "f": "ую", "n": "ое", "pl": ""},
    "gen": {"m": "ого", "f": "ой", "n": "ого", "pl": "ых"},
    "dat": {"m": "ому", "f": "ой", "n": "ому", "pl": "ым"},
    "ins": {"m": "ым", "f": "ой", "n": "ым", "pl": "ыми"},
    "loc": {"m": "ом", "f": "ой", "n": "ом", "pl": "ых"},
}
_RU_HUSH = "кгхжшчщ"


def ru_count_form(count: int, animate: bool, gender: Gender) -> tuple[str, str, str]:
    """(noun number, noun case, adjective case+number) for a direct object counted with
    digits: 1, 21 -> accusative singular; 2-4, 22-24 -> genitive singular noun
    (genitive plural for animates, whose accusative is the genitive), adjective
    genitive plural (nominative plural for feminine nouns); otherwise genitive
    plural."""
    last, last2 = count % 10, count % 100
    if last == 1 and last2 != 11:
        return ("sg", "acc", "acc.sg")
    if 2 <= last <= 4 and not 12 <= last2 <= 14:
        if animate:
            return ("pl", "gen", "gen.pl")
        return ("sg", "gen", "nom.pl" if gender == "f" else "gen.pl")
    return ("pl", "gen", "gen.pl")


class Russian(Grammar):
    """Adjective + noun with case endings; numbers govern the counted noun."""

    language = "ru"
    cases = CASES
    default_in = "в"
    contractions: ClassVar[list[tuple[re.Pattern[str], str]]] = [
        (re.compile(r"\b([сС]) (?=[сзшжСЗШЖ][бвгджзйклмнпрстфхцчшщ])"), r"\1о "),
        (re.compile(r"\b([вВ]) (?=[вфВФ][бвгджзйклмнпрстфхцчшщ])"), r"\1о "),
        (re.compile(r"\b([оО]) (?=[аоуэиАОУЭИ])"), r"\1б "),
    ]

    def check_noun(self, noun: Noun, where: str) -> None:
        for number in ("sg", "pl"):
            forms = getattr(noun, number)
            if forms is None and number == "pl":
                continue
            if not isinstance(forms, dict) or set(forms) != set(CASES):
                raise ValueError(f"{where}: Russian nouns list {number} forms for {CASES}")

    def check_adjective(self, adj: Adjective, where: str) -> None:
        if not isinstance(adj, str):
            raise ValueError(f"{where}: Russian adjectives are one dictionary form")
        if not adj.endswith(("ый", "ой", "ий")):
            raise ValueError(f"{where}: {adj!r} must end in -ый, -ой or -ий")
        if adj.endswith("ий") and adj[-3] not in "кгх":
            raise ValueError(f"{where}: {adj!r}: only -ий adjectives after к, г, х are supported")

    def adjective(self, adj: Adjective, g: Gender, number: str, case: str, decl: str) -> str:
        if not isinstance(adj, str):
            raise ValueError(f"Russian adjective {adj!r} must be one form")
        stem, animate = adj[:-2], decl == "anim"
        key = "pl" if number == "pl" else g
        if case == "acc" and key in ("m", "pl"):
            case = "gen" if animate else "nom"
        ending = RU_ENDINGS[case][key]
        if not ending:
            return adj
        if stem[-1] in _RU_HUSH:
            ending = ending.replace("ы", "и")
        return stem + ending

    def noun_text(self, noun: Noun, number: str, case: str) -> str:
        forms = noun.pl if number == "pl" else noun.sg
        if not isinstance(forms, dict):
            raise ValueError(f"noun {noun.sg!r} has no {number} forms")
        return forms[case]

    def phrase(self, p: Phrase, form: Form, count: int | None = None) -> str:
        noun = p.noun
        adj = p.adj if p.adj is not None else noun.adj
        words: list[str] = []
        if form.locative:
            words.append(noun.loc or self.default_in)
        decl = "anim" if noun.anim else ""
        if form.number == "n":
            number, case, adj_form = ru_count_form(count or 0, noun.anim, noun.g)
            words.append(str(count))
            if adj is not None:
                a_case, a_number = adj_form.split(".")
                words.append(self.adjective(adj, noun.g, a_number, a_case, decl))
        else:
            number = form.number
            case = "loc" if form.locative else form.case
            if adj is not None:
                words.append(self.adjective(adj, noun.g, number, case, decl))
        words.append(self.noun_text(noun, number, case))
        tail = p.tail or noun.tail
        if tail:
            words.append(tail)
        return " ".join(words)

    def fix(self, text: str) -> str:
        return _sub_all(text, self.contractions)


GRAMMARS: dict[str, Grammar] = {
    g.language: g for g in (Spanish(), Portuguese(), French(), German(), Russian())
}
