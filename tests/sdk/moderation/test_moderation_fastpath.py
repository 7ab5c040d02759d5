"""The fast paths of moderation decide exactly as the full path does.

Plain ASCII chat (most game chat) is folded by string methods (``fold_plain``), its
words split without a regex, and a message's personal data and hits are remembered
between deciding, masking and the audit write. Each shortcut has a full counterpart
that runs every step; these properties check that the two agree on every input:
ASCII lines built from game and lexicon words and separators, random text, and every
line of the evaluation corpora. The end-to-end property swaps every shortcut for its
full counterpart and compares the moderator's results and audit entries.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import ahocorasick
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from encounters.models.persona import Safety
from encounters.moderation import (
    AuditLogger,
    ContentModerator,
    TextFilter,
    audit,
    credentials,
    normalize,
    pii,
    textfilter,
    topicmodel,
)
from encounters.moderation.lexicon import Entry, Lexicon, Rule
from encounters.storage import MemoryStore
from tests.sdk.moderation.corpus.evaluate import tuning_set
from tests.sdk.moderation.corpus.load import CORPUS_PATH, load_corpus


@functools.cache
def corpus_lines() -> tuple[str, ...]:
    """The tuning lines and the lines written for training, never the held-out ones: a
    failing comparison prints the line it failed on."""
    written = sorted(CORPUS_PATH.parent.glob("train_*.jsonl"))
    rows = tuning_set() + [r for path in written for r in load_corpus(path)]
    return tuple(str(r["text"]) for r in rows)


#: Game chat, words of the lexicons and the topic model, look-alike spellings and
#: words that only look like bad ones (``class``, ``Scunthorpe``).
_WORDS_TEXT = (
    "gg wp lol the a i u is my your kill killed dragon zombie diamonds trade sword base "
    "creeper nether spawn raid guild boss loot craft heal tank camp noob pvp afk brb "
    "fuck fuk shit sh it fu ck ass as class assassin Scunthorpe bitch cock crossbow dick "
    "hate jews immigrants rats kys unalive myself yourself die bleach alone dungeon pics "
    "send nudes sex Sussex vote trump president email at dot com street phone call me "
    "s h i t f u c k a b c kkk xxx yo shota shot password token sk 12 5000 "
    "555-123-4567 me@mail.com sh1t @ss f.u.c.k "
    "gg! hi!! b!tch !t 5! ! fu(k (3) (hi) a()b (sh!t) x(!"
)
_WORDS = _WORDS_TEXT.split(" ")
_SEPARATORS = (" ", " ", " ", "  ", ", ", ". ", "? ", "'", '"', "-", ";", ":", "!", ".", "! ",
               " (", ") ", "(", ")")  # fmt: skip

ascii_lines = st.lists(
    st.tuples(st.sampled_from(_WORDS), st.sampled_from(_SEPARATORS)), max_size=14
).map(lambda parts: "".join(w + s for w, s in parts).strip())
random_ascii = st.text(alphabet=st.characters(max_codepoint=127), max_size=80)
any_text = st.one_of(
    ascii_lines,
    random_ascii,
    st.text(max_size=40),
    st.sampled_from(corpus_lines()),
)
safeties = st.builds(
    Safety,
    moderation=st.sampled_from(["sanitize", "block"]),
    context=st.sampled_from(["game", "general"]),
    blocked_topics=st.sampled_from(
        [
            ["self_harm", "sexual", "hate", "violence", "politics"],
            ["self_harm", "sexual", "hate", "violence", "politics", "personal_data"],
            [],
        ]
    ),
)


@contextmanager
def full_path() -> Iterator[None]:
    """Every shortcut replaced by the full steps it stands for."""
    with (
        mock.patch.object(textfilter, "fold_plain", lambda text: None),  # fold_full always
        mock.patch.object(textfilter, "fold_with_map", normalize.fold_with_map_full),
        mock.patch.object(topicmodel, "_words", topicmodel._words_full),
        mock.patch.object(pii, "find", pii.find_uncached),
        mock.patch.object(pii, "_shared", functools.partial(pii._shared, gated=False)),
        mock.patch.object(normalize, "_fold_chars", normalize._fold_chars_whole),
        mock.patch.object(normalize, "_fold_chars_with_map", normalize._fold_each_char),
        mock.patch.object(
            textfilter.TextFilter,
            "_without_game_talk",
            functools.partialmethod(textfilter.TextFilter._without_game_talk, gated=False),
        ),
    ):
        yield


@pytest.fixture(scope="module")
def moderators() -> tuple[ContentModerator, ContentModerator]:
    """One moderator for each path, each with its own filter."""
    lexicon = TextFilter.default().lexicon
    return ContentModerator(TextFilter(lexicon)), ContentModerator(TextFilter(lexicon))


def _moderate(moderator: ContentModerator, text: str, safety: Safety) -> tuple[Any, list[Any]]:
    """The result and the audit entry (less its time), nothing remembered from
    another message."""
    moderator.filter._scan_recent.cache_clear()
    moderator.filter._hits_recent.cache_clear()
    pii._find_recent.cache_clear()
    store = MemoryStore()
    moderator.audit = AuditLogger(store)
    result = asyncio.run(moderator.moderate_message(text, safety, session_id="s"))
    entries = asyncio.run(store.list_audit(session_id="s"))
    return result, [e.model_dump(exclude={"at"}) for e in entries]


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_plain_fold_is_the_full_fold(text: str) -> None:
    plain = normalize.fold_plain(text)
    if plain is not None:
        assert plain == normalize.fold_full(text)
    assert normalize.fold(text) == normalize.fold_full(text)
    assert normalize.fold_with_map(text) == normalize.fold_with_map_full(text)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_ascii_words_are_the_regex_words(text: str) -> None:
    for s in (text, normalize.fold(text)):
        assert topicmodel._words(s) == topicmodel._words_full(s)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_remembered_personal_data_is_found_again(text: str) -> None:
    assert pii.find(text) == pii.find_uncached(text)
    assert pii.find(text) == pii.find_uncached(text)  # the remembered answer


#: Lines with the numbers, words and shapes the personal-data gates look at.
_PII_WORDS_TEXT = (
    "i'm im age: 5 9 12 17 18 07 115 yo years old live in from Leeds my school is zip "
    "post code plz CA NY, 90210 12345-6789 01310-100 SW1A 1AA 1AA 00-950 Warszawa 12 "
    "Baker Street STR 3rd ul. st rd dr Hauptstrasse strasse calle rue 5 555-123-4567 "
    "+44 20 7946 0958 "
    "4111 1111 1111 1111 192.168.1.1 fe80::1 v1.2.3.4 a1 B2 3-4 x 100 y 64 z -200"
)
_PII_WORDS = _PII_WORDS_TEXT.split(" ")
pii_lines = st.lists(
    st.tuples(st.sampled_from(_PII_WORDS), st.sampled_from((" ", " ", ", ", "-", "", "\t", "."))),
    max_size=12,
).map(lambda parts: "".join(w + s for w, s in parts).strip())


@settings(max_examples=400, deadline=None)
@given(st.one_of(pii_lines, any_text))
@example("im 12 from Leeds")  # every word a child's place is given with
@example("age: 9, my school is Hill Academy")
@example("12 yo living in Leeds")
@example("i stay in York, I'm 10")
@example("im 11 i go to Hillside High school")
@example("based in Leeds, 9 yo")
@example("i live near Leeds and im 7")
def test_personal_data_gates_never_hide_a_finding(text: str) -> None:
    """The gates that skip the costlier patterns only skip ones that cannot match."""
    assert pii._shared(text) == pii._shared(text, gated=False)


def test_personal_data_gates_on_every_corpus_line() -> None:
    assert all(pii._shared(t) == pii._shared(t, gated=False) for t in corpus_lines())


@settings(max_examples=150, deadline=None)
@given(any_text, safeties)
def test_fast_and_full_paths_decide_alike(
    moderators: tuple[ContentModerator, ContentModerator], text: str, safety: Safety
) -> None:
    fast = _moderate(moderators[0], text, safety)
    with full_path():
        full = _moderate(moderators[1], text, safety)
    assert fast == full


def test_every_corpus_line_folds_alike() -> None:
    """Not a sample: every line of the corpora, and which of them are plain."""
    lines = corpus_lines()
    assert all(normalize.fold(t) == normalize.fold_full(t) for t in lines)
    assert all(normalize.fold_with_map(t) == normalize.fold_with_map_full(t) for t in lines)
    assert sum(normalize.fold_plain(t) is not None for t in lines) > len(lines) // 3


def _topics_by_scores(text: str) -> set[str]:
    model = topicmodel.default_model()
    scores = model.scores(normalize.fold(text))
    return {
        t for t, limit in zip(model.topics, model.thresholds, strict=True) if scores[t] >= limit
    }


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_topic_ceilings_never_hide_a_topic(text: str) -> None:
    """Texts set aside by their words' ceilings reach no threshold."""
    assert topicmodel.default_model().topics_in(normalize.fold(text)) == _topics_by_scores(text)


