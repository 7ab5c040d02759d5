"""The daemon's records in the SDK store's SQLite file, written through that store's
group-commit writer: a dispatch commits in the same transaction as the audit entries
and counters that go with it (see :meth:`SQLiteBridgeStore.write_links`).

One daemon process writes the file, so links are not fenced here: a link's ``epoch``
is stored as its record carries it and ``take_link`` does not bump it."""

from __future__ import annotations

import functools
import json
import sqlite3
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from encounters.errors import StoreCorrupt
from encounters.models.common import STRICT
from encounters.storage import SQLiteStore
from encounters.storage.writer import Statement, Write, upsert

from ..frames import json_text
from . import key_queries
from .models import ApiKey, DeployToken, LinkRecord, ServerId, WorldKey
from .protocols import BridgeStore, LinkBatch, LinkWrite
from .schema import (
    MIGRATIONS,
    TRACK,
    api_keys,
    bridge_links,
    bridge_outbox,
    deploy_tokens,
    world_keys,
)

#: Flush ranks after the SDK's statements (whose ranks are small numbers).
_RANK = 100

_KEYS = Statement("world_keys", upsert(world_keys), _RANK)
_API_KEYS = Statement("api_keys", upsert(api_keys), _RANK + 1)
_TOKENS = Statement("deploy_tokens", upsert(deploy_tokens), _RANK + 2)
_LINKS = Statement("bridge_links", upsert(bridge_links), _RANK + 3)
# one rank for both: a link's trim and appends keep their order
_OUTBOX = Statement("bridge_outbox", sqlite_insert(bridge_outbox).on_conflict_do_nothing(),
                    _RANK + 4)  # fmt: skip
_OUTBOX_TRIM = Statement(
    "bridge_outbox_trim",
    delete(bridge_outbox).where(
        bridge_outbox.c.link_id == bindparam("b_link"), bridge_outbox.c.s <= bindparam("b_upto")
    ),
    _RANK + 4,
)


def _world_key(row: Any) -> WorldKey:
    """A key from its row. A long server-id list is parsed once per text (see
    :func:`_long_server_ids`); the key's other fields are validated on every read."""
    text = row["server_ids"] or "[]"
    if len(text) < _LONG_SERVER_IDS:
        return WorldKey.model_validate({**row, "server_ids": json.loads(text)})
    key = WorldKey.model_validate({**row, "server_ids": []})
    return key.model_copy(update={"server_ids": _long_server_ids(text)})


#: Characters of JSON from which a key's server-id list is worth remembering parsed
#: (about 100 server ids).
_LONG_SERVER_IDS = 2048
#: the validation of ``WorldKey.server_ids``, on its own
_SERVER_IDS = TypeAdapter(list[ServerId], config=STRICT)


@functools.lru_cache(maxsize=8)
def _long_server_ids(text: str) -> list[str]:
    """The server ids of a key bound to a fleet of game servers, parsed and validated
    once per stored text. Such a key is read on every identify of every server of the
    fleet: parsing and validating its 10,000 ids each time cost 2-3 ms per identify
    (10,000 servers linking cost half a minute of the event loop) and left the C heap
    of a daemon full of freed 100 KiB holes between the links' own allocations (14 KiB
    of RSS per link at 2,000 links that ``malloc_trim`` could not give back). Server
    ids change only from none to the first one (a new text), so a remembered list is
    never stale; callers share it and never change it (a key is changed by
    ``model_copy`` with a new list). Eight texts of up to ~1 MiB at most are kept."""
    return _SERVER_IDS.validate_python(json.loads(text))


def _link_writes(change: LinkWrite) -> list[Write]:
    link = change.record
    data = link.model_dump_json(exclude={"unacked", "epoch"})
    writes = [Write(_LINKS, {
        "id": link.id, "world": link.world, "server_id": link.server_id,
        "key_id": link.key_id, "updated_at": link.updated_at, "data": data,
        "epoch": link.epoch,
    })]  # fmt: skip
    upto = (1 << 62) if change.replace else change.acked
    if upto > 0:
        writes.append(Write(_OUTBOX_TRIM, {"b_link": link.id, "b_upto": upto}))
    writes += [
        Write(_OUTBOX, {"link_id": link.id, "s": f["s"], "data": json_text(f, stored=True)})
        for f in change.appended
    ]
    return writes


