"""Deploy tokens and persona review over real HTTP: a token spawns once (even when two
spawns race with it), a newer approval revokes the older token, and an admin can reject
a pending persona (the creator sees why; it can be neither approved nor spawned)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from encounters.moderation import TextFilter
from tests.support.control import (
    SERVER,
    Game,
    Threaded,
    ae,
    approved_persona,
    bearer,
    connected,
    make_keys,
    persona_body,
    run_daemon,
    until,
)


def spawn_body(pid: str, token: str) -> dict[str, Any]:
    return {"personaId": pid, "deploymentToken": token, "world": "web", "serverId": SERVER}


@pytest.mark.anyio
async def test_a_token_spawns_once_and_a_new_approval_revokes_the_old_one(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        game = Game.create(dm.ws_url, keys.world, "json")
        async with connected(game), httpx.AsyncClient(base_url=dm.http_url) as http:
            creator = bearer(keys.creator)
            pid, token = await approved_persona(http, keys)
            answers: list[int] = []

            async def spawn() -> None:
                r = await http.post("/spawn", headers=creator, json=spawn_body(pid, token))
                answers.append(r.status_code)

            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(spawn)
            assert sorted(answers) == [201, 403, 403, 403, 403]
            await until(lambda: len(game.of_type("spawn")) == 1)

            old = (await http.post(f"/personas/{pid}/approve", headers=bearer(keys.admin))).json()
            new = (await http.post(f"/personas/{pid}/approve", headers=bearer(keys.admin))).json()
            revoked = await http.post("/spawn", headers=creator, json=spawn_body(pid, old["token"]))
            assert revoked.status_code == 403
            assert "replaced by a newer approval" in revoked.json()["error"]["message"]
            ok = await http.post("/spawn", headers=creator, json=spawn_body(pid, new["token"]))
            assert ok.status_code == 201
            await until(lambda: len(game.of_type("spawn")) == 2)
            assert len(await dm.store.list_companions()) == 2


@pytest.mark.anyio
async def test_an_admin_rejects_a_pending_persona(tmp_path: Path, text_filter: TextFilter) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            r = await http.post("/personas/submit", headers=bearer(keys.creator),
                                json=persona_body())  # fmt: skip
            pid = r.json()["id"]
            reason = {"reason": "the avatar is a real person's likeness"}
            by_creator = await http.post(f"/personas/{pid}/reject", headers=bearer(keys.creator),
                                         json=reason)  # fmt: skip
            assert by_creator.status_code == 403
            r = await http.post(f"/personas/{pid}/reject", headers=bearer(keys.admin), json=reason)
            assert r.status_code == 200
            assert r.json() == {"id": pid, "status": "rejected", "reasons": [reason["reason"]]}
            seen = (await http.get(f"/personas/{pid}", headers=bearer(keys.creator))).json()
            assert (seen["status"], seen["reasons"]) == ("rejected", [reason["reason"]])
            approve = await http.post(f"/personas/{pid}/approve", headers=bearer(keys.admin))
            assert approve.status_code == 409 and reason["reason"] in approve.text
            empty = await http.post(f"/personas/{pid}/reject", headers=bearer(keys.admin),
                                    json={"reason": ""})  # fmt: skip
            assert empty.status_code == 422 and "reason" in empty.text
            escaped = await http.post(f"/personas/{pid}/reject", headers=bearer(keys.admin),
                                      json={"reason": "bad\x1b[31m"})  # fmt: skip
            assert escaped.status_code == 422 and "U+001B" in escaped.text

            approved, _ = await approved_persona(http, keys)
            late = await http.post(f"/personas/{approved}/reject", headers=bearer(keys.admin),
                                   json=reason)  # fmt: skip
            assert late.status_code == 409 and "approved already" in late.text


def test_ae_personas_reject(threaded: Threaded) -> None:
    url, keys = threaded.daemon.http_url, threaded.keys
    r = threaded.http("POST", "/personas/submit", keys.creator, json=persona_body())
    pid = r.json()["id"]
    code, out, err = ae("personas", "reject", pid, "--reason", "off-brand avatar",
                        "--url", url, "--key", keys.admin)  # fmt: skip
    assert (code, err) == (0, ""), out
    assert "rejected" in out and "off-brand avatar" in out
    seen = threaded.http("GET", f"/personas/{pid}", keys.creator).json()
    assert (seen["status"], seen["reasons"]) == ("rejected", ["off-brand avatar"])
