"""The Garry's Mod addon (``lua_addon/``) in a real LuaJIT, against the real daemon.

- the shared protocol vectors (``bridge/spec/vectors``) with the addon's protocol module
  encoding every frame sent and decoding every frame received, in LuaJIT 2.1 and 2.0
  (the two GMod ships), through lupa;
- the link state machine (``link.lua``) driven directly, without sockets;
- the whole addon in both realms with stand-ins for the GMod API and a GWSockets
  stand-in on a real WebSocket, connected to a daemon on 127.0.0.1;
- a companion in the game (issue #10): the daemon's deployment flow with a companion
  host answers a player's chat, moderated, in the client's chat box.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from encounters.client import EncountersClient
from encounters.companion import CompanionHost, CompanionScript, Context
from encounters.models.persona import PersonaCore
from encounters.moderation import AuditLogger, ContentModerator, TextFilter
from encounters.storage import SQLiteStore
from encounters_bridge.deployment import DeploymentService
from encounters_bridge.frames import Frame
from encounters_bridge.keys import create_world_key
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import open_bridge_store
from tests.adapters.gmod.lua import ADDON, LUAJITS, Codec, new_runtime
from tests.adapters.gmod.vectors import LuaRunner
from tests.adapters.gmod.world import GmodWorld
from tests.support.cluster import daemon_cluster
from tests.support.vectors import BAD_KEY, VECTORS, Harness, load, run_vector

pytestmark = pytest.mark.timeout(60)

#: the addon speaks JSON only (GWSockets cannot tell text frames from binary ones), so
#: only the vectors run on json links apply; the msgpack-only ones are not collected
JSON_VECTORS = [p for p in VECTORS if "json" in load(p).get("encodings", ["json", "msgpack"])]


def _vector_params() -> list[Any]:
    return [
        pytest.param(version, path, id=f"{path.stem}-{version}")
        for path in JSON_VECTORS
        for version in LUAJITS
    ]


@pytest.mark.parametrize(("version", "path"), _vector_params())
def test_vector_with_the_lua_protocol_module(version: str, path: Path, tmp_path: Path) -> None:
    def lua_runner(vector: dict[str, Any], harness: Harness) -> LuaRunner:
        runner = LuaRunner(vector, "json", harness)
        runner.codec = Codec(new_runtime(version))
        return runner

    run_vector(path, tmp_path, lua_runner)


# -- the whole addon, both realms, against a daemon ------------------------------------------

SERVER_ID = "gmod-e2e"
PERSONA = {"id": "per_1", "name": "Ada", "avatar": "models/alyx.mdl", "emotes": ["wave"],
           "traits": ["curious"]}  # fmt: skip
GREETING = "Hallo, Grüße! 你好 👋 «ça va?»"


@contextlib.contextmanager
def daemon(tmp_path: Path) -> Iterator[tuple[BlockingPortal, Harness]]:
    """A daemon (BridgeEdge on a fresh SQLiteStore, 127.0.0.1, heartbeat 0.2 s) on its
    own event-loop thread, with the reference harness's hooks (dispatch, events)."""
    with start_blocking_portal("asyncio") as portal:
        store = SQLiteStore(tmp_path / "bridge.db")
        portal.call(store.open)
        setup = {"world": "gmod", "server_id": SERVER_ID, "heartbeat_interval": 0.2}
        harness = Harness(portal.call(open_bridge_store, store), setup)
        portal.call(harness.provision)
        portal.call(harness.start)
        try:
            yield portal, harness
        finally:
            portal.call(harness.stop)
            portal.call(store.close)


def _world(version: str, harness: Harness, key: str) -> GmodWorld:
    return GmodWorld(version, {
        "ai_companion_url": f"ws://127.0.0.1:{harness.port}/ws",
        "ai_companion_key": key,
        "ai_companion_server_id": SERVER_ID,
    })  # fmt: skip


def _events(harness: Harness, kind: str) -> list[dict[str, Any]]:
    return [w for _, w in list(harness.history) if w["d"].get("type") == kind]


def _dispatch(portal: BlockingPortal, harness: Harness, sid: str, d: dict[str, Any]) -> None:
    portal.call(harness.dispatch, {"sid": sid, "d": {**d, "sid": sid}})


def _action(portal: BlockingPortal, harness: Harness, sid: str, action: dict[str, Any]) -> None:
    _dispatch(portal, harness, sid, {"type": "action", "action": action})


def _result(harness: Harness, action_id: str) -> list[dict[str, Any]]:
    return [
        w for _, w in list(harness.history)
        if w["d"].get("type") in ("action_done", "action_failed")
        and w["d"].get("action_id") == action_id
    ]  # fmt: skip


@pytest.mark.parametrize("version", list(LUAJITS))
def test_addon_end_to_end(version: str, tmp_path: Path) -> None:
    with daemon(tmp_path) as (portal, harness):
        world = _world(version, harness, harness.keys["key"])
        try:
            _end_to_end(world, portal, harness)
        finally:
            world.close()


def _end_to_end(world: GmodWorld, portal: BlockingPortal, harness: Harness) -> None:
    server = world.server

    def link() -> Any:
        return server.eval("AICompanion.Connection.link")

    # identify: the addon links with the world key and its capabilities
    world.run_until(lambda: bool(link().ready), what="ready")
    identify = json.loads(world.sockets.sent[0])
    assert identify["op"] == "identify"
    assert identify["d"]["world"] == "gmod" and identify["d"]["server_id"] == SERVER_ID
    assert identify["d"]["key"] == harness.keys["key"]
    assert {"chat", "move_to", "follow"} <= set(identify["d"]["capabilities"])
    link_id = link().link_id.decode()

    # a player joins: player_join
    world.server.run('PLY = __add_player("Gordon", "76561197960287930", 300, 0, 0)')
    world.run_until(lambda: bool(_events(harness, "player_join")), what="player_join")
    assert _events(harness, "player_join")[0]["d"]["player"] == {
        "id": "76561197960287930",
        "name": "Gordon",
    }

    # spawn: the companion entity, with the persona's name and model, reported as spawned
    _dispatch(portal, harness, "sess_1", {"type": "spawn", "persona": PERSONA,
                                          "location": {"x": 10, "y": -2.5, "z": 64}})  # fmt: skip
    world.run_until(lambda: bool(_events(harness, "spawned")), what="spawned")
    spawned = _events(harness, "spawned")[0]
    assert spawned["sid"] == "sess_1"
    ent = server.eval('AICompanion.Actions.companions["sess_1"]')
    assert ent.GetClass(ent) == b"ai_companion"
    assert ent.GetCompanionName(ent) == b"Ada"
    assert ent.GetModel(ent) == b"models/alyx.mdl"
    assert spawned["d"]["entity"] == str(ent.EntIndex(ent))
    pos = ent.GetPos(ent)
    assert (pos.x, pos.y, pos.z) == (10, -2.5, 64)

    # chat: server -> net message -> chat.AddText in the client realm, UTF-8 intact
    _action(portal, harness, "sess_1", {"id": "act_chat", "type": "chat", "message": GREETING})
    world.run_until(lambda: bool(_result(harness, "act_chat")), what="chat done")
    assert _result(harness, "act_chat")[0]["d"]["type"] == "action_done"
    assert world.chat_lines() == [f"Ada: {GREETING}"]

    # PlayerSay reaches the daemon as player_chat (addressed to Ada: she is named)
    said = world.server.eval('__say(PLY, "Ada, où es-tu? ☃")'.encode())
    assert said == "Ada, où es-tu? ☃".encode()  # the hook does not swallow the message
    world.run_until(lambda: bool(_events(harness, "player_chat")), what="player_chat")
    chat = _events(harness, "player_chat")[0]
    assert chat["d"]["message"] == "Ada, où es-tu? ☃"
    assert chat["d"]["player"]["name"] == "Gordon" and chat["sid"] == "sess_1"

    # move_to without a navmesh: loco:Approach, at the desired speed
    _action(portal, harness, "sess_1", {"id": "act_move", "type": "move_to",
                                        "x": 200, "y": 0, "z": 64})  # fmt: skip
    world.run_until(lambda: bool(_result(harness, "act_move")), timeout=8, what="move_to done")
    assert _result(harness, "act_move")[0]["d"]["type"] == "action_done"
    pos = ent.GetPos(ent)
    assert abs(pos.x - 200) <= 20 and abs(pos.y) <= 20
    assert ent.loco.GetDesiredSpeed(ent.loco) > 0

    # move_to on a navmesh: MoveToPos follows a computed path
    server.run("navmesh.loaded = true")
    _action(portal, harness, "sess_1", {"id": "act_move2", "type": "move_to",
                                        "x": 100, "y": 150, "z": 64})  # fmt: skip
    world.run_until(lambda: bool(_result(harness, "act_move2")), timeout=8, what="move_to 2")
    assert _result(harness, "act_move2")[0]["d"]["type"] == "action_done"
    assert server.eval("navmesh.computed") >= 1
    server.run("navmesh.loaded = false")

    # follow a player: done once the companion is within the distance of the player
    server.run("PLY:SetPos(Vector(-300, 100, 0))")
    _action(portal, harness, "sess_1", {"id": "act_follow", "type": "follow",
                                        "target": "76561197960287930", "distance": 2})  # fmt: skip
    world.run_until(lambda: bool(_result(harness, "act_follow")), timeout=8, what="follow done")
    assert _result(harness, "act_follow")[0]["d"]["type"] == "action_done"
    pos = ent.GetPos(ent)
    assert ((pos.x + 300) ** 2 + (pos.y - 100) ** 2) ** 0.5 <= 2 * 52.5 + 1
    _action(portal, harness, "sess_1", {"id": "act_stop", "type": "stop"})
    world.run_until(lambda: bool(_result(harness, "act_stop")), what="stop done")
    assert [w["d"]["type"] for w in _result(harness, "act_follow")] == ["action_done"]

    # unknown and malformed actions: action_failed, no Lua error, the link stays
    _action(portal, harness, "sess_1", {"id": "act_x", "type": "teleport_to_moon"})
    _action(portal, harness, "sess_1", {"id": "act_bad", "type": "move_to", "x": "far"})
    _action(portal, harness, "sess_1", {"id": "act_emote", "type": "emote", "name": "dab"})
    _dispatch(portal, harness, "sess_1", {"type": "action", "action": "not an object"})
    _action(portal, harness, "nobody", {"id": "act_ghost", "type": "chat", "message": "hi"})
    world.run_until(
        lambda: all(_result(harness, a) for a in ("act_x", "act_bad", "act_emote", "act_ghost")),
        what="failures reported",
    )
    assert _result(harness, "act_x")[0]["d"]["reason"] == "unknown_action"
    assert _result(harness, "act_bad")[0]["d"]["reason"] == "bad_arguments"
    assert _result(harness, "act_emote")[0]["d"]["reason"] == "unknown_emote"
    assert _result(harness, "act_ghost")[0]["d"]["reason"] == "no_companion"

    # malformed frames "from the daemon" are logged and ignored
    garbage_frames = [
        b"not json", b"[1,2]", b'{"op": 5}', b'{"op":"dispatch","d":[],"s":1}',
        b'{"op":"dispatch","s":"x"}', b"{" * 200, b'{"op":"mystery","d":{}}',
    ]  # fmt: skip
    for garbage in garbage_frames:
        world.sockets.inject(garbage)
    world.run_for(0.2)
    assert link().ready and link().link_id.decode() == link_id

    # the link drops; while it is down the daemon dispatches and a player speaks;
    # it resumes (same link) and nothing is lost or run twice
    opened = world.sockets.opened
    world.sockets.drop_all()
    world.run_until(lambda: not link().ready, what="the drop noticed")
    _action(portal, harness, "sess_1", {"id": "act_away", "type": "chat", "message": "still here"})
    world.server.run('__say(PLY, "anyone there?")')
    world.run_until(lambda: bool(_result(harness, "act_away")), timeout=8, what="resumed")
    assert world.sockets.opened == opened + 1
    assert link().link_id.decode() == link_id  # resumed, not identified again
    assert any(json.loads(t)["op"] == "resume" for t in world.sockets.sent)
    world.run_until(lambda: len(_events(harness, "player_chat")) == 2, what="chat after resume")
    assert [w["d"]["message"] for w in _events(harness, "player_chat")] == [
        "Ada, où es-tu? ☃",
        "anyone there?",
    ]
    world.run_for(0.5)  # acks and heartbeats settle
    assert world.chat_lines()[-1] == "Ada: still here"
    assert world.chat_lines().count("Ada: still here") == 1
    delivered = [w["s"] for lid, w in harness.history if lid == link_id]
    assert delivered == list(range(1, len(delivered) + 1))  # each event once, in order
    assert link().in_s == 12  # every dispatch processed once (spawn + 11 actions)
    assert len(link().unacked) == 0

    # despawn removes the entity
    _dispatch(portal, harness, "sess_1", {"type": "despawn", "reason": "ended"})
    world.run_until(lambda: not server.eval('IsValid(AICompanion.Actions.companions["sess_1"])'),
                    what="despawn")  # fmt: skip
    assert not server.eval(f"IsValid(ents.GetByIndex({ent.EntIndex(ent)}))")

    # status never prints the key
    server.run('concommand.Run(NULL, "ai_companion_status")')
    console = "\n".join(server.console())
    assert "set (hidden)" in console and harness.keys["key"] not in console


