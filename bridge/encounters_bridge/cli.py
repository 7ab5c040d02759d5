"""The bridge's commands for ``ae``: ``ae worlds ...``, ``ae keys ...`` and
``ae bridge serve``. The SDK's ``ae`` loads this module through the ``ae.commands``
entry point (pyproject.toml), so the SDK's CLI never imports the bridge by name (the
dependency goes one way: bridge -> SDK)."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.table import Table

from encounters.cli import app
from encounters.cli import demo as sdk_demo
from encounters.cli.app import JsonFlag, fail, out, print_json, state
from encounters.errors import ConfigError, StoreError
from encounters.models import utcnow
from encounters.settings import POSTGRES_SCHEMES
from encounters.storage import SQLiteStore
from encounters.storage.factory import store_from_settings
from encounters.storage.transfer import TableSet, register_tables

from .config import load_bridge_config
from .keys import KeyConflict, create_api_key, create_world_key
from .server import raise_fd_limit
from .store import BridgeStore, open_bridge_store
from .store import schema as records_schema

# `ae store migrate --to postgresql://...` moves the daemon's records with the SDK's:
# world keys, API keys, deploy tokens, links and their outbox keep working after the move
register_tables(TableSet("bridge", records_schema.TRACK, records_schema.MIGRATIONS,
                         records_schema.metadata.sorted_tables))  # fmt: skip

worlds_app = typer.Typer(help="World keys for game servers.", no_args_is_help=True)
bridge_app = typer.Typer(help="The bridge daemon.", no_args_is_help=True)
app.add_typer(worlds_app, name="worlds")
app.add_typer(bridge_app, name="bridge")


@asynccontextmanager
async def _store() -> AsyncIterator[BridgeStore]:
    """The daemon's records in the store the daemon uses: the PostgreSQL database of
    ``AE_STORE=postgresql://...``, else the data folder's SQLite file, after the folder
    was checked (a folder that cannot hold it is one line naming the fix)."""
    settings = state.store_settings()
    shared = settings.store.startswith(POSTGRES_SCHEMES)
    store = store_from_settings(settings) if shared else SQLiteStore(settings.database_path)
    async with store:
        yield await open_bridge_store(store)


@worlds_app.command("add")
def worlds_add(
    name: Annotated[str, typer.Argument(help="A name for the game server.")],
    world: Annotated[str, typer.Option("--world", help="gmod, minecraft or web")],
    server: Annotated[
        list[str] | None,
        typer.Option(
            "--server",
            help="A server id the key may identify as (repeat for a fleet). Without it, "
            "the key is bound to the server id of its first identify.",
        ),
    ] = None,
) -> None:
    """Create a world key. It is printed once and only its hash is kept: copy it now."""
    if world not in ("gmod", "minecraft", "web"):
        raise fail("--world must be gmod, minecraft or web")
    if not 0 < len(name.strip()) <= 120:
        raise fail("the name must be 1 to 120 characters")
    servers = list(server or [])
    bad = [s for s in servers if not 0 < len(s) <= 64]
    if bad:
        raise fail(f"--server {bad[0]!r}: a server id is 1 to 64 characters")

    async def run() -> str:
        async with _store() as store:
            record, key = await create_world_key(store, name, world, servers)  # type: ignore[arg-type]
            return f"{record.id}\t{key}"

    try:
        key_id, key = anyio.run(run).split("\t")
    except KeyConflict as exc:
        raise fail(str(exc)) from None
    bound = f"servers {', '.join(servers)}" if servers else "bound to its first server id"
    out.print(
        f"world key {key_id} for {name!r} ({world}, {bound}); shown once, keep it secret:",
        highlight=False,
    )
    print(key)


@worlds_app.command("list")
def worlds_list(as_json: JsonFlag = False) -> None:
    """Every world key (never the secret)."""
    if as_json:

        async def records() -> list[dict[str, Any]]:
            async with _store() as store:
                return [k.model_dump(mode="json", exclude={"key_hash"})
                        for k in await store.list_world_keys()]  # fmt: skip

        print_json(anyio.run(records))
        return

    async def run() -> list[tuple[str, str, str, str, str, str]]:
        async with _store() as store:
            return [
                (k.id, k.name, k.world, ", ".join(k.server_ids) or "(first identify)",
                 k.created_at.strftime("%Y-%m-%d %H:%M"),
                 "revoked" if k.revoked_at else "active")
                for k in await store.list_world_keys()
            ]  # fmt: skip

    table = Table(title="world keys")
    for col in ("id", "name", "world", "servers", "created (UTC)", "status"):
        table.add_column(col, no_wrap=col == "id")
    for row in anyio.run(run):
        table.add_row(*row)
    out.print(table)


@worlds_app.command("revoke")
def worlds_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a world key: its game server is refused from now on (close 4004); a
    running daemon closes its live links within 2 seconds."""

    async def run() -> bool:
        async with _store() as store:
            record = await store.get_world_key(key_id)
            if record is None:
                return False
            await store.save_world_key(record.model_copy(update={"revoked_at": utcnow()}))
            return True

    if not anyio.run(run):
        raise fail(f"no world key with id {key_id!r}; see 'ae worlds list'")
    out.print(f"world key {key_id} revoked", highlight=False)


