"""A game loop embedding the SDK, no daemon: the game asks for an encounter that fits
the player, plays it, lets an NPC remember what happened, reads the analytics, and
walks with a companion.

Run: AE_DATA_DIR=/tmp/ae-example python examples/python_game.py
"""

from __future__ import annotations

from typing import Any

import anyio

from encounters import Engine
from encounters.companion import Companion
from encounters.models.persona import PersonaCore


async def main() -> None:
    async with Engine() as engine:  # SQLite in AE_DATA_DIR, offline generator
        player = {"player_id": "alice", "name": "Alice", "level": 8}

        # two rounds: the second encounter adapts to how the first went
        for round_no in (1, 2):
            spec = await engine.generate(category="social", player=player, seed=round_no,
                                         adaptive=True)  # fmt: skip
            print(f"round {round_no}: {spec.title!r} at difficulty {spec.difficulty:.2f}")
            session = await engine.start_session(player, spec)
            npc = spec.npcs[0]
            await engine.record_npc_interaction(
                session.id, npc.id, dialogue=[f"{npc.name}: You came back, Alice!"],
                player_choices=["help with the harvest"], outcome="positive",
            )  # fmt: skip
            for objective in spec.objectives:
                await engine.update_objective(session.id, objective.id, completed=True)
            session = await engine.complete_session(session.id)
            print(f"  session {session.status.value}")

            memory = await engine.memory.get_memory(npc.id, "alice")
            print(f"  {npc.name} has met Alice {memory.interactions_total} time(s), "
                  f"relationship {memory.relationship}/100")  # fmt: skip

        stats = await engine.analytics.player("alice")
        print(f"alice: {stats.sessions_completed} of {stats.sessions_played} sessions completed")

        # a companion walks with Alice: the offline brain (no LLM key), moderated, and it
        # remembers her through the engine's NPC memory
        persona = PersonaCore.model_validate({
            "name": "Rook", "description": "A gruff but loyal sellsword.",
            "safety": {"allowed_actions": ["chat", "follow", "stop"]},
        })  # fmt: skip

        async def perform(actions: list[dict[str, Any]]) -> None:  # the game's side
            for action in actions:
                shown = action.get("message", "")
                print(f"  Rook -> {action['type']}{': ' + shown if shown else ''}")

        companion = Companion(persona, session_id="sess_walk", send=perform,
                              moderator=engine.moderator, memory=engine.memory)  # fmt: skip
        for line in ("hello Rook", "follow me"):
            print(f"Alice: {line}")
            await companion.handle({"type": "player_chat", "message": line,
                                    "player": {"id": "alice", "name": "Alice"}})  # fmt: skip
        await companion.close()
        rook = await engine.memory.get_memory(persona.id, "alice")
        print(f"Rook remembers {rook.interactions_total} exchange(s) with Alice")


if __name__ == "__main__":
    anyio.run(main)
