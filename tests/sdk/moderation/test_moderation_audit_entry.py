"""The audit write's shortcuts store what the full construction stores, byte for byte.

An entry is built without pydantic validation when its values are already as
validation leaves them, the texts the moderator found free of credentials and personal
data are only cut (not redacted again), and the memory store serialises with the
model's serializer directly. The old construction is: redact everything in full,
validate an :class:`AuditEntry`, ``model_dump_json()``. These tests compare the two on
every corpus line for four personas, and on random values.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
from datetime import datetime
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from encounters.models.audit import AuditEntry
from encounters.models.persona import PersonaCore, Safety
from encounters.moderation import (
    AuditLogger,
    ContentModerator,
    InProcessRateLimiter,
    TextFilter,
    audit,
    pii,
    redact,
)
from encounters.moderation.audit import _flat, _validated_entry
from encounters.storage import MemoryStore
from tests.sdk.moderation.test_moderation_fastpath import corpus_lines, id_words, tuning_lines

#: Lines the corpora lack: credentials (masked for every persona), text that the
#: delivery cleaning changes (so the logged input is not the scanned text).
EXTRA = (
    "my key is sk-proj-T3stKeyDoNotUseABCDEFGHIJKL ok",
    "token=abc123 and Bearer abcdefghijkl",
    "fucksk-proj-T3stKeyDoNotUseABCDEFGHIJKL",
    "  gg wp  ",
    "hi\u200bthere\x00 call 555-123-4567",
    "ping 10.0.0.1\tnow",
)
PERSONAS = (
    PersonaCore(name="Companion"),
    PersonaCore(
        name="Strict",
        safety=Safety(
            moderation="block",
            blocked_topics=["self_harm", "sexual", "hate", "violence", "politics", "personal_data"],
        ),
    ),
    PersonaCore(
        name="Masker",
        safety=Safety(moderation="sanitize", context="general", blocked_topics=["personal_data"]),
    ),
    PersonaCore(name="Open", safety=Safety(moderation="sanitize", blocked_topics=[])),
)


def _old_row(stored: str, kind: str, result: Any, text: object, persona: PersonaCore) -> str:
    """The JSON the old construction stores for this decision: full redaction, a
    validated entry (with the stored entry's time), ``model_dump_json()``."""
    at = datetime.fromisoformat(json.loads(stored)["at"].replace("Z", "+00:00"))
    return AuditEntry(
        at=at,
        kind=kind,
        decision=result.decision,
        input=redact(text),
        output=redact(result.text),
        reason=result.reason[:200] if result.reason else None,
        categories=list(result.categories),
        session_id="corpus",
        persona_id=persona.id,
    ).model_dump_json()


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.name)
def test_every_corpus_line_is_stored_as_the_old_construction_stores_it(
    persona: PersonaCore,
) -> None:
    store = MemoryStore()
    moderator = ContentModerator(TextFilter.default(), audit=AuditLogger(store))
    lines = corpus_lines() + EXTRA

    async def main() -> list[Any]:
        return [await moderator.moderate_message(t, persona, session_id="corpus") for t in lines]

    results = asyncio.run(main())
    rows = store._audit
    assert len(rows) == len(lines)
    differ = [
        (text, row)
        for text, result, row in zip(lines, results, rows, strict=True)
        if row != _old_row(row, "message", result, text, persona)
    ]
    assert differ == []


_SHORT = st.one_of(
    st.none(),
    st.sampled_from(["allow", "blocked_topic", "profanity", "s", "sess_1", "", " ", "a b"]),
    st.text(max_size=12),
    st.text(alphabet=" \t\n\x1c\x85\u00a0\u2028\u3000ab\ud800é", max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["message", "action", "event", "persona", "other", " message"]),
    decision=st.sampled_from(["allow", "sanitize", "block", "maybe", "allow "]),
    reason=_SHORT,
    session_id=_SHORT,
    persona_id=_SHORT,
    categories=st.one_of(
        st.lists(st.one_of(st.sampled_from(["profanity", "personal_data", " hate"]), st.text())),
        st.tuples(st.sampled_from(["secret", "sexual"])),
    ),
    value=st.one_of(st.none(), st.text(), st.dictionaries(st.text(), st.integers())),
)
def test_an_entry_built_without_validation_is_the_validated_entry(
    kind: str,
    decision: str,
    reason: str | None,
    session_id: str | None,
    persona_id: str | None,
    categories: list[str] | tuple[str, ...],
    value: Any,
) -> None:
    fields = {
        "kind": kind, "decision": decision, "input": value, "output": value, "reason": reason,
        "categories": list(categories), "session_id": session_id, "persona_id": persona_id,
    }  # fmt: skip
    try:
        validated = AuditEntry(**fields)
    except ValidationError:
        with pytest.raises(ValidationError):
            _validated_entry(
                kind, decision, value, value, reason, categories, session_id, persona_id
            )
        return
    built = _validated_entry(
        kind, decision, value, value, reason, categories, session_id, persona_id
    )
    assert type(built) is AuditEntry
    assert built.model_fields_set == validated.model_fields_set
    assert built.__pydantic_extra__ == validated.__pydantic_extra__
    assert built.__pydantic_private__ == validated.__pydantic_private__
    built.__dict__["at"] = validated.at  # the clock moved on: not what is compared
    assert built.__dict__ == validated.__dict__
    assert list(built.__dict__) == list(validated.__dict__)
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_dump_json(exclude={"seq"}) == validated.model_dump_json(exclude={"seq"})
    built.seq = validated.seq = 7  # what the logger does once stored
    assert built.model_fields_set == validated.model_fields_set


