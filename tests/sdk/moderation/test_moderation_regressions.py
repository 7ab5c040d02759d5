"""Regressions from review: common words in several languages stay clean, word lists
load per language, odd inputs to the audit trail and the limiter are handled."""

from __future__ import annotations

import anyio
import pytest

from encounters.errors import ConfigError
from encounters.models.persona import PersonaCore
from encounters.moderation import (
    AuditLogger,
    ContentModerator,
    InProcessRateLimiter,
    Rate,
    TextFilter,
    redact,
)
from encounters.storage import MemoryStore


@pytest.mark.parametrize(
    "text",
    [
        "I made a pizza", "cook the fish", "the mph gauge", "çok güzel", "Ele pede ajuda",
        "vagas abertas", "Je suis en retard", "il a du retard", "trafficking ring quest",
        "a fickle merchant", "Die Preise schwanken", "Ich vergaß das Schwert", "Lightwater",
        "Atwater", "shiitakes", "scunthorpes", "a snigger", "niggardly", "salopette",
        "kkkkk lol", "Press F to pay respects", "a chink in the armor", "blue tits nest",
        "the cock crows at dawn", "that's a suicide mission", "Suicide Squad game",
        "join my party", "vote to kick", "no women in this guild lol",
        # a contraction's or possessive's tail is not the first half of a split word
        "let's pick a team", "who's picking the map", "i hung my cat's picture",
        "it’s picked up", "they're tardy for the raid", "let´s pick a team", "it´s picked up",
        # a split spelling's halves that are two real words, or a word after it
        "dig a hole here", "fell in a hole lol", "a bit chilly tonight", "a bit cheaper",
        "my mother found the sword", "my mother fed the cat", "my wet backpack", "my wet back",
        "the bulls hit a three", "brb c u ntil later", "c until later", "ar seas",
        "jack associates",
        # folded Russian terms that are Latin words, numbers with a unit
        "a dragon egg", "eggs and bacon", "e.g. the nether", "selling 36g each", "33343g",
        "100k gold", "2nd place", "wir müssen links abbiegen", "60fps", "xXYesXx",
        "gg xXYeahXx", "xXYuriXx joined the game",
        # coordinates (x y z) that hold a number listed as a hate code
        "im at 1488 70 200", "base is 100, 64, 1488", "coords: -1488 63 1488",
        # breeds, names and words in another language that hold a listed word
        "my maine coon", "a coon hound", "poems by e e cummings", "un cono de helado",
        # role-play: a fantasy foe beheaded
        "*the knight beheads the ogre*", "she beheads the cultist", "*beheads the lich*",
        "*draws his bastard sword*", "*eats the shiitake*",
    ],
)  # fmt: skip
def test_common_words_stay_clean(text_filter: TextFilter, text: str) -> None:
    assert text_filter.categories_in(text) == set(), text


@pytest.mark.parametrize(
    ("text", "category"),
    [("ok retard", "hate"), ("kkk rally", "hate"), ("kiss my a**", "profanity"),
     ("fa66ot", "profanity"), ("b!+ch", "profanity"), ("fսck", "profanity"),
     ("ur a s pic", "profanity"), ("oh sh it", "profanity"), ("what a fu cking noob", "profanity"),
     ("sh itty game", "profanity"), ("wa nkers", "profanity"), ("bi tches", "profanity"),
     ("a bit ch", "profanity"), ("sh ithead", "profanity"), ("bo llocks", "profanity"),
     ("cu nts", "profanity"), ("ur a coon", "hate"), ("coño", "profanity"),
     ("заебал", "profanity"), ("нахуй", "profanity"), ("ХУЙ", "profanity"),
     ("ёб твою мать", "profanity"), ("5hit", "profanity"),
     ("i want to behead a real person", "violence")],
)  # fmt: skip
def test_still_caught(text_filter: TextFilter, text: str, category: str) -> None:
    assert category in text_filter.categories_in(text)


def test_a_rule_runs_once_per_message_however_often_its_trigger_appears(
    text_filter: TextFilter,
) -> None:
    hits = text_filter.hits("jews " * 400 + "should all die")
    assert any(h.category == "hate" for h in hits)
    assert len([h for h in hits if h.category == "hate"]) < 10


def test_topic_lists_load_whatever_the_languages() -> None:
    german_only = TextFilter.default(languages=["de"])
    assert "self_harm" in german_only.categories_in("i want to kill myself")
    assert "profanity" in german_only.categories_in("Scheiße")
    assert "profanity" not in german_only.categories_in("what the fuck")
    with pytest.raises(ConfigError, match="xx"):
        TextFilter.default(languages=["xx"])


def test_long_session_ids_do_not_break_the_audit_log(text_filter: TextFilter) -> None:
    store = MemoryStore()
    moderator = ContentModerator(text_filter, audit=AuditLogger(store))

    async def main() -> None:
        result = await moderator.moderate_message("hello", session_id="s" * 500)
        assert result.allowed
        entries = await store.list_audit()
        assert entries[0].session_id == "s" * 64

    anyio.run(main)


def test_rate_is_per_persona_and_session(text_filter: TextFilter) -> None:
    persona = PersonaCore(name="G", safety={"max_actions_per_minute": 1})
    moderator = ContentModerator(text_filter)
    chat = {"type": "chat", "message": "hi"}

    async def main() -> None:
        assert (await moderator.moderate_action(chat, persona, session_id="a")).allowed
        assert not (await moderator.moderate_action(chat, persona, session_id="a")).allowed
        assert (await moderator.moderate_action(chat, persona, session_id="b")).allowed

    anyio.run(main)


def test_limiter_refuses_non_positive_cost_and_bounds_memory() -> None:
    now = [0.0]
    limiter = InProcessRateLimiter(max_keys=100, clock=lambda: now[0])
    with pytest.raises(ValueError):
        limiter.check("k", Rate.per_second(5), cost=0)
    for i in range(1000):
        limiter.check(f"ip:{i}", Rate.per_minute(1))
    assert len(limiter) <= 100


@pytest.mark.parametrize(
    "secret",
    [
        {"accessToken": "abc"}, {"clientSecret": "abc"}, {"pwd": "abc"},
        "Authorization: Basic dXNlcjpwYXNzd29yZA==", "sk_live_" + "a" * 24,
        "ghp_" + "b" * 36, "AKIA" + "C" * 16, "https://user:hunter22@example.com/x",
    ],
)  # fmt: skip
def test_more_secret_shapes_are_redacted(secret: object) -> None:
    text = str(redact(secret))
    assert "[redacted]" in text
    for fragment in ("abc", "dXNlcjpwYXNzd29yZA", "aaaaaaaaaaaa", "bbbbbbbbbbbb", "CCCCCCCC",
                     "hunter22"):  # fmt: skip
        assert fragment not in text
