"""The text check: profanity and blocked topics in one pass, personal data by pattern.

How a message is checked:

1. it is folded to a skeleton (:mod:`.normalize`);
2. runs of a repeated character are collapsed (``fuuuck`` -> ``fuck``), and one
   Aho-Corasick automaton (``pyahocorasick``) finds every lexicon spelling in that in a
   single pass, whatever the number of words; a spelling that needs a doubled letter
   (``ass``) is checked against the run lengths, so ``as`` stays clean;
3. each candidate is kept only if it stands where it must: a ``word`` term must be a
   whole word (an ``s`` plural allowed), a ``root`` term may sit inside a longer word
   unless that word is allowlisted (``scunthorpe``); a ``split`` spelling (``fu ck``)
   must start a word, not the tail of a contraction (``let's pick`` is not ``s pick``),
   and may be followed only by an ending (``fu cking``, not ``a bit chilly``; see
   :mod:`.lexicon`); a ``rule`` trigger runs its regex;
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

import bisect
import copy
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import ahocorasick

from . import pii
from .lexicon import ALLOW, SPLIT_ENDINGS, WORD_HALVES, Entry, Lexicon, Rule, load
from .normalize import fold_full, fold_plain, fold_with_map

PERSONAL_DATA = "personal_data"
PROFANITY = "profanity"
#: How text is judged: ``game`` lets game talk through (``I keep killing myself with
#: my own TNT``, ``are you alone in the dungeon?``) by the lexicons' ``game`` patterns;
#: ``general`` judges every listed phrase as written.
Context = Literal["game", "general"]


@dataclass(frozen=True)
class Hit:
    """One finding. ``start``/``end`` index the original text; ``term`` is the lexicon
    term (or the kind of personal data) that matched."""

    category: str
    start: int
    end: int
    term: str


_RUN = re.compile(r"(.)\1+")
#: A character the same character follows: removing each collapses every run (one
#: ``sub`` with an empty replacement, no callback per run; ``.`` as in ``_RUN``).
_RUN_NEXT = re.compile(r"(.)(?=\1)")
#: Characters that continue a word before a split spelling: a masked letter, and the
#: apostrophes (as written and as folded) that join a contraction or a possessive.
_IN_WORD = "*'\u2019\u02bc`"
_FIRST = operator.itemgetter(1)  # faster than a "\1" template in re.sub
_CATEGORY = operator.itemgetter(0)  # of a finding (see TextFilter._scan)


def collapse_runs(s: str) -> str:
    """``s`` with each run of one character cut to one (``fuuuck`` -> ``fuck``). Half
    of chat has a run (``all``, ``kill``): one ``sub`` costs less than a search first."""
    return _RUN_NEXT.sub("", s)


def collapse_runs_by_group(s: str) -> str:
    """:func:`collapse_runs` by replacing each run with its first character (the
    tests compare the two)."""
    return _RUN.sub(_FIRST, s)


class _Runs:
    """Where the runs of ``s`` lie (``"asss"`` -> runs ``a``, ``sss``): its repeated
    runs are few, so they alone are listed (one regex pass) and every question about
    a run or a position is a lookup or a bisection, not a walk over ``s``. A run is as
    ``_RUN_ANY`` counts it (a line break repeats too)."""

    def __init__(self, s: str) -> None:
        #: per repeated run, in order: its first index in s, its length, and how many
        #: characters the runs before it lose when collapsed
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.removed: list[int] = []
        #: the index of each repeated run in the collapsed string
        self.collapsed: list[int] = []
        removed = 0
        for m in _REPEATED.finditer(s):
            start, length = m.start(), m.end() - m.start()
            self.starts.append(start)
            self.lengths.append(length)
            self.removed.append(removed)
            self.collapsed.append(start - removed)
            removed += length - 1

    def length(self, k: int) -> int:
        """The length of run ``k`` (an index in the collapsed string)."""
        i = bisect.bisect_left(self.collapsed, k)
        return self.lengths[i] if i < len(self.collapsed) and self.collapsed[i] == k else 1

    def span(self, k: int) -> tuple[int, int]:
        """The first and last index in ``s`` of run ``k``."""
        i = bisect.bisect_left(self.collapsed, k)
        if i < len(self.collapsed) and self.collapsed[i] == k:
            return self.starts[i], self.starts[i] + self.lengths[i] - 1
        first = k + (self.removed[i - 1] + self.lengths[i - 1] - 1 if i else 0)
        return first, first

    def run_of(self, index: int) -> int:
        """The collapsed index of the run that holds ``s[index]``."""
        j = bisect.bisect_right(self.starts, index) - 1
        if j < 0:
            return index
        if index < self.starts[j] + self.lengths[j]:
            return self.collapsed[j]
        return index - self.removed[j] - self.lengths[j] + 1


_RUN_ANY = re.compile(r"(.)\1*", re.DOTALL)
_REPEATED = re.compile(r"(.)\1+", re.DOTALL)


def collapsed_index(s: str) -> list[int]:
    """For each index of ``s``, the index of its run in the collapsed string."""
    out: list[int] = []
    k = -1
    for i, c in enumerate(s):
        if i == 0 or c != s[i - 1]:
            k += 1
        out.append(k)
    return out


def _needed(key: str, need: tuple[int, ...]) -> tuple[int, ...] | None:
    """The run lengths a spelling needs, checked per hit (None: any will do). Letters
    need at least their length (``ass`` needs two ``s``; ``asss`` is ``ass``); a digit
    needs exactly its length, written negative: a code such as ``1488`` is a number,
    and ``11488`` or ``14888`` are other numbers (a score, an id), not the code."""
    if any(c.isdigit() for c in key):
        return tuple(-abs(n) if c.isdigit() else n for c, n in zip(key, need, strict=True))
    # a negative length from the lexicon asks for exactly that many (see Lexicon.add)
    return need if max(need) > 1 or min(need) < 0 else None


def _longest_run(key: str, need: tuple[int, ...] | None) -> str:
    """The longest run ``need`` asks of ``key``, as text (``ss`` for ``ass``): a text
    without it anywhere cannot fit ``need`` (see :func:`_runs_fit`). Empty when no
    run is longer than one."""
    if need is None:
        return ""
    length, k = max((abs(n), -k) for k, n in enumerate(need))
    return key[-k] * length if length > 1 else ""


def _runs_fit(runs: _Runs, start: int, need: tuple[int, ...]) -> bool:
    """Whether the runs from collapsed index ``start`` are as long as ``need`` asks
    (see :func:`_needed`)."""
    for k, n in enumerate(need):
        length = runs.length(start + k)
        if length < n if n > 0 else length != -n:
            return False
    return True


#: Pattern text that makes an alternation of patterns mean something else: a group
#: reference (numbers change when patterns are joined) or a conditional.
_GROUP_REFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")


def _any_of(patterns: list[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One pattern that matches somewhere in a text exactly when one of ``patterns``
    does (their alternation: at the first place where any of them matches, the
    alternation tries each in turn), or None when they cannot be joined so: fewer than
    two, differing or verbose flags, group references, or inline global flags (which
    make the alternation fail to compile). One search of it costs about what one of
    the patterns costs, instead of one search each."""
    if len(patterns) < 2:
        return None
    flags = patterns[0].flags
    if any(p.flags != flags for p in patterns) or flags & re.VERBOSE:
        return None
    if any(_GROUP_REFERENCE.search(p.pattern) for p in patterns):
        return None
    try:
        return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), flags)
    except re.error:
        return None