def test_topic_ceilings_on_every_corpus_line() -> None:
    model = topicmodel.default_model()
    lines = corpus_lines()
    assert all(model.topics_in(normalize.fold(t)) == _topics_by_scores(t) for t in lines)


@settings(max_examples=300, deadline=None)
@given(st.one_of(any_text, st.text(alphabet="aab\n ", max_size=30)))
def test_runs_are_found_by_lookup_as_by_walking(text: str) -> None:
    """``_Runs`` (repeated runs only, bisection) against a walk over every run."""
    for s in (text, normalize.fold(text)):
        runs = textfilter._Runs(s)
        walked = [(m.start(), m.end() - 1) for m in textfilter._RUN_ANY.finditer(s)]
        assert [runs.span(k) for k in range(len(walked))] == walked
        assert [runs.length(k) for k in range(len(walked))] == [b - a + 1 for a, b in walked]
        assert [runs.run_of(i) for i in range(len(s))] == textfilter.collapsed_index(s)


def test_topic_memory_is_bounded_and_forgets_safely() -> None:
    """A flood of new words empties the model's word memory instead of growing it, and
    the answers stay those of the scores."""
    model = topicmodel.TopicModel.load()
    lines = corpus_lines()[:300]
    with mock.patch.object(topicmodel, "_MAX_REMEMBERED_WORDS", 5):
        for text in lines:
            assert model.topics_in(normalize.fold(text)) == {
                t
                for t, limit in zip(model.topics, model.thresholds, strict=True)
                if model.scores(normalize.fold(text))[t] >= limit
            }
            assert len(model._word_rows) <= 5


