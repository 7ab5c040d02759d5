"""The offline topic model: harm in plain words that the word lists miss is blocked,
game talk full of combat words still passes, and the model can be turned off or
replaced by another data file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from encounters.models.persona import PersonaCore, Safety
from encounters.moderation import ContentModerator, ModerationSettings, TextFilter
from encounters.moderation.normalize import fold
from encounters.moderation.topicmodel import TopicModel, default_model, features

COMPANION = PersonaCore(name="Companion")


@pytest.fixture(scope="module")
def tf() -> TextFilter:
    return TextFilter.default()


@pytest.fixture(scope="module")
def moderator(tf: TextFilter) -> ContentModerator:
    return ContentModerator(tf)


@pytest.fixture(scope="module")
def rules_only(tf: TextFilter) -> ContentModerator:
    return ContentModerator(tf, settings=ModerationSettings(topic_model=False))


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("honestly i just want to stop existing", "self_harm"),
        ("i will find where you live and make you pay", "violence"),
        ("take your clothes off for me", "sexual"),
        ("women are worthless and should shut up", "hate"),
    ],
)
def test_harm_in_plain_words_is_blocked(
    moderator: ContentModerator, rules_only: ContentModerator, text: str, topic: str
) -> None:
    assert rules_only.check_message(text, COMPANION).decision == "allow"  # lists miss it
    result = moderator.check_message(text, COMPANION)
    assert (result.decision, result.reason, result.topic) == ("block", "blocked_topic", topic)
    assert result.text is None


@pytest.mark.parametrize(
    "text",
    [
        "headshot, he's dead lol",
        "my character died again lol",
        "blow up the nether portal",
        "you're dead next round",
        "i'm going to destroy you in pvp",
        "stab the troll in the back",
        "i hate this quest so much",
        "we killed the dragon and burned its lair",
        "I keep killing myself with my own TNT",  # the word lists' game talk stands
        # ordinary sentences full of function words ("all the ...") are not hate
        "where are all the people",
        "these people are so nice",
        "Stay out of sight of all the guards and study the murals to learn what became "
        "of the city's people",
    ],
)
def test_game_talk_passes(moderator: ContentModerator, text: str) -> None:
    result = moderator.check_message(text, COMPANION)
    assert (result.decision, result.text) == ("allow", text)


def test_only_topics_the_persona_blocks(moderator: ContentModerator) -> None:
    relaxed = PersonaCore(name="Bard", safety=Safety(blocked_topics=["politics"]))
    result = moderator.check_message("take your clothes off for me", relaxed)
    assert result.decision == "allow"
    assert "sexual" in result.categories  # found, reported, not blocked


def test_a_model_of_your_own(tf: TextFilter, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(
        json.dumps(
            {
                "topics": ["sexual", "spoilers"],
                "bias": [-5.0, -5.0],
                "thresholds": [0.0, 0.0],
                "weights": {"w:pineapple": [6.0, 0.0], "b:snape kills": [0.0, 6.0]},
            }
        )
    )
    mod = ContentModerator(tf, topic_model=TopicModel.load(path))
    assert mod.check_message("p1neapple pizza?", COMPANION).topic == "sexual"
    spoiler = mod.check_message("Snape kills Dumbledore", COMPANION)
    assert spoiler.decision == "allow" and "spoilers" in spoiler.categories
    assert mod.check_message("take your clothes off for me", COMPANION).decision == "allow"


@pytest.mark.parametrize(
    "data",
    [
        {"topics": ["hate"], "bias": [0.0, 1.0], "thresholds": [0.0], "weights": {}},
        {"topics": ["hate"], "bias": [0.0], "thresholds": [0.0], "weights": {"w:x": ["nan"]}},
        {"topics": ["hate"], "bias": [0.0], "thresholds": [0.0], "weights": {"x": [1.0]}},
        {"topics": ["hate"], "bias": [0.0], "thresholds": [0.0], "weights": {"c:NOPE": [1.0]}},
        {"topics": ["hate"], "bias": [0.0], "thresholds": [0.0], "weights": {"cc:YOU+REAL": [1.0]}},
    ],
)
def test_a_broken_model_file_is_refused(tmp_path: Path, data: dict[str, object]) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="topic model"):
        TopicModel.load(path)


_WORDS = ["kill", "you", "i", "want", "to", "die", "send", "pics", "42", "don't", "immigrants"]
_WORDS += ["house", "spawn", "glock", "school", "tonight", "u", "knife", "boss", "snap"]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.lists(st.sampled_from(_WORDS), max_size=12).map(" ".join),
    )
)
def test_scores_are_the_sum_of_feature_weights(text: str) -> None:
    """The fast scorer gives the model's definition: bias plus the weight of every
    feature occurrence."""
    model = default_model()
    skeleton = fold(text)
    got = model.scores(skeleton)
    for i, topic in enumerate(model.topics):
        want = model.bias[i] + sum(model.weights.get(f, (0.0,) * 4)[i] for f in features(skeleton))
        assert got[topic] == pytest.approx(want, abs=1e-9)
    limits = dict(zip(model.topics, model.thresholds, strict=True))
    assert model.topics_in(skeleton) == {t for t in model.topics if got[t] >= limits[t]}


@pytest.mark.parametrize(
    ("real", "game"),
    [
        ("i'll find ur house and burn it down", "i'll find ur base and burn it down"),
        ("watch ur back when u walk home tonight", "watch ur back when u walk to spawn"),
        ("i'll be at ur door tonight with a knife", "meet me at the arena with a knife"),
        ("i know which school ur kid goes to", "i know which server ur alt plays on"),
    ],
)
def test_a_threat_against_a_real_place_is_blocked_and_its_game_twin_passes(
    moderator: ContentModerator, rules_only: ContentModerator, real: str, game: str
) -> None:
    """The same threat words about a home, a school or tonight are violence; about a
    base, a spawn or a server they are game talk (the word classes, ``c:REAL`` against
    ``c:GAME``)."""
    assert rules_only.check_message(real, COMPANION).decision == "allow"  # lists miss it
    assert moderator.check_message(real, COMPANION).topic == "violence"
    assert moderator.check_message(game, COMPANION).decision == "allow"


def test_word_classes_are_features() -> None:
    """A class present in a text is a feature, and so is each pair of classes."""
    feats = features(fold("ima stab u at school"))
    assert {"c:THREAT", "c:REAL", "c:YOU", "cc:REAL+THREAT", "cc:THREAT+YOU"} <= set(feats)
    assert not any(f.startswith("c") for f in features(fold("nice weather today")))


def test_the_model_completes_the_categories_of_a_blocked_line(tf: TextFilter) -> None:
    """A line the word lists block for one topic still gets the topics the model finds
    (here a one-word model: "snowfall" is sexual), except where the lists judged the
    topic's words game talk."""
    topics = ("hate", "sexual", "self_harm", "violence")
    model = TopicModel(topics, (-5.0,) * 4, (0.0,) * 4, {"w:snowfall": (0.0, 9.0, 0.0, 0.0)})
    mod = ContentModerator(tf, topic_model=model)
    result = mod.check_message("i know where you live, snowfall", COMPANION)
    assert result.decision == "block" and set(result.categories) == {"sexual", "violence"}
    assert result.topic in {"sexual", "violence"}
    # the lists judged "send pics of your base" game talk: the model does not overrule
    assert mod.check_message("send pics of your base snowfall", COMPANION).decision == "allow"
