"""Operator commands: ``ae webhooks ...`` (and the analytics and metrics views)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..engine import Engine
from .app import app, out
from .players import with_engine

webhooks_app = typer.Typer(help="Signed HTTP callbacks for events.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="The receiver (https://...).")],
    events: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="An event type (repeat); default all.")
    ] = None,
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
) -> None:
    """Register a webhook; prints its signing secret once (keep it: it is not shown again)."""

    async def work(engine: Engine) -> None:
        webhook, secret = await engine.webhooks.register(url, events or "*", description)
        out.print(f"webhook {webhook.id} -> {escape(webhook.url)} "
                  f"({', '.join(webhook.events)})", highlight=False)  # fmt: skip
        out.print(f"signing secret (shown once): {secret}", highlight=False)

    with_engine(work)


@webhooks_app.command("list")
def webhooks_list() -> None:
    """Registered webhooks."""

    async def work(engine: Engine) -> None:
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
def webhooks_test(webhook_id: Annotated[str, typer.Argument(help="Webhook id.")]) -> None:
    """Send a signed ``webhook.test`` event now and show the answer."""

    async def work(engine: Engine) -> None:
        result = await engine.webhooks.test(webhook_id)
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
