"""How text that creators publish is judged: encounters, templates and marketplace
listings and reviews. Stricter than chat: every built-in topic blocks and profanity
blocks too, in a game's context (a quest to defeat bandits is game talk)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import FieldError, ValidationFailed
from ..models.persona import BUILTIN_TOPICS, Safety
from ..validation import text_fields, unsafe_text_errors
from .moderator import ContentModerator

#: The policy published text is judged by.
PUBLISHED = Safety(blocked_topics=list(BUILTIN_TOPICS), moderation="block")
#: Longest text one field may hold to be judged at all.
MAX_FIELD_TEXT = 20000
#: An id as :func:`encounters.models.new_id` (and the studio) make them: a prefix and 16
#: random hex digits. In an id field (see :func:`generated_ids`) only its prefix is
#: judged: read as leetspeak, hex spells words nobody wrote, and its digit runs look like
#: phone numbers (about one generated id in 200 was refused).
GENERATED_ID = re.compile(r"[a-z]{1,16}_[0-9a-f]{16}")
#: Fields that hold ids in published content: ``id``, an objective's ``requires``, a
#: dialogue answer's ``next``, and any ``..._id`` / ``...Id`` (or a list of them).
_ID_FIELD = re.compile(r"id|next|requires|.*_ids?|.*[a-z]Ids?")


def generated_ids(data: Any, path: str = "", name: str = "") -> set[tuple[str, str]]:
    """``(path, text)`` of every string in ``data`` (parsed JSON) that is an id in the
    generated form in an id field, with paths as :func:`~encounters.validation.text_fields` gives
    them. Only values: a key is text wherever it is, and so is a title or a
    description in the shape of an id (the prefix is any word: ``fuck_`` and 16 hex
    digits is a title a creator wrote)."""
    if isinstance(data, str):
        if _ID_FIELD.fullmatch(name) and GENERATED_ID.fullmatch(data):
            return {(path, data)}
        return set()
    found: set[tuple[str, str]] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            found |= generated_ids(value, f"{path}.{key}" if path else str(key), str(key))
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data):
            found |= generated_ids(value, f"{path}[{i}]", name)
    return found


def published_text_errors(
    moderator: ContentModerator, body: Any
) -> tuple[list[FieldError], list[FieldError]]:
    """``(unsafe, blocked)``: fields with control or invisible format characters, and
    fields moderation refuses, each named by its path. Empty text is left to
    validation, which says what the field needs."""
    unsafe = unsafe_text_errors(body)
    if unsafe:
        return unsafe, []
    blocked = []
    ids = generated_ids(body)
    for path, text in text_fields(body):
        if not text.strip():
            continue
        if (path, text) in ids:  # its prefix is a word someone chose; the hex is not
            text = text.partition("_")[0]
        result = moderator.check_message(text, PUBLISHED, max_length=MAX_FIELD_TEXT)
        if not result.allowed:
            why = result.topic or result.reason
            blocked.append(FieldError(path, f"refused by moderation ({why})"))
    return [], blocked


def screen(moderator: ContentModerator, body: Any, what: str) -> None:
    """Refuse (:class:`ValidationFailed`) text with control or invisible format
    characters and text that fails moderation, naming each field; counted as ``what``
    moderation decisions."""
    unsafe, blocked = published_text_errors(moderator, body)
    if unsafe:
        raise ValidationFailed(what, unsafe)
    moderator.counters.count(what, "block" if blocked else "allow")
    if blocked:
        raise ValidationFailed(what, blocked)
