"""Behaviour of ``encounters.moderation``: folding, the text filter, lexicons from
config, the content moderator (messages and actions), the GCRA rate limiter and the
audit log."""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from encounters.errors import ConfigError
from encounters.models.actions import Chat, MoveTo
from encounters.models.persona import Embodiment, PersonaCore, Safety
from encounters.moderation import (
    ActionDecision,
    AuditLogger,
    ContentModerator,
    InProcessRateLimiter,
    ModerationResult,
    Rate,
    TextFilter,
    redact,
)
from encounters.moderation.audit import MAX_LOGGED_TEXT, REDACTED
from encounters.moderation.normalize import fold, fold_with_map
from encounters.storage import SQLiteStore, Store

T = TypeVar("T")

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def run(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    return anyio.run(functools.partial(fn, *args, **kwargs))


@pytest.fixture(scope="module")
def tf() -> TextFilter:
    return TextFilter.default()


@pytest.fixture(scope="module")
def moderator(tf: TextFilter) -> ContentModerator:
    return ContentModerator(tf)


def persona(**safety: Any) -> PersonaCore:
    return PersonaCore(name="Companion", safety=Safety(**safety))


ALL_BUT_POLITICS = ["self_harm", "sexual", "violence", "hate", "personal_data"]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- 1. folding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "skeleton"),
    [
        ("ｆｕｃｋ", "fuck"),  # full-width (NFKC)
        ("𝐟𝐮𝐜𝐤", "fuck"),  # mathematical bold
        ("𝓈𝒽𝒾𝓉", "shit"),  # mathematical script
        ("FuCk", "fuck"),  # case
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
        ("fu\u200bck", "fuck"),  # zero-width space
        ("f\u00adu\u2060c\ufeffk", "fuck"),  # soft hyphen, word joiner, BOM
        ("\u202efuck", "fuck"),  # bidi override
        ("fuсk", "fuck"),  # Cyrillic es
        ("ѕһіt", "shit"),  # Cyrillic look-alikes
        ("αss", "ass"),  # Greek alpha
        ("café", "cafe"),  # combining accent dropped
        ("sh1t", "shit"),
        ("@ss", "ass"),
        ("a$$", "ass"),
        ("b!tch", "bitch"),
        ("4$5", "ass"),
        ("f.u.c.k", "fuck"),
        ("f u c k", "fuck"),
        ("f|u|c|k", "fuck"),
        ("d.!.c.k", "dick"),
        ("well   f.u.c.k\tthis", "well fuck this"),
        ("SΗIT", "shit"),  # Greek capital eta is an H before case folding
        ("ΒΙΤCΗ", "bitch"),  # Greek capitals, iota as I
        ("ᏚᎻᎥᎢ", "shit"),  # Cherokee
        ("ꮪꮋꭵᎢ", "shit"),  # Cherokee small letters
        ("🅵🆄🅲🅺", "fuck"),  # negative squared letters
        ("🄵🅄🄲🄺", "fuck"),  # squared letters
        ("f\u3164u\u3164c\u3164k", "fuck"),  # Hangul filler
        ("fu<k", "fuck"),
        ("fuc|<", "fuck"),
        ("f♥u♥c♥k", "fuck"),
        ("s·h·i·t", "shit"),
        ("|)!(|<", "dick"),
        ("i <3 u", "i <3 u"),  # a heart is not a letter
    ],
)
def test_fold_undoes_obfuscation(text: str, skeleton: str) -> None:
    assert fold(text) == skeleton
    assert fold_with_map(text)[0] == skeleton


@pytest.mark.parametrize(
    ("text", "skeleton"),
    [
        ("$100", "$100"),
        ("it costs $100 now", "it costs $100 now"),
        ("3.5", "3.5"),
        ("rated 3.5 stars", "rated 3.5 stars"),
        ("x 100 y 64 z -200", "x 100 y 64 z -200"),
        ("wow!", "wow!"),  # a trailing "!" stays punctuation
        ("we won 100!!", "we won 100!!"),  # a shouted number stays a number
        ("shot a deer", "shot a deer"),  # separators join single letters only
    ],
)
def test_fold_keeps_numbers_and_words(text: str, skeleton: str) -> None:
    assert fold(text) == skeleton


def test_fold_with_map_points_at_original_characters() -> None:
    text = "well f.u.c.k this"
    skeleton, where = fold_with_map(text)
    assert skeleton == "well fuck this"
    start = skeleton.index("fuck")
    assert [text[where[start + k]] for k in range(4)] == list("fuck")
    # zero-width characters are skipped, so the map jumps over them
    assert fold_with_map("fu\u200bck") == ("fuck", [0, 1, 3, 4])


_FOLD_CHARS = [
    *"abcdefiklnorstuxyz ABCFKSU0134578@$!|€¢£#%.-*~,:;/\\^=\"'+_\t\n",
    *["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u202e", "\x00"],
    *["\u0301", "\u0308", "é", "ü", "ß", "ñ", "Å", "ǅ", "ﬁ", "½", "²", "ｆ", "𝐟", "Ⓕ"],
    *["с", "о", "а", "ѕ", "α", "ο", "ı", "İ", "ΐ", "ῼ", "\u0345", "가", "😀"],
]
_FOLD_ALPHABET = st.sampled_from(_FOLD_CHARS)
_FOLD_TEXT = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"])),
    st.text(alphabet=_FOLD_ALPHABET, max_size=60),
)


