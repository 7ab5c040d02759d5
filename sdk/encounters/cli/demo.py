"""``make demo`` / ``ae demo``: the main job with embedded defaults and no keys.

Generates one encounter per category with the offline generator, plays one session
through with a choice and an NPC interaction, keeps everything in the SQLite store, then
reopens the store to show that it is all on disk. With the bridge installed (it is, in
this repository), the daemon part follows (``encounters_bridge.demo``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from ..events import EngineEvent
from ..generation import ProceduralGenerator
from ..models import Category, EncounterSpec, PlayerContext
from ..settings import Settings
from ..sync import SyncEngine
from .flows import complete_objectives, talk_and_choose
from .render import encounter_panel, session_summary

#: More of the tour, run after the SDK part with the same settings: the bridge package
#: adds the daemon part here when it is installed (the SDK never imports it).
EXTRA_PARTS: list[Callable[[Settings, Console], None]] = []
#: ``ae demo --web``: what runs after the tour to leave a companion in the web world
#: (the bridge package sets it; without the bridge the flag says what to install).
WEB_WORLD: Callable[[Settings, Console], None] | None = None


def run_demo(settings: Settings, *, seed: int = 7, console: Console | None = None) -> None:
    console = console or Console()
    started = time.perf_counter()
    player = PlayerContext(player_id="demo-player", name="Ava", level=12)
    events: list[str] = []

    def note(event: EngineEvent) -> None:
        events.append(event.type)

    console.rule("[bold]AI Encounters — offline demo")
    console.print(f"store: {settings.database_path}", highlight=False)
    # The demo is offline by design, even where an LLM key is set in the environment.
    with SyncEngine(settings, generator=ProceduralGenerator()) as engine:
        engine.on(note)
        specs: list[EncounterSpec] = []
        table = Table(title="One encounter per category (procedural, offline)")
        for col in ("category", "title", "difficulty", "objectives", "NPCs", "rewards"):
            table.add_column(col)
        for i, category in enumerate(Category):
            spec = engine.generate(
                category=category, difficulty=0.3 + 0.15 * i, player=player, seed=seed + i
            )
            specs.append(spec)
            table.add_row(
                category.value,
                spec.title,
                f"{spec.difficulty:.2f}",
                str(len(spec.objectives)),
                str(len(spec.npcs)),
                ", ".join(f"{r.amount} {r.item or r.kind.value}" for r in spec.rewards),
            )
        console.print(table)

        spec = next(s for s in specs if s.npcs)
        console.print(encounter_panel(spec))
        session = engine.start_session(player, spec)
        session = talk_and_choose(engine, session, console)
        session = complete_objectives(engine, session, console)
        session = engine.complete_session(session.id)
        console.print(session_summary(session))
        console.print(f"events: {', '.join(sorted(set(events)))}", highlight=False)

    with SyncEngine(settings, generator=ProceduralGenerator()) as engine:  # reopened
        stored = engine.get_session(session.id)
        n_enc = len(engine.list_encounters(limit=10_000))
        n_sess = len(engine.list_sessions(limit=10_000))
    console.print(
        f"reopened the store: session {stored.id} is {stored.status.value}; "
        f"{n_enc} encounter(s) and {n_sess} session(s) on disk",
        highlight=False,
    )
    for part in EXTRA_PARTS:
        part(settings, console)
    console.print(f"done in {time.perf_counter() - started:.2f} s, no network, no keys")
