"""The embedded store: one SQLite file in WAL mode, reached through SQLAlchemy Core 2
async on aiosqlite.

Why these choices:

- WAL lets readers go on while a write commits, and every write is one transaction,
  so a crash mid-write leaves either the old row or the new one, never half of it.
- Writes go through one held ``sqlite3`` connection in ``BEGIN IMMEDIATE``
  transactions, so a read-modify-write (:meth:`SQLiteStore.update_session`) is atomic
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
  milliseconds.

Damage is reported, never repaired silently: a file that is not a SQLite database, a
damaged page found while reading or writing, or a row whose JSON no longer validates
raises :class:`StoreCorrupt` naming the file or row, and leaves the file as it is.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from sqlalchemy import Table, bindparam, delete, event, func, insert, select, update
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import SessionNotFound, StoreCorrupt, StoreError
from ..log import get_logger
from ..models import Category, EncounterSpec, Session, SessionStatus, utcnow
from ..models.audit import AuditEntry
from ..models.bridge import ApiKey, LinkRecord, WorldKey
from ..models.deployment import CompanionSession, DeployToken, PersonaRecord
from ..models.usage import UsageRecord, UsageTotals
from ..validation import format_path
from .base import LinkWrite, LoggedEvent, Store, WriteBatch
from .schema import (
    api_keys,
    audit_log,
    bridge_links,
    bridge_outbox,
    companion_sessions,
    deploy_tokens,
    documents,
    encounters,
    event_log,
    llm_usage,
    migrate,
    personas,
    schema_meta,
    sessions,
    world_keys,
)

log = get_logger(__name__)
M = TypeVar("M", bound=BaseModel)

_SQLITE_MAGIC = b"SQLite format 3\x00"
_RECOVER = "it was left untouched. Restore it from a backup, or move it aside to start a new store."


def _check_header(path: Path) -> None:
    """Refuse a file that exists but is not a SQLite database, before SQLite touches
    it (it would otherwise fail later with a less useful message)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_MAGIC))
    if head != _SQLITE_MAGIC:
        raise StoreCorrupt(
            f"store file {str(path)!r} is not a SQLite database (it may be damaged or "
            f"another file); {_RECOVER}"
        )


@dataclass
class _Write:
    """One queued write: the statement ``_STATEMENTS[table]`` with ``params`` (an
    upsert for most tables), or, when ``change`` is set, a read-modify-write of the
    session ``params["id"]``."""

    table: str
    params: dict[str, Any]
    change: Callable[[Session], None] | None = None
    done: bool = False
    error: BaseException | None = None
    result: Any = None


def _upsert(table: Table, **computed: Any) -> Any:
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


_STATEMENTS: dict[str, Any] = {
    "api_keys": _upsert(api_keys),
    "personas": _upsert(personas),
    "deploy_tokens": _upsert(deploy_tokens),
    "documents": sqlite_insert(documents).on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={
            "updated_at": sqlite_insert(documents).excluded.updated_at,
            "data": sqlite_insert(documents).excluded.data,
        },
    ),
    "companion_sessions": _upsert(companion_sessions),
    "world_keys": _upsert(world_keys),
    "bridge_links": _upsert(bridge_links),
    "llm_usage": insert(llm_usage),
    "sessions": _upsert(sessions),
    # append-only: a plain insert with the seq the flush gives it (see _flush)
    "audit_log": insert(audit_log),
    "outbox": sqlite_insert(bridge_outbox).on_conflict_do_nothing(),
    "event_log": insert(event_log),
    "documents_delete": delete(documents).where(
        documents.c.kind == bindparam("b_kind"), documents.c.key == bindparam("b_key")
    ),
    "outbox_trim": delete(bridge_outbox).where(
        bridge_outbox.c.link_id == bindparam("b_link"), bridge_outbox.c.s <= bindparam("b_upto")
    ),
    # seq orders encounters newest first; re-saving one moves it to the front.
    "encounters": _upsert(
        encounters,
        seq=select(func.coalesce(func.max(encounters.c.seq), 0) + 1).scalar_subquery(),
    ),
}