@PROPERTY
@given(_FOLD_TEXT)
def test_fold_and_fold_with_map_agree(text: str) -> None:
    skeleton, where = fold_with_map(text)
    assert fold(text) == skeleton
    assert len(where) == len(skeleton)
    assert all(0 <= i < len(text) for i in where)
    assert all(a <= b for a, b in itertools.pairwise(where))


# -- 2. the text filter --------------------------------------------------------------

SCUNTHORPE = [
    "Scunthorpe",
    "class",
    "assassin",
    "Sussex",
    "cocktail",
    "shiitake",
    "shot a",
    "computadora",
    "Marsch",
    "cumulative",
    "Moby Dick",
    "we passed the class in Scunthorpe",
    "Twatt",
    "the road to Bitchfield",
    "Shitterton is in Dorset",
    "Mr Dikshit and Ms Shittu",
    "reading Philip K. Dick",
    "a bastard sword",
    "cock your crossbow",
    "King Cnut",
    "it's hit",
    "the boss s hit box",
    "who re you",
    "I shot a deer near Sussex",
]
GAME_TALK = [
    "i killed the dragon",
    "nice headshot",
    "join my party",
    "vote to kick",
    "go to x 100 y 64 z -200",
    "it costs $100, rated 3.5 stars",
]


@pytest.mark.parametrize("text", SCUNTHORPE + GAME_TALK)
def test_clean_text_passes(tf: TextFilter, text: str) -> None:
    assert tf.categories_in(text) == set()
    assert tf.hits(text) == []
    assert tf.mask(text) == text


PROFANE = [
    "fuck",
    "FUCK you",
    "fuuuuck",
    "f*ck",
    "f**k this",
    "fvck",
    "ｆｕｃｋ",
    "𝐟𝐮𝐜𝐤",
    "fuсk",  # Cyrillic es
    "fu\u200bck",
    "sh1t",
    "@ss",
    "a$$",
    "b!tch",
    "well f.u.c.k this",
    "f u c k off",
    "f|u|c|k",
    "d.!.c.k",
    "motherfucker!",
    "SΗIT",
    "🅵🆄🅲🅺 this",
    "ᏚᎻᎥᎢ",
    "fu<k",
    "fuc|< off",
    "f♥u♥c♥k",
    "s·h·i·t",
    "fu ck you",
    "oh sh it",
    "fu cking noob",
    "f\u3164u\u3164c\u3164k",
    "fuq off",
    "cnut",
    "sht happens",
    "twat",
    # German, Spanish, French, Portuguese
    "Scheiße",
    "du Arschloch",
    "hijo de puta",
    "mierda",
    "putain",
    "merde alors",
    "caralho",
    "porra",
]


@pytest.mark.parametrize("text", PROFANE)
def test_profanity_found(tf: TextFilter, text: str) -> None:
    assert "profanity" in tf.categories_in(text)
    assert any(h.category == "profanity" for h in tf.hits(text))
    assert tf.mask(text) != text


@pytest.mark.parametrize(
    ("topic", "text"),
    [
        ("self_harm", "i want to kill myself"),
        ("sexual", "send nudes"),
        ("politics", "vote for trump in the election"),
        ("violence", "i will slit your throat"),
        ("hate", "heil hitler"),
        ("personal_data", "mail me at bob@example.com"),
        ("personal_data", "call me at 0170 1234567 ok"),
        ("personal_data", "i live at 42 baker street"),
    ],
)
def test_topics_found(tf: TextFilter, topic: str, text: str) -> None:
    assert topic in tf.categories_in(text)
    assert "profanity" not in tf.categories_in(text)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("well f.u.c.k this", "well ******* this"),
        ("call me at 0170 1234567 ok", "call me at **** ******* ok"),
        ("motherfucker!", "************!"),
        ("Héllo ｆｕｃｋ wörld 👋", "Héllo **** wörld 👋"),
        ("you sh1t head", "you **** head"),
        ("fuuuuck off", "******* off"),
        ("oh fu\u200bck", "oh *****"),
        ("oh fuckkkk!", "oh *******!"),
        ("you asssss", "you ******"),
    ],
)
def test_mask_replaces_only_offending_characters(tf: TextFilter, text: str, masked: str) -> None:
    assert tf.mask(text) == masked


def test_mask_by_category(tf: TextFilter) -> None:
    text = "fuck, call me at 0170 1234567"
    assert tf.mask(text, categories=["personal_data"]) == "fuck, call me at **** *******"
    assert tf.mask(text, categories=["profanity"]) == "****, call me at 0170 1234567"
    assert tf.mask(text) == "****, call me at **** *******"


@pytest.mark.parametrize(
    ("text", "offending"),
    [
        ("well f.u.c.k this", "f.u.c.k"),
        ("oh ｆｕｃｋ you", "ｆｕｃｋ"),
        ("motherfucker!", "motherfucker"),
        ("oh fuckkkk!", "fuckkkk"),
        ("oh fu\u200bck", "fu\u200bck"),
        ("you 𝐟𝐮𝐜𝐤", "𝐟𝐮𝐜𝐤"),
        ("Straße Scheiße", "Scheiße"),
        ("call me at 0170 1234567 ok", "0170 1234567"),
    ],
)
def test_hit_spans_index_original_text(tf: TextFilter, text: str, offending: str) -> None:
    hits = tf.hits(text)
    assert hits
    assert {text[h.start : h.end] for h in hits} == {offending}