#: The languages with national forms of personal data, and none.
_LANGUAGES = (None, "es", "de", "fr", "pt-BR", "ru")
#: Spelled-out and written e-mail marks, colons and unicode digits, for the gate.
_GATE_WORDS = ("dot", "DoT", ".com", ".de", "(at)", "at", "@", "::", "beef::cafe", "fe80::1", "١٢٣",
               "x")  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        pii_lines,
        any_text,
        st.lists(st.sampled_from(_GATE_WORDS + tuple(_WORDS)), max_size=8).map(" ".join),
    )
)
@example("beef::cafe")  # an IPv6 address without a digit
@example("write to kira AT mail DOT com")
@example("kira at mail.com")
@example("phone \u0663\u0663\u0663 \u0663\u0663\u0663\u0663 \u0663\u0663\u0663\u0663")
def test_text_the_gate_clears_holds_no_personal_data(text: str) -> None:
    """``pii.may_hold`` clears only text in which no language finds anything."""
    if not pii.may_hold(text):
        for language in _LANGUAGES:
            assert pii.find_uncached(text, language) == []
    for language in _LANGUAGES:
        assert pii.find(text, language) == pii.find_uncached(text, language)


def test_personal_data_gate_on_every_corpus_line() -> None:
    for text in corpus_lines():
        if not pii.may_hold(text):
            assert all(pii.find_uncached(text, lang) == [] for lang in _LANGUAGES)


def _luhn_completed(digits: str) -> str:
    """``digits`` and the check digit that makes them pass the Luhn check."""
    return next(digits + d for d in "0123456789" if pii._luhn(digits + d))


#: One-word texts of lower-case letters, digits and ``_`` (ids such as
#: ``act_3f9a0c2b7d1e4f5a``, which the audit log redacts): runs of digits around the
#: lengths the word shortcuts of ``pii.find`` look at (7 and 13), cards (Luhn-valid
#: runs), words of digits alone, and national forms (a Spanish phone, a CPF).
id_words = st.builds(
    lambda head, digits, tail: head + digits + tail,
    st.text(alphabet="abcdefxyz_", max_size=5),
    st.one_of(
        st.text(alphabet="0123456789", max_size=20),
        st.text(alphabet="0123456789", min_size=12, max_size=18).map(_luhn_completed),
        st.sampled_from(("612345678", "12345678909", "0034612345678", "0123456")),
    ),
    st.text(alphabet="abcdef0123456789_", max_size=6),
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(id_words, st.from_regex(r"[a-z0-9_]{1,24}", fullmatch=True)))
@example("act_3f9a0c2b7d1e4f5a")  # a generated id: nothing, found at once
@example("0123456")  # seven digits alone, a leading 0: a phone number
@example("act_4222222222222")  # thirteen digits that pass the Luhn check: a card
@example("act_4111111111111111")
@example("05551234567")  # a word of digits alone is a phone number
@example("x_612345678")  # a Spanish phone number (es sessions only)
@example("act_12345678909")  # a CPF (pt-BR sessions only)
def test_words_the_shortcuts_clear_hold_no_personal_data(text: str) -> None:
    """The one-word shortcuts of ``pii.find`` (``may_hold`` without seven digits in a
    row, any language; without thirteen, no national forms asked for) clear only
    words in which the full scan finds nothing: an id's redaction in the audit log is
    what it was."""
    for language in _LANGUAGES:
        assert pii.find(text, language) == pii.find_uncached(text, language)
    if not pii.may_hold(text):
        assert all(pii.find_uncached(text, lang) == [] for lang in _LANGUAGES)


