"""Play commands: ``test`` (the seed's flow), ``play`` (interactive or ``--auto``),
``sessions`` (what is on disk) and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, cast

import anyio
import typer
from rich.prompt import IntPrompt, Prompt

from ..errors import ObjectiveLocked
from ..i18n.messages import _
from ..models import Category, EncounterSpec, Session, SessionStatus
from ..storage import MemoryStore
from ..sync import SyncEngine
from .app import JsonFlag, app, fail, out, print_json, state
from .content import load_encounters, parse_params
from .flows import DILEMMAS, autoplay
from .render import encounter_panel, session_details, session_summary

sessions_app = typer.Typer(help=_("Sessions kept in the store."), no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")


@app.command(
    "test",
    help=_(
        "Play encounters from a file through: start a session, complete each objective, "
        "complete the session. In-process (nothing stored), or on a daemon with --url."
    ),
)
def test_encounter(
    file: Annotated[Path, typer.Argument(help="Encounter JSON file (one, or a list).")],
    player: Annotated[str, typer.Option(help="Player id.")] = "test-player",
    level: Annotated[int, typer.Option(min=1, max=1000)] = 5,
    url: Annotated[
        str | None,
        typer.Option(
            envvar="AE_URL", help="Run against a daemon's control API instead of in-process."
        ),
    ] = None,
    key: Annotated[
        str | None, typer.Option(envvar="AE_KEY", help="API key for --url.", show_default=False)
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Play encounters from a file through: start a session, complete each objective,
    complete the session. In-process (nothing stored), or on a daemon with --url."""
    specs = load_encounters(file)
    if url is not None:
        _test_remote(specs, url, key, {"player_id": player, "level": level})
        return
    with SyncEngine(state.settings(), store=MemoryStore()) as engine:
        if as_json:
            print_json([_play_through(engine, spec, player, level) for spec in specs])
            return
        for spec in specs:
            out.print(f"Starting test session for {spec.title!r}...", highlight=False)
            session = engine.start_session({"player_id": player, "level": level}, spec)
            out.print(f"Session created: {session.id}", highlight=False)
            out.print(f"Objectives: {len(spec.objectives)}")
            for objective in spec.objectives_in_play_order():
                engine.update_objective(session.id, objective.id, completed=True)
                out.print(f"[green]✓[/green] Completed: {objective.description}", highlight=False)
            engine.complete_session(session.id)
    out.print(f"[green]✓[/green] Test completed successfully ({len(specs)} encounter(s))")


def _play_through(engine: SyncEngine, spec: EncounterSpec, player: str, level: int) -> Session:
    session = engine.start_session({"player_id": player, "level": level}, spec)
    for objective in spec.objectives_in_play_order():
        engine.update_objective(session.id, objective.id, completed=True)
    return engine.complete_session(session.id)


def _test_remote(
    specs: list[EncounterSpec], url: str, key: str | None, player: dict[str, object]
) -> None:
    from ..client import EncountersClient

    async def run() -> None:
        async with EncountersClient(url, key) as client:
            for spec in specs:
                await client.publish_encounter(spec.model_dump(mode="json"))
                out.print(f"Starting test session for {spec.title!r} on {url}...", highlight=False)
                session = await client.start_session(player, spec.id)
                out.print(f"Session created: {session['id']}", highlight=False)
                out.print(f"Objectives: {len(spec.objectives)}")
                for objective in spec.objectives_in_play_order():
                    await client.update_objective(session["id"], objective.id, completed=True)
                    out.print(
                        f"[green]✓[/green] Completed: {objective.description}", highlight=False
                    )
                await client.complete_session(session["id"])

    anyio.run(run)
    out.print(f"[green]✓[/green] Test completed successfully ({len(specs)} encounter(s))")


class _Quit(Exception):
    """End of input at any prompt: leave the session as it is."""


def _ask(question: str, choices: list[str] | None = None, default: str = "") -> str:
    try:
        if default:
            return Prompt.ask(question, console=out, choices=choices, default=default).strip()
        return Prompt.ask(question, console=out, choices=choices).strip()
    except EOFError:
        raise _Quit from None