keys_app = typer.Typer(help="Control-API keys (admin, creator).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="Who the key is for.")],
    role: Annotated[str, typer.Option("--role", help="admin or creator")] = "creator",
) -> None:
    """Create a control-API key. It is printed once and only its hash is kept."""
    if role not in ("admin", "creator"):
        raise fail("--role must be admin or creator")
    if not 0 < len(name.strip()) <= 120:
        raise fail("the name must be 1 to 120 characters")

    async def run() -> str:
        async with _store() as store:
            record, key = await create_api_key(store, name, role)
            return f"{record.id}\t{key}"

    key_id, key = anyio.run(run).split("\t")
    out.print(f"{role} key {key_id} for {name!r}; shown once, keep it secret:", highlight=False)
    print(key)


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """Every control-API key (never the secret)."""
    if as_json:

        async def records() -> list[dict[str, Any]]:
            async with _store() as store:
                return [k.model_dump(mode="json", exclude={"key_hash"})
                        for k in await store.list_api_keys()]  # fmt: skip

        print_json(anyio.run(records))
        return

    async def run() -> list[tuple[str, str, str, str, str]]:
        async with _store() as store:
            return [
                (k.id, k.name, k.role, k.created_at.strftime("%Y-%m-%d %H:%M"),
                 "revoked" if k.revoked_at else "active")
                for k in await store.list_api_keys()
            ]  # fmt: skip

    table = Table(title="API keys")
    for col in ("id", "name", "role", "created (UTC)", "status"):
        table.add_column(col, no_wrap=col == "id")
    for row in anyio.run(run):
        table.add_row(*row)
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a control-API key: refused from its next request on."""

    async def run() -> bool:
        async with _store() as store:
            record = await store.get_api_key(key_id)
            if record is None:
                return False
            if record.revoked_at is None:
                await store.save_api_key(record.model_copy(update={"revoked_at": utcnow()}))
            return True

    if not anyio.run(run):
        raise fail(f"no API key with id {key_id!r}; see 'ae keys list'")
    out.print(f"API key {key_id} revoked", highlight=False)


@bridge_app.command("serve")
def bridge_serve(
    config: Annotated[
        Path | None,
        typer.Option(help="TOML file with a [bridge] table (or $AE_BRIDGE_CONFIG)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="WebSocket port for adapters [3002].")] = None,
    http_port: Annotated[int | None, typer.Option(help="Control API port, HTTP [3001].")] = None,
    heartbeat: Annotated[
        float | None, typer.Option(help="Heartbeat interval, seconds [15].")
    ] = None,
    token_ttl: Annotated[
        float | None, typer.Option(help="Deploy token lifetime, seconds [3600].")
    ] = None,
    event_loop: Annotated[
        str | None,
        typer.Option(
            "--event-loop",
            help="auto (uvloop when installed), uvloop or asyncio [auto].",
        ),
    ] = None,
    script: Annotated[
        Path | None,
        typer.Option(
            "--script",
            help="Python file defining 'script = CompanionScript()': companions of live "
            "sessions react to game events with it (LLM when configured, else offline).",
        ),
    ] = None,
) -> None:
    """Run the bridge daemon: adapters on ws://HOST:PORT/ws, the control API on
    http://HOST:HTTP_PORT (docs at /docs). SIGINT/SIGTERM close links with 1001.

    Settings come from defaults, then the --config file, then AE_BRIDGE_* variables
    (AE_BRIDGE_PORT, ...), then these flags."""
    from .daemon import Daemon
    from .eventloop import backend_options, running_loop_name

    flags = {
        "host": host, "port": port, "http_port": http_port, "heartbeat": heartbeat,
        "token_ttl": token_ttl, "event_loop": event_loop,
    }  # fmt: skip
    try:
        cfg = load_bridge_config(config, env=os.environ, flags=flags)
        loop_options = backend_options(cfg.event_loop)  # uvloop asked for but missing: refused
    except ConfigError as exc:
        raise fail(str(exc)) from None
    companion_script = None
    if script is not None:
        from encounters.companion import ScriptError, load_script

        try:
            companion_script = load_script(script)
        except ScriptError as exc:
            raise fail(str(exc)) from None
    raise_fd_limit()  # thousands of links need thousands of sockets

    async def run() -> None:
        async with Daemon.open(state.settings(), cfg, script=companion_script) as daemon:
            out.print(f"bridge: adapters on {daemon.ws_url}, control API on "
                      f"{daemon.api_url} (docs at /docs), studio at {daemon.api_url}/studio/; "
                      f"event loop: {running_loop_name()}", highlight=False)  # fmt: skip
            voice, links = daemon.service.voice, daemon.service.audio_links
            if voice is not None and links is not None:
                engines = ", ".join(p.name for p in voice.router.providers)
                out.print(f"voice: {engines}; game clients fetch lines from {links.base_url}",
                          highlight=False)  # fmt: skip
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    break
        out.print("bridge stopped; link state saved")

    try:
        anyio.run(run, backend_options=loop_options)
    except StoreError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(
            f"cannot listen on {cfg.host} (ports {cfg.port} and {cfg.http_port}): "
            f"{exc.strerror or exc}; another daemon may be running: stop it or choose "
            "other ports with --port and --http-port"
        ) from None


def _daemon_demo(settings: Any, console: Any) -> None:
    from .demo import run_bridge_demo

    run_bridge_demo(settings, console)


def _web_world_demo(settings: Any, console: Any) -> None:
    from .play_demo import run_web_world

    try:
        run_web_world(settings, console)
    except OSError as exc:
        cfg = load_bridge_config(env=os.environ)
        raise fail(
            f"cannot listen on {cfg.host} (ports {cfg.port} and {cfg.http_port}) for the web "
            f"world: {exc.strerror or exc}; stop the daemon that uses them (or set "
            "AE_BRIDGE_PORT and AE_BRIDGE_HTTP_PORT)"
        ) from None


sdk_demo.EXTRA_PARTS.append(_daemon_demo)
sdk_demo.WEB_WORLD = _web_world_demo


def main() -> None:
    from encounters.cli import main as sdk_main

    sdk_main()


__all__ = ["app", "main"]
