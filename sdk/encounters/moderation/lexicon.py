"""Load word lists (``data/*.txt``, format in ``data/README.md``) into one lexicon.

Terms are folded exactly as chat is folded (see :mod:`.normalize`), so a list is
written once in plain letters and matches every obfuscated spelling the folding
undoes. Keys are stored with runs of a letter collapsed (``ass`` -> ``as``), as the
matcher compares collapsed text; each key keeps the run lengths its spelling needs
(``ass`` needs two ``s``), so ``as`` never matches ``ass`` while ``asssss`` does.

For profanity the loader adds, per term, spellings people use to dodge lists:

- letter swaps: ``u``->``v`` (fvck), ``s``->``z`` (azz), ``ck``->``k`` (fuk),
  ``ck``->``kk`` (fukker), ``c``->``k`` (kunt), ``f``->``ph`` (phuck), ``i``->``y``
  (shyt), ``er``->``a`` (fucka), ``l``->``i`` (s1ut), alone or two together (roots
  only when at least four letters remain);
- masks: one inner letter as ``*`` (``f*ck``), two (``f**k``), every vowel
  (``b*st*rd``) or, for short words, the letters after the first (``a**``);
- the word split in two by a space (``fu ck``, ``sh it``; English words of four to
  eight letters), unless both halves are common words or word endings (``s hit``,
  ``who re`` stay clean). A split spelling must start a word (not after an
  apostrophe: ``let's pick`` is a contraction, not ``s pick``); it may be followed by
  an ending (``fu cking``, ``sh itty``, ``wa nkers``: :data:`SPLIT_ENDINGS`), but not
  by the rest of another word (``a bit chilly`` is not ``bit ch``, ``my mother
  found`` not ``mother f``), and when its first half is a word of its own
  (:data:`WORD_HALVES`: ``bit``, ``mother``, a single letter) only the bare spelling
  counts (``a bit ch``, ``ur a s pic``), not an ending after it. Both halves being
  real words of their own (``dig a hole``, ``my wet back``) is as clean as ``s hit``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from ..errors import ConfigError
from .normalize import fold

Mode = Literal["word", "root", "rule", "split", "game", "neutral"]
#: Category of allowlisted phrases: matches inside them are dropped.
ALLOW = "_allow"
_SECTION = re.compile(r"^\[([a-z][a-z0-9_]*)(?: (word|root|rule|game|neutral))?\]$")


@dataclass(frozen=True)
class Entry:
    """One term of one category: ``term`` is the folded spelling it was written as."""

    category: str
    mode: Mode
    term: str


@dataclass(frozen=True)
class Rule:
    """A regex searched in the folded text when one of its trigger words appears."""

    category: str
    pattern: re.Pattern[str]
    source: str


@dataclass
class Lexicon:
    """Every key to search for (spelling -> entries), the allowlist, and the rules."""

    #: collapsed spelling -> (entry, run lengths that spelling needs)
    keys: dict[str, list[tuple[Entry, tuple[int, ...]]]] = field(default_factory=dict)
    allow_words: set[str] = field(default_factory=set)
    allow_prefixes: list[str] = field(default_factory=list)
    rules: dict[str, list[Rule]] = field(default_factory=dict)  # trigger -> rules
    #: category -> patterns of game talk: a finding of that category inside a match
    #: does not count when the text is judged as game chat
    game: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)
    #: category -> patterns of whole lines that only mention what the topic is about
    #: ("any muslims here?", "gay people are cool"): the topic model may not call such
    #: a line that topic (the word lists still may)
    neutral: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)
    categories: set[str] = field(default_factory=set)
    files: list[str] = field(default_factory=list)

    def add(self, entry: Entry, spellings: Iterable[str], *, exact_first: bool = False) -> None:
        """Add ``spellings`` of ``entry``. ``exact_first``: the first letter must stand
        once, not doubled (its run length is stored negative): a term written in
        Cyrillic folds to Latin look-alikes (``хуе`` -> ``xye``), and a doubled first
        letter is Latin decoration such a term never has (``xXYesXx``, a username)."""
        if entry.category != ALLOW:
            self.categories.add(entry.category)
        for spelling in spellings:
            key, runs = collapse(spelling)
            if exact_first and runs and runs[0] == 1:
                runs = (-1, *runs[1:])
            bucket = self.keys.setdefault(key, [])
            item = (entry, runs)
            if item not in bucket:
                bucket.append(item)


#: Letter swaps for profanity spellings (see the module docstring).
SWAPS = (("u", "v"), ("s", "z"), ("ck", "kk"), ("i", "y"), ("er", "a"), ("l", "i"))


def collapse(word: str) -> tuple[str, tuple[int, ...]]:
    """``"asss"`` -> ``("as", (1, 3))``: the word with runs collapsed, and run lengths."""
    key: list[str] = []
    runs: list[int] = []
    for c in word:
        if key and key[-1] == c:
            runs[-1] += 1
        else:
            key.append(c)
            runs.append(1)
    return "".join(key), tuple(runs)


_VOWELS = re.compile(r"[aeiouy]+")


def masked(term: str) -> set[str]:
    """Masked spellings of each word of ``term`` (words of three letters or more): one
    or two inner letters as ``*`` and every vowel as ``*`` (``b*st*rd``)."""
    out: set[str] = set()
    words = term.split(" ")
    for n, word in enumerate(words):
        if len(word) < 3 or not word.isalpha():
            continue
        forms = {word[:i] + "*" + word[i + 1 :] for i in range(1, len(word) - 1)}
        forms |= {word[:i] + "**" + word[i + 2 :] for i in range(1, len(word) - 2)}
        forms.add(word[0] + _VOWELS.sub(lambda m: "*" * len(m.group(0)), word[1:]))
        out |= {" ".join([*words[:n], form, *words[n + 1 :]]) for form in forms}
    out.discard(term)
    return out


def swapped(term: str) -> set[str]:
    """Spellings with one or two letter swaps applied everywhere they fit, plus
    ``ph`` for a leading ``f``. Words under five letters get one swap at a time, and
    ``er``->``a`` only applies to words of six letters or more."""
    out: set[str] = set()
    if term.startswith("f") and len(term) >= 4:
        out.add("ph" + term[1:])
    usable = [
        swap for swap in SWAPS
        if swap[0] in term and (swap != ("er", "a") or len(term) >= 6)
    ]  # fmt: skip
    for r in (1, 2) if len(term) >= 5 else (1,):
        for combo in itertools.combinations(usable, r):
            form = term
            for old, new in combo:
                form = form.replace(old, new)
            if form != term:
                out.add(form)
    return out


#: Halves that, when both are common, do not make a split spelling (``s hit``).
_COMMON_HALVES_WORDS = (
    "a b c d e f g h i j k l m n o p q r s t u v w x y z it at is in on an as to of or by "
    "be we he me my up so no go do us am hit bit who re ve ll ore ass tit pus ran king "
    "her his him the and are was can cut cock hole wet back bulls"
)
_COMMON_HALVES = frozenset(_COMMON_HALVES_WORDS.split())

#: Endings (runs collapsed, as the matcher sees them) that may follow a split
#: spelling in the same word: inflections and the compounds swearing makes
#: (``fu cking``, ``sh ithead``). Anything else after it is another word
#: (``bit chilly``, ``mother found``, ``c until``).
_SPLIT_ENDINGS_WORDS = (
    "s es ed d er ers r rs ing ings in n y ie ies ey ty ter ters ting head heads hole holes "
    "face faces wit wits bag bags load loads ass hat a as z az ez"
)
SPLIT_ENDINGS = frozenset(_SPLIT_ENDINGS_WORDS.split())
#: First halves of split spellings that are words people type on their own (the
#: common halves, and longer real words): after one, a split spelling must stand
#: bare (``a bit ch``), as ``bit chin`` or ``mother fed`` are two words.
_WORD_HALVES_WORDS = (
    "bit mother moth smart jack dick blow dumb cock cocks dip dips shy ash chin jerk arse "
    "knob tit twat wan fag retard ah ar"
)
WORD_HALVES = _COMMON_HALVES | frozenset(_WORD_HALVES_WORDS.split())


def split(term: str) -> set[str]:
    """``term`` split in two by a space at every place where not both halves are
    common (see the module docstring)."""
    if not (4 <= len(term) <= 8 and term.isalpha()):
        return set()
    return {
        term[:i] + " " + term[i:]
        for i in range(1, len(term))
        if not (term[:i] in _COMMON_HALVES and term[i:] in _COMMON_HALVES)
    }


def parse(text: str, source: str, into: Lexicon, *, swaps: bool = True) -> None:
    """Read one lexicon file's text into ``into``; errors name the file and line."""
    category: str | None = None
    mode: Mode | None = None
    allow = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip() if raw.lstrip().startswith("[") else raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        if line.startswith("["):
            m = _SECTION.match(line)
            if m is None:
                raise ConfigError(
                    f"{where}: bad section {line!r}; use [category word|root|rule|game|neutral]"
                )
            allow = m.group(1) == "allow"
            if not allow and m.group(2) is None:
                raise ConfigError(
                    f"{where}: section {line!r} needs a mode: word, root, rule, game or neutral"
                )
            category, mode = m.group(1), m.group(2)  # type: ignore[assignment]
            continue
        if category is None:
            raise ConfigError(f"{where}: a term before any [section]")
        if allow:
            for word in _terms(line):
                if word.endswith("*"):  # every word starting so: roots inside are clean
                    into.allow_prefixes.append(collapse(fold(word[:-1]))[0])
                    continue
                # a word or phrase: nothing matched inside it counts
                into.add(Entry(ALLOW, "word", fold(word)), [fold(word)])
                if " " not in word:
                    into.allow_words.add(collapse(fold(word))[0])
            continue
        assert mode is not None
        if mode in ("game", "neutral"):
            patterns = into.game if mode == "game" else into.neutral
            try:
                patterns.setdefault(category, []).append(re.compile(line))
            except re.error as exc:
                raise ConfigError(f"{where}: bad regex: {exc}") from None
            continue
        if mode == "rule":
            triggers, sep, pattern = line.partition(": ")
            if not sep:
                raise ConfigError(f"{where}: a rule is 'trigger: regex'")
            try:
                rule = Rule(category, re.compile(pattern), where)
            except re.error as exc:
                raise ConfigError(f"{where}: bad regex: {exc}") from None
            into.categories.add(category)
            for trigger in triggers.split("|"):
                key = fold(trigger)
                into.rules.setdefault(key, []).append(rule)
                into.add(Entry(category, "rule", key), [key])
            continue
        for term in _terms(line):
            key = fold(term)
            if not key:
                continue
            forms = {key}
            if category == "profanity":
                # a root matches inside words: a short swapped root ("fk") would be noise
                if swaps:
                    forms |= {f for f in swapped(key) if mode != "root" or len(f) >= 4}
                forms |= set().union(*map(masked, forms))
                if swaps:  # English: a word split in two
                    into.add(Entry(category, "split", key), split(key))
            into.add(Entry(category, mode, key), forms, exact_first=_cyrillic(term))