def play_interactively(engine: SyncEngine, session: Session) -> Session:
    """Play a session turn by turn at the terminal; q leaves it active (resumable)."""
    try:
        return _play_turns(engine, session)
    except _Quit:
        out.print(
            f"session {session.id} stays active; resume it with: ae play --session {session.id}",
            highlight=False,
            soft_wrap=True,
        )
        return engine.get_session(session.id)


def _play_turns(engine: SyncEngine, session: Session) -> Session:
    spec = session.encounter
    told = False
    while session.status is SessionStatus.ACTIVE:
        required_done = not session.open_required()
        if required_done and all(s.completed for s in session.objectives.values()):
            out.print("[green]All objectives done![/green]")
            return engine.complete_session(session.id)
        if required_done and not told:
            out.print(
                "[green]All required objectives done![/green] d completes the session; "
                "the optional ones are still open.",
                soft_wrap=True,
            )
            told = True
        out.print()
        for i, o in enumerate(spec.objectives, 1):
            st = session.objectives[o.id]
            mark = "[green]✓[/green]" if st.completed else " "
            opt = " (optional)" if o.optional else ""
            waiting = [r for r in o.requires if not session.objectives[r].completed]
            lock = f" (locked: needs {', '.join(waiting)} first)" if waiting else ""
            out.print(
                f" {mark} {i}. {o.description} [{st.progress}/{o.quantity}]{opt}{lock}",
                highlight=False,
            )
        done_key = "d=complete, " if required_done else ""
        keys = f"number=work on objective, t=talk, c=choose, {done_key}f=fail, a=abandon, q=quit"
        answer = _ask(f"[bold]action[/bold] ({keys})").lower()
        if answer.isdigit() and 1 <= int(answer) <= len(spec.objectives):
            o = spec.objectives[int(answer) - 1]
            done = session.objectives[o.id].progress
            try:
                amount = IntPrompt.ask(
                    f"how many of {o.quantity}?", default=o.quantity - done, console=out
                )
            except EOFError:
                raise _Quit from None
            try:
                session = engine.update_objective(session.id, o.id, progress=done + max(0, amount))
            except ObjectiveLocked as exc:
                out.print(f"[yellow]{exc}[/yellow]", highlight=False)
        elif answer == "t" and spec.npcs:
            names = [n.name for n in spec.npcs]
            npc = spec.npcs[names.index(_ask("talk to", choices=names, default=names[0]))]
            line = (
                npc.dialogue[len(session.npc_interactions) % len(npc.dialogue)]
                if npc.dialogue
                else "..."
            )
            out.print(f"  [cyan]{npc.name}[/cyan]: {line}", highlight=False)
            mood = _ask(
                "how did it go", choices=["positive", "neutral", "negative"], default="positive"
            )
            session = engine.record_npc_interaction(
                session.id,
                npc.id,
                dialogue=[line],
                outcome=cast(Literal["positive", "neutral", "negative"], mood),
            )
        elif answer == "t":
            out.print("  nobody to talk to here")
        elif answer == "c":
            question, options = DILEMMAS[spec.category]
            pick = _ask(question, choices=options, default=options[0])
            session = engine.record_choice(session.id, question, pick, available_options=options)
        elif answer == "d" and required_done:
            return engine.complete_session(session.id)
        elif answer == "f":
            return engine.fail_session(session.id, "player gave up")
        elif answer == "a":
            return engine.abandon_session(session.id, "player left")
        elif answer == "q":
            raise _Quit
        else:
            out.print("  unknown action")
    return session