_FILTER_WORDS = ["fuck", "shit", "ass", "class", "f.u.c.k", "sh1t", "@ss", "scunthorpe"]
_FILTER_WORDS += ["kill myself", "send nudes", "trump", "0170 1234567", "ｆｕｃｋ", "fuuuck"]
_FILTER_WORDS += ["a", "s", "f*ck", "moby dick", "dick", "b!tch", " ", ".", "\u200b", "é"]
_FILTER_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=_FOLD_ALPHABET, max_size=40),
    st.lists(st.sampled_from(_FILTER_WORDS), max_size=10).map(" ".join),
    st.lists(st.sampled_from(_FILTER_WORDS), max_size=10).map("".join),
)


@PROPERTY
@given(_FILTER_TEXT)
def test_mask_keeps_everything_outside_hits(tf: TextFilter, text: str) -> None:
    hits = tf.hits(text)
    covered: set[int] = set()
    for h in hits:
        assert 0 <= h.start < h.end <= len(text)
        covered.update(range(h.start, h.end))
    masked = tf.mask(text)
    assert len(masked) == len(text)
    assert all(masked[i] == text[i] for i in range(len(text)) if i not in covered)
    # the fast check and the positional one agree
    assert tf.categories_in(text) == {h.category for h in hits}


# -- 3. lexicons from config ---------------------------------------------------------


@pytest.fixture(scope="module")
def spoiler_filter(tmp_path_factory: pytest.TempPathFactory) -> TextFilter:
    folder = tmp_path_factory.mktemp("lexicons")
    (folder / "spoilers.txt").write_text(
        "# our own topic\n[spoilers word]\nrosebud is a sled\n", encoding="utf-8"
    )
    return TextFilter.default(extra_dirs=[folder])


def test_custom_lexicon_adds_category(spoiler_filter: TextFilter, tf: TextFilter) -> None:
    text = "did you know Rosebud is a sled?"
    assert "spoilers" in spoiler_filter.categories
    assert spoiler_filter.categories_in(text) == {"spoilers"}
    assert "spoilers" not in tf.categories
    assert tf.categories_in(text) == set()
    # the built-in lists are still there
    assert "profanity" in spoiler_filter.categories_in("fuck")


def test_custom_topic_blocks_for_persona_that_blocks_it(spoiler_filter: TextFilter) -> None:
    mod = ContentModerator(spoiler_filter)
    assert "spoilers" in mod.topics
    text = "did you know Rosebud is a sled?"
    result = mod.check_message(text, persona(blocked_topics=["spoilers"]))
    assert (result.decision, result.reason, result.topic) == ("block", "blocked_topic", "spoilers")
    other = mod.check_message(text, persona())
    assert other.decision == "allow"
    assert "spoilers" in other.categories


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("# comment\n[Bad Section word]\nfoo\n", 2),
        ("# comment\n[spoilers]\nfoo\n", 2),  # no mode
        ("# comment\n\n[spoilers rule]\nfoo: (unclosed\n", 4),  # bad regex
        ("# comment\n[spoilers rule]\nno colon here\n", 3),
        ("a term before any section\n", 1),
    ],
)
def test_malformed_lexicon_names_file_and_line(tmp_path: Path, content: str, line: int) -> None:
    folder = tmp_path / "lex"
    folder.mkdir()
    (folder / "broken.txt").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        TextFilter.default(extra_dirs=[folder])
    assert f"broken.txt:{line}:" in str(info.value)


def test_missing_lexicon_folder_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        TextFilter.default(extra_dirs=[tmp_path / "nope"])


# -- 4. the content moderator: messages ----------------------------------------------


def test_sanitize_persona_masks_profanity(moderator: ContentModerator) -> None:
    result = run(moderator.moderate_message, "well fuck this", persona(moderation="sanitize"))
    assert result.decision == "sanitize"
    assert result.reason == "profanity"
    assert result.text == "well **** this"
    assert result.sanitized == "well **** this"
    assert result.allowed


def test_block_persona_blocks_profanity(moderator: ContentModerator) -> None:
    result = run(moderator.moderate_message, "well f.u.c.k this", persona(moderation="block"))
    assert (result.decision, result.reason) == ("block", "profanity")
    assert result.text is None
    assert not result.allowed


def test_clean_message_allowed(moderator: ContentModerator) -> None:
    result = run(moderator.moderate_message, "nice headshot, join my party", persona())
    assert result == ModerationResult("allow", None, (), None, "nice headshot, join my party")


@pytest.mark.parametrize("mode", ["sanitize", "block"])
@pytest.mark.parametrize(
    ("topic", "text"),
    [
        ("self_harm", "i want to kill myself"),
        ("sexual", "send nudes"),
        ("politics", "vote for trump in the election"),
        ("violence", "i will slit your throat"),
        ("hate", "heil hitler"),
    ],
)
def test_blocked_topic_blocks_in_any_mode(
    moderator: ContentModerator, mode: str, topic: str, text: str
) -> None:
    result = run(moderator.moderate_message, text, persona(moderation=mode))
    assert (result.decision, result.reason, result.topic) == ("block", "blocked_topic", topic)
    assert result.text is None


