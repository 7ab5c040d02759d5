"""``ae demo --web``: a companion left running in the web world, for a browser.

The daemon runs in-process (offline engine, the ports of :class:`BridgeConfig` unless
given) with :data:`web_world_script`; a web world key is bound to server ``demo``. When
the first browser tab opens ``/play/demo`` and becomes the server's link, the persona
Pip is submitted, approved and spawned there (a spawn needs a server that has linked).
The printed API key (a creator key made for the demo, shown once like ``ae keys add``)
signs the tab in. Runs until Ctrl-C (or ``stop`` is set, in tests).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import anyio
from rich.console import Console

from encounters.client import EncountersClient
from encounters.companion import CompanionScript, Context
from encounters.engine import Engine
from encounters.generation import ProceduralGenerator
from encounters.settings import Settings

from .config import BridgeConfig, load_bridge_config
from .daemon import Daemon
from .keys import create_api_key, create_world_key

SERVER = "demo"
PERSONA = {
    "name": "Pip",
    "description": "A cheerful miner's apprentice who shows newcomers around.",
    "traits": {"tone": "playful", "ethics": "helper", "risk": "low"},
    "goals": ["guide", "entertain"],
    "safety": {
        "allowedActions": ["chat", "move_to", "follow", "look_at", "emote", "stop"],
        "moderation": "sanitize",
        "maxActionsPerMinute": 60,
    },
    "embodiment": {"emotes": ["wave", "cheer", "dance"]},
}
SPAWN: dict[str, float] = {"x": 400, "y": 64, "z": 300}
HELP = "say 'follow me', 'stop', 'look at me', 'wave', 'go to X Z' or 'say ...'"

web_world_script = CompanionScript()


@web_world_script.on("player_join")
async def _greet(ctx: Context, event: dict[str, Any]) -> None:
    name = (ctx.player or {}).get("name", "there")
    await ctx.say(f"Hi {name}! I'm {ctx.persona.name}. {HELP}.")


@web_world_script.on("player_chat")
async def _chat(ctx: Context, event: dict[str, Any]) -> None:
    """Commands map to the web world's actions; anything else goes to the brain. A
    ``say`` line is repeated as it is: moderation decides what arrives."""
    text = " ".join(str(event.get("message", "")).split())
    lower = text.lower()
    words = lower.split()
    if lower.startswith("say "):
        await ctx.say(text[4:])
    elif lower == "follow me":
        await ctx.follow()
        await ctx.say("Right behind you!")
    elif lower == "stop":
        await ctx.stop()
    elif lower == "look at me":
        await ctx.look_at(target=ctx.player_id)
    elif lower in {"wave", "cheer", "dance"}:
        await ctx.emote(lower)
    elif len(words) == 4 and words[:2] == ["go", "to"] and all(w.isdigit() for w in words[2:]):
        await ctx.move_to(float(words[2]), 64, float(words[3]))
    else:
        await ctx.respond()


async def serve_web_world(
    settings: Settings,
    console: Console,
    config: BridgeConfig | None = None,
    *,
    on_ready: Callable[[str, str], Any] | None = None,
    stop: anyio.Event | None = None,
) -> None:
    """Run the daemon with Pip spawned on web server ``demo`` until Ctrl-C or ``stop``;
    ``on_ready(url, key)`` is called once the page can be opened."""
    engine = Engine(settings, generator=ProceduralGenerator())
    config = config or BridgeConfig()
    async with Daemon.open(settings, config, script=web_world_script, engine=engine) as daemon:
        store = daemon.records
        _, admin = await create_api_key(store, "demo-admin", "admin")
        _, player = await create_api_key(store, "ava", "creator")
        await create_world_key(store, "demo web world", "web", [SERVER])
        url = f"{daemon.api_url}/play/{SERVER}"
        console.rule("[bold]The web world")
        console.print(f"Pip is waiting in the web world: open {url}", highlight=False)
        console.print(f"sign in with this API key (a creator key made for the demo): {player}",
                      highlight=False)  # fmt: skip
        console.print(
            "open it in two tabs to see each other; arrow keys move, "
            f"the chat box talks to Pip ({HELP}); Ctrl-C stops",
            highlight=False,
        )
        if on_ready is not None:
            on_ready(url, player)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_deploy_when_linked, daemon, admin, player, console)
            if stop is not None:
                await stop.wait()
            else:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        break
            tg.cancel_scope.cancel()
        console.print("web world stopped")


async def _deploy_when_linked(daemon: Daemon, admin: str, creator: str, console: Console) -> None:
    """Pip is deployed the usual way (submit, approve, spawn) once the web server has a
    link: a spawn needs a server that has connected, i.e. a first browser tab."""
    while ("web", SERVER) not in daemon.edge.by_server:
        await anyio.sleep(0.1)
    async with (
        EncountersClient(daemon.api_url, creator) as as_creator,
        EncountersClient(daemon.api_url, admin) as as_admin,
    ):
        submitted = await as_creator.submit_persona(PERSONA)
        approved = await as_admin.approve_persona(submitted["id"])
        spawned = await as_creator.spawn(submitted["id"], approved["token"], "web", SERVER, SPAWN)
    console.print(f"a tab linked web server {SERVER!r}: Pip is deployed there "
                  f"(session {spawned['sessionId']})", highlight=False)  # fmt: skip


def run_web_world(settings: Settings, console: Console) -> None:
    """``ae demo --web``: the web world on the daemon's configured ports (3002 and 3001
    unless ``AE_BRIDGE_PORT`` / ``AE_BRIDGE_HTTP_PORT`` or a config file say otherwise),
    until Ctrl-C. Raises ``OSError`` when a port is taken."""
    anyio.run(serve_web_world, settings, console, load_bridge_config(env=os.environ))


__all__ = ["PERSONA", "SERVER", "run_web_world", "serve_web_world", "web_world_script"]
