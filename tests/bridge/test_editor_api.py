"""The studio's editor API (/editor) and the studio's serving at /studio, on a daemon
as ``ae bridge serve`` builds it: what a content creator and an operator get back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from encounters.moderation import TextFilter
from encounters.templates import TemplateLibrary
from encounters.templates.render import sample_parameters
from encounters_bridge.studio import mount_studio
from tests.conftest import encounter_dict
from tests.support.control import make_keys, run_daemon, template_dict


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.anyio
async def test_validate_publish_and_templates(tmp_path: Path, text_filter: TextFilter) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.creator)) as api:
            assert (
                await httpx.AsyncClient(base_url=dm.http_url).post(
                    "/editor/validate", json={"encounter": {}}
                )
            ).status_code == 401

            bad = encounter_dict()
            bad["objectives"][0]["description"] = ""
            bad["objectives"][0]["quantity"] = 0
            answer = (await api.post("/editor/validate", json={"encounter": bad})).json()
            assert answer["valid"] is False
            assert {f"{e['path']}: {e['message']}" for e in answer["errors"]} == {
                "objectives[0].description: must be at least 1 character(s)",
                "objectives[0].quantity: must be >= 1",
            }
            refused = await api.post("/editor/publish", json={"encounter": bad})
            assert refused.status_code == 422
            assert "objectives[0].quantity: must be >= 1" in refused.json()["error"]["errors"]

            good = encounter_dict(id="enc_studio_1")
            answer = (await api.post("/editor/validate", json={"encounter": good})).json()
            assert answer == {"valid": True, "errors": []}
            published = await api.post("/editor/publish", json={"encounter": good})
            assert published.status_code == 201
            assert published.json()["id"] == "enc_studio_1"
            stored = (await api.get("/encounters/enc_studio_1")).json()
            assert stored["title"] == good["title"]

            templates = (await api.get("/editor/templates")).json()
            assert templates and {"id", "name", "parameters"} <= set(templates[0])
            tid = templates[0]["id"]
            params = sample_parameters(TemplateLibrary.builtin().get(tid))
            rendered = await api.post(
                f"/editor/templates/{tid}/render", json={"parameters": params}
            )
            assert rendered.status_code == 200
            assert rendered.json()["template_id"] == templates[0]["id"]
            # rendering opens it in the editor; nothing is stored
            assert (await api.get(f"/encounters/{rendered.json()['id']}")).status_code == 404


@pytest.mark.anyio
async def test_preview_plays_without_touching_real_players_data(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        spec = encounter_dict()
        async with (
            httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.creator)) as api,
            httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.other)) as other,
        ):

            async def step(body: dict[str, Any]) -> dict[str, Any]:
                answer = await api.post("/editor/preview", json=body)
                assert answer.status_code == 200, answer.text
                result: dict[str, Any] = answer.json()
                return result

            state = await step({"action": "start", "encounter": spec, "player": "alice"})
            pid = state["previewId"]
            assert (state["status"], state["canComplete"]) == ("active", False)
            npc = spec["npcs"][0]
            state = await step({"action": "talk", "previewId": pid, "npcId": npc["id"]})
            assert state["log"][-1] == f"{npc['name']}: {npc['dialogue'][0]}"
            state = await step(
                {
                    "action": "talk",
                    "previewId": pid,
                    "npcId": npc["id"],
                    "line": "Who goes there?",
                    "reply": "A friend.",
                }
            )
            assert state["log"][-1] == f"{npc['name']}: Who goes there? / you: A friend."
            talks = state["session"]["npc_interactions"]
            assert talks[-1]["player_choices"] == ["A friend."]
            state = await step(
                {
                    "action": "choice",
                    "previewId": pid,
                    "description": "Spare the bandit?",
                    "option": "yes",
                }
            )
            for objective in spec["objectives"]:
                state = await step(
                    {
                        "action": "objective",
                        "previewId": pid,
                        "objectiveId": objective["id"],
                        "completed": True,
                    }
                )
            assert state["canComplete"] is True
            state = await step({"action": "finish", "previewId": pid})
            assert state["status"] == "completed"
            assert state["session"]["choices_made"][0]["selected_option"] == "yes"

            # finishing twice is refused like a real session; another key cannot play it
            again = await api.post("/editor/preview", json={"action": "finish", "previewId": pid})
            assert again.status_code == 409
            stolen = await other.post(
                "/editor/preview", json={"action": "finish", "previewId": pid}
            )
            assert stolen.status_code == 404

            # nothing reached the real store: no session, no analytics, no NPC memory
            assert (await api.get(f"/sessions/{pid}")).status_code == 404
            assert await dm.store.list_sessions() == []
            ops = {"Authorization": f"Bearer {keys.admin}"}  # player data: admin or game key
            stats = (await api.get("/analytics/global", headers=ops)).json()
            assert stats["total_sessions"] == 0
            memory = (await api.get(f"/memory/{npc['id']}/alice", headers=ops)).json()
            assert memory["memories"] == []

            invalid = await api.post(
                "/editor/preview", json={"action": "start", "encounter": {"title": "x"}}
            )
            assert invalid.status_code == 422
            assert "objectives: required" in invalid.json()["error"]["errors"]


@pytest.mark.anyio
async def test_prerequisites_are_validated_with_their_path_and_lock_objectives_in_preview(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.creator)) as api:
            bad = encounter_dict()
            bad["objectives"][1]["requires"] = ["obj_9"]
            answer = (await api.post("/editor/validate", json={"encounter": bad})).json()
            assert answer["errors"] == [
                {
                    "path": "objectives[1].requires[0]",
                    "message": "no objective 'obj_9' in this encounter",
                }
            ]

            spec = encounter_dict()
            spec["objectives"][1]["requires"] = ["obj_1"]
            start = {"action": "start", "encounter": spec}
            state = (await api.post("/editor/preview", json=start)).json()
            pid = state["previewId"]
            assert [o["waitingFor"] for o in state["objectives"]] == [[], ["obj_1"]]
            step = {"action": "objective", "previewId": pid, "completed": True}
            locked = await api.post("/editor/preview", json={**step, "objectiveId": "obj_2"})
            assert locked.status_code == 409
            assert "needs obj_1 completed first" in locked.json()["error"]["message"]
            await api.post("/editor/preview", json={**step, "objectiveId": "obj_1"})
            done = await api.post("/editor/preview", json={**step, "objectiveId": "obj_2"})
            state = done.json()
            assert [(o["completed"], o["waitingFor"]) for o in state["objectives"]] == [
                (True, []),
                (True, []),
            ]


@pytest.mark.anyio
async def test_drafts_are_kept_per_key_and_the_dashboard_is_for_admins(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with (
            httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.creator)) as api,
            httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.other)) as other,
            httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.admin)) as admin,
        ):
            draft = {
                "id": "enc_wip",
                "title": "Work in progress",
                "encounter": {"title": "half done"},
                "layout": {"npc:0": {"x": 1, "y": 2}},
            }
            saved = await api.put("/editor/drafts/enc_wip", json=draft)
            assert saved.status_code == 200 and saved.json()["updatedAt"]
            listed = (await api.get("/editor/drafts")).json()
            assert [(d["id"], d["encounter"], d["layout"]) for d in listed] == [
                ("enc_wip", {"title": "half done"}, {"npc:0": {"x": 1.0, "y": 2.0}})
            ]
            assert (await other.get("/editor/drafts")).json() == []
            assert (await other.get("/editor/drafts/enc_wip")).status_code == 404
            mismatch = await api.put("/editor/drafts/other", json=draft)
            assert mismatch.status_code == 422

            # only the key that wrote a draft deletes it; deleting twice is a 404
            assert (await other.delete("/editor/drafts/enc_wip")).status_code == 404
            assert (await admin.delete("/editor/drafts/enc_wip")).status_code == 404
            assert [d["id"] for d in (await api.get("/editor/drafts")).json()] == ["enc_wip"]
            assert (await api.delete("/editor/drafts/enc_wip")).status_code == 204
            assert (await api.get("/editor/drafts")).json() == []
            assert (await api.get("/editor/drafts/enc_wip")).status_code == 404
            gone = await api.delete("/editor/drafts/enc_wip")
            assert gone.status_code == 404 and "no draft 'enc_wip'" in gone.text
            assert (await api.put("/editor/drafts/enc_wip", json=draft)).status_code == 200

            assert (await api.get("/editor/dashboard")).status_code == 403
            board = await admin.get("/editor/dashboard", params={"days": 30})
            assert board.status_code == 200
            data = board.json()
            assert len(data["daily"]) == 31 and data["global_stats"]["total_sessions"] == 0
            assert (await admin.get("/editor/dashboard", params={"days": 0})).status_code == 422

            schema = (await api.get("/openapi.json")).json()
            assert {
                "/editor/validate",
                "/editor/preview",
                "/editor/publish",
                "/editor/templates",
                "/editor/drafts",
            } <= set(schema["paths"])
            validate = schema["paths"]["/editor/validate"]["post"]
            ok = validate["responses"]["200"]["content"]["application/json"]["schema"]
            assert ok == {"$ref": "#/components/schemas/ValidationResult"}
            assert not any(p.startswith("/studio") for p in schema["paths"])


@pytest.mark.anyio
async def test_another_creators_template_stays_out_of_the_gallery_and_cannot_be_rendered(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with (
            httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.creator)) as alice,
            httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.other)) as mallory,
            httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.admin)) as admin,
        ):
            mine = template_dict()
            assert (await alice.post("/templates", json=mine)).status_code == 201
            builtin = TemplateLibrary.builtin().list()[0]

            async def gallery(api: httpx.AsyncClient) -> set[str]:
                return {t["id"] for t in (await api.get("/editor/templates")).json()}

            assert mine["id"] in await gallery(alice) and mine["id"] in await gallery(admin)
            seen = await gallery(mallory)
            assert mine["id"] not in seen and builtin.id in seen
            params = {"parameters": {"who": "Mara"}}
            stolen = await mallory.post(f"/editor/templates/{mine['id']}/render", json=params)
            assert stolen.status_code == 404
            assert "A favour" not in stolen.text  # none of its text
            own = await alice.post(f"/editor/templates/{mine['id']}/render", json=params)
            assert own.status_code == 200 and own.json()["title"] == "A favour for Mara"
            sample = {"parameters": sample_parameters(builtin)}
            shared = await mallory.post(f"/editor/templates/{builtin.id}/render", json=sample)
            assert shared.status_code == 200


@pytest.mark.anyio
async def test_a_draft_nested_too_deeply_is_refused_with_its_field(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url, headers=bearer(keys.creator)) as api:
            nested: dict[str, Any] = {"title": "deep"}
            for _ in range(300):  # 300 levels: within the body limit, beyond any encounter
                nested = {"next": nested}
            r = await api.put("/editor/drafts/deep", json={"id": "deep", "encounter": nested})
            assert r.status_code == 422
            assert r.json()["error"]["errors"][0].startswith("encounter:")
            assert "nested deeper than 32 levels" in r.text
            assert (await api.get("/editor/drafts")).json() == []


def test_the_studio_is_served_with_an_index_fallback(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    app = FastAPI()
    mount_studio(app, dist)
    client = TestClient(app)
    missing = client.get("/studio/")
    assert missing.status_code == 503 and "make web" in missing.text

    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Studio</title>")
    (dist / "assets" / "app-1234.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("not for the web")
    assert client.get("/studio", follow_redirects=False).headers["location"] == "/studio/"
    page = client.get("/studio/")
    assert page.status_code == 200 and "<title>Studio</title>" in page.text
    asset = client.get("/studio/assets/app-1234.js")
    assert asset.text == "console.log(1)"
    assert "immutable" in asset.headers["cache-control"]
    assert "<title>Studio</title>" in client.get("/studio/editor/some/route").text
    assert "not for the web" not in client.get("/studio/../secret.txt").text
    assert "not for the web" not in client.get("/studio/%2e%2e/secret.txt").text