def test_unblocked_topic_allowed_but_reported(moderator: ContentModerator) -> None:
    text = "vote for trump in the election"
    result = run(moderator.moderate_message, text, persona(blocked_topics=ALL_BUT_POLITICS))
    assert result.decision == "allow"
    assert result.text == text
    assert "politics" in result.categories


def test_topic_aliases(moderator: ContentModerator) -> None:
    p = persona(blocked_topics=["self-harm", "nsfw"])
    assert p.safety.blocked_topics == ["self_harm", "sexual"]
    harm = moderator.check_message("i want to kill myself", p)
    assert (harm.decision, harm.topic) == ("block", "self_harm")
    sexual = moderator.check_message("send nudes", p)
    assert (sexual.decision, sexual.topic) == ("block", "sexual")
    assert moderator.check_message("heil hitler", p).decision == "allow"


def test_personal_data_masked_when_blocked(moderator: ContentModerator) -> None:
    text = "call me at 0170 1234567 ok"
    masked = moderator.check_message(text, persona(moderation="sanitize"))
    assert (masked.decision, masked.reason) == ("sanitize", "personal_data")
    assert masked.text == "call me at **** ******* ok"
    blocked = moderator.check_message(text, persona(moderation="block"))
    assert (blocked.decision, blocked.reason) == ("block", "personal_data")
    allowed = moderator.check_message(text, persona(blocked_topics=["politics"]))
    assert allowed.decision == "allow"
    assert allowed.text == text
    assert "personal_data" in allowed.categories


def test_request_for_personal_data_blocked_even_in_sanitize_mode(
    moderator: ContentModerator,
) -> None:
    result = moderator.check_message("what's your address?", persona(moderation="sanitize"))
    assert (result.decision, result.reason) == ("block", "personal_data")
    assert result.text is None


def test_control_and_bidi_characters_removed(moderator: ContentModerator) -> None:
    result = moderator.check_message("hi\x1b[31m there\u202e evil\x00\u200b!", persona())
    assert result.decision == "allow"
    assert result.text is not None
    for bad in ("\x1b", "\u202e", "\x00", "\u200b"):
        assert bad not in result.text
    assert result.text == "hi[31m there evil!"


def test_emoji_sequences_kept(moderator: ContentModerator) -> None:
    text = "family 👨\u200d👩\u200d👧 time 🏳️\u200d🌈"
    result = moderator.check_message(text, persona())
    assert result.decision == "allow"
    assert result.text == text


BAD_INPUT: list[tuple[str, object, str, str | None]] = [
    ("empty", "", "block", "empty"),
    ("blank", "   ", "block", "empty"),
    ("controls", "\x00\x01\u200b", "block", "empty"),
    ("lone surrogate", "\ud800", "block", "empty"),
    ("1 MB", "a" * 1_000_000, "block", "too_long"),
    ("1 MB blank", " " * 1_000_000, "block", "too_long"),
    ("just too long", "a" * 501, "block", "too_long"),
    ("bytes", b"\xff\xfe\x00garbage", "block", "invalid_input"),
    ("None", None, "block", "invalid_input"),
    ("int", 12345, "block", "invalid_input"),
    ("list", ["hi"], "block", "invalid_input"),
    ("mixed scripts", "Привет мир hello 你好 مرحبا", "allow", None),
    ("emoji only", "😀🎉👍", "allow", None),
]


@pytest.mark.parametrize(
    ("given", "decision", "reason"),
    [pytest.param(g, d, r, id=i) for i, g, d, r in BAD_INPUT],
)
def test_bad_input_gives_clear_result(
    moderator: ContentModerator, given: object, decision: str, reason: str | None
) -> None:
    for result in (
        moderator.check_message(given, persona()),
        run(moderator.moderate_message, given, persona()),
    ):
        assert isinstance(result, ModerationResult)
        assert (result.decision, result.reason) == (decision, reason)
        if decision == "allow":
            assert result.text == given
        else:
            assert result.text is None


def test_random_binary_never_raises(moderator: ContentModerator) -> None:
    garbage = os.urandom(4096)
    for chunk in (garbage[:100], garbage[:400], garbage):
        text = chunk.decode("utf-8", errors="surrogateescape")
        result = run(moderator.moderate_message, text, persona())
        assert isinstance(result, ModerationResult)
        if result.text is not None:
            result.text.encode("utf-8")  # deliverable: no lone surrogates left


def _check_never_raises(moderator: ContentModerator, text: str) -> None:
    result = moderator.check_message(text, persona())
    assert result.decision in ("allow", "sanitize", "block")
    if result.decision == "block":
        assert result.reason
        assert result.text is None
    else:
        assert result.text is not None
        result.text.encode("utf-8")


@PROPERTY
@given(st.text())
def test_check_message_never_raises_on_text(moderator: ContentModerator, text: str) -> None:
    _check_never_raises(moderator, text)


@PROPERTY
@given(st.binary().map(lambda b: b.decode("utf-8", errors="surrogateescape")))
def test_check_message_never_raises_on_binary(moderator: ContentModerator, text: str) -> None:
    _check_never_raises(moderator, text)


# -- 5. the content moderator: actions -----------------------------------------------

MOVE = {"type": "move_to", "x": 10, "y": 64, "z": -200}


