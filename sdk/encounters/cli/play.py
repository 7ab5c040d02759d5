"""Play commands: ``test`` (the seed's flow), ``play`` (interactive or ``--auto``),
``sessions`` (what is on disk) and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.prompt import IntPrompt, Prompt

from ..engine import SyncEngine
from ..errors import EncountersError, ValidationFailed
from ..models import Category, EncounterSpec, Session, SessionStatus
from ..storage import MemoryStore
from ..validation import validate_model
from .app import app, err, fail, out, state
from .content import parse_params, read_json_file
from .render import DILEMMAS, encounter_panel, session_summary

sessions_app = typer.Typer(help="Sessions kept in the store.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")


def load_spec(path: Path) -> EncounterSpec:
    return validate_model(EncounterSpec, read_json_file(path), str(path))


@app.command("test")
def test_encounter(
    file: Annotated[Path, typer.Argument(help="Encounter JSON file.")],
    player: Annotated[str, typer.Option(help="Player id.")] = "test-player",
    level: Annotated[int, typer.Option(min=1, max=1000)] = 5,
) -> None:
    """Play an encounter file through in-process: start, complete each objective,
    complete. Nothing is stored."""
    try:
        spec = load_spec(file)
    except ValidationFailed as exc:
        raise fail(str(exc)) from None
    with SyncEngine(state.settings(), store=MemoryStore()) as engine:
        out.print("Starting test session...")
        session = engine.start_session({"player_id": player, "level": level}, spec)
        out.print(f"Session created: {session.id}", highlight=False, soft_wrap=True)
        out.print(f"Objectives: {len(spec.objectives)}")
        for objective in spec.objectives:
            engine.update_objective(session.id, objective.id, completed=True)
            out.print(
                f"[green]✓[/green] Completed: {objective.description}",
                highlight=False,
                soft_wrap=True,
            )
        engine.complete_session(session.id)
    out.print("[green]✓[/green] Test completed successfully")


def _auto_play(engine: SyncEngine, session: Session) -> Session:
    spec = session.encounter
    for npc in spec.npcs:
        line = npc.dialogue[0] if npc.dialogue else f"{npc.name} nods."
        out.print(
            f"  [cyan]{npc.name}[/cyan] ({npc.role}): {line}", highlight=False, soft_wrap=True
        )
        session = engine.record_npc_interaction(
            session.id, npc.id, dialogue=[line], outcome="positive"
        )
    question, options = DILEMMAS[spec.category]
    session = engine.record_choice(session.id, question, options[1], available_options=options)
    out.print(f"  choice: {question} -> {options[1]}", highlight=False, soft_wrap=True)
    for objective in spec.objectives:
        step = max(1, objective.quantity // 2)
        for done in range(step, objective.quantity + step, step):
            session = engine.update_objective(
                session.id, objective.id, progress=min(done, objective.quantity)
            )
        out.print(f"  [green]✓[/green] {objective.description}", highlight=False, soft_wrap=True)
    return engine.complete_session(session.id)


def _interactive(engine: SyncEngine, session: Session) -> Session:
    spec = session.encounter
    while session.status is SessionStatus.ACTIVE:
        if not session.open_required():
            out.print("[green]All required objectives done![/green]")
            return engine.complete_session(session.id)
        out.print()
        for i, o in enumerate(spec.objectives, 1):
            st = session.objectives[o.id]
            mark = "[green]✓[/green]" if st.completed else " "
            opt = " (optional)" if o.optional else ""
            out.print(
                f" {mark} {i}. {o.description} [{st.progress}/{o.quantity}]{opt}",
                highlight=False,
                soft_wrap=True,
            )
        keys = "number=work on objective, t=talk, c=choose, f=fail, a=abandon, q=quit"
        answer = Prompt.ask(f"[bold]action[/bold] ({keys})", console=out).strip().lower()
        if answer.isdigit() and 1 <= int(answer) <= len(spec.objectives):
            o = spec.objectives[int(answer) - 1]
            remaining = o.quantity - session.objectives[o.id].progress
            amount = IntPrompt.ask(f"how many of {o.quantity}?", default=remaining, console=out)
            session = engine.update_objective(
                session.id, o.id, progress=session.objectives[o.id].progress + max(0, amount)
            )
        elif answer == "t" and spec.npcs:
            names = [n.name for n in spec.npcs]
            who = Prompt.ask("talk to", choices=names, default=names[0], console=out)
            npc = spec.npcs[names.index(who)]
            line = (
                npc.dialogue[len(session.npc_interactions) % len(npc.dialogue)]
                if npc.dialogue
                else "..."
            )
            out.print(f"  [cyan]{npc.name}[/cyan]: {line}", highlight=False, soft_wrap=True)
            mood = Prompt.ask(
                "how did it go",
                choices=["positive", "neutral", "negative"],
                default="positive",
                console=out,
            )
            session = engine.record_npc_interaction(
                session.id, npc.id, dialogue=[line], outcome=mood
            )
        elif answer == "t":
            out.print("  nobody to talk to here")
        elif answer == "c":
            question, options = DILEMMAS[spec.category]
            pick = Prompt.ask(question, choices=options, default=options[0], console=out)
            session = engine.record_choice(session.id, question, pick, available_options=options)
        elif answer == "f":
            return engine.fail_session(session.id, "player gave up")
        elif answer == "a":
            return engine.abandon_session(session.id, "player left")
        elif answer == "q":
            out.print(
                f"session {session.id} stays active; resume it later",
                highlight=False,
                soft_wrap=True,
            )
            return session
        else:
            out.print("  unknown action")
    return session


@app.command("play")
def play(
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Encounter JSON file.")] = None,
    template: Annotated[str | None, typer.Option("--template", "-t")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p")] = None,
    category: Annotated[Category | None, typer.Option("--category", "-c")] = None,
    difficulty: Annotated[float | None, typer.Option(min=0.1, max=1.0)] = None,
    player: Annotated[str, typer.Option(help="Player id.")] = "player",
    level: Annotated[int, typer.Option(min=1, max=1000)] = 1,
    seed: Annotated[int | None, typer.Option()] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Play unattended.")] = False,
) -> None:
    """Play an encounter in the terminal (a file, a template, or a generated one)."""
    with state.engine() as engine:
        if file is not None:
            try:
                spec = engine.save_encounter(load_spec(file))
            except ValidationFailed as exc:
                raise fail(str(exc)) from None
        else:
            spec = engine.generate(
                template=template,
                params=parse_params(param or []) or None,
                category=category or (None if template else Category.COMBAT),
                difficulty=difficulty,
                player={"player_id": player, "level": level},
                seed=seed,
            )
        out.print(encounter_panel(spec))
        session = engine.start_session({"player_id": player, "level": level}, spec)
        session = _auto_play(engine, session) if auto else _interactive(engine, session)
        out.print(session_summary(session))


@sessions_app.command("list")
def sessions_list(
    player: Annotated[str | None, typer.Option(help="Only this player's.")] = None,
    status: Annotated[SessionStatus | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
) -> None:
    """The newest sessions in the store."""
    from rich.table import Table

    with state.engine() as engine:
        items = engine.list_sessions(player_id=player, status=status, limit=limit)
    table = Table(title=f"{len(items)} session(s)")
    table.add_column("id", no_wrap=True, min_width=21)  # ids are copied: never cut them
    for col in ("player", "status", "encounter", "difficulty", "started"):
        table.add_column(col)
    for s in items:
        table.add_row(
            s.id,
            s.player_id,
            s.status.value,
            s.encounter.title,
            f"{s.difficulty:.2f}",
            s.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    out.print(table)


@sessions_app.command("show")
def sessions_show(
    session_id: Annotated[str, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One session in full."""
    with state.engine() as engine:
        try:
            session = engine.get_session(session_id)
        except EncountersError as exc:
            raise fail(str(exc)) from None
    if as_json:
        print(session.model_dump_json(indent=2))
    else:
        out.print(session_summary(session))


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed for the generated encounters.")] = 7,
) -> None:
    """The offline tour: one encounter per category, one session played through."""
    from ..demo import run_demo

    run_demo(state.settings(), seed=seed, console=out)
    err.print("")
