"""What each world's adapter can show of a persona: the avatars it knows and the emotes
it can play, for the studio's avatar and emote pickers.

From the adapters themselves: GMod's emotes are the gestures and taunts
``lua_addon/lua/ai_companion/actions.lua`` maps to ACT enums, its avatars player
models that ship with the game; Minecraft's emotes are the Mineflayer bridge's
gestures and their aliases (``minecraft_plugin_bridge/src/actions/emote.js``; bots
cannot choose a skin, so one avatar). The web world draws every companion alike and
shows any emote by its name, so its lists are suggestions. An adapter given another
avatar or emote answers as its docs say (GMod: the default model; an emote it cannot
play: ``action_failed`` ``unknown_emote``).
"""

from __future__ import annotations

from pydantic import BaseModel


class WorldCatalog(BaseModel):
    world: str
    avatars: list[str]
    emotes: list[str]


CATALOG: list[WorldCatalog] = [
    WorldCatalog(
        world="gmod",
        avatars=[
            "models/player/group01/female_01.mdl",
            "models/player/group01/male_07.mdl",
            "models/player/alyx.mdl",
            "models/player/barney.mdl",
            "models/player/kleiner.mdl",
            "models/player/monk.mdl",
        ],
        emotes=[
            "wave",
            "agree",
            "nod",
            "disagree",
            "beckon",
            "bow",
            "point",
            "dance",
            "cheer",
            "laugh",
            "salute",
            "muscle",
            "robot",
        ],
    ),
    WorldCatalog(
        world="minecraft",
        avatars=["steve"],
        emotes=[
            "swing",
            "wave",
            "sneak",
            "sit",
            "nod",
            "jump",
            "celebrate",
            "dance",
            "punch",
            "point",
            "greet",
            "bow",
            "kneel",
            "agree",
            "hop",
            "cheer",
            "party",
        ],
    ),
    WorldCatalog(
        world="web",
        avatars=["humanoid_a", "humanoid_b", "fox", "robot", "wizard"],
        emotes=["wave", "nod", "dance", "jump", "sit", "laugh"],
    ),
]

__all__ = ["CATALOG", "WorldCatalog"]