@app.command(
    "play",
    help=_(
        "Play an encounter in the terminal: from a file, a template, a category (the "
        "default is a generated combat encounter), or resume a session."
    ),
)
def play(
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Play an encounter from this JSON file.")
    ] = None,
    index: Annotated[int, typer.Option(min=0, help="Which encounter of a list file.")] = 0,
    session_id: Annotated[
        str | None, typer.Option("--session", "-s", help="Resume this active session.")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", "-t", help="Play a new encounter from a template.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Template parameter, name=value.")
    ] = None,
    category: Annotated[
        Category | None, typer.Option("--category", "-c", help="Play a generated encounter.")
    ] = None,
    difficulty: Annotated[float | None, typer.Option(min=0.1, max=1.0)] = None,
    player: Annotated[str, typer.Option(help="Player id.")] = "player",
    level: Annotated[int, typer.Option(min=1, max=1000, help="Player level.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Seed for a generated encounter.")] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Play unattended.")] = False,
) -> None:
    """Play an encounter in the terminal: from a file, a template, a category (the
    default is a generated combat encounter), or resume a session."""
    sources = [x for x in (file, session_id, template, category) if x is not None]
    if len(sources) > 1:
        raise fail("give only one of --file, --session, --template or --category")
    with state.engine() as engine:
        if session_id is not None:
            session = engine.get_session(session_id)
            if session.status.finished:
                raise fail(f"session {session_id} is {session.status.value}; it cannot be resumed")
            out.print(encounter_panel(session.encounter))
        else:
            if file is not None:
                specs = load_encounters(file)
                if index >= len(specs):
                    raise fail(
                        f"{file} holds {len(specs)} encounter(s); --index {index} is past the end"
                    )
                spec = engine.save_encounter(specs[index])
            else:
                spec = engine.generate(
                    template=template,
                    params=parse_params(param or []) or None,
                    category=category or (None if template else Category.COMBAT),
                    difficulty=difficulty,
                    player=None if template else {"player_id": player, "level": level},
                    seed=seed,
                )
            out.print(encounter_panel(spec))
            session = engine.start_session({"player_id": player, "level": level}, spec)
        session = autoplay(engine, session, out) if auto else play_interactively(engine, session)
        out.print(session_summary(session))


@sessions_app.command("list")
def sessions_list(
    player: Annotated[str | None, typer.Option(help="Only this player's.")] = None,
    status: Annotated[SessionStatus | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The newest sessions in the store."""
    from rich.table import Table

    with state.engine() as engine:
        items = engine.list_sessions(player_id=player, status=status, limit=limit)
    if as_json:
        print_json(items)
        return
    table = Table(title=f"{len(items)} session(s)")
    table.add_column("id", no_wrap=True)  # ids are copied: never cut them
    for col in ("player", "status", "encounter"):
        table.add_column(col)
    table.add_column("started (UTC)", no_wrap=True)
    for s in items:
        table.add_row(
            s.id,
            s.player_id,
            s.status.value,
            s.encounter.title,
            s.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)


@sessions_app.command("show")
def sessions_show(
    session_id: Annotated[str, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored JSON.")] = False,
) -> None:
    """One session in full: progress, choices and NPC interactions."""
    with state.engine() as engine:
        session = engine.get_session(session_id)
    if as_json:
        print(session.model_dump_json(indent=2))
    else:
        out.print(session_details(session))


@sessions_app.command("abandon")
def sessions_abandon(
    session_id: Annotated[str, typer.Argument()],
    reason: Annotated[str | None, typer.Option(help="Why (kept on the session).")] = None,
) -> None:
    """Mark an active session abandoned."""
    with state.engine() as engine:
        session = engine.abandon_session(session_id, reason)
    out.print(f"session {session.id} is {session.status.value}", highlight=False)


@app.command(help=_("The offline tour: one encounter per category, one session played through."))
def demo(
    seed: Annotated[int, typer.Option(help="Seed for the generated encounters.")] = 7,
    web: Annotated[
        bool,
        typer.Option(
            "--web",
            help="Afterwards leave a companion running in the web world and print its URL "
            "(until Ctrl-C).",
        ),
    ] = False,
) -> None:
    """The offline tour: one encounter per category, one session played through."""
    from . import demo as tour

    if web and tour.WEB_WORLD is None:
        raise fail("--web needs the bridge daemon: pip install 'ai-encounters[bridge]'")
    tour.run_demo(state.store_settings(), seed=seed, console=out)
    if web and tour.WEB_WORLD is not None:
        tour.WEB_WORLD(state.store_settings(), out)