def _cyrillic(term: str) -> bool:
    """Whether ``term`` starts with a Cyrillic letter (see :meth:`Lexicon.add`)."""
    return "\u0400" <= term[:1] <= "\u04ff"


def _terms(line: str) -> list[str]:
    return [t.strip() for t in line.split(",") if t.strip()]


def load(extra_dirs: Iterable[str | Path] = (), languages: Iterable[str] | None = None) -> Lexicon:
    """The built-in lexicons (all languages, or only ``languages``), then every
    ``*.txt`` in ``extra_dirs``."""
    lexicon = Lexicon()
    folder = resources.files("encounters.moderation").joinpath("data")
    files = sorted((e for e in folder.iterdir() if e.name.endswith(".txt")), key=lambda e: e.name)
    known = {e.name.split(".")[-2] for e in files}
    wanted = set(languages) if languages is not None else known
    if unknown := wanted - known:
        raise ConfigError(
            f"no built-in word lists for language(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(known))}"
        )
    for item in files:
        kind, lang = item.name.split(".")[0], item.name.split(".")[-2]
        # topic lists hold every language's phrases: always loaded
        if kind != "topics" and lang not in wanted:
            continue
        # letter swaps model English spellings; in other languages they hit real words
        parse(item.read_text(encoding="utf-8"), f"data/{item.name}", lexicon, swaps=lang == "en")
        lexicon.files.append(f"builtin:{item.name}")
    for d in extra_dirs:
        path = Path(d)
        if not path.is_dir():
            raise ConfigError(f"lexicon folder {str(path)!r} does not exist or is not a folder")
        for file in sorted(path.glob("*.txt")):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{file}: cannot read lexicon: {exc}") from None
            parse(text, str(file), lexicon)
            lexicon.files.append(str(file))
    return lexicon
