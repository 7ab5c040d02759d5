"""The persona: a portable AI identity that creators submit and worlds spawn.

Follows the seed's ``PersonaCore``. ``safety`` is what moderation enforces for every
message and action the persona makes; its defaults are the safe ones (every built-in
topic blocked, a small action allowlist, a low action rate).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .common import LAX, STRICT, Id, ShortText, Timestamp, new_id

#: Personas come from the seed's JSON API, which spells fields in camelCase
#: (``blockedTopics``): both spellings are accepted; dumps use snake_case.
PERSONA_CONFIG = ConfigDict(**STRICT, alias_generator=to_camel, populate_by_name=True)

#: Topics every moderator knows; configuration may add more.
BUILTIN_TOPICS = ("self_harm", "sexual", "politics", "violence", "hate", "personal_data")
#: Other names people use for the built-in topics (the seed says "nsfw", "self-harm").
TOPIC_ALIASES = {
    "self-harm": "self_harm",
    "selfharm": "self_harm",
    "suicide": "self_harm",
    "nsfw": "sexual",
    "sex": "sexual",
    "gore": "violence",
    "pii": "personal_data",
    "personal-data": "personal_data",
    "privacy": "personal_data",
}
#: Every action type a companion may perform (see ``models.actions``).
ACTION_TYPES = (
    "chat",
    "move_to",
    "follow",
    "look_at",
    "emote",
    "use_entity",
    "interact",
    "equip",
    "use_item",
    "title",
    "stop",
)
ACTION_ALIASES = {"move": "move_to", "say": "chat", "navigate": "move_to", "goto": "move_to"}

TopicName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]


def canonical_topic(name: str) -> str:
    key = name.strip().lower()
    return TOPIC_ALIASES.get(key, key.replace("-", "_"))


class Traits(BaseModel):
    model_config = PERSONA_CONFIG

    tone: Literal["curious", "serious", "playful", "mysterious"] = "curious"
    ethics: Literal["helper", "neutral", "trickster"] = "helper"
    risk: Literal["low", "medium", "high"] = "low"


class Safety(BaseModel):
    """What the persona may say and do. ``moderation`` decides what happens to a
    message with profanity or personal data: ``sanitize`` masks just those words,
    ``block`` drops the message. Other blocked topics always block. ``context`` says
    how text is judged: ``game`` (the default) takes combat, death and competition
    talk as game talk; ``general`` judges every listed phrase as written."""

    model_config = PERSONA_CONFIG

    blocked_topics: Annotated[list[TopicName], Field(max_length=32)] = list(BUILTIN_TOPICS)
    max_actions_per_minute: Annotated[int, Field(ge=1, le=600)] = 20
    allowed_actions: Annotated[list[str], Field(min_length=1, max_length=len(ACTION_TYPES))] = [
        "chat",
        "move_to",
        "follow",
        "look_at",
        "emote",
        "stop",
    ]
    moderation: Literal["sanitize", "block"] = "sanitize"
    context: Literal["game", "general"] = "game"

    @field_validator("blocked_topics")
    @classmethod
    def _canonical_topics(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(canonical_topic(t) for t in value))

    @field_validator("allowed_actions")
    @classmethod
    def _known_actions(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for name in value:
            action = ACTION_ALIASES.get(name, name)
            if action not in ACTION_TYPES:
                raise ValueError(
                    f"unknown action {name!r}; known actions: {', '.join(ACTION_TYPES)}"
                )
            out.append(action)
        return list(dict.fromkeys(out))


class Voice(BaseModel):
    model_config = PERSONA_CONFIG

    id: Annotated[str, Field(min_length=1, max_length=64)]
    rate: Annotated[float, Field(ge=0.25, le=4.0)] = 1.0


class Embodiment(BaseModel):
    model_config = PERSONA_CONFIG

    avatar: Annotated[str, Field(min_length=1, max_length=64)] = "humanoid_a"
    emotes: Annotated[
        list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]], Field(max_length=32)
    ] = ["wave"]


class DeploymentMetrics(BaseModel):
    model_config = PERSONA_CONFIG

    session_length: Annotated[float, Field(ge=0)] = 0.0
    interactions: Annotated[int, Field(ge=0)] = 0
    abuse_reports: Annotated[int, Field(ge=0)] = 0
    player_rating: Annotated[float, Field(ge=0, le=5)] | None = None


class DeploymentRecord(BaseModel):
    model_config = PERSONA_CONFIG

    session_id: Id
    world: Literal["gmod", "minecraft", "web"]
    server_id: Id
    started_at: Timestamp
    ended_at: Timestamp | None = None
    metrics: DeploymentMetrics = DeploymentMetrics()


class PersonaCore(BaseModel):
    """A companion's identity: who it is (name, traits, goals), how it may behave
    (``safety``) and how it looks (``embodiment``)."""

    model_config = PERSONA_CONFIG

    id: Id = Field(default_factory=lambda: new_id("persona"))
    name: ShortText
    description: Annotated[str, Field(max_length=1000)] = ""
    traits: Traits = Traits()
    goals: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=80)]], Field(max_length=10)
    ] = []
    memory_ref: Annotated[str, Field(max_length=128)] | None = None
    safety: Safety = Safety()
    voice: Voice | None = None
    embodiment: Embodiment = Embodiment()
    creator_id: Id = "anonymous"
    reputation: Annotated[float, Field(ge=0, le=100)] = 50.0
    deployment_history: list[DeploymentRecord] = []
    created_at: Annotated[datetime, LAX] | None = None

    @model_validator(mode="after")
    def _emote_actions_need_emotes(self) -> Self:
        if "emote" in self.safety.allowed_actions and not self.embodiment.emotes:
            raise ValueError("embodiment.emotes: list at least one emote, or disallow 'emote'")
        return self

    def text_for_moderation(self) -> str:
        """Everything creator-written that players may see, for moderation at submit."""
        return "\n".join([self.name, self.description, *self.goals])