def worker() -> PersonaCore:
    return PersonaCore(
        name="Worker",
        safety=Safety(allowed_actions=["chat", "move_to", "look_at", "emote", "use_entity"]),
        embodiment=Embodiment(emotes=["wave", "dance"]),
    )


def test_valid_move_allowed(moderator: ContentModerator) -> None:
    decision = run(moderator.moderate_action, MOVE, worker())
    assert decision.decision == "allow"
    assert decision.action == MoveTo(x=10, y=64, z=-200)


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"type": "move_to", "x": 1e12, "y": 64, "z": 0}, "x"),
        ({"type": "move_to", "x": 0, "y": 64, "z": -1e12}, "z"),
        ({"type": "move_to", "x": 0, "y": 1e6, "z": 0}, "y"),
        ({"type": "look_at", "x": 0, "y": 64, "z": 1e12}, "z"),
    ],
)
def test_out_of_bounds_coordinates_blocked(
    moderator: ContentModerator, action: dict[str, Any], field: str
) -> None:
    decision = run(moderator.moderate_action, action, worker())
    assert (decision.decision, decision.reason) == ("block", "out_of_bounds")
    assert decision.action is None
    assert any(e.startswith(f"{field}:") for e in decision.errors)


@pytest.mark.parametrize("world", [None, "minecraft", "web"])
def test_y_is_vertical_in_minecraft_and_the_web(moderator: ContentModerator, world: str) -> None:
    far_up = {"type": "move_to", "x": 100_000, "y": 5000, "z": 100_000}
    decision = run(moderator.moderate_action, far_up, worker(), world=world)
    assert (decision.decision, decision.reason) == ("block", "out_of_bounds")
    assert decision.errors == ("y: must be between -4096 and 4096",)


def test_gmod_is_z_up_within_the_source_map_limit(moderator: ContentModerator) -> None:
    """Garry's Mod is z-up: y is horizontal, so |y| > 4096 is a place on the map; every
    axis stays within Source's +-16384 units."""
    across = {"type": "move_to", "x": -9000, "y": 12000, "z": 6000}
    decision = run(moderator.moderate_action, across, worker(), world="gmod")
    assert decision.decision == "allow", decision
    assert decision.action == MoveTo(x=-9000, y=12000, z=6000)
    for name in ("x", "y", "z"):
        beyond = {**across, "type": "look_at", name: 16385}
        decision = run(moderator.moderate_action, beyond, worker(), world="gmod")
        assert (decision.decision, decision.reason) == ("block", "out_of_bounds")
        assert decision.errors == (f"{name}: must be between -16384 and 16384",)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_coordinates_blocked(moderator: ContentModerator, value: float) -> None:
    action = {"type": "move_to", "x": 0, "y": value, "z": 0}
    decision = run(moderator.moderate_action, action, worker())
    assert (decision.decision, decision.reason) == ("block", "invalid_action")
    assert any(e.startswith("y:") for e in decision.errors)


def test_nan_coordinate_in_action_instance_blocked(moderator: ContentModerator) -> None:
    action = MoveTo(x=1, y=2, z=3).model_copy(update={"x": float("nan")})
    decision = run(moderator.moderate_action, action, worker())
    assert decision.decision == "block"


def test_action_type_not_allowed(moderator: ContentModerator) -> None:
    decision = run(moderator.moderate_action, {"type": "follow", "target": "bob"}, worker())
    assert (decision.decision, decision.reason) == ("block", "action_not_allowed")
    assert decision.errors and decision.errors[0].startswith("type:")


def test_world_capabilities(moderator: ContentModerator) -> None:
    blocked = run(moderator.moderate_action, MOVE, worker(), capabilities=["chat"])
    assert (blocked.decision, blocked.reason) == ("block", "not_supported_by_world")
    chat = {"type": "chat", "message": "hello"}
    allowed = run(moderator.moderate_action, chat, worker(), capabilities=["chat"])
    assert allowed.decision == "allow"


def test_unknown_emote(moderator: ContentModerator) -> None:
    known = run(moderator.moderate_action, {"type": "emote", "name": "dance"}, worker())
    assert known.decision == "allow"
    unknown = run(moderator.moderate_action, {"type": "emote", "name": "salute"}, worker())
    assert (unknown.decision, unknown.reason) == ("block", "unknown_emote")
    assert any(e.startswith("name:") for e in unknown.errors)


def test_chat_action_profanity_sanitized(moderator: ContentModerator) -> None:
    decision = run(
        moderator.moderate_action, {"type": "chat", "message": "well fuck this"}, worker()
    )
    assert (decision.decision, decision.reason) == ("sanitize", "profanity")
    assert decision.action == Chat(message="well **** this")
    assert "profanity" in decision.categories


def test_chat_action_blocked_topic(moderator: ContentModerator) -> None:
    decision = run(moderator.moderate_action, {"type": "chat", "message": "send nudes"}, worker())
    assert (decision.decision, decision.reason) == ("block", "blocked_topic")
    assert decision.action is None
    assert "sexual" in decision.categories