def test_a_recorded_entry_is_the_validated_entry_with_its_seq() -> None:
    """What :meth:`AuditLogger.record` returns: the entry as validated, then given its
    seq the way pydantic sets a field (value and fields set), on the shortcut (plain
    ids) and off it (ids that validation strips or that are not ASCII)."""
    logger = AuditLogger(MemoryStore())
    cases = (("gg", "s", None), ("hi", " spaced ", "x"), ("yo", "s\u00e9", None))
    for seq, (text, session_id, reason) in enumerate(cases, 1):
        entry = asyncio.run(
            logger.record("message", "allow", input=text, session_id=session_id, reason=reason)
        )
        validated = AuditEntry(
            kind="message", decision="allow", input=text, output=None, reason=reason,
            categories=[], session_id=session_id, persona_id=None,
        )  # fmt: skip
        validated.seq = seq
        assert entry.model_fields_set == validated.model_fields_set
        validated.__dict__["at"] = entry.at
        assert entry.__dict__ == validated.__dict__


class _Tag(enum.StrEnum):
    """A str subclass: not a plain scalar."""

    A = "a"


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=4),
    st.just(_Tag.A), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.dictionaries(st.text(max_size=3), _VALUES, max_size=6),
        st.integers(min_value=199, max_value=202).map(lambda n: dict.fromkeys(range(n))),
    )
)
@example({"type": "chat", "message": "hi", "id": None, "n": 1, "x": 1.5, "b": True})
def test_a_flat_dict_is_one_of_at_most_200_plain_scalars(value: dict[Any, Any]) -> None:
    """What decides that an action's output equal to its input is redacted once."""
    plain = (str, int, float, bool, type(None))
    assert _flat(value) == (len(value) <= 200 and all(type(v) in plain for v in value.values()))


_BATCH_PERSONA = PersonaCore(
    name="Relay",
    safety=Safety(max_actions_per_minute=600, allowed_actions=["chat", "title", "move_to"]),
)


@functools.cache
def _relay_moderator() -> ContentModerator:
    return ContentModerator()


def _chat_actions() -> st.SearchStrategy[dict[str, Any]]:
    """Chat actions as a relay receives them: tuning-corpus lines or lines with
    personal data, ids that are generated, hold a card, or are not ids at all."""
    message = st.one_of(
        st.sampled_from(tuning_lines()),
        st.sampled_from((*EXTRA, "call me on 0151 23456789", "card 4111 1111 1111 1111")),
    )
    action_id = st.one_of(
        id_words, st.just("act_3f9a0c2b7d1e4f5a"), st.sampled_from(("card-4111111111111111", " x"))
    )
    return st.fixed_dictionaries({"type": st.just("chat"), "message": message, "id": action_id})


@settings(max_examples=120, deadline=None)
@given(st.lists(_chat_actions(), min_size=1, max_size=4), st.sampled_from((None, "es", "pt-BR")))
@example([{"type": "chat", "message": "hi", "id": "act_4222222222222"}], None)  # a card
@example([{"type": "chat", "message": "hi", "id": "x_612345678"}], "es")
def test_action_entries_hold_what_full_redaction_gives(
    actions: list[dict[str, Any]], language: str | None
) -> None:
    """The audit entries of a relayed batch (what the bridge stores with the
    dispatches) log each action, and what was done, redacted as in full: every text
    scanned for credentials and personal data by every pattern, the output on its
    own."""
    moderator = _relay_moderator().for_language(language)
    moderator.limiter = InProcessRateLimiter()
    decisions, entries = asyncio.run(
        moderator.decide_actions(actions, _BATCH_PERSONA, session_id="s", world="minecraft")
    )
    with mock.patch.object(pii, "find", pii.find_uncached):
        audit._redact_text.cache_clear()  # nothing remembered from the fast path
        for action, decision, entry in zip(actions, decisions, entries, strict=True):
            out = decision.action.model_dump() if decision.action is not None else None
            assert entry.input == redact(action, language=language)
            assert entry.output == redact(out, language=language)
            assert entry.decision == decision.decision
            assert entry.categories == list(decision.categories)
