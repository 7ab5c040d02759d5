"""``POST /translate`` on a daemon whose engine talks to the loopback OpenAI fake, through
the SDK client: an encounter and a template translated with ids and placeholders kept,
a model that keeps breaking placeholders (502), who may call it, and a daemon with no
LLM (503)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from encounters.client import ControlError, EncountersClient
from encounters.moderation import TextFilter
from encounters.settings import load_settings
from encounters.templates import TemplateLibrary
from tests.conftest import encounter_dict
from tests.fakes.http import fake_server
from tests.fakes.llm import Script, openai_chat_reply
from tests.sdk.generation.test_providers import openai_env
from tests.support.control import make_keys, run_daemon


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


FRENCH = {
    "title": "Des bandits au pont",
    "description": "Des bandits tiennent le vieux pont et ne laissent passer personne.",
    "objectives[0].description": "Vaincre les bandits",
    "objectives[1].description": "Trouver la caisse du péage",
    "npcs[0].role": "passeuse",
    "npcs[0].personality_traits[0]": "bourrue",
    "npcs[0].personality_traits[1]": "loyale",
    "npcs[0].dialogue[0]": "Vous en avez mis du temps !",
    "npcs[0].dialogue[1]": "Le pont est à eux maintenant.",
}


def template_texts(location: str = "{{location}}") -> str:
    return json.dumps(
        {
            "name": "Rencontre en embuscade",
            "description": "Une attaque surprise d'ennemis qui attendent le long de la route.",
            "structure.title": f"Embuscade sur {location} !",
            "structure.description": "Une bande de {{enemy_type}} surgit sur {{location}}.",
            "structure.objectives[0].description": "Vaincre les {{enemy_count}} {{enemy_type}}",
            "structure.objectives[1].description": "Survivre à l'embuscade",
        },
        ensure_ascii=False,
    )


@pytest.mark.anyio
async def test_translate_an_encounter_and_a_template(
    tmp_path: Path, text_filter: TextFilter, monkeypatch: pytest.MonkeyPatch
) -> None:
    ambush = TemplateLibrary.builtin().get("combat-ambush").model_dump(mode="json")
    with fake_server() as server:
        fake = Script([
            openai_chat_reply(json.dumps(FRENCH, ensure_ascii=False)),
            openai_chat_reply(template_texts()),
        ])  # fmt: skip
        server.route("POST", "/v1/chat/completions", fake)
        openai_env(monkeypatch, server.base_url)
        async with run_daemon(tmp_path / "d.db", text_filter, settings=load_settings()) as dm:
            keys = await make_keys(dm.edge.store)
            async with EncountersClient(dm.http_url, keys.creator) as creator:
                done = await creator.translate("fr", encounter=encounter_dict())
                assert done["language"] == "fr"
                encounter = done["encounter"]
                assert encounter["title"] == "Des bandits au pont"
                assert encounter["id"] == "enc_test" and encounter["language"] == "fr"
                assert encounter["objectives"][0]["target"] == "bandit"
                again = await creator.translate("fr", encounter=encounter_dict())
                assert again == done and fake.calls == 1  # from the cache

                out = await creator.translate("fr-CA", template=ambush)
                template = out["template"]
                assert template["id"] == "combat-ambush"
                assert template["structure"]["title"] == "Embuscade sur {{location}} !"
                assert template["parameters"] == ambush["parameters"]

            async with EncountersClient(dm.http_url, keys.world) as world:
                refused = await _refused(world.translate("fr", encounter=encounter_dict()))
                assert refused.status in (401, 403)
            async with EncountersClient(dm.http_url, keys.admin) as admin:
                both = await _refused(admin.translate("fr", encounter=encounter_dict(),
                                                      template=ambush))  # fmt: skip
                assert both.status == 422 and "exactly one" in str(both)
                fake.push(
                    openai_chat_reply(template_texts("{{lieu}}")),
                    openai_chat_reply(template_texts("{{lieu}}")),
                )
                broken = await _refused(admin.translate("de", template=ambush))
                assert broken.status == 502
                assert "placeholders must stay exactly" in str(broken)


@pytest.mark.anyio
async def test_a_daemon_without_an_llm_says_translation_needs_one(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with EncountersClient(dm.http_url, keys.admin) as admin:
            error = await _refused(admin.translate("es", encounter=encounter_dict()))
    assert error.status == 503 and "needs an LLM provider" in str(error)


async def _refused(call: object) -> ControlError:
    with pytest.raises(ControlError) as caught:
        await call  # type: ignore[misc]
    return caught.value
