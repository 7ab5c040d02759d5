"""The daemon part of ``make demo`` / ``ae demo``: the whole product offline.

The daemon runs in-process with the embedded engine (WebSocket edge and HTTP control
API on free loopback ports); a scripted web-world adapter connects; a persona is
submitted, approved and spawned over the control API; a player talks with the
companion (offline brain plus a small script) and one of its lines is moderated; the
session ends and its replay is read back from the audit log. No network, no keys.
"""

from __future__ import annotations

from typing import Any

import anyio
from rich.console import Console
from rich.markup import escape

from encounters.client import EncountersClient
from encounters.companion import CompanionScript, Context
from encounters.engine import Engine
from encounters.generation import ProceduralGenerator
from encounters.settings import Settings

from .adapter import AdapterClient
from .config import BridgeConfig
from .daemon import Daemon
from .frames import Frame
from .keys import create_api_key, create_world_key

PERSONA = {
    "name": "Pip",
    "description": "A cheerful miner's apprentice who knows every tunnel.",
    "traits": {"tone": "playful", "ethics": "helper", "risk": "low"},
    "goals": ["guide", "entertain"],
    "safety": {"allowedActions": ["chat", "follow", "stop", "emote"], "moderation": "sanitize"},
    "embodiment": {"emotes": ["wave", "cheer"]},
}
PLAYER = {"id": "ava", "name": "Ava"}
LINES = ["hello Pip!", "follow me", "say this shit tunnel is dark", "stop"]

demo_script = CompanionScript()


@demo_script.on("player_chat")
async def _chat(ctx: Context, event: dict[str, Any]) -> None:
    text = str(event.get("message", ""))
    if text.lower().startswith("say "):  # the companion repeats: moderation decides how
        await ctx.say(text[4:])
    else:
        await ctx.respond()


async def _run(settings: Settings, console: Console) -> None:
    engine = Engine(settings, generator=ProceduralGenerator())
    config = BridgeConfig(port=0, http_port=0, heartbeat=5.0)
    async with Daemon.open(settings, config, script=demo_script, engine=engine) as daemon:
        store, ws_url, api_url = daemon.records, daemon.ws_url, daemon.api_url
        _, admin = await create_api_key(store, "demo-admin", "admin")
        _, creator = await create_api_key(store, "demo-creator", "creator")
        _, world_key = await create_world_key(store, "demo web world", "web")

        heard: list[Frame] = []

        async def on_dispatch(frame: Frame) -> None:
            heard.append(frame)

        game = AdapterClient(ws_url, world="web", server_id="demo-web", key=world_key,
                             capabilities=["chat", "follow", "stop", "emote"],
                             on_dispatch=on_dispatch)  # fmt: skip
        async with anyio.create_task_group() as tg:
            tg.start_soon(game.run)
            with anyio.fail_after(10):
                await game.ready.wait()
            console.print(f"daemon: adapters on {ws_url}, control API on {api_url}; "
                          "a web-world adapter is linked", highlight=False)  # fmt: skip
            async with (
                EncountersClient(api_url, creator) as as_creator,
                EncountersClient(api_url, admin) as as_admin,
            ):
                submitted = await as_creator.submit_persona(PERSONA)
                approved = await as_admin.approve_persona(submitted["id"])
                spawned = await as_creator.spawn(submitted["id"], approved["token"], "web",
                                                 "demo-web", {"x": 0, "y": 64, "z": 0})  # fmt: skip
                sid = spawned["sessionId"]
                console.print(f"persona {submitted['id']} submitted ({submitted['status']}), "
                              f"approved, spawned as session {sid}", highlight=False)  # fmt: skip
                await _until(lambda: any(f.d.get("type") == "spawn" for f in heard))
                await game.send_event({"type": "spawned", "entity": "pip-1"}, sid)
                greeted = len(heard)
                await game.send_event({"type": "player_join", "player": PLAYER})
                await _until(lambda: len(heard) > greeted)
                for frame in heard[greeted:]:
                    if frame.d.get("action", {}).get("type") == "chat":
                        console.print(f"  [bold]Pip:[/bold] {escape(frame.d['action']['message'])}")
                for line in LINES:
                    before = len(heard)
                    console.print(f"[bold]Ava:[/bold] {escape(line)}")
                    await game.send_event(
                        {"type": "player_chat", "player": PLAYER, "message": line}, sid
                    )
                    await _until(lambda b=before: len(heard) > b)
                    await anyio.sleep(0.2)
                    for frame in heard[before:]:
                        action = frame.d.get("action", {})
                        if action.get("type") == "chat":
                            console.print(f"  [bold]Pip:[/bold] {escape(action['message'])}")
                        elif action:
                            console.print(f"  Pip does: {action.get('type')}")
                # a creator's own signal goes through the edge's moderation too
                line = "Ugh, this shit tunnel again!"
                result = await as_creator.signal(sid, [{"type": "chat", "message": line}])
                decision = result["results"][0]
                console.print(f"creator signals {line!r}: {decision['decision']} "
                              f"({decision['reason']})", highlight=False)  # fmt: skip
                ended = await as_creator.end(sid)
            summary = ended["summary"]
            sent, events = summary["actions_sent"], summary["events"]
            console.print(f"session ended: {sent} action(s) sent, {events} event(s) from the game")
            console.print("replay (from the audit log):")
            for entry in ended["replay"]:
                if entry["kind"] != "action":
                    continue
                out = entry.get("output") or {}
                said = f": {out.get('message')}" if out.get("message") else ""
                console.print(f"  {entry['decision']:<9} {out.get('type', '?')}{escape(said)}",
                              highlight=False)  # fmt: skip
            await game.stop()
            tg.cancel_scope.cancel()


async def _until(check: Any, timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.02)


def run_bridge_demo(settings: Settings, console: Console) -> None:
    """The daemon tour (see the module docstring), on the same store as the SDK tour."""
    console.rule("[bold]The daemon: a persona deployed to a game, offline")
    anyio.run(_run, settings, console)
    console.print(studio_hint(), highlight=False)


def studio_hint() -> str:
    """Where the studio (the web editor and dashboard) is, and how to sign in to it."""
    from .config import BridgeConfig

    config = BridgeConfig()
    return (f"studio: run `ae bridge serve` and open http://{config.host}:{config.http_port}"
            "/studio/ ; sign in with a key from `ae bridge keys add NAME --role creator` "
            "(or --role admin for the dashboard)")  # fmt: skip
