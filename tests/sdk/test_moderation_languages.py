"""Moderation per session language: every language's word lists, and the personal data
each language writes its own way (national phone numbers and ids, a child's age and
town). A Spanish session's companion gets Spanish moderation end to end."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from encounters.companion import Companion
from encounters.models.persona import PersonaCore
from encounters.moderation import ContentModerator, TextFilter, pii


@pytest.fixture(scope="module")
def moderator() -> ContentModerator:
    return ContentModerator(TextFilter.default())


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("eres un gilipollas", "eres un **********"),
        ("qué coño haces", "qué **** haces"),
        ("vai tomar no cu, babaca", "*** ***** ** **, ******"),
        ("du bist ein arschloch", "du bist ein *********"),
        ("ты сука", "ты ****"),
        ("какого хуя", "какого ***"),
    ],
)
def test_profanity_is_masked_in_every_language(
    moderator: ContentModerator, text: str, masked: str
) -> None:
    result = moderator.check_message(text)
    assert result.decision == "sanitize" and result.text == masked


@pytest.mark.parametrize(
    "text",
    ["наша команда победила", "небанальный ход", "el equipo ganó", "la concha marina", "Привет!"],
)
def test_everyday_words_that_contain_a_swear_word_pass(
    moderator: ContentModerator, text: str
) -> None:
    assert moderator.check_message(text).decision == "allow"


@pytest.mark.parametrize(
    ("language", "text", "kind"),
    [
        ("es", "llámame al 612 345 678", "phone"),
        ("es", "mi DNI es 12345678Z", "national_id"),
        ("es", "mi NIE: X1234567L", "national_id"),
        ("es", "tengo 12 años y vivo en Sevilla", "minor"),
        ("de", "ruf mich an: 0151 23456789", "phone"),
        ("de", "ich bin 11 und ich wohne in Bremen", "minor"),
        ("fr", "mon numéro c'est 06 12 34 56 78", "phone"),
        ("fr", "j'ai 10 ans et j'habite à Lyon", "minor"),
        ("pt-BR", "meu cpf é 529.982.247-25", "national_id"),
        ("pt-BR", "tenho 13 anos e moro em Recife", "minor"),
        ("ru", "мой номер 8 912 345-67-89", "phone"),
        ("ru", "мне 12 лет и я живу в Казани", "minor"),
    ],
)
def test_national_personal_data_is_found_in_its_language(
    moderator: ContentModerator, language: str, text: str, kind: str
) -> None:
    assert kind in {k for _, _, k in pii.find(text, language)}
    result = moderator.for_language(language).check_message(text)
    assert result.decision != "allow" and result.reason == "personal_data"
    assert text not in (result.text or "")


@pytest.mark.parametrize(
    "text",
    [
        "llámame al 612 345 678",
        "tengo 12 años",  # an age alone
        "x 612 y 345 z 678",  # coordinates with their axes
    ],
)
def test_what_is_not_personal_data_in_the_session_language(
    moderator: ContentModerator, text: str
) -> None:
    assert moderator.check_message(text).decision == "allow"  # an English session
    if "612 345 678" not in text:
        assert moderator.for_language("es").check_message(text).decision == "allow"


@pytest.mark.parametrize(
    ("language", "text"),
    [("es", "mi DNI es 12345678A"), ("es", "NIE X1234567A"), ("pt-BR", "cpf 529.982.247-26")],
)
def test_an_id_with_a_wrong_check_digit_is_not_a_national_id(language: str, text: str) -> None:
    assert "national_id" not in {k for _, _, k in pii.find(text, language)}


def test_a_language_moderator_shares_everything_but_the_language(
    moderator: ContentModerator,
) -> None:
    spanish = moderator.for_language("es-419")
    assert moderator.for_language("es-419") is spanish
    assert spanish.filter.lexicon is moderator.filter.lexicon
    assert spanish.limiter is moderator.limiter and spanish.counters is moderator.counters
    assert moderator.for_language(None) is moderator


def test_a_spanish_companion_session_gets_spanish_moderation(moderator: ContentModerator) -> None:
    persona = PersonaCore.model_validate(
        {
            "id": "p_rosa",
            "name": "Rosa",
            "creator_id": "u1",
            "safety": {"allowed_actions": ["chat"], "moderation": "sanitize"},
        }
    )
    sent: list[dict[str, Any]] = []

    async def send(actions: list[dict[str, Any]]) -> None:
        sent.extend(actions)

    async def main() -> None:
        for language in ("es", "en"):
            companion = Companion(persona, session_id=f"s_{language}", send=send,
                                  moderator=moderator, language=language)  # fmt: skip
            try:
                await companion.act([
                    {"type": "chat", "message": "¡Joder! Llámame al 612 345 678"},
                ])  # fmt: skip
            finally:
                await companion.close()

    anyio.run(main)
    assert [a["message"] for a in sent] == [
        "¡*****! Llámame al *** *** ***",  # Spanish session: the Spanish mobile is masked
        "¡*****! Llámame al 612 345 678",  # English session: three groups read as numbers
    ]


def test_the_audit_log_redacts_a_spanish_sessions_national_personal_data() -> None:
    from encounters.moderation import AuditLogger
    from encounters.storage import MemoryStore

    store = MemoryStore()
    moderator = ContentModerator(TextFilter.default(), audit=AuditLogger(store))
    persona = PersonaCore.model_validate(
        {"id": "p_rosa", "name": "Rosa", "creator_id": "u1",
         "safety": {"allowed_actions": ["chat"], "moderation": "sanitize"}}
    )  # fmt: skip

    async def send(actions: list[dict[str, Any]]) -> None:
        pass

    async def main() -> list[Any]:
        async with Companion(persona, session_id="s_es", send=send, moderator=moderator,
                             language="es") as companion:  # fmt: skip
            await companion.act([{"type": "chat", "message": "mi DNI es 12345678Z"}])
        return await moderator.audit.replay("s_es")  # type: ignore[union-attr]

    (entry,) = anyio.run(main)
    logged = str(entry.input) + str(entry.output)
    assert "12345678Z" not in logged and "[personal data]" in logged
