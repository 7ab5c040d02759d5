"""Tables and schema versions of the SQL stores.

The schema is versioned (see ``MIGRATIONS``), and a store opened by an older SDK than
the one that wrote it refuses to run rather than guess.
Models are stored whole as JSON in a ``data`` column; the other columns exist only to
index and filter.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Column, Connection, DateTime, Index, Integer, MetaData, String, Table, Text

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


def _v1_foundation(conn: Connection) -> None:
    metadata.create_all(conn, tables=[encounters, sessions], checkfirst=True)


#: ``MIGRATIONS[i]`` brings a store from version ``i`` to ``i + 1``, inside the open
#: transaction. A migration may create tables, alter them or move data; append new
#: ones, never edit a released one.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_foundation,
]

SCHEMA_VERSION = len(MIGRATIONS)
