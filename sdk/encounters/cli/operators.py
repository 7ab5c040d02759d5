"""Operator commands: ``ae webhooks ...`` (and the analytics and metrics views)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..engine import Engine
from ..errors import NotFound
from ..i18n.messages import _
from .app import JsonFlag, app, out, print_json
from .players import with_engine

webhooks_app = typer.Typer(help=_("Signed HTTP callbacks for events."), no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="The receiver (https://...).")],
    events: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="An event type (repeat); default all.")
    ] = None,
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Register a webhook; prints its signing secret once (keep it: it is not shown again)."""

    async def work(engine: Engine) -> None:
        webhook, secret = await engine.webhooks.register(url, events or "*", description)
        if as_json:
            print_json({"webhook": webhook, "secret": secret})
            return
        out.print(f"webhook {webhook.id} -> {escape(webhook.url)} "
                  f"({', '.join(webhook.events)})", highlight=False)  # fmt: skip
        out.print(f"signing secret (shown once): {secret}", highlight=False)

    with_engine(work)


@webhooks_app.command("list")
def webhooks_list(as_json: JsonFlag = False) -> None:
    """Registered webhooks."""

    async def work(engine: Engine) -> None:
        if as_json:
            print_json(await engine.webhooks.list())
            return
        table = Table("id", "url", "events", "state")
        for w in await engine.webhooks.list():
            state = f"disabled: {w.disabled_reason}" if w.disabled else "active"
            table.add_row(w.id, escape(w.url), ", ".join(w.events), escape(state))
        out.print(table)

    with_engine(work)


@webhooks_app.command("delete")
def webhooks_delete(webhook_id: Annotated[str, typer.Argument(help="Webhook id.")]) -> None:
    """Remove a webhook (its pending deliveries are dropped)."""

    async def work(engine: Engine) -> None:
        await engine.webhooks.delete(webhook_id)
        out.print(f"deleted {webhook_id}")

    with_engine(work)


@webhooks_app.command("test")
def webhooks_test(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id.")], as_json: JsonFlag = False
) -> None:
    """Send a signed ``webhook.test`` event now and show the answer."""

    async def work(engine: Engine) -> None:
        result = await engine.webhooks.test(webhook_id)
        if as_json:
            print_json(result)
            if not result.ok:
                raise typer.Exit(1)
            return
        verdict = "ok" if result.ok else "failed"
        line = f"{verdict}: status {result.status_code or '-'} {result.error or ''}"
        out.print(f"{escape(line)} in {result.duration_ms} ms", highlight=False)
        if not result.ok:
            raise typer.Exit(1)

    with_engine(work)


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id.")],
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A webhook's delivery log, newest first."""

    async def work(engine: Engine) -> None:
        found = await engine.webhooks.deliveries(webhook_id, limit)
        if as_json:
            out.print_json(json.dumps([d.model_dump(mode="json") for d in found]))
            return
        table = Table("event", "type", "attempt", "outcome")
        for d in found:
            table.add_row(d.event_id, d.event_type, str(d.attempt), d.outcome)
        out.print(table)

    with_engine(work)


