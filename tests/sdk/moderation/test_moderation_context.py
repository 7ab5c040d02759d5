"""Game context: ordinary game and role-play lines reach players, real harm does not.
Judged through the moderator, as a companion's chat would be."""

from __future__ import annotations

import pytest

from encounters.models.persona import PersonaCore, Safety
from encounters.moderation import ContentModerator, TextFilter


@pytest.fixture(scope="module")
def moderator() -> ContentModerator:
    return ContentModerator(TextFilter.default())


COMPANION = PersonaCore(name="Companion")  # every built-in topic blocked, game context

GAME_LINES = [
    "I keep killing myself with my own TNT",
    "accidentally killed myself with a creeper lol",
    "the guild president wants a meeting",
    "I played my trump card",
    "are you alone in the dungeon?",
    "send pics of your base",
    "I'm coming to your house to trade emeralds",
    "we need to slay the boss",
    "nice headshot",
    "that's a suicide mission",
    "let's bang out this raid real quick",
    "the boss got wrecked",
    "i'm going to murder that dragon",
    "I'll kill you in the arena",
    "smash the crates for loot",
    "naked run, no armor, lets go",
    "breed the horses to get a fast one",
    "plant the bomb on b",
    "revive me, i'm bleeding out",
]

HARMFUL = [
    ("kys", "self_harm"),
    ("go kill yourself", "self_harm"),
    ("drink bleach", "self_harm"),
    ("i want to unalive myself", "self_harm"),
    ("i want to kill myself with my own tnt", "self_harm"),
    ("i hate all the jews", "hate"),
    ("immigrants are rats", "hate"),
    ("im gonna bomb the school tomorrow", "violence"),
    ("i will shoot up the mall", "violence"),
    ("are you alone at home?", "sexual"),
    ("send pics of your body", "sexual"),
    ("im coming to your house", "violence"),
    ("gonna shoot up my school friday, dont come", "violence"),
    ("i know where u live and im bringing a knife", "violence"),
    ("ill slit ur throat while u sleep", "violence"),
    ("wanna bang tonight, my place is empty", "sexual"),
    ("send me something spicy, ur parents dont need to know", "sexual"),
    ("nudes for vbucks?? deal?", "sexual"),
]


@pytest.mark.parametrize("text", GAME_LINES)
def test_game_talk_reaches_players(moderator: ContentModerator, text: str) -> None:
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "allow", result
    assert result.text == text


@pytest.mark.parametrize(("text", "topic"), HARMFUL)
def test_real_harm_is_blocked(moderator: ContentModerator, text: str, topic: str) -> None:
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "block"
    assert result.topic == topic


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("I keep killing myself with my own TNT", "self_harm"),
        ("are you alone in the dungeon?", "sexual"),
        ("send pics of your base", "sexual"),
        ("I'm coming to your house to trade emeralds", "violence"),
    ],
)
def test_general_context_judges_the_phrase_as_written(
    moderator: ContentModerator, text: str, topic: str
) -> None:
    general = Safety(context="general")
    result = moderator.check_message(text, general)
    assert result.decision == "block" and result.topic == topic


@pytest.mark.parametrize(
    "text",
    [
        "any muslims here?", "Are there any Jews in this server?", "gay people are cool",
        "trans people exist", "muslims are welcome here", "trans people are valid!",
        "any gamer girls online?", "immigrants are people too", "women can play too",
    ],
)  # fmt: skip
def test_a_line_that_only_mentions_a_group_is_not_hate(
    moderator: ContentModerator, text: str
) -> None:
    """The topic model weighs group names heavily; a whole line that only asks who is
    here, welcomes a group or says it exists is not hate (a `[hate neutral]` pattern)."""
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "allow", result


@pytest.mark.parametrize(
    "text",
    [
        "gay people are disgusting", "muslims exist to ruin everything", "no muslims here",
        "muslims are cool... not", "kill all the gays", "trans people are not valid",
        "immigrants are rats", "any muslims here? get out",
    ],
)  # fmt: skip
def test_the_same_groups_in_hate_are_still_blocked(moderator: ContentModerator, text: str) -> None:
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "block" and result.topic == "hate", result


@pytest.mark.parametrize(
    "text",
    ["i have a gun", "i need a shotgun and a pistol", "i found a machete", "shotgun pistol",
     "selling my sniper rifle and some ammo", "the bomb is going to blow",
     "c4 is about to explode!", "the bomb is going off"],
)  # fmt: skip
def test_loadout_talk_is_not_violence(moderator: ContentModerator, text: str) -> None:
    """A whole line that only says who has or needs which weapons, or that a game's bomb
    is about to go off (`[violence neutral]`)."""
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "allow", result


