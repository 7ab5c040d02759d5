"""The deployment flow, end to end over real sockets: an in-process daemon
(the FastAPI control API on uvicorn plus the WebSocket edge) and real adapters
(:class:`~encounters_bridge.adapter.AdapterClient`) in both encodings.

submit -> approve -> spawn -> signal (moderated at the edge) -> end, who may do what,
``/health`` and ``/metrics``, a daemon restart with a live session and unacknowledged
dispatches, and the ``ae`` commands that drive a running daemon.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from encounters.errors import StoreCorrupt, StoreError
from encounters.models.deployment import CompanionSession
from encounters.moderation import AuditLogger, ContentModerator, TextFilter
from encounters.storage import SQLiteStore
from encounters_bridge.deployment import DeploymentService
from encounters_bridge.frames import CloseCode, Encoding
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import open_bridge_store
from encounters_bridge.store.protocols import LinkBatch
from tests.conftest import encounter_dict
from tests.support.control import (
    ENCODINGS,
    SERVER,
    Game,
    Threaded,
    ae,
    approved_persona,
    bearer,
    connected,
    errors_of,
    live_companion,
    make_keys,
    persona_body,
    run_daemon,
    session_of,
    spawn_live,
    template_dict,
    until,
    write,
)

# -- submit ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_submit_moderates_persona_text_and_validates_the_body(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            submit = "/personas/submit"
            r = await http.post(submit, headers=bearer(keys.creator), json=persona_body())
            assert r.status_code == 201
            assert r.json()["status"] == "pending_moderation"
            assert r.json()["reasons"] == []
            pid = r.json()["id"]

            # the seed's camelCase body is read field by field
            r = await http.get(f"/personas/{pid}", headers=bearer(keys.creator))
            persona = r.json()["persona"]
            assert persona["safety"]["blocked_topics"] == ["self_harm", "sexual"]
            assert persona["safety"]["max_actions_per_minute"] == 5
            assert persona["safety"]["allowed_actions"] == ["chat", "move_to", "emote", "follow"]
            assert persona["embodiment"] == {"avatar": "humanoid_b", "emotes": ["wave", "sit"]}
            assert persona["creator_id"] == keys.creator_id
            assert r.json()["status"] == "pending_moderation"

            # creator-written text is moderated strictly: any profanity, any built-in topic
            overrides: list[tuple[dict[str, Any], str]] = [
                ({"name": "Fuck Face"}, "name"),
                ({"description": "I love to talk about porn"}, "description"),
                ({"goals": ["guide", "I want to kill myself"]}, "goals[1]"),
            ]
            for over, where in overrides:
                r = await http.post(submit, headers=bearer(keys.creator), json=persona_body(**over))
                assert r.status_code == 201, r.text
                assert r.json()["status"] == "rejected", over
                assert [x.split(":")[0] for x in r.json()["reasons"]] == [where]
                assert (await dm.store.get_persona(r.json()["id"])).status == "rejected"  # type: ignore[union-attr]

            # a topic the moderator does not know is refused, naming the field
            body = persona_body(safety={"blockedTopics": ["self-harm", "astrology"]})
            r = await http.post(submit, headers=bearer(keys.creator), json=body)
            assert r.status_code == 422
            assert any(
                e.startswith("safety.blocked_topics") and "astrology" in e for e in errors_of(r)
            ), errors_of(r)

            # an invalid body: every problem, with its field path
            body = persona_body(name="", traits={"tone": "grumpy"}, goals=[""])
            body["safety"]["allowedActions"] = ["chat", "fly"]
            r = await http.post(submit, headers=bearer(keys.creator), json=body)
            assert r.status_code == 422
            paths = {e.split(":")[0] for e in errors_of(r)}
            # (paths are spelled as the body spelled them)
            assert {"name", "traits.tone", "goals[0]", "safety.allowedActions"} <= paths, r.text
            r = await http.post(submit, headers=bearer(keys.creator), json=[1, 2])
            assert r.status_code == 422
            assert r.json()["error"]["message"] == "invalid request"

            # no key, a malformed key, a well-formed key never issued
            never_issued = "ae_ak_0123456789ab_" + "x" * 32
            for headers in ({}, bearer("hunter2"), bearer(never_issued), {"Authorization": ""}):
                r = await http.post(submit, headers=headers, json=persona_body())
                assert r.status_code == 401, headers
                assert "API key" in r.json()["error"]["message"]


# -- approve and deploy tokens -------------------------------------------------------------


@pytest.mark.anyio
async def test_approve_needs_an_admin_and_tokens_are_per_persona(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            body = persona_body()
            r = await http.post("/personas/submit", headers=bearer(keys.creator), json=body)
            first = r.json()["id"]
            r = await http.post(f"/personas/{first}/approve", headers=bearer(keys.creator))
            assert r.status_code == 403
            assert "admin" in r.json()["error"]["message"]
            assert (await dm.store.get_persona(first)).status == "pending_moderation"  # type: ignore[union-attr]

            r = await http.post(f"/personas/{first}/approve", headers=bearer(keys.admin))
            assert r.status_code == 200
            assert set(r.json()) == {"token", "ttl"}
            assert r.json()["token"].startswith("deploy_")
            assert r.json()["ttl"] == 3600.0
            token = r.json()["token"]
            assert (await dm.store.get_persona(first)).status == "approved"  # type: ignore[union-attr]

            bad = persona_body(name="Fuck Face")
            r = await http.post("/personas/submit", headers=bearer(keys.creator), json=bad)
            rejected = r.json()["id"]
            r = await http.post(f"/personas/{rejected}/approve", headers=bearer(keys.admin))
            assert r.status_code == 409
            assert "rejected" in r.json()["error"]["message"]
            r = await http.post("/personas/persona_nope/approve", headers=bearer(keys.admin))
            assert r.status_code == 404

            second, _ = await approved_persona(http, keys)

            def spawn(pid: str, tok: str) -> Awaitable[httpx.Response]:
                return http.post("/spawn", headers=bearer(keys.creator), json={
                    "personaId": pid, "deploymentToken": tok, "world": "web",
                    "serverId": "nowhere"})  # fmt: skip

            # the token is good for its own persona (it gets as far as the server check)
            assert (await spawn(first, token)).status_code == 404
            # ...and for no other; nor is a made-up one
            for pid, tok in ((second, token), (first, "deploy_" + "A" * 32), (first, "")):
                r = await spawn(pid, tok)
                assert r.status_code == 403, (pid, tok, r.text)
                assert "not valid for this persona" in r.json()["error"]["message"]


@pytest.mark.anyio
async def test_an_expired_deploy_token_is_refused(tmp_path: Path, text_filter: TextFilter) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter, token_ttl=0.01) as dm:
        keys = await make_keys(dm.edge.store)
        game = Game.create(dm.ws_url, keys.world, "json")
        async with connected(game), httpx.AsyncClient(base_url=dm.http_url) as http:
            pid, token = await approved_persona(http, keys)
            await anyio.sleep(0.05)
            r = await http.post("/spawn", headers=bearer(keys.creator), json={
                "personaId": pid, "deploymentToken": token, "world": "web", "serverId": SERVER,
            })  # fmt: skip
            assert r.status_code == 403
            assert "expired" in r.json()["error"]["message"]
            assert game.dispatches == []
            assert await dm.store.list_companions() == []


# -- the whole flow, per encoding -----------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_deployment_flow_end_to_end(
    tmp_path: Path, text_filter: TextFilter, encoding: Encoding
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        game = Game.create(dm.ws_url, keys.world, encoding)
        async with connected(game), httpx.AsyncClient(base_url=dm.http_url) as http:
            creator = bearer(keys.creator)
            pid, token = await approved_persona(http, keys)

            # spawn: only to a server that has connected (this one is web, not gmod)
            for world, server in (("web", "web-404"), ("gmod", SERVER)):
                r = await http.post("/spawn", headers=creator, json={
                    "personaId": pid, "deploymentToken": token, "world": world,
                    "serverId": server})  # fmt: skip
                assert r.status_code == 404, r.text
                assert server in r.json()["error"]["message"]
            assert game.dispatches == []

            r = await http.post("/spawn", headers=creator, json={
                "personaId": pid, "deploymentToken": token, "world": "web", "serverId": SERVER,
                "spawnLocation": {"x": 100, "y": 64, "z": 200}})  # fmt: skip
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "spawning"
            sid = r.json()["sessionId"]
            await until(lambda: bool(game.of_type("spawn")))
            (spawn,) = game.of_type("spawn")
            assert spawn.op == "dispatch"
            assert spawn.sid == sid
            assert spawn.d["persona"]["id"] == pid
            assert spawn.d["persona"]["name"] == "Helpful Guide"
            assert spawn.d["persona"]["avatar"] == "humanoid_b"
            assert spawn.d["persona"]["emotes"] == ["wave", "sit"]
            assert spawn.d["location"] == {"x": 100.0, "y": 64.0, "z": 200.0}

            # live once the game says the companion is there
            await until(lambda: _status_is(http, keys.creator, sid, "live"))
            live = await session_of(http, keys.creator, sid)
            assert live["entity"] == "npc-7"
            assert live["location"] == {"x": 100.0, "y": 64.0, "z": 200.0}

            # signal: every action moderated at the edge, in order
            actions: list[dict[str, Any]] = [
                {"id": "a1", "type": "chat", "message": "Hello, traveller!"},
                {"id": "a2", "type": "chat", "message": "what the fuck"},
                {"id": "a3", "type": "look_at", "target": "bob"},  # not in allowedActions
                {"id": "a4", "type": "follow", "target": "bob"},  # allowed; the world lacks it
                {"id": "a5", "type": "chat", "message": "I want to kill myself"},
                {"id": "a6", "type": "chat", "message": "hi", "token": token},  # invalid
                {"id": "a7", "type": "move_to", "x": 105, "y": 64, "z": 205},
                {"id": "a8", "type": "emote", "name": "wave"},
                {"id": "a9", "type": "chat", "message": f"remember {token}"},  # 5th: the limit
                {"id": "a10", "type": "chat", "message": "one more"},
                {"id": "a11", "type": "emote", "name": "sit"},
            ]
            body = {"sessionId": sid, "actions": actions}
            r = await http.post("/signal", headers=creator, json=body)
            assert r.status_code == 200, r.text
            results = r.json()["results"]
            assert [(x["action_id"], x["decision"], x["reason"]) for x in results] == [
                ("a1", "allow", None),
                ("a2", "sanitize", "profanity"),
                ("a3", "block", "action_not_allowed"),
                ("a4", "block", "not_supported_by_world"),
                ("a5", "block", "blocked_topic"),
                ("a6", "block", "invalid_action"),
                ("a7", "allow", None),
                ("a8", "allow", None),
                ("a9", "sanitize", "secret"),  # a token never reaches players
                ("a10", "block", "rate_limited"),
                ("a11", "block", "rate_limited"),
            ]
            assert any("look_at" in e for e in results[2]["errors"])
            assert results[9]["retry_after"] > 0

            # only what moderation passed reaches the game, masked where it sanitized
            sent = ["a1", "a2", "a7", "a8", "a9"]
            await until(lambda: len(game.of_type("action")) >= len(sent))
            assert game.action_ids() == sent
            by_id = {f.d["action"]["id"]: f.d["action"] for f in game.of_type("action")}
            assert by_id["a2"]["message"] == "what the ****"
            assert by_id["a1"]["message"] == "Hello, traveller!"
            assert token not in by_id["a9"]["message"]
            assert by_id["a9"]["message"].startswith("remember ****")
            assert by_id["a7"] == {"id": "a7", "type": "move_to", "x": 105.0, "y": 64.0, "z": 205.0}
            assert all(f.sid == sid for f in game.dispatches)

            async def all_done() -> bool:
                return bool((await session_of(http, keys.creator, sid))["actions_done"] == 5)

            await until(all_done)

            # end: despawn, summary, replay
            r = await http.post(f"/session/{sid}/end", headers=creator)
            assert r.status_code == 200, r.text
            ended = r.json()
            summary = ended["summary"]
            assert summary["session_id"] == sid
            assert summary["persona_id"] == pid
            assert (summary["world"], summary["server_id"]) == ("web", SERVER)
            assert summary["actions_sent"] == 5
            assert summary["actions_blocked"] == 6
            assert summary["actions_done"] == 5
            assert summary["actions_failed"] == 0
            assert summary["events"] == 6  # spawned + 5 action_done
            assert summary["duration_seconds"] >= 0
            await until(lambda: bool(game.of_type("despawn")))
            (despawn,) = game.of_type("despawn")
            assert despawn.sid == sid
            assert despawn.d["reason"] == "ended"
            assert [f.d["type"] for f in game.dispatches] == ["spawn", *["action"] * 5, "despawn"]
            assert [f.s for f in game.dispatches] == list(range(1, 8))  # once each, in order

            replay = ended["replay"]
            r = await http.get(f"/session/{sid}/replay", headers=creator)
            assert r.status_code == 200
            assert r.json() == replay
            _check_replay(replay, sid, pid, actions, results)
            text = json.dumps(replay)
            for secret in [*keys.secrets(), token]:
                assert secret not in text
            a6 = next(e for e in replay if e["kind"] == "action" and e["input"]["id"] == "a6")
            assert a6["input"]["token"] == "[redacted]"
            a9 = next(e for e in replay if e["kind"] == "action" and e["input"]["id"] == "a9")
            assert a9["input"]["message"] == "remember [redacted]"

            # after the end
            body = {"sessionId": sid, "actions": [{"type": "chat", "message": "still there?"}]}
            r = await http.post("/signal", headers=creator, json=body)
            assert r.status_code == 409
            assert "ended" in r.json()["error"]["message"]
            assert (await session_of(http, keys.creator, sid))["status"] == "ended"
            r = await http.post(f"/session/{sid}/end", headers=creator)  # ending twice: same answer
            assert r.status_code == 200
            assert r.json()["summary"]["actions_sent"] == 5
            await anyio.sleep(0.1)
            assert len(game.of_type("despawn")) == 1
            assert len(game.of_type("action")) == 5


async def _status_is(http: httpx.AsyncClient, key: str, sid: str, status: str) -> bool:
    return bool((await session_of(http, key, sid))["status"] == status)


def _check_replay(
    replay: list[dict[str, Any]],
    sid: str,
    pid: str,
    actions: list[dict[str, Any]],
    results: list[dict[str, Any]],
) -> None:
    """Every decision and event of the session, in order: the spawn, the game's
    ``spawned``, one entry per action with the decision the signal answered, and each
    ``action_done`` after the decision that let its action through."""
    seqs = [e["seq"] for e in replay]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(e["session_id"] == sid for e in replay)
    assert replay[0]["kind"] == "event"
    assert replay[0]["input"]["type"] == "spawn"
    kinds = [(e["kind"], e["input"].get("type")) for e in replay]
    assert kinds.index(("event", "spawned")) < kinds.index(("action", "chat"))
    decided = [e for e in replay if e["kind"] == "action"]
    assert [e["input"]["id"] for e in decided] == [a["id"] for a in actions]
    assert [(e["decision"], e["reason"]) for e in decided] == [
        (x["decision"], x["reason"]) for x in results
    ]
    assert all(e["persona_id"] == pid for e in decided)
    assert decided[1]["output"]["message"] == "what the ****"
    assert decided[1]["categories"] == ["profanity"]
    assert all(e["output"] is None for e in decided if e["decision"] == "block")
    position = {e["input"]["id"]: i for i, e in enumerate(replay) if e["kind"] == "action"}
    done = [(i, e["input"]["action_id"]) for i, e in enumerate(replay)
            if e["kind"] == "event" and e["input"].get("type") == "action_done"]  # fmt: skip
    assert sorted(a for _, a in done) == ["a1", "a2", "a7", "a8", "a9"]
    assert all(position[a] < i for i, a in done)


# -- who may do what ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_creator_cannot_see_or_drive_another_creators_companion(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with live_companion(tmp_path / "d.db", text_filter) as live:
        keys, game, http = live.keys, live.game, live.http
        pid, token, sid = live.pid, live.token, live.sid
        r = await http.post("/personas/submit", headers=bearer(keys.other),
                            json=persona_body(name="Mallory's Own"))  # fmt: skip
        own = r.json()["id"]

        other = bearer(keys.other)
        chat = {"sessionId": sid, "actions": [{"type": "chat", "message": "obey me"}]}
        spawn = {"personaId": pid, "deploymentToken": token, "world": "web",
                 "serverId": SERVER}  # fmt: skip
        for method, path, body in [
            ("GET", f"/personas/{pid}", None),
            ("POST", "/spawn", spawn),
            ("POST", "/signal", chat),
            ("GET", f"/session/{sid}", None),
            ("GET", f"/session/{sid}/replay", None),
            ("POST", f"/session/{sid}/end", None),
        ]:
            r = await http.request(method, path, headers=other, json=body)
            assert r.status_code == 403, (method, path, r.text)
            assert "creator" in r.json()["error"]["message"]
        r = await http.get("/personas", headers=other)
        assert [p["persona"]["id"] for p in r.json()] == [own]
        r = await http.get("/personas", headers=bearer(keys.creator))
        assert [p["persona"]["id"] for p in r.json()] == [pid]
        assert len(game.of_type("spawn")) == 1
        assert game.of_type("action") == []
        session = await session_of(http, keys.creator, sid)
        assert session["status"] == "live"
        assert session["actions_sent"] == session["actions_blocked"] == 0

        admin = bearer(keys.admin)
        r = await http.get("/personas", headers=admin)
        assert {p["persona"]["id"] for p in r.json()} == {pid, own}
        r = await http.get("/personas", headers=admin, params={"status": "approved"})
        assert [p["persona"]["id"] for p in r.json()] == [pid]
        assert (await http.get(f"/personas/{pid}", headers=admin)).status_code == 200
        assert (await http.get(f"/session/{sid}", headers=admin)).status_code == 200
        r = await http.post("/signal", headers=admin, json=chat)
        assert r.status_code == 200
        assert r.json()["results"][0]["decision"] == "allow"
        await until(lambda: len(game.of_type("action")) == 1)
        assert (await http.get(f"/session/{sid}/replay", headers=admin)).status_code == 200
        r = await http.post(f"/session/{sid}/end", headers=admin)
        assert r.status_code == 200
        assert r.json()["summary"]["actions_sent"] == 1


@pytest.mark.anyio
async def test_a_creator_cannot_take_over_another_creators_persona_by_its_id(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with live_companion(tmp_path / "d.db", text_filter) as live:
        dm, keys, http = live.dm, live.keys, live.http
        pid, sid = live.pid, live.sid
        body = persona_body(name="Not Yours", id=pid)
        r = await http.post("/personas/submit", headers=bearer(keys.other), json=body)
        record = await dm.store.get_persona(pid)
        assert record is not None
        # whatever the answer, alice's persona stays hers, approved, named as she named it
        assert (record.persona.creator_id, record.status, record.persona.name) == (
            keys.creator_id, "approved", "Helpful Guide",
        )  # fmt: skip
        chat = {"sessionId": sid, "actions": [{"type": "chat", "message": "obey me"}]}
        driven = await http.post("/signal", headers=bearer(keys.other), json=chat)
        assert driven.status_code == 403
        # the daemon assigns persona ids: the body's id is ignored, a new persona is made
        assert r.status_code == 201, r.text
        assert r.json()["id"] != pid
        theirs = await dm.store.get_persona(r.json()["id"])
        assert theirs is not None and theirs.persona.creator_id != keys.creator_id


# -- health and metrics ---------------------------------------------------------------------


def _samples(text: str) -> dict[str, float]:
    """Prometheus text format: ``name{labels} value`` lines (labels in name order, as
    prometheus_client writes them); comments start with #."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


