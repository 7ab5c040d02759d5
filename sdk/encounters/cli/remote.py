"""Commands that talk to a running bridge daemon's control API: ``deploy``,
``personas``, ``spawn``, ``signal``, ``end`` (``test --url`` lives with ``test``).

The daemon's URL and key come from ``--url``/``--key`` or ``AE_URL``/``AE_KEY``; the key
is never printed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import typer

from ..client import EncountersClient
from ..i18n.messages import _
from ..jsonio import read_json_file
from .app import JsonFlag, app, fail, out

T = TypeVar("T")
Url = Annotated[str, typer.Option("--url", envvar="AE_URL", help="Control API URL.")]
Key = Annotated[
    str | None, typer.Option("--key", envvar="AE_KEY", help="API key (AE_KEY).", show_default=False)
]
personas_app = typer.Typer(help=_("Personas on a running daemon."), no_args_is_help=True)
app.add_typer(personas_app, name="personas")


def remote(url: str, key: str | None, work: Callable[[EncountersClient], Awaitable[T]]) -> T:
    async def run() -> T:
        async with EncountersClient(url, key) as client:
            return await work(client)

    return anyio.run(run)


def show(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


@app.command(help=_("Publish encounters and templates to a running daemon."))
def deploy(
    files: Annotated[list[Path], typer.Argument(help="Encounter or template JSON files.")],
    url: Url = "http://127.0.0.1:3001",
    key: Key = None,
) -> None:
    """Publish encounters and templates to a running daemon."""

    async def work(client: EncountersClient) -> int:
        bad = 0
        for path in files:
            data = read_json_file(path)
            items = data if isinstance(data, list) else [data]
            for item in items:
                is_template = isinstance(item, dict) and "structure" in item
                try:
                    if is_template:
                        result = await client.publish_template(item)
                    else:
                        result = await client.publish_encounter(item)
                except Exception as exc:
                    bad += 1
                    out.print(f"[red]✗[/red] {path}: {exc}", highlight=False, soft_wrap=True)
                    continue
                kind = "template" if is_template else "encounter"
                out.print(f"[green]✓[/green] {path}: {kind} {result['id']}", highlight=False,
                          soft_wrap=True)  # fmt: skip
        return bad

    if remote(url, key, work):
        raise typer.Exit(1)


@personas_app.command("submit")
def personas_submit(
    file: Annotated[Path, typer.Argument(help="Persona JSON (the seed's PersonaCore).")],
    url: Url = "http://127.0.0.1:3001",
    key: Key = None,
) -> None:
    """Submit a persona for moderation; prints its id and status."""
    persona = read_json_file(file)
    result = remote(url, key, lambda c: c.submit_persona(persona))
    show(result)
    if result.get("status") == "rejected":
        raise typer.Exit(1)


@personas_app.command("approve")
def personas_approve(
    persona_id: Annotated[str, typer.Argument()],
    url: Url = "http://127.0.0.1:3001",
    key: Key = None,
) -> None:
    """Approve a persona (admin key); prints the deploy token once."""
    show(remote(url, key, lambda c: c.approve_persona(persona_id)))


@personas_app.command("reject")
def personas_reject(
    persona_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why; the creator sees it.")],
    url: Url = "http://127.0.0.1:3001",
    key: Key = None,
) -> None:
    """Reject a pending persona (admin key); its creator sees the reason."""
    show(remote(url, key, lambda c: c.reject_persona(persona_id, reason)))


@personas_app.command("list")
def personas_list(
    status: Annotated[str | None, typer.Option()] = None,
    url: Url = "http://127.0.0.1:3001",
    key: Key = None,
    as_json: JsonFlag = False,
) -> None:
    """Personas you may see (all of them with an admin key)."""
    records = remote(url, key, lambda c: c.personas(status))
    if as_json:
        show(records)
        return
    for record in records:
        persona = record["persona"]
        out.print(f"{persona['id']}  {record['status']:18}  {persona['name']}", highlight=False)


@app.command(help=_("Spawn an approved persona on a connected game server."))
def spawn(
    persona_id: Annotated[str, typer.Argument()],
    token: Annotated[str, typer.Option(help="The deploy token from approve.")],
    world: Annotated[str, typer.Option(help="gmod, minecraft or web")],
    server: Annotated[str, typer.Option(help="The game server's id.")],
    x: float = 0.0,
    y: float = 0.0,
    z: float = 0.0,
    url: Url = "http://127.0.0.1:3001",
    key: Key = None,
) -> None:
    """Spawn an approved persona on a connected game server."""
    location = {"x": x, "y": y, "z": z}
    show(remote(url, key, lambda c: c.spawn(persona_id, token, world, server, location)))


@app.command(help=_("Send actions to a live companion; prints each one's moderation result."))
def signal(
    session_id: Annotated[str, typer.Argument()],
    actions: Annotated[
        str, typer.Argument(help='JSON list, e.g. [{"type":"chat","message":"hi"}]')
    ],
    url: Url = "http://127.0.0.1:3001",
    key: Key = None,
) -> None:
    """Send actions to a live companion; prints each one's moderation result."""
    try:
        batch = json.loads(actions)
    except ValueError as exc:
        raise fail(f"actions must be a JSON list: {exc}") from None
    if not isinstance(batch, list):
        raise fail("actions must be a JSON list of action objects")
    show(remote(url, key, lambda c: c.signal(session_id, batch)))


@app.command(help=_("End a companion session; prints its summary and replay."))
def end(
    session_id: Annotated[str, typer.Argument()],
    url: Url = "http://127.0.0.1:3001",
    key: Key = None,
) -> None:
    """End a companion session; prints its summary and replay."""
    show(remote(url, key, lambda c: c.end(session_id)))