def test_chat_action_too_long(moderator: ContentModerator) -> None:
    limit = moderator.settings.max_chat_length
    ok = run(moderator.moderate_action, {"type": "chat", "message": "a" * limit}, worker())
    assert ok.decision == "allow"
    long = {"type": "chat", "message": "a" * (limit + 1)}
    decision = run(moderator.moderate_action, long, worker())
    assert (decision.decision, decision.reason) == ("block", "too_long")


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({}, "type"),
        ([], "type"),
        ({"type": "fly"}, "type"),
        ({"type": "use_entity", "entity": "bad id!"}, "entity"),
        ({"type": "chat"}, "message"),
        ({"type": "move_to", "x": "1", "y": 2, "z": 3}, "x"),
        ({"type": "move_to", "x": 1, "y": 2, "z": 3, "speed": 9}, "speed"),
    ],
)
def test_malformed_action(moderator: ContentModerator, action: Any, field: str) -> None:
    decision = run(moderator.moderate_action, action, worker())
    assert (decision.decision, decision.reason) == ("block", "invalid_action")
    assert decision.action is None
    assert any(e.startswith(field) for e in decision.errors), decision.errors


@pytest.mark.parametrize("action", [None, 42, "move_to", b"\xff"])
def test_non_object_action(moderator: ContentModerator, action: Any) -> None:
    decision = run(moderator.moderate_action, action, worker())
    assert (decision.decision, decision.reason) == ("block", "invalid_action")
    assert decision.errors


def test_actions_per_minute(tf: TextFilter) -> None:
    mod = ContentModerator(tf)  # its own limiter: the budget starts full
    p = PersonaCore(
        name="Rater",
        safety=Safety(max_actions_per_minute=3, allowed_actions=["chat", "move_to"]),
    )

    async def main() -> None:
        # refused actions, whatever the reason, do not use up the rate
        refused: list[dict[str, Any]] = [
            {"type": "fly"},
            {"type": "follow", "target": "bob"},
            {"type": "move_to", "x": 1e12, "y": 0, "z": 0},
            {"type": "chat", "message": "send nudes"},
        ]
        for action in refused * 3:
            assert (await mod.moderate_action(action, p)).decision == "block"
        for _ in range(3):
            assert (await mod.moderate_action(MOVE, p)).decision == "allow"
        limited = await mod.moderate_action(MOVE, p)
        assert (limited.decision, limited.reason) == ("block", "rate_limited")
        assert limited.action is None
        assert limited.retry_after is not None
        assert 0 < limited.retry_after <= 20.0  # one action every 20 s
        # sanitized chat is limited too, and rate-limited refusals do not count
        chat = await mod.moderate_action({"type": "chat", "message": "fuck"}, p)
        assert chat.reason == "rate_limited"
        # another persona has its own budget
        other = p.model_copy(update={"id": "persona_other"})
        assert (await mod.moderate_action(MOVE, other)).decision == "allow"

    anyio.run(main)


def test_given_limiter_is_used(tf: TextFilter) -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    mod = ContentModerator(tf, limiter=limiter)  # an empty limiter is falsy: still used
    assert mod.limiter is limiter
    p = PersonaCore(name="Rater", safety=Safety(max_actions_per_minute=1))

    async def main() -> None:
        assert (await mod.moderate_action(MOVE, p)).decision == "allow"
        limited = await mod.moderate_action(MOVE, p)
        assert limited.reason == "rate_limited"
        assert limited.retry_after == pytest.approx(60.0)  # the fake clock stands still
        clock.now += 60.0
        assert (await mod.moderate_action(MOVE, p)).decision == "allow"

    anyio.run(main)


# -- 6. the rate limiter -------------------------------------------------------------


