"""The embedded store: one SQLite file in WAL mode, reached through SQLAlchemy Core 2
async on aiosqlite.

Why these choices:

- WAL lets readers go on while a write commits, and every write is one transaction,
  so a crash mid-write leaves either the old row or the new one, never half of it.
- Writes go through :class:`~.writer.GroupWriter`: one held connection, group commit,
  checkpoints in the background (its module says why). A program that keeps its own
  records in the same file (the bridge daemon) commits them in the same transactions
  through :meth:`SQLiteStore.write_batch` and migrates them with
  :meth:`SQLiteStore.migrate`.

Damage is reported, never repaired silently: a file that is not a SQLite database, a
damaged page found while reading or writing, or a row whose JSON no longer validates
raises :class:`StoreCorrupt` naming the file or row, and leaves the file as it is.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Table, bindparam, delete, event, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import SessionNotFound, StoreCorrupt, StoreError
from ..log import get_logger
from ..models import Category, EncounterSpec, Session, SessionStatus, utcnow
from ..models.audit import AuditEntry
from ..models.deployment import CompanionSession, PersonaRecord
from ..models.usage import UsageRecord, UsageTotals
from ..validation import format_path
from .base import CompanionChange, LoggedEvent, Store, WriteBatch
from .schema import (
    MIGRATIONS,
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
)
from .wal import use_wal_file
from .writer import GroupWriter, Statement, Write, upsert

log = get_logger(__name__)
M = TypeVar("M", bound=BaseModel)

#: Reading connections (each a thread of aiosqlite's); WAL lets them read at once.
_READERS = 8

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


@asynccontextmanager
async def _connected(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection, used shielded from cancellation until it is given back.

    A cancellation while a statement runs (or while the connection opens, or rolls back
    when given back) makes SQLAlchemy invalidate the connection, and its aiosqlite
    adapter then closes it twice: the second close waits forever on the thread the first
    one stopped, and the event loop hangs when it shuts down. So a caller's cancellation
    takes effect once the connection is back in the pool. Limits: what runs on the
    connection must be bounded (statements on this file, waiting at most the busy
    timeout), never a wait on something else."""
    with anyio.CancelScope(shield=True):
        async with engine.connect() as conn:
            yield conn


def _statements() -> dict[str, Statement]:
    """The SDK's writes, in flush order (writes to one table keep their order; grouping
    tables turns a busy batch into a few ``executemany``)."""
    ordered: list[tuple[str, Any, str | None]] = [
        ("personas", upsert(personas), None),
        # seq orders encounters newest first; re-saving one moves it to the front.
        ("encounters", upsert(
            encounters,
            seq=select(func.coalesce(func.max(encounters.c.seq), 0) + 1).scalar_subquery(),
        ), None),
        ("sessions", upsert(sessions), None),
        ("llm_usage", insert(llm_usage), None),
        ("companion_sessions", upsert(companion_sessions), None),
        # append-only: a plain insert with the number the flush gives it
        ("audit_log", insert(audit_log), "seq"),
        ("documents", sqlite_insert(documents).on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={
                "updated_at": sqlite_insert(documents).excluded.updated_at,
                "data": sqlite_insert(documents).excluded.data,
            },
        ), None),
        ("event_log", insert(event_log), "id"),
    ]  # fmt: skip
    statements = {
        name: Statement(name, stmt, rank, name, numbered)
        for rank, (name, stmt, numbered) in enumerate(ordered)
    }
    # a delete keeps its place among the saves of the same table
    forget = delete(documents).where(
        documents.c.kind == bindparam("b_kind"), documents.c.key == bindparam("b_key")
    )
    rank = statements["documents"].rank
    statements["documents_delete"] = Statement("documents_delete", forget, rank, "documents")
    return statements


_WRITES = _statements()
#: What ``entry.model_dump_json(exclude={"seq"})`` does, without its keyword handling
#: and a new set per entry (every relayed action has one).
_audit_json = AuditEntry.__pydantic_serializer__.to_json
_NO_SEQ = {"seq"}  # read, never changed

#: the row of a changed session; its binds are the columns prefixed ``v_``
_SESSION_CHANGE = (
    update(sessions)
    .where(sessions.c.id == bindparam("v_id"))
    .values({c.name: bindparam(f"v_{c.name}") for c in sessions.columns if c.name != "created_at"})
)


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


