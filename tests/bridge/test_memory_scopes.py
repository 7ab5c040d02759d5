"""NPC memory over the control API is each game server's own, over real HTTP against
the real daemon: another server using the same NPC and player ids can neither claim
the pair nor read its memories, a pair claimed before scopes existed keeps serving its
old memories to its owner, and a generated encounter's prompt (seen by a loopback
OpenAI stand-in) carries only the caller's own memories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from encounters.companion import CompanionHost, CompanionScript, Context
from encounters.models.common import utcnow
from encounters.moderation import TextFilter
from encounters_bridge.keys import create_world_key
from encounters_bridge.tenancy import OWNER_KIND, Owner
from tests.support.control import (
    SERVER,
    Game,
    bearer,
    connected,
    make_keys,
    persona_body,
    run_daemon,
    until,
)
from tests.support.prompts import two_servers_and_an_llm


def met(line: str, outcome: str = "positive") -> dict[str, Any]:
    return {"dialogue": [line], "outcome": outcome}


def said(view: dict[str, Any]) -> str:
    return " ".join(m["text"] for m in view["memories"])


@pytest.mark.anyio
async def test_another_server_cannot_squat_a_pair_each_remembers_its_own(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        _, one = await create_world_key(dm.edge.store, "server one", "web", ["one"])
        record_two, two = await create_world_key(dm.edge.store, "server two", "web", ["two"])
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            # server two touches the ids first: it does not lock server one out
            got = await http.get("/memory/smith/ana", headers=bearer(two))
            assert got.status_code == 200 and got.json()["memories"] == []
            squat = await http.post("/memory/smith/ana", json=met("Squatted!", "negative"),
                                    headers=bearer(two))  # fmt: skip
            assert squat.status_code == 201
            wrote = await http.post("/memory/smith/ana", json=met("Fine blade!"),
                                    headers=bearer(one))  # fmt: skip
            assert wrote.status_code == 201 and wrote.json()["relationship"] == 10

            mine = (await http.get("/memory/smith/ana", headers=bearer(one))).json()
            assert mine["profile"]["relationship"] == 10
            assert mine["profile"]["interactions_total"] == 1
            assert "Fine blade!" in said(mine) and "Squatted" not in said(mine)
            theirs = (await http.get("/memory/smith/ana", headers=bearer(two))).json()
            assert theirs["profile"]["relationship"] == -10
            assert "Squatted!" in said(theirs) and "Fine blade" not in said(theirs)

            # a new key for server two (the old one revoked) keeps server two's memories
            await dm.edge.store.save_world_key(
                record_two.model_copy(update={"revoked_at": utcnow()})
            )
            _, rotated = await create_world_key(dm.edge.store, "server two again", "web", ["two"])
            again = (await http.get("/memory/smith/ana", headers=bearer(rotated))).json()
            assert "Squatted!" in said(again)

            # an admin reads a server's memories by naming it; a game server cannot
            admin = bearer(keys.admin)
            picked = await http.get("/memory/smith/ana?server=web:one", headers=admin)
            assert "Fine blade!" in said(picked.json())
            assert (await http.get("/memory/smith/ana", headers=admin)).json()["memories"] == []
            other = await http.get("/memory/smith/ana?server=web:one", headers=bearer(rotated))
            assert other.status_code == 422


@pytest.mark.anyio
async def test_a_pair_claimed_before_scopes_keeps_serving_its_owner(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        _, one = await create_world_key(dm.edge.store, "server one", "web", ["one"])
        _, two = await create_world_key(dm.edge.store, "server two", "web", ["two"])
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            # as the old code left it: memories in the unscoped namespace (where an
            # admin writes by default) and server one recorded as the pair's owner
            old = await http.post("/memory/smith/ana", json=met("Old friends."),
                                  headers=bearer(keys.admin))  # fmt: skip
            assert old.status_code == 201
            await dm.store.save_document(OWNER_KIND, "memory:smith/ana",
                                         Owner(owner="server:web:one"))  # fmt: skip

            mine = (await http.get("/memory/smith/ana", headers=bearer(one))).json()
            assert "Old friends." in said(mine) and mine["profile"]["relationship"] == 10
            more = await http.post("/memory/smith/ana", json=met("Still friends."),
                                   headers=bearer(one))  # fmt: skip
            assert more.json()["relationship"] == 20 and more.json()["interactions_total"] == 2
            # another server gets its own (empty) memories, not the owner's nor a 404
            theirs = await http.get("/memory/smith/ana", headers=bearer(two))
            assert theirs.status_code == 200 and theirs.json()["memories"] == []
            assert theirs.json()["profile"]["interactions_total"] == 0


@pytest.mark.anyio
async def test_generation_carries_only_the_callers_own_memories(
    tmp_path: Path, text_filter: TextFilter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with two_servers_and_an_llm(tmp_path, text_filter, monkeypatch) as t:
        wrote = await t.http.post("/memory/smith/ana",
                                  json=met("You brought back my lost ring!"),
                                  headers=bearer(t.one))  # fmt: skip
        assert wrote.status_code == 201
        social = {"category": "social", "player": "ana"}
        assert "lost ring" in await t.prompt_for(t.one, social)  # its own memories
        for other in (t.two, t.keys.creator, t.keys.other, t.keys.admin):
            assert "lost ring" not in await t.prompt_for(other, social)


@pytest.mark.anyio
async def test_a_companion_remembers_players_in_its_game_servers_scope(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    script = CompanionScript()

    @script.on("player_chat")
    async def answer(ctx: Context, event: dict[str, Any]) -> None:
        await ctx.say("Noted.")

    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        _, two = await create_world_key(dm.edge.store, "server two", "web", ["two"])
        assert dm.engine is not None
        dm.service.companions = host = CompanionHost(
            dm.moderator, script=script, memory=dm.engine.memory, seed=1
        )
        game = Game.create(dm.ws_url, keys.world, "json")  # binds to server SERVER
        async with connected(game), httpx.AsyncClient(base_url=dm.http_url) as http:
            r = await http.post("/personas/submit", headers=bearer(keys.creator),
                                json=persona_body())  # fmt: skip
            pid = r.json()["id"]
            where = {"personaId": pid, "world": "web", "serverId": SERVER}
            r = await http.post("/deploys", headers=bearer(keys.creator), json=where)
            deploy = r.json()["id"]
            await http.post(f"/moderation/queue/{pid}/approve", headers=bearer(keys.admin), json={})

            async def live() -> bool:
                got = await http.get(f"/deploys/{deploy}", headers=bearer(keys.creator))
                return bool(got.json()["state"] == "live")

            await until(live)
            got = await http.get(f"/deploys/{deploy}", headers=bearer(keys.creator))
            sid = got.json()["session_id"]
            chat = {"type": "player_chat", "player": {"id": "ana", "name": "Ana"},
                    "message": "I hid the blue key under the bridge"}  # fmt: skip
            await game.client.send_event(chat, sid=sid)
            await until(lambda: bool(game.of_type("action")))
            await host.idle()

            path = f"/memory/{pid}/ana"
            own = (await http.get(path, headers=bearer(keys.world))).json()
            assert "blue key" in said(own)  # the game server reads its companion's memory
            assert (await http.get(path, headers=bearer(two))).json()["memories"] == []
            unscoped = (await http.get(path, headers=bearer(keys.admin))).json()
            assert unscoped["memories"] == []
            picked = await http.get(f"{path}?server=web:{SERVER}", headers=bearer(keys.admin))
            assert "blue key" in said(picked.json())