def test_a_generated_id_is_redacted_as_the_full_scan_does() -> None:
    """The audit entry of an action keeps its id, or hides the card in it, exactly as
    with every pattern run."""
    for action_id in ("act_3f9a0c2b7d1e4f5a", "act_3f9a0c2b7d1e4f5a0", "act_4111111111111111"):
        logged = audit._redact_text.__wrapped__(action_id)
        with mock.patch.object(pii, "find", pii.find_uncached):
            assert logged == audit._redact_text.__wrapped__(action_id)
    assert audit._redact_text.__wrapped__("act_4111111111111111") == "act_[personal data]"


#: Letters with combining marks that folding keeps (U+0345 folds to ``i``; a musical
#: stem and a virama stay) or drops, precomposed forms, look-alikes and full-width text.
_MARKS = "a\u0345\U0001d165\u0301\u0300\u0327\u0f71\u1b44\u1fb3\u1f80\u00e9\u0399\u03a3\uff26\u0430"
unicode_marks = st.text(alphabet=st.sampled_from(_MARKS + " x"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.one_of(unicode_marks, st.text(max_size=40), any_text))
def test_folding_by_character_is_folding_the_text(text: str) -> None:
    """Steps 1-4 through each character's remembered fold equal the steps on the whole
    text (whose NFKD may reorder kept marks), and the one-translate index map equals
    the character-by-character one."""
    assert normalize._fold_chars(text) == normalize._fold_chars_whole(text)
    assert normalize._fold_chars_with_map(text) == normalize._fold_each_char(text)


def test_character_memory_is_bounded() -> None:
    """A flood of distinct characters empties the remembered folds instead of growing
    them, and folding stays the same."""
    text = "".join(map(chr, range(0x400, 0x800)))
    with mock.patch.object(normalize, "_MAX_FOLDED", 16):
        assert normalize._fold_chars(text) == normalize._fold_chars_whole(text)
        assert normalize._fold_chars_with_map(text) == normalize._fold_each_char(text)
        assert len(normalize._FOLDED) <= 16
        assert len(normalize._CHAR_FOLDS) <= 16
        assert len(normalize._NOT_ONE) <= 16


def _fold_with_map_by_character(text: str) -> tuple[str, list[int]]:
    """Steps 5-8 of :func:`normalize.fold_with_map_full` kept character by character
    (a flag per character for the spelled-out separators, one walk for the spaces):
    the reference the span-wise steps are compared with."""
    s, where = normalize._fold_each_char(text)
    if normalize._DRAWN_HINT.search(s):
        parts: list[str] = []
        moved: list[int] = []
        at = 0
        for m in normalize._DRAWN_LETTER.finditer(s):
            parts.append(s[at : m.start()])
            moved += where[at : m.start()]
            parts.append(normalize._drawn(m))
            moved.append(where[m.start()])
            at = m.end()
        parts.append(s[at:])
        moved += where[at:]
        s, where = "".join(parts), moved
    keep = [True] * len(s)
    for m in normalize._SPELLED.finditer(s):
        for sep in normalize._SEPARATOR.finditer(s, m.start(), m.end()):
            for k in range(sep.start(), sep.end()):
                keep[k] = False
    s = "".join(c for c, k in zip(s, keep, strict=True) if k)
    where = [w for w, k in zip(where, keep, strict=True) if k]
    s = normalize._LEET_TOKEN.sub(normalize._leet, s)
    out: list[str] = []
    idx: list[int] = []
    for c, w in zip(s, where, strict=True):
        if c == " " and (not out or out[-1] == " "):
            continue
        out.append(c)
        idx.append(w)
    if out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx


@settings(max_examples=400, deadline=None)
@given(st.one_of(any_text, unicode_marks, st.text(alphabet=" .-a b\u200bk|<()", max_size=24)))
def test_index_map_steps_by_span_are_the_steps_by_character(text: str) -> None:
    assert normalize.fold_with_map_full(text) == _fold_with_map_by_character(text)


def test_index_map_on_every_corpus_line() -> None:
    for text in corpus_lines():
        assert normalize.fold_with_map_full(text) == _fold_with_map_by_character(text)


#: Game talk and its near misses: every category's game patterns, their look-behinds
#: ("want to kill myself with tnt") and the words they stop at ("send pics of your body").
_GAME_TALK_TEXT = (
    "i keep killing myself with my own tnt|want to kill myself with tnt|accidentally killed "
    "myself|i dont want to die in this raid|gonna end it on this round|kill yourself on the "
    "spikes to reset|go kill yourself on the spikes|overdosed on potions|give me good head "
    "armor|are you alone in the dungeon|are u alone at home|send pics of your base|send pics "
    "of your body|sexy new armor|this skin looks so sexy|are you alone or with a squad|our "
    "little secret base|behead the boss|executioner beheads|i'll kill you in smash bros|im "
    "gonna murder that dragon|bomb the school of fish|blood everywhere in this map|coming to "
    "your house to trade|im coming to your house|zombies are subhuman|immigrants are subhuman"
)
_GAME_TALK = _GAME_TALK_TEXT.split("|")
game_lines = st.lists(st.sampled_from(_GAME_TALK + _WORDS), min_size=1, max_size=6).map(" ".join)


@functools.cache
def _filter() -> textfilter.TextFilter:
    return textfilter.TextFilter.default()


def _everywhere(s: str) -> list[tuple[str, int, int, str]]:
    """A finding of every category with game talk, over the whole collapsed ``s``."""
    end = len(textfilter.collapse_runs(s))
    return [(category, 0, end, "x") for category in _filter().lexicon.game]


@settings(max_examples=400, deadline=None)
@given(st.one_of(game_lines, any_text))
@example("I keep killing myself with my own TNT")
@example("are you alone in the dungeon? send pics of your base")
def test_game_talk_gates_never_hide_game_talk(text: str) -> None:
    """A category whose alternation of game patterns finds nothing has no game talk:
    the gated check keeps and drops exactly the findings the ungated one does."""
    tf = _filter()
    s = normalize.fold(text)
    for found in (_everywhere(s), [(c, 0, 1, "x") for c in tf.lexicon.game]):
        assert tf._without_game_talk(s, found) == tf._without_game_talk(s, found, gated=False)


def test_game_talk_gates_on_every_corpus_line() -> None:
    tf = _filter()
    for text in corpus_lines() + tuple(_GAME_TALK):
        s = normalize.fold(text)
        found = _everywhere(s)
        assert tf._without_game_talk(s, found) == tf._without_game_talk(s, found, gated=False)


def test_game_talk_gates_are_built_and_open_on_game_talk() -> None:
    """Each built-in category with several game patterns has a gate, and the gate lets
    its game talk through (so the properties above compare both branches)."""
    tf = _filter()
    gates = {c: g for c, g in tf._game_gates.items() if g is not None}
    assert {c for c, ps in tf.lexicon.game.items() if len(ps) > 1} <= set(gates)
    for category, gate in gates.items():
        opened = [t for t in _GAME_TALK if gate.search(normalize.fold(t))]
        assert opened, category
        for text in opened:
            s = normalize.fold(text)
            runs = textfilter._Runs(s)
            inside = [
                (category, runs.run_of(m.start()), runs.run_of(m.end() - 1) + 1, "x")
                for p in tf.lexicon.game[category]
                for m in p.finditer(s)
            ]
            assert inside, text  # the gate opened on a text one pattern matches
            assert tf._without_game_talk(s, inside) == [], text


_SMALL_PATTERNS = (r"\bab\b", r"(?<!x )b+a", r"c(?=a)", r"(a|b)c\w", r"^ba$", r"(?i)CAB")


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(_SMALL_PATTERNS[:-1]), min_size=2, max_size=4),
    st.text(alphabet="abcx ", max_size=12),
)
def test_an_alternation_matches_where_one_of_its_patterns_does(
    sources: list[str], text: str
) -> None:
    patterns = [re.compile(p) for p in sources]
    joined = textfilter._any_of(patterns)
    assert joined is not None
    assert (joined.search(text) is not None) == any(p.search(text) for p in patterns)