#: the row of a changed session; its binds are the columns prefixed ``v_``
_SESSION_CHANGE = (
    update(sessions)
    .where(sessions.c.id == bindparam("v_id"))
    .values({c.name: bindparam(f"v_{c.name}") for c in sessions.columns if c.name != "created_at"})
)
_DIALECT = sqlite_dialect()


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


#: Append-only tables whose rows get increasing numbers in the flush.
_NUMBERED = {"audit_log": "seq", "event_log": "id"}

#: Batches up to this many writes commit on the event loop's thread (see _flush).
_INLINE_WRITES = 64

#: Flush order of the kinds of writes. Writes to one table share a rank, so their
#: order is kept; grouping tables turns a busy batch into a few ``executemany``.
_TABLE_ORDER = {name: i for i, name in enumerate([
    "api_keys", "world_keys", "personas", "deploy_tokens", "encounters", "sessions",
    "llm_usage", "companion_sessions", "bridge_links", "audit_log", "documents", "event_log",
])}  # fmt: skip
_TABLE_ORDER["documents_delete"] = _TABLE_ORDER["documents"]
_TABLE_ORDER["outbox"] = _TABLE_ORDER["outbox_trim"] = len(_TABLE_ORDER)


def _world_key(row: Any) -> WorldKey:
    return WorldKey.model_validate({**row, "server_ids": json.loads(row["server_ids"] or "[]")})


def _session_row(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "player_id": s.player_id,
        "status": s.status.value,
        "campaign_id": s.campaign_id,
        "encounter_id": s.encounter.id,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "data": s.model_dump_json(),
    }


def _companion_row(c: CompanionSession) -> dict[str, Any]:
    return {"id": c.id, "world": c.world, "server_id": c.server_id, "status": c.status,
            "data": c.model_dump_json()}  # fmt: skip


@contextmanager
def _released(lock: anyio.Lock) -> Iterator[None]:
    try:
        yield
    finally:
        lock.release()


