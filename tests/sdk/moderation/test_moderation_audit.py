"""The audit write's fast paths give exactly what the full paths give.

The moderator tells the audit log which texts its filter already scanned for personal
data (and found none), so the log does not scan them again; masking skips personal
data when only profanity is masked; ASCII text is folded without a per-character loop.
Each shortcut must change nothing a user can see: the log holds the same redacted
text, and players see the same masked text.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from encounters.models.persona import PersonaCore, Safety
from encounters.moderation import AuditLogger, ContentModerator, TextFilter, redact
from encounters.moderation.audit import PERSONAL, REDACTED
from encounters.moderation.normalize import _fold_char, _fold_chars_with_map, _fold_each_char
from encounters.storage import MemoryStore

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Pieces that make the personal-data, credential and profanity checks fire, or nearly
#: fire (digits next to masked words, a phone number glued to a word, control
#: characters that vanish before the filter sees the text).
_PIECES = [
    "call me on 0170 1234567", "+44 20 7946 0958", "5551234567", "555-123-4567",
    "me@example.com", "bob at gmail dot com", "4111 1111 1111 1111", "10.0.0.1",
    "fe80::1", "SW1A 1AA", "zip 90210", "12 Baker Street", "Hauptstraße 5",
    "i'm 12 and i live in Leeds", "whats ur phone number", "fuck", "shit", "f.u.c.k",
    "sh1t", "fuck5551234567", "sk-proj-T3stKeyDoNotUseABCDEFGHIJKL", "token=abc123",
    "Bearer abcdefghijkl", "x 100 y 64 z -200", "5000 gold", "v1.2.3.4", "kill myself",
    "gg", "nice", "\u200b", "\x00", "\t", "\n", " ", "a", "1", "7", ":", "@", "-", ".",
]  # fmt: skip
_TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map(" ".join),
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map("".join),
)
_SAFETY = st.builds(
    Safety,
    moderation=st.sampled_from(["sanitize", "block"]),
    blocked_topics=st.sampled_from([["personal_data"], ["violence"], []]),
)


@pytest.fixture(scope="module")
def tf() -> TextFilter:
    return TextFilter.default()


@pytest.fixture(scope="module")
def moderator(tf: TextFilter) -> Iterator[ContentModerator]:
    yield ContentModerator(tf, audit=AuditLogger(MemoryStore()))


@PROPERTY
@given(text=_TEXT, safety=_SAFETY)
def test_audit_log_holds_what_full_redaction_gives(
    moderator: ContentModerator, text: str, safety: Safety
) -> None:
    persona = PersonaCore(name="Companion", safety=safety)

    async def main() -> None:
        assert moderator.audit is not None
        result = await moderator.moderate_message(text, persona, session_id="prop")
        (entry,) = (await moderator.audit.replay("prop"))[-1:]
        assert entry.decision == result.decision
        # the full path: scan everything, as the log did before the shortcut
        assert entry.input == redact(text)
        assert entry.output == redact(result.text)

    anyio.run(main)


@PROPERTY
@given(text=_TEXT, title=st.booleans())
def test_action_audit_holds_what_full_redaction_gives(
    tf: TextFilter, text: str, title: bool
) -> None:
    moderator = ContentModerator(tf, audit=AuditLogger(MemoryStore()))  # a fresh rate
    persona = PersonaCore(name="Companion", safety=Safety(allowed_actions=["chat", "title"]))
    action = {"type": "title", "text": text, "subtitle": text} if title else {
        "type": "chat", "message": text}  # fmt: skip

    async def main() -> None:
        assert moderator.audit is not None
        one = await moderator.moderate_action(action, persona, session_id="act")
        (batch,), entries = await moderator.decide_actions([action], persona, session_id="act")
        (entry,) = (await moderator.audit.replay("act"))[-1:]
        for decision, logged in ((one, entry), (batch, entries[0])):
            assert logged.decision == decision.decision
            assert logged.input == redact(action)
            out = decision.action.model_dump() if decision.action is not None else None
            assert logged.output == redact(out)

    anyio.run(main)


@PROPERTY
@given(text=_TEXT)
def test_masking_profanity_only_matches_full_hits(tf: TextFilter, text: str) -> None:
    chars = list(text)
    for hit in tf.hits(text):
        if hit.category == "profanity":
            for i in range(hit.start, hit.end):
                if not chars[i].isspace():
                    chars[i] = "*"
    assert tf.mask(text, ["profanity"]) == "".join(chars)


def _per_character(text: str) -> tuple[str, list[int]]:
    """The definition: each character folded alone (steps 1-4)."""
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in _fold_char(ch):
            chars.append(c)
            where.append(i)
    return "".join(chars), where


@PROPERTY
@given(
    text=st.one_of(
        _TEXT,
        st.text(alphabet=st.characters(max_codepoint=127)),
        st.text(alphabet=st.sampled_from([*"aZ0 _.\t\x00\u200b", "é", "ſ", "Ⓕ", "ǅ", "😀"])),
    )
)
def test_fast_fold_maps_match_per_character_fold(text: str) -> None:
    assert _fold_chars_with_map(text) == _fold_each_char(text) == _per_character(text)


def test_personal_data_in_the_log_is_redacted_on_every_path(tf: TextFilter) -> None:
    """A message players saw with a phone number masked, one that was blocked for
    asking for contact details, and a clean one: the log keeps none of the data."""

    async def main() -> None:
        mod = ContentModerator(tf, audit=AuditLogger(MemoryStore()))
        p = PersonaCore(name="Companion")
        await mod.moderate_message("call me on 0170 1234567", p, session_id="s")
        await mod.moderate_message("fuck, mail me@example.com", p, session_id="s")
        await mod.moderate_message("whats ur phone number", p, session_id="s")
        await mod.moderate_message("gg well played", p, session_id="s")
        await mod.moderate_message(f"key {'sk-proj-T3stKeyDoNotUseABCDEFGHIJKL'}", p,
                                   session_id="s")  # fmt: skip
        entries = await mod.audit.replay("s")  # type: ignore[union-attr]
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        assert entries[0].input == f"call me on {PERSONAL}"
        assert entries[0].output == "call me on " + "*" * 4 + " " + "*" * 7
        assert entries[1].input == f"fuck, mail {PERSONAL}"
        assert entries[1].output == "****, mail " + "*" * len("me@example.com")
        assert entries[2].decision == "block"
        assert entries[3].input == entries[3].output == "gg well played"
        assert entries[4].input == f"key {REDACTED}"

    anyio.run(main)


def test_a_long_text_never_logs_personal_data_beyond_the_scanned_part() -> None:
    """Personal data is looked for in a long text's first 8,000 characters and 4,000 are
    logged: when findings early on shorten it, the text after the scanned part must not
    move into the logged part (a card number there was logged in clear)."""
    card = "4111111111111111"
    head = "a" * 4100 + "@example.com "  # one e-mail address of 4,112 characters
    filler = "b " * ((8000 - len(head)) // 2)
    text = head + filler + f"card {card} end"
    for value in (text, {"type": "chat", "message": text}):
        entry = AuditLogger.entry("message", "block", input=value, output=None,
                                  reason="too_long", categories=[])  # fmt: skip
        logged = entry.model_dump_json()
        assert card not in logged and "@example.com" not in logged
        assert PERSONAL in logged