@pytest.mark.parametrize("release", ["1.3.0", "master"])
@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_refused_key_stops_reconnecting(version: str, release: str, tmp_path: Path) -> None:
    """GWSockets hands onDisconnected a string (1.3.0: empty; master: the close reason):
    either way a refused key stops the addon (after the link a previous map left is
    refused too, and forgotten: nothing is saved again while it is stopped); setting the
    right key connects at once, and the events the old link never got through go out on
    the new one, once, naming the link they were numbered on."""
    data = tmp_path / "garrysmod-data"
    saved = data / "ai_companion" / "link.json"
    saved.parent.mkdir(parents=True)
    with daemon(tmp_path) as (_portal, harness):
        url = f"ws://127.0.0.1:{harness.port}/ws"
        join = {"type": "player_join", "player": {"id": "7", "name": "Kleiner"}}
        old = {"server_id": SERVER_ID, "url": url + "?encoding=json", "link_id": "lnk_old",
               "resume_token": "old", "in_s": 0, "out_s": 1, "unacked": [{"s": 1, "d": join}],
               "companions": []}  # fmt: skip
        saved.write_text(json.dumps(old), "utf-8")
        world = GmodWorld(version, {
            "ai_companion_url": url, "ai_companion_key": BAD_KEY,
            "ai_companion_server_id": SERVER_ID,
        }, gwsockets_release=release, data_dir=data)  # fmt: skip
        try:

            def state() -> Any:
                return world.server.eval("AICompanion.Connection.state")

            world.run_until(lambda: state() == b"stopped", timeout=8, what="stopped")
            world.run_for(2.5)  # longer than the first backoffs (1 s, 2 s)
            assert [json.loads(t)["op"] for t in world.sockets.sent] == ["resume", "identify"]
            assert world.sockets.opened == 2
            assert state() == b"stopped"
            assert world.server.eval("AICompanion.Connection.link.last_close") == 4004
            assert not saved.exists()  # nothing for the next map to resume
            # an event while stopped: kept for a reconnection, never written to data/
            world.server.run('AICompanion.Connection.event({type = "player_leave", '
                             'player = {id = "7", name = "Kleiner"}})')  # fmt: skip
            assert world.server.eval("AICompanion.Connection.save_state()") is False
            assert not saved.exists()
            # stopped for good, the queue is still bounded: a full one refuses, writes nothing
            world.server.run('RunConsoleCommand("ai_companion_max_unacked", "2")')
            chat = '{type = "player_chat", player = {id = "7", name = "Kleiner"}, message = "x"}'
            refused = world.server.eval(f"AICompanion.Connection.event({chat})")
            assert refused == (False, b"queue_full")
            assert world.server.eval("AICompanion.Connection.save_state()") is False
            assert not saved.exists()
            world.server.run('RunConsoleCommand("ai_companion_max_unacked", "1000")')
            console = "\n".join(world.server.console())
            assert "not retrying" in console and BAD_KEY not in console
            # the operator sets the right key (rcon, a late server.cfg): it connects at once
            world.server.run(f'RunConsoleCommand("ai_companion_key", "{harness.keys["key"]}")')
            world.run_until(lambda: bool(world.server.eval("AICompanion.Connection.link.ready")),
                            what="ready after the fix")  # fmt: skip
            assert world.sockets.opened == 3
            identify = json.loads(world.sockets.sent[2])
            assert identify["op"] == "identify" and identify["d"]["previous_link"] == "lnk_old"
            world.run_until(lambda: bool(_events(harness, "player_leave")), what="the events")
            assert [len(_events(harness, k)) for k in ("player_join", "player_leave")] == [1, 1]
            assert harness.keys["key"] not in "\n".join(world.server.console())
            link_id = world.server.eval("AICompanion.Connection.link.link_id").decode()
            assert json.loads(saved.read_text("utf-8"))["link_id"] == link_id
        finally:
            world.close()


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_map_change_loses_nothing(version: str, tmp_path: Path) -> None:
    """A map change is a fresh Lua state: the addon keeps its link in data/ and resumes
    it on the next map; what the daemon dispatched meanwhile runs there, once each, and
    the companion is back."""
    data = tmp_path / "garrysmod-data"
    data.mkdir()
    with daemon(tmp_path) as (portal, harness):
        convars = {
            "ai_companion_url": f"ws://127.0.0.1:{harness.port}/ws",
            "ai_companion_key": harness.keys["key"],
            "ai_companion_server_id": SERVER_ID,
        }
        first = GmodWorld(version, convars, data_dir=data)  # fmt: skip
        try:
            first.run_until(lambda: bool(first.server.eval("AICompanion.Connection.link.ready")),
                            what="ready")  # fmt: skip
            link_id = first.server.eval("AICompanion.Connection.link.link_id").decode()
            spawn = {"type": "spawn", "persona": PERSONA, "location": {"x": 10, "y": 20, "z": 64}}
            _dispatch(portal, harness, "sess_1", spawn)
            _action(portal, harness, "sess_1", {"id": "before", "type": "chat", "message": "one"})
            first.run_until(lambda: bool(_result(harness, "before")), what="the first chat")
            first.change_map()
        finally:
            first.close()
        state = (data / "ai_companion" / "link.json").read_text(encoding="utf-8")
        assert link_id in state and harness.keys["key"] not in state
        # while the server loads the next map, the companion is told to do things
        during = [f"during-{i}" for i in range(1, 4)]
        for action_id in during:
            _action(portal, harness, "sess_1",
                    {"id": action_id, "type": "chat", "message": action_id})  # fmt: skip
        second = GmodWorld(version, convars, data_dir=data)
        try:
            second.run_until(lambda: all(_result(harness, a) for a in during), timeout=10,
                             what="the queued actions")  # fmt: skip
            link = second.server.eval("AICompanion.Connection.link")
            assert link.link_id.decode() == link_id  # the same link, resumed
            assert json.loads(second.sockets.sent[0])["op"] == "resume"
            assert harness.edge is not None
            assert harness.edge.by_server[("gmod", SERVER_ID)] == link_id
            ent = second.server.eval('AICompanion.Actions.companions["sess_1"]')
            assert ent.GetCompanionName(ent) == b"Ada"
            pos = ent.GetPos(ent)
            assert (pos.x, pos.y, pos.z) == (10, 20, 64)
            _action(portal, harness, "sess_1", {"id": "after", "type": "chat", "message": "two"})
            second.run_until(lambda: bool(_result(harness, "after")), what="a chat after")
            second.run_for(0.5)  # acks and any resend settle
            assert second.chat_lines() == [f"Ada: {a}" for a in during] + ["Ada: two"]
            for action_id in ["before", *during, "after"]:
                assert [w["d"]["type"] for w in _result(harness, action_id)] == ["action_done"]
            numbers = [w["s"] for lid, w in harness.history if lid == link_id]
            assert numbers == list(range(1, len(numbers) + 1))  # each event once, in order
            assert len(link.unacked) == 0
        finally:
            second.close()


