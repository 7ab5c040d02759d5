"""Who may do what over the control API, over real HTTP: a creator owns what it
publishes and cannot read or overwrite another creator's encounters, templates,
campaigns or sessions; built-in templates are read-only for everyone; player data
(memory, difficulty, feedback) needs a game server's key, and one game server cannot
read or change another's NPC memory (tests/bridge/test_memory_scopes.py has more)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from encounters.models.encounter import EncounterSpec
from encounters.moderation import TextFilter
from encounters.validation import validate_model
from encounters_bridge.keys import create_world_key
from tests.conftest import encounter_dict
from tests.support.control import bearer, make_keys, run_daemon, template_dict


def campaign(encounter_id: str) -> dict[str, Any]:
    return {"id": "saga", "name": "The Saga", "steps": [{"encounter_id": encounter_id}]}


@pytest.mark.anyio
async def test_a_creator_cannot_touch_another_creators_content_or_sessions(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        a, b, admin = bearer(keys.creator), bearer(keys.other), bearer(keys.admin)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            enc = encounter_dict()
            assert (await http.post("/encounters", json=enc, headers=a)).status_code == 201
            taken = await http.post("/encounters", json={**enc, "title": "Mine now"}, headers=b)
            assert taken.status_code == 409
            assert "belongs to someone else" in taken.json()["error"]["message"]
            assert (await http.get(f"/encounters/{enc['id']}", headers=b)).status_code == 404
            kept = (await http.get(f"/encounters/{enc['id']}", headers=a)).json()
            assert kept["title"] == enc["title"]
            assert (await http.get(f"/encounters/{enc['id']}", headers=admin)).status_code == 200

            saga = campaign(enc["id"])
            assert (await http.post("/campaigns", json=saga, headers=a)).status_code == 201
            stolen = await http.post("/campaigns", json={**saga, "name": "Ours"}, headers=b)
            assert stolen.status_code == 409
            start = await http.post("/campaigns/saga/start", json={"player": "p"}, headers=b)
            assert start.status_code == 404
            run = await http.post("/campaigns/saga/start", json={"player": "p"}, headers=a)
            assert run.status_code == 201
            run_id = run.json()["id"]
            assert (await http.get(f"/campaign-runs/{run_id}", headers=b)).status_code == 404
            assert (await http.post(f"/campaign-runs/{run_id}/play", headers=b)).status_code == 404

            body = {"player": {"player_id": "ana"}, "encounterId": enc["id"]}
            assert (await http.post("/sessions", json=body, headers=b)).status_code == 404
            started = await http.post("/sessions", json=body, headers=a)
            assert started.status_code == 201
            sid = started.json()["id"]
            assert (await http.get(f"/sessions/{sid}", headers=b)).status_code == 404
            done = await http.post(f"/sessions/{sid}/complete", headers=b)
            assert done.status_code == 404
            objective = await http.post(f"/sessions/{sid}/objectives/obj_1",
                                        json={"completed": True}, headers=b)  # fmt: skip
            assert objective.status_code == 404
            session = (await http.get(f"/sessions/{sid}", headers=a)).json()
            assert session["status"] == "active"  # untouched by b

            template = template_dict()
            assert (await http.post("/templates", json=template, headers=a)).status_code == 201
            again = await http.post("/templates", json=template, headers=b)
            assert again.status_code == 409
            b_sees = {t["id"] for t in (await http.get("/templates", headers=b)).json()}
            a_sees = {t["id"] for t in (await http.get("/templates", headers=a)).json()}
            assert template["id"] in a_sees and template["id"] not in b_sees
            gen = await http.post(f"/templates/{template['id']}/generate", json={}, headers=b)
            assert gen.status_code == 404


@pytest.mark.anyio
async def test_built_in_templates_are_read_only_for_everyone(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            before = (await http.get("/templates", headers=bearer(keys.creator))).json()
            builtin = before[0]
            for key in (keys.creator, keys.admin):
                over = {**template_dict(), "id": builtin["id"], "name": "Hijacked"}
                r = await http.post("/templates", json=over, headers=bearer(key))
                assert r.status_code == 409
                assert "built in and read-only" in r.json()["error"]["message"]
            after = (await http.get("/templates", headers=bearer(keys.other))).json()
            assert after == before


@pytest.mark.anyio
async def test_player_data_is_the_game_servers_and_each_servers_memory_its_own(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        _, one = await create_world_key(dm.edge.store, "server one", "web", ["one"])
        _, two = await create_world_key(dm.edge.store, "server two", "web", ["two"])
        memory = {"dialogue": ["Fine blade!"], "outcome": "positive"}
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            wrote = await http.post("/memory/smith/ana", json=memory, headers=bearer(one))
            assert wrote.status_code == 201
            theirs = (await http.get("/memory/smith/ana", headers=bearer(two))).json()
            assert theirs["memories"] == []  # server two has memories of its own
            forged = await http.post("/memory/smith/ana", json=memory, headers=bearer(two))
            assert forged.status_code == 201
            mine = (await http.get("/memory/smith/ana", headers=bearer(one))).json()
            assert mine["profile"]["relationship"] == 10  # server two's did not count
            for creator in (keys.creator, keys.other):
                r = await http.get("/memory/smith/ana", headers=bearer(creator))
                assert r.status_code == 403
                assert "game server's key" in r.json()["error"]["message"]
            assert (await http.get("/difficulty/ana", headers=bearer(one))).status_code == 200
            # a game server's key opens no creator or admin route
            for method, path in (("GET", "/personas"), ("GET", "/webhooks"),
                                 ("POST", "/personas/submit")):  # fmt: skip
                r = await http.request(method, path, json={}, headers=bearer(one))
                assert r.status_code == 403


@pytest.mark.anyio
async def test_content_made_outside_the_api_is_replaced_only_by_an_admin(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        made = validate_model(EncounterSpec, encounter_dict(id="enc_engine"), "encounter")
        await dm.store.save_encounter(made)  # as the engine stores what it generates
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            over = encounter_dict(id="enc_engine", title="Taken over")
            r = await http.post("/encounters", json=over, headers=bearer(keys.creator))
            assert r.status_code == 409
            assert (await dm.store.get_encounter("enc_engine")).title == made.title  # type: ignore[union-attr]
            r = await http.post("/encounters", json=over, headers=bearer(keys.admin))
            assert r.status_code == 201
