"""The text check: profanity and blocked topics in one pass, personal data by pattern.

How a message is checked:

1. it is folded to a skeleton (:mod:`.normalize`);
2. one Aho-Corasick automaton (``pyahocorasick``) finds every lexicon spelling in the
   skeleton in a single pass, whatever the number of words;
3. each candidate is kept only if it stands where it must: a ``word`` term must be a
   whole word (an ``s`` plural allowed), a ``root`` term may sit inside a longer word
   unless that word is allowlisted (``scunthorpe``); a ``rule`` trigger runs its regex;
4. personal data is found by pattern in the original text (:mod:`.pii`).

Word boundaries are what keep ``class``, ``assassin``, ``Sussex`` and ``shot a`` clean:
``ass`` and ``sex`` are ``word`` terms, and separators are joined only between single
letters, so ``shot a`` never becomes ``shota``.

Masking maps the skeleton back to the original characters and replaces exactly the
matched characters with ``*``; the rest of the message is left as it was.

Limits: checks cost time linear in the message; no limit on length is applied here
(the moderator caps message length). Meaning is not understood: a clean word list
match in an innocent sentence is flagged, and an insult in plain words is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import ahocorasick

from . import pii
from .lexicon import Entry, Lexicon, load
from .normalize import fold, fold_with_map

PERSONAL_DATA = "personal_data"
PROFANITY = "profanity"


@dataclass(frozen=True)
class Hit:
    """One finding. ``start``/``end`` index the original text; ``term`` is the lexicon
    term (or the kind of personal data) that matched."""

    category: str
    start: int
    end: int
    term: str


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "*"


class TextFilter:
    """Find profanity, topics and personal data in text. Build once, share freely:
    checking does not change it, so it is safe to use from any number of tasks."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        automaton = ahocorasick.Automaton()
        for key, entries in lexicon.keys.items():
            automaton.add_word(key, (len(key), tuple(entries)))
        automaton.make_automaton()
        self._automaton = automaton
        self._allow_prefixes = tuple(lexicon.allow_prefixes)

    @classmethod
    def default(
        cls, extra_dirs: Iterable[str | Path] = (), languages: Iterable[str] | None = None
    ) -> TextFilter:
        return cls(load(extra_dirs, languages))

    @cached_property
    def categories(self) -> frozenset[str]:
        return frozenset(self.lexicon.categories | {PERSONAL_DATA})

    # -- matching on the skeleton ----------------------------------------------------

    def _word_around(self, s: str, start: int, end: int) -> tuple[int, int]:
        while start > 0 and _is_word(s[start - 1]):
            start -= 1
        while end < len(s) and _is_word(s[end]):
            end += 1
        return start, end

    def _whole_word(self, s: str, start: int, end: int) -> int | None:
        """The end of the word when ``s[start:end]`` is a whole word (or one with a
        plural ``s``), else None."""
        if start > 0 and _is_word(s[start - 1]):
            return None
        if end < len(s) and _is_word(s[end]):
            if s[end] == "s" and (end + 1 == len(s) or not _is_word(s[end + 1])):
                return end + 1
            return None
        return end

    def scan_skeleton(self, s: str) -> list[tuple[str, int, int, str]]:
        """``(category, start, end, term)`` for every match in a folded string."""
        found: list[tuple[str, int, int, str]] = []
        for last, (length, entries) in self._automaton.iter(s):
            start, end = last - length + 1, last + 1
            entry: Entry
            for entry in entries:
                if entry.mode == "root":  # the whole word is the match: motherfucker
                    w_start, w_end = self._word_around(s, start, end)
                    word = s[w_start:w_end]
                    allowed = self.lexicon.allow_words
                    if word not in allowed and not word.startswith(self._allow_prefixes):
                        found.append((entry.category, w_start, w_end, entry.term))
                    continue
                word_end = self._whole_word(s, start, end)
                if word_end is None:
                    continue
                if entry.mode == "word":
                    found.append((entry.category, start, word_end, entry.term))
                else:  # a rule trigger
                    for rule in self.lexicon.rules.get(entry.term, ()):
                        if rule.category == entry.category:
                            found += [
                                (rule.category, m.start(), m.end(), entry.term)
                                for m in rule.pattern.finditer(s)
                            ]
        return found

    # -- public checks ---------------------------------------------------------------

    def categories_in(self, text: str) -> set[str]:
        """The categories present in ``text``: the fast check, without positions."""
        cats = {hit[0] for hit in self.scan_skeleton(fold(text))}
        if PERSONAL_DATA not in cats and pii.find(text):
            cats.add(PERSONAL_DATA)
        return cats

    def hits(self, text: str) -> list[Hit]:
        """Every match with its span in the original text (slower; for masking)."""
        s, where = fold_with_map(text)
        out: set[Hit] = set()
        for category, start, end, term in self.scan_skeleton(s):
            if start < end <= len(where):
                out.add(Hit(category, where[start], where[end - 1] + 1, term))
        out.update(Hit(PERSONAL_DATA, a, b, kind) for a, b, kind in pii.find(text))
        return sorted(out, key=lambda h: (h.start, h.end, h.category))

    def mask(self, text: str, categories: Iterable[str] | None = None, char: str = "*") -> str:
        """``text`` with the characters of matches in ``categories`` (all when None)
        replaced by ``char``; white space inside a match is kept."""
        wanted = None if categories is None else set(categories)
        chars = list(text)
        for hit in self.hits(text):
            if wanted is None or hit.category in wanted:
                for i in range(hit.start, hit.end):
                    if not chars[i].isspace():
                        chars[i] = char
        return "".join(chars)
