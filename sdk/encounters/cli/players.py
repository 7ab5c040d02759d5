"""Player-facing systems on the command line: ``ae memory show``, ``ae difficulty
show`` and ``ae campaign start|status|advance``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import anyio
import typer
from rich.markup import escape

from ..engine import Engine
from .app import app, out, state

T = TypeVar("T")
memory_app = typer.Typer(help="What NPCs remember of players.", no_args_is_help=True)
difficulty_app = typer.Typer(help="Adaptive difficulty per player.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")
app.add_typer(difficulty_app, name="difficulty")


def with_engine(work: Callable[[Engine], Awaitable[T]]) -> T:
    async def run() -> T:
        async with Engine(state.settings()) as engine:
            return await work(engine)

    return anyio.run(run)


@memory_app.command("show")
def memory_show(
    npc: Annotated[str, typer.Argument(help="NPC id.")],
    player: Annotated[str, typer.Argument(help="Player id.")],
    query: Annotated[str, typer.Option(help="Rank memories by relevance to this.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=100, help="Memories to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What NPC remembers of PLAYER: relationship, facts, and the memories that matter
    (decrypted with AE_MEMORY_KEY or the memory.key file)."""

    async def work(engine: Engine) -> None:
        profile = await engine.memory.get_memory(npc, player)
        found = await engine.memory.retrieve(npc, player, query, k=limit)
        if as_json:
            out.print_json(json.dumps({
                "profile": profile.model_dump(mode="json"),
                "memories": [r.model_dump(mode="json", exclude={"interaction"}) for r in found],
            }))  # fmt: skip
            return
        out.print(f"[bold]{escape(npc)}[/bold] remembers [bold]{escape(player)}[/bold]: "
                  f"met {profile.interactions_total} times, relationship "
                  f"{profile.relationship}/100", highlight=False)  # fmt: skip
        if profile.known_facts:
            out.print("facts: " + escape("; ".join(profile.known_facts)), highlight=False)
        if not found:
            out.print("no memories yet")
        for r in found:
            out.print(f"- {r.at:%Y-%m-%d %H:%M} [{r.kind}] {escape(r.text[:200])} "
                      f"(score {r.score:.2f})", highlight=False)  # fmt: skip

    with_engine(work)


@difficulty_app.command("show")
def difficulty_show(
    player: Annotated[str, typer.Argument(help="Player id.")],
    base: Annotated[float, typer.Option(min=0.1, max=1.0, help="Base difficulty.")] = 0.5,
) -> None:
    """A player's record and the difficulty adaptive generation would pick now."""

    async def work(engine: Engine) -> None:
        history = await engine.difficulty.history(player)
        chosen = await engine.difficulty.calculate_difficulty(player, base)
        out.print(engine.difficulty.prompt_line(chosen, history), highlight=False)
        r = history.rating
        out.print(f"rating {r.rating:.0f} (RD {r.rd:.0f}); policy "
                  f"{engine.settings.difficulty_policy}", highlight=False)  # fmt: skip

    with_engine(work)
