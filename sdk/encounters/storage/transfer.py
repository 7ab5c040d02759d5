"""Moving an embedded SQLite store into PostgreSQL (``ae store migrate --to URL``).

The copy is raw rows, table by table, ids and sequence numbers kept, so cursors
(audit ``seq``, event-log ids, webhook outbox positions) stay valid after the move.
Both stores are first brought to the same schema version by their own migrations.

Guarantees and limits:

- The source is read inside one read transaction: a consistent snapshot, even if
  something writes to the file meanwhile (stop the daemon anyway: what it writes
  after the snapshot stays behind). It is read through the synchronous SQLite driver,
  one chunk at a time in a worker thread, so a cancellation (Ctrl-C) lands between
  chunks: within one chunk's read the copy stops and the target is left empty. (The
  store's asyncio driver, cancelled mid-statement, closes its connection twice and
  hangs the event loop's shutdown: see ``sqlite._connected``.)
- The target is written in one transaction: interrupted, it is left empty, and the
  command can simply run again. A target that already holds rows is refused.
- A copy is stopped by setting its ``stop`` event (``ae store migrate`` sets it on
  Ctrl-C): the statement running on PostgreSQL is cancelled (``pg_cancel_backend``,
  so a copy waiting on a lock stops too), it is checked before every chunk, and the
  copy raises :class:`CopyInterrupted` after rolling back. Opening the stores and
  their migrations are not cut short. Do not cancel the task instead: a cancellation
  landing in the middle of a PostgreSQL statement can leave the driver (asyncpg under
  SQLAlchemy) waiting forever for the cancelled query.
- Rows go over in chunks of :data:`CHUNK` (memory stays flat for big stores).
- Every table of the SDK's schema is copied, and the tables other packages keep in the
  same file and registered with :func:`register_tables` (the bridge daemon's world keys,
  API keys, deploy tokens, links and outbox, registered when ``ae`` loads the bridge's
  commands), each set brought to its newest version on both sides by its own
  migrations first; sequences of numbered keys are moved past the copied numbers.
- NPC memories: given ``memory`` (``ae store migrate`` gives the ``memory.db`` beside the
  source store when there is one), its rows are copied into the memory tables in the
  same transaction, blobs as they are (still sealed with that folder's key, which every
  node then uses as ``AE_MEMORY_KEY``). It is read whole into memory first (a pair
  holds at most its budget of memories).
- The marketplace has no PostgreSQL backend: on a PostgreSQL store it keeps its tables
  in ``market.db`` in the data folder. :func:`copy_marketplace` moves them there from the
  SQLite store (``ae store migrate`` does, next to the PostgreSQL copy).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
from sqlalchemy import Connection, Integer, Table, create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from ..errors import StoreError
from ..memory.postgres import MIGRATIONS as MEMORY_MIGRATIONS
from ..memory.postgres import TRACK as MEMORY_TRACK
from ..memory.postgres import read_memory_file, write_memory_rows
from .postgres import PostgresStore
from .schema import metadata, schema_meta
from .sqlite import SQLiteStore

#: Rows read and written per round trip.
CHUNK = 1000
_T = TypeVar("_T")


@dataclass(frozen=True)
class TableSet:
    """Tables another package keeps in the store's database beside the SDK's, with the
    migrations that create them (``migrations[i]`` goes from version ``i`` to ``i + 1``,
    counted under ``track`` in ``schema_meta``, as :meth:`SQLiteStore.migrate` and
    :meth:`PostgresStore.migrate` run them). ``tables`` in an order where every table
    comes after those it refers to."""

    name: str
    track: str
    migrations: Sequence[Callable[[Connection], None]]
    tables: Sequence[Table]


#: The table sets :func:`copy_sqlite_to_postgres` copies by default, besides the SDK's.
_REGISTERED: dict[str, TableSet] = {}


def register_tables(tables: TableSet) -> None:
    """Have ``ae store migrate`` copy ``tables`` too (registering a name again replaces
    it). The SDK never imports the packages that keep such tables: they register
    themselves (the bridge does when ``ae`` loads its commands)."""
    _REGISTERED[tables.name] = tables


def registered_tables() -> list[TableSet]:
    return list(_REGISTERED.values())


class CopyInterrupted(StoreError):
    """The copy was stopped (its ``stop`` event was set); the target was left empty."""


@dataclass(frozen=True)
class CopiedTable:
    """One table's rows in the source and in the target after the copy."""

    table: str
    source_rows: int
    target_rows: int


