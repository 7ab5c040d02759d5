"""Player-facing systems on the command line: ``ae memory show``, ``ae difficulty
show`` and ``ae campaign start|play|status|advance``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import anyio
import typer
from rich.markup import escape

from ..campaigns import CampaignRun
from ..engine import Engine
from ..i18n.messages import _
from ..jsonio import read_json_file
from .app import JsonFlag, app, out, print_json, state

T = TypeVar("T")
memory_app = typer.Typer(help=_("What NPCs remember of players."), no_args_is_help=True)
difficulty_app = typer.Typer(help=_("Adaptive difficulty per player."), no_args_is_help=True)
app.add_typer(memory_app, name="memory")
app.add_typer(difficulty_app, name="difficulty")


def with_engine(work: Callable[[Engine], Awaitable[T]]) -> T:
    async def run() -> T:
        async with Engine(state.store_settings()) as engine:
            return await work(engine)

    return anyio.run(run)


@memory_app.command("show")
def memory_show(
    npc: Annotated[str, typer.Argument(help="NPC id.")],
    player: Annotated[str, typer.Argument(help="Player id.")],
    query: Annotated[str, typer.Option(help="Rank memories by relevance to this.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=100, help="Memories to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    scope: Annotated[
        str | None,
        typer.Option(help="The memory scope (the daemon's for a game server: server:WORLD:ID)."),
    ] = None,
) -> None:
    """What NPC remembers of PLAYER: relationship, facts, and the memories that matter
    (decrypted with AE_MEMORY_KEY or the memory.key file), in the unscoped memories or
    in ``--scope``."""

    async def work(engine: Engine) -> None:
        profile = await engine.memory.get_memory(npc, player, scope=scope)
        found = await engine.memory.retrieve(npc, player, query, k=limit, scope=scope)
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
    as_json: JsonFlag = False,
    scope: Annotated[
        str | None,
        typer.Option(help="The history scope (the daemon's for a game server: server:WORLD:ID)."),
    ] = None,
) -> None:
    """A player's record and the difficulty adaptive generation would pick now, in the
    unscoped histories or in ``--scope``."""

    async def work(engine: Engine) -> None:
        history = await engine.difficulty.history(player, scope=scope)
        chosen = engine.difficulty.difficulty_for(history, base)
        if as_json:
            print_json({"difficulty": chosen, "history": history})
            return
        out.print(engine.difficulty.prompt_line(chosen, history), highlight=False)
        r = history.rating
        out.print(f"rating {r.rating:.0f} (RD {r.rd:.0f}); policy "
                  f"{engine.settings.difficulty_policy}", highlight=False)  # fmt: skip

    with_engine(work)


campaign_app = typer.Typer(help=_("Campaigns: encounters chained with carried state."),
                           no_args_is_help=True)  # fmt: skip
app.add_typer(campaign_app, name="campaign")


def _show_run(run: CampaignRun, current: str | None, as_json: bool) -> None:
    """A run as the campaign commands print it; ``current`` is its next encounter."""
    if as_json:
        print_json({**run.model_dump(mode="json"), "next_encounter": current})
        return
    out.print(f"run [bold]{run.id}[/bold] of campaign {escape(run.campaign_id)} for "
              f"{escape(run.player_id)}: {run.status}", highlight=False)  # fmt: skip
    out.print(f"completed: {', '.join(run.completed) or '-'}; next: {current or '-'}",
              highlight=False)  # fmt: skip
    if run.state:
        out.print("state: " + escape(json.dumps(run.state, ensure_ascii=False)), highlight=False)
    if current is not None and run.status == "active":
        out.print(f"play the next step with: ae campaign play {run.id}", highlight=False)


@campaign_app.command("start")
def campaign_start(
    campaign: Annotated[str, typer.Argument(help="A campaign JSON file, or a stored id.")],
    player: Annotated[str, typer.Argument(help="Player id.")],
    as_json: JsonFlag = False,
) -> None:
    """Start a campaign for a player (a file is validated and stored first). Every
    encounter it names must be in the store (ae encounters import FILE)."""
    path = Path(campaign)

    async def work(engine: Engine) -> None:
        campaign_id = campaign
        if path.suffix == ".json" or path.exists():
            spec = await engine.campaigns.save_campaign(read_json_file(path))
            campaign_id = spec.id
        run = await engine.start_campaign(campaign_id, player)
        _show_run(run, engine.campaigns.current_encounter(run), as_json)

    with_engine(work)


@campaign_app.command("play")
def campaign_play(
    run_id: Annotated[str, typer.Argument(help="Campaign run id.")],
    auto: Annotated[bool, typer.Option("--auto", help="Play unattended.")] = False,
) -> None:
    """Play the current step of a run in the terminal: its encounter as a session, with
    the state carried so far. Completing the session moves the run on."""
    from .flows import autoplay
    from .play import play_interactively
    from .render import encounter_panel, session_summary

    with state.engine() as engine:
        session = engine.play_campaign_step(run_id)
        out.print(encounter_panel(session.encounter))
        session = autoplay(engine, session, out) if auto else play_interactively(engine, session)
        out.print(session_summary(session))
        run = engine.campaigns.status(run_id)
        _show_run(run, engine.campaigns.current_encounter(run), False)


@campaign_app.command("status")
def campaign_status(
    run_id: Annotated[str, typer.Argument(help="Campaign run id.")], as_json: JsonFlag = False
) -> None:
    """Where a campaign run is: steps done, the next encounter, the carried state."""

    async def work(engine: Engine) -> None:
        run = await engine.campaigns.status(run_id)
        _show_run(run, engine.campaigns.current_encounter(run), as_json)

    with_engine(work)


@campaign_app.command("advance")
def campaign_advance(
    run_id: Annotated[str, typer.Argument(help="Campaign run id.")],
    session_id: Annotated[str, typer.Argument(help="A finished session of the current step.")],
    as_json: JsonFlag = False,
) -> None:
    """Apply a finished session to a run (finishing a campaign session does it by itself;
    this is for sessions played elsewhere)."""

    async def work(engine: Engine) -> None:
        run = await engine.campaigns.advance(run_id, session_id)
        _show_run(run, engine.campaigns.current_encounter(run), as_json)

    with_engine(work)
