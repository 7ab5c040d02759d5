"""A modder's companion script. The same file runs two ways:

- in the daemon, for every spawned companion:
  ``ae bridge serve --script examples/companion_script.py``
- in-process, in a Python game with no daemon: ``python examples/companion_script.py``
  (the ``__main__`` part below plays a short scene and prints what the game is asked to do)

Everything the script does passes moderation for the persona; a handler that raises is
logged and the companion goes on.
"""

from __future__ import annotations

from typing import Any

from encounters.companion import CompanionScript, Context

script = CompanionScript()


@script.on("player_join")
async def welcome(ctx: Context, event: dict[str, Any]) -> None:
    name = (ctx.player or {}).get("name", "traveller")
    await ctx.say(f"Welcome, {name}! Say 'follow me' and I'll tag along.")
    await ctx.emote("wave")


@script.on("player_chat")
async def chat(ctx: Context, event: dict[str, Any]) -> None:
    ctx.state["lines"] = ctx.state.get("lines", 0) + 1
    text = str(event.get("message", "")).lower()
    if "treasure" in text:
        await ctx.say("Treasure? Follow me, I know the old mine.")
        await ctx.follow()
    elif text.startswith("say "):  # players love making companions repeat things
        await ctx.say(str(event["message"])[4:])  # moderation masks what must not be said
    else:
        await ctx.respond()  # the companion's brain answers (LLM or offline rules)


async def scene() -> None:
    """In-process: the game's side is a list of actions it would carry out."""
    from encounters.companion import Companion
    from encounters.models.persona import PersonaCore
    from encounters.moderation import ContentModerator

    persona = PersonaCore.model_validate({
        "name": "Pip", "description": "A cheerful miner's apprentice.",
        "safety": {"allowed_actions": ["chat", "follow", "stop", "emote"],
                   "moderation": "sanitize"},
        "embodiment": {"emotes": ["wave", "cheer"]},
    })  # fmt: skip
    performed: list[dict[str, Any]] = []

    async def send(actions: list[dict[str, Any]]) -> None:  # the game carries these out
        performed.extend(actions)

    companion = Companion(persona, session_id="sess_demo", send=send,
                          moderator=ContentModerator(), script=script)  # fmt: skip
    player = {"id": "p1", "name": "Ana"}
    for event in (
        {"type": "player_join", "player": player},
        {"type": "player_chat", "player": player, "message": "any treasure around here?"},
        {"type": "player_chat", "player": player, "message": "stop"},
        {"type": "player_chat", "player": player, "message": "say this shit cave is dark"},
    ):
        decisions = await companion.handle(event)
        blocked = [d.reason for d in decisions if not d.allowed]
        print(
            f"{event['type']}: {event.get('message', '')!r} -> "
            f"{[a['type'] for a in performed]}{' blocked: ' + str(blocked) if blocked else ''}"
        )
        for action in performed:
            if action["type"] == "chat":
                print(f"  Pip says: {action['message']}")
        performed.clear()
    await companion.close()


if __name__ == "__main__":
    import anyio

    anyio.run(scene)
