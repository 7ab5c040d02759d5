"""Personal data: what players see masked, requests blocked, credentials never shown, and
an audit log that keeps none of it in clear."""

from __future__ import annotations

import anyio
import pytest

from encounters.models.persona import PersonaCore, Safety
from encounters.moderation import AuditLogger, ContentModerator, TextFilter
from encounters.moderation.audit import PERSONAL
from encounters.storage import MemoryStore


@pytest.fixture(scope="module")
def moderator() -> ContentModerator:
    return ContentModerator(TextFilter.default())


COMPANION = PersonaCore(name="Companion")


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("call me on +44 20 7946 0958 tonight", "+44 20 7946 0958"),
        ("ring +91 98765 43210 ok", "+91 98765 43210"),
        ("whatsapp +33 6 12 34 56 78", "+33 6 12 34 56 78"),
        ("my card is 4111 1111 1111 1111 lol", "4111 1111 1111 1111"),
        ("card4111111111111111 exp 12/29", "4111111111111111"),
        ("join me at 192.168.1.20", "192.168.1.20"),
        ("my ip is 2001:db8::1", "2001:db8::1"),
        ("i live near SW1A 1AA", "SW1A 1AA"),
        ("postcode K1A 0B1", "K1A 0B1"),
        ("my zip is 90210", "90210"),
        ("CEP 01310-100", "01310-100"),
        ("ich wohne Kerkstraat 12", "Kerkstraat 12"),
        ("abito in via Roma 12", "via Roma 12"),
        ("I'm 12 and I live in Leeds", "I'm 12 and I live in Leeds"),
    ],
)
def test_personal_data_is_masked_for_players(
    moderator: ContentModerator, text: str, data: str
) -> None:
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "sanitize" and result.reason == "personal_data"
    assert result.text is not None and data not in result.text
    start = text.index(data)
    assert result.text[:start] == text[:start]
    assert set(result.text[start : start + len(data)]) <= {"*", " "}


@pytest.mark.parametrize(
    "text",
    [
        "x 100 y 64 z -200",
        "that costs 5000 gold",
        "server runs 1.20.4 on port 25565",
        "version 1.2.3.4 is out",
        "4111111111111112 damage lol",  # fails the Luhn check
        # the tail of an id that mixes letters and digits (Luhn-valid: 0806008900003)
        "replay sess_3996480a08060089-00003 from the log",
        "I was 12 when I got my first pc",
        "im 12 from the quest reward",
        "what is your name, traveller?",
        "raid at 10:30 on 12.03.2024",
    ],
)
def test_game_numbers_are_not_personal_data(moderator: ContentModerator, text: str) -> None:
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "allow" and result.text == text


@pytest.mark.parametrize(
    "text",
    ["whats ur phone number", "gimme ur addy", "what is your real name", "whats ur snap"],
)
def test_requests_for_contact_details_are_blocked(moderator: ContentModerator, text: str) -> None:
    result = moderator.check_message(text, COMPANION)
    assert result.decision == "block" and result.topic == "personal_data"


def test_a_key_in_a_line_never_reaches_players(moderator: ContentModerator) -> None:
    key = "sk-proj-" + "A1b2C3d4" * 4
    allows_data = Safety(blocked_topics=["self_harm"])  # personal data not blocked
    result = moderator.check_message(f"the admin key is {key} shh", allows_data)
    assert result.decision == "sanitize" and result.reason == "secret"
    assert result.text == "the admin key is " + "*" * len(key) + " shh"


def test_audit_log_keeps_personal_data_redacted() -> None:
    store = MemoryStore()
    moderator = ContentModerator(TextFilter.default(), audit=AuditLogger(store))
    text = "I'm 12 and I live in Leeds, call +44 20 7946 0958 or mail kid@example.com"

    async def main() -> None:
        result = await moderator.moderate_message(text, COMPANION, session_id="s")
        assert result.decision == "sanitize"
        (entry,) = await store.list_audit()
        stored = entry.model_dump_json()
        for data in ("Leeds", "7946", "kid@example.com"):
            assert data not in stored
        assert entry.input == f"{PERSONAL}, call {PERSONAL} or mail {PERSONAL}"

    anyio.run(main)


def test_a_credentials_letters_never_decide_the_line() -> None:
    """A key is masked before the words are read: whatever its random letters spell
    (here "shit" and "fuck" in leetspeak), the line is a ``secret`` sanitize, not a
    profanity block, and nothing of the key reaches the player."""
    from encounters.models.persona import Safety
    from encounters.moderation import ContentModerator

    moderator = ContentModerator()
    strict = Safety(moderation="block")
    for key in ("deploy_5h1tAbCdEfGhIjKlMnOpQrStUvWx", "sk-proj-fuckXXXXXXXXXXXXXXXXXXXXXXXX"):
        result = moderator.check_message(f"remember {key}", strict)
        assert (result.decision, result.reason) == ("sanitize", "secret"), (key, result)
        assert result.text is not None and key not in result.text
        assert result.text.startswith("remember ****")