def test_patterns_that_cannot_be_joined_get_no_gate() -> None:
    two = [re.compile("a"), re.compile("b")]
    assert textfilter._any_of(two[:1]) is None  # one pattern is its own gate
    assert textfilter._any_of([two[0], re.compile(r"(b)\1")]) is None  # group reference
    assert textfilter._any_of([two[0], re.compile(r"(?P<x>b)(?P=x)")]) is None
    assert textfilter._any_of([two[0], re.compile("b", re.IGNORECASE)]) is None  # flags
    assert textfilter._any_of([two[0], re.compile("(?i)CAB")]) is None  # inline flags
    assert textfilter._any_of([re.compile("a # c", re.X), re.compile("b", re.X)]) is None
    assert textfilter._any_of(two) is not None


def test_a_rule_triggered_twice_runs_once() -> None:
    """Rules are kept once per message by what their equality compares: a rule named
    by two triggers, or an equal one compiled again (another pattern object), adds its
    finding once."""
    lexicon = Lexicon()
    rule = Rule("violence", re.compile(r"\bbring a (knife|bat)\b"), "test:1")
    again = Rule("violence", re.compile(r"\bbring a (knife|bat)\b", re.UNICODE), "test:1")
    for trigger, r in (("knife", rule), ("bat", rule), ("bring", again)):
        lexicon.rules.setdefault(trigger, []).append(r)
        lexicon.add(Entry("violence", "rule", trigger), [trigger])
    assert rule == again and rule.pattern is not again.pattern
    found = textfilter.TextFilter(lexicon).scan_collapsed("i bring a knife and a bat")
    assert found == [("violence", 2, 15, "test:1")]


