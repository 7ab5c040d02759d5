"""A session's language end to end: detection, LLM generation and companion replies
(re-asked once when in the wrong language, against the loopback OpenAI fake), and the
offline brain's lines."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from encounters.companion import Companion, CompanionHost, OfflineBrain
from encounters.companion.lines import LINES
from encounters.generation import GenerationRequest
from encounters.generation.openai_provider import OpenAIProvider
from encounters.generation.router import ProviderManager, RouterPolicy
from encounters.i18n import tags
from encounters.i18n.detect import detect, mismatch
from encounters.models import Category, PlayerContext
from encounters.models.persona import PersonaCore
from encounters.moderation import ContentModerator, TextFilter
from tests.conftest import encounter_dict
from tests.fakes.http import FakeServer, fake_server
from tests.fakes.llm import Script, openai_chat_reply

SENTENCES = {
    "en": "Hello there, I will follow you to the old mill before the sun goes down.",
    "es": "¡Hola! Te sigo hasta el molino viejo antes de que se ponga el sol.",
    "de": "Hallo, ich folge dir zur alten Mühle, bevor die Sonne untergeht.",
    "fr": "Bonjour, je vous suis jusqu'au vieux moulin avant le coucher du soleil.",
    "pt-BR": "Olá! Eu vou com você até o moinho velho antes do pôr do sol.",
    "ru": "Привет! Я пойду за тобой к старой мельнице до заката.",
}


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(fn)


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", list(SENTENCES))
def test_each_language_is_detected(language: str) -> None:
    assert detect(SENTENCES[language]) == language
    assert mismatch(SENTENCES[language], language) is None
    other = "en" if language != "en" else "es"
    assert mismatch(SENTENCES[language], other) == language


@pytest.mark.parametrize("text", ["OK!", "Mira Soto", "42", "", "¡Ja!"])
def test_short_or_wordless_text_is_unsure_and_never_a_mismatch(text: str) -> None:
    assert detect(text) is None
    assert mismatch(text, "es") is None


def test_regional_tags_match_and_unknown_languages_are_not_checked() -> None:
    assert mismatch(SENTENCES["es"], "es-419") is None
    assert mismatch(SENTENCES["pt-BR"], "pt") is None
    assert mismatch(SENTENCES["en"], "ja") is None  # nothing to compare with


# --- LLM generation ----------------------------------------------------------------------

SPANISH = {
    "title": "Bandidos en el puente",
    "description": "Los bandidos ocupan el puente viejo y no dejan pasar a nadie.",
    "objectives": ["Derrota a los bandidos", "Encuentra la caja del peaje"],
    "dialogue": ["¡Por fin llegas!", "El puente es suyo ahora."],
}


def reply_body(spanish: bool) -> str:
    body = encounter_dict()
    for name in ("id", "template_id", "generator"):
        body.pop(name, None)
    if spanish:
        body["title"], body["description"] = SPANISH["title"], SPANISH["description"]
        for objective, text in zip(body["objectives"], SPANISH["objectives"], strict=True):
            objective["description"] = text
        body["npcs"][0]["dialogue"] = SPANISH["dialogue"]
    return json.dumps(body)


def openai_router(server: FakeServer, **policy: Any) -> ProviderManager:
    provider = OpenAIProvider(api_key="sk-test", base_url=server.base_url + "/v1", timeout=5)
    return ProviderManager([provider], policy=RouterPolicy(max_retries=0, timeout=5, **policy))


def prompt_of(body: dict[str, Any]) -> str:
    return "\n".join(str(m["content"]) for m in body["messages"])


REQUEST = GenerationRequest(
    category=Category.COMBAT, player=PlayerContext(player_id="p1", level=3), language="es-419"
)


def test_an_english_encounter_for_a_spanish_request_is_asked_for_again() -> None:
    with fake_server() as server:
        fake = Script([openai_chat_reply(reply_body(False)), openai_chat_reply(reply_body(True))])
        server.route("POST", "/v1/chat/completions", fake)

        async def main() -> Any:
            router = openai_router(server)
            try:
                return await router.generate_encounter(REQUEST), list(router.recent)
            finally:
                await router.aclose()

        spec, recent = run(main)
    assert spec.title == SPANISH["title"] and spec.language == "es-419"
    assert spec.generator.startswith("llm:openai")
    assert fake.calls == 2
    assert "in Spanish, and set language to 'es-419'" in prompt_of(fake.bodies[0])
    reask = fake.bodies[1]["messages"][-1]["content"]
    assert "in English, not Spanish" in reask and "written in Spanish" in reask
    assert [r.ok for r in recent] == [False, True]
    assert recent[0].error == "wrong language: written in en, not es-419"


def test_a_second_wrong_language_answer_falls_back_to_the_offline_generator_in_spanish() -> None:
    with fake_server() as server:
        fake = Script(default=openai_chat_reply(reply_body(False)))
        server.route("POST", "/v1/chat/completions", fake)

        async def main() -> Any:
            router = openai_router(server)
            try:
                return await router.generate_encounter(REQUEST)
            finally:
                await router.aclose()

        spec = run(main)
    assert fake.calls == 2  # asked once more, then given up
    assert spec.generator == "procedural" and spec.language == "es"
    assert detect(f"{spec.title}. {spec.description}") == "es"


def test_the_prompt_names_brazilian_portuguese() -> None:
    from encounters.generation.prompt import build_messages

    request = REQUEST.model_copy(update={"language": "pt-BR"})
    text = build_messages(request)[1].content
    assert "in Brazilian Portuguese, and set language to 'pt-BR'" in text


# --- companion replies -------------------------------------------------------------------


def persona() -> PersonaCore:
    return PersonaCore.model_validate(
        {
            "id": "p_lena",
            "name": "Lena",
            "creator_id": "u1",
            "traits": {"tone": "curious", "ethics": "helper", "risk": "low"},
            "safety": {"allowed_actions": ["chat", "follow", "emote", "move_to", "stop"]},
            "embodiment": {"emotes": ["wave"]},
        }
    )


class Sent:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    async def __call__(self, actions: list[dict[str, Any]]) -> None:
        self.batches.append(actions)

    def chats(self) -> list[str]:
        return [a["message"] for batch in self.batches for a in batch if a["type"] == "chat"]


def chat_event(message: str) -> dict[str, Any]:
    return {"type": "player_chat", "message": message, "player": {"id": "7", "name": "Ana"}}


def moderator() -> ContentModerator:
    return ContentModerator(TextFilter.default())


def test_companion_english_reply_is_reasked_in_spanish() -> None:
    with fake_server() as server:
        fake = Script(
            [
                openai_chat_reply("Sure, I will follow you to the old mill right now."),
                openai_chat_reply("¡Claro! Te sigo hasta el molino viejo ahora mismo."),
            ]
        )
        server.route("POST", "/v1/chat/completions", fake)
        sent = Sent()

        async def main() -> None:
            router = openai_router(server)
            companion = Companion(persona(), session_id="s1", send=sent, moderator=moderator(),
                                  router=router, language="es")  # fmt: skip
            try:
                await companion.handle(chat_event("¿Me acompañas al molino?"))
            finally:
                await companion.close()
                await router.aclose()

        run(main)
    assert sent.chats() == ["¡Claro! Te sigo hasta el molino viejo ahora mismo."]
    system = fake.bodies[0]["messages"][0]["content"]
    assert "Speak Spanish (language tag es)" in system
    assert "Answer again, in Spanish only" in fake.bodies[1]["messages"][-1]["content"]


def test_companion_answering_in_english_twice_gets_the_offline_spanish_line() -> None:
    with fake_server() as server:
        fake = Script(default=openai_chat_reply("Sure, I will follow you to the old mill now."))
        server.route("POST", "/v1/chat/completions", fake)
        sent = Sent()

        async def main() -> None:
            router = openai_router(server)
            companion = Companion(persona(), session_id="s1", send=sent, moderator=moderator(),
                                  router=router, language="es")  # fmt: skip
            try:
                await companion.handle(chat_event("hola"))
            finally:
                await companion.close()
                await router.aclose()

        run(main)
    assert fake.calls == 2
    assert sent.chats() == ["¡Hola, Ana! ¿Qué te trae por aquí?"]


def test_an_english_session_is_not_told_a_language_and_not_reasked() -> None:
    with fake_server() as server:
        fake = Script([openai_chat_reply("Claro, vamos.")])
        server.route("POST", "/v1/chat/completions", fake)
        sent = Sent()

        async def main() -> None:
            router = openai_router(server)
            companion = Companion(persona(), session_id="s1", send=sent, moderator=moderator(),
                                  router=router)  # fmt: skip
            try:
                await companion.handle(chat_event("hi"))
            finally:
                await companion.close()
                await router.aclose()

        run(main)
    assert fake.calls == 1 and sent.chats() == ["Claro, vamos."]  # too short to judge
    assert "Speak" not in fake.bodies[0]["messages"][0]["content"]


# --- the offline brain -------------------------------------------------------------------


@pytest.mark.parametrize("language", ["es", "de", "fr", "pt-BR", "ru"])
def test_offline_lines_are_written_in_their_language(language: str) -> None:
    table = LINES[language]
    lines = [*table.greetings.values(), *(t for a in table.acks.values() for t in a.values())]
    lines += [line for tone in table.idle.values() for line in tone]
    for line in lines:
        assert mismatch(line.format(name="Ana"), language) is None, line
    assert detect(" ".join(lines).format(name="Ana")) == language


@pytest.mark.parametrize(
    ("language", "follow", "stop", "hello"),
    [
        ("es", "¡sígueme!", "espera ahí", "hola"),
        ("de", "folge mir bitte", "warte kurz", "hallo"),
        ("fr", "suis-moi", "attends", "salut"),
        ("pt-BR", "me siga", "espere aí", "oi"),
        ("ru", "иди за мной", "стой", "привет"),
    ],
)
def test_offline_brain_understands_and_answers_in_the_language(
    language: str, follow: str, stop: str, hello: str
) -> None:
    brain = OfflineBrain(seed=1, language=language)
    table = LINES[language]
    p = persona()
    actions = brain.decide_now(chat_event(follow), p)
    ack = table.acks["follow"]["curious"].format(name="Ana")
    assert actions == [{"type": "chat", "message": ack}, {"type": "follow", "target": "7"}]
    assert brain.decide_now(chat_event(stop), p)[1] == {"type": "stop"}
    greeting = brain.decide_now(chat_event(hello), p)[0]["message"]
    assert greeting == table.greetings["curious"].format(name="Ana")
    # English requests still work in any session
    assert brain.decide_now(chat_event("follow me"), p)[1]["type"] == "follow"
    idle = brain.decide_now(chat_event("..."), p)[0]["message"]
    assert idle in table.idle["curious"]


def test_an_unknown_language_gets_the_english_offline_lines() -> None:
    brain = OfflineBrain(seed=1, language="ja")
    assert brain.lines is LINES["en"]
    with pytest.raises(ValueError, match="not a language tag"):
        OfflineBrain(language="not a tag")


def test_companion_host_gives_a_spanish_session_spanish_lines() -> None:
    sent = Sent()

    async def main() -> None:
        host = CompanionHost(moderator(), seed=3)
        try:
            join = {"type": "player_join", "player": {"id": "7", "name": "Ana"}}
            await host.handle("s_es", persona(), join, sent, None, "es")
            await host.handle("s_en", persona(), join, sent)
        finally:
            await host.aclose()

    run(main)
    assert sent.chats() == ["¡Hola, Ana! ¿Qué te trae por aquí?",
                            "Hello, Ana! What brings you here?"]  # fmt: skip
    assert tags.resolve("es-419") == "es"
