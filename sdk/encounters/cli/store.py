"""``ae store ...``: where the engine keeps its state, and moving it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import anyio
import typer
from rich.table import Table

from ..errors import StoreError
from .app import JsonFlag, app, fail, out, print_json, state

if TYPE_CHECKING:
    from ..storage.postgres import PostgresStore
    from ..storage.transfer import CopiedTable

store_app = typer.Typer(help="The store: where state is kept, and moving it.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("migrate")
def store_migrate(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The PostgreSQL database: postgresql://user@host:5432/dbname "
            "(add ?schema=NAME for a schema; a password can come from PGPASSWORD).",
        ),
    ],
    source: Annotated[
        Path | None,
        typer.Option("--from", help="The SQLite store file (default: the data folder's)."),
    ] = None,
    market: Annotated[
        Path | None,
        typer.Option(
            "--market-to",
            help="Where the marketplace goes (a SQLite file: it has no PostgreSQL backend; "
            "default: market.db in the data folder, where a node on PostgreSQL opens it).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Copy the embedded SQLite store into an empty PostgreSQL database, ids kept, in
    one transaction, with the bridge daemon's records (world keys, API keys, deploy
    tokens, links) when the bridge is installed and the NPC memories of memory.db
    beside the store (still sealed with its key: every node then needs that key as
    AE_MEMORY_KEY). Stop the daemon first; afterwards set AE_STORE to the URL. The
    marketplace, which has no PostgreSQL backend, goes into its own SQLite file
    (--market-to)."""
    from ..memory.manager import MEMORY_FILENAME
    from ..storage.postgres import PostgresStore  # its driver is an extra: loaded when used
    from ..storage.transfer import CopyInterrupted, copy_marketplace, has_marketplace

    path = source if source is not None else state.settings().database_path
    market_to = market if market is not None else state.settings().data_dir / "market.db"
    with_market = path.is_file() and has_marketplace(path)
    memory = path.parent / MEMORY_FILENAME  # NPC memories, beside the store
    if with_market and market_to.exists():  # found out before anything is copied
        raise fail(f"{str(market_to)!r} already exists: move it away, or name another file "
                   "for the marketplace with --market-to")  # fmt: skip
    target = PostgresStore(to)
    # the marketplace first (a quick file copy, renamed into place when whole): taken
    # back if the PostgreSQL copy does not commit, so a failed or interrupted run leaves
    # nothing behind and can simply run again
    try:
        listings = copy_marketplace(path, market_to) if with_market else None
    except StoreError as exc:
        raise fail(f"{exc}; nothing was copied") from None
    try:
        copied = anyio.run(_copy_until_ctrl_c, path, target, market_to if listings else None,
                           memory if memory.is_file() else None)  # fmt: skip
    except BaseException as exc:
        if listings is not None:
            market_to.unlink(missing_ok=True)
        if isinstance(exc, CopyInterrupted):
            raise fail(str(exc), 130) from None
        raise
    if as_json:
        rows = [{"table": c.table, "rows": c.target_rows} for c in copied]
        if listings is not None:
            rows.append({"table": "market_listings", "rows": listings, "file": str(market_to)})
        print_json(rows)
    else:
        table = Table("table", "rows")
        for c in copied:
            table.add_row(c.table, str(c.target_rows))
        out.print(table)
        out.print(f"copied {sum(c.target_rows for c in copied)} rows from {str(path)!r} "
                  f"into {target.where}", highlight=False)  # fmt: skip
        if listings is not None:
            out.print(f"copied the marketplace ({listings} listings) into {str(market_to)!r}: "
                      "serve it from the node with that data folder", highlight=False)  # fmt: skip
    if any(c.source_rows != c.target_rows for c in copied):
        raise fail("the row counts differ between the source and the target (above)")


async def _copy_until_ctrl_c(
    path: Path, target: PostgresStore, market_to: Path | None, memory: Path | None = None
) -> list[CopiedTable]:
    """The copy, stopped by Ctrl-C (SIGINT): the statement running on PostgreSQL is
    cancelled, the transaction rolled back and the target left empty. Cancelling the
    copy's task instead (what asyncio does on Ctrl-C) can land in the middle of a
    PostgreSQL statement and hang. A plain signal handler, so it works where the event
    loop cannot take signals (Windows).

    A second Ctrl-C (for a wait the copy cannot cut short, such as connecting to the
    database) quits at once: the marketplace file copied into ``market_to`` is removed
    and the process exits with 130; PostgreSQL rolls the open transaction back when the
    connection drops. Once the copy is being committed it may be complete: the file is
    kept and the message says so. It does not go through asyncio's own handler, which
    would cancel the task."""
    from ..storage.transfer import copy_sqlite_to_postgres

    stop, committing = anyio.Event(), anyio.Event()
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)

    def at_once(signum: int, frame: FrameType | None) -> None:
        # os.write: print() here could re-enter a write the main thread was making
        if committing.is_set():  # PostgreSQL may hold the whole copy: keep its market
            kept = f"; the marketplace file {str(market_to)!r} is kept" if market_to else ""
            os.write(2, f"interrupted while the copy into {target.where} was being "
                        f"committed: it may be complete{kept}. If the target holds no "
                        "rows, remove that file and run the command again\n".encode())  # fmt: skip
            os._exit(130)
        if market_to is not None:
            market_to.unlink(missing_ok=True)
        os.write(2, f"interrupted: the copy into {target.where} is rolled back as its "
                    "connection closes; run the command again\n".encode())  # fmt: skip
        os._exit(130)

    def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, at_once)
        os.write(2, b"stopping: rolling the copy back (press Ctrl-C again to quit at once)\n")
        loop.call_soon_threadsafe(stop.set)

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        return await copy_sqlite_to_postgres(
            path, target, stop=stop, committing=committing, memory=memory
        )
    finally:
        signal.signal(signal.SIGINT, previous)
