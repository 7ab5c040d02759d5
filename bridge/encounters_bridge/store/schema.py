"""The bridge daemon's tables, kept in the SDK store's database (its SQLite file or
its PostgreSQL schema) under a schema version of their own (``bridge_schema_version``
in ``schema_meta``). The migrations are written with SQLAlchemy and run on both.

The tables kept the names and shapes they had when the SDK's schema held them, so a
data folder of any earlier version opens with its keys, links and dispatches: the first
migration creates whatever is missing and finishes the changes the SDK's own
migrations used to make (the game servers of a key, the outbox rows of a link).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

#: ``schema_meta`` key of the version below
TRACK = "bridge_schema_version"

metadata = MetaData()
#: 64 bits on PostgreSQL, as SQLite's integers are
_BIG = Integer().with_variant(BigInteger(), "postgresql")

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

deploy_tokens = Table(
    "deploy_tokens",
    metadata,
    Column("id", String(128), primary_key=True),  # the token's hash
    Column("persona_id", String(64), nullable=False),
    Column("data", Text, nullable=False),
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
    #: the fencing token of the process writing the link (see ``LinkRecord.epoch``)
    Column("epoch", _BIG, nullable=False, server_default="0"),
    Index("ix_bridge_links_server", "world", "server_id"),
)

#: A game server's fencing token (several nodes, PostgreSQL): ``LinkStore.take_link``
#: bumps it in the transaction that loads the server's newest link and stamps that link
#: with it, so it is the epoch of the last process that took the server. A new link is
#: stored only with the epoch its process took the server with (``_SERVER_FENCE``): one
#: row fences the first link of a server, which no link row could. Stays empty on
#: SQLite (one process writes the file), where it exists for ``ae store migrate``.
bridge_servers = Table(
    "bridge_servers",
    metadata,
    Column("world", String(16), primary_key=True),
    Column("server_id", String(64), primary_key=True),
    Column("epoch", _BIG, nullable=False, server_default="0"),
)

#: A link's dispatches not yet acknowledged, one row each: a busy link appends rows and
#: drops acknowledged ones instead of rewriting its whole replay window.
bridge_outbox = Table(
    "bridge_outbox",
    metadata,
    Column("link_id", String(64), primary_key=True),
    Column("s", _BIG, primary_key=True),
    Column("data", Text, nullable=False),
)


def _v1_records(conn: Connection) -> None:
    """Create the tables that are missing; bind keys to game servers (a
    ``server_ids`` column); move dispatches kept inside a link's JSON into outbox rows."""
    metadata.create_all(conn, checkfirst=True)
    if "server_ids" not in {c["name"] for c in inspect(conn).get_columns("world_keys")}:
        conn.execute(text("ALTER TABLE world_keys ADD COLUMN server_ids TEXT NOT NULL "
                          "DEFAULT '[]'"))  # fmt: skip
    for link_id, data in conn.execute(select(bridge_links.c.id, bridge_links.c.data)).all():
        record = json.loads(data)
        if "unacked" not in record:
            continue
        frames = record.pop("unacked") or []
        if frames:
            new = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            conn.execute(new(bridge_outbox).on_conflict_do_nothing(), [
                {"link_id": link_id, "s": f["s"], "data": json.dumps(f)} for f in frames
            ])  # fmt: skip
        conn.execute(
            update(bridge_links).where(bridge_links.c.id == link_id).values(data=json.dumps(record))
        )


#: SQLSTATE of a write refused by a link's epoch (PostgreSQL)
FENCE_SQLSTATE = "AEF01"

#: Refuses an update that would lower a link's epoch: the write of a node that loaded
#: the link before another node took it over (its DETAIL is the link's id).
_FENCE = f"""
CREATE OR REPLACE FUNCTION bridge_links_fence() RETURNS trigger LANGUAGE plpgsql AS $fence$
BEGIN
  IF NEW.epoch < OLD.epoch THEN
    RAISE EXCEPTION 'link % was taken over by another node (its epoch is %, this write''s %)',
      OLD.id, OLD.epoch, NEW.epoch USING ERRCODE = '{FENCE_SQLSTATE}', DETAIL = OLD.id;
  END IF;
  RETURN NEW;
END
$fence$
"""


def _v2_link_epochs(conn: Connection) -> None:
    """A link's fencing token (``epoch``): 0 for every stored link, the value a link's
    first loader bumps (a database made by the first step has the column); on
    PostgreSQL, the trigger that refuses a write of an older epoch."""
    if "epoch" not in {c["name"] for c in inspect(conn).get_columns("bridge_links")}:
        kind = "BIGINT" if conn.dialect.name == "postgresql" else "INTEGER"
        conn.execute(text(f"ALTER TABLE bridge_links ADD COLUMN epoch {kind} NOT NULL DEFAULT 0"))
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_FENCE)
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS bridge_links_fence ON bridge_links")
        conn.exec_driver_sql("CREATE TRIGGER bridge_links_fence BEFORE UPDATE ON bridge_links "
                             "FOR EACH ROW EXECUTE PROCEDURE bridge_links_fence()")  # fmt: skip


#: Refuses a new link unless its epoch is its game server's (the epoch its process took
#: the server with): another process took the server since, and may have stored a link
#: of its own. It locks the server's row (``FOR SHARE``; made, with epoch 0, for a
#: server never taken) until the write commits, so a take waits for the new link and
#: then finds it. Called before the link's row is written (its DETAIL is the link's id).
_SERVER_FENCE = f"""
CREATE OR REPLACE FUNCTION bridge_server_fence(w TEXT, s TEXT, e BIGINT, link TEXT)
RETURNS INTEGER LANGUAGE plpgsql AS $fence$
DECLARE
  stored BIGINT;
BEGIN
  INSERT INTO bridge_servers (world, server_id, epoch) VALUES (w, s, 0) ON CONFLICT DO NOTHING;
  SELECT epoch INTO stored FROM bridge_servers WHERE world = w AND server_id = s FOR SHARE;
  IF stored <> e THEN
    RAISE EXCEPTION 'server %/% was taken by another node (its epoch is %, new link %''s %)',
      w, s, stored, link, e USING ERRCODE = '{FENCE_SQLSTATE}', DETAIL = link;
  END IF;
  RETURN 1;
END
$fence$
"""


def _v3_server_epochs(conn: Connection) -> None:
    """A game server's fencing token (``bridge_servers``), from the highest epoch of
    its links; on PostgreSQL, the function that fences a new link by it."""
    bridge_servers.create(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        t = bridge_links.c
        highest = select(t.world, t.server_id, func.max(t.epoch)).group_by(t.world, t.server_id)
        columns = ["world", "server_id", "epoch"]
        conn.execute(
            pg_insert(bridge_servers).from_select(columns, highest).on_conflict_do_nothing()
        )
        conn.exec_driver_sql(_SERVER_FENCE)


#: ``MIGRATIONS[i]`` brings the bridge's tables from version ``i`` to ``i + 1``, inside
#: the open transaction; append new ones, never edit a released one.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_records,
    _v2_link_epochs,
    _v3_server_epochs,
]

SCHEMA_VERSION = len(MIGRATIONS)
