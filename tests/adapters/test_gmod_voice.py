"""A companion's voice in Garry's Mod: the addon in a real LuaJIT (both realms) linked
to a daemon, the voiced ``chat`` action's link fetched for real by the client's
``sound.PlayURL`` stand-in, played in 3D at the companion for nearby players only, with
the players' volume and off switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from encounters.settings import Settings
from encounters_bridge.config import BridgeConfig
from encounters_bridge.daemon import Daemon
from encounters_bridge.keys import create_api_key, create_world_key
from tests.adapters.gmod.lua import LUAJITS
from tests.adapters.gmod.world import GmodWorld
from tests.adapters.test_gmod_addon import (
    PERSONA,
    _action,
    _dispatch,
    _events,
    _result,
    _world,
    daemon,
)
from tests.fakes.http import Reply, fake_server
from tests.fakes.speech import tone_wav
from tests.support.control import bearer, persona_body
from tests.support.vectors import Harness

pytestmark = pytest.mark.timeout(60)


def _calls(world: GmodWorld) -> list[dict[str, Any]]:
    """Every client-side sound.PlayURL call: url, flags and the channel it made."""
    log = world.client.g[b"__sound_log"]
    out = []
    for i in range(1, len(log) + 1):
        call = log[i]
        channel = call[b"channel"]
        out.append({
            "url": call[b"url"].decode(),
            "flags": call[b"flags"].decode(),
            "channel": None if channel is None else {
                "pos": (channel[b"_pos"].x, channel[b"_pos"].y, channel[b"_pos"].z)
                if channel[b"_pos"] is not None else None,
                "volume": channel[b"_volume"], "plays": channel[b"_plays"],
                "length": channel[b"_length"], "fade": channel[b"_fade"] is not None,
            },
        })  # fmt: skip
    return out


SPAWN = {"type": "spawn", "persona": PERSONA, "location": {"x": 10, "y": -2.5, "z": 64}}


def _linked(world: GmodWorld) -> bool:
    return bool(world.server.eval("AICompanion.Connection.link").ready)


def _spawn(world: GmodWorld, portal: BlockingPortal, harness: Harness) -> None:
    _dispatch(portal, harness, "sess_1", SPAWN)
    world.run_until(lambda: bool(_events(harness, "spawned")), what="spawned")


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_voiced_line_plays_at_the_companion_for_nearby_players(
    version: str, tmp_path: Path
) -> None:
    with fake_server() as audio_server, daemon(tmp_path) as (portal, harness):
        wav = tone_wav(1.2)
        audio_server.route("GET", "/audio/line.wav",
                           lambda _: Reply(200, wav, {"content-type": "audio/wav"}))  # fmt: skip
        url = audio_server.base_url + "/audio/line.wav?exp=1&sig=x"
        world = _world(version, harness, harness.keys["key"])
        try:
            world.run_until(lambda: _linked(world), what="ready")
            world.server.run('NEAR = __add_player("Alyx", "76561197960287931", 300, 0, 64)')
            world.server.run('FAR = __add_player("Barney", "76561197960287932", 9000, 0, 64)')
            near, far = world.server.eval("NEAR:UserID()"), world.server.eval("FAR:UserID()")
            world.client_player = near  # the client in the harness is Alyx's
            _spawn(world, portal, harness)

            audio = {"url": url, "duration": 1.2, "content_type": "audio/wav"}
            voiced = {"id": "say_1", "type": "chat", "message": "Over here!", "audio": audio}
            _action(portal, harness, "sess_1", voiced)
            # the line loads in the client; the action's answer reaches the daemon
            world.run_until(lambda: bool(_calls(world) and _calls(world)[0]["channel"]
                                         and _result(harness, "say_1")),
                            what="the voice loaded and the action done")  # fmt: skip
            assert _result(harness, "say_1")[0]["d"]["type"] == "action_done"
            assert world.chat_lines() == ["Ada: Over here!"]  # the text shows too
            call = _calls(world)[0]
            assert call["url"] == url  # fetched for real: the server saw the request
            assert [r.path for r in audio_server.requests] == ["/audio/line.wav"]
            assert "3d" in call["flags"].split()
            channel = call["channel"]
            assert channel["pos"] == (10, -2.5, 124)  # at the companion's head
            assert channel["plays"] == 1 and channel["volume"] == 1 and channel["fade"]
            assert channel["length"] == pytest.approx(1.2, abs=0.001)
            # only the players near the companion were sent the voice; everyone the text
            voices = [ids for name, ids in world.net_log if name == "ai_companion_voice"]
            assert voices == [[near]] and far != near  # Barney, 9000 units away, hears none
            assert ("ai_companion_chat", None) in world.net_log

            # the player's volume applies to the next line (and to the one playing)
            world.client.run('RunConsoleCommand("ai_companion_voice_volume", "0.25")')
            assert _calls(world)[0]["channel"]["volume"] == 0.25
            _action(portal, harness, "sess_1", {**voiced, "id": "say_2"})
            world.run_until(lambda: len(_calls(world)) == 2 and _calls(world)[1]["channel"],
                            what="the second line loaded")  # fmt: skip
            assert _calls(world)[1]["channel"]["volume"] == 0.25

            # the off switch: the text still shows, no sound is fetched
            world.client.run('RunConsoleCommand("ai_companion_voice", "0")')
            _action(portal, harness, "sess_1", {**voiced, "id": "say_3", "message": "Quiet."})
            world.run_until(lambda: bool(_result(harness, "say_3")), what="say_3 done")
            world.run_for(0.2)
            assert len(_calls(world)) == 2 and world.chat_lines()[-1] == "Ada: Quiet."

            # a dead link (expired: 403) is reported in the console, never a Lua error
            world.client.run('RunConsoleCommand("ai_companion_voice", "1")')
            audio_server.route("GET", "/audio/line.wav",
                               lambda _: Reply(403, {"error": {"message": "expired"}}))  # fmt: skip
            _action(portal, harness, "sess_1", {**voiced, "id": "say_4"})
            world.run_until(lambda: len(world.client.eval("AICompanionVoice.errors")) == 1,
                            what="the failed load")  # fmt: skip
            assert any("voice did not play: BASS_ERROR_FILEOPEN" in line
                       for line in world.client.console())  # fmt: skip
        finally:
            world.close()


@pytest.mark.parametrize("version", list(LUAJITS))
def test_a_line_without_audio_or_with_a_bad_link_plays_nothing(
    version: str, tmp_path: Path
) -> None:
    with daemon(tmp_path) as (portal, harness):
        world = _world(version, harness, harness.keys["key"])
        try:
            world.run_until(lambda: _linked(world), what="ready")
            world.server.run('__add_player("Alyx", "76561197960287931", 300, 0, 64)')
            _spawn(world, portal, harness)
            lines: list[dict[str, Any]] = [
                {"id": "plain", "type": "chat", "message": "plain"},
                {"id": "file", "type": "chat", "message": "file",
                 "audio": {"url": "file:///etc/passwd", "duration": 1}},
                {"id": "odd", "type": "chat", "message": "odd", "audio": "http://x/y.wav"},
            ]  # fmt: skip
            for line in lines:
                _action(portal, harness, "sess_1", line)
            world.run_until(lambda: all(_result(harness, a["id"]) for a in lines),
                            what="all three done")  # fmt: skip
            assert all(_result(harness, a["id"])[0]["d"]["type"] == "action_done" for a in lines)
            assert world.chat_lines() == ["Ada: plain", "Ada: file", "Ada: odd"]
            assert _calls(world) == []
            assert all(name != "ai_companion_voice" for name, _ in world.net_log)
        finally:
            world.close()


@pytest.mark.parametrize("version", ["luajit21"])
def test_a_companions_voice_from_the_daemon_plays_in_gmod(version: str, tmp_path: Path) -> None:
    """The whole product: ``ae bridge serve``'s daemon (offline speech engine), a persona
    with a voice spawned on the GMod server, a chat line signalled through the control
    API; the client fetches the daemon's signed link and plays the line."""
    settings = Settings(data_dir=tmp_path)
    config = BridgeConfig(host="127.0.0.1", port=0, http_port=0, heartbeat=0.5)
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(Daemon.open(settings, config)) as d,
    ):
        store = d.records
        _, admin = portal.call(create_api_key, store, "ops", "admin")
        _, creator = portal.call(create_api_key, store, "alice", "creator")
        _, world_key = portal.call(create_world_key, store, "gmod", "gmod")
        world = GmodWorld(version, {"ai_companion_url": d.ws_url, "ai_companion_key": world_key,
                                    "ai_companion_server_id": "gmod-1"})  # fmt: skip
        try:
            world.run_until(lambda: _linked(world), what="ready")
            world.server.run('__add_player("Alyx", "76561197960287931", 120, 40, 0)')
            with httpx.Client(base_url=d.api_url, timeout=10) as http:
                body = persona_body(voice={"id": "en", "rate": 1.2},
                                    safety={"allowedActions": ["chat"]})  # fmt: skip
                pid = http.post("/personas/submit", headers=bearer(creator), json=body).json()["id"]
                token = http.post(f"/personas/{pid}/approve", headers=bearer(admin)).json()["token"]
                where = {"world": "gmod", "serverId": "gmod-1",
                         "spawnLocation": {"x": 100, "y": 50, "z": 0}}  # fmt: skip
                spawn = {"personaId": pid, "deploymentToken": token, **where}
                r = http.post("/spawn", headers=bearer(creator), json=spawn)
                assert r.status_code == 201, r.text
                sid = r.json()["sessionId"]
                here = f'AICompanion.Actions.companions["{sid}"]'
                world.run_until(lambda: world.server.eval(here) is not None,
                                what="the companion in the world")  # fmt: skip
                chat = {"sessionId": sid, "actions": [{"type": "chat", "message": "Stay close."}]}
                r = http.post("/signal", headers=bearer(creator), json=chat)
                assert r.json()["results"][0]["decision"] == "allow", r.text
            world.run_until(lambda: bool(_calls(world) and _calls(world)[0]["channel"]),
                            what="the voice loaded", timeout=10)  # fmt: skip
            call = _calls(world)[0]
            assert call["url"].startswith(d.api_url + "/audio/")
            assert call["channel"]["pos"] == (100, 50, 60)
            assert call["channel"]["length"] > 0.5  # eSpeak NG's audio, served by the daemon
            assert world.chat_lines() == ["Helpful Guide: Stay close."]
        finally:
            world.close()