@pytest.mark.anyio
async def test_health_needs_no_key_and_metrics_need_an_admin(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            r = await http.get("/health")
            assert r.status_code == 200
            assert r.json() == {"status": "ok", "links": 0}
            assert (await http.get("/metrics")).status_code == 401
            r = await http.get("/metrics", headers=bearer(keys.creator))
            assert r.status_code == 403

            game = Game.create(dm.ws_url, keys.world, "msgpack")
            async with connected(game):
                assert (await http.get("/health")).json() == {"status": "ok", "links": 1}
                pid, token = await approved_persona(http, keys)
                sid = await spawn_live(http, keys, pid, token)
                r = await http.post("/signal", headers=bearer(keys.creator), json={
                    "sessionId": sid, "actions": [
                        {"type": "chat", "message": "hi"}, {"type": "chat", "message": "hey"},
                        {"type": "chat", "message": "what the fuck"},
                        {"type": "look_at", "target": "bob"}]})  # fmt: skip
                assert r.status_code == 200
                r = await http.get("/metrics", headers=bearer(keys.admin))
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/plain")
                assert "# TYPE ae_bridge_links gauge" in r.text
                assert "# TYPE ae_moderation_decisions_total counter" in r.text
                samples = _samples(r.text)
                assert samples["ae_bridge_links"] == 1
                decided = 'ae_moderation_decisions_total{decision="%s",kind="action"}'
                assert samples[decided % "allow"] == 2
                assert samples[decided % "sanitize"] == 1
                assert samples[decided % "block"] == 1
            await until(lambda: not dm.edge.connections)
            r = await http.get("/metrics", headers=bearer(keys.admin))
            assert _samples(r.text)["ae_bridge_links"] == 0
            assert (await http.get("/health")).json()["links"] == 0


@pytest.mark.anyio
async def test_metrics_count_persona_moderation_decisions(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            for name in ("Helpful Guide", "Fuck Face"):
                body = persona_body(name=name)
                r = await http.post("/personas/submit", headers=bearer(keys.creator), json=body)
                assert r.status_code == 201
            samples = _samples((await http.get("/metrics", headers=bearer(keys.admin))).text)
            decided = 'ae_moderation_decisions_total{decision="%s",kind="persona"}'
            assert samples.get(decided % "allow") == 1
            assert samples.get(decided % "block") == 1


@pytest.mark.anyio
async def test_routing_errors_use_the_error_shape(tmp_path: Path, text_filter: TextFilter) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            r = await http.get("/no-such-route", headers=bearer(keys.admin))
            assert r.status_code == 404
            assert r.json() == {"error": {"message": "Not Found", "errors": []}}, r.text
            # GET /personas/submit would match GET /personas/{persona_id}: /signal is POST only
            r = await http.get("/signal", headers=bearer(keys.admin))
            assert r.status_code == 405
            assert r.json() == {"error": {"message": "Method Not Allowed", "errors": []}}, r.text


# -- a daemon restart ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_a_restarted_daemon_keeps_sessions_and_unacknowledged_dispatches(
    tmp_path: Path, text_filter: TextFilter, encoding: Encoding
) -> None:
    db = tmp_path / "d.db"

    def chat(text: str) -> dict[str, Any]:
        return {"type": "chat", "message": text}

    def messages(game: Game) -> list[str]:
        return [f.d["action"]["message"] for f in game.of_type("action")]

    async with anyio.create_task_group() as tg:  # the game outlives both daemons
        async with run_daemon(db, text_filter) as dm:
            keys = await make_keys(dm.edge.store)
            game = Game.create(dm.ws_url, keys.world, encoding)
            tg.start_soon(game.client.run)
            with anyio.fail_after(5):
                await game.client.ready.wait()
            link_id = game.client.link.link_id
            async with httpx.AsyncClient(base_url=dm.http_url) as http:
                pid, token = await approved_persona(http, keys)
                sid = await spawn_live(http, keys, pid, token)
                body = {"sessionId": sid, "actions": [chat("before")]}
                r = await http.post("/signal", headers=bearer(keys.creator), json=body)
                assert r.status_code == 200
                await until(lambda: messages(game) == ["before"])
                state = dm.edge.link_state(link_id or "")
                await until(lambda: state is not None and state.unacked == [])  # acked
                # the network fails: the daemon keeps running but the game cannot reach it
                dm.ws_server.close(close_connections=False)
                await game.client.drop()
                await until(lambda: not dm.edge.connections)
                body = {"sessionId": sid, "actions": [chat("while away 1"), chat("while away 2")]}
                r = await http.post("/signal", headers=bearer(keys.creator), json=body)
                assert [x["decision"] for x in r.json()["results"]] == ["allow", "allow"]
            record = await dm.edge.store.get_link(link_id or "")
            assert record is not None
            pending = [f["d"]["action"]["message"] for f in record.unacked]
            assert pending == ["while away 1", "while away 2"]
            ws_port = dm.ws_port
        assert messages(game) == ["before"]

        # a new daemon on the same store, where the game expects it
        async with run_daemon(db, text_filter, ws_port=ws_port) as dm:
            await until(lambda: len(messages(game)) >= 3)
            assert game.client.link.link_id == link_id  # resumed, not identified again
            assert [f.op for f in game.control] == ["ready", "resumed"]
            assert game.control[-1].d == {"replayed": 2}
            async with httpx.AsyncClient(base_url=dm.http_url) as http:
                assert (await session_of(http, keys.creator, sid))["status"] == "live"
                body = {"sessionId": sid, "actions": [chat("after the restart")]}
                r = await http.post("/signal", headers=bearer(keys.creator), json=body)
                assert r.json()["results"][0]["decision"] == "allow"
                await until(lambda: len(messages(game)) >= 4)
                await anyio.sleep(0.1)
                # nothing lost, nothing twice
                assert messages(game) == ["before", "while away 1", "while away 2",
                                          "after the restart"]  # fmt: skip
                assert [f.s for f in game.dispatches] == [1, 2, 3, 4, 5]

                async def done(n: int) -> bool:
                    return bool((await session_of(http, keys.creator, sid))["actions_done"] == n)

                await until(lambda: done(4))
                assert not dm.edge.connections[link_id or ""].closed

        # a graceful stop with the game connected: it is told 1001 and resumes
        async with run_daemon(db, text_filter, ws_port=ws_port) as dm:
            await until(lambda: game.client.link.ready and bool(dm.edge.connections))
            assert CloseCode.GOING_AWAY in game.closes
            assert game.client.link.link_id == link_id
            assert [f.op for f in game.control] == ["ready", "resumed", "resumed"]
            await anyio.sleep(0.1)
            assert [f.s for f in game.dispatches] == [1, 2, 3, 4, 5]  # nothing twice

            # the game server restarts too: a fresh link is told what lives on it
            await game.client.stop()
            fresh = Game.create(dm.ws_url, keys.world, encoding)
            async with connected(fresh), httpx.AsyncClient(base_url=dm.http_url) as http:
                assert fresh.client.link.link_id != link_id
                (ready,) = fresh.control
                assert ready.op == "ready"
                (listed,) = ready.d["sessions"]
                assert listed["sid"] == sid
                assert listed["persona"]["id"] == pid
                assert listed["persona"]["name"] == "Helpful Guide"
                assert listed["persona"]["avatar"] == "humanoid_b"
                assert listed["persona"]["emotes"] == ["wave", "sit"]
                assert listed["location"] == {"x": 100.0, "y": 64.0, "z": 200.0}
                body = {"sessionId": sid, "actions": [chat("hello again")]}
                r = await http.post("/signal", headers=bearer(keys.creator), json=body)
                assert r.json()["results"][0]["decision"] == "allow"
                await until(lambda: messages(fresh) == ["hello again"])

                async def all_done() -> bool:
                    return bool((await session_of(http, keys.creator, sid))["actions_done"] == 5)

                await until(all_done)
                r = await http.post(f"/session/{sid}/end", headers=bearer(keys.creator))
                summary = r.json()["summary"]
                assert (summary["actions_sent"], summary["actions_done"]) == (5, 5)
                await until(lambda: bool(fresh.of_type("despawn")))
                assert messages(game) == ["before", "while away 1", "while away 2",
                                          "after the restart"]  # fmt: skip
        tg.cancel_scope.cancel()


def test_cli_drives_the_whole_flow_on_a_running_daemon(threaded: Threaded, tmp_path: Path) -> None:
    url, keys = threaded.daemon.http_url, threaded.keys
    remote = ["--url", url, "--key", keys.creator]

    # ae deploy: encounters and templates
    enc = write(tmp_path / "enc.json", encounter_dict())
    tmpl = write(tmp_path / "tmpl.json", template_dict())
    code, out, err = ae("deploy", str(enc), str(tmpl), *remote)
    assert (code, err) == (0, ""), out
    assert f"✓ {enc}: encounter enc_test" in out
    assert f"✓ {tmpl}: template village-errand" in out
    assert threaded.http("GET", "/encounters/enc_test", keys.creator).json()["title"] == (
        "Bandits at the Bridge"
    )
    templates = threaded.http("GET", "/templates", keys.creator).json()
    assert "village-errand" in {t["id"] for t in templates}

    # ae test --url: the seed's test flow, played on the daemon
    code, out, err = ae("test", str(enc), "--url", url, "--key", keys.creator)
    assert code == 0, out + err
    assert "Objectives: 2" in out
    assert "✓ Completed: Defeat the bandits" in out
    assert "Test completed successfully (1 encounter(s))" in out
    session_id = out.split("Session created: ")[1].split()[0]
    played = threaded.http("GET", f"/sessions/{session_id}", keys.creator).json()
    assert played["status"] == "completed"

    # ae personas submit | approve | list
    persona = write(tmp_path / "persona.json", persona_body())
    code, out, _ = ae("personas", "submit", str(persona), *remote)
    assert code == 0
    submitted = json.loads(out)
    assert submitted["status"] == "pending_moderation"
    pid = submitted["id"]
    code, out, _ = ae("personas", "approve", pid, "--url", url, "--key", keys.admin)
    assert code == 0
    token = json.loads(out)["token"]
    assert token.startswith("deploy_")
    code, out, _ = ae("personas", "list", env={"AE_URL": url, "AE_KEY": keys.creator})
    assert code == 0
    assert pid in out and "approved" in out and "Helpful Guide" in out
    code, out, _ = ae("personas", "list", "--status", "pending_moderation", *remote)
    assert (code, out) == (0, "")

    # ae spawn | signal | end
    code, out, _ = ae("spawn", pid, "--token", token, "--world", "web", "--server", SERVER,
                      "--x", "1", "--y", "2", "--z", "3", *remote)  # fmt: skip
    assert code == 0, out
    sid = json.loads(out)["sessionId"]
    game = threaded.game
    threaded.portal.call(until, lambda: bool(game.of_type("spawn")))
    assert game.of_type("spawn")[0].sid == sid
    assert game.of_type("spawn")[0].d["location"] == {"x": 1.0, "y": 2.0, "z": 3.0}
    batch = json.dumps([{"type": "chat", "message": "what the fuck"},
                        {"type": "look_at", "target": "bob"}])  # fmt: skip
    code, out, _ = ae("signal", sid, batch, *remote)
    assert code == 0, out
    results = json.loads(out)["results"]
    assert [(x["decision"], x["reason"]) for x in results] == [
        ("sanitize", "profanity"), ("block", "action_not_allowed"),
    ]  # fmt: skip
    threaded.portal.call(until, lambda: bool(game.of_type("action")))
    assert [f.d["action"]["message"] for f in game.of_type("action")] == ["what the ****"]
    code, out, _ = ae("end", sid, *remote)
    assert code == 0, out
    ended = json.loads(out)
    assert ended["summary"]["actions_sent"] == 1
    assert ended["summary"]["actions_blocked"] == 1
    assert [e["kind"] for e in ended["replay"]].count("action") == 2
    threaded.portal.call(until, lambda: bool(game.of_type("despawn")))
    for secret in (keys.creator, keys.admin):
        assert secret not in out


def _one_clear_error(
    code: int, out: str, err: str, *needles: str, prefix: str = "error: daemon answered "
) -> str:
    assert code == 1, (out, err)
    assert "Traceback" not in out + err
    first = err.splitlines()[0] if err else ""
    assert first.startswith(prefix), err
    for needle in needles:
        assert needle in err, (needle, err)
    return first


def test_cli_errors_from_the_daemon_are_one_clear_line(threaded: Threaded, tmp_path: Path) -> None:
    url, keys = threaded.daemon.http_url, threaded.keys
    persona = write(tmp_path / "persona.json", persona_body())
    enc = write(tmp_path / "enc.json", encounter_dict())

    # 401: no key, a bad key
    for key_args in ([], ["--key", "ae_ak_0123456789ab_" + "x" * 32]):
        code, out, err = ae("personas", "submit", str(persona), "--url", url, *key_args)
        _one_clear_error(code, out, err, "401", "API key")
        assert err.count("\n") == 1
    code, out, err = ae("test", str(enc), "--url", url, "--key", "nope")
    _one_clear_error(code, out, err, "401")
    assert "Test completed" not in out

    # 403, 404
    code, out, err = ae("personas", "approve", "persona_x", "--url", url, "--key", keys.creator)
    _one_clear_error(code, out, err, "403", "admin")
    code, out, err = ae("personas", "approve", "persona_x", "--url", url, "--key", keys.admin)
    _one_clear_error(code, out, err, "404", "persona_x")
    code, out, err = ae("end", "sess_nope", "--url", url, "--key", keys.creator)
    _one_clear_error(code, out, err, "404", "sess_nope")
    r = threaded.http("POST", "/personas/submit", keys.creator, json=persona_body())
    pid = r.json()["id"]
    token = threaded.http("POST", f"/personas/{pid}/approve", keys.admin).json()["token"]
    code, out, err = ae("spawn", pid, "--token", token, "--world", "minecraft", "--server",
                        "mc-9", "--url", url, "--key", keys.creator)  # fmt: skip
    _one_clear_error(code, out, err, "404", "mc-9")

    # 422: the field errors follow the line, one per field
    bad = write(tmp_path / "bad.json", persona_body(name="", traits={"tone": "grumpy"}))
    code, out, err = ae("personas", "submit", str(bad), "--url", url, "--key", keys.creator)
    first = _one_clear_error(code, out, err, "422", "name:", "traits.tone:")
    assert first == "error: daemon answered 422: invalid persona"
    code, out, err = ae("signal", "sess_x", "[]", "--url", url, "--key", keys.creator)
    _one_clear_error(code, out, err, "422", "actions:")

    # a rejected persona: its answer is printed and the command fails
    rude = write(tmp_path / "rude.json", persona_body(name="Fuck Face"))
    code, out, _ = ae("personas", "submit", str(rude), "--url", url, "--key", keys.creator)
    assert code == 1
    assert json.loads(out)["status"] == "rejected"

    # deploy: each bad file is reported, the others still go out
    bad_enc = write(tmp_path / "bad-enc.json", encounter_dict(id="enc_bad", difficulty=5))
    code, out, _ = ae("deploy", str(bad_enc), str(enc), "--url", url, "--key", keys.creator)
    assert code == 1
    assert f"✗ {bad_enc}: daemon answered 422" in out
    assert "difficulty" in out
    assert f"✓ {enc}: encounter enc_test" in out

    # a daemon that is not there
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    code, out, err = ae("personas", "list", "--url", closed, "--key", keys.creator)
    # status 0 (no answer at all): the message says so, with no "daemon answered 0"
    first = _one_clear_error(code, out, err, prefix=f"error: cannot reach {closed}: ")
    assert first.removeprefix(f"error: cannot reach {closed}: ").strip()  # with the cause
    assert err.count("\n") == 1
    for secret in keys.secrets():
        assert secret not in out + err


@pytest.mark.anyio
async def test_signalled_actions_without_an_id_each_get_their_own(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """Actions sent without an id get one each (``act_`` and 16 hex digits, as every
    generated id), those sent with one keep it, and the results and audit entries name
    each action by its id, in order."""
    async with SQLiteStore(tmp_path / "ids.db") as store:
        edge = BridgeEdge(await open_bridge_store(store))
        service = DeploymentService(
            store, ContentModerator(text_filter, audit=AuditLogger(store)), edge
        )
        record = await service.submit(persona_body(), "cr_1")
        await service.approve(record.persona.id)
        await store.save_companion(CompanionSession(
            id="sess_1", persona_id=record.persona.id, world="gmod", server_id="srv-1",
            status="live",
        ))  # fmt: skip
        actions: list[dict[str, Any]] = [
            {"type": "chat", "message": "hello"},
            {"id": "mine", "type": "chat", "message": "over here"},
            {"id": "", "type": "emote", "name": "wave"},
            {"type": "chat", "message": "follow me"},
        ]
        results = await service.signal("sess_1", actions)
        ids = [r["action_id"] for r in results]
        assert ids[1] == "mine"
        generated = ids[:1] + ids[2:]
        assert all(re.fullmatch(r"act_[0-9a-f]{16}", i) for i in generated), ids
        assert len(set(ids)) == len(ids)
        assert [r["decision"] for r in results] == ["allow"] * 4
        logged = [e.input["id"] for e in await store.list_audit(session_id="sess_1")]
        assert logged == ids
        assert "id" not in actions[0]  # the caller's dicts are left as they were


@pytest.mark.anyio
async def test_an_end_the_store_could_not_write_is_refused_and_can_be_tried_again(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """When the store fails to write an end, the caller is told to try again (503, not
    a bad request), the session stays live (it was not ended), and the next end
    ends it: stored as ended, and the game despawns its companion once."""
    async with live_companion(tmp_path / "d.db", text_filter) as live:
        dm, keys, game, http = live.dm, live.keys, live.game, live.http
        sid = live.sid
        real_write = dm.edge.store.write_links
        failed: list[str] = []

        async def write_links(batch: LinkBatch) -> list[int]:
            ending = any(c.set.get("status") == "ended" for c in batch.records.changes)
            if ending and not failed:
                failed.append(sid)
                raise StoreError("write to d.db failed: disk full")
            return await real_write(batch)

        dm.edge.store.write_links = write_links  # type: ignore[method-assign]
        r = await http.post(f"/session/{sid}/end", headers=bearer(keys.creator))
        assert failed == [sid]
        assert r.status_code == 503, r.text
        assert "try again" in r.json()["error"]["message"]
        assert (await session_of(http, keys.creator, sid))["status"] == "live"

        r = await http.post(f"/session/{sid}/end", headers=bearer(keys.creator))
        assert r.status_code == 200, r.text
        assert (await session_of(http, keys.creator, sid))["status"] == "ended"
        await until(lambda: bool(game.of_type("despawn")))
        stored = await dm.store.get_companion(sid)
        assert stored is not None and stored.status == "ended"
        assert len(game.of_type("despawn")) == 1


@pytest.mark.anyio
async def test_a_store_failure_is_answered_503_without_the_stores_details(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """A route whose store read fails answers 503 (the daemon's trouble, worth trying
    again; not 400, which blames the request), and the message does not show the
    daemon's files."""
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            await approved_persona(http, keys)

            async def list_personas(**_: Any) -> Any:
                raise StoreError(f"read from {tmp_path / 'd.db'} failed: disk gone")

            dm.store.list_personas = list_personas  # type: ignore[method-assign]
            r = await http.get("/personas", headers=bearer(keys.creator))
            assert r.status_code == 503, r.text
            assert r.json()["error"]["message"] == (
                "the store could not be read or written; try again"
            )
            assert str(tmp_path) not in r.text

            async def damaged(**_: Any) -> Any:
                raise StoreCorrupt(f"{tmp_path / 'd.db'} is damaged: restore it from a backup")

            dm.store.list_personas = damaged  # type: ignore[method-assign]
            r = await http.get("/personas", headers=bearer(keys.creator))
            assert r.status_code == 500, r.text  # not worth trying again
            assert "damaged" in r.text and str(tmp_path) not in r.text