@contextlib.contextmanager
def two_nodes(tmp_path: Path) -> Iterator[tuple[BlockingPortal, Harness, Harness]]:
    """Two daemon nodes (two edges, each its own port) on one store, as nodes of a
    cluster share PostgreSQL: a link either one made resumes on the other."""
    with start_blocking_portal("asyncio") as portal:
        store = SQLiteStore(tmp_path / "bridge.db")
        portal.call(store.open)
        setup = {"world": "gmod", "server_id": SERVER_ID, "heartbeat_interval": 0.2}
        records = portal.call(open_bridge_store, store)
        first = Harness(records, setup)
        portal.call(first.provision)
        second = Harness(records, setup, keys=first.keys, key_ids=first.key_ids)
        portal.call(first.start)
        portal.call(second.start)
        try:
            yield portal, first, second
        finally:
            portal.call(first.stop)
            portal.call(second.stop)
            portal.call(store.close)


async def _node_dies(node: Harness) -> None:
    """A node dies: its sockets are cut without a closing handshake and nothing
    listens on its port any more."""
    assert node.edge is not None and node.server is not None
    node.server.close()
    for conn in list(node.edge.connections.values()):
        conn.ws.transport.abort()
    await node.stop()


@pytest.mark.parametrize("release", ["1.3.0", "master"])
@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_dead_node_is_replaced_by_the_next_address(
    version: str, release: str, tmp_path: Path
) -> None:
    """Issue #24: ai_companion_url lists two nodes; the node holding the link dies and the
    addon resumes the same link on the other node; what was dispatched meanwhile runs
    once each, in order."""
    with two_nodes(tmp_path) as (portal, a, b):
        urls = [f"ws://127.0.0.1:{a.port}/ws", f"ws://127.0.0.1:{b.port}/ws"]
        world = GmodWorld(version, {
            "ai_companion_url": " , ".join(urls),  # spaces around the commas are fine
            "ai_companion_key": a.keys["key"],
            "ai_companion_server_id": SERVER_ID,
        }, gwsockets_release=release)  # fmt: skip
        server = world.server
        try:
            world.run_until(lambda: bool(server.eval("AICompanion.Connection.link.ready")),
                            what="ready")  # fmt: skip
            first, second = (u + "?encoding=json" for u in urls)
            assert [s.url for s in world.sockets.sockets.values()] == [first]
            link_id = server.eval("AICompanion.Connection.link.link_id").decode()
            spawn = {"type": "spawn", "persona": PERSONA, "location": {"x": 1, "y": 2, "z": 3}}
            _dispatch(portal, a, "sess_1", spawn)
            _action(portal, a, "sess_1", {"id": "before", "type": "chat", "message": "one"})
            world.run_until(lambda: bool(_result(a, "before")), what="the first chat")

            portal.call(_node_dies, a)
            during = [f"during-{i}" for i in range(1, 4)]
            for action_id in during:  # sent through the node that is left
                _action(portal, b, "sess_1",
                        {"id": action_id, "type": "chat", "message": action_id})  # fmt: skip
            world.run_until(lambda: all(_result(b, x) for x in during), timeout=15,
                            what="the actions sent through the other node")  # fmt: skip
            assert server.eval("AICompanion.Connection.link.link_id").decode() == link_id
            assert b.edge is not None and b.edge.by_server[("gmod", SERVER_ID)] == link_id
            later = [s.url for s in world.sockets.sockets.values()][1:]
            assert later and set(later) == {second}  # the dead node was not tried again
            resumes = [json.loads(t) for t in world.sockets.sent if '"op":"resume"' in t]
            assert resumes and resumes[-1]["d"]["link_id"] == link_id
            assert not [t for t in world.sockets.sent[1:] if '"op":"identify"' in t]
            _action(portal, b, "sess_1", {"id": "after", "type": "chat", "message": "two"})
            world.run_until(lambda: bool(_result(b, "after")), what="a chat after")
            world.run_for(0.5)  # acks and any resend settle
            assert world.chat_lines() == ["Ada: one"] + [f"Ada: {x}" for x in during] + ["Ada: two"]
            history = a.history + b.history
            for action_id in ["before", *during, "after"]:
                answers = [w for w in _result(a, action_id) + _result(b, action_id)]
                assert [w["d"]["type"] for w in answers] == ["action_done"], action_id
            numbers = [w["s"] for lid, w in history if lid == link_id]
            assert numbers == list(range(1, len(numbers) + 1))  # each event once, in order
            status = server.eval("table.concat(AICompanion.Connection.status_lines(), ' | ')")
            assert f"{second} (2 of 2 addresses)" in status.decode()
        finally:
            world.close()


def test_a_map_change_resumes_on_the_node_the_link_was_on(tmp_path: Path) -> None:
    """The saved link is kept across a map change while one of its addresses is still
    listed (the list may change order), the next map connects first to the node it was
    on; with none of them listed, the addon identifies anew."""
    data = tmp_path / "garrysmod-data"
    data.mkdir()
    with two_nodes(tmp_path) as (_portal, a, b):
        urls = [f"ws://127.0.0.1:{a.port}/ws", f"ws://127.0.0.1:{b.port}/ws"]

        def world(url: str) -> GmodWorld:
            return GmodWorld("luajit21", {"ai_companion_url": url,
                                          "ai_companion_key": a.keys["key"],
                                          "ai_companion_server_id": SERVER_ID},
                             data_dir=data)  # fmt: skip

        def ready(w: GmodWorld) -> None:
            w.run_until(lambda: bool(w.server.eval("AICompanion.Connection.link.ready")),
                        timeout=10, what="ready")  # fmt: skip

        first = world(",".join(urls))
        try:
            ready(first)
            link_id = first.server.eval("AICompanion.Connection.link.link_id").decode()
            first.change_map()
        finally:
            first.close()
        second = world(f"{urls[1]}, {urls[0]}")  # the same nodes, the other order
        try:
            ready(second)
            assert second.server.eval("AICompanion.Connection.link.link_id").decode() == link_id
            assert [s.url for s in second.sockets.sockets.values()] == [f"{urls[0]}?encoding=json"]
            assert json.loads(second.sockets.sent[0])["op"] == "resume"
            second.change_map()
        finally:
            second.close()
        third = world(urls[1])  # the node the link was on is no longer listed: still one
        try:
            ready(third)
            assert third.server.eval("AICompanion.Connection.link.link_id").decode() == link_id
            third.change_map()
        finally:
            third.close()
        other = world("ws://127.0.0.1:9/ws")  # none of its nodes: a fresh link is needed
        try:
            other.run_until(lambda: any("identifying anew" in line
                                        for line in other.server.console()),
                            what="the saved link ignored")  # fmt: skip
        finally:
            other.close()


@pytest.mark.parametrize("release", ["1.3.0", "master"])
def test_the_addon_follows_a_killed_node_to_another_in_a_cluster(
    release: str, tmp_path: Path
) -> None:
    """Issue #24: three real daemon nodes on PostgreSQL and Redis; the node holding the
    addon's link is killed (SIGKILL); the addon resumes the same link on another node of
    its list, and actions signalled through any node run in the game once each, in order."""
    with daemon_cluster(tmp_path, size=3) as cluster:
        admin, creator, world_key = anyio.run(partial(
            cluster.nodes[0].keys, world="gmod", servers=[SERVER_ID]))  # fmt: skip
        anyio.run(cluster.start)
        world = GmodWorld("luajit21", {
            "ai_companion_url": ",".join(cluster.ws_urls),
            "ai_companion_key": world_key,
            "ai_companion_server_id": SERVER_ID,
        }, gwsockets_release=release)  # fmt: skip
        server = world.server

        def holder() -> Any:  # the node of the address the addon uses
            return cluster.node_at(server.eval("AICompanion.Connection.url()").decode())

        async def spawn_and_say(url: str, lines: list[str]) -> str:
            async with EncountersClient(url, creator) as me, EncountersClient(url, admin) as ops:
                persona = {"name": "Ada", "safety": {"allowedActions": ["chat"],
                                                     "maxActionsPerMinute": 600}}  # fmt: skip
                pid = (await me.submit_persona(persona))["id"]
                token = (await ops.approve_persona(pid))["token"]
                sid: str = (await me.spawn(pid, token, "gmod", SERVER_ID))["sessionId"]
                await say(url, sid, lines)
                return sid

        async def say(url: str, sid: str, lines: list[str]) -> None:
            async with EncountersClient(url, creator) as me:
                for line in lines:
                    answer = await me.signal(sid, [{"type": "chat", "message": line}])
                    assert [r["decision"] for r in answer["results"]] == ["allow"], answer

        try:
            world.run_until(lambda: bool(server.eval("AICompanion.Connection.link.ready")),
                            timeout=30, what="ready")  # fmt: skip
            link_id = server.eval("AICompanion.Connection.link.link_id").decode()
            first = holder()
            elsewhere = [n for n in cluster.nodes if n is not first]
            # spawned and told through another node than the one holding the link
            sid = anyio.run(spawn_and_say, elsewhere[0].http_url, ["one"])
            world.run_until(lambda: world.chat_lines() == ["Ada: one"], timeout=30,
                            what="the first line")  # fmt: skip

            first.kill()
            world.run_until(lambda: holder() is not first and bool(
                server.eval("AICompanion.Connection.link.ready")),
                timeout=60, what="linked to another node")  # fmt: skip
            assert server.eval("AICompanion.Connection.link.link_id").decode() == link_id
            for node in elsewhere:  # through each node left: the one holding the link too
                anyio.run(say, node.http_url, sid, [f"via {node.data.name}"])
            wanted = ["Ada: one"] + [f"Ada: via {n.data.name}" for n in elsewhere]
            world.run_until(lambda: len(world.chat_lines()) >= len(wanted), timeout=30,
                            what="the lines after the kill")  # fmt: skip
            world.run_for(1.0)  # anything that would come twice has time to
            assert world.chat_lines() == wanted
            sent = [json.loads(t)["op"] for t in world.sockets.sent]
            assert sent.count("identify") == 1 and "resume" in sent  # the same link
        except Exception:
            print(cluster.output())
            raise
        finally:
            world.close()