analytics_app = typer.Typer(help=_("How encounters play."), no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")


def _table(rows: dict[str, object]) -> Table:
    table = Table("", "", show_header=False)
    for name, value in rows.items():
        shown = f"{value:.2f}" if isinstance(value, float) else "-" if value is None else value
        table.add_row(name, escape(str(shown)))
    return table


@analytics_app.command("encounter")
def analytics_encounter(
    encounter_id: Annotated[str, typer.Argument(help="Encounter id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Plays, completions, success rate, objectives, choices, failure points, feedback."""

    async def work(engine: Engine) -> None:
        a = await engine.analytics.encounter(encounter_id)
        if a.total_plays == 0 and await engine.store.get_encounter(encounter_id) is None:
            raise NotFound(  # a typo, not an encounter nobody played yet
                f"no encounter {encounter_id!r}: none is stored and no play of it is "
                "recorded; ae encounters list shows the stored ids"
            )
        if as_json:
            out.print_json(a.model_dump_json())
            return
        out.print(_table({
            "plays": a.total_plays, "completions": a.completions, "failures": a.failures,
            "abandons": a.abandons, "success rate": a.success_rate,
            "average completion time (s)": a.average_completion_time,
            "feedback": f"{a.player_feedback.count} ratings, average "
                        f"{a.player_feedback.average_rating or '-'}",
        }))  # fmt: skip
        objectives = Table("objective", "completion rate", "average time (s)")
        for oid, st in a.objective_stats.items():
            rate = "-" if st.completion_rate is None else f"{st.completion_rate:.0%}"
            took = "-" if st.average_time is None else f"{st.average_time:.1f}"
            objectives.add_row(oid, rate, took)
        out.print(objectives)
        if a.choice_distribution:
            choices = Table("choice", "times")
            for option, count in a.choice_distribution.items():
                choices.add_row(escape(option), str(count))
            out.print(choices)
        if a.common_failure_points:
            out.print("failure points: " + ", ".join(
                f"{p.objective_id} ({p.count})" for p in a.common_failure_points))  # fmt: skip

    with_engine(work)


@analytics_app.command("player")
def analytics_player(
    player_id: Annotated[str, typer.Argument(help="Player id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    scope: Annotated[
        str | None,
        typer.Option(help="Only the sessions of this scope (a game server's: server:WORLD:ID)."),
    ] = None,
) -> None:
    """A player's sessions, success rate, play time and favourite categories: every
    session of the player id, or only those a game server started (``--scope``)."""

    async def work(engine: Engine) -> None:
        p = await engine.analytics.player(player_id, scope=scope)
        if as_json:
            out.print_json(p.model_dump_json())
            return
        out.print(_table({
            "sessions": p.sessions_played, "completed": p.sessions_completed,
            "failed": p.sessions_failed, "abandoned": p.sessions_abandoned,
            "success rate": p.success_rate, "play time (s)": p.total_play_time,
            "favourite categories": ", ".join(p.favourite_categories) or "-",
            "last played": p.last_played,
        }))  # fmt: skip

    with_engine(work)


@analytics_app.command("global")
def analytics_global(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Totals over every player and encounter."""

    async def work(engine: Engine) -> None:
        g = await engine.analytics.global_stats()
        if as_json:
            out.print_json(g.model_dump_json())
            return
        out.print(_table({
            "sessions": g.total_sessions, "players": g.total_players,
            "encounters played": g.encounters_played, "success rate": g.success_rate,
            "active players (24 h / 7 d)": f"{g.active_players_24h} / {g.active_players_7d}",
            "average session (s)": g.average_session_length,
        }))  # fmt: skip

    with_engine(work)


@analytics_app.command("feedback")
def analytics_feedback(
    encounter_id: Annotated[str, typer.Argument(help="Encounter id.")],
    player_id: Annotated[str, typer.Argument(help="Player id.")],
    rating: Annotated[int, typer.Argument(help="1 to 5.")],
    comment: Annotated[str | None, typer.Option(help="What the player said.")] = None,
) -> None:
    """Record a player's rating of an encounter."""

    async def work(engine: Engine) -> None:
        await engine.analytics.record_feedback(encounter_id, player_id, rating, comment)
        out.print("recorded")

    with_engine(work)


@app.command(
    "metrics",
    help=_("Platform metrics over a time range (formulas: docs/metrics.md)."),
)
def metrics(
    days: Annotated[float, typer.Option(min=0.01, max=3650, help="The range: the last DAYS.")] = 7,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Platform metrics over a time range (formulas: docs/metrics.md)."""
    from datetime import timedelta

    from ..models import utcnow
    from ..platform_metrics import platform_metrics

    async def work(engine: Engine) -> None:
        until = utcnow()
        m = await platform_metrics(engine.store, until - timedelta(days=days), until)
        if as_json:
            out.print_json(m.model_dump_json())
            return
        out.print(_table({
            k: v for k, v in m.model_dump().items() if k not in ("since", "until", "computed_at")
        }))  # fmt: skip

    with_engine(work)
