"""Tables and schema versions of the SQL stores (SQLite and PostgreSQL).

The schema is versioned: ``MIGRATIONS`` is the one list of steps both backends run,
through :func:`migrate`, written with SQLAlchemy so each step works on either
dialect. A store opened by an older SDK than the one that wrote it refuses to run
rather than guess.
Models are stored whole as JSON in a ``data`` column; the other columns exist only to
index and filter.
"""

from __future__ import annotations

import json
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
    inspect,
    select,
    text,
    update,
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


world_keys = Table(
    "world_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("world", String(16), nullable=False),
    Column("key_hash", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    #: JSON list of the game server ids the key may identify as
    Column("server_ids", Text, nullable=False, server_default="[]"),
)

bridge_links = Table(
    "bridge_links",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("world", String(16), nullable=False),
    Column("server_id", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_bridge_links_server", "world", "server_id"),
)


#: A link's dispatches not yet acknowledged, one row each: a busy link appends rows and
#: drops acknowledged ones instead of rewriting its whole replay window.
bridge_outbox = Table(
    "bridge_outbox",
    metadata,
    Column("link_id", String(64), primary_key=True),
    Column("s", Integer, primary_key=True),
    Column("data", Text, nullable=False),
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

deploy_tokens = Table(
    "deploy_tokens",
    metadata,
    Column("id", String(128), primary_key=True),  # the token's hash
    Column("persona_id", String(64), nullable=False),
    Column("data", Text, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
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


def _v1_foundation(conn: Connection) -> None:
    metadata.create_all(conn, tables=[encounters, sessions], checkfirst=True)


#: ``MIGRATIONS[i]`` brings a store from version ``i`` to ``i + 1``, inside the open
#: transaction. A migration may create tables, alter them or move data; append new
#: ones, never edit a released one.
def _v2_audit_log(conn: Connection) -> None:
    metadata.create_all(conn, tables=[audit_log], checkfirst=True)


def _v3_llm_usage(conn: Connection) -> None:
    metadata.create_all(conn, tables=[llm_usage], checkfirst=True)


def _v4_bridge(conn: Connection) -> None:
    metadata.create_all(conn, tables=[world_keys, bridge_links], checkfirst=True)


def _v5_deployment(conn: Connection) -> None:
    metadata.create_all(
        conn, tables=[personas, deploy_tokens, companion_sessions, api_keys], checkfirst=True
    )


def _v6_bridge_outbox(conn: Connection) -> None:
    """Move each link's unacknowledged dispatches out of its JSON into outbox rows."""
    metadata.create_all(conn, tables=[bridge_outbox], checkfirst=True)
    for link_id, data in conn.execute(select(bridge_links.c.id, bridge_links.c.data)).all():
        record = json.loads(data)
        frames = record.pop("unacked", None) or []
        if frames:
            conn.execute(insert(bridge_outbox), [
                {"link_id": link_id, "s": f["s"], "data": json.dumps(f)} for f in frames
            ])  # fmt: skip
        conn.execute(
            update(bridge_links).where(bridge_links.c.id == link_id).values(data=json.dumps(record))
        )


def _v7_documents(conn: Connection) -> None:
    metadata.create_all(conn, tables=[documents], checkfirst=True)


def _v8_event_log(conn: Connection) -> None:
    metadata.create_all(conn, tables=[event_log], checkfirst=True)


def _v9_key_servers(conn: Connection) -> None:
    """World keys are bound to the game servers they may identify as."""
    if "server_ids" not in {c["name"] for c in inspect(conn).get_columns("world_keys")}:
        conn.execute(text("ALTER TABLE world_keys ADD COLUMN server_ids TEXT NOT NULL "
                          "DEFAULT '[]'"))  # fmt: skip


MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_foundation,
    _v2_audit_log,
    _v3_llm_usage,
    _v4_bridge,
    _v5_deployment,
    _v6_bridge_outbox,
    _v7_documents,
    _v8_event_log,
    _v9_key_servers,
]

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: Connection) -> int:
    """The version recorded in ``schema_meta`` (0 for a new, empty store)."""
    raw = conn.execute(
        select(schema_meta.c.value).where(schema_meta.c.key == "schema_version")
    ).scalar()
    return int(raw) if raw is not None else 0


def migrate(conn: Connection, where: str) -> tuple[int, int]:
    """Bring the store on ``conn`` to :data:`SCHEMA_VERSION` inside the caller's
    transaction, which must keep other migrators out (SQLite: ``BEGIN IMMEDIATE``;
    PostgreSQL: an advisory lock). Returns ``(old, new)`` versions. ``where`` names
    the store in the error for a store newer than this SDK."""
    schema_meta.create(conn, checkfirst=True)
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store {where} has schema version {version}, newer than this SDK understands "
            f"({SCHEMA_VERSION}); upgrade the ai-encounters package"
        )
    for step in MIGRATIONS[version:]:
        step(conn)
    if version != SCHEMA_VERSION:
        conn.execute(delete(schema_meta).where(schema_meta.c.key == "schema_version"))
        conn.execute(insert(schema_meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
    return version, SCHEMA_VERSION
