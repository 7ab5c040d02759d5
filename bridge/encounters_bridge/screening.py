"""The persona screen: the moderation a persona's creator-written text goes through on
submit, as findings a person can act on (which field, which words, which topic, and
what would happen).

Every text field a creator writes (name, description, goals, memory reference, voice
id, avatar, emotes) is checked as if the persona blocked every built-in topic and
blocked profanity outright: what players may see must be clean whatever the persona
itself allows. Offline only (word lists and the topic model, no provider calls), so the
studio can run it on every keystroke: about a millisecond for a full persona.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from encounters.models.audit import Decision
from encounters.models.persona import BUILTIN_TOPICS, PersonaCore, Safety
from encounters.moderation import ContentModerator
from encounters.validation import text_fields

#: Every creator-written text field of a persona: each is moderated on submit.
CREATOR_TEXT: dict[str, Any] = {"name": True, "description": True, "goals": True,
                                "memory_ref": True, "voice": {"id"},
                                "embodiment": {"avatar", "emotes"}}  # fmt: skip
#: The strictest safety: what a persona's own text is held to.
STRICT_SAFETY = Safety(blocked_topics=list(BUILTIN_TOPICS), moderation="block")
#: Texts longer than this are refused as ``too_long`` (the longest persona field is 1000).
MAX_TEXT = 2000


class Finding(BaseModel):
    """What the screen found in one field. ``decision`` is ``block`` when the persona
    would be rejected for it; ``words`` are the matched words as written (personal
    data shows as its kind, never its value); ``reason`` is the moderator's reason
    (``blocked_topic``, ``profanity``, ``too_long``...) and ``topic`` the topic that
    decided a block."""

    field: str
    decision: Decision
    reason: str | None = None
    topic: str | None = None
    categories: list[str] = []
    words: list[str] = []

    def why(self) -> str:
        """The one-line reason a rejected persona carries: ``goals[0]: violence``."""
        return f"{self.field}: {self.topic or self.reason}"


def screen(moderator: ContentModerator, persona: PersonaCore) -> list[Finding]:
    """The findings for every creator-written field of ``persona`` that has any (a
    clean persona has none); those with ``decision == "block"`` reject it."""
    findings: list[Finding] = []
    for field, text in text_fields(persona.model_dump(include=CREATOR_TEXT)):
        if not text or field == "body":  # "body": the field names themselves
            continue
        result = moderator.check_message(text, STRICT_SAFETY, max_length=MAX_TEXT)
        if result.decision == "allow" and not result.categories:
            continue
        words: list[str] = []
        if result.categories and len(text) <= MAX_TEXT:
            for hit in moderator.filter.hits(text, STRICT_SAFETY.context):
                shown = hit.term if hit.category == "personal_data" else text[hit.start : hit.end]
                if shown not in words:
                    words.append(shown)
        findings.append(Finding(
            field=field, decision=result.decision, reason=result.reason, topic=result.topic,
            categories=list(result.categories), words=words[:20],
        ))  # fmt: skip
    return findings


__all__ = ["CREATOR_TEXT", "Finding", "screen"]
