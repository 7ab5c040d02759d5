"""``ae store ...``: where the engine keeps its state, and moving it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.table import Table

from .app import JsonFlag, app, fail, out, print_json, state

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
    as_json: JsonFlag = False,
) -> None:
    """Copy the embedded SQLite store into an empty PostgreSQL database, ids kept, in
    one transaction, with the bridge daemon's records (world keys, API keys, deploy
    tokens, links) when the bridge is installed. Stop the daemon first; afterwards set
    AE_STORE to the URL. The marketplace (its own SQLite file) is not moved."""
    from ..storage.postgres import PostgresStore  # its driver is an extra: loaded when used
    from ..storage.transfer import copy_sqlite_to_postgres

    path = source if source is not None else state.settings().database_path
    target = PostgresStore(to)
    copied = anyio.run(copy_sqlite_to_postgres, path, target)
    if as_json:
        print_json([{"table": c.table, "rows": c.target_rows} for c in copied])
    else:
        table = Table("table", "rows")
        for c in copied:
            table.add_row(c.table, str(c.target_rows))
        out.print(table)
        out.print(f"copied {sum(c.target_rows for c in copied)} rows from {str(path)!r} "
                  f"into {target.where}", highlight=False)  # fmt: skip
    if any(c.source_rows != c.target_rows for c in copied):
        raise fail("the row counts differ between the source and the target (above)")
