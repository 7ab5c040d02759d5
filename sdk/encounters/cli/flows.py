"""Scripted plays shared by ``ae test``, ``ae play --auto`` and the demo, so there is
one place that walks a session through."""

from __future__ import annotations

from rich.console import Console

from ..models import Category, Session
from ..sync import SyncEngine

#: A question and options the terminal player can pick from, by category.
DILEMMAS: dict[Category, tuple[str, list[str]]] = {
    Category.COMBAT: ("How do you engage?", ["charge", "flank", "hold the line"]),
    Category.PUZZLE: ("How do you approach the puzzle?", ["study", "experiment", "ask for help"]),
    Category.SOCIAL: ("What tone do you take?", ["friendly", "firm", "flattering"]),
    Category.EXPLORATION: ("Which way?", ["the high path", "the river", "the old tunnel"]),
    Category.STEALTH: ("How do you get in?", ["shadows", "disguise", "distraction"]),
}


def complete_objectives(
    engine: SyncEngine, session: Session, out: Console, *, steps: int = 1, label: str = ""
) -> Session:
    """Bring every objective to its quantity in ``steps`` progress updates each,
    printing a tick per objective."""
    for objective in session.encounter.objectives_in_play_order():
        for k in range(1, steps + 1):
            amount = max(1, objective.quantity * k // steps)
            session = engine.update_objective(session.id, objective.id, progress=amount)
        out.print(f"[green]✓[/green] {label}{objective.description}", highlight=False)
    return session


def talk_and_choose(
    engine: SyncEngine, session: Session, out: Console, *, pick: int = 0
) -> Session:
    """Talk once to each NPC (a positive outcome) and make the category's choice."""
    spec = session.encounter
    for npc in spec.npcs:
        line = npc.dialogue[0] if npc.dialogue else f"{npc.name} nods."
        out.print(f"[cyan]{npc.name}[/cyan] ({npc.role}): {line}", highlight=False)
        session = engine.record_npc_interaction(
            session.id, npc.id, dialogue=[line], player_choices=["listen"], outcome="positive"
        )
    question, options = DILEMMAS[spec.category]
    session = engine.record_choice(
        session.id,
        question,
        options[pick],
        available_options=options,
        consequences=[f"you chose to {options[pick]}"],
    )
    out.print(f"choice: {question} → {options[pick]}", highlight=False)
    return session


def autoplay(engine: SyncEngine, session: Session, out: Console) -> Session:
    """Play a session through unattended: talk, choose, finish every objective in two
    steps, complete."""
    session = talk_and_choose(engine, session, out, pick=1)
    session = complete_objectives(engine, session, out, steps=2)
    return engine.complete_session(session.id)
