"""Tables and schema versions of the SQL stores (SQLite and PostgreSQL).

The schema is versioned: ``MIGRATIONS`` is the one list of steps both backends run,
through :func:`migrate`, written with SQLAlchemy so each step works on either
dialect. A store opened by an older SDK than the one that wrote it refuses to run
rather than guess.
Models are stored whole as JSON in a ``data`` column; the other columns exist only to
index and filter.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from ..errors import StoreError

metadata = MetaData()

schema_meta = Table(
    "schema_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

encounters = Table(
    "encounters",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("category", String(16), nullable=False),
    Column("template_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_encounters_category_seq", "category", "seq"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("player_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("campaign_id", String(64)),
    Column("encounter_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_sessions_player_created", "player_id", "created_at"),
    Index("ix_sessions_status", "status"),
    Index("ix_sessions_campaign", "campaign_id"),
)


audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("session_id", String(64)),
    Column("persona_id", String(64)),
    Column("kind", String(16), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_audit_session_seq", "session_id", "seq"),
    Index("ix_audit_persona_seq", "persona_id", "seq"),
)


llm_usage = Table(
    "llm_usage",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("ok", Integer, nullable=False),
    Column("error", Text),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Index("ix_llm_usage_at", "at"),
)


#: Documents of the player-facing systems (player histories, campaigns...): one JSON
#: model per (kind, key), e.g. ("difficulty", player id).
documents = Table(
    "documents",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
)


#: Append-only event logs (analytics events, the webhook outbox): ``kind`` names the
#: log, ``key`` is what readers filter on (an encounter id, a player id).
event_log = Table(
    "event_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(200)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_event_log_kind_id", "kind", "id"),
    Index("ix_event_log_kind_key_id", "kind", "key", "id"),
)


personas = Table(
    "personas",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("creator_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
)

companion_sessions = Table(
    "companion_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("world", String(16), nullable=False),
    Column("server_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_companion_server", "world", "server_id", "status"),
)


#: Claims on units of work several processes sharing a store could all do (a webhook's
#: deliveries): ``owner`` holds ``(kind, key)`` until ``until`` (an expired claim is
#: free). Only the PostgreSQL store uses it (see ``PostgresStore.claim_work``); an
#: embedded store has one process working on it.
work_claims = Table(
    "work_claims",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
)


def _v1_foundation(conn: Connection) -> None:
    metadata.create_all(conn, tables=[encounters, sessions], checkfirst=True)


#: ``MIGRATIONS[i]`` brings a store from version ``i`` to ``i + 1``, inside the open
#: transaction. A migration may create tables, alter them or move data; append new
#: ones. A released one may only stop touching tables another store owns (that
#: store's own migrations bring them to its shape from any earlier version).
def _v2_audit_log(conn: Connection) -> None:
    metadata.create_all(conn, tables=[audit_log], checkfirst=True)


def _v3_llm_usage(conn: Connection) -> None:
    metadata.create_all(conn, tables=[llm_usage], checkfirst=True)


def _v4_daemon_records(conn: Connection) -> None:
    """Nothing: this step's tables (keys and links) belong to the bridge daemon's
    store, which creates them in the same file under a version of its own."""


def _v5_deployment(conn: Connection) -> None:
    """Personas and companion sessions (the daemon's token and key tables are its
    own store's)."""
    metadata.create_all(conn, tables=[personas, companion_sessions], checkfirst=True)


def _v6_daemon_records(conn: Connection) -> None:
    """Nothing: this step's table (a link's outbox) belongs to the bridge daemon's
    store."""


def _v7_documents(conn: Connection) -> None:
    metadata.create_all(conn, tables=[documents], checkfirst=True)


def _v8_event_log(conn: Connection) -> None:
    metadata.create_all(conn, tables=[event_log], checkfirst=True)


def _v9_daemon_records(conn: Connection) -> None:
    """Nothing: this step's column (a key's game servers) belongs to the bridge
    daemon's store."""


def _v10_daemon_apart(conn: Connection) -> None:
    """The bridge daemon keeps its tables under a version of its own. Nothing to
    change here: the version step only stops an older SDK (which expects the daemon's
    tables) from opening a file that may lack them."""


def _v11_work_claims(conn: Connection) -> None:
    metadata.create_all(conn, tables=[work_claims], checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_foundation,
    _v2_audit_log,
    _v3_llm_usage,
    _v4_daemon_records,
    _v5_deployment,
    _v6_daemon_records,
    _v7_documents,
    _v8_event_log,
    _v9_daemon_records,
    _v10_daemon_apart,
    _v11_work_claims,
]

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: Connection, track: str = "schema_version") -> int:
    """The version recorded under ``track`` in ``schema_meta`` (0 when none is)."""
    raw = conn.execute(select(schema_meta.c.value).where(schema_meta.c.key == track)).scalar()
    return int(raw) if raw is not None else 0


def migrate(
    conn: Connection,
    where: str,
    track: str = "schema_version",
    migrations: list[Callable[[Connection], None]] = MIGRATIONS,
) -> tuple[int, int]:
    """Bring the tables counted under ``track`` to their newest version inside the
    caller's transaction, which must keep other migrators out (SQLite: ``BEGIN
    IMMEDIATE``; PostgreSQL: an advisory lock): ``migrations[i]`` brings them from
    version ``i`` to ``i + 1``. The SDK's tables are ``schema_version``; a store sharing
    the file (the bridge daemon's) keeps a track of its own. Returns ``(old, new)``;
    ``where`` names the store in the error for a store newer than this code."""
    schema_meta.create(conn, checkfirst=True)
    version, newest = schema_version(conn, track), len(migrations)
    if version > newest:
        raise StoreError(
            f"store {where} has {track.replace('_', ' ')} {version}, newer than this SDK "
            f"understands ({newest}); upgrade the ai-encounters package"
        )
    for step in migrations[version:]:
        step(conn)
    if version != newest:
        conn.execute(delete(schema_meta).where(schema_meta.c.key == track))
        conn.execute(insert(schema_meta).values(key=track, value=str(newest)))
    return version, newest