# -- shortcuts compared with their straightforward forms (tuning corpus only) ----------


@functools.cache
def tuning_lines() -> tuple[str, ...]:
    """The lines of ``corpus.jsonl`` (tuning data; no held-out line)."""
    return tuple(str(r["text"]) for r in load_corpus())


tuning_text = st.one_of(
    ascii_lines, random_ascii, st.text(max_size=40), st.sampled_from(tuning_lines())
)


def _neutral_everywhere(tf: textfilter.TextFilter, skeleton: str) -> set[str]:
    """Every topic whose neutral patterns match the whole line, each pattern tried."""
    return {
        category
        for category, patterns in tf.lexicon.neutral.items()
        if any(p.fullmatch(skeleton) for p in patterns)
    }


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(tuning_text, st.sampled_from(_GAME_TALK)),
    st.sets(st.sampled_from(("hate", "sexual", "self_harm", "violence", "politics", "x"))),
)
@example("any muslims here?", {"hate"})
@example("any muslims here?", {"sexual", "violence"})
@example("gay people are cool", {"hate", "sexual"})
def test_neutral_topics_among_some_are_those_of_all(text: str, among: set[str]) -> None:
    tf = _filter()
    s = normalize.fold(text)
    assert tf.neutral_topics(s) == _neutral_everywhere(tf, s)
    assert tf.neutral_topics(s, among) == _neutral_everywhere(tf, s) & among


def _hits_as_dataclasses(
    tf: textfilter.TextFilter, text: str, personal_data: bool
) -> list[textfilter.Hit]:
    """What :meth:`TextFilter.hits` gave before its hits were kept as tuples: a set of
    :class:`Hit`, sorted by start, end and category."""
    s, where = normalize.fold_with_map(text)
    runs = textfilter._Runs(s)
    collapsed_length = len(s) - sum(runs.lengths) + len(runs.lengths)
    out: set[textfilter.Hit] = set()
    for category, start, end, term in tf._scan(s, "game")[0]:
        if start < end <= collapsed_length:
            first, last = where[runs.span(start)[0]], where[runs.span(end - 1)[1]]
            out.add(textfilter.Hit(category, first, last + 1, term))
    if personal_data:
        out.update(textfilter.Hit("personal_data", a, b, k) for a, b, k in pii.find(text))
    return sorted(out, key=lambda h: (h.start, h.end, h.category, h.term))


def _masked_by_hits(
    text: str, hits: list[textfilter.Hit], wanted: set[str] | None, char: str = "*"
) -> str:
    chars = list(text)
    for hit in hits:
        if wanted is None or hit.category in wanted:
            for i in range(hit.start, hit.end):
                if not chars[i].isspace():
                    chars[i] = char
    return "".join(chars)


@settings(max_examples=300, deadline=None)
@given(
    tuning_text,
    st.sampled_from([None, {"profanity"}, {"profanity", "personal_data"}, {"personal_data"}]),
)
@example("fuck you, call me on 555-123-4567", {"profanity"})
@example("sh1t sh1t f.u.c.k me@mail.com", None)
def test_hits_and_masks_are_those_of_dataclass_hits(text: str, wanted: set[str] | None) -> None:
    tf = _filter()
    personal = wanted is None or "personal_data" in wanted
    for personal_data in (True, False):
        assert tf.hits(text, personal_data=personal_data) == _hits_as_dataclasses(
            tf, text, personal_data
        )
    expected = _masked_by_hits(text, _hits_as_dataclasses(tf, text, personal), wanted)
    assert tf.mask(text, wanted) == expected


def _topics_by_model_scores(model: topicmodel.TopicModel, skeleton: str) -> set[str]:
    scores = model.scores(skeleton)
    return {
        t for t, limit in zip(model.topics, model.thresholds, strict=True) if scores[t] >= limit
    }


def _small_model(thresholds: tuple[float, float]) -> topicmodel.TopicModel:
    """Two topics, a few words, pairs and classes with weights near the gaps."""
    return topicmodel.TopicModel(
        ("a", "b"),
        (-1.0, -2.0),
        thresholds,
        {
            "w:kill": (1.5, -0.5), "w:you": (0.2, 0.9), "p:killi": (0.4, 0.1),
            "b:kill you": (0.6, 0.0), "b:you tonight": (0.0, 1.2), "w:spawn": (-2.0, -1.0),
            "c:THREAT": (0.3, 0.2), "cc:REAL+THREAT": (0.5, 0.8), "c:GAME": (-1.0, -1.0),
        },
    )  # fmt: skip


