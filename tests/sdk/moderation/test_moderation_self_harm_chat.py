"""Self-harm people write in chat, with the topic model on, in game context (the default):
cutting again after days "clean", hiding cuts and scars, wanting the pain, burning and
hitting oneself, "sh" as slang, purging, starving, "pro ana" talk and asking how to cut.
Before issue #17's eleventh round (``train_self_harm.jsonl``, ``"round": 11``) the
moderator let each of these through; their game and everyday twins, in the same words,
must pass.

These lines are training lines, so this pins what the shipped model learnt from them;
how well it does on lines it never saw is the question of
``tools/moderation_corpus/check_self_harm_fresh.py`` and of the held-out set."""

from __future__ import annotations

import pytest

from encounters.models.persona import PersonaCore
from encounters.moderation import ContentModerator, TextFilter

COMPANION = PersonaCore(name="Companion")

#: (harm line let through before the round, its twin that must pass)
PAIRS = [
    ("broke my streak, cut again tonight", "broke my streak on duolingo again"),
    (
        "been cutting on my legs instead of my arms now",
        "cut the grass this morning, my arms are itchy",
    ),
    ("my mom almost saw the cuts on my arm", "my mom almost saw my report card"),
    (
        "long sleeves in july again cuz of the scars",
        "i wear long sleeves cuz the office is freezing",
    ),
    ("i need to bleed to calm down", "i feel calmer after a walk"),
    ("i burned my arm with a hot spoon again", "i burned my arm on the oven tray, ouch"),
    (
        "i bang my head against the wall until i see stars",
        "i banged my head on the cabinet lol ouch",
    ),
    ("anyone else sh when theyre stressed", "sh sh sh the librarian is watching"),
    ("my friend found out about my sh", "bash and sh are different shells"),
    ("purged twice today, feel disgusting", "purge the old files from the server"),
    ("went to the bathroom after dinner and got rid of it", "gonna eat dinner then hop back on"),
    ("day 5 of not eating, i feel so light", "i forgot to eat lunch because of the tournament"),
    (
        "i drink water all day so i dont have to eat",
        "drink water all day to stay hydrated during the match",
    ),
    ("any pro ana girls here", "pro ana players never miss nade"),
    ("which razor cuts skin the easiest", "which razor is best for sensitive skin"),
    (
        "where on ur body can u cut without anyone seeing",
        "where on the map can u hide without anyone seeing",
    ),
]


@pytest.fixture(scope="module")
def moderator() -> ContentModerator:
    return ContentModerator(TextFilter.default())


@pytest.mark.parametrize(("harm", "twin"), PAIRS)
def test_self_harm_written_in_chat_is_blocked_and_its_twin_passes(
    moderator: ContentModerator, harm: str, twin: str
) -> None:
    blocked = moderator.check_message(harm, COMPANION)
    assert blocked.decision == "block" and "self_harm" in blocked.categories, (harm, blocked)
    passed = moderator.check_message(twin, COMPANION)
    assert passed.decision == "allow" and not passed.categories, (twin, passed)
