"""Ordinary text passes the topic model: everyday talk, NPC and quest dialogue, the
studio's default texts, the built-in templates' prose and the repository's own
documentation. A model that learnt chance words from harm lines ("more", "show",
"counted") refuses a creator's default dialogue at publish; these lines catch that.

The documentation sentences are not training lines, nor are most phrases of
``EVERYDAY``; seven of those phrases ("tell me more", "show me more"...), the studio's
default dialogue texts and the templates' sentences are (``train_everyday.jsonl`` and
the trainer's template prose): they must pass whatever else the model learns. Quoted
examples inside the documentation (in backticks or quotation marks, such as the harm
examples of the moderation page) are cut out of the sentences: the prose around them
must pass, the examples themselves are meant to be flagged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from encounters.models.persona import PersonaCore
from encounters.moderation import ContentModerator, TextFilter
from encounters.moderation.normalize import fold
from encounters.moderation.topicmodel import default_model

ROOT = Path(__file__).resolve().parents[3]

EVERYDAY = (
    "tell me more",
    "show me more",
    "Tell me more about the old mill.",
    "Show me more of those boots.",
    "come closer",
    "Come closer, child, and hear the tale.",
    "what else do you have",
    "What else do you have for sale?",
    "take it off the shelf",
    "Take the lantern off the hook by the door.",
    "I want to see more",
    "I want to see more of the valley before night falls.",
    "give me more time",
    "let me see the rest",
    "can I see the blue one?",
    "how much is the shield?",
    "I'll take the cheaper one.",
    "put it on the counter, please",
    "the shop closes at sundown",
    "would you like to try it on?",
    "it fits perfectly",
    "come back tomorrow for the rest of the order",
    "Press E to talk to the shopkeeper.",
    "Hold the right mouse button to aim.",
    "Open your inventory with the I key.",
    "Your bag is full: sell something first.",
    "Bring the herbs to the healer in the east wing.",
    "Speak to the captain before you leave the harbour.",
    "Find the three missing pages of the diary.",
    "The gate opens when all torches are lit.",
    "what do you think about the new patch?",
    "I'm heading home now, see you all tomorrow",
    "thanks for waiting for me",
    "Sessions never finished are not counted.",
    "Sessions that are never finished are not counted.",
    "Encounters never published are not listed.",
)


#: Game and role-play chat a companion must let through whole (word lists, game
#: patterns and topic model together, the default game context): deaths by your own
#: hand, clubs' presidents, pictures of builds, weapons and writers with rude words in
#: them, combat, competition and dark lore.
GAME_LINES = (
    "I keep killing myself with my own TNT",
    "the guild president",
    "the guild president wants a meeting",
    "send pics of your base",
    "are you alone in the dungeon?",
    "bastard sword",
    "I'll trade my bastard sword for your bow",
    "cock your crossbow",
    "cock your crossbow before the wave",
    "Philip K. Dick",
    "I'm reading a Philip K. Dick novel",
    "I played my trump card",
    "I'm coming to your house to trade emeralds",
    "kill the dragon before it reaches the village",
    "i want to die in this raid so i respawn at the base",
    "i don't want to die to this boss again",
    "behead the hydra to finish the quest",
    "the executioner beheads the traitor in the cutscene",
    "blood everywhere in this dungeon, nice graphics",
    "i'll murder you in smash bros tonight",
    "i'm going to kill it in the tournament tomorrow",
    "the zombies in this zone are subhuman",
    "sexy new armor set in the shop",
    "are you alone or with a squad?",
    "our little secret base is under the lake",
    "kill yourself on the spikes to reset the puzzle",
    "don't overdose on mana potions, there's a cooldown",
    "give me head armor, i have none",
    "i'm naked on spawn, someone give me armor",
    "no women in this guild lol",
    "the refugees in the burning village need shelter",
)


@pytest.mark.parametrize("text", GAME_LINES)
def test_game_line_is_allowed_whole(text: str) -> None:
    result = ContentModerator(TextFilter.default()).check_message(text, PersonaCore(name="C"))
    assert (result.decision, result.categories) == ("allow", ()), text


def _studio_texts() -> list[str]:
    """Every string literal of two or more words starting with a capital letter in the
    studio's sources and its English texts (other languages' files are left out: the
    model reads English)."""
    texts: list[str] = []
    literals = [re.compile(q + r"([A-Z][^\n" + q + r"]* [^\n" + q + r"]*)" + q) for q in "\"'"]
    for path in sorted((ROOT / "web" / "src").rglob("*.ts*")):
        if path.parent.name == "i18n" and path.name != "en.ts":
            continue
        source = path.read_text(encoding="utf-8")
        texts += [m.group(1) for literal in literals for m in literal.finditer(source)]
    return texts


def _template_texts() -> list[str]:
    texts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            if len(value.split()) >= 2:
                texts.append(re.sub(r"\{\{[^}]*\}\}", "", value))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for path in sorted((ROOT / "sdk" / "encounters" / "templates" / "builtin").glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return texts


_QUOTED = re.compile(r"`[^`]*`|\"[^\"]*\"|“[^”]*”|‘[^’]*’|'[^'\s][^']*[^'\s]'(?!\w)")


def _doc_sentences() -> list[str]:
    """The sentences of README.md and docs/*.md: code blocks dropped, quoted examples cut
    out, markdown marks removed, split at sentence ends and table cells."""
    sentences: list[str] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = re.sub(r"```.*?```", " ", path.read_text(encoding="utf-8"), flags=re.S)
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
        text = _QUOTED.sub(" ", text)
        for block in re.split(r"\n\s*\n|\|", text):
            block = re.sub(r"^[#>*\-\d. ]+", "", " ".join(block.split()))
            for sentence in re.split(r"(?<=[.!?:;])\s+", block):
                sentence = sentence.strip(" *_#>-")
                if len(re.findall(r"[A-Za-z]{2,}", sentence)) >= 3:
                    sentences.append(sentence)
    return sentences


def _flagged(texts: list[str]) -> list[tuple[str, set[str]]]:
    model = default_model()
    return [(t, topics) for t in dict.fromkeys(texts) if (topics := model.topics_in(fold(t)))]


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_phrase_is_not_flagged(text: str) -> None:
    assert default_model().topics_in(fold(text)) == set()


def test_studio_default_texts_are_not_flagged() -> None:
    texts = _studio_texts()
    defaults = ("Tell me more.", "There is more to it.", "Hello, traveller.", "Go on.",
                "Well met, traveller. What brings you here?", "What do you do?")  # fmt: skip
    for default in defaults:
        assert default in texts
    assert _flagged(texts) == []


def test_builtin_template_texts_are_not_flagged() -> None:
    texts = _template_texts()
    assert len(texts) > 100
    assert _flagged(texts) == []


def test_documentation_sentences_are_not_flagged() -> None:
    sentences = _doc_sentences()
    assert len(sentences) > 500
    assert _flagged(sentences) == []