@pytest.mark.parametrize("release", ["1.3.0", "master"])
@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_refused_resume_identifies_once(version: str, release: str, tmp_path: Path) -> None:
    """A saved link the daemon no longer knows (4009) is given up for a new one, once."""
    data = tmp_path / "garrysmod-data"
    (data / "ai_companion").mkdir(parents=True)
    with daemon(tmp_path) as (_portal, harness):
        url = f"ws://127.0.0.1:{harness.port}/ws"
        (data / "ai_companion" / "link.json").write_text(json.dumps({
            "server_id": SERVER_ID, "url": url + "?encoding=json", "link_id": "lnk_gone",
            "resume_token": "stale", "in_s": 3, "out_s": 1, "companions": [],
            "unacked": [{"s": 1, "d": {"type": "player_join",
                                       "player": {"id": "7", "name": "Kleiner"}}}],
        }), encoding="utf-8")  # fmt: skip
        world = GmodWorld(version, {"ai_companion_url": url, "ai_companion_key": harness.keys[
            "key"], "ai_companion_server_id": SERVER_ID}, data_dir=data,
            gwsockets_release=release)  # fmt: skip
        try:
            world.run_until(lambda: bool(world.server.eval("AICompanion.Connection.link.ready")),
                            timeout=8, what="ready")  # fmt: skip
            assert [json.loads(t)["op"] for t in world.sockets.sent][:2] == ["resume", "identify"]
            assert world.sockets.opened == 2
            assert world.server.eval("AICompanion.Connection.link.link_id") != b"lnk_gone"
            # the event the old link never got through goes out on the new one
            world.run_until(lambda: bool(_events(harness, "player_join")), what="the event")
            world.run_for(1.5)
            assert world.sockets.opened == 2
        finally:
            world.close()


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_map_change_after_a_refused_resume_keeps_the_unacknowledged_events(
    version: str, tmp_path: Path
) -> None:
    """A map change between a 4009 and the next ``ready`` saves the events the daemon
    has not acknowledged (with no link left to resume, only the link they are
    numbered on); the next map identifies and sends each of them."""
    data = tmp_path / "garrysmod-data"
    (data / "ai_companion").mkdir(parents=True)
    state_file = data / "ai_companion" / "link.json"
    with daemon(tmp_path) as (_portal, harness):
        url = f"ws://127.0.0.1:{harness.port}/ws"
        state_file.write_text(json.dumps({
            "server_id": SERVER_ID, "url": url + "?encoding=json", "link_id": "lnk_gone",
            "resume_token": "stale", "in_s": 3, "out_s": 1, "companions": [],
            "unacked": [{"s": 1, "d": {"type": "player_join",
                                       "player": {"id": "7", "name": "Kleiner"}}}],
        }), encoding="utf-8")  # fmt: skip
        convars = {"ai_companion_url": url, "ai_companion_key": harness.keys["key"],
                   "ai_companion_server_id": SERVER_ID}  # fmt: skip
        first = GmodWorld(version, convars, data_dir=data)
        try:
            # the resume is refused (4009): waiting to identify, no link to resume
            first.run_until(lambda: first.server.eval("AICompanion.Connection.state") == b"waiting"
                            and first.server.eval("AICompanion.Connection.link.link_id") is None,
                            what="the refused resume")  # fmt: skip
            first.server.run('AICompanion.Connection.event({type = "player_leave", '
                             'player = {id = "7", name = "Kleiner"}})')  # fmt: skip
            first.change_map()
        finally:
            first.close()
        saved = json.loads(state_file.read_text(encoding="utf-8"))
        assert "link_id" not in saved and saved["events_link"] == "lnk_gone"
        assert [f["d"]["type"] for f in saved["unacked"]] == ["player_join", "player_leave"]
        second = GmodWorld(version, convars, data_dir=data)
        try:
            second.run_until(lambda: bool(_events(harness, "player_leave")), timeout=8,
                             what="the events of the last map")  # fmt: skip
            identify = json.loads(second.sockets.sent[0])
            assert identify["op"] == "identify" and identify["d"]["previous_link"] == "lnk_gone"
            second.run_for(0.5)
            assert [w["d"]["type"] for w in _events(harness, "player_join")] == ["player_join"]
            assert len(_events(harness, "player_leave")) == 1
        finally:
            second.close()


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_map_change_before_the_first_ready_keeps_the_queued_events(
    version: str, tmp_path: Path
) -> None:
    """The daemon is down from the server's start: events the game queued meanwhile
    (never linked, so on no link) are saved at the map change, and the next map sends
    them once the daemon is up: it identifies naming no previous link, and every event
    is stored exactly once, in order."""
    data = tmp_path / "garrysmod-data"
    state_file = data / "ai_companion" / "link.json"
    with daemon(tmp_path) as (portal, harness):
        port = harness.port
        portal.call(harness.stop)  # down before the server starts: nothing listens there
        convars = {"ai_companion_url": f"ws://127.0.0.1:{port}/ws",
                   "ai_companion_key": harness.keys["key"],
                   "ai_companion_server_id": SERVER_ID}  # fmt: skip
        first = GmodWorld(version, convars, data_dir=data)
        try:
            first.server.run(EMIT)
            first.run_until(lambda: first.sockets.opened >= 1
                            and first.server.eval("AICompanion.Connection.state") == b"waiting",
                            what="a failed connection")  # fmt: skip
            answers = [first.server.eval(f'__emit("m{i}")') for i in range(1, 4)]
            assert answers == [b"true nil"] * 3
            assert first.server.eval("AICompanion.Connection.link.ready") is False
            first.change_map()
        finally:
            first.close()
        saved = json.loads(state_file.read_text(encoding="utf-8"))
        assert "link_id" not in saved and "events_link" not in saved
        assert [f["d"]["message"] for f in saved["unacked"]] == ["m1", "m2", "m3"]
        portal.call(harness.start, port)  # the daemon is up, where it was expected
        second = GmodWorld(version, convars, data_dir=data)
        try:
            second.run_until(lambda: len(_chats(harness)) >= 3, timeout=8,
                             what="the events of the last map")  # fmt: skip
            assert any("identifying with 3 unacknowledged events" in line
                       for line in second.server.console())  # fmt: skip
            identify = json.loads(second.sockets.sent[0])
            assert identify["op"] == "identify" and "previous_link" not in identify["d"]
            second.server.run(EMIT)
            assert second.server.eval('__emit("m4")') == b"true nil"
            second.run_until(lambda: "m4" in _chats(harness), what="a new event stored")
            second.run_for(0.5)  # acks and any resend settle
            assert _chats(harness) == ["m1", "m2", "m3", "m4"]  # each once, in order
            link_id = second.server.eval("AICompanion.Connection.link.link_id").decode()
            assert [w["s"] for _, w in harness.history] == [1, 2, 3, 4]
            assert {lid for lid, _ in harness.history} == {link_id}
            assert len(second.server.eval("AICompanion.Connection.link.unacked")) == 0
        finally:
            second.close()


#: queues a player_chat event through the addon's queueing function; "true nil" when it
#: was accepted, "false queue_full" when refused
EMIT = (
    "function __emit(m) local ok, why = AICompanion.Connection.event({type = 'player_chat', "
    "player = {id = '7', name = 'Kleiner'}, message = m}) "
    "return tostring(ok) .. ' ' .. tostring(why) end"
)


def _chats(harness: Harness) -> list[str]:
    return [w["d"]["message"] for w in _events(harness, "player_chat")]


def _lines(world: GmodWorld, part: str) -> list[str]:
    return [line for line in world.server.console() if part in line]


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_full_queue_while_the_daemon_is_away_loses_nothing(version: str, tmp_path: Path) -> None:
    """The daemon goes away; the queue of events waiting for its ack fills up to
    ai_companion_max_unacked and the next events are refused (false, "queue_full"), with
    one warning; the daemon comes back on its address: every accepted event is stored
    once, in order, a line says how many were refused, and new events are accepted."""
    with daemon(tmp_path) as (portal, harness):
        world = GmodWorld(version, {
            "ai_companion_url": f"ws://127.0.0.1:{harness.port}/ws",
            "ai_companion_key": harness.keys["key"],
            "ai_companion_server_id": SERVER_ID,
            "ai_companion_max_unacked": "5",
        })  # fmt: skip
        server = world.server
        try:
            server.run(EMIT)
            world.run_until(lambda: bool(server.eval("AICompanion.Connection.link.ready")),
                            what="ready")  # fmt: skip
            assert server.eval('__emit("m1")') == b"true nil"
            world.run_until(lambda: _chats(harness) == ["m1"]
                            and len(server.eval("AICompanion.Connection.link.unacked")) == 0,
                            what="m1 acknowledged")  # fmt: skip
            port = harness.port
            portal.call(harness.stop)  # the daemon is gone: nothing listens on its port
            world.run_until(lambda: not server.eval("AICompanion.Connection.link.ready"),
                            what="the daemon gone")  # fmt: skip
            answers = []
            for i in range(2, 10):  # the game goes on: reconnections fail meanwhile
                answers.append(server.eval(f'__emit("m{i}")'))
                world.run_for(0.15)
            assert answers == [b"true nil"] * 5 + [b"false queue_full"] * 3
            assert len(_lines(world, "new events are refused")) == 1  # once, not per event
            status = " | ".join(server.eval(f"AICompanion.Connection.status_lines()[{i}]").decode()
                                for i in range(5, 8))  # fmt: skip
            assert "5 unacknowledged (at most 5)" in status and "refused:    3" in status
            state = json.loads(server.eval("AICompanion.json.encode(AICompanion.Connection.link"
                                           ":snapshot())"))  # fmt: skip
            assert [f["d"]["message"] for f in state["unacked"]] == [f"m{i}" for i in range(2, 7)]
            portal.call(harness.start, port)  # back where it was
            world.run_until(lambda: len(_lines(world, "accepted again")) == 1, timeout=15,
                            what="the queue drained")  # fmt: skip
            assert "(3 refused" in _lines(world, "accepted again")[0]
            assert server.eval('__emit("m10")') == b"true nil"
            world.run_until(lambda: "m10" in _chats(harness), what="a new event stored")
            world.run_for(0.5)  # acks and any resend settle
            # every accepted event stored once, in order; the refused ones never
            assert _chats(harness) == [f"m{i}" for i in (1, 2, 3, 4, 5, 6, 10)]
            assert len(_lines(world, "new events are refused")) == 1
        finally:
            world.close()


