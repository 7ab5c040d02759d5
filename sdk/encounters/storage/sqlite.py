"""The embedded store: one SQLite file in WAL mode, reached through SQLAlchemy Core 2
async on aiosqlite.

Why these choices: WAL lets readers go on while a write commits, and every write is one
transaction, so a crash mid-write leaves either the old row or the new one, never half
of it. SQLite has a single writer, so writes go through one held connection under one
lock, with group commit: whoever holds the lock commits every write queued meanwhile
in the same transaction. Each await on aiosqlite is a thread hop (~0.1 ms here), so one
player's step costs about a millisecond, while many concurrent players share commits.

Damage is reported, never repaired silently: a file that is not a SQLite database, or a
row whose JSON no longer validates, raises :class:`StoreCorrupt` naming the file or row
and leaves the file as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from sqlalchemy import Table, event, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import StoreCorrupt, StoreError
from ..log import get_logger
from ..models import Category, EncounterSpec, Session, SessionStatus, utcnow
from .base import Store
from .schema import MIGRATIONS, SCHEMA_VERSION, encounters, metadata, schema_meta, sessions

log = get_logger(__name__)
M = TypeVar("M", bound=BaseModel)

_SQLITE_MAGIC = b"SQLite format 3\x00"


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
            "another file); it was left untouched. Restore it from a backup, or move it "
            "aside to start a new store."
        )


@dataclass
class _Write:
    table: str
    params: dict[str, Any]
    done: bool = False
    error: BaseException | None = None


def _upsert(table: Table, keep: tuple[str, ...] = ("id",), **computed: Any) -> Any:
    stmt = sqlite_insert(table)
    if computed:
        stmt = stmt.values(**computed)
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keep},
    )


_UPSERT = {
    "sessions": _upsert(sessions, keep=("id", "created_at")),
    # seq orders encounters newest first; re-saving one moves it to the front.
    "encounters": _upsert(
        encounters,
        keep=("id", "created_at"),
        seq=select(func.coalesce(func.max(encounters.c.seq), 0) + 1).scalar_subquery(),
    ),
}


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


class SQLiteStore(Store):
    """The default store. ``path`` is the database file; its folder is created."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._engine: AsyncEngine | None = None
        self._writer: AsyncConnection | None = None
        self._write_lock = anyio.Lock()
        self._pending: list[_Write] = []

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._engine is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _check_header(self.path)
        engine = create_async_engine(f"sqlite+aiosqlite:///{self.path}")

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        try:
            async with engine.begin() as conn:
                await self._migrate(conn)
        except DatabaseError as exc:
            await engine.dispose()
            if isinstance(exc, OperationalError) and "locked" in str(exc):
                raise StoreError(
                    f"store file {str(self.path)!r} is locked by another "
                    "process; close it and try again"
                ) from None
            raise StoreCorrupt(
                f"store file {str(self.path)!r} could not be read ({exc.orig}); it was left "
                "untouched. Restore it from a backup, or move it aside to start a new store."
            ) from None
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        # One held connection does every write: no pool checkout per write.
        self._writer = await engine.connect()

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _migrate(self, conn: AsyncConnection) -> None:
        await conn.run_sync(lambda c: schema_meta.create(c, checkfirst=True))
        raw = (
            await conn.execute(
                select(schema_meta.c.value).where(schema_meta.c.key == "schema_version")
            )
        ).scalar()
        version = int(raw) if raw is not None else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store file {str(self.path)!r} has schema version {version}, newer than this "
                f"SDK understands ({SCHEMA_VERSION}); upgrade the ai-encounters package"
            )
        for tables in MIGRATIONS[version:]:
            await conn.run_sync(partial(metadata.create_all, tables=tables, checkfirst=True))
        if version != SCHEMA_VERSION:
            stmt = sqlite_insert(schema_meta).values(
                key="schema_version", value=str(SCHEMA_VERSION)
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["key"], set_={"value": str(SCHEMA_VERSION)}
                )
            )
            log.info("store.migrated", path=str(self.path), version=SCHEMA_VERSION)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreError("the store is not open; use 'async with store:' or await open()")
        return self._engine

    async def schema_version(self) -> int:
        async with self.engine.connect() as conn:
            raw = (
                await conn.execute(
                    select(schema_meta.c.value).where(schema_meta.c.key == "schema_version")
                )
            ).scalar()
        return int(raw or 0)

    # -- helpers ---------------------------------------------------------------------

    def _load(self, model: type[M], table: str, row_id: str, data: str) -> M:
        try:
            return model.model_validate_json(data)
        except ValidationError as exc:
            raise StoreCorrupt(
                f"row {row_id!r} in table {table} of {str(self.path)!r} is damaged "
                f"({exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}); other "
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
        """Commit ``writes`` durably. Writes queued by other tasks meanwhile are
        committed in the same transaction (group commit): one task takes the lock and
        flushes everything pending, so many players' steps cost one commit."""
        self._pending.extend(writes)
        async with self._write_lock:
            if not all(w.done for w in writes):
                batch, self._pending = self._pending, []
                try:
                    await self._flush(batch)
                except BaseException as exc:
                    for w in batch:
                        w.done, w.error = True, exc
                    raise
                for w in batch:
                    w.done = True
        for w in writes:
            if w.error is not None:
                raise StoreError(f"write to {str(self.path)!r} failed: {w.error!r}") from w.error

    async def _flush(self, batch: list[_Write]) -> None:
        writer = self._writer
        if writer is None:
            raise StoreError("the store is not open; use 'async with store:' or await open()")
        async with writer.begin():
            i = 0
            while i < len(batch):  # consecutive writes to one table go as one executemany
                j = i
                while j < len(batch) and batch[j].table == batch[i].table:
                    j += 1
                await writer.execute(_UPSERT[batch[i].table], [w.params for w in batch[i:j]])
                i = j

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
        async with self.engine.connect() as conn:
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
        async with self.engine.connect() as conn:
            rows = list((await conn.execute(q.limit(limit).offset(offset))).all())
        return self._load_many(EncounterSpec, "encounters", rows)

    # -- sessions --------------------------------------------------------------------

    async def save_session(self, session: Session) -> None:
        await self._write([_Write("sessions", _session_row(session))])

    async def save_sessions(self, batch: list[Session]) -> None:
        """Save many sessions in one transaction (imports, benchmarks)."""
        if batch:
            await self._write([_Write("sessions", _session_row(s)) for s in batch])

    async def get_session(self, session_id: str) -> Session | None:
        async with self.engine.connect() as conn:
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
        async with self.engine.connect() as conn:
            rows = list((await conn.execute(q.limit(limit).offset(offset))).all())
        return self._load_many(Session, "sessions", rows)
