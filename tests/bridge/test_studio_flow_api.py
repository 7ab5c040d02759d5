"""The API behind the studio's persona, deploy, queue and live pages, over real
sockets (an in-process daemon and a real adapter link): the persona screen answers
without saving; a deploy walks queued -> spawning -> live from the daemon's state and
fails clearly (server offline, rejected in the queue, the game failing the spawn); a
creator sees only their own deploys and sessions; the live stream carries each step
with its decision and ends with the session; the replay has the same items.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from encounters.companion import CompanionHost, CompanionScript, Context
from encounters.moderation import TextFilter
from encounters_bridge.frames import Frame
from tests.support.control import (
    SERVER,
    Daemon,
    Game,
    Keys,
    bearer,
    connected,
    make_keys,
    persona_body,
    run_daemon,
    until,
)
from tests.support.daemon_process import DaemonProcess


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


async def submitted(http: httpx.AsyncClient, keys: Keys, **over: Any) -> str:
    r = await http.post("/personas/submit", headers=bearer(keys.creator), json=persona_body(**over))
    assert r.status_code == 201, r.text
    pid: str = r.json()["id"]
    return pid


async def deploy_state(http: httpx.AsyncClient, key: str, deploy_id: str) -> dict[str, Any]:
    r = await http.get(f"/deploys/{deploy_id}", headers=bearer(key))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


@contextlib.asynccontextmanager
async def daemon_and_game(
    tmp_path: Path, text_filter: TextFilter, game_cls: type[Game] = Game
) -> AsyncIterator[tuple[httpx.AsyncClient, Keys, Game, Daemon]]:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        game = game_cls.create(dm.ws_url, keys.world, "json")
        async with connected(game), httpx.AsyncClient(base_url=dm.http_url) as http:
            yield http, keys, game, dm


@pytest.mark.anyio
async def test_the_screen_names_fields_words_and_topics_and_saves_nothing(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            creator = bearer(keys.creator)
            clean = await http.post("/personas/screen", headers=creator, json=persona_body())
            assert clean.status_code == 200, clean.text
            assert clean.json() == {"verdict": "pending_moderation", "errors": [], "findings": []}

            body = persona_body(
                description="A guide who says shit a lot.",
                goals=["guide", "talk about the election and vote"],
            )
            r = await http.post("/personas/screen", headers=creator, json=body)
            found = r.json()
            assert found["verdict"] == "rejected"
            by_field = {f["field"]: f for f in found["findings"]}
            assert by_field["description"]["decision"] == "block"
            assert by_field["description"]["reason"] == "profanity"
            assert "shit" in by_field["description"]["words"]
            assert by_field["goals[1]"]["topic"] == "politics"
            assert by_field["goals[1]"]["words"]  # the words that made it politics

            bad = persona_body(safety={"maxActionsPerMinute": 0, "blockedTopics": ["gossip"]})
            r = await http.post("/personas/screen", headers=creator, json=bad)
            assert r.json()["verdict"] == "invalid"
            assert any(
                "maxActionsPerMinute" in e or "max_actions_per_minute" in e
                for e in r.json()["errors"]
            )

            # nothing was stored, and a game server's key may not screen
            assert (await http.get("/personas", headers=bearer(keys.admin))).json() == []
            r = await http.post("/personas/screen", headers=bearer(keys.world), json=body)
            assert r.status_code == 403


@pytest.mark.anyio
async def test_a_deploy_walks_from_queued_to_live_and_streams_each_step(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with daemon_and_game(tmp_path, text_filter) as (http, keys, game, _):
        creator, admin = bearer(keys.creator), bearer(keys.admin)
        servers = (await http.get("/worlds/servers", headers=creator)).json()
        assert servers == [
            {
                "world": "web",
                "server_id": SERVER,
                "online": True,
                "capabilities": ["chat", "move_to", "emote", "stop"],
            }
        ]
        catalog = {
            c["world"]: c for c in (await http.get("/worlds/catalog", headers=creator)).json()
        }
        assert set(catalog) == {"gmod", "minecraft", "web"}
        assert "wave" in catalog["gmod"]["emotes"]

        pid = await submitted(
            http, keys, safety={"maxActionsPerMinute": 2, "allowedActions": ["chat", "emote"]}
        )
        r = await http.post(
            "/deploys", headers=creator, json={"personaId": pid, "world": "web", "serverId": SERVER}
        )
        assert r.status_code == 201, r.text
        deploy = r.json()
        assert (deploy["state"], deploy["step"]) == (
            "queued",
            "moderation pending: waiting for an admin's approval",
        )
        # another creator sees neither the deploy nor the persona's queue entry
        assert (
            await http.get(f"/deploys/{deploy['id']}", headers=bearer(keys.other))
        ).status_code == 404
        assert (await http.get("/deploys", headers=bearer(keys.other))).json() == []
        assert (await http.get("/moderation/queue", headers=creator)).status_code == 403
        # one deploy waits at a time
        again = await http.post(
            "/deploys", headers=creator, json={"personaId": pid, "world": "web", "serverId": SERVER}
        )
        assert again.status_code == 409

        (item,) = (await http.get("/moderation/queue", headers=admin)).json()
        assert (item["persona_id"], item["why"], item["deploy"]["id"]) == (
            pid,
            "review",
            deploy["id"],
        )
        assert item["max_actions_per_minute"] == 2
        r = await http.post(
            f"/moderation/queue/{pid}/approve", headers=admin, json={"note": "looks friendly"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["deploy"]["state"] in ("spawning", "live")
        await until(lambda: bool(game.of_type("spawn")))
        state = await deploy_state(http, keys.creator, deploy["id"])
        await until(lambda: _is(http, keys.creator, deploy["id"], "live"))
        state = await deploy_state(http, keys.creator, deploy["id"])
        assert state["note"] == "looks friendly"
        sid = state["session_id"]
        assert (await http.get("/moderation/queue", headers=admin)).json() == []

        # the live stream: every step with its decision, then the end
        got: list[tuple[str, dict[str, Any]]] = []

        async def read() -> None:
            async with http.stream(
                "GET", f"/session/{sid}/stream", headers=creator, timeout=30
            ) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                event = ""
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        got.append((event, json.loads(line[6:])))

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await game.client.send_event(
                {
                    "type": "player_chat",
                    "player": {"id": "7", "name": "bob"},
                    "message": "hi there",
                },
                sid=sid,
            )
            r = await http.post(
                "/signal",
                headers=creator,
                json={
                    "sessionId": sid,
                    "actions": [
                        {"id": "a1", "type": "chat", "message": "what the fuck"},
                        {"id": "a2", "type": "look_at", "target": "bob"},
                        {"id": "a3", "type": "chat", "message": "hello"},
                        {"id": "a4", "type": "chat", "message": "one more"},
                    ],
                },
            )
            assert [x["decision"] for x in r.json()["results"]] == [
                "sanitize",
                "block",
                "allow",
                "block",
            ]
            await until(
                lambda: sum(e == "entry" and d["type"] == "action_done" for e, d in got) == 2
            )
            r = await http.post(f"/session/{sid}/pause", headers=creator)
            assert r.json()["paused"] is True
            assert (
                await http.post(f"/session/{sid}/pause", headers=bearer(keys.other))
            ).status_code == 403
            r = await http.post(f"/session/{sid}/end", headers=creator)
            assert r.status_code == 200, r.text
            with anyio.fail_after(10):
                while not got or got[-1][0] != "end":
                    await anyio.sleep(0.05)

        entries = [d for e, d in got if e == "entry"]
        player = next(d for d in entries if d["kind"] == "player")
        assert player["text"] == "bob chat: “hi there”"
        actions = {d["action_id"]: d for d in entries if d["kind"] in ("action", "rate_limit")}
        assert (actions["a1"]["decision"], actions["a1"]["masked"]) == ("sanitize", "what the ****")
        assert (actions["a2"]["decision"], actions["a2"]["reason"]) == (
            "block",
            "action_not_allowed",
        )
        assert (actions["a4"]["kind"], actions["a4"]["reason"]) == ("rate_limit", "rate_limited")
        done = [d for d in entries if d["type"] == "action_done"]
        assert {d["action_id"] for d in done} == {"a1", "a3"}
        assert all(d["latency_ms"] is not None and d["latency_ms"] >= 0 for d in done)
        statuses = [d for e, d in got if e == "status"]
        assert statuses[-1]["status"] == "ended"
        assert (await deploy_state(http, keys.creator, deploy["id"]))["state"] == "ended"

        # the replay: the same items, from the audit log
        replay = (await http.get(f"/session/{sid}/items", headers=creator)).json()
        assert [d["seq"] for d in replay] == [d["seq"] for d in entries]
        assert (
            await http.get(f"/session/{sid}/items", headers=bearer(keys.other))
        ).status_code == 403

        # deploying the approved persona again needs its own approval (single-use tokens)
        body = {"personaId": pid, "world": "web", "serverId": SERVER}
        r = await http.post("/deploys", headers=creator, json=body)
        again_id = r.json()["id"]
        assert (r.json()["state"], r.json()["step"]) == (
            "queued", "waiting for an admin to approve this deploy")  # fmt: skip
        (item,) = (await http.get("/moderation/queue", headers=admin)).json()
        assert (item["why"], item["deploy"]["id"]) == ("redeploy", again_id)
        r = await http.post(f"/moderation/queue/{pid}/reject", headers=admin,
                            json={"note": "not tonight"})  # fmt: skip
        assert r.json()["status"] == "approved"  # its ended session's persona stays approved
        state = await deploy_state(http, keys.creator, again_id)
        assert (state["state"], state["reason"]) == (
            "failed",
            "rejected by moderation: not tonight",
        )
        r = await http.post(f"/moderation/queue/{pid}/reject", headers=admin, json={"note": "x"})
        assert r.status_code == 409
        assert "no deploy waiting" in r.json()["error"]["message"]


async def _is(http: httpx.AsyncClient, key: str, deploy_id: str, state: str) -> bool:
    return bool((await deploy_state(http, key, deploy_id))["state"] == state)


class FailingGame(Game):
    """A game that cannot spawn the companion: a final ``kicked``, as the GMod addon
    sends when ``ents.Create`` fails."""

    async def _on_dispatch(self, frame: Frame) -> None:
        self.dispatches.append(frame)
        if frame.d.get("type") == "spawn":
            await self.client.send_event(
                {"type": "kicked", "reason": "spawn failed: no navmesh", "final": True},
                sid=frame.sid,
            )


@pytest.mark.anyio
async def test_deploy_failures_say_why(tmp_path: Path, text_filter: TextFilter) -> None:
    async with daemon_and_game(tmp_path, text_filter, FailingGame) as (http, keys, _, _):
        creator, admin = bearer(keys.creator), bearer(keys.admin)
        pid = await submitted(http, keys)
        # a server that is not linked now
        r = await http.post(
            "/deploys",
            headers=creator,
            json={"personaId": pid, "world": "gmod", "serverId": "gm-1"},
        )
        assert r.status_code == 409
        assert r.json()["error"]["message"].startswith("server offline: no gmod server 'gm-1'")

        # a spawn location outside the world, refused before anything waits
        far = {"personaId": pid, "world": "web", "serverId": SERVER,
               "spawnLocation": {"x": 1e12, "y": 0, "z": 0}}  # fmt: skip
        r = await http.post("/deploys", headers=creator, json=far)
        assert r.status_code == 422
        assert r.json()["error"]["errors"][0].startswith("spawnLocation.x: must be between")

        # the game fails the spawn: the adapter's reason
        r = await http.post(
            "/deploys", headers=creator, json={"personaId": pid, "world": "web", "serverId": SERVER}
        )
        deploy_id = r.json()["id"]
        await http.post(f"/moderation/queue/{pid}/approve", headers=admin, json={})
        await until(lambda: _is(http, keys.creator, deploy_id, "failed"))
        state = await deploy_state(http, keys.creator, deploy_id)
        assert state["reason"] == "spawn failed: no navmesh"

        # rejected in the queue, with the admin's note
        other = await submitted(http, keys, name="Second Guide")
        r = await http.post(
            "/deploys",
            headers=creator,
            json={"personaId": other, "world": "web", "serverId": SERVER},
        )
        r = await http.post(
            f"/moderation/queue/{other}/reject",
            headers=admin,
            json={"note": "the description is too vague"},
        )
        assert r.json()["status"] == "rejected"
        state = await deploy_state(http, keys.creator, r.json()["deploy"]["id"])
        assert (state["state"], state["reason"]) == (
            "failed",
            "rejected by moderation: the description is too vague",
        )
        # a rejected persona cannot be deployed
        r = await http.post(
            "/deploys",
            headers=creator,
            json={"personaId": other, "world": "web", "serverId": SERVER},
        )
        assert r.status_code == 409
        assert "rejected by moderation" in r.json()["error"]["message"]


@pytest.mark.anyio
async def test_a_paused_companion_hears_but_does_not_answer_and_a_stream_resumes(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    script = CompanionScript()

    @script.on("player_chat")
    async def answer(ctx: Context, event: dict[str, Any]) -> None:
        await ctx.say(f"You said: {event['message']}")

    async with daemon_and_game(tmp_path, text_filter) as (http, keys, game, dm):
        dm.service.companions = host = CompanionHost(dm.moderator, script=script, seed=1)
        creator, admin = bearer(keys.creator), bearer(keys.admin)
        pid = await submitted(http, keys)
        r = await http.post(
            "/deploys", headers=creator, json={"personaId": pid, "world": "web", "serverId": SERVER}
        )
        deploy_id = r.json()["id"]
        await http.post(f"/moderation/queue/{pid}/approve", headers=admin, json={})
        await until(lambda: _is(http, keys.creator, deploy_id, "live"))
        sid = (await deploy_state(http, keys.creator, deploy_id))["session_id"]

        def said() -> list[str]:
            return [f.d["action"]["message"] for f in game.of_type("action")]

        async def events() -> int:
            got = await http.get(f"/session/{sid}", headers=creator)
            return int(got.json()["events"])

        player = {"id": "7", "name": "bob"}
        await game.client.send_event(
            {"type": "player_chat", "player": player, "message": "one"}, sid=sid
        )
        await until(lambda: said() == ["You said: one"])

        assert (await http.post(f"/session/{sid}/pause", headers=creator)).json()["paused"]
        heard = await events()
        await game.client.send_event(
            {"type": "player_chat", "player": player, "message": "two"}, sid=sid
        )
        await until(lambda: _more(events, heard))
        await host.idle()
        assert said() == ["You said: one"]  # heard (recorded), not answered
        r = await http.post("/signal", headers=creator, json={
            "sessionId": sid, "actions": [{"type": "chat", "message": "by hand"}]})  # fmt: skip
        assert r.json()["results"][0]["decision"] == "allow"
        await until(lambda: said() == ["You said: one", "by hand"])

        assert not (await http.post(f"/session/{sid}/resume", headers=creator)).json()["paused"]
        await game.client.send_event(
            {"type": "player_chat", "player": player, "message": "three"}, sid=sid
        )
        await until(lambda: said()[-1:] == ["You said: three"])

        # a stream resumed with Last-Event-ID carries only what came after
        items = (await http.get(f"/session/{sid}/items", headers=creator)).json()
        middle = items[len(items) // 2]["seq"]
        await http.post(f"/session/{sid}/end", headers=creator)
        seqs: list[int] = []
        headers = {**creator, "Last-Event-ID": str(middle)}
        async with http.stream("GET", f"/session/{sid}/stream", headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    seqs.append(int(line[4:]))
        final = (await http.get(f"/session/{sid}/items", headers=creator)).json()
        assert seqs == [i["seq"] for i in final if i["seq"] > middle]
        assert len(seqs) < len(final)


async def _more(count: Callable[[], Awaitable[int]], than: int) -> bool:
    return await count() > than


@pytest.mark.anyio
async def test_a_daemon_stops_cleanly_while_a_live_view_is_open(tmp_path: Path) -> None:
    """An open stream must not hold ``ae bridge serve`` up on SIGTERM (uvicorn waits for
    every response to finish)."""
    process = DaemonProcess(tmp_path / "data")
    admin, creator, world_key = await process.keys("web")
    await process.start()
    try:
        game = Game.create(process.ws_url, world_key, "json")
        async with connected(game), httpx.AsyncClient(base_url=process.http_url) as http:
            r = await http.post("/personas/submit", headers=bearer(creator), json=persona_body())
            pid = r.json()["id"]
            body = {"personaId": pid, "world": "web", "serverId": SERVER}
            r = await http.post("/deploys", headers=bearer(creator), json=body)
            r = await http.post(f"/moderation/queue/{pid}/approve", headers=bearer(admin), json={})
            sid = r.json()["deploy"]["session_id"]
            async with http.stream(
                "GET", f"/session/{sid}/stream", headers=bearer(creator), timeout=60
            ) as response:
                lines = response.aiter_lines()
                assert await anext(lines) == ": live"
                code, _ = await anyio.to_thread.run_sync(process.terminate)
                assert code == 0, process.output()[-2000:]
    finally:
        process.stop()
