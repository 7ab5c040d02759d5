"""Load word lists (``data/*.txt``, format in ``data/README.md``) into one lexicon.

Terms are folded exactly as chat is folded (see :mod:`.normalize`), so a list is
written once in plain letters and matches every obfuscated spelling the folding
undoes. The loader also adds, per single-word term:

- masked spellings: one inner letter as ``*`` (``f*ck``) or two (``f**k``);
- stretched spellings: letters doubled (``fuuck``, ``fuucck``), since folding cuts a
  run of three or more to two. Every combination for words of up to seven letters,
  one doubled letter at a time for longer ones.
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

Mode = Literal["word", "root", "rule"]
_SECTION = re.compile(r"^\[([a-z][a-z0-9_]*)(?: (word|root|rule))?\]$")


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

    keys: dict[str, list[Entry]] = field(default_factory=dict)
    allow_words: set[str] = field(default_factory=set)
    allow_prefixes: list[str] = field(default_factory=list)
    rules: dict[str, list[Rule]] = field(default_factory=dict)  # trigger -> rules
    categories: set[str] = field(default_factory=set)
    files: list[str] = field(default_factory=list)

    def add(self, entry: Entry, spellings: Iterable[str]) -> None:
        self.categories.add(entry.category)
        for key in spellings:
            bucket = self.keys.setdefault(key, [])
            if entry not in bucket:
                bucket.append(entry)


def masked(term: str) -> set[str]:
    """``fuck`` -> ``f*ck``, ``fu*k``, ``f**k``; inner letters only, words of 4+."""
    if len(term) < 4 or not term.isalpha():
        return set()
    out = set()
    for i in range(1, len(term) - 1):
        out.add(term[:i] + "*" + term[i + 1 :])
    for i in range(1, len(term) - 2):
        out.add(term[:i] + "**" + term[i + 2 :])
    return out


def stretched(term: str) -> set[str]:
    """Spellings with letters doubled, skipping letters already doubled."""
    if " " in term:
        return set()
    single = [
        i
        for i, c in enumerate(term)
        if c.isalpha()
        and not (i > 0 and term[i - 1] == c)
        and not (i + 1 < len(term) and term[i + 1] == c)
    ]
    if len(term) <= 7:
        subsets: Iterable[tuple[int, ...]] = itertools.chain.from_iterable(
            itertools.combinations(single, r) for r in range(1, len(single) + 1)
        )
    else:
        subsets = ((i,) for i in single)
    out = set()
    for chosen in subsets:
        out.add("".join(c * 2 if i in chosen else c for i, c in enumerate(term)))
    return out


def parse(text: str, source: str, into: Lexicon) -> None:
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
                raise ConfigError(f"{where}: bad section {line!r}; use [category word|root|rule]")
            allow = m.group(1) == "allow"
            if not allow and m.group(2) is None:
                raise ConfigError(f"{where}: section {line!r} needs a mode: word, root or rule")
            category, mode = m.group(1), m.group(2)  # type: ignore[assignment]
            continue
        if category is None:
            raise ConfigError(f"{where}: a term before any [section]")
        if allow:
            for word in _terms(line):
                if word.endswith("*"):
                    into.allow_prefixes.append(fold(word[:-1]))
                else:
                    into.allow_words.add(fold(word))
            continue
        assert mode is not None
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
            entry = Entry(category, mode, key)
            into.add(entry, {key} | masked(key) | stretched(key))


def _terms(line: str) -> list[str]:
    return [t.strip() for t in line.split(",") if t.strip()]


def load(extra_dirs: Iterable[str | Path] = (), languages: Iterable[str] | None = None) -> Lexicon:
    """The built-in lexicons (all languages, or only ``languages``), then every
    ``*.txt`` in ``extra_dirs``."""
    lexicon = Lexicon()
    wanted = set(languages) if languages is not None else None
    folder = resources.files("encounters.moderation").joinpath("data")
    for item in sorted(folder.iterdir(), key=lambda e: e.name):
        if not item.name.endswith(".txt"):
            continue
        lang = item.name.split(".")[-2]
        if wanted is not None and lang not in wanted:
            continue
        parse(item.read_text(encoding="utf-8"), f"data/{item.name}", lexicon)
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