_SMALL_MODEL_WORDS = ("kill", "killing", "you", "tonight", "spawn", "home", "the", "x", "12")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_SMALL_MODEL_WORDS), max_size=8).map(" ".join),
    st.sampled_from([(1.0, 1.0), (0.5, 2.5), (-1.0, 0.5), (-1.5, -2.5), (1.9, -2.0)]),
)
def test_topic_shares_of_the_gaps_never_hide_a_topic(
    text: str, thresholds: tuple[float, float]
) -> None:
    """Ceilings as shares of each topic's gap set aside only texts that reach no
    threshold, also with a gap of 0 or less (where nothing is set aside)."""
    model = _small_model(thresholds)
    assert model.topics_in(text) == _topics_by_model_scores(model, text)


def test_topic_shares_of_the_gaps_on_the_tuning_corpus() -> None:
    model = topicmodel.TopicModel.load()
    for text in tuning_lines():
        s = normalize.fold(text)
        assert model.topics_in(s) == _topics_by_model_scores(model, s)


@settings(max_examples=150, deadline=None)
@given(tuning_text, safeties)
def test_moderate_message_audits_as_its_audit_method_does(
    moderators: tuple[ContentModerator, ContentModerator], text: str, safety: Safety
) -> None:
    """``moderate_message`` writes its entry itself: the same entry and count as
    ``_audit`` (which the other decisions go through) writes for its result."""
    moderator = moderators[0]
    store, other = MemoryStore(), MemoryStore()
    moderator.audit = AuditLogger(store)
    before = dict(moderator.counters.decisions)
    result = asyncio.run(moderator.moderate_message(text, safety, session_id="s"))
    counted = dict(moderator.counters.decisions)
    _, clean = moderator._check(text, safety, None)
    moderator.audit = AuditLogger(other)
    asyncio.run(moderator._audit("message", result.decision, result.reason, result.categories,
                                 text, result.text, "s", safety, clean))  # fmt: skip
    key = f"message:{result.decision}"
    assert counted[key] == before.get(key, 0) + 1
    entries = [asyncio.run(s.list_audit(session_id="s")) for s in (store, other)]
    assert [[e.model_dump(exclude={"at"}) for e in es] for es in entries] == [
        [entries[1][0].model_dump(exclude={"at"})]
    ] * 2


@functools.cache
def _filter_listing_every_run() -> textfilter.TextFilter:
    """The default filter without the longest-run shortcut: every candidate whose
    spelling needs runs has them listed and checked."""
    tf = _filter()
    twin = copy.copy(tf)
    automaton = ahocorasick.Automaton()
    for key, (length, variants) in tf._automaton.items():
        automaton.add_word(key, (length, tuple((*v[:4], "", *v[5:]) for v in variants)))
    automaton.make_automaton()
    twin._automaton = automaton
    return twin


_RUN_WORDS = ("as", "ass", "asss", "a ss", "kiss my ass", "class", "assassin", "1488", "14888",
              "11488", "88", "sex", "sexx", "fuuuck", "shiiit", "poop", "boob", "boobs", "tit",
              "titt", "kkk", "kk", "xxx", "dumbass", "dumb ass")  # fmt: skip
run_lines = st.lists(st.sampled_from(_RUN_WORDS + tuple(_WORDS)), min_size=1, max_size=8).map(
    " ".join
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(run_lines, tuning_text))
@example("kiss my ass")
@example("as if")
@example("the 1488 and 14888")
def test_longest_run_shortcut_finds_what_listing_every_run_does(text: str) -> None:
    s = normalize.fold(text)
    for context in ("game", "general"):
        assert _filter()._scan(s, context) == _filter_listing_every_run()._scan(s, context)


def test_longest_run_shortcut_on_the_tuning_corpus() -> None:
    for text in tuning_lines():
        s = normalize.fold(text)
        assert _filter()._scan(s, "game") == _filter_listing_every_run()._scan(s, "game")


# -- issue #17/#25, second round: shortcuts compared with what they stand for --------
# (tuning corpus and generated text only)


@settings(max_examples=400, deadline=None)
@given(st.one_of(tuning_text, st.text(alphabet="aab\n\t !", max_size=30)))
@example("fuuuck\n\n\nyou  all!!")
def test_runs_collapse_by_removal_as_by_replacement(text: str) -> None:
    """Removing each character its twin follows collapses runs as replacing each run
    by its first character does (line breaks are no character to ``.``)."""
    for s in (text, normalize.fold(text)):
        assert textfilter.collapse_runs(s) == textfilter.collapse_runs_by_group(s)