class SQLiteBridgeStore(BridgeStore):
    """The daemon's records beside ``store``'s, in its file. :meth:`open` creates or
    migrates the tables (``store`` must be open); closing ``store`` closes this too."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    async def open(self) -> None:
        await self.store.migrate(TRACK, MIGRATIONS)

    # -- keys and tokens ---------------------------------------------------------------

    async def save_world_key(self, key: WorldKey) -> None:
        row = key.model_dump()
        row["server_ids"] = json.dumps(key.server_ids)
        await self.store.commit([Write(_KEYS, row)])

    async def get_world_key(self, key_id: str) -> WorldKey | None:
        async with self.store.reading() as conn:
            row = (await conn.execute(select(world_keys).where(world_keys.c.id == key_id))).first()
        return _world_key(row._mapping) if row else None

    async def list_world_keys(self) -> list[WorldKey]:
        async with self.store.reading() as conn:
            rows = (await conn.execute(select(world_keys).order_by(world_keys.c.created_at))).all()
        return [_world_key(r._mapping) for r in rows]

    async def revoked_world_key_ids(self) -> set[str]:
        async with self.store.reading() as conn:
            return set((await conn.execute(key_queries.revoked_ids())).scalars())

    async def world_keys_holding(self, world: str, server_id: str) -> list[WorldKey]:
        async with self.store.reading() as conn:
            rows = (await conn.execute(key_queries.holding_candidates(world, server_id))).all()
        return key_queries.holding((_world_key(r._mapping) for r in rows), world, server_id)

    async def save_api_key(self, key: ApiKey) -> None:
        await self.store.commit([Write(_API_KEYS, key.model_dump())])

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        async with self.store.reading() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return ApiKey.model_validate(dict(row._mapping)) if row else None

    async def list_api_keys(self) -> list[ApiKey]:
        async with self.store.reading() as conn:
            rows = (await conn.execute(select(api_keys).order_by(api_keys.c.created_at))).all()
        return [ApiKey.model_validate(dict(r._mapping)) for r in rows]

    async def save_deploy_token(self, token: DeployToken) -> None:
        await self.store.commit([Write(_TOKENS, {
            "id": token.token_hash, "persona_id": token.persona_id,
            "data": token.model_dump_json(),
        })])  # fmt: skip

    async def get_deploy_token(self, token_hash: str) -> DeployToken | None:
        t = deploy_tokens.c
        async with self.store.reading() as conn:
            row = (await conn.execute(select(t.id, t.data).where(t.id == token_hash))).first()
        return self.store.load(DeployToken, "deploy_tokens", row.id, row.data) if row else None

    async def use_deploy_token(self, token_hash: str) -> bool:
        def unit(conn: sqlite3.Connection) -> bool:
            gone = conn.execute("DELETE FROM deploy_tokens WHERE id = ?", (token_hash,))
            return gone.rowcount == 1

        write = Write(_TOKENS, {"id": token_hash}, change=unit)
        await self.store.commit([write])
        return bool(write.result)

    # -- links -------------------------------------------------------------------------

    async def write_links(self, batch: LinkBatch) -> list[int]:
        writes = [w for change in batch.links for w in _link_writes(change)]
        return await self.store.write_batch(batch.records, with_writes=writes)

    async def get_link(self, link_id: str) -> LinkRecord | None:
        t = bridge_links.c
        q = select(t.id, t.data, t.epoch).where(t.id == link_id)
        return await self._link(q)

    async def find_link(self, world: str, server_id: str) -> LinkRecord | None:
        t = bridge_links.c
        q = (
            select(t.id, t.data, t.epoch)
            .where(t.world == world, t.server_id == server_id)
            .order_by(t.updated_at.desc())
            .limit(1)
        )
        return await self._link(q)

    async def _link(self, query: Any) -> LinkRecord | None:
        """One link row with its outbox, read in one transaction (a consistent pair)."""
        async with self.store.reading() as conn, conn.begin():
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            frames = (await conn.execute(
                select(bridge_outbox.c.s, bridge_outbox.c.data)
                .where(bridge_outbox.c.link_id == row.id).order_by(bridge_outbox.c.s)
            )).all()  # fmt: skip
        record = self.store.load(LinkRecord, "bridge_links", row.id, row.data)
        try:
            unacked = [json.loads(f.data) for f in frames]
        except ValueError:
            raise StoreCorrupt(
                f"the outbox of link {row.id!r} in {str(self.store.path)!r} is damaged; "
                "other links are unaffected"
            ) from None
        return record.model_copy(update={"unacked": unacked, "epoch": row.epoch})
