"""Translating encounters and templates through the router, against the loopback OpenAI
fake: ids and placeholders kept, broken replies asked for again then refused, the
cache, and ``ae translate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from encounters.cli import app
from encounters.errors import ConfigError
from encounters.generation.openai_provider import OpenAIProvider
from encounters.generation.router import ProviderManager, RouterPolicy
from encounters.i18n.translate import TranslationError, Translator, check_reply
from encounters.models import EncounterSpec
from encounters.settings import load_settings
from encounters.sync import SyncEngine
from encounters.templates import TemplateLibrary
from tests.conftest import encounter_dict
from tests.fakes.http import FakeServer, fake_server
from tests.fakes.llm import Script, openai_chat_reply
from tests.sdk.generation.test_providers import openai_env

SPEC = EncounterSpec.model_validate(encounter_dict())
SPANISH = {
    "title": "Bandidos en el puente",
    "description": "Los bandidos ocupan el puente viejo.",
    "objectives[0].description": "Derrota a los bandidos",
    "objectives[1].description": "Encuentra la caja del peaje",
    "npcs[0].role": "barquera",
    "npcs[0].personality_traits[0]": "gruñona",
    "npcs[0].personality_traits[1]": "leal",
    "npcs[0].dialogue[0]": "¡Por fin llegas! Te estaba esperando desde hace horas.",
    "npcs[0].dialogue[1]": "El puente es suyo ahora.",
}


def sent_texts(body: dict[str, Any]) -> dict[str, str]:
    user = body["messages"][1]["content"]
    data: dict[str, str] = json.loads(user.removeprefix("<texts>").removesuffix("</texts>"))
    return data


def translator(server: FakeServer) -> Translator:
    provider = OpenAIProvider(api_key="sk-test", base_url=server.base_url + "/v1", timeout=5)
    return Translator(ProviderManager([provider], policy=RouterPolicy(max_retries=0, timeout=5)))


def run_translate(server: FakeServer, fn: Any) -> Any:
    async def main() -> Any:
        t = translator(server)
        try:
            return await fn(t), t
        finally:
            await t.router.aclose()

    return anyio.run(main)


def test_an_encounter_is_translated_with_ids_and_game_keys_kept() -> None:
    with fake_server() as server:
        fake = Script([openai_chat_reply(json.dumps(SPANISH, ensure_ascii=False))])
        server.route("POST", "/v1/chat/completions", fake)
        spec, _ = run_translate(server, lambda t: t.encounter(SPEC, "es"))
    assert sent_texts(fake.bodies[0]) == {
        "title": "Bandits at the Bridge",
        "description": "Bandits hold the old bridge.",
        "objectives[0].description": "Defeat the bandits",
        "objectives[1].description": "Find the toll box",
        "npcs[0].role": "ferrywoman",
        "npcs[0].personality_traits[0]": "gruff",
        "npcs[0].personality_traits[1]": "loyal",
        "npcs[0].dialogue[0]": "Took you long enough.",
        "npcs[0].dialogue[1]": "The bridge is theirs now.",
    }
    assert "into Spanish (language tag es)" in fake.bodies[0]["messages"][0]["content"]
    assert spec.title == "Bandidos en el puente" and spec.language == "es"
    assert spec.npcs[0].dialogue[1] == "El puente es suyo ahora."
    # what games use as keys is untouched
    assert spec.id == SPEC.id and [o.id for o in spec.objectives] == ["obj_1", "obj_2"]
    assert [o.target for o in spec.objectives] == ["bandit", "toll box"]
    assert spec.npcs[0].name == "Marta" and spec.npcs[0].id == "npc_1"
    assert spec.rewards == SPEC.rewards


def test_the_same_translation_is_served_from_the_cache() -> None:
    with fake_server() as server:
        fake = Script([openai_chat_reply(json.dumps(SPANISH, ensure_ascii=False))])
        server.route("POST", "/v1/chat/completions", fake)

        async def twice(t: Translator) -> tuple[EncounterSpec, EncounterSpec]:
            return await t.encounter(SPEC, "es"), await t.encounter(SPEC, "es")

        (first, second), t = run_translate(server, twice)
    assert first == second and fake.calls == 1 and t.calls == 1


AMBUSH = TemplateLibrary.builtin().get("combat-ambush")


def template_reply(broken: bool) -> str:
    texts = {
        "name": "Encuentro de emboscada",
        "description": "Un ataque por sorpresa de enemigos que esperan junto al camino.",
        "structure.title": "¡Emboscada en {{location}}!",
        "structure.description": "Una banda de {{enemy_type}} sale de su escondite en "
        "{{location}}.",
        "structure.objectives[0].description": "Derrota a los {{enemy_count}} {{enemy_type}}",
        "structure.objectives[1].description": "Sobrevive a la emboscada",
    }
    if broken:  # the model translated a parameter name
        texts["structure.description"] = "Una banda de {{tipo_enemigo}} sale en {{location}}."
    return json.dumps(texts, ensure_ascii=False)


def test_a_template_reply_that_breaks_a_placeholder_is_asked_for_again() -> None:
    with fake_server() as server:
        fake = Script([openai_chat_reply(template_reply(True)),
                       openai_chat_reply(template_reply(False))])  # fmt: skip
        server.route("POST", "/v1/chat/completions", fake)
        out, _ = run_translate(server, lambda t: t.template(AMBUSH, "es"))
    assert fake.calls == 2
    reask = fake.bodies[1]["messages"][-1]["content"]
    assert "structure.description: placeholders must stay exactly" in reask
    assert "{{enemy_type}}" in reask and "{{tipo_enemigo}}" in reask
    assert out.id == "combat-ambush" and out.parameters == AMBUSH.parameters
    assert out.structure["title"] == "¡Emboscada en {{location}}!"
    assert out.structure["objectives"][0]["target"] == "{{enemy_type}}"  # a game key
    assert out.structure["objectives"][0]["quantity"] == "{{enemy_count}}"
    # the translated template still renders
    rendered = TemplateLibrary([out]).render("combat-ambush", {"enemy_type": "lobos",
                                                                "enemy_count": 4})  # fmt: skip
    assert rendered.title == "¡Emboscada en the forest road!"  # defaults stay as written


def test_two_broken_replies_are_a_clear_error() -> None:
    with fake_server() as server:
        fake = Script(default=openai_chat_reply(template_reply(True)))
        server.route("POST", "/v1/chat/completions", fake)
        with pytest.raises(TranslationError, match=r"invalid twice: structure\.description"):
            run_translate(server, lambda t: t.template(AMBUSH, "es"))
    assert fake.calls == 2


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("not json", "not JSON"),
        ('["a"]', "one JSON object"),
        ('{"title": "Bandidos en el puente"}', "keys missing: description"),
        (json.dumps({**SPANISH, "extra": "x"}), "keys not asked for: extra"),
        (json.dumps({**SPANISH, "title": 5}), "title: must be a non-empty string"),
        (
            json.dumps(
                {
                    **SPANISH,
                    "npcs[0].dialogue[0]": "Took you long enough, I was waiting "
                    "for you here for hours and hours.",
                }
            ),
            "npcs[0].dialogue[0]: in English, not Spanish",
        ),
    ],
)
def test_reply_checks(reply: str, problem: str) -> None:
    source = {k: "x" for k in SPANISH}
    source["npcs[0].dialogue[0]"] = "Took you long enough."
    _, problems = check_reply(source, reply, "es")
    assert any(problem in p for p in problems), problems


def test_translation_without_an_llm_is_a_config_error() -> None:
    with (
        SyncEngine(load_settings(store="memory")) as engine,
        pytest.raises(ConfigError, match="translation needs an LLM provider"),
    ):
        engine.translate_encounter(SPEC, "es")


def test_ae_translate_writes_the_translation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "enc.json"
    source.write_text(json.dumps(encounter_dict()), encoding="utf-8")
    out = tmp_path / "enc.es.json"
    with fake_server() as server:
        reply = openai_chat_reply(json.dumps(SPANISH, ensure_ascii=False))
        server.route("POST", "/v1/chat/completions", Script([reply]))
        openai_env(monkeypatch, server.base_url)
        result = CliRunner().invoke(
            app, ["--data-dir", str(tmp_path / "d"), "translate", str(source), "--to", "es",
                  "-o", str(out)],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["title"] == "Bandidos en el puente" and data["id"] == "enc_test"
    bad = CliRunner().invoke(app, ["translate", str(source), "--to", "no!"])
    assert bad.exit_code != 0 and "--to" in bad.output
