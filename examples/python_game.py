"""A game loop embedding the SDK, no daemon: the game asks for an encounter that fits
the player, plays it, lets an NPC remember what happened, and reads the analytics.

Run: AE_DATA_DIR=/tmp/ae-example python examples/python_game.py
"""

from __future__ import annotations

import anyio

from encounters import Engine


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


if __name__ == "__main__":
    anyio.run(main)