def test_gcra_burst_then_refusal() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    rate = Rate(5, 10.0)
    decisions = [limiter.check("k", rate) for _ in range(5)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
    refused = limiter.check("k", rate)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(rate.interval)
    clock.now += refused.retry_after / 2
    assert not limiter.check("k", rate).allowed
    clock.now += refused.retry_after / 2
    assert limiter.check("k", rate).allowed
    assert not limiter.check("k", rate).allowed


def test_gcra_refills_over_time() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    rate = Rate.per_second(4)
    assert sum(limiter.check("k", rate).allowed for _ in range(10)) == 4
    clock.now += 1.0  # a full period: the whole burst again, no more
    assert sum(limiter.check("k", rate).allowed for _ in range(10)) == 4


def test_gcra_cost() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    rate = Rate(5, 10.0)
    first = limiter.check("k", rate, cost=3)
    assert first.allowed and first.remaining == 2
    refused = limiter.check("k", rate, cost=3)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(rate.interval)
    assert refused.remaining == 2
    assert limiter.check("k", rate, cost=2).allowed
    assert not limiter.check("k", rate).allowed


def test_gcra_cost_above_capacity_never_passes() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    rate = Rate(5, 10.0)
    refused = limiter.check("k", rate, cost=6)
    assert not refused.allowed
    assert refused.retry_after == math.inf  # waiting would not help
    clock.now += 1000.0
    assert not limiter.check("k", rate, cost=6).allowed
    # and the refusal used nothing up
    assert limiter.check("k", rate, cost=5).allowed


def test_gcra_keys_independent_and_reset() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    rate = Rate.per_minute(2)
    assert limiter.check("a", rate).allowed
    assert limiter.check("a", rate).allowed
    assert not limiter.check("a", rate).allowed
    assert limiter.check("b", rate).allowed
    limiter.reset("a")
    assert limiter.check("a", rate).allowed
    limiter.reset("never-seen")  # no error


def test_gcra_async_hit() -> None:
    limiter = InProcessRateLimiter(clock=FakeClock())
    rate = Rate.per_minute(1)
    assert run(limiter.hit, "k", rate).allowed
    refused = run(limiter.hit, "k", rate)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(60.0)


def test_gcra_idle_keys_swept() -> None:
    clock = FakeClock(0.0)
    limiter = InProcessRateLimiter(clock=clock)
    rate = Rate.per_second(10)
    for i in range(5000):
        assert limiter.check(f"ip:{i}", rate).allowed
        clock.now += 0.01
    # each key is idle 0.1 s after its one request: the periodic sweep drops them
    assert len(limiter) < 1000


def test_gcra_max_keys_bounds_memory() -> None:
    clock = FakeClock(0.0)
    limiter = InProcessRateLimiter(max_keys=50, clock=clock)
    rate = Rate.per_minute(1)
    for i in range(500):
        assert limiter.check(f"k{i}", rate).allowed
        clock.now += 0.001
        assert len(limiter) <= 50
    # the newest keys are remembered, the oldest forgotten
    assert not limiter.check("k499", rate).allowed
    assert limiter.check("k0", rate).allowed


@pytest.mark.parametrize(
    "args",
    [(0, 1.0), (-1, 1.0), (1, 0.0), (1, -5.0), (1, float("nan")), (5, 1.0, 0)],
)
def test_rate_validation(args: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError):
        Rate(*args)


def test_rate_helpers() -> None:
    assert Rate.per_minute(20).interval == pytest.approx(3.0)
    assert Rate.per_second(4).capacity == 4
    assert Rate(2, 10.0, burst=1).capacity == 1
    limiter = InProcessRateLimiter(clock=FakeClock())
    rate = Rate(2, 10.0, burst=1)
    assert limiter.check("k", rate).allowed
    refused = limiter.check("k", rate)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(5.0)


# -- 7. the audit log ----------------------------------------------------------------

OPENAI_KEY = "sk-proj-T3stKeyDoNotUseABCDEFGHIJKLMNOP0123456789"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.fixture
def make_store(new_store: Callable[[], Store]) -> Callable[[], Store]:
    return new_store


def test_every_decision_recorded_and_replayed(
    tf: TextFilter, make_store: Callable[[], Store]
) -> None:
    p = persona()

    async def main() -> None:
        async with make_store() as store:
            mod = ContentModerator(tf, audit=AuditLogger(store))
            results: list[ModerationResult | ActionDecision] = [
                await mod.moderate_message("hello there", p, session_id="s1"),
                await mod.moderate_message("well fuck this", p, session_id="s1"),
                await mod.moderate_message("unrelated", p, session_id="s2"),
                await mod.moderate_message("send nudes", p, session_id="s1"),
                await mod.moderate_message(None, p, session_id="s1"),
                await mod.moderate_action(MOVE, p, session_id="s1"),
                await mod.moderate_action({"type": "fly"}, p, session_id="s1"),
            ]
            expected = [(r.decision, r.reason) for i, r in enumerate(results) if i != 2]
            assert expected == [
                ("allow", None),
                ("sanitize", "profanity"),
                ("block", "blocked_topic"),
                ("block", "invalid_input"),
                ("allow", None),
                ("block", "invalid_action"),
            ]
            entries = await mod.audit.replay("s1")  # type: ignore[union-attr]
            assert [(e.decision, e.reason) for e in entries] == expected
            assert [e.kind for e in entries] == ["message"] * 4 + ["action"] * 2
            assert all(e.session_id == "s1" and e.persona_id == p.id for e in entries)
            seqs = [e.seq for e in entries]
            assert all(isinstance(s, int) for s in seqs)
            assert seqs == sorted(set(seqs))  # type: ignore[type-var]
            assert entries[0].input == "hello there"
            assert entries[1].input == "well fuck this"
            assert entries[1].output == "well **** this"
            assert entries[1].categories == ["profanity"]
            assert entries[2].categories == ["sexual"]
            assert entries[2].output is None
            assert entries[4].input == MOVE
            others = await mod.audit.replay("s2")  # type: ignore[union-attr]
            assert [e.input for e in others] == ["unrelated"]
            later = await mod.audit.replay("s1", after_seq=entries[2].seq or 0)  # type: ignore[union-attr]
            assert later == entries[3:]

    anyio.run(main)


def test_audit_survives_reopening_sqlite(tf: TextFilter, tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    p = persona()

    async def write() -> list[tuple[str, str | None]]:
        async with SQLiteStore(path) as store:
            mod = ContentModerator(tf, audit=AuditLogger(store))
            out: list[tuple[str, str | None]] = []
            for text in ("hello", "well fuck this", "send nudes"):
                r = await mod.moderate_message(text, p, session_id="sess")
                out.append((r.decision, r.reason))
            return out

    async def read() -> list[tuple[str, str | None, Any]]:
        async with SQLiteStore(path) as store:
            entries = await AuditLogger(store).replay("sess")
            return [(e.decision, e.reason, e.input) for e in entries]

    written = anyio.run(write)
    read_back = anyio.run(read)
    assert [(d, r) for d, r, _ in read_back] == written
    assert [i for _, _, i in read_back] == ["hello", "well fuck this", "send nudes"]


@pytest.mark.parametrize(
    ("given", "secret"),
    [
        (f"my key is {OPENAI_KEY} ok", OPENAI_KEY),
        (f"hook {WEBHOOK_SECRET}", WEBHOOK_SECRET),
        (f"Authorization: Bearer {JWT}", JWT),
        (f"token {JWT}", JWT),
        ("password=hunter2hunter2", "hunter2hunter2"),
    ],
)
def test_redact_text(given: str, secret: str) -> None:
    out = redact(given)
    assert REDACTED in out
    assert secret not in out
    assert secret[:12] not in out


def test_redact_mappings() -> None:
    out = redact(
        {
            "api_key": "x",
            "password": "y",
            "token": "z",
            "apiKey": "k",
            "Authorization": "Basic abc",
            "nested": {"client_secret": 1, "note": f"use {OPENAI_KEY}", "fine": "ok"},
            "list": [{"access_token": "t"}, "plain"],
            "count": 3,
        }
    )
    assert out == {
        "api_key": REDACTED,
        "password": REDACTED,
        "token": REDACTED,
        "apiKey": REDACTED,
        "Authorization": REDACTED,
        "nested": {"client_secret": REDACTED, "note": f"use {REDACTED}", "fine": "ok"},
        "list": [{"access_token": REDACTED}, "plain"],
        "count": 3,
    }


def test_redact_keeps_ordinary_chat() -> None:
    for text in ("the secret passage is behind the waterfall", "sk-8 is my clan", "ae_1"):
        assert redact(text) == text


def test_redact_secret_cut_by_length_limit() -> None:
    key = "sk-Q7w9ZkLmN2pR4tXvB8yC1dF3gH5jK6"
    text = "a" * (MAX_LOGGED_TEXT - 18) + " " + key
    out = redact(text)
    assert len(out) <= MAX_LOGGED_TEXT
    assert "Q7w9ZkLm" not in out  # no part of a secret across the cut is kept


def test_audit_stores_secrets_redacted(tf: TextFilter, make_store: Callable[[], Store]) -> None:
    p = persona()

    async def main() -> None:
        async with make_store() as store:
            logger = AuditLogger(store)
            mod = ContentModerator(tf, audit=logger)
            await mod.moderate_message(f"my key is {OPENAI_KEY}", p, session_id="s")
            await mod.moderate_message(f"hook {WEBHOOK_SECRET}", p, session_id="s")
            await mod.moderate_message(f"Bearer {JWT}", p, session_id="s")
            creds = {"type": "chat", "message": "hi", "api_key": "x", "password": "y", "token": "z"}
            await mod.moderate_action(creds, p, session_id="s")
            await logger.record("link", "allow", input=creds, session_id="s")
            entries = await logger.replay("s")
            assert len(entries) == 5
            assert entries[0].input == f"my key is {REDACTED}"
            # players saw the key masked, and the log keeps what they saw
            assert entries[0].output == "my key is " + "*" * len(OPENAI_KEY)
            assert entries[0].decision == "sanitize" and "secret" in entries[0].categories
            assert entries[1].input == f"hook {REDACTED}"
            assert entries[2].input == REDACTED
            for entry in entries[3:]:
                assert entry.input == {
                    "type": "chat",
                    "message": "hi",
                    "api_key": REDACTED,
                    "password": REDACTED,
                    "token": REDACTED,
                }
            dumped = "".join(e.model_dump_json() for e in entries)
            for secret in (OPENAI_KEY, WEBHOOK_SECRET, JWT):
                assert secret not in dumped

    anyio.run(main)


def test_sqlite_file_never_holds_the_key(tf: TextFilter, tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    needle = OPENAI_KEY.encode()

    def raw_bytes() -> bytes:
        files = [f for f in tmp_path.iterdir() if f.name.startswith("a.db")]
        assert path in files
        return b"".join(f.read_bytes() for f in files)

    async def main() -> None:
        async with SQLiteStore(path) as store:
            mod = ContentModerator(tf, audit=AuditLogger(store))
            await mod.moderate_message(f"here: {OPENAI_KEY}", persona(), session_id="s")
            await mod.moderate_action(
                {"type": "chat", "message": f"use {OPENAI_KEY}"}, persona(), session_id="s"
            )
            assert len(await mod.audit.replay("s")) == 2  # type: ignore[union-attr]
            data = raw_bytes()  # while open: the rows sit in the -wal file
            assert b"[redacted]" in data
            assert needle not in data

    anyio.run(main)
    assert needle not in raw_bytes()  # after the checkpoint on close


def test_audit_lone_surrogates_and_huge_input(
    tf: TextFilter, make_store: Callable[[], Store]
) -> None:
    async def main() -> None:
        async with make_store() as store:
            mod = ContentModerator(tf, audit=AuditLogger(store))
            texts: list[object] = [
                "\ud800 lone",
                b"\xff\xfe".decode("utf-8", errors="surrogateescape") + " hi",
                "a" * 1_000_000,
                b"\xff raw bytes",
            ]
            for text in texts:
                await mod.moderate_message(text, persona(), session_id="s")
            entries = await mod.audit.replay("s")  # type: ignore[union-attr]
            assert len(entries) == len(texts)
            for entry in entries:
                assert isinstance(entry.input, str)
                entry.input.encode("utf-8")
                assert len(entry.input) <= MAX_LOGGED_TEXT
            assert entries[0].input.endswith(" lone")
            assert entries[2].reason == "too_long"
            assert entries[3].reason == "invalid_input"

    anyio.run(main)