class SQLiteStore(Store):
    """The default store. ``path`` is the database file; its folder is created."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._engine: AsyncEngine | None = None
        self._writer: sqlite3.Connection | None = None
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint: Future[None] | None = None
        self._checkpointed_at = 0.0
        self._write_lock = anyio.Lock()
        self._pending: list[_Write] = []

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._engine is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot use the data folder {str(self.path.parent)!r}: {exc.strerror}; "
                "point AE_DATA_DIR (or --data-dir) at a folder you can write to"
            ) from None
        _check_header(self.path)
        engine = create_async_engine(f"sqlite+aiosqlite:///{self.path}")

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("ae_migrate") else "BEGIN")

        try:
            async with engine.connect() as conn:
                info = conn.sync_connection.info  # type: ignore[union-attr]
                info["ae_migrate"] = True  # this checkout only: the connection is pooled
                try:
                    async with conn.begin():
                        await self._migrate(conn)
                finally:
                    info.pop("ae_migrate", None)
            writer = await anyio.to_thread.run_sync(self._connect_writer)
        except BaseException as exc:
            await engine.dispose()
            if isinstance(exc, DatabaseError | sqlite3.DatabaseError):
                raise self._damaged(exc) from None
            raise
        self._engine, self._writer = engine, writer
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="ae-checkpoint")

    def _connect_writer(self) -> sqlite3.Connection:
        # used by one flush at a time (the write lock), from whichever worker thread
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # busy_timeout 0: an inline flush must not block the event loop (see _flush)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000",
                       "foreign_keys=ON", "wal_autocheckpoint=0", "busy_timeout=0"):  # fmt: skip
            conn.execute(f"PRAGMA {pragma}")
        return conn

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

    async def close(self) -> None:
        if self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            await anyio.to_thread.run_sync(checkpointer.shutdown)
        if self._writer is not None:
            async with self._write_lock:  # not in the middle of a flush
                self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._writer.close()
            self._writer = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _migrate(self, conn: AsyncConnection) -> None:
        old, new = await conn.run_sync(migrate, f"file {str(self.path)!r}")
        if old != new:
            log.info("store.migrated", path=str(self.path), version=new)

    def _not_open(self) -> StoreError:
        return StoreError("the store is not open; use 'async with store:' or await open()")

    def _damaged(self, exc: DatabaseError | sqlite3.DatabaseError) -> StoreError:
        orig = exc.orig if isinstance(exc, DatabaseError) else exc
        if isinstance(orig, sqlite3.IntegrityError):  # bad data, not a bad file
            return StoreError(f"a write to {str(self.path)!r} was refused: {orig}")
        if isinstance(orig, sqlite3.OperationalError | OperationalError) and "locked" in str(orig):
            return StoreError(
                f"store file {str(self.path)!r} is locked by another process; "
                "close it and try again"
            )
        return StoreCorrupt(f"store file {str(self.path)!r} could not be used ({orig}); {_RECOVER}")

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise self._not_open()
        return self._engine

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except DatabaseError as exc:
            raise self._damaged(exc) from None

    async def schema_version(self) -> int:
        async with self._reading() as conn:
            raw = (
                await conn.execute(
                    select(schema_meta.c.value).where(schema_meta.c.key == "schema_version")
                )
            ).scalar()
        return int(raw or 0)

    # -- rows <-> models -------------------------------------------------------------

    def _load(self, model: type[M], table: str, row_id: str, data: str) -> M:
        try:
            return model.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = format_path(first["loc"]) or "(whole row)"
            raise StoreCorrupt(
                f"row {row_id!r} in table {table} of {str(self.path)!r} is damaged "
                f"({exc.error_count()} problem(s), first: {where}: {first['msg']}); other "
                "rows are unaffected"
            ) from None

    def _load_many(self, model: type[M], table: str, rows: list[Any]) -> list[M]:
        out: list[M] = []
        for row in rows:
            try:
                out.append(self._load(model, table, row.id, row.data))
            except StoreCorrupt as exc:
                log.warning("store.row_skipped", reason=str(exc))
        return out

    # -- writes (group commit) -------------------------------------------------------

    async def _write(self, writes: list[_Write]) -> None:
        """Commit ``writes`` durably, together with whatever other tasks queued
        meanwhile (writes to one table keep their order; consecutive ones of the same
        kind go as one ``executemany``). Raises the first write's own error (e.g. from
        a ``change``), or :class:`StoreError` when the transaction failed."""
        self._pending.extend(writes)
        try:
            await self._write_lock.acquire()
        except BaseException:  # cancelled while waiting: these writes never happen
            mine = {id(w) for w in writes}
            self._pending = [w for w in self._pending if id(w) not in mine]
            raise
        with _released(self._write_lock):
            if not all(w.done for w in writes):
                batch, self._pending = self._pending, []
                batch.sort(key=lambda w: _TABLE_ORDER[w.table])  # stable: order kept
                with anyio.CancelScope(shield=True):
                    try:
                        await self._flush(batch)
                    except BaseException as exc:  # the transaction was rolled back
                        error = (
                            self._damaged(exc)
                            if isinstance(exc, DatabaseError | sqlite3.DatabaseError)
                            else exc
                        )
                        for w in batch:
                            w.done, w.error = True, w.error or error
                    for w in batch:
                        w.done = True
        for w in writes:
            if w.error is not None:
                if isinstance(w.error, Exception) and not isinstance(
                    w.error, DatabaseError | sqlite3.DatabaseError
                ):
                    raise w.error
                raise StoreError(f"write to {str(self.path)!r} failed: {w.error!r}")

    async def _flush(self, batch: list[_Write]) -> None:
        """Small batches commit right here: with the WAL and no fsync per commit
        that takes a fraction of a millisecond, less than the trip to a worker
        thread and back. Big batches, and any batch while another process holds the
        write lock, go to a worker thread so the event loop never waits on them."""
        writer = self._writer
        if writer is None:
            raise self._not_open()
        if len(batch) <= _INLINE_WRITES:
            try:
                writer.execute("BEGIN IMMEDIATE")  # busy_timeout is 0: fails at once
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            else:
                self._flush_begun(writer, batch)
                self._maybe_checkpoint()
                return
        await anyio.to_thread.run_sync(self._flush_waiting, writer, batch)
        self._maybe_checkpoint()

    def _flush_waiting(self, conn: sqlite3.Connection, batch: list[_Write]) -> None:
        """The flush in a worker thread, waiting up to 10 s for the write lock."""
        conn.execute("PRAGMA busy_timeout=10000")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            conn.execute("PRAGMA busy_timeout=0")
        self._flush_begun(conn, batch)

    def _flush_begun(self, conn: sqlite3.Connection, batch: list[_Write]) -> None:
        """One transaction for the whole batch; ``BEGIN IMMEDIATE`` has run."""
        try:
            i = 0
            while i < len(batch):
                if batch[i].change is not None:
                    self._apply_change(conn, batch[i])
                    i += 1
                    continue
                # consecutive writes of one kind and shape go as one executemany
                op, keys = batch[i].table, batch[i].params.keys()
                j = i + 1
                while (
                    j < len(batch)
                    and batch[j].change is None
                    and batch[j].table == op
                    and batch[j].params.keys() == keys
                ):
                    j += 1
                if op in _NUMBERED:
                    # numbers given here (RETURNING would cost a statement per row):
                    # the write lock makes max() ours
                    column = _NUMBERED[op]
                    (last,) = conn.execute(f"SELECT max({column}) FROM {op}").fetchone()
                    for n, w in enumerate(batch[i:j], start=(last or 0) + 1):
                        w.params[column] = w.result = n
                self._execute(conn, op, _STATEMENTS[op], [w.params for w in batch[i:j]])
                i = j
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _execute(
        self, conn: sqlite3.Connection, name: str, stmt: Any, rows: list[dict[str, Any]]
    ) -> None:
        """Run a SQLAlchemy statement on the DB-API connection, compiled once per set
        of columns, with SQLAlchemy's own conversions (e.g. of datetimes)."""
        keys = tuple(rows[0])
        compiled = self._compiled.get((name, keys))
        if compiled is None:
            compiled = self._compiled[(name, keys)] = _Compiled.of(stmt, keys)
        conn.executemany(compiled.sql, [compiled.params(row) for row in rows])

    def _apply_change(self, conn: sqlite3.Connection, w: _Write) -> None:
        """Read-modify-write of one session inside the flush transaction. An error
        from ``change`` belongs to this write alone; the others still commit.
        ``change`` runs in the flush's worker thread: it may only modify the session
        it is given."""
        assert w.change is not None
        session_id = w.params["id"]
        row = conn.execute("SELECT data FROM sessions WHERE id = ?", (session_id,)).fetchone()
        try:
            if row is None:
                raise SessionNotFound(session_id)
            session = self._load(Session, "sessions", session_id, row[0])
            w.change(session)
        except Exception as exc:
            w.error = exc
            return
        values = {f"v_{k}": v for k, v in _session_row(session).items() if k != "created_at"}
        self._execute(conn, "session_change", _SESSION_CHANGE, [values])
        w.result = session

    # -- encounters ------------------------------------------------------------------

    async def save_encounter(self, spec: EncounterSpec) -> None:
        await self._write(
            [
                _Write(
                    "encounters",
                    {
                        "id": spec.id,
                        "category": spec.category.value,
                        "template_id": spec.template_id,
                        "created_at": utcnow(),
                        "data": spec.model_dump_json(),
                    },
                )
            ]
        )

    async def get_encounter(self, encounter_id: str) -> EncounterSpec | None:
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    select(encounters.c.id, encounters.c.data).where(
                        encounters.c.id == encounter_id
                    )
                )
            ).first()
        return self._load(EncounterSpec, "encounters", row.id, row.data) if row else None

    async def list_encounters(
        self, *, category: Category | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]:
        q = select(encounters.c.id, encounters.c.data).order_by(encounters.c.seq.desc())
        if category is not None:
            q = q.where(encounters.c.category == category.value)
        async with self._reading() as conn:
            rows = list((await conn.execute(q.limit(limit).offset(offset))).all())
        return self._load_many(EncounterSpec, "encounters", rows)

    # -- sessions --------------------------------------------------------------------

    async def save_session(self, session: Session) -> None:
        await self._write([_Write("sessions", _session_row(session))])

    async def save_sessions(self, batch: list[Session]) -> None:
        """Save many sessions in one transaction (imports, benchmarks)."""
        if batch:
            await self._write([_Write("sessions", _session_row(s)) for s in batch])

    async def update_session(self, session_id: str, change: Callable[[Session], None]) -> Session:
        w = _Write("sessions", {"id": session_id}, change=change)
        await self._write([w])
        result: Session = w.result
        return result

    async def get_session(self, session_id: str) -> Session | None:
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    select(sessions.c.id, sessions.c.data).where(sessions.c.id == session_id)
                )
            ).first()
        return self._load(Session, "sessions", row.id, row.data) if row else None

    async def list_sessions(
        self,
        *,
        player_id: str | None = None,
        status: SessionStatus | None = None,
        campaign_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]:
        q = select(sessions.c.id, sessions.c.data).order_by(
            sessions.c.created_at.desc(), sessions.c.id
        )
        if player_id is not None:
            q = q.where(sessions.c.player_id == player_id)
        if status is not None:
            q = q.where(sessions.c.status == status.value)
        if campaign_id is not None:
            q = q.where(sessions.c.campaign_id == campaign_id)
        async with self._reading() as conn:
            rows = list((await conn.execute(q.limit(limit).offset(offset))).all())
        return self._load_many(Session, "sessions", rows)

    # -- audit log (append-only) -----------------------------------------------------

    async def append_audit(self, entries: list[AuditEntry]) -> list[int]:
        return await self.write_batch(WriteBatch(audit=entries))

    async def write_batch(self, batch: WriteBatch) -> list[int]:
        audit = [
            _Write("audit_log", {
                "at": e.at, "session_id": e.session_id, "persona_id": e.persona_id,
                "kind": e.kind, "decision": e.decision,
                "data": e.model_dump_json(exclude={"seq"}),
            })
            for e in batch.audit
        ]  # fmt: skip
        writes = [*audit]
        for change in batch.links:
            writes += self._link_writes(change)
        writes += [_Write("companion_sessions", _companion_row(c)) for c in batch.companions]
        if writes:
            await self._write(writes)
        return [int(w.result) for w in audit]

    @staticmethod
    def _link_writes(change: LinkWrite) -> list[_Write]:
        link = change.record
        data = link.model_dump_json(exclude={"unacked"})
        writes = [_Write("bridge_links", {
            "id": link.id, "world": link.world, "server_id": link.server_id,
            "key_id": link.key_id, "updated_at": link.updated_at, "data": data,
        })]  # fmt: skip
        upto = (1 << 62) if change.replace else change.acked
        if upto > 0:
            writes.append(_Write("outbox_trim", {"b_link": link.id, "b_upto": upto}))
        writes += [
            _Write("outbox", {"link_id": link.id, "s": f["s"], "data": json.dumps(f)})
            for f in change.appended
        ]
        return writes

    async def list_audit(
        self,
        *,
        session_id: str | None = None,
        persona_id: str | None = None,
        after_seq: int = 0,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        q = select(audit_log.c.seq, audit_log.c.data).where(audit_log.c.seq > after_seq)
        if session_id is not None:
            q = q.where(audit_log.c.session_id == session_id)
        if persona_id is not None:
            q = q.where(audit_log.c.persona_id == persona_id)
        async with self._reading() as conn:
            rows = list((await conn.execute(q.order_by(audit_log.c.seq).limit(limit))).all())
        out = []
        for row in rows:
            entry = self._load(AuditEntry, "audit_log", str(row.seq), row.data)
            out.append(entry.model_copy(update={"seq": row.seq}))
        return out

    # -- LLM usage -------------------------------------------------------------------

    async def append_usage(self, records: list[UsageRecord]) -> None:
        if records:
            await self._write([
                _Write("llm_usage", {**r.model_dump(), "ok": int(r.ok)}) for r in records
            ])  # fmt: skip

    async def usage_totals(self) -> list[UsageTotals]:
        u = llm_usage.c
        q = (
            select(
                u.provider,
                u.model,
                func.count().label("calls"),
                func.sum(1 - u.ok).label("failures"),
                func.sum(u.input_tokens).label("input_tokens"),
                func.sum(u.output_tokens).label("output_tokens"),
                func.sum(u.cost_usd).label("cost_usd"),
            )
            .group_by(u.provider, u.model)
            .order_by(u.provider, u.model)
        )
        async with self._reading() as conn:
            rows = (await conn.execute(q)).all()
        return [UsageTotals.model_validate(dict(row._mapping)) for row in rows]

    # -- event logs ----------------------------------------------------------------------

    async def append_events(
        self, kind: str, events: list[tuple[str | None, datetime, dict[str, Any]]]
    ) -> list[int]:
        writes = [
            _Write("event_log", {"kind": kind, "key": key, "at": at, "data": json.dumps(data)})
            for key, at, data in events
        ]
        if writes:
            await self._write(writes)
        return [int(w.result) for w in writes]

    async def list_events(
        self, kind: str, *, key: str | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[LoggedEvent]:
        t = event_log.c
        q = select(t.id, t.kind, t.key, t.at, t.data).where(t.kind == kind, t.id > after_id)
        if key is not None:
            q = q.where(t.key == key)
        async with self._reading() as conn:
            rows = (await conn.execute(q.order_by(t.id).limit(limit))).all()
        out = []
        for row in rows:
            try:
                data = json.loads(row.data)
            except ValueError:
                log.warning("store.row_skipped", reason=f"event {row.id} in {kind} is damaged")
                continue
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)  # stored as UTC
            out.append(LoggedEvent(row.id, row.kind, row.key, at, data))
        return out

    # -- documents ---------------------------------------------------------------------

    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None:
        await self._write([_Write("documents", {
            "kind": kind, "key": key, "updated_at": utcnow(), "data": doc.model_dump_json(),
        })])  # fmt: skip

    async def get_document(self, kind: str, key: str, model: type[M]) -> M | None:
        t = documents.c
        async with self._reading() as conn:
            row = (await conn.execute(select(t.data).where(t.kind == kind, t.key == key))).first()
        return self._load(model, "documents", f"{kind}/{key}", row.data) if row else None

    async def list_documents(self, kind: str, model: type[M], *, prefix: str = "") -> list[M]:
        t = documents.c
        q = select(t.key.label("id"), t.data).where(t.kind == kind).order_by(t.key)
        if prefix:
            q = q.where(t.key >= prefix, t.key < prefix + "\U0010ffff")
        async with self._reading() as conn:
            rows = list((await conn.execute(q)).all())
        return self._load_many(model, "documents", rows)

    async def delete_document(self, kind: str, key: str) -> bool:
        t = documents.c
        async with self._reading() as conn:
            row = (await conn.execute(select(t.key).where(t.kind == kind, t.key == key))).first()
        found = row is not None
        if found:
            await self._write([_Write("documents_delete", {"b_kind": kind, "b_key": key})])
        return found

    # -- bridge ------------------------------------------------------------------------

    async def save_world_key(self, key: WorldKey) -> None:
        row = key.model_dump()
        row["server_ids"] = json.dumps(key.server_ids)
        await self._write([_Write("world_keys", row)])

    async def get_world_key(self, key_id: str) -> WorldKey | None:
        async with self._reading() as conn:
            row = (await conn.execute(select(world_keys).where(world_keys.c.id == key_id))).first()
        return _world_key(row._mapping) if row else None

    async def list_world_keys(self) -> list[WorldKey]:
        async with self._reading() as conn:
            rows = (await conn.execute(select(world_keys).order_by(world_keys.c.created_at))).all()
        return [_world_key(r._mapping) for r in rows]

    async def get_link(self, link_id: str) -> LinkRecord | None:
        q = select(bridge_links.c.id, bridge_links.c.data).where(bridge_links.c.id == link_id)
        return await self._link(q)

    async def _link(self, query: Any) -> LinkRecord | None:
        """One link row with its outbox, read in one transaction (a consistent pair)."""
        async with self._reading() as conn, conn.begin():
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            frames = (await conn.execute(
                select(bridge_outbox.c.s, bridge_outbox.c.data)
                .where(bridge_outbox.c.link_id == row.id).order_by(bridge_outbox.c.s)
            )).all()  # fmt: skip
        record = self._load(LinkRecord, "bridge_links", row.id, row.data)
        try:
            unacked = [json.loads(f.data) for f in frames]
        except ValueError:
            raise StoreCorrupt(
                f"the outbox of link {row.id!r} in {str(self.path)!r} is damaged; other "
                "links are unaffected"
            ) from None
        return record.model_copy(update={"unacked": unacked})

    # -- deployment --------------------------------------------------------------------

    async def save_persona(self, record: PersonaRecord) -> None:
        await self._write([_Write("personas", {
            "id": record.persona.id, "status": record.status,
            "creator_id": record.persona.creator_id, "updated_at": utcnow(),
            "data": record.model_dump_json(),
        })])  # fmt: skip

    async def get_persona(self, persona_id: str) -> PersonaRecord | None:
        return await self._one(personas, PersonaRecord, persona_id)

    async def list_personas(self, *, status: str | None = None) -> list[PersonaRecord]:
        q = select(personas.c.id, personas.c.data).order_by(personas.c.updated_at.desc())
        if status is not None:
            q = q.where(personas.c.status == status)
        async with self._reading() as conn:
            rows = list((await conn.execute(q)).all())
        return self._load_many(PersonaRecord, "personas", rows)

    async def save_deploy_token(self, token: DeployToken) -> None:
        await self._write([_Write("deploy_tokens", {
            "id": token.token_hash, "persona_id": token.persona_id,
            "data": token.model_dump_json(),
        })])  # fmt: skip

    async def get_deploy_token(self, token_hash: str) -> DeployToken | None:
        return await self._one(deploy_tokens, DeployToken, token_hash)

    async def save_companion(self, session: CompanionSession) -> None:
        await self._write([_Write("companion_sessions", _companion_row(session))])

    async def get_companion(self, session_id: str) -> CompanionSession | None:
        return await self._one(companion_sessions, CompanionSession, session_id)

    async def list_companions(
        self,
        *,
        world: str | None = None,
        server_id: str | None = None,
        status: str | None = None,
    ) -> list[CompanionSession]:
        t = companion_sessions.c
        q = select(t.id, t.data).order_by(t.id)
        for column, value in ((t.world, world), (t.server_id, server_id), (t.status, status)):
            if value is not None:
                q = q.where(column == value)
        async with self._reading() as conn:
            rows = list((await conn.execute(q)).all())
        return self._load_many(CompanionSession, "companion_sessions", rows)

    async def _one(self, table: Table, model: type[M], row_id: str) -> M | None:
        async with self._reading() as conn:
            row = (
                await conn.execute(select(table.c.id, table.c.data).where(table.c.id == row_id))
            ).first()
        return self._load(model, table.name, row.id, row.data) if row else None

    async def save_api_key(self, key: ApiKey) -> None:
        await self._write([_Write("api_keys", key.model_dump())])

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        async with self._reading() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return ApiKey.model_validate(dict(row._mapping)) if row else None

    async def list_api_keys(self) -> list[ApiKey]:
        async with self._reading() as conn:
            rows = (await conn.execute(select(api_keys).order_by(api_keys.c.created_at))).all()
        return [ApiKey.model_validate(dict(r._mapping)) for r in rows]

    async def find_link(self, world: str, server_id: str) -> LinkRecord | None:
        t = bridge_links.c
        q = (
            select(t.id, t.data)
            .where(t.world == world, t.server_id == server_id)
            .order_by(t.updated_at.desc())
            .limit(1)
        )
        return await self._link(q)