#: events the daemon would refuse (Lua expressions for d, sid) and the reason the addon gives
BAD_EVENTS = [
    ("{type = 'custom'}", "5", "bad_sid"),  # a modder's numeric sid
    ("{type = 'custom'}", "''", "bad_sid"),
    ("{type = 'custom'}", "string.rep('x', 65)", "bad_sid"),
    ("'player_chat'", "nil", "bad_data"),
    ("AICompanion.json.array({'a'})", "nil", "bad_data"),
    ("{type = 'custom', f = print}", "nil", "bad_data"),
    ("{type = 'custom', log = string.rep('x', 70000)}", "nil", "too_big"),
    ("(function() local t = {type = 'custom'} local n = t for i = 1, 40 do n.n = {} n = n.n end "
     "return t end)()", "nil", "too_deep"),
]  # fmt: skip


@pytest.mark.parametrize("version", list(LUAJITS))
def test_an_event_the_daemon_would_refuse_is_refused_at_the_call(
    version: str, tmp_path: Path
) -> None:
    """An event the daemon would close the link over (a numeric sid, a huge or deep
    payload, data that is no object) is refused at the call with why, logged once per
    reason, and neither queued nor numbered: the events before and after it arrive once,
    in order, on the one connection. Queued, it would be resent after every
    reconnection and close the link each time, holding back every event behind it."""
    with daemon(tmp_path) as (_portal, harness):
        world = _world(version, harness, harness.keys["key"])
        server = world.server
        try:
            server.run(EMIT)
            world.run_until(lambda: bool(server.eval("AICompanion.Connection.link.ready")),
                            what="ready")  # fmt: skip
            assert server.eval('__emit("before")') == b"true nil"
            answers = [
                server.eval(f"(function() local ok, why = AICompanion.Connection.event({d}, {sid}) "
                            "return tostring(ok) .. ' ' .. tostring(why) end)()")
                for d, sid, _ in BAD_EVENTS
            ]  # fmt: skip
            assert answers == [f"false {why}".encode() for _, _, why in BAD_EVENTS]
            assert server.eval('__emit("after")') == b"true nil"
            world.run_until(lambda: _chats(harness) == ["before", "after"]
                            and len(server.eval("AICompanion.Connection.link.unacked")) == 0,
                            what="both events stored")  # fmt: skip
            world.run_for(0.5)  # a close or a resend would show now
            assert _chats(harness) == ["before", "after"]
            assert [w["s"] for _, w in harness.history] == [1, 2]  # no number used
            assert server.eval("AICompanion.Connection.connections") == 1
            assert server.eval("AICompanion.Connection.state") == b"open"
            refusals = _lines(world, "refused an event")
            assert len(refusals) == 4  # once per reason
            assert any("bad_sid" in line and "1 to 64 characters" in line for line in refusals)
            assert server.eval("AICompanion.Connection.link.out_s") == 2
            status = json.loads(server.eval("AICompanion.json.encode(AICompanion.json.array("
                                            "AICompanion.Connection.status_lines()))"))  # fmt: skip
            assert any("bad events: 8 refused" in line for line in status)
        finally:
            world.close()


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_state_file_beyond_the_bound_is_restored_whole(version: str, tmp_path: Path) -> None:
    """A state file holding more waiting events than ai_companion_max_unacked (written
    with a higher bound, or by an older addon) is taken up whole; new events are refused
    until the daemon has them all, then accepted."""
    data = tmp_path / "garrysmod-data"
    state_file = data / "ai_companion" / "link.json"
    state_file.parent.mkdir(parents=True)
    with daemon(tmp_path) as (_portal, harness):
        url = f"ws://127.0.0.1:{harness.port}/ws"
        waiting = [{"s": i, "d": {"type": "player_chat", "player": {"id": "7", "name": "K"},
                                  "message": f"old{i}"}} for i in range(1, 9)]  # fmt: skip
        state_file.write_text(json.dumps({
            "server_id": SERVER_ID, "url": url + "?encoding=json", "link_id": "lnk_gone",
            "resume_token": "stale", "in_s": 0, "out_s": 8, "companions": [], "unacked": waiting,
        }), encoding="utf-8")  # fmt: skip
        world = GmodWorld(version, {
            "ai_companion_url": url, "ai_companion_key": harness.keys["key"],
            "ai_companion_server_id": SERVER_ID, "ai_companion_max_unacked": "3",
        }, data_dir=data)  # fmt: skip
        server = world.server
        try:
            server.run(EMIT)
            assert server.eval('__emit("new1")') == b"false queue_full"
            assert server.eval("AICompanion.Connection.save_state()") is True
            saved = json.loads(state_file.read_text(encoding="utf-8"))
            assert [f["d"]["message"] for f in saved["unacked"]] == [f"old{i}" for i in range(1, 9)]
            world.run_until(lambda: len(_lines(world, "accepted again")) == 1, timeout=10,
                            what="the queue drained")  # fmt: skip
            assert "(1 refused" in _lines(world, "accepted again")[0]
            assert server.eval('__emit("new2")') == b"true nil"
            world.run_until(lambda: "new2" in _chats(harness), what="a new event stored")
            world.run_for(0.5)
            assert _chats(harness) == [f"old{i}" for i in range(1, 9)] + ["new2"]
        finally:
            world.close()


@pytest.mark.parametrize("version", list(LUAJITS))
@pytest.mark.parametrize(
    ("value", "bound"),
    [
        ("5", 5),
        ("7.9", 7),
        ("1e400", 1000),  # infinity would be no bound at all
        ("-1e400", 1000),
        ("nan", 1000),
        ("0", 1000),
        ("many", 1000),
        ("1e6", 100000),  # the cap
    ],
)
def test_max_unacked_is_a_sane_bound(version: str, value: str, bound: int, tmp_path: Path) -> None:
    """ai_companion_max_unacked below 1, not a number or not finite is the default
    (1,000); above 100,000 it is 100,000. With the daemon away, new events are refused
    at that bound, as ai_companion_status says."""
    with daemon(tmp_path) as (portal, harness):
        port = harness.port
        portal.call(harness.stop)  # the daemon is away: every event waits
        world = GmodWorld(version, {
            "ai_companion_url": f"ws://127.0.0.1:{port}/ws",
            "ai_companion_key": harness.keys["key"],
            "ai_companion_server_id": SERVER_ID,
            "ai_companion_max_unacked": value,
        })  # fmt: skip
        server = world.server
        try:
            status = server.eval("table.concat(AICompanion.Connection.status_lines(), '|')")
            assert f"0 unacknowledged (at most {bound})" in status.decode()
            if bound > 1000:
                return  # the queue is not filled to the cap: the bound is all that matters
            server.run(EMIT)
            accepted = server.eval(
                "(function() local n = 0 for i = 1, 1001 do"
                " if __emit('m' .. i) == 'true nil' then n = n + 1 end end return n end)()"
            )  # fmt: skip
            assert accepted == bound
            assert server.eval('__emit("one more")') == b"false queue_full"
        finally:
            world.close()


#: every ACT enum the addon may use, with its value, as the GMod wiki lists them
#: (wiki.facepunch.com/gmod/Enums/ACT)
WIKI_ACTS = {
    "ACT_IDLE": 1, "ACT_WALK": 6, "ACT_RUN": 10, "ACT_GMOD_GESTURE_AGREE": 1610,
    "ACT_GMOD_GESTURE_BECON": 1611, "ACT_GMOD_GESTURE_BOW": 1612,
    "ACT_GMOD_GESTURE_DISAGREE": 1613, "ACT_GMOD_TAUNT_SALUTE": 1614,
    "ACT_GMOD_GESTURE_WAVE": 1615, "ACT_GMOD_TAUNT_PERSISTENCE": 1616,
    "ACT_GMOD_TAUNT_MUSCLE": 1617, "ACT_GMOD_TAUNT_LAUGH": 1618, "ACT_GMOD_GESTURE_POINT": 1619,
    "ACT_GMOD_TAUNT_CHEER": 1620, "ACT_GMOD_TAUNT_DANCE": 1642, "ACT_GMOD_TAUNT_ROBOT": 1643,
}  # fmt: skip