def _serials(tables: list[Table]) -> list[tuple[str, str]]:
    """``(table, column)`` of the integer keys PostgreSQL numbers with a sequence."""
    return [
        (t.name, c.name)
        for t in tables
        if (c := t.autoincrement_column) is not None and isinstance(c.type, Integer)
    ]


def _utc(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite gives its UTC datetimes back without a zone; PostgreSQL is told."""
    return {
        k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
        for k, v in row.items()
    }


@contextlib.asynccontextmanager
async def _snapshot(source: Path) -> AsyncIterator[Connection]:
    """A synchronous connection to ``source`` inside one read transaction (``BEGIN``
    emitted here: the driver's own transaction handling would let every SELECT see a
    different moment). Opened and closed in a worker thread; the close is shielded, so
    a cancelled copy still gives the file back."""
    engine = create_engine(
        f"sqlite:///{source}", poolclass=NullPool, connect_args={"check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _autocommit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # BEGIN is emitted below

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    def enter() -> Connection:
        conn = engine.connect()
        conn.begin()
        return conn

    conn = await anyio.to_thread.run_sync(enter)
    try:
        yield conn
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(conn.close)  # ends the read transaction
            engine.dispose()


async def _cancel_on_stop(stop: anyio.Event, target: PostgresStore, pid: object) -> None:
    """Once ``stop`` is set, cancel the statement the copy's connection (backend ``pid``)
    runs, from a connection of its own: a copy waiting on a lock or a slow INSERT fails
    at once instead of at its next chunk. Shielded once it has begun, so the copy's end
    cannot cut it off in the middle of its statement (the driver's hang)."""
    await stop.wait()
    with anyio.CancelScope(shield=True):
        async with target.engine.connect() as conn:
            await conn.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})


async def _from_source(source: Path, call: Callable[..., _T], *args: object) -> _T:
    """``call(*args)`` on the source's connection, in a worker thread; the source's
    errors are named as the source's (not the target's)."""
    try:
        return await anyio.to_thread.run_sync(call, *args)
    except DBAPIError as exc:
        reason = str(exc.orig).splitlines()[0]
        raise StoreError(
            f"reading the SQLite store {str(source)!r} failed, nothing was copied: {reason}; "
            "check the file (sqlite3 FILE 'PRAGMA integrity_check')"
        ) from None


async def _copy_rows(
    source: Path,
    target: PostgresStore,
    tables: list[Table],
    dst: AsyncConnection,
    check: Callable[[], None],
) -> list[CopiedTable]:
    """The copy inside the target's transaction ``dst``: refuses a target holding rows,
    then every table's rows in chunks (``check`` before each), the sequences, and the
    row counts on both sides."""
    taken = {}
    for table in tables:
        n = (await dst.execute(select(func.count()).select_from(table))).scalar()
        if n:
            taken[table.name] = n
    if taken:
        shown = ", ".join(f"{n} in {name}" for name, n in taken.items())
        raise StoreError(
            f"the target {target.where} already holds rows ({shown}); migrate "
            "into an empty database or schema (?schema=NAME)"
        )
    counts: dict[str, int] = {}
    check()
    async with _snapshot(source) as src:
        for table in tables:
            # the driver's cursor reads rows as they are fetched
            result = (await _from_source(source, src.execute, select(table))).mappings()
            copied = 0
            while chunk := await _from_source(source, result.fetchmany, CHUNK):
                check()
                await dst.execute(table.insert(), [_utc(dict(r)) for r in chunk])
                copied += len(chunk)
            counts[table.name] = copied
    for name, column in _serials(tables):
        # rows came with their numbers: the next default continues after them
        await dst.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:t, :c), "
                f"coalesce(max({column}), 0) + 1, false) FROM {name}"
            ),
            {"t": name, "c": column},
        )
    out = []
    for table in tables:
        n = (await dst.execute(select(func.count()).select_from(table))).scalar()
        out.append(CopiedTable(table.name, counts[table.name], int(n or 0)))
    check()  # the last moment the transaction can still be rolled back
    return out


