"""What the control API refuses before anything is stored, over real HTTP: persona
fields the server keeps, control characters, ANSI escapes and bidi controls in any
text, text that fails moderation in any persona, encounter, template or campaign field
or template parameter, spawn locations outside the world's bounds, and periods that are
not finite numbers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from encounters.moderation import TextFilter
from encounters.storage.postgres import PostgresStore
from tests.conftest import encounter_dict
from tests.support.control import (
    SERVER,
    Game,
    approved_persona,
    bearer,
    connected,
    errors_of,
    make_keys,
    persona_body,
    run_daemon,
    template_dict,
)
from tests.support.services import POSTGRES_URL


@pytest.mark.anyio
async def test_persona_submit_refuses_server_fields_unsafe_characters_and_bad_text(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        creator = bearer(keys.creator)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:

            async def submit(**over: object) -> httpx.Response:
                return await http.post("/personas/submit", headers=creator,
                                       json=persona_body(**over))  # fmt: skip

            r = await submit(reputation=100, deploymentHistory=[{"sessionId": "s"}],
                             createdAt="2020-01-01T00:00Z")  # fmt: skip
            assert r.status_code == 422
            assert sorted(errors_of(r)) == [
                "createdAt: is kept by the server; leave it out",
                "deploymentHistory: is kept by the server; leave it out",
                "reputation: is kept by the server; leave it out",
            ]
            fresh = await submit(reputation=50.0, deploymentHistory=[])  # the defaults: no effect
            assert fresh.status_code == 201
            r = await submit(name="Guide\x1b[2J", description="nul\x00here",
                             goals=["guide \u202eevil"])  # fmt: skip
            assert r.status_code == 422
            assert [e.split(":")[0] for e in errors_of(r)] == ["name", "description", "goals[0]"]
            assert "U+001B" in errors_of(r)[0] and "U+202E" in errors_of(r)[2]
            assert [p.persona.id for p in await dm.store.list_personas()] == [fresh.json()["id"]]

            r = await submit(embodiment={"avatar": "fuck_face", "emotes": ["wave"]},
                             voice={"id": "shit"}, memoryRef="cunt")  # fmt: skip
            assert r.status_code == 201
            assert r.json()["status"] == "rejected"
            fields = sorted(reason.split(":")[0] for reason in r.json()["reasons"])
            assert fields == ["embodiment.avatar", "memory_ref", "voice.id"]
            r = await submit(embodiment={"avatar": "knight", "emotes": ["wave", "fuck"]})
            assert r.json()["reasons"][0].startswith("embodiment.emotes[1]:")


@pytest.mark.anyio
async def test_published_encounters_and_templates_are_checked_in_every_field(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        creator = bearer(keys.creator)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            enc = encounter_dict()
            enc["objectives"][1]["description"] = "Find the fucking toll box"
            r = await http.post("/encounters", json=enc, headers=creator)
            assert r.status_code == 422
            assert errors_of(r)[0].startswith("objectives[1].description: refused by moderation")
            enc = encounter_dict(title="Bandits\x1b]0;pwned\x07")
            r = await http.post("/encounters", json=enc, headers=creator)
            assert r.status_code == 422 and errors_of(r)[0].startswith("title: control character")
            assert (await http.get("/encounters/enc_test", headers=creator)).status_code == 404

            r = await http.post("/templates", json={"id": "t", "parameters": {}}, headers=creator)
            assert r.status_code == 422 and r.json()["error"]["message"] == "invalid template"
            assert errors_of(r)[:2] == ["name: required", "category: required"]
            template = template_dict()
            template["description"] = "Say \u2066hi\u2069"
            r = await http.post("/templates", json=template, headers=creator)
            assert r.status_code == 422 and "U+2066" in errors_of(r)[0]
            ok = await http.post("/encounters", json=encounter_dict(), headers=creator)
            assert ok.status_code == 201  # bandits to defeat are game talk


@pytest.mark.anyio
async def test_template_parameters_and_campaigns_are_moderated_before_anything_is_stored(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        creator = bearer(keys.creator)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            template = template_dict()
            assert (
                await http.post("/templates", json=template, headers=creator)
            ).status_code == 201
            generate = f"/templates/{template['id']}/generate"
            # the values become the stored encounter's title and text: a game server
            # (or a creator) could otherwise publish through a template what POST
            # /encounters refuses
            for key in (keys.creator, keys.world):
                r = await http.post(generate, json={"parameters": {"who": "that fucking cunt"}},
                                    headers=bearer(key))  # fmt: skip
                assert r.status_code == 422, r.text
                assert errors_of(r)[0].startswith("parameters.who: refused by moderation")
            r = await http.post(generate, json={"parameters": ["who"]}, headers=creator)
            assert r.status_code == 422
            assert errors_of(r) == ["parameters: must be an object of parameter names and values"]
            assert await dm.store.list_encounters() == []
            r = await http.post(generate, json={"parameters": {"who": "Mara"}}, headers=creator)
            assert r.status_code == 201 and r.json()["title"] == "A favour for Mara"

            saga = {"id": "saga", "name": "The fucking saga",
                    "steps": [{"encounter_id": r.json()["id"]}]}  # fmt: skip
            refused = await http.post("/campaigns", json=saga, headers=creator)
            assert refused.status_code == 422
            assert errors_of(refused)[0].startswith("name: refused by moderation")
            assert (await http.post("/campaigns/saga/start", json={"player": "p"},
                                    headers=creator)).status_code == 404  # fmt: skip
            saga["name"] = "The Saga"
            assert (await http.post("/campaigns", json=saga, headers=creator)).status_code == 201


@pytest.mark.anyio
async def test_a_nul_character_in_an_id_is_the_callers_mistake_on_postgresql(
    tmp_path: Path, text_filter: TextFilter, pg_schema: str
) -> None:
    # PostgreSQL keeps no U+0000 in text: the daemon answered 503 "try again" (and
    # logged an error) for a value that will never be stored
    store = PostgresStore(POSTGRES_URL, schema=pg_schema, pool_size=2)
    async with run_daemon(tmp_path / "unused.db", text_filter, store=store) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            for key, method, path, body in (
                (keys.creator, "GET", "/personas/persona%00x", None),
                (keys.creator, "GET", "/session/sess%00x", None),
                (keys.creator, "GET", "/sessions/sess%00x", None),
                (keys.world, "POST", "/sessions", {"player": {"player_id": "ana"},
                                                   "encounterId": "enc\u0000x"}),
            ):  # fmt: skip
                r = await http.request(method, path, json=body, headers=bearer(key))
                assert r.status_code == 422, (path, r.text)
                assert "U+0000" in r.json()["error"]["message"]
            assert (
                await http.get("/personas/persona_x", headers=bearer(keys.creator))
            ).status_code == 404


@pytest.mark.anyio
async def test_a_body_that_cannot_be_read_says_why(tmp_path: Path, text_filter: TextFilter) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        json_body = {**bearer(keys.creator), "content-type": "application/json"}
        async with httpx.AsyncClient(base_url=dm.http_url, headers=json_body) as http:
            r = await http.post("/encounters", content=b'{"id": "\xff"}')
            assert r.status_code == 400
            assert r.json()["error"]["message"] == (
                "the request body is not UTF-8 (byte 0xff at offset 8); send JSON as UTF-8 text"
            )
            r = await http.post("/encounters", content=b"[" * 100_000 + b"]" * 100_000)
            assert r.status_code == 400 and "nests objects and lists too deeply" in r.text
            r = await http.post("/encounters", content=b"{'id': 1}")
            assert r.status_code == 422
            assert errors_of(r) == [
                "body: not JSON at character 1: Expecting property name enclosed in double quotes"
            ]


@pytest.mark.anyio
async def test_spawn_locations_stay_within_the_worlds_bounds(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        game = Game.create(dm.ws_url, keys.world, "json")
        async with connected(game), httpx.AsyncClient(base_url=dm.http_url) as http:
            pid, token = await approved_persona(http, keys)
            for location, field in (({"x": 0, "y": 1e308, "z": 0}, "spawnLocation.y"),
                                    ({"x": -1e9}, "spawnLocation.x")):  # fmt: skip
                r = await http.post("/spawn", headers=bearer(keys.creator), json={
                    "personaId": pid, "deploymentToken": token, "world": "web",
                    "serverId": SERVER, "spawnLocation": location,
                })  # fmt: skip
                assert r.status_code == 422
                assert errors_of(r)[0].startswith(f"{field}: must be between")
            assert game.of_type("spawn") == []
            r = await http.post("/spawn", headers=bearer(keys.creator), json={
                "personaId": pid, "deploymentToken": token, "world": "web",
                "serverId": SERVER, "spawnLocation": {"x": 10, "y": 64, "z": -10},
            })  # fmt: skip
            assert r.status_code == 201  # the refused spawns did not use the token up


@pytest.mark.anyio
async def test_analytics_periods_must_be_finite(tmp_path: Path, text_filter: TextFilter) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            for days in ("nan", "inf", "-inf", "1e10", "0", "-3"):
                for path in ("/analytics/global", "/metrics/platform"):
                    r = await http.get(path, params={"days": days}, headers=bearer(keys.admin))
                    assert r.status_code == 422, (path, days, r.text)
                    assert errors_of(r)[0].startswith("query.days:")
            r = await http.get("/analytics/global", params={"days": "1.5"},
                               headers=bearer(keys.admin))  # fmt: skip
            assert r.status_code == 200