#: a changed companion session's row: only what a change can change (its data, and its
#: status when that changed), so the row's id and its indexes are not rewritten; the
#: binds are ``v_id``, ``v_data`` and ``v_status``
_COMPANION_CHANGE = (
    update(companion_sessions)
    .where(companion_sessions.c.id == bindparam("v_id"))
    .values(data=bindparam("v_data"))
)
_COMPANION_STATUS_CHANGE = _COMPANION_CHANGE.values(status=bindparam("v_status"))


def _companion_row(c: CompanionSession) -> dict[str, Any]:
    return {"id": c.id, "world": c.world, "server_id": c.server_id, "status": c.status,
            "data": c.model_dump_json()}  # fmt: skip


class SQLiteStore(Store):
    """The default store. ``path`` is the database file; its folder is created."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._engine: AsyncEngine | None = None
        self._writer = GroupWriter(self.path, self._failed)
        #: readers wait here, on the event loop, for one of the pool's connections: a
        #: burst of reads (thousands of game servers identifying at once) queues
        #: instead of timing out in the pool
        self._read_slots = anyio.Semaphore(_READERS)

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
        try:
            await anyio.to_thread.run_sync(use_wal_file, self.path)
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{self.path}", pool_size=_READERS, max_overflow=0
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
            cur = dbapi_conn.cursor()  # the file is in WAL mode already (use_wal_file)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("ae_migrate") else "BEGIN")

        try:
            await self._migrate(engine, "schema_version", MIGRATIONS)
            await self._writer.open()
        except BaseException as exc:
            await engine.dispose()
            if isinstance(exc, DatabaseError | sqlite3.DatabaseError):
                raise self._damaged(exc) from None
            raise
        self._engine = engine

    async def close(self) -> None:
        await self._writer.close()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def migrate(self, track: str, migrations: list[Callable[[Connection], None]]) -> None:
        """Bring tables that another store keeps in this file (the bridge daemon's) to
        their newest version: ``migrations[i]`` brings them from version ``i`` to
        ``i + 1``, counted under ``track`` in ``schema_meta``. All of it in one
        transaction that holds the write lock, so concurrent openers run each step
        once. Raises :class:`StoreError` when the file is newer than ``migrations``."""
        try:
            await self._migrate(self.engine, track, migrations)
        except DatabaseError as exc:
            raise self._damaged(exc) from None

    async def _migrate(
        self, engine: AsyncEngine, track: str, migrations: list[Callable[[Connection], None]]
    ) -> None:
        """Run ``migrations`` under ``track`` in one transaction begun IMMEDIATE (it
        holds the write lock from the start, so concurrent openers take turns)."""
        where = f"file {str(self.path)!r}"
        async with _connected(engine) as conn:
            info = conn.sync_connection.info  # type: ignore[union-attr]
            info["ae_migrate"] = True  # this checkout only: the connection is pooled
            try:
                async with conn.begin():
                    old, new = await conn.run_sync(lambda c: migrate(c, where, track, migrations))
            finally:
                info.pop("ae_migrate", None)
        if old != new:
            log.info("store.migrated", path=str(self.path), track=track, version=new)

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
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (of this store's tables or of a store sharing the
        file); a damaged file is reported as :class:`StoreCorrupt`. The body runs
        shielded from cancellation (see :func:`_connected`): statements only."""
        try:
            async with self._read_slots, _connected(self.engine) as conn:
                yield conn
        except DatabaseError as exc:
            raise self._damaged(exc) from None

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
        """The model stored as JSON in ``data``; :class:`StoreCorrupt` naming the row
        when it no longer validates."""
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

    def load_many(self, model: type[M], table: str, rows: list[Any]) -> list[M]:
        """Models of ``rows`` (with ``id`` and ``data``); a damaged row is logged and
        skipped, the others are returned."""
        out: list[M] = []
        for row in rows:
            try:
                out.append(self.load(model, table, row.id, row.data))
            except StoreCorrupt as exc:
                log.warning("store.row_skipped", reason=str(exc))
        return out

    # -- writes (group commit) -----------------------------------------------------

    def _failed(self, exc: BaseException) -> BaseException:
        """The error a caller sees when a transaction failed."""
        if isinstance(exc, DatabaseError | sqlite3.DatabaseError):
            return self._damaged(exc)
        if not isinstance(exc, Exception):
            return StoreError(f"write to {str(self.path)!r} failed: {exc!r}")
        return exc

    async def commit(self, writes: list[Write]) -> None:
        """Commit ``writes`` in one transaction with whatever else is queued (see
        :meth:`.writer.GroupWriter.commit`): for stores that keep their records in
        this file."""
        if not self._writer.is_open:
            raise self._not_open()
        await self._writer.commit(writes)

    def _change(self, session_id: str, change: Callable[[Session], None]) -> Write:
        """Read-modify-write of one session inside the flush transaction. An error
        from ``change`` belongs to this write alone; the others still commit.
        ``change`` runs in the flush's worker thread: it may only modify the session
        it is given."""

        def unit(conn: sqlite3.Connection) -> Session:
            row = conn.execute("SELECT data FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                raise SessionNotFound(session_id)
            session = self.load(Session, "sessions", session_id, row[0])
            change(session)
            values = {f"v_{k}": v for k, v in _session_row(session).items() if k != "created_at"}
            self._writer.execute(conn, "session_change", _SESSION_CHANGE, [values])
            return session

        return Write(_WRITES["sessions"], {"id": session_id}, change=unit)

    def _companion_change(self, change: CompanionChange) -> Write:
        """``change`` made to the stored session inside the flush transaction (the
        writer's thread); a session that is not stored is left alone."""

        def unit(conn: sqlite3.Connection) -> CompanionSession | None:
            sid = change.session_id
            query = "SELECT data FROM companion_sessions WHERE id = ?"
            row = conn.execute(query, (sid,)).fetchone()
            if row is None:
                return None
            counted = None if change.set else self._counted(sid, row[0], change)
            if counted is not None:  # counters alone: the stored JSON, counted
                text, counted_session = counted
                values = {"v_id": sid, "v_data": text}
                self._writer.execute(conn, "companion_change", _COMPANION_CHANGE, [values])
                return change.stored(counted_session)
            stored = self.load(CompanionSession, "companion_sessions", sid, row[0])
            session = change.apply(stored)
            values = {"v_id": sid, "v_data": session.model_dump_json()}
            if session.status == stored.status:
                self._writer.execute(conn, "companion_change", _COMPANION_CHANGE, [values])
            else:
                values["v_status"] = session.status
                self._writer.execute(
                    conn, "companion_status_change", _COMPANION_STATUS_CHANGE, [values]
                )
            return session

        return Write(_WRITES["companion_sessions"], {"id": change.session_id}, change=unit)

    def _counted(
        self, sid: str, text: str, change: CompanionChange
    ) -> tuple[str, CompanionSession] | None:
        """A change of counters alone made to a session's stored JSON: the new text and
        the session it holds, validated as a load validates. Every signal and game
        event makes such a change in its transaction; counting in the JSON skips two
        model copies and a serialisation (about a fifth of the change's own time: 32
        against 40 us in a micro-benchmark). The text is Python's JSON, not
        pydantic's: the same values, though a float may be spelled otherwise (1e+16
        for 1e16). None when the row is not an object holding those counters as
        integers, or a count would go below 0: the caller then takes the model's
        way, which says what is wrong."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        for counter, by in change.add.items():
            count = data.get(counter)
            if type(count) is not int or count + by < 0:
                return None
            data[counter] = count + by
        counted = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return counted, self.load(CompanionSession, "companion_sessions", sid, counted)

    # -- encounters ------------------------------------------------------------------

    async def save_encounter(self, spec: EncounterSpec) -> None:
        await self.commit(
            [
                Write(
                    _WRITES["encounters"],
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
        async with self.reading() as conn:
            row = (
                await conn.execute(
                    select(encounters.c.id, encounters.c.data).where(
                        encounters.c.id == encounter_id
                    )
                )
            ).first()
        return self.load(EncounterSpec, "encounters", row.id, row.data) if row else None

    async def list_encounters(
        self, *, category: Category | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]:
        q = select(encounters.c.id, encounters.c.data).order_by(encounters.c.seq.desc())
        if category is not None:
            q = q.where(encounters.c.category == category.value)
        async with self.reading() as conn:
            rows = list((await conn.execute(q.limit(limit).offset(offset))).all())
        return self.load_many(EncounterSpec, "encounters", rows)

    # -- sessions --------------------------------------------------------------------

    async def save_session(self, session: Session) -> None:
        await self.commit([Write(_WRITES["sessions"], _session_row(session))])

    async def save_sessions(self, batch: list[Session]) -> None:
        """Save many sessions in one transaction (imports, benchmarks)."""
        if batch:
            await self.commit([Write(_WRITES["sessions"], _session_row(s)) for s in batch])

    async def update_session(self, session_id: str, change: Callable[[Session], None]) -> Session:
        w = self._change(session_id, change)
        await self.commit([w])
        result: Session = w.result
        return result

    async def get_session(self, session_id: str) -> Session | None:
        async with self.reading() as conn:
            row = (
                await conn.execute(
                    select(sessions.c.id, sessions.c.data).where(sessions.c.id == session_id)
                )
            ).first()
        return self.load(Session, "sessions", row.id, row.data) if row else None

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
        async with self.reading() as conn:
            rows = list((await conn.execute(q.limit(limit).offset(offset))).all())
        return self.load_many(Session, "sessions", rows)

    # -- audit log (append-only) -----------------------------------------------------

    async def append_audit(self, entries: list[AuditEntry]) -> list[int]:
        return await self.write_batch(WriteBatch(audit=entries))

    async def write_batch(
        self, batch: WriteBatch, *, with_writes: Sequence[Write] = ()
    ) -> list[int]:
        """Commit ``batch`` atomically; returns the ``seq`` of its audit entries.
        ``with_writes``: writes of a store sharing this file (the bridge daemon's link
        records and dispatches), committed in the same transaction."""
        audit = [
            Write(_WRITES["audit_log"], {
                "at": e.at, "session_id": e.session_id, "persona_id": e.persona_id,
                "kind": e.kind, "decision": e.decision,
                "data": _audit_json(e, exclude=_NO_SEQ).decode(),
            })
            for e in batch.audit
        ]  # fmt: skip
        writes = [*audit, *with_writes]
        companions = _WRITES["companion_sessions"]
        writes += [Write(companions, _companion_row(c)) for c in batch.companions]
        writes += [self._companion_change(c) for c in batch.changes]
        if writes:
            await self.commit(writes)
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
            await self.commit([
                Write(_WRITES["llm_usage"], {**r.model_dump(), "ok": int(r.ok)}) for r in records
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
        async with self.reading() as conn:
            rows = (await conn.execute(q)).all()
        return [UsageTotals.model_validate(dict(row._mapping)) for row in rows]

    # -- event logs ----------------------------------------------------------------------

    async def append_events(
        self, kind: str, events: list[tuple[str | None, datetime, dict[str, Any]]]
    ) -> list[int]:
        log_row = _WRITES["event_log"]
        writes = [
            Write(log_row, {"kind": kind, "key": key, "at": at, "data": json.dumps(data)})
            for key, at, data in events
        ]
        if writes:
            await self.commit(writes)
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
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)  # stored as UTC
            out.append(LoggedEvent(row.id, row.kind, row.key, at, data))
        return out

    # -- documents ---------------------------------------------------------------------

    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None:
        await self.commit([Write(_WRITES["documents"], {
            "kind": kind, "key": key, "updated_at": utcnow(), "data": doc.model_dump_json(),
        })])  # fmt: skip

    async def get_document(self, kind: str, key: str, model: type[M]) -> M | None:
        t = documents.c
        async with self.reading() as conn:
            row = (await conn.execute(select(t.data).where(t.kind == kind, t.key == key))).first()
        return self.load(model, "documents", f"{kind}/{key}", row.data) if row else None

    async def list_documents(self, kind: str, model: type[M], *, prefix: str = "") -> list[M]:
        t = documents.c
        q = select(t.key.label("id"), t.data).where(t.kind == kind).order_by(t.key)
        if prefix:
            q = q.where(t.key >= prefix, t.key < prefix + "\U0010ffff")
        async with self.reading() as conn:
            rows = list((await conn.execute(q)).all())
        return self.load_many(model, "documents", rows)

    async def delete_document(self, kind: str, key: str) -> bool:
        t = documents.c
        async with self.reading() as conn:
            row = (await conn.execute(select(t.key).where(t.kind == kind, t.key == key))).first()
        if row is None:
            return False
        await self.commit([Write(_WRITES["documents_delete"], {"b_kind": kind, "b_key": key})])
        return True

    # -- deployment --------------------------------------------------------------------

    async def save_persona(self, record: PersonaRecord) -> None:
        await self.commit([Write(_WRITES["personas"], {
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
        return self.load_many(PersonaRecord, "personas", rows)

    async def save_companion(self, session: CompanionSession) -> None:
        await self.commit([Write(_WRITES["companion_sessions"], _companion_row(session))])

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
        async with self.reading() as conn:
            rows = list((await conn.execute(q)).all())
        return self.load_many(CompanionSession, "companion_sessions", rows)

    async def _one(self, table: Table, model: type[M], row_id: str) -> M | None:
        async with self.reading() as conn:
            row = (
                await conn.execute(select(table.c.id, table.c.data).where(table.c.id == row_id))
            ).first()
        return self.load(model, table.name, row.id, row.data) if row else None
