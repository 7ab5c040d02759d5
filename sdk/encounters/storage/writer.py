"""The group-commit writer of the SQLite store: every write to the file goes through it.

Why it works this way:

- Writes go through one held ``sqlite3`` connection in ``BEGIN IMMEDIATE``
  transactions, so a read-modify-write (a :class:`Write` with a ``change``) is atomic
  even against other stores and other processes on the same file.
- Group commit: whoever holds the write lock commits every write queued meanwhile in
  the same transaction, in one trip to a worker thread. The statements are SQLAlchemy's
  (compiled once for SQLite, with its own type conversions), but they run on the plain
  DB-API connection: going through the async engine cost a thread hop per statement
  and was four times slower for a busy bridge link. The flush is shielded from
  cancellation: a caller that times out never fails the writes of others queued with
  it.
- Checkpoints (copying the WAL into the database file, with an fsync) run in a thread
  of their own about once a second, never inside a commit: SQLite's automatic
  checkpoint would stall whichever write crossed the threshold for tens of
  milliseconds. The checkpoint thread runs at a lower CPU priority (``nice`` +10, on
  Linux, where a thread has its own): on a busy machine its copying and fsync would
  otherwise take the core from the event loop, and the writes behind that wait showed
  as the slowest actions' latency (p99 at 1,000 single-action signals a second about
  2.0 ms with it at the loop's priority, about 1.75 ms lowered, the same as with no
  checkpoint at all). It still gets a share of a busy core, so the WAL stays bounded.

The writer knows no tables: a :class:`Write` carries its :class:`Statement`, so a store
that shares the file (the bridge daemon keeps its records next to the SDK's) commits its
rows in the same transaction as the SDK's by handing all of them to one
:meth:`GroupWriter.commit`.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Table
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..errors import StoreError
from ..log import get_logger

log = get_logger(__name__)

_DIALECT = sqlite_dialect()

#: Batches up to this many writes commit on the event loop's thread (see _flush).
_INLINE_WRITES = 64

#: How much lower than the process the checkpoint thread is scheduled (``nice``).
CHECKPOINT_NICENESS = 10


def _lower_priority() -> None:
    """Make the calling thread yield the CPU to the process's other threads: Linux
    schedules each thread with its own nice value (elsewhere ``setpriority`` with a
    thread id would name a process, so nothing is done)."""
    if sys.platform != "linux":
        return
    tid = threading.get_native_id()
    with suppress(OSError):  # a sandbox that forbids it: checkpoints run as before
        niceness = os.getpriority(os.PRIO_PROCESS, tid) + CHECKPOINT_NICENESS
        os.setpriority(os.PRIO_PROCESS, tid, niceness)


@dataclass(frozen=True)
class Statement:
    """A kind of write: a SQLAlchemy statement run with each write's ``params``.

    ``name`` is unique among statements (it keys the compiled form). Writes flush in
    ``rank`` order; writes of one rank keep the order they were queued in, so give a
    table's statements one rank. ``numbered``: the column of an append-only ``table``
    that the flush fills with increasing numbers (the write's ``result``)."""

    name: str
    stmt: Any
    rank: int
    table: str = ""
    numbered: str | None = None


@dataclass
class Write:
    """One queued write: ``statement`` with ``params`` or, when ``change`` is set, a
    unit of work run inside the flush transaction (on the writer's connection, in a
    worker thread; it may only touch that connection and what it was given) where
    ``statement`` only gives its rank. Its return value becomes ``result``; an
    exception it raises fails this write alone, unless it is the database's (then the
    whole transaction rolls back)."""

    statement: Statement
    params: dict[str, Any]
    change: Callable[[sqlite3.Connection], Any] | None = None
    done: bool = False
    error: BaseException | None = None
    result: Any = None


def upsert(table: Table, **computed: Any) -> Any:
    """Insert, or replace every column but ``id`` and ``created_at``."""
    stmt = sqlite_insert(table)
    if computed:
        stmt = stmt.values(**computed)
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={
            c.name: stmt.excluded[c.name]
            for c in table.columns
            if c.name not in ("id", "created_at")
        },
    )


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled for SQLite: its SQL and, per positional parameter, the
    name it takes from a row, its value when the row has none (a literal of the
    statement) and SQLAlchemy's conversion for its type."""

    sql: str
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]

    @classmethod
    def of(cls, stmt: Any, keys: tuple[str, ...]) -> _Compiled:
        compiled = stmt.compile(dialect=_DIALECT, column_keys=list(keys))
        binds = tuple(
            (
                name,
                compiled.binds[name].effective_value,
                compiled.binds[name].type.dialect_impl(_DIALECT).bind_processor(_DIALECT),
            )
            for name in compiled.positiontup or ()
        )
        return cls(compiled.string, binds)

    def params(self, row: dict[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, literal, convert in self.binds:
            value = row.get(name, literal)
            out.append(convert(value) if convert is not None else value)
        return tuple(out)


@contextmanager
def _released(lock: anyio.Lock) -> Iterator[None]:
    try:
        yield
    finally:
        lock.release()


class GroupWriter:
    """Commits writes to the SQLite file ``path`` in group transactions.

    ``failed`` turns a database error into the error callers see (the store names the
    file and says what to do). Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path, failed: Callable[[BaseException], BaseException]) -> None:
        self.path = path
        self._failed = failed
        self._conn: sqlite3.Connection | None = None
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint: Future[None] | None = None
        self._checkpointed_at = 0.0
        # fast_acquire: a write that finds the lock free flushes at once instead of
        # yielding to the event loop first (one loop turn per commit saved)
        self._lock = anyio.Lock(fast_acquire=True)
        self._pending: list[Write] = []

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def open(self) -> None:
        self._conn = await anyio.to_thread.run_sync(self._connect)
        self._checkpointer = ThreadPoolExecutor(
            1, thread_name_prefix="ae-checkpoint", initializer=_lower_priority
        )

    def _connect(self) -> sqlite3.Connection:
        # used by one flush at a time (the write lock), from whichever worker thread
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # busy_timeout 0: an inline flush must not block the event loop (see _flush)
        # the file is in WAL mode already (the store's open switched it: use_wal_file)
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "wal_autocheckpoint=0",
                       "busy_timeout=0"):  # fmt: skip
            conn.execute(f"PRAGMA {pragma}")
        return conn

    async def close(self) -> None:
        if self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            await anyio.to_thread.run_sync(checkpointer.shutdown)
        if self._conn is not None:
            async with self._lock:  # not in the middle of a flush
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._conn.close()
            self._conn = None

    # -- checkpoints -------------------------------------------------------------------

    def _maybe_checkpoint(self) -> None:
        """Start a passive checkpoint in the background if none ran for a second."""
        now = time.monotonic()
        if self._checkpointer is None or now - self._checkpointed_at < 1.0:
            return
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._checkpointed_at = now
        self._checkpoint = self._checkpointer.submit(self._run_checkpoint)

    def _run_checkpoint(self) -> None:
        try:
            with sqlite3.connect(self.path, isolation_level=None) as conn:
                conn.execute("PRAGMA busy_timeout=10000")
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            conn.close()
        except sqlite3.Error as exc:  # the next one tries again; the WAL keeps the data
            log.warning("store.checkpoint_failed", path=str(self.path), error=str(exc))

    # -- commits -----------------------------------------------------------------------

    async def commit(self, writes: list[Write]) -> None:
        """Commit ``writes`` durably in one transaction, together with whatever other
        tasks queued meanwhile (writes of one rank keep their order; consecutive ones
        of the same statement go as one ``executemany``). Raises the first write's own
        error (e.g. from a ``change``), or the store's error when the transaction
        failed (then none of the batch was written)."""
        self._pending.extend(writes)
        try:
            await self._lock.acquire()
        except BaseException:  # cancelled while waiting: these writes never happen
            mine = {id(w) for w in writes}
            self._pending = [w for w in self._pending if id(w) not in mine]
            raise
        with _released(self._lock):
            if not all(w.done for w in writes):
                batch, self._pending = self._pending, []
                batch.sort(key=lambda w: w.statement.rank)  # stable: order kept
                try:
                    await self._flush(batch)  # shielded where it awaits (see there)
                except BaseException as exc:  # the transaction was rolled back
                    error = self._failed(exc)
                    for w in batch:
                        w.done, w.error = True, w.error or error
                for w in batch:
                    w.done = True
        for w in writes:
            if w.error is not None:
                if isinstance(w.error, Exception):
                    raise w.error
                raise self._failed(w.error)

    async def _flush(self, batch: list[Write]) -> None:
        """Small batches commit right here: with the WAL and no fsync per commit
        that takes a fraction of a millisecond, less than the trip to a worker
        thread and back. Big batches, and any batch while another process holds the
        write lock, go to a worker thread so the event loop never waits on them.

        Never cancelled half-way: the inline commit has no ``await`` at all (nothing
        can interrupt it, and it costs no cancel scope), and the wait for the worker
        thread is shielded, so a caller that times out never fails the writes of
        others queued with it."""
        conn = self._conn
        if conn is None:
            raise StoreError("the store is not open; use 'async with store:' or await open()")
        if len(batch) <= _INLINE_WRITES:
            try:
                conn.execute("BEGIN IMMEDIATE")  # busy_timeout is 0: fails at once
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            else:
                self._flush_begun(conn, batch)
                self._maybe_checkpoint()
                return
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._flush_waiting, conn, batch)
        self._maybe_checkpoint()

    def _flush_waiting(self, conn: sqlite3.Connection, batch: list[Write]) -> None:
        """The flush in a worker thread, waiting up to 10 s for the write lock."""
        conn.execute("PRAGMA busy_timeout=10000")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            conn.execute("PRAGMA busy_timeout=0")
        self._flush_begun(conn, batch)

    def _flush_begun(self, conn: sqlite3.Connection, batch: list[Write]) -> None:
        """One transaction for the whole batch; ``BEGIN IMMEDIATE`` has run."""
        try:
            i = 0
            while i < len(batch):
                w = batch[i]
                if w.change is not None:
                    try:
                        w.result = w.change(conn)
                    except sqlite3.DatabaseError:  # the database failed: the whole batch
                        raise
                    except Exception as exc:  # this write's own error; others commit
                        w.error = exc
                    i += 1
                    continue
                statement = w.statement
                keys = w.params.keys()
                # consecutive writes of one statement and shape go as one executemany
                j = i + 1
                while (
                    j < len(batch)
                    and batch[j].change is None
                    and batch[j].statement is statement
                    and batch[j].params.keys() == keys
                ):
                    j += 1
                if statement.numbered is not None:
                    # numbers given here (RETURNING would cost a statement per row):
                    # the write lock makes max() ours
                    column, table = statement.numbered, statement.table
                    (last,) = conn.execute(f"SELECT max({column}) FROM {table}").fetchone()
                    for n, numbered in enumerate(batch[i:j], start=(last or 0) + 1):
                        numbered.params[column] = numbered.result = n
                self.execute(conn, statement.name, statement.stmt, [x.params for x in batch[i:j]])
                i = j
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def execute(
        self, conn: sqlite3.Connection, name: str, stmt: Any, rows: list[dict[str, Any]]
    ) -> None:
        """Run a SQLAlchemy statement on the DB-API connection, compiled once per set
        of columns, with SQLAlchemy's own conversions (e.g. of datetimes). For units
        of work, which get ``conn`` from the flush."""
        keys = tuple(rows[0])
        compiled = self._compiled.get((name, keys))
        if compiled is None:
            compiled = self._compiled[(name, keys)] = _Compiled.of(stmt, keys)
        conn.executemany(compiled.sql, [compiled.params(row) for row in rows])