def test_runs_collapse_alike_on_the_tuning_corpus() -> None:
    for text in tuning_lines():
        s = normalize.fold(text)
        assert textfilter.collapse_runs(s) == textfilter.collapse_runs_by_group(s)


_MARK_WORDS = (*credentials.SECRET_MARKS, "sk", "k-", "ae", "deploy", "bearer", "Bearer",
               "basic", "AKI", "AIz", "xo", "ey", "gh", "_", "-", "hello", "gg", "é")  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        tuning_text,
        st.lists(st.sampled_from(_MARK_WORDS), max_size=6).map("".join),
        st.lists(st.sampled_from(_MARK_WORDS), max_size=6).map(" ".join),
    )
)
def test_secret_marks_are_found_as_the_hint_finds_them(text: str) -> None:
    assert credentials.has_mark(text) == (credentials.SECRET_HINT.search(text) is not None)


def test_secret_marks_on_the_tuning_corpus() -> None:
    assert all(
        credentials.has_mark(t) == (credentials.SECRET_HINT.search(t) is not None)
        for t in tuning_lines()
    )


#: Street words that come before or after the house number, in several cases.
_STREET_NUMBER_WORDS = ("Hauptstrasse", "STRASSE", "Gartenweg", "platz", "Allee", "gasse",
                        "straat", "laan", "gracht", "plein", "vej", "gade", "gatan", "veien",
                        "gata", "calle", "Calle", "AVENIDA", "rue", "Rue", "rua", "travessa",
                        "chemin", "via", "Viale", "piazza", "corso", "ul.", "ulica", "de",
                        "la", "mayor", "true", "full", "5", "12", "123", "7b", "x")  # fmt: skip
street_lines = st.lists(
    st.tuples(st.sampled_from(_STREET_NUMBER_WORDS), st.sampled_from((" ", "  ", ", ", "\t"))),
    max_size=8,
).map(lambda parts: "".join(w + s for w, s in parts).strip())


@settings(max_examples=400, deadline=None)
@given(st.one_of(street_lines, tuning_text))
@example("Rue de Rivoli 5")
@example("RUE DE RIVOLI 5")
@example("Hauptstrasse  12")
@example("ul. Dluga 7")
@example("Gartenweg 12")
@example("Storgatan 5b")
@example("Damrak 1, Keizersgracht 5")
def test_street_number_hint_never_hides_an_address(text: str) -> None:
    """The hint before the number-last address pattern (ASCII text, lower case) only
    skips texts where it cannot match."""
    assert pii._shared(text) == pii._shared(text, gated=False)


def test_personal_data_gates_on_the_tuning_corpus() -> None:
    assert all(pii._shared(t) == pii._shared(t, gated=False) for t in tuning_lines())


@settings(max_examples=200, deadline=None)
@given(tuning_text, st.sampled_from(["*", "#", "##", "\u2588"]))
@example("f\tu\tc\tk you", "##")
@example("sh\u00a0it and fu ck", "*")
def test_masks_with_any_mask_character_are_those_of_hits(text: str, char: str) -> None:
    """Spans masked at once (no white space in them) and character by character mask
    alike, whatever the mask (a mask of two characters fills each position with it)."""
    tf = _filter()
    hits = _hits_as_dataclasses(tf, text, True)
    assert tf.mask(text, None, char) == _masked_by_hits(text, hits, None, char)


@functools.cache
def _model_of_its_own() -> topicmodel.TopicModel:
    """The shipped model, loaded apart from the one the moderators share."""
    return topicmodel.TopicModel.load()


@settings(max_examples=200, deadline=None)
@given(tuning_text)
def test_scores_of_words_never_seen_are_the_sum_of_their_features(text: str) -> None:
    """A model that has learnt none of a text's words yet scores it as
    the weights of its features add up to: the rows of words it has not learnt are
    learnt on the way, not left out."""
    model = _model_of_its_own()
    model._word_rows.clear()  # what a full memory does: nothing learnt
    model._word_ceilings.clear()
    s = normalize.fold(text)
    weights = [model.weights.get(f) for f in topicmodel.features(s)]
    expected = [
        b + sum(row[i] for row in weights if row is not None) for i, b in enumerate(model.bias)
    ]
    scores = model.scores(s)
    assert all(
        abs(scores[t] - e) <= 1e-9 * max(1.0, abs(e))
        for t, e in zip(model.topics, expected, strict=True)
    )


@pytest.mark.parametrize("word", pii._PLACE_WORDS)
def test_each_place_word_opens_the_age_gate(word: str) -> None:
    """The age gate writes ``_PLACE_WORDS`` out (a generator costs more): each of them
    opens it, and a line with an age and none of them keeps it shut."""
    text = f"i am 12 and {word}"
    assert pii._Gates(text, text.lower()).age
    assert not pii._Gates("i am 12 and bored", "i am 12 and bored").age