async def copy_sqlite_to_postgres(
    source: Path,
    target: PostgresStore,
    extra: Sequence[TableSet] | None = None,
    *,
    stop: anyio.Event | None = None,
    committing: anyio.Event | None = None,
    memory: Path | None = None,
) -> list[CopiedTable]:
    """Copy every row of the SQLite store at ``source`` into ``target`` (opened and
    closed here): the SDK's tables and those of ``extra`` (by default the registered
    ones, :func:`register_tables`); returns the row counts, which match on success.
    Raises :class:`StoreError` for a missing source or a target that is not empty, and
    :class:`CopyInterrupted` when ``stop`` is set before the copy is done. ``committing``
    is set once every row is copied and the transaction is being committed: from then
    on the copy may be complete whatever happens to this process. ``memory``: an NPC
    memory file (``memory.db``) copied in the same transaction (counted as
    ``npc_memories``)."""

    def check() -> None:
        if stop is not None and stop.is_set():
            raise CopyInterrupted(
                f"interrupted: no rows were copied into {target.where}; run the "
                "command again to copy"
            )

    if not source.is_file():
        raise StoreError(f"no SQLite store at {str(source)!r}; name it with --from or AE_DATA_DIR")
    sets = registered_tables() if extra is None else list(extra)
    tables = [t for t in metadata.sorted_tables if t is not schema_meta]
    tables += [t for s in sets for t in s.tables]
    async with SQLiteStore(source) as sqlite:  # both sides at the newest version of each set
        for table_set in sets:
            await sqlite.migrate(table_set.track, list(table_set.migrations))
    memory_rows = read_memory_file(memory) if memory is not None else None
    async with target:
        for table_set in sets:
            await target.migrate(table_set.track, list(table_set.migrations))
        if memory_rows is not None:
            await target.migrate(MEMORY_TRACK, MEMORY_MIGRATIONS)
        try:
            async with target.engine.begin() as dst:  # one transaction: all or nothing
                pid = (await dst.execute(text("SELECT pg_backend_pid()"))).scalar()
                done: list[CopiedTable] | Exception
                async with anyio.create_task_group() as tg:
                    if stop is not None:
                        tg.start_soon(_cancel_on_stop, stop, target, pid)
                    try:
                        copied = await _copy_rows(source, target, tables, dst, check)
                        if memory_rows is not None:
                            check()
                            n = await write_memory_rows(dst, memory_rows, target.where)
                            copied.append(CopiedTable("npc_memories", len(memory_rows.memories), n))
                        done = copied
                    except Exception as exc:  # raised below, not in the task group's group
                        done = exc
                    finally:
                        tg.cancel_scope.cancel()
                if isinstance(done, Exception):
                    raise done
                out = done
                check()  # stopped after the last row: rolled back, not committed
                if committing is not None:
                    committing.set()
        except DBAPIError as exc:
            check()  # a statement cancelled because the copy was stopped
            reason = str(exc.orig).splitlines()[0]
            raise StoreError(
                f"copying into {target.where} failed, nothing was copied: {reason}"
            ) from None
    return out


#: Prefix of the marketplace's tables, indexes and triggers in a SQLite file
#: (``encounters.marketplace.store``; its full-text index's shadow tables share it).
MARKET_PREFIX = "market_"


def has_marketplace(source: Path) -> bool:
    """Whether the SQLite store at ``source`` holds marketplace tables."""
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as db:
        found = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'market_schema'"
        ).fetchone()
    return found is not None


def copy_marketplace(source: Path, target: Path) -> int:
    """Copy the marketplace's tables of the SQLite store at ``source`` into a new SQLite
    file ``target`` (the ``market.db`` a node on a PostgreSQL store opens), nothing else
    of the store; returns the number of listings copied. A consistent snapshot (SQLite's
    backup API); written to a temporary file and renamed, so an interrupted copy leaves
    no ``target``. Raises :class:`StoreError` when ``target`` exists."""
    if target.exists():
        raise StoreError(
            f"{str(target)!r} already exists: move it away to copy the marketplace there"
        )
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
            contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as dst,
        ):
            src.backup(dst)
            others = dst.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' AND substr(name, 1, ?) != ?",
                (len(MARKET_PREFIX), MARKET_PREFIX),
            ).fetchall()
            for kind, name in others:  # the SDK's and the daemon's tables stay behind
                dst.execute(f'DROP {kind.upper()} "{name}"')
            listings: int = dst.execute("SELECT count(*) FROM market_listings").fetchone()[0]
            dst.execute("VACUUM")
        partial.replace(target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"copying the marketplace into {str(target)!r} failed: {exc}") from None
    return listings