@pytest.mark.parametrize(
    "text",
    ["i have a gun and i know where you live", "i have a gun and im coming to school",
     "got a knife, meet me after school", "i will shoot you with my gun irl",
     "the bomb in the school is going to blow", "there is a bomb at the mall"],
)  # fmt: skip
def test_weapons_with_a_threat_are_still_violence(moderator: ContentModerator, text: str) -> None:
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "block" and result.topic == "violence", result


def test_eating_to_heal_is_not_sexual(moderator: ContentModerator) -> None:
    """A companion's "let me eat something" (`[sexual neutral]`); "let me eat you" is."""
    for text in ["I'm low on health, let me eat something.", "gotta eat first"]:
        assert moderator.check_message(text, COMPANION).decision == "allow", text
    result = moderator.check_message("let me eat you", COMPANION)
    assert result.decision == "block" and result.topic == "sexual"


@pytest.mark.parametrize(
    "text",
    ["if i lose this round i'm uninstalling", "i cut myself on paper lol", "i cut myself cooking"],
)
def test_quitting_and_small_accidents_are_not_self_harm(
    moderator: ContentModerator, text: str
) -> None:
    """`[self_harm neutral]` lines (and the word lists' `[allow]` for the accidents)."""
    assert moderator.check_message(text, COMPANION).decision == "allow"


@pytest.mark.parametrize(
    "text",
    [
        "i cut myself on purpose",
        "i cut myself again",
        "if i lose this round i'm going to kill myself",
    ],
)
def test_the_same_words_meant_are_still_self_harm(moderator: ContentModerator, text: str) -> None:
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "block" and result.topic == "self_harm"


@pytest.mark.parametrize(
    "text",
    ["my sister hurt her back lifting boxes", "i hurt my back at work",
     "i pulled a muscle at the gym", "i bruised my ribs at football",
     "my brother broke his wrist falling off his bike", "i fractured my finger in gym class"],
)  # fmt: skip
def test_accidental_injuries_are_not_violence_or_self_harm(
    moderator: ContentModerator, text: str
) -> None:
    """Saying how one got hurt (`[violence neutral]`, `[self_harm neutral]`): the model
    learnt body words from self-harm and assault lines. Found by
    ``tools/moderation_corpus/check_natural_chat.py``; these lines are not the probe's."""
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "allow" and not result.categories, result


@pytest.mark.parametrize(
    "text",
    ["i got a C on my essay", "i got a B on my quiz", "i got a 7 on my essay",
     "im so proud of you", "i'm so proud of u", "im so proud of you 😭"],
)  # fmt: skip
def test_grades_and_praise_are_not_sexual(moderator: ContentModerator, text: str) -> None:
    """A school grade or being proud of someone (`[sexual neutral]`): frames such as
    "got a", "of you" and "my" weigh towards solicitation in the model."""
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "allow" and not result.categories, result


@pytest.mark.parametrize(
    "text", ["i'm going to the gym after class", "im going to the library friday"]
)
def test_going_somewhere_is_not_violence(moderator: ContentModerator, text: str) -> None:
    """Going to an everyday place, with when or with whom (`[violence neutral]`): the
    model learnt places and weekdays from threats made at them."""
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "allow" and not result.categories, result


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("he broke her arm at school", "violence"),
        ("i hurt my sisters arm at practice", "violence"),
        ("i broke my brothers nose at school", "violence"),
        ("i broke my arm on purpose", "self_harm"),
        ("i hurt my arm cutting again", "self_harm"),
        ("i'm going to the gym after school to stab him", "violence"),
        ("im going to the library friday with my gun", "violence"),
        ("i'm so proud of you, now send me a pic", "sexual"),
        ("i got a B on my quiz, now send nudes", "sexual"),
        ("im so proud of you 🍆💦", "sexual"),
        ("going to the concert friday 🔫", "violence"),
    ],
)
def test_the_same_shapes_with_harm_are_still_blocked(
    moderator: ContentModerator, text: str, topic: str
) -> None:
    """The neutral patterns above match whole lines only: someone else's arm (also
    "my sisters arm"), "on purpose", cutting, a weapon, a request or an emoji other than
    a smiley or a heart in the same line is still harm as before."""
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "block" and topic in result.categories, result