def test_every_act_enum_is_the_wikis() -> None:
    used = set()
    for path in (ADDON / "lua").rglob("*.lua"):
        used |= set(re.findall(r"\bACT_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    assert used and used <= set(WIKI_ACTS), used - set(WIKI_ACTS)
    lua = new_runtime("luajit21")
    lua.execute(b"SERVER = true")
    lua.execute((Path(__file__).parent / "gmod" / "stubs.lua").read_bytes())
    assert {name: lua.globals()[name.encode()] for name in used} == {
        name: WIKI_ACTS[name] for name in used
    }


@pytest.mark.parametrize("version", list(LUAJITS))
def test_console_config_and_privacy(version: str, tmp_path: Path) -> None:
    with daemon(tmp_path) as (portal, harness):
        url = f"ws://127.0.0.1:{harness.port}/ws"
        world = GmodWorld(version, {"ai_companion_url": "ws://", "ai_companion_key": "",
                                    "ai_companion_server_id": SERVER_ID})  # fmt: skip
        server = world.server
        try:

            def state() -> bytes:
                value: bytes = server.eval("AICompanion.Connection.state")
                return value

            # no key yet: nothing connects; a key set later (rcon) starts the link, and a
            # malformed URL (GWSockets returns nothing) stops it with a clear line
            world.run_for(0.2)
            assert state() == b"idle" and world.sockets.opened == 0
            server.run(f'RunConsoleCommand("ai_companion_key", "{harness.keys["key"]}")')
            world.run_for(0.2)
            assert state() == b"stopped" and world.sockets.opened == 0
            assert any("bad ai_companion_url" in line for line in server.console())
            server.run(f'RunConsoleCommand("ai_companion_url", "{url}")')
            world.run_until(lambda: bool(server.eval("AICompanion.Connection.link.ready")),
                            what="ready")  # fmt: skip
            assert world.sockets.opened == 1

            # ai_companion_status answers the admin who ran it, in his console
            server.run(
                'ADMIN = __add_player("Breen", "76561197960287931", 5000, 0, 0)'
                " ADMIN._superadmin = true"
                ' GUEST = __add_player("Alyx", "76561197960287932", 5000, 50, 0)'
            )
            before = len(server.console())
            server.run('concommand.Run(ADMIN, "ai_companion_status")'
                       ' concommand.Run(GUEST, "ai_companion_status")')  # fmt: skip

            def printed(who: str) -> list[str]:
                lines = server.eval(f"{who}._printed or {{}}")
                return [lines[i].text.decode() for i in range(1, len(lines) + 1)]

            assert printed("ADMIN")[0] == "AI companion bridge: open\n"
            assert any("set (hidden)" in line for line in printed("ADMIN"))
            assert printed("GUEST") == ["ai_companion_status is for superadmins\n"]
            assert len(server.console()) == before  # nothing in the server console

            # chat: by default only what names a companion or is said near one
            spawn = {"type": "spawn", "persona": PERSONA, "location": {"x": 0, "y": 0, "z": 0}}
            _dispatch(portal, harness, "sess_1", spawn)
            world.run_until(lambda: bool(_events(harness, "spawned")), what="spawned")
            # a spawn the addon cannot carry out is reported as a final kick, with why
            bad = {"type": "spawn", "persona": PERSONA, "location": {"x": "far", "y": 0, "z": 0}}
            _dispatch(portal, harness, "sess_bad", bad)
            world.run_until(lambda: bool(_events(harness, "kicked")), what="kicked")
            (kicked,) = _events(harness, "kicked")
            assert kicked["sid"] == "sess_bad"
            assert kicked["d"] == {"type": "kicked", "reason": "spawn failed: bad_arguments",
                                   "final": True}  # fmt: skip
            for line in ("far away and private", "Ada, can you hear me?", "/vote Ada kick"):
                server.run(f'__say(ADMIN, "{line}")')
            server.run('__say(GUEST, "Ada only for my team", true)')
            server.run('ADMIN:SetPos(Vector(100, 0, 0)) __say(ADMIN, "nice weather")'
                       ' __say(ADMIN, "a secret for my team", true)')  # fmt: skip
            server.run('RunConsoleCommand("ai_companion_chat", "0") __say(ADMIN, "Ada, hi")')
            server.run('RunConsoleCommand("ai_companion_chat", "2") __say(GUEST, "/rtv")')
            world.run_until(lambda: any(c["d"]["message"] == "/rtv"
                                        for c in _events(harness, "player_chat")),
                            what="chat with ai_companion_chat 2")  # fmt: skip
            assert [(c["d"]["message"], c.get("sid")) for c in _events(harness, "player_chat")] == [
                ("Ada, can you hear me?", "sess_1"),
                ("Ada only for my team", "sess_1"),
                ("nice weather", None),
                ("/rtv", None),
            ]

            # animations: an activity starts only when it changes; gestures exist only on
            # models that have them (the NPC model here has none)
            ent = server.eval('AICompanion.Actions.companions["sess_1"]')
            world.run_for(0.5)
            assert ent._activity_starts == 1 and ent._activity == 1  # ACT_IDLE, once
            _action(portal, harness, "sess_1", {"id": "walk", "type": "move_to",
                                                "x": 150, "y": 0, "z": 0})  # fmt: skip
            world.run_until(lambda: bool(_result(harness, "walk")), timeout=8, what="walk")
            world.run_for(0.3)
            assert ent._activity_starts == 3 and ent._activity == 1  # idle, run, idle
            _action(portal, harness, "sess_1", {"id": "wave", "type": "emote", "name": "wave"})
            world.run_until(lambda: bool(_result(harness, "wave")), what="wave")
            assert _result(harness, "wave")[0]["d"]["detail"] == "this model has no wave gesture"
            ent.SetModel(ent, b"models/player/alyx.mdl")
            _action(portal, harness, "sess_1", {"id": "wave2", "type": "emote", "name": "wave"})
            world.run_until(lambda: bool(_result(harness, "wave2")), what="wave 2")
            assert _result(harness, "wave2")[0]["d"]["type"] == "action_done"
            assert list(ent._gestures.values()) == [1615]  # ACT_GMOD_GESTURE_WAVE
        finally:
            world.close()


# -- the link state machine, without sockets ---------------------------------------------------


class LinkDriver:
    """``link.lua`` in one runtime, fed frames (made by the addon's own codec) and times."""

    def __init__(self, version: str) -> None:
        self.codec = Codec(new_runtime(version))
        lua = self.codec.lua
        self.Link = lua.eval(b'include("ai_companion/link.lua")')
        self.rolls = [0.5]
        self.link = self.Link.new(lua.table_from({
            b"world": b"gmod", b"server_id": b"srv-1", b"key": b"secret-key",
            b"capabilities": lua.table(b"chat"), b"random": lambda: self.rolls[0],
        }))  # fmt: skip
        self._call = lua.eval(b"function(link, m, ...) return link[m](link, ...) end")

    def call(self, method: str, *args: Any) -> list[dict[str, Any]]:
        out = self._call(self.link, method.encode(), *args)
        if isinstance(out, tuple):  # event's effects and why it was refused
            out = out[0]
        effects = []
        for i in range(1, len(out) + 1):
            e = out[i]
            kind = e.kind.decode()
            if kind == "send":
                effects.append({"send": json.loads(e.data)})
            elif kind in ("dispatch", "ready", "resumed", "error"):
                effects.append({kind: e.frame.s if kind == "dispatch" else e.frame.op.decode()})
            elif kind == "log":
                effects.append({"log": e.message.decode()})
            else:
                effects.append({kind: e.s if kind == "acked" else None})
        return effects

    def event(self, kind: str) -> tuple[list[dict[str, Any]], str | None]:
        """Queue an event of type ``kind``: its effects, and why it was refused (or None)."""
        out = self._call(self.link, b"event", self.codec.to_lua({"type": kind}), None)
        effects, why = out if isinstance(out, tuple) else (out, None)
        logs = [e.message.decode() for e in (effects[i] for i in range(1, len(effects) + 1))
                if e.kind == b"log"]  # fmt: skip
        return [{"log": line} for line in logs], why.decode() if why is not None else None

    def closed(self, code: int | None) -> str:
        action: bytes = self._call(self.link, b"closed", code)
        return action.decode()

    def receive(self, frame: dict[str, Any], now: float) -> list[dict[str, Any]]:
        return self.call("receive", self.codec.encode(frame), now)

    def sent(self, effects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e["send"] for e in effects if "send" in e]


@pytest.mark.parametrize("version", list(LUAJITS))
def test_link_state_machine(version: str) -> None:
    drv = LinkDriver(version)
    hello = {"op": "hello", "d": {"protocol": 1, "heartbeat_interval": 1000,
                                   "max_frame_bytes": 65536}}  # fmt: skip
    drv.call("connected", 0.0)
    (identify,) = drv.sent(drv.receive(hello, 0.0))
    assert identify["op"] == "identify" and identify["d"]["key"] == "secret-key"
    assert identify["d"]["capabilities"] == ["chat"] and identify["d"]["protocol"] == 1
    ready = {"op": "ready", "d": {"link_id": "lnk", "resume_token": "tok",
                                  "heartbeat_interval": 1000, "sessions": []}}  # fmt: skip
    assert drv.receive(ready, 0.1) == [{"ready": "ready"}]
    # the first heartbeat comes after interval x r (r = 0.5 here), then every interval
    assert drv.call("tick", 0.4) == []
    assert drv.sent(drv.call("tick", 0.5)) == [{"op": "heartbeat", "d": {"ack": 0}}]
    assert drv.call("tick", 1.4) == []
    assert drv.sent(drv.call("tick", 1.5)) == [{"op": "heartbeat", "d": {"ack": 0}}]
    # dispatches: acked every 32, else at the next tick; a replay is acked, not run
    effects: list[dict[str, Any]] = []
    for s in range(1, 34):
        d = {"type": "action", "action": {"type": "chat", "message": "x"}}
        effects += drv.receive({"op": "dispatch", "d": d, "s": s, "sid": "a"}, 2.0)
    assert [e["dispatch"] for e in effects if "dispatch" in e] == list(range(1, 34))
    assert drv.sent(effects) == [{"op": "ack", "d": {"s": 32}}]
    assert drv.sent(drv.call("tick", 2.0)) == [{"op": "ack", "d": {"s": 33}}]
    replay = drv.receive({"op": "dispatch", "d": {"type": "x"}, "s": 5}, 2.0)
    assert replay == [{"send": {"op": "ack", "d": {"s": 33}}}]
    # events: numbered, kept until acked; rate_limited -> resend after 1 s, 40 at a time
    for i in range(45):
        drv.call("event", drv.codec.to_lua({"type": "player_chat", "message": str(i)}), None)
    drv.receive({"op": "ack", "d": {"s": 3}}, 2.0)
    drv.receive({"op": "error", "d": {"code": "rate_limited", "message": "slow"}}, 2.0)
    assert [f for f in drv.sent(drv.call("tick", 2.5)) if f["op"] == "event"] == []
    batch = [f for f in drv.sent(drv.call("tick", 3.0)) if f["op"] == "event"]
    assert [f["s"] for f in batch] == list(range(4, 44))
    drv.receive({"op": "ack", "d": {"s": 43}}, 3.5)  # the daemon took the first batch
    rest = [f for f in drv.sent(drv.call("tick", 4.0)) if f["op"] == "event"]
    assert [f["s"] for f in rest] == [44, 45]
    # a drop after ready: resume with the last dispatch processed
    assert drv.closed(None) == "resume"
    assert drv.link.link_id == b"lnk"
    drv.call("connected", 5.0)
    (resume,) = drv.sent(drv.receive(hello, 5.0))
    assert resume == {"op": "resume", "d": {"link_id": "lnk", "resume_token": "tok", "last_s": 33}}
    resent = drv.sent(drv.receive({"op": "resumed", "d": {"replayed": 0}}, 5.0))
    assert [f["s"] for f in resent] == [44, 45]  # the unacked events, in order
    # the watchdog: nothing from the daemon for 2 x interval + 5 s closes the socket
    assert {"close": None} in drv.call("tick", 12.1)


@pytest.mark.parametrize("version", list(LUAJITS))
@pytest.mark.parametrize(
    ("previous", "resent"),
    [
        ({"link_id": "lnk", "in_s": 2}, ["c"]),  # a and b stored: their acks were lost
        ({"link_id": "other", "in_s": 2}, ["a", "b", "c"]),  # another link tells nothing
        (None, ["a", "b", "c"]),  # an older daemon: every one again
    ],
)
def test_identifying_again_drops_the_events_the_daemon_stored(
    version: str, previous: dict[str, Any] | None, resent: list[str]
) -> None:
    """After 4009 the addon identifies naming the link its unacknowledged events are
    numbered on (``previous_link``); ``ready``'s ``previous`` says how far the daemon
    stored them, and only the rest is sent again, numbered from 1."""
    drv = LinkDriver(version)
    hello = {"op": "hello", "d": {"heartbeat_interval": 1000}}
    drv.call("connected", 0.0)
    (identify,) = drv.sent(drv.receive(hello, 0.0))
    assert "previous_link" not in identify["d"]
    drv.receive({"op": "ready", "d": {"link_id": "lnk", "resume_token": "tok"}}, 0.0)
    for kind in ("a", "b", "c"):
        drv.call("event", drv.codec.to_lua({"type": kind}), None)
    assert drv.closed(4009) == "identify"
    drv.call("connected", 1.0)
    (identify,) = drv.sent(drv.receive(hello, 1.0))
    assert identify["op"] == "identify" and identify["d"]["previous_link"] == "lnk"
    d: dict[str, Any] = {"link_id": "lnk2", "resume_token": "tok2"}
    if previous is not None:
        d["previous"] = previous
    again = [f for f in drv.sent(drv.receive({"op": "ready", "d": d}, 1.0)) if f["op"] == "event"]
    assert [(f["s"], f["d"]["type"]) for f in again] == list(enumerate(resent, start=1))


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_snapshot_after_a_refused_resume_identifies_naming_the_events_link(
    version: str,
) -> None:
    """A snapshot taken after 4009 holds no link to resume but the unacknowledged events
    and the link they are numbered on: restored in a fresh state, the link identifies
    naming it, and ``previous`` drops those the daemon stored."""
    drv = LinkDriver(version)
    hello = {"op": "hello", "d": {"heartbeat_interval": 1000}}
    drv.call("connected", 0.0)
    drv.receive(hello, 0.0)
    drv.receive({"op": "ready", "d": {"link_id": "lnk", "resume_token": "tok"}}, 0.0)
    for kind in ("a", "b", "c"):
        drv.call("event", drv.codec.to_lua({"type": kind}), None)
    assert drv.closed(4009) == "identify"
    # written to data/ as JSON, read back by the next map's fresh Lua state
    snapshot = b"function(link) return AICompanion.json.encode(link:snapshot()) end"
    text = drv.codec.lua.eval(snapshot)(drv.link)
    fresh = LinkDriver(version)
    state = fresh.codec.lua.eval(b"function(t) return AICompanion.json.decode(t) end")(text)
    assert fresh._call(fresh.link, b"restore", state) is True
    fresh.call("connected", 1.0)
    (identify,) = fresh.sent(fresh.receive(hello, 1.0))
    assert identify["op"] == "identify" and identify["d"]["previous_link"] == "lnk"
    ready = {"link_id": "lnk2", "resume_token": "tok2", "previous": {"link_id": "lnk", "in_s": 1}}
    again = [f for f in fresh.sent(fresh.receive({"op": "ready", "d": ready}, 1.0))
             if f["op"] == "event"]  # fmt: skip
    assert [(f["s"], f["d"]["type"]) for f in again] == [(1, "b"), (2, "c")]


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_snapshot_before_any_ready_keeps_the_queued_events(version: str) -> None:
    """Events queued before the first ``ready`` (the daemon away since the server
    started) are on no link: the snapshot holds them with neither a link identity nor an
    events link; restored in a fresh state, the link identifies naming no previous link
    and sends each of them once, numbered from 1 on the new link."""
    drv = LinkDriver(version)
    hello = {"op": "hello", "d": {"heartbeat_interval": 1000}}
    drv.call("connected", 0.0)  # the daemon never answers: no hello, no ready
    assert [drv.event(k) for k in "abc"] == [([], None)] * 3
    snapshot = b"function(link) return AICompanion.json.encode(link:snapshot()) end"
    text = drv.codec.lua.eval(snapshot)(drv.link)
    saved = json.loads(text)
    assert "link_id" not in saved and "events_link" not in saved
    fresh = LinkDriver(version)
    state = fresh.codec.lua.eval(b"function(t) return AICompanion.json.decode(t) end")(text)
    assert fresh._call(fresh.link, b"restore", state) is True
    assert len(fresh.link.unacked) == 3
    fresh.call("connected", 1.0)
    (identify,) = fresh.sent(fresh.receive(hello, 1.0))
    assert identify["op"] == "identify" and "previous_link" not in identify["d"]
    ready = {"op": "ready", "d": {"link_id": "lnk", "resume_token": "tok"}}
    sent = fresh.sent(fresh.receive(ready, 1.0))
    assert [(f["s"], f["d"]["type"]) for f in sent] == [(1, "a"), (2, "b"), (3, "c")]
    assert fresh.receive({"op": "ack", "d": {"s": 3}}, 1.1) == [{"acked": 3}]
    later = fresh.sent(fresh.call("tick", 2.0)) + fresh.sent(fresh.call("tick", 3.0))
    assert [f for f in later if f["op"] == "event"] == []  # once each, never again
    assert len(fresh.link.unacked) == 0


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_full_queue_refuses_new_events_and_drops_none(version: str) -> None:
    """At ``max_unacked`` events waiting for the daemon's ack, new events are refused
    (never a queued one dropped); one warning per outage, one line with how many were
    refused once the queue has drained to half; after acks new events are accepted. A
    new link renumbers every waiting event, even beyond the bound."""
    drv = LinkDriver(version)
    drv.link.max_unacked = 4
    hello = {"op": "hello", "d": {"heartbeat_interval": 1000}}
    drv.call("connected", 0.0)
    drv.receive(hello, 0.0)
    drv.receive({"op": "ready", "d": {"link_id": "lnk", "resume_token": "tok"}}, 0.0)
    assert drv.closed(1006) == "resume"  # the daemon is away
    assert [drv.event(k) for k in "abcd"] == [([], None)] * 4
    logs, why = drv.event("e")
    assert why == "queue_full" and len(logs) == 1 and "refused" in logs[0]["log"]
    assert [drv.event(k) for k in "fg"] == [([], "queue_full")] * 2  # warned once
    snapshot = drv.codec.lua.eval(b"function(l) return AICompanion.json.encode(l:snapshot()) end")
    saved = json.loads(snapshot(drv.link))
    assert [(f["s"], f["d"]["type"]) for f in saved["unacked"]] == list(enumerate("abcd", 1))
    # back: all four resent; an ack frees room, new events are accepted, refused once more
    drv.call("connected", 1.0)
    drv.receive(hello, 1.0)
    resent = drv.sent(drv.receive({"op": "resumed", "d": {"replayed": 0}}, 1.0))
    assert [(f["s"], f["d"]["type"]) for f in resent] == list(enumerate("abcd", 1))
    assert drv.receive({"op": "ack", "d": {"s": 1}}, 1.1) == [{"acked": 1}]  # 3 > half
    assert drv.event("h") == ([], None)
    assert drv.event("i") == ([], "queue_full")  # the same outage: no second warning
    effects = drv.receive({"op": "ack", "d": {"s": 3}}, 1.2)  # 2 left: half the bound
    assert effects[0] == {"acked": 3} and len(effects) == 2
    assert "accepted again" in effects[1]["log"] and "4 refused" in effects[1]["log"]
    assert [drv.event(k) for k in "jk"] == [([], None)] * 2
    assert [f.d.type.decode() for f in drv.link.unacked.values()] == ["d", "h", "j", "k"]
    logs, why = drv.event("l")  # a new outage warns again
    assert why == "queue_full" and len(logs) == 1
    # the link is refused (4009): a new one numbers all four again, beyond a lower bound
    drv.link.max_unacked = 2
    assert drv.closed(4009) == "identify"
    drv.call("connected", 2.0)
    drv.receive(hello, 2.0)
    ready = {"op": "ready", "d": {"link_id": "lnk2", "resume_token": "t"}}
    again = drv.sent(drv.receive(ready, 2.0))
    assert [(f["s"], f["d"]["type"]) for f in again] == list(enumerate("dhjk", 1))
    assert drv.event("m") == ([], "queue_full")


@pytest.mark.parametrize("version", list(LUAJITS))
def test_the_bad_event_limits_are_the_daemons(version: str) -> None:
    """``Link.bad_event`` draws the daemon's lines (frames.py): a sid of 64 characters
    (not bytes) passes and 65 do not; d is level 1 and a value deeper than 32 is refused;
    the frame as json.lua encodes it, with the largest s, may be 65,536 bytes and no more;
    a table that refers to itself is refused without encoding it."""
    lua = LinkDriver(version).codec.lua
    check = lua.eval(
        b"function(src) local d, sid = load(src)() "
        b"return tostring(AICompanion.Link.bad_event(d, sid)) end"
    )
    nested = "local d = {type = 'x'} local n = d for i = 1, %d do n.n = {} n = n.n end "

    def why(src: str) -> str:
        answer: bytes = check(src.encode())
        return answer.decode()

    assert why("return {type = 'x'}, string.rep('\\240\\159\\145\\139', 64)") == "nil"
    assert why("return {type = 'x'}, string.rep('\\240\\159\\145\\139', 65)") == "bad_sid"
    assert why("return AICompanion.json.null, nil") == "bad_data"
    assert why(nested % 31 + "return d, nil") == "nil"  # its innermost table is empty
    assert why(nested % 32 + "return d, nil") == "too_deep"
    assert why("local d = {type = 'x'} d.me = d return d, nil") == "too_deep"
    frame = lua.eval(
        b"function(n) return #AICompanion.protocol.encode({op = 'event', s = 9007199254740991, "
        b"d = AICompanion.json.object({type = 'x', log = string.rep('x', n)})}) end"
    )
    fits = 65536 - frame(0)
    assert frame(fits) == 65536
    assert why(f"return {{type = 'x', log = string.rep('x', {fits})}}, nil") == "nil"
    assert why(f"return {{type = 'x', log = string.rep('x', {fits + 1})}}, nil") == "too_big"


@pytest.mark.parametrize("version", list(LUAJITS))
def test_close_codes_and_backoff(version: str) -> None:
    drv = LinkDriver(version)
    P = drv.codec.P
    expected = {1000: "stop", 4004: "stop", 4011: "stop", 4014: "stop", 4003: "identify",
                4009: "identify", 4007: "identify",
                1001: "resume", 1006: "resume", 4000: "resume", 4002: "resume", 4005: "resume",
                4008: "resume", 4012: "resume", 4013: "resume", 4999: "resume"}  # fmt: skip
    assert {c: P.retry_after(c).decode() for c in expected} == expected
    for attempt, base in enumerate([1, 2, 4, 8, 16, 32, 60, 60, 60]):
        low = P.backoff(attempt, lambda: 0.0)
        high = P.backoff(attempt, lambda: 0.999999)
        assert low == base * 0.5 and base * 0.99 < high <= base
    # GWSockets reports no close code: a close while identify waits for ready is a
    # refused key (stop); while resume waits for resumed, an invalid session (identify)
    drv.call("connected", 0.0)
    drv.receive({"op": "hello", "d": {"heartbeat_interval": 1000}}, 0.0)
    assert drv.closed(None) == "stop"
    assert drv.link.stopped and drv.link.last_close == 4004
    drv2 = LinkDriver(version)
    drv2.link.link_id, drv2.link.resume_token = b"lnk", b"tok"
    drv2.call("connected", 0.0)
    drv2.receive({"op": "hello", "d": {"heartbeat_interval": 1000}}, 0.0)
    assert drv2.closed(None) == "identify"
    assert not drv2.link.stopped and drv2.link.link_id is None  # identify next time


def test_addon_is_plain_lua_51() -> None:
    """No GMod-only syntax (!=, &&, ||, !, continue, // comments): every file compiles
    in stock LuaJIT (both versions), which is also what loading them above proves."""
    files = sorted((ADDON / "lua").rglob("*.lua"))
    assert len(files) >= 10
    for version in LUAJITS:
        lua = new_runtime(version)
        check = lua.eval(b"function(src, name) local f, err = loadstring(src, name) return err end")
        for path in files:
            err = check(path.read_bytes(), str(path).encode())
            assert err is None, err.decode()


# -- a companion in the game: the daemon's deployment flow with a companion host ---------------

#: the companion's script: it answers each chat line with what the player said (its
#: reply passes moderation, so a profane word comes back masked); other events go to the
#: offline brain, which greets a player who joins
ECHO = CompanionScript()


@ECHO.on("player_chat")
async def _echo(ctx: Context, event: dict[str, Any]) -> None:
    await ctx.say(f"You said: {event['message']}")


@dataclass
class Deployed:
    """The daemon as ``ae bridge serve --script`` runs it: a ``BridgeEdge`` and a
    ``DeploymentService`` whose ``CompanionHost`` runs :data:`ECHO`."""

    store: SQLiteStore
    edge: BridgeEdge
    service: DeploymentService
    host: CompanionHost
    ws: Any
    key: str
    events: list[dict[str, Any]] = field(default_factory=list)  # from the game, in order

    @property
    def port(self) -> int:
        return int(self.ws.sockets[0].getsockname()[1])


@contextlib.contextmanager
def deployment_daemon(tmp_path: Path) -> Iterator[tuple[BlockingPortal, Deployed]]:
    with start_blocking_portal("asyncio") as portal:

        async def start() -> Deployed:
            store = SQLiteStore(tmp_path / "daemon.db")
            await store.open()
            records = await open_bridge_store(store)
            edge = BridgeEdge(records, heartbeat_interval=0.2)
            moderator = ContentModerator(TextFilter.default(), audit=AuditLogger(store))
            service = DeploymentService(store, moderator, edge)
            service.companions = host = CompanionHost(moderator, script=ECHO, seed=1)
            _, key = await create_world_key(records, "gmod e2e", "gmod")
            ws = await edge.serve("127.0.0.1", 0)
            deployed = Deployed(store, edge, service, host, ws, key)

            async def record(_conn: Any, frame: Frame) -> None:
                deployed.events.append(frame.to_wire())

            edge.on_event.append(record)
            return deployed

        async def stop(d: Deployed) -> None:
            await d.host.aclose()
            await d.edge.close_all()
            d.ws.close()
            await d.ws.wait_closed()
            await d.store.close()

        deployed = portal.call(start)
        try:
            yield portal, deployed
        finally:
            portal.call(stop, deployed)


@pytest.mark.parametrize("version", list(LUAJITS))
def test_companion_replies_in_game(version: str, tmp_path: Path) -> None:
    """Issue #10, end to end: a player's chat in the Lua harness reaches the daemon's
    deployment flow as ``player_chat``; the session's companion answers, moderated
    (``sanitize``: the profane word masked), and the reply shows in the client's chat."""
    with deployment_daemon(tmp_path) as (portal, d):
        world = GmodWorld(version, {
            "ai_companion_url": f"ws://127.0.0.1:{d.port}/ws",
            "ai_companion_key": d.key,
            "ai_companion_server_id": SERVER_ID,
        })  # fmt: skip
        try:
            world.run_until(lambda: bool(world.server.eval("AICompanion.Connection.link.ready")),
                            what="ready")  # fmt: skip
            persona = PersonaCore.model_validate({
                "id": "ignored", "name": "Ada", "description": "A curious guide.",
                "traits": {"tone": "curious"}, "goals": ["guide"],
                "safety": {"allowedActions": ["chat", "look_at"], "moderation": "sanitize",
                           "maxActionsPerMinute": 60},
                "embodiment": {"avatar": "models/alyx.mdl", "emotes": ["wave"]},
            })  # fmt: skip
            record = portal.call(d.service.submit, persona.model_dump(), "creator_1")
            assert record.status == "pending_moderation", record.reasons
            pid = record.persona.id
            token, _ = portal.call(d.service.approve, pid)
            location = {"x": 10.0, "y": 0.0, "z": 64.0}
            sid = portal.call(partial(d.service.spawn, pid, token, "gmod", SERVER_ID, location)).id

            def status() -> str:
                return portal.call(d.service.companion, sid).status

            world.run_until(lambda: status() == "live", what="the companion live")
            ent = world.server.eval(f'AICompanion.Actions.companions["{sid}"]')
            assert ent.GetCompanionName(ent) == b"Ada"

            def lines() -> list[str]:
                return [line for line in world.chat_lines() if line.startswith("Ada: ")]

            # a player joins (an event for no session): the live companion greets him
            world.server.run('PLY = __add_player("Gordon", "76561197960287930", 300, 0, 0)')
            world.run_until(lambda: len(lines()) == 1, what="the greeting")
            assert lines() == ["Ada: Hello, Gordon! What brings you here?"]

            # PlayerSay -> player_chat (Ada is named: her session) -> the companion's
            # reply, moderated twice, dispatched -> net message -> chat.AddText
            world.server.run('__say(PLY, "Ada, hello!")')
            world.run_until(lambda: len(lines()) == 2, what="the companion's reply")
            assert lines()[1] == "Ada: You said: Ada, hello!"
            world.server.run('__say(PLY, "Ada, this quest is shit")')
            world.run_until(lambda: len(lines()) == 3, what="the sanitized reply")
            assert lines()[2] == "Ada: You said: Ada, this quest is ****"
            chats = [e for e in d.events if e["d"].get("type") == "player_chat"]
            assert [(c["sid"], c["d"]["player"]["name"], c["d"]["message"]) for c in chats] == [
                (sid, "Gordon", "Ada, hello!"),
                (sid, "Gordon", "Ada, this quest is shit"),
            ]
            world.run_for(0.3)  # nothing else is said
            assert len(lines()) == 3
            assert not any("shit" in line for line in world.chat_lines())  # never in the clear

            # GMod is z-up: y is horizontal, so a point 6000 units along y is on the map
            # (a y-up world would refuse it as out of bounds); z beyond Source's map is not
            far = {"type": "look_at", "x": 0, "y": 6000, "z": 64}
            results = portal.call(d.service.signal, sid, [far, {**far, "z": 20000}])
            assert [(r["decision"], r["reason"]) for r in results] == [
                ("allow", None),
                ("block", "out_of_bounds"),
            ]

            # ending the session despawns the companion and closes it
            world.run_until(lambda: portal.call(d.service.companion, sid).actions_done == 4,
                            what="the three chats and the look done")  # fmt: skip
            portal.call(d.host.idle)
            companion = d.host.companions[sid]
            summary = portal.call(d.service.end, sid)["summary"]
            assert companion.closed and sid not in d.host.companions
            assert (summary["actions_sent"], summary["actions_blocked"]) == (4, 1)
            assert summary["actions_done"] == 4
            world.run_until(
                lambda: not world.server.eval(f'IsValid(AICompanion.Actions.companions["{sid}"])'),
                what="despawn",
            )
        finally:
            world.close()
