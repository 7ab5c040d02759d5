"""Rich renderings shared by the CLI and the demo."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table

from ..models import EncounterSpec, Session


def encounter_panel(spec: EncounterSpec) -> RenderableType:
    lines = [f"[italic]{spec.description}[/italic]"] if spec.description else []
    lines.append(
        f"{spec.category.value} · difficulty {spec.difficulty:.2f} · ~{spec.estimated_duration} min"
    )
    for o in spec.objectives:
        opt = " (optional)" if o.optional else ""
        lines.append(f" • {o.description} — {o.kind.value} {o.quantity}× {o.target}{opt}")
    for n in spec.npcs:
        lines.append(f" ☺ {n.name}, {n.role}")
    if spec.rewards:
        lines.append(
            " ★ "
            + ", ".join(
                f"{r.amount} {r.item or r.kind.value}" + (f" ({r.faction})" if r.faction else "")
                for r in spec.rewards
            )
        )
    return Panel("\n".join(lines), title=f"[bold]{spec.title}[/bold]", expand=False)


def session_summary(session: Session) -> RenderableType:
    table = Table(show_header=False, box=None)
    table.add_row("session", session.id)
    table.add_row("player", session.player_id)
    table.add_row("encounter", session.encounter.title)
    table.add_row("status", session.status.value)
    done = sum(1 for s in session.objectives.values() if s.completed)
    table.add_row("objectives", f"{done}/{len(session.objectives)} done")
    table.add_row("choices", str(len(session.choices_made)))
    table.add_row("NPC interactions", str(len(session.npc_interactions)))
    if session.duration_seconds is not None:
        table.add_row("duration", f"{session.duration_seconds:.2f} s")
    if session.failure_reason:
        table.add_row("reason", session.failure_reason)
    return Group(table)


def session_details(session: Session) -> RenderableType:
    """Everything about a session: summary, objective progress, choices, NPC talk."""
    parts: list[RenderableType] = [session_summary(session)]
    table = Table(title="objectives")
    for col in ("objective", "progress", "done"):
        table.add_column(col)
    for o in session.encounter.objectives:
        st = session.objectives[o.id]
        table.add_row(o.description, f"{st.progress}/{o.quantity}", "✓" if st.completed else "")
    parts.append(table)
    for c in session.choices_made:
        parts.append(f"choice {c.timestamp:%H:%M:%S}: {c.description} → {c.selected_option}")
    for n in session.npc_interactions:
        said = " / ".join(n.dialogue) or "-"
        parts.append(f"NPC {n.npc_id} {n.timestamp:%H:%M:%S} ({n.outcome}): {said}")
    return Group(*parts)
