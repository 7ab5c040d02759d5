"""The shared store: PostgreSQL through SQLAlchemy Core 2 async on asyncpg, for several
daemon nodes (or game servers) working on one database.

Chosen with ``AE_STORE=postgresql://user:password@host:5432/dbname``; needs the
``postgres`` extra (``pip install 'ai-encounters[postgres]'``). The tables and
their migrations are the SQLite store's (:mod:`.schema`): one list of versioned
steps runs on both, under an advisory lock so two nodes starting at once do not both
migrate.

What it keeps, as the SQLite store does:

- Every write is one transaction, and a caller's ``await`` returns only after the
  commit: a node killed mid-write loses nothing it accepted, and leaves nothing half
  written.
- Group commit (:mod:`.groupcommit`): writes queued while a batch commits go together
  in the next transaction, consecutive rows of one table as one ``executemany``.
  Upserted rows are written in key order, so nodes writing the same rows lock them
  in the same order and never deadlock.
- Ordering across nodes: audit ``seq`` and event-log ``id`` are numbered inside the
  transaction under a transaction-level advisory lock (``max + 1``), so numbers have
  no gaps and are committed in increasing order: a reader's cursor (``after_id``)
  never skips a row that commits later with a smaller number. The lock is held only
  by batches that append to those logs, for the length of their commit.
- Idempotent writes: records are upserts by id (saving one twice leaves one row).
- :meth:`update_session` reads with ``SELECT ... FOR UPDATE``, so a read-modify-write
  is atomic against every other node.
- Fenced writes (:class:`Fence`, for a store sharing the database: the bridge daemon
  fences its link rows with an epoch, checked by a trigger in the write itself): a
  refused write fails with everything its caller queued with it, and the other
  callers' writes in the batch commit (the batch is committed again without it).
- Work any node could do (a webhook's deliveries) is claimed (:meth:`claim_work`)
  with ``SELECT ... FOR UPDATE SKIP LOCKED`` and an expiry on the database's clock:
  two nodes never hold one claim, none waits for another's, and a node that dies
  leaves its claims to expire and be taken over.

The daemon's own records (world keys, API keys, links and their outbox, deploy tokens)
are not kept here: they are the bridge package's (``encounters_bridge.store``), which
keeps them in the same database and writes them through this store's group commit
(:meth:`PostgresStore.share` registers its statements, :meth:`PostgresStore.write_batch`
commits them with the SDK's rows in one transaction, :meth:`PostgresStore.migrate`
keeps its tables under a schema version of their own).

It runs on asyncio only (asyncpg does), where the SQLite store also runs on trio.
The URL may carry a password: it is never logged or shown (errors print the URL with
the password masked).
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    Connection,
    Table,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import SessionNotFound, StoreCorrupt, StoreError, StoreValueRefused
from ..log import get_logger
from ..models import Category, EncounterSpec, Session, SessionStatus, utcnow
from ..models.audit import AuditEntry
from ..models.deployment import CompanionSession, PersonaRecord
from ..models.usage import UsageRecord, UsageTotals
from ..validation import format_path
from .base import LoggedEvent, Store, WriteBatch
from .groupcommit import GroupCommit, Write
from .schema import (
    audit_log,
    companion_sessions,
    documents,
    encounters,
    event_log,
    llm_usage,
    migrate,
    personas,
    schema_meta,
    sessions,
    work_claims,
)
from .sqlite import _companion_row, _session_row

#: SQLSTATE classes of a server, database or user that cannot be used: connection
#: exceptions, authorization, an unknown database, insufficient resources, operator
#: intervention (a shutdown). Other errors are a refused statement.
_UNUSABLE_STATES = frozenset({"08", "28", "3D", "53", "57"})
#: The SQLSTATE class of a value the server cannot keep (a data exception).
_DATA_EXCEPTION = "22"

log = get_logger(__name__)
M = TypeVar("M", bound=BaseModel)

#: Advisory locks (database-wide): these high 32 bits, and the schema's CRC-32 below,
#: so stores in different schemas of one database never wait for each other.
_MIGRATE_LOCK = 0x41450001
_NUMBER_LOCK = 0x41450002

_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")

#: The ``until`` of a free claim.
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def _upsert(table: Table, *keys: str) -> Any:
    stmt = pg_insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={
            c.name: stmt.excluded[c.name]
            for c in table.columns
            if c.name not in (*keys, "created_at")
        },
    )


_STATEMENTS: dict[str, Any] = {
    "personas": _upsert(personas, "id"),
    "documents": _upsert(documents, "kind", "key"),
    "companion_sessions": _upsert(companion_sessions, "id"),
    "llm_usage": insert(llm_usage),
    "sessions": _upsert(sessions, "id"),
    # re-saving an encounter moves it to the front: its seq is numbered like a log's
    "encounters": _upsert(encounters, "id"),
    "audit_log": insert(audit_log),
    "event_log": insert(event_log),
}

#: Tables whose rows get increasing numbers in the flush (under the number lock).
_NUMBERED = {"audit_log": "seq", "event_log": "id", "encounters": "seq"}

#: Flush order of the tables. Appends (logs, numbered rows) keep their order.
_TABLE_ORDER = {name: i for i, name in enumerate([
    "personas", "encounters", "sessions", "llm_usage", "companion_sessions", "audit_log",
    "documents", "event_log",
])}  # fmt: skip

#: Upserted tables and their keys: their rows are written in key order (writes to one
#: row keep their order), so two nodes' transactions lock shared rows in the same
#: order and never deadlock.
_KEYS = {"personas": ("id",), "sessions": ("id",), "companion_sessions": ("id",),
         "documents": ("kind", "key")}  # fmt: skip


@dataclass(frozen=True)
class Fence:
    """Writes of a shared statement the database itself may refuse: the sharing store's
    trigger on the row (the bridge daemon's link epochs) raises the error ``sqlstate``
    with the refused row's key (``params[key]`` of the write) as its DETAIL. The flush
    then rolls back and commits the batch again without the writes of every call that
    wrote that row: those fail with ``refused(write, the database's message)`` and
    nothing of them is written; the other calls' writes commit. The check is in the
    write itself, so a batch nobody refuses costs nothing more."""

    key: str
    sqlstate: str
    refused: Callable[[Write, str], BaseException]


@dataclass(frozen=True)
class SharedStatement:
    """A kind of write of a store keeping its tables in this database (the bridge
    daemon's), committed through this store's group commit: :class:`Write` rows whose
    ``table`` is ``name`` run ``stmt``. They flush after the SDK's tables, in ``rank``
    order; writes of one rank keep the order they were queued in unless ``keys`` (an
    upsert's key columns) is given, then they go in key order, so nodes writing the
    same rows lock them in the same order. ``fence``: see :class:`Fence`."""

    name: str
    stmt: Any
    rank: int
    keys: tuple[str, ...] = ()
    fence: Fence | None = None


def postgres_url(url: str) -> URL:
    """``url`` as the SQLAlchemy URL of the asyncpg driver; :class:`StoreError` for
    anything that is not a PostgreSQL URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.drivername not in _SCHEMES:
        raise StoreError(
            "the store URL is not a PostgreSQL URL; use postgresql://user:password@host:5432/"
            "dbname (AE_STORE)"
        )
    return parsed.set(drivername="postgresql+asyncpg")


def _shown(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=True)


class PostgresStore(Store):
    """A store in a PostgreSQL database. ``url`` is a ``postgresql://`` URL; ``schema``
    (or ``?schema=NAME`` in the URL) is the PostgreSQL schema holding the tables (it
    must exist; default: the server's ``search_path``, normally ``public``), so several
    stores can share one database. ``pool_size`` connections are kept open."""

    shared_by_nodes = True

    def __init__(self, url: str, *, schema: str | None = None, pool_size: int = 5) -> None:
        parsed = postgres_url(url)
        given = parsed.query.get("schema")
        self.schema = schema or (given if isinstance(given, str) and given else None)
        self.url = parsed.difference_update_query(["schema"])
        self.pool_size = pool_size
        low = zlib.crc32((self.schema or "").encode())
        self._migrate_lock, self._number_lock = (
            (k << 32) | low for k in (_MIGRATE_LOCK, _NUMBER_LOCK)
        )
        self._engine: AsyncEngine | None = None
        self._statements: dict[str, Any] = dict(_STATEMENTS)
        self._shared: dict[str, SharedStatement] = {}
        self._commits = GroupCommit(self._flush, self._order, self._translate)

    def __repr__(self) -> str:
        return f"PostgresStore({_shown(self.url)!r})"

    @property
    def where(self) -> str:
        """The database as shown in messages (no password)."""
        return _shown(self.url) + (f" (schema {self.schema})" if self.schema else "")

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._engine is not None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # trio, say
            raise StoreError(
                "the PostgreSQL store runs on asyncio only (its driver, asyncpg, does); "
                "run under asyncio or use the SQLite store"
            ) from None
        try:
            import asyncpg  # noqa: F401 - the driver SQLAlchemy loads; checked here to name the extra
        except ImportError:
            raise StoreError(
                "a PostgreSQL store needs the 'asyncpg' package, which the core install leaves "
                "out: pip install 'ai-encounters[postgres]'"
            ) from None
        connect_args: dict[str, Any] = {"timeout": 10}
        if self.schema:
            connect_args["server_settings"] = {"search_path": self.schema}
        engine = create_async_engine(
            self.url, pool_size=self.pool_size, pool_pre_ping=True, connect_args=connect_args
        )
        try:
            async with engine.begin() as conn:
                if self.schema:
                    found = await conn.execute(
                        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": self.schema}
                    )
                    if found.first() is None:
                        raise StoreError(
                            f"the schema {self.schema!r} does not exist in {_shown(self.url)}; "
                            f"create it (CREATE SCHEMA {self.schema}) or drop ?schema= from the URL"
                        )
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._migrate_lock}
                )
                old, new = await conn.run_sync(migrate, self.where)
        except BaseException as exc:
            await engine.dispose()
            if isinstance(exc, DBAPIError | OSError | TimeoutError):
                raise self._unreachable(exc) from None
            raise
        if old != new:
            log.info("store.migrated", store=self.where, version=new)
        self._engine = engine

    def _unreachable(self, exc: BaseException) -> StoreError:
        """The error an operator sees for a failed database call: a server, database or
        user that cannot be used points at the store URL; a statement the server
        refused on a working connection (a deadlock, a serialization failure, a
        constraint) is named with its SQLSTATE instead, since the URL is not the
        problem and trying again may succeed; a value the server cannot keep (SQLSTATE
        class 22, e.g. a NUL character in text) is :class:`StoreValueRefused`, since
        trying again will not."""
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
        state = getattr(orig, "sqlstate", None)
        if (
            isinstance(exc, DBAPIError)
            and not exc.connection_invalidated
            and isinstance(state, str)
            and state[:2] not in _UNUSABLE_STATES
        ):
            refused = StoreValueRefused if state[:2] == _DATA_EXCEPTION else StoreError
            return refused(
                f"the PostgreSQL store {self.where} refused a statement: {reason} "
                f"(SQLSTATE {state}); it was not applied"
            )
        return StoreError(
            f"cannot use the PostgreSQL store {self.where}: {reason}; check the store URL "
            "(AE_STORE) and that the server is running and accepts this user"
        )

    async def migrate(self, track: str, migrations: list[Callable[[Connection], None]]) -> None:
        """Bring tables that another store keeps in this database (the bridge daemon's)
        to their newest version: ``migrations[i]`` brings them from version ``i`` to
        ``i + 1``, counted under ``track`` in ``schema_meta``. One transaction under the
        migration lock, so nodes starting at once run each step once. Raises
        :class:`StoreError` when the database is newer than ``migrations``."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._migrate_lock}
                )
                old, new = await conn.run_sync(lambda c: migrate(c, self.where, track, migrations))
        except (DBAPIError, OSError) as exc:
            raise self._unreachable(exc) from None
        if old != new:
            log.info("store.migrated", store=self.where, track=track, version=new)

    def share(self, statements: Sequence[SharedStatement]) -> None:
        """Let :meth:`commit` and :meth:`write_batch` take writes of ``statements``
        (a store keeping its tables in this database registers them once, on opening;
        registering a name again replaces it)."""
        for shared in statements:
            if shared.name in _STATEMENTS:
                raise ValueError(f"{shared.name!r} is a table of the SDK's store")
            self._shared[shared.name] = shared
            self._statements[shared.name] = shared.stmt

    async def close(self) -> None:
        if self._engine is not None:
            async with self._commits.lock:  # not in the middle of a flush
                engine, self._engine = self._engine, None
            await engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreError("the store is not open; use 'async with store:' or await open()")
        return self._engine

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection for reads (begin a transaction on it for a consistent
        set of them); an unreachable server is a :class:`StoreError`."""
        try:
            async with self.engine.connect() as conn:
                yield conn
        except (DBAPIError, OSError) as exc:
            raise self._unreachable(exc) from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in a transaction, committed on leaving (rolled back on an
        error), for tables other packages keep in this database (NPC memory's); an
        unreachable server or a refused statement is a :class:`StoreError`."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except (DBAPIError, OSError) as exc:
            raise self._unreachable(exc) from None

    async def schema_version(self) -> int:
        async with self.reading() as conn:
            raw = (
                await conn.execute(
                    select(schema_meta.c.value).where(schema_meta.c.key == "schema_version")
                )
            ).scalar()
        return int(raw or 0)

    # -- rows <-> models -------------------------------------------------------------

    def load(self, model: type[M], table: str, row_id: str, data: str) -> M:
        """``data`` of row ``row_id`` of ``table`` as ``model``; a damaged row is a
        :class:`StoreCorrupt` naming it."""
        try:
            return model.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = format_path(first["loc"]) or "(whole row)"
            raise StoreCorrupt(
                f"row {row_id!r} in table {table} of {self.where} is damaged "
                f"({exc.error_count()} problem(s), first: {where}: {first['msg']}); other "
                "rows are unaffected"
            ) from None

    def _load_many(self, model: type[M], table: str, rows: list[Any]) -> list[M]:
        out: list[M] = []
        for row in rows:
            try:
                out.append(self.load(model, table, row.id, row.data))
            except StoreCorrupt as exc:
                log.warning("store.row_skipped", reason=str(exc))
        return out

    # -- writes (group commit) -------------------------------------------------------

    def _order(self, w: Write) -> tuple[int, tuple[str, ...]]:
        shared = self._shared.get(w.table)
        if shared is not None:
            return len(_TABLE_ORDER) + shared.rank, tuple(str(w.params[k]) for k in shared.keys)
        return _TABLE_ORDER[w.table], tuple(str(w.params[k]) for k in _KEYS.get(w.table, ()))

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, IntegrityError):
            reason = str(exc.orig).splitlines()[0]
            return StoreError(f"a write to {self.where} was refused: {reason}")
        if isinstance(exc, DBAPIError | OSError | InterfaceError):
            return StoreError(f"write to {self.where} failed (nothing of it was stored): "
                              f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}")  # fmt: skip
        return exc

    async def _write(self, writes: list[Write]) -> None:
        await self._commits.write(writes)

    def _check_shared(self, writes: Sequence[Write]) -> None:
        unknown = {w.table for w in writes} - self._shared.keys()
        if unknown:
            raise ValueError(f"no shared statement is registered as {sorted(unknown)}")

    async def commit(self, writes: list[Write]) -> None:
        """Commit writes of statements registered with :meth:`share` durably, with
        whatever else is queued, in one transaction."""
        self._check_shared(writes)
        await self._write(writes)

    async def _flush(self, batch: list[Write]) -> None:
        """One transaction for the whole batch; when a :class:`Fence` refused a call's
        write, again without that call's writes (which get the refusal)."""
        refused: dict[int, BaseException] = {}
        try:
            while True:
                todo = [w for w in batch if w.call not in refused]
                if not todo:
                    return
                for w in todo:  # a change's own error in the attempt rolled back
                    w.error = None
                try:
                    await self._flush_once(todo)
                    return
                except DBAPIError as exc:
                    more = self._refusals(exc, todo)
                    if not more:
                        raise
                    refused.update(more)
        finally:
            for w in batch:
                if w.call in refused:
                    w.error = refused[w.call]

    async def _flush_once(self, batch: list[Write]) -> None:
        """One transaction for the whole batch."""
        async with self.engine.connect() as conn, conn.begin():
            if any(w.table in _NUMBERED for w in batch):
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._number_lock}
                )
            i = 0
            while i < len(batch):
                if batch[i].change is not None:
                    await self._apply_change(conn, batch[i])
                    i += 1
                    continue
                # consecutive writes of one table and shape go as one executemany
                op, keys = batch[i].table, batch[i].params.keys()
                j = i + 1
                while (
                    j < len(batch)
                    and batch[j].change is None
                    and batch[j].table == op
                    and batch[j].params.keys() == keys
                ):
                    j += 1
                group = batch[i:j]
                if op in _NUMBERED:
                    column = _NUMBERED[op]
                    table = _STATEMENTS[op].table
                    last = (await conn.execute(select(func.max(table.c[column])))).scalar()
                    for n, w in enumerate(group, start=(last or 0) + 1):
                        w.params[column] = w.result = n
                await conn.execute(self._statements[op], [w.params for w in group])
                i = j

    def _refusals(self, exc: DBAPIError, batch: list[Write]) -> dict[int, BaseException]:
        """The calls of ``batch`` a :class:`Fence` refused with ``exc`` (none when
        ``exc`` is another error), each with its error."""
        orig = exc.orig
        sqlstate = getattr(orig, "sqlstate", None)
        cause = getattr(orig, "__cause__", None)
        row, message = getattr(cause, "detail", None), str(getattr(cause, "message", orig))
        out: dict[int, BaseException] = {}
        for shared in self._shared.values():
            fence = shared.fence
            if fence is None or fence.sqlstate != sqlstate or row is None:
                continue
            for w in batch:
                if w.table == shared.name and str(w.params[fence.key]) == row:
                    out.setdefault(w.call, fence.refused(w, message))
        return out

    async def _apply_change(self, conn: AsyncConnection, w: Write) -> None:
        """Read-modify-write of one session inside the flush transaction, the row
        locked against other nodes. An error from ``change`` belongs to this write
        alone; the others still commit."""
        assert w.change is not None
        if w.table == "companion_sessions":
            await self._change_companion(conn, w)
            return
        session_id = w.params["id"]
        data = (
            await conn.execute(
                select(sessions.c.data).where(sessions.c.id == session_id).with_for_update()
            )
        ).scalar()
        try:
            if data is None:
                raise SessionNotFound(session_id)
            session = self.load(Session, "sessions", session_id, data)
            w.change(session)
        except Exception as exc:
            w.error = exc
            return
        row = _session_row(session)
        del row["created_at"]
        await conn.execute(update(sessions).where(sessions.c.id == session_id).values(row))
        w.result = session

    async def _change_companion(self, conn: AsyncConnection, w: Write) -> None:
        """A :class:`~encounters.models.deployment.CompanionChange` made to the row,
        locked against other nodes, inside the flush transaction; a session not stored
        is left alone."""
        assert w.change is not None
        sid = w.params["id"]
        t = companion_sessions.c
        data = (await conn.execute(select(t.data).where(t.id == sid).with_for_update())).scalar()
        if data is None:
            return
        session = w.change(self.load(CompanionSession, "companion_sessions", sid, data))
        row = _companion_row(session)
        await conn.execute(update(companion_sessions).where(t.id == sid).values(row))
        w.result = session

    # -- encounters ------------------------------------------------------------------

    async def save_encounter(self, spec: EncounterSpec) -> None:
        await self._write([Write("encounters", {
            "id": spec.id, "category": spec.category.value, "template_id": spec.template_id,
            "created_at": utcnow(), "data": spec.model_dump_json(),
        })])  # fmt: skip

    async def get_encounter(self, encounter_id: str) -> EncounterSpec | None:
        return await self._one(encounters, EncounterSpec, encounter_id)

    async def list_encounters(
        self, *, category: Category | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]:
        q = select(encounters.c.id, encounters.c.data).order_by(encounters.c.seq.desc())
        if category is not None:
            q = q.where(encounters.c.category == category.value)
        async with self.reading() as conn:
            rows = list((await conn.execute(q.limit(limit).offset(offset))).all())
        return self._load_many(EncounterSpec, "encounters", rows)

    # -- sessions --------------------------------------------------------------------

    async def save_session(self, session: Session) -> None:
        await self._write([Write("sessions", _session_row(session))])

    async def save_sessions(self, batch: list[Session]) -> None:
        """Save many sessions in one transaction (imports, benchmarks)."""
        if batch:
            await self._write([Write("sessions", _session_row(s)) for s in batch])

    async def update_session(self, session_id: str, change: Callable[[Session], None]) -> Session:
        w = Write("sessions", {"id": session_id}, change=change)
        await self._write([w])
        result: Session = w.result
        return result

    async def get_session(self, session_id: str) -> Session | None:
        return await self._one(sessions, Session, session_id)

    async def list_sessions(
        self,
        *,
        player_id: str | None = None,
        status: SessionStatus | None = None,
        campaign_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]:
        t = sessions.c
        q = select(t.id, t.data).order_by(t.created_at.desc(), t.id.collate("C"))
        if player_id is not None:
            q = q.where(t.player_id == player_id)
        if status is not None:
            q = q.where(t.status == status.value)
        if campaign_id is not None:
            q = q.where(t.campaign_id == campaign_id)
        async with self.reading() as conn:
            rows = list((await conn.execute(q.limit(limit).offset(offset))).all())
        return self._load_many(Session, "sessions", rows)

    # -- audit log (append-only) -----------------------------------------------------

    async def append_audit(self, entries: list[AuditEntry]) -> list[int]:
        return await self.write_batch(WriteBatch(audit=entries))

    async def write_batch(
        self, batch: WriteBatch, *, with_writes: Sequence[Write] = ()
    ) -> list[int]:
        """Commit ``batch`` atomically; returns the ``seq`` of its audit entries.
        ``with_writes``: writes of a store sharing this database (the bridge daemon's
        link records and dispatches, see :meth:`share`), committed in the same
        transaction."""
        self._check_shared(with_writes)
        audit = [
            Write("audit_log", {
                "at": e.at, "session_id": e.session_id, "persona_id": e.persona_id,
                "kind": e.kind, "decision": e.decision,
                "data": e.model_dump_json(exclude={"seq"}),
            })
            for e in batch.audit
        ]  # fmt: skip
        writes = [*audit, *with_writes, *(Write("companion_sessions", _companion_row(c))
                                          for c in batch.companions)]  # fmt: skip
        writes += [Write("companion_sessions", {"id": c.session_id}, change=c.apply)
                   for c in batch.changes]  # fmt: skip
        if writes:
            await self._write(writes)
        return [int(w.result) for w in audit]

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
        async with self.reading() as conn:
            rows = list((await conn.execute(q.order_by(audit_log.c.seq).limit(limit))).all())
        out = []
        for row in rows:
            entry = self.load(AuditEntry, "audit_log", str(row.seq), row.data)
            out.append(entry.model_copy(update={"seq": row.seq}))
        return out

    # -- LLM usage -------------------------------------------------------------------

    async def append_usage(self, records: list[UsageRecord]) -> None:
        if records:
            await self._write([
                Write("llm_usage", {**r.model_dump(), "ok": int(r.ok)}) for r in records
            ])  # fmt: skip

    async def usage_totals(self) -> list[UsageTotals]:
        u = llm_usage.c
        q = (
            select(
                u.provider,
                u.model,
                func.count().label("calls"),
                func.sum(literal(1) - u.ok).label("failures"),
                func.sum(u.input_tokens).label("input_tokens"),
                func.sum(u.output_tokens).label("output_tokens"),
                func.sum(u.cost_usd).label("cost_usd"),
            )
            .group_by(u.provider, u.model)
            .order_by(u.provider.collate("C"), u.model.collate("C"))
        )
        async with self.reading() as conn:
            rows = (await conn.execute(q)).all()
        return [UsageTotals.model_validate(dict(row._mapping)) for row in rows]

    # -- event logs ------------------------------------------------------------------

    async def append_events(
        self, kind: str, events: list[tuple[str | None, datetime, dict[str, Any]]]
    ) -> list[int]:
        writes = [
            Write("event_log", {"kind": kind, "key": key, "at": at, "data": json.dumps(data)})
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
        async with self.reading() as conn:
            rows = (await conn.execute(q.order_by(t.id).limit(limit))).all()
        out = []
        for row in rows:
            try:
                data = json.loads(row.data)
            except ValueError:
                log.warning("store.row_skipped", reason=f"event {row.id} in {kind} is damaged")
                continue
            out.append(LoggedEvent(row.id, row.kind, row.key, row.at, data))
        return out

    # -- documents -------------------------------------------------------------------

    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None:
        await self._write([Write("documents", {
            "kind": kind, "key": key, "updated_at": utcnow(), "data": doc.model_dump_json(),
        })])  # fmt: skip

    async def get_document(self, kind: str, key: str, model: type[M]) -> M | None:
        t = documents.c
        async with self.reading() as conn:
            row = (await conn.execute(select(t.data).where(t.kind == kind, t.key == key))).first()
        return self.load(model, "documents", f"{kind}/{key}", row.data) if row else None

    async def list_documents(self, kind: str, model: type[M], *, prefix: str = "") -> list[M]:
        t = documents.c
        # code point order, as SQLite sorts, whatever the database's collation
        q = select(t.key.label("id"), t.data).where(t.kind == kind).order_by(t.key.collate("C"))
        if prefix:
            q = q.where(t.key.startswith(prefix, autoescape=True))
        async with self.reading() as conn:
            rows = list((await conn.execute(q)).all())
        return self._load_many(model, "documents", rows)

    async def delete_document(self, kind: str, key: str) -> bool:
        # its own transaction: writes this store queued earlier have committed when
        # their calls returned, so a delete after a save sees the save
        t = documents.c
        try:
            async with self.engine.begin() as conn:
                done = await conn.execute(delete(documents).where(t.kind == kind, t.key == key))
        except (DBAPIError, OSError) as exc:
            raise self._unreachable(exc) from None
        return bool(done.rowcount)

    # -- work claims -----------------------------------------------------------------

    async def claim_work(self, kind: str, keys: list[str], owner: str, ttl: float) -> list[str]:
        """See :class:`~.protocols.WorkClaims`. One transaction of its own: missing
        claim rows are inserted (in key order, so nodes never deadlock on them), then
        the free, expired or own ones are taken with ``FOR UPDATE SKIP LOCKED``, so
        rows another node is taking right now are left to it rather than waited for.
        Expiry is on the database's clock (``now()``): node clocks may differ."""
        if not keys:
            return []
        c = work_claims.c
        wanted = sorted(set(keys))
        free = (
            select(c.key)
            .where(c.kind == kind, c.key.in_(wanted), or_(c.until < func.now(), c.owner == owner))
            .with_for_update(skip_locked=True)
        )
        take = (
            update(work_claims)
            .where(c.kind == kind, c.key.in_(free.scalar_subquery()))
            .values(owner=owner, until=func.now() + timedelta(seconds=ttl))
            .returning(c.key)
        )
        rows = [{"kind": kind, "key": k, "owner": "", "until": _LONG_AGO} for k in wanted]
        try:
            async with self.engine.begin() as conn:
                await conn.execute(pg_insert(work_claims).on_conflict_do_nothing(), rows)
                held = set((await conn.execute(take)).scalars())
        except (DBAPIError, OSError) as exc:
            raise self._unreachable(exc) from None
        return [k for k in keys if k in held]

    async def extend_work(self, kind: str, key: str, owner: str, ttl: float) -> bool:
        c = work_claims.c
        extend = (
            update(work_claims)
            .where(c.kind == kind, c.key == key, c.owner == owner, c.until > func.now())
            .values(until=func.now() + timedelta(seconds=ttl))
            .returning(c.key)
        )
        try:
            async with self.engine.begin() as conn:
                return (await conn.execute(extend)).first() is not None
        except (DBAPIError, OSError) as exc:
            raise self._unreachable(exc) from None

    async def release_work(self, kind: str, key: str, owner: str) -> None:
        c = work_claims.c
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(work_claims)
                    .where(c.kind == kind, c.key == key, c.owner == owner)
                    .values(until=_LONG_AGO)
                )
        except (DBAPIError, OSError) as exc:
            raise self._unreachable(exc) from None

    # -- deployment ------------------------------------------------------------------

    async def save_persona(self, record: PersonaRecord) -> None:
        await self._write([Write("personas", {
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
        async with self.reading() as conn:
            rows = list((await conn.execute(q)).all())
        return self._load_many(PersonaRecord, "personas", rows)

    async def save_companion(self, session: CompanionSession) -> None:
        await self._write([Write("companion_sessions", _companion_row(session))])

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
        q = select(t.id, t.data).order_by(t.id.collate("C"))
        for column, value in ((t.world, world), (t.server_id, server_id), (t.status, status)):
            if value is not None:
                q = q.where(column == value)
        async with self.reading() as conn:
            rows = list((await conn.execute(q)).all())
        return self._load_many(CompanionSession, "companion_sessions", rows)

    async def _one(self, table: Table, model: type[M], row_id: str) -> M | None:
        async with self.reading() as conn:
            row = (
                await conn.execute(select(table.c.id, table.c.data).where(table.c.id == row_id))
            ).first()
        return self.load(model, table.name, row.id, row.data) if row else None