#: What :meth:`TextFilter._scan` finds in clean text.
_NOTHING: tuple[tuple[tuple[str, int, int, str], ...], frozenset[str]] = ((), frozenset())


def _plain_word_end(d: str, start: int, end: int) -> int | None:
    """The end of the word when ``d[start:end]`` is a whole word (or one with a plural
    ``s``), else None: no letter, digit or ``*`` (a masked letter) touches it. What
    :meth:`TextFilter._whole_word` does without narration, for most candidates of a
    scan."""
    if start and ((c := d[start - 1]).isalnum() or c == "*"):
        return None
    if end == len(d) or not ((c := d[end]).isalnum() or c == "*"):
        return end
    if c == "s" and (end + 1 == len(d) or not ((c := d[end + 1]).isalnum() or c == "*")):
        return end + 1
    return None


class TextFilter:
    """Find profanity, topics and personal data in text. Build once, share freely:
    checking does not change it, so it is safe to use from any number of tasks."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        automaton = ahocorasick.Automaton()
        #: one-letter keys ("kkk" collapses to "k") would make every such letter a
        #: candidate: they are found by their exact spelling instead
        self._single: list[tuple[str, str, str, re.Pattern[str]]] = []
        for key, entries in lexicon.keys.items():
            if len(key) == 1:
                for e, need in entries:
                    spelled = key * abs(need[0])
                    pattern = re.compile(rf"(?<![^\W_]){re.escape(spelled)}(?![^\W_])")
                    self._single.append((e.category, e.term, spelled, pattern))
                continue
            # (category, mode, term, runs needed or None, its longest run as text):
            # plain tuples, read per hit
            variants = tuple(
                (e.category, e.mode, e.term, n, _longest_run(key, n), self._rules_of(e))
                for e, need in entries
                for n in (_needed(key, need),)
            )
            automaton.add_word(key, (len(key), variants))
        automaton.make_automaton()
        self._automaton = automaton
        self._allow_prefixes = tuple(lexicon.allow_prefixes)
        #: per category, one alternation of its game-talk patterns (see :func:`_any_of`)
        self._game_gates = {c: _any_of(ps) for c, ps in lexicon.game.items()}
        #: A message is scanned to decide, then again to mask what was found: the
        #: second scan of the same skeleton is remembered from the first.
        self._scan_recent = lru_cache(maxsize=64)(self._scan)
        self._hits_recent = lru_cache(maxsize=64)(self._hits)
        #: the session language whose national personal-data forms are looked for
        #: (see :func:`.pii.find`); None: the forms every language shares
        self.language: str | None = None

    def _rules_of(self, e: Entry) -> tuple[tuple[tuple[str, str, str, int], Rule], ...]:
        """The rules a ``rule`` entry triggers, each with the key it is kept once by
        per message (see :meth:`_scan`); none for other entries."""
        if e.mode != "rule":
            return ()
        return tuple(
            ((r.category, r.source, r.pattern.pattern, r.pattern.flags), r)
            for r in self.lexicon.rules.get(e.term, ())
            if r.category == e.category
        )

    def for_language(self, language: str | None) -> TextFilter:
        """This filter (the same word lists, built once) looking for personal data the
        way ``language`` writes it (a BCP 47 tag)."""
        if language == self.language:
            return self
        twin = copy.copy(self)
        twin.language = language
        twin._scan_recent = lru_cache(maxsize=64)(twin._scan)
        twin._hits_recent = lru_cache(maxsize=64)(twin._hits)
        return twin

    @classmethod
    def default(
        cls, extra_dirs: Iterable[str | Path] = (), languages: Iterable[str] | None = None
    ) -> TextFilter:
        return cls(load(extra_dirs, languages))

    @cached_property
    def categories(self) -> frozenset[str]:
        return frozenset(self.lexicon.categories | {PERSONAL_DATA})

    # -- matching on the skeleton ----------------------------------------------------

    def _word_around(self, d: str, start: int, end: int) -> tuple[int, int]:
        while start > 0 and (d[start - 1].isalnum() or d[start - 1] == "*"):
            start -= 1
        while end < len(d) and (d[end].isalnum() or d[end] == "*"):
            end += 1
        return start, end

    def _whole_word(self, d: str, start: int, end: int, narration: bool = False) -> int | None:
        """The end of the word when ``d[start:end]`` is a whole word (or one with a
        plural ``s``), else None. ``narration``: asterisks at the edge of a word are
        role-play narration (``*draws his bastard sword*``), not masked letters; only
        allowlisted phrases are read so (a listed word touching an asterisk is left
        as it was: whether narration makes a topic's phrase game talk is the topic
        lists' ``game`` patterns' question)."""
        if not narration:
            return _plain_word_end(d, start, end)
        if start > 0 and (d[start - 1].isalnum() or d[start - 1] == "*"):
            before = start - 1
            while before >= 0 and d[before] == "*":
                before -= 1
            if before == start - 1 or (before >= 0 and d[before].isalnum()):
                return None
        if end < len(d) and d[end] == "*":
            after = end
            while after < len(d) and d[after] == "*":
                after += 1
            if after == len(d) or not d[after].isalnum():
                return end
        return _plain_word_end(d, 0, end)  # from 0: what comes before was checked above

    def scan_collapsed(self, s: str, context: Context = "game") -> list[tuple[str, int, int, str]]:
        """``(category, start, end, term)`` for every match in a folded string, with
        positions in its collapsed form (runs of a character cut to one)."""
        return list(self._scan_recent(s, context)[0])

    def _scan(
        self, s: str, context: Context
    ) -> tuple[tuple[tuple[str, int, int, str], ...], frozenset[str]]:
        """:meth:`scan_collapsed`, and the categories found only inside game talk."""
        d = _RUN_NEXT.sub("", s)  # collapse_runs(s)
        runs: _Runs | None = None
        found: list[tuple[str, int, int, str]] = []
        allowed_spans: list[tuple[int, int]] = []
        #: the rules to run, once each: keyed by what a Rule's equality compares (its
        #: category, source, and pattern: a pattern equals another with the same text
        #: and flags). Not by the Rule or its pattern: a Rule's hash is a Python-level
        #: call, and a pattern's hashes its whole compiled code, every time.
        triggered: dict[tuple[str, str, str, int], Rule] = {}
        for last, (length, variants) in self._automaton.iter(d):
            start, end = last - length + 1, last + 1
            for category, mode, term, need, longest, rules in variants:
                # a run the spelling needs that the text has nowhere (most "as" for "ass"):
                # the runs cannot fit, and need not be listed
                if need is not None and longest not in s:
                    continue
                if mode == "root":
                    start_at, hit_end = self._word_around(d, start, end)
                    # role-play asterisks around a word are not masked letters of it
                    # ("*beheads the lich*", "*draws his bastard sword*")
                    while start_at < start and d[start_at] == "*":
                        start_at += 1
                    while hit_end > end and d[hit_end - 1] == "*":
                        hit_end -= 1
                    word = d[start_at:hit_end]
                    if word in self.lexicon.allow_words or word.startswith(self._allow_prefixes):
                        continue
                elif mode == "split":  # "fu ck", "fu cking": starts a word, may go on
                    # after an apostrophe it is a contraction's or a possessive's tail
                    # ("let's pick" is not "s pick")
                    if start > 0 and (d[start - 1].isalnum() or d[start - 1] in _IN_WORD):
                        continue
                    start_at, hit_end = start, self._word_around(d, start, end)[1]
                    # "fu cking" but not "a bit chilly", "my mother found", "c until"
                    if hit_end > end and (
                        d[end:hit_end] not in SPLIT_ENDINGS
                        or d[start : d.index(" ", start)] in WORD_HALVES
                    ):
                        continue
                elif category == ALLOW:
                    start_at = start
                    word_end = self._whole_word(d, start, end, True)
                    if word_end is None:
                        continue
                    hit_end = word_end
                else:  # most candidates end here
                    start_at = start
                    if (word_end := _plain_word_end(d, start, end)) is None:
                        continue
                    hit_end = word_end
                if need is not None:
                    if runs is None:
                        runs = _Runs(s)
                    if not _runs_fit(runs, start, need):
                        continue
                if category == ALLOW:
                    allowed_spans.append((start, hit_end))
                elif rules:
                    triggered.update(rules)
                elif mode != "rule":
                    found.append((category, start_at, hit_end, term))
        # the runs are listed only once a match needs its collapsed place (most triggered
        # rules find nothing)
        for category, term, spelled, pattern in self._single:
            if spelled in s:
                for m in pattern.finditer(s):
                    runs = runs or _Runs(s)
                    found.append((category, runs.run_of(m.start()),
                                  runs.run_of(m.end() - 1) + 1, term))  # fmt: skip
        # each rule once per message, on the text as written (runs and all)
        for rule in triggered.values():
            for m in rule.pattern.finditer(s):
                if m.end() > m.start():
                    runs = runs or _Runs(s)
                    found.append((rule.category, runs.run_of(m.start()),
                                  runs.run_of(m.end() - 1) + 1, rule.source))  # fmt: skip
        if allowed_spans:
            found = [f for f in found if not any(a <= f[1] and f[2] <= b for a, b in allowed_spans)]
        if not found:  # most clean chat
            return _NOTHING
        game_talk: frozenset[str] = frozenset()
        if context == "game":
            kept = self._without_game_talk(s, found)
            if len(kept) < len(found):
                game_talk = frozenset({f[0] for f in found} - {f[0] for f in kept})
            found = kept
        return tuple(found), game_talk

    def _without_game_talk(
        self, s: str, found: list[tuple[str, int, int, str]], gated: bool = True
    ) -> list[tuple[str, int, int, str]]:
        """``found`` less the findings that lie inside game talk of their category.
        A category's patterns are run one by one only when their alternation (its gate,
        searched once) finds something: most findings are not game talk.
        ``gated=False`` runs every pattern (the tests compare the two)."""
        spans: dict[str, list[tuple[int, int]]] = {}
        runs: _Runs | None = None
        for category in {f[0] for f in found}:
            gate = self._game_gates.get(category) if gated else None
            if gate is not None and gate.search(s) is None:
                continue
            for pattern in self.lexicon.game.get(category, ()):
                for m in pattern.finditer(s):
                    if m.end() > m.start():
                        runs = runs or _Runs(s)
                        spans.setdefault(category, []).append(
                            (runs.run_of(m.start()), runs.run_of(m.end() - 1) + 1)
                        )
        if not spans:
            return found
        return [
            f for f in found if not any(a <= f[1] and f[2] <= b for a, b in spans.get(f[0], ()))
        ]

    # -- public checks ---------------------------------------------------------------

    def neutral_topics(self, skeleton: str, among: Iterable[str] | None = None) -> set[str]:
        """The topics a checked line (its ``skeleton``, from :meth:`check`) only
        mentions: the whole line matches one of the topic's ``neutral`` patterns
        ("any muslims here?", "gay people are cool"). The topic model's finding of such
        a topic does not count; the word lists' findings are not affected. ``among``:
        only these topics are looked at (the moderator asks about the ones the model
        found), as if the others had no patterns."""
        neutral = self.lexicon.neutral
        return {
            category
            for category in (neutral if among is None else among)
            if any(p.fullmatch(skeleton) for p in neutral.get(category, ()))
        }

    def categories_in(self, text: str, context: Context = "game") -> set[str]:
        """The categories present in ``text``: the fast check, without positions."""
        return self.check(text, context)[0]

    def check(self, text: str, context: Context = "game") -> tuple[set[str], str, set[str]]:
        """:meth:`categories_in`, the folded text it matched (for the topic model), and
        the categories whose every finding was game talk (game context only)."""
        skeleton = fold_plain(text)  # fold(text), without its call
        if skeleton is None:
            skeleton = fold_full(text)
        found, game_talk = self._scan_recent(skeleton, context)
        cats = set(map(_CATEGORY, found))  # no comprehension's frame: most lines find nothing
        if PERSONAL_DATA not in cats and pii.find(text, self.language):
            cats.add(PERSONAL_DATA)
        return cats, skeleton, set(game_talk)

    def hits(
        self, text: str, context: Context = "game", *, personal_data: bool = True
    ) -> list[Hit]:
        """Every match with its span in the original text (slower; for masking).
        ``personal_data=False`` leaves personal data out (and skips looking for it).
        The moderator may ask twice about one message (to mask it, and whether it asks
        for personal data): the last few answers are remembered."""
        return [Hit(c, a, b, t) for a, b, c, t in self._hits_recent(text, context, personal_data)]

    def _hits(
        self, text: str, context: Context, personal_data: bool
    ) -> tuple[tuple[int, int, str, str], ...]:
        """:meth:`hits` as ``(start, end, category, term)``, sorted (plain tuples: a
        frozen dataclass costs more to build, hash and sort, and masking needs none)."""
        s, where = fold_with_map(text)
        runs = _Runs(s)  # collapsed index -> (first, last) index in s of that run
        collapsed_length = len(s) - sum(runs.lengths) + len(runs.lengths)
        out: set[tuple[int, int, str, str]] = set()
        for category, start, end, term in self._scan_recent(s, context)[0]:
            if start < end <= collapsed_length:
                first, last = where[runs.span(start)[0]], where[runs.span(end - 1)[1]]
                out.add((first, last + 1, category, term))
        if personal_data:
            out.update((a, b, PERSONAL_DATA, kind) for a, b, kind in pii.find(text, self.language))
        return tuple(sorted(out))

    def mask(
        self,
        text: str,
        categories: Iterable[str] | None = None,
        char: str = "*",
        context: Context = "game",
    ) -> str:
        """``text`` with the characters of matches in ``categories`` (all when None)
        replaced by ``char``; white space inside a match is kept."""
        wanted = None if categories is None else set(categories)
        chars = list(text)
        personal = wanted is None or PERSONAL_DATA in wanted
        for start, end, category, _ in self._hits_recent(text, context, personal):
            if wanted is None or category in wanted:
                # a span without white space (most): at once. Every white space
                # character but the space is not printable.
                if " " not in (span := text[start:end]) and span.isprintable():
                    chars[start:end] = [char] * (end - start)
                    continue
                for i in range(start, end):
                    if not chars[i].isspace():
                        chars[i] = char
        return "".join(chars)
