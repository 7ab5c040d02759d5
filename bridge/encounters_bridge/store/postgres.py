"""The daemon's records in the PostgreSQL store's database (and its schema), written
through that store's group commit: a dispatch commits in the same transaction as the
audit entries and counters that go with it (see :meth:`PostgresBridgeStore.write_links`),
as on SQLite.

Rows are the SQLite backend's, table for table; upserts are written in key order (the
store sorts them), so daemon nodes writing the same rows lock them in the same order.
Needs the ``postgres`` extra, like the store it sits beside.

Fencing: several nodes write here, one per link at a time by a lease in Redis, and a
node paused for longer than its lease may wake up still believing it holds a link.
So the store, not the lease, has the last word: a node takes a game server to write
its links with :meth:`PostgresBridgeStore.take_link`, which bumps the server's epoch
(``bridge_servers``) and stamps the server's newest link (and the replaced ones it
followed to it) with it, in the transaction that reads the link. Every write of a link
carries the epoch it was loaded with and is refused (:class:`~.protocols.LinkMoved`,
nothing of its batch stored) unless the stored one is still that: a trigger on
``bridge_links`` (``schema.py``) refuses an update that would lower a link's epoch,
inside the upsert every link write already makes, and the store's
:class:`~encounters.storage.postgres.Fence` commits the rest of the batch without the
refused call. A new link has no row yet: its first write (``LinkWrite.new``) is fenced
by its server's row instead (``bridge_server_fence``), so two nodes identifying one
game server at once, or a node that lost the server before storing its new link,
cannot both store one.

Lock order, the same in every transaction: game servers' rows (in key order), then
links' rows (in id order), then outbox rows. A write takes the servers' rows only when
it makes a new link (``bridge_server_fence`` ranks before ``bridge_links``), and
:meth:`~PostgresBridgeStore.take_link` takes its server's row and then the rows of the
chain of replaced links it followed, in id order too. So two transactions never wait
for each other both ways (no deadlock), whichever node is stale.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from encounters.errors import StoreCorrupt
from encounters.storage.groupcommit import Write
from encounters.storage.postgres import Fence, PostgresStore, SharedStatement

from ..frames import json_text
from . import key_queries
from .models import ApiKey, DeployToken, LinkRecord, WorldKey
from .protocols import BridgeStore, LinkBatch, LinkMoved, LinkWrite
from .schema import (
    FENCE_SQLSTATE,
    MIGRATIONS,
    TRACK,
    api_keys,
    bridge_links,
    bridge_outbox,
    bridge_servers,
    deploy_tokens,
    world_keys,
)
from .sqlite import _world_key


def _upsert(table: Any) -> Any:
    stmt = pg_insert(table)
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={
            c.name: stmt.excluded[c.name]
            for c in table.columns
            if c.name not in ("id", "created_at")
        },
    )


def _taken_over(write: Write, message: str) -> LinkMoved:
    return LinkMoved(f"{message}: nothing of this write was stored")


#: a link's row is written only by the process that loaded it last (see the module and
#: the trigger in ``schema.py``)
_EPOCH = Fence("id", FENCE_SQLSTATE, _taken_over)

#: a new link is written only by the process that took its game server last (the
#: function in ``schema.py``; the refused row is the link)
_SERVER_EPOCH = Fence("id", FENCE_SQLSTATE, _taken_over)

_STATEMENTS = [
    SharedStatement("world_keys", _upsert(world_keys), 0, ("id",)),
    SharedStatement("api_keys", _upsert(api_keys), 1, ("id",)),
    SharedStatement("deploy_tokens", _upsert(deploy_tokens), 2, ("id",)),
    # before any link row, in the servers' order: a write locks a game server's row
    # before its links' rows, as take_link does (see the module's docstring)
    SharedStatement(
        "bridge_server_fence",
        text("SELECT bridge_server_fence(:world, :server_id, :epoch, :id)"),
        3,
        ("world", "server_id"),
        _SERVER_EPOCH,
    ),
    SharedStatement("bridge_links", _upsert(bridge_links), 4, ("id",), _EPOCH),
    # one rank for the outbox's three statements, no keys: a link's clearing, trims and
    # appends keep the order they were queued in
    SharedStatement("bridge_outbox", pg_insert(bridge_outbox).on_conflict_do_nothing(), 5),
    SharedStatement(
        "bridge_outbox_trim",
        delete(bridge_outbox).where(
            bridge_outbox.c.link_id == bindparam("b_link"),
            bridge_outbox.c.s <= bindparam("b_upto"),
        ),
        5,
    ),
    SharedStatement(
        "bridge_outbox_clear",
        delete(bridge_outbox).where(bridge_outbox.c.link_id == bindparam("b_link")),
        5,
    ),
]


def _link_writes(change: LinkWrite) -> list[Write]:
    link = change.record
    writes = []
    if change.new:  # no row of it to fence it yet: its game server's epoch does
        writes.append(Write("bridge_server_fence", {
            "world": link.world, "server_id": link.server_id, "epoch": link.epoch, "id": link.id,
        }))  # fmt: skip
    writes += [Write("bridge_links", {
        "id": link.id, "world": link.world, "server_id": link.server_id,
        "key_id": link.key_id, "updated_at": link.updated_at, "epoch": link.epoch,
        "data": link.model_dump_json(exclude={"unacked", "epoch"}),
    })]  # fmt: skip
    if change.replace:
        writes.append(Write("bridge_outbox_clear", {"b_link": link.id}))
    elif change.acked > 0:
        writes.append(Write("bridge_outbox_trim", {"b_link": link.id, "b_upto": change.acked}))
    writes += [
        Write("bridge_outbox", {"link_id": link.id, "s": f["s"], "data": json_text(f, stored=True)})
        for f in change.appended
    ]
    return writes


#: Game servers whose take epoch a process remembers (:meth:`PostgresBridgeStore.taken_epoch`).
MAX_TAKEN = 4096


class PostgresBridgeStore(BridgeStore):
    """The daemon's records beside ``store``'s, in its database. :meth:`open` creates
    or migrates the tables (``store`` must be open); closing ``store`` closes this too."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        #: the epoch this process last took each game server with (take_link), for
        #: the latest MAX_TAKEN game servers taken (see :meth:`taken_epoch`)
        self._taken: dict[tuple[str, str], int] = {}

    async def open(self) -> None:
        self.store.share(_STATEMENTS)
        await self.store.migrate(TRACK, MIGRATIONS)

    # -- keys and tokens ---------------------------------------------------------------

    async def save_world_key(self, key: WorldKey) -> None:
        row = key.model_dump()
        row["server_ids"] = json.dumps(key.server_ids)
        await self.store.commit([Write("world_keys", row)])

    async def get_world_key(self, key_id: str) -> WorldKey | None:
        async with self.store.reading() as conn:
            row = (await conn.execute(select(world_keys).where(world_keys.c.id == key_id))).first()
        return _world_key(row._mapping) if row else None

    async def list_world_keys(self) -> list[WorldKey]:
        q = select(world_keys).order_by(world_keys.c.created_at, world_keys.c.id)
        async with self.store.reading() as conn:
            rows = (await conn.execute(q)).all()
        return [_world_key(r._mapping) for r in rows]

    async def revoked_world_key_ids(self) -> set[str]:
        async with self.store.reading() as conn:
            return set((await conn.execute(key_queries.revoked_ids())).scalars())

    async def world_keys_holding(self, world: str, server_id: str) -> list[WorldKey]:
        async with self.store.reading() as conn:
            rows = (await conn.execute(key_queries.holding_candidates(world, server_id))).all()
        return key_queries.holding((_world_key(r._mapping) for r in rows), world, server_id)

    async def save_api_key(self, key: ApiKey) -> None:
        await self.store.commit([Write("api_keys", key.model_dump())])

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        async with self.store.reading() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return ApiKey.model_validate(dict(row._mapping)) if row else None

    async def list_api_keys(self) -> list[ApiKey]:
        q = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        async with self.store.reading() as conn:
            rows = (await conn.execute(q)).all()
        return [ApiKey.model_validate(dict(r._mapping)) for r in rows]

    async def save_deploy_token(self, token: DeployToken) -> None:
        await self.store.commit([Write("deploy_tokens", {
            "id": token.token_hash, "persona_id": token.persona_id,
            "data": token.model_dump_json(),
        })])  # fmt: skip

    async def get_deploy_token(self, token_hash: str) -> DeployToken | None:
        t = deploy_tokens.c
        async with self.store.reading() as conn:
            row = (await conn.execute(select(t.id, t.data).where(t.id == token_hash))).first()
        return self.store.load(DeployToken, "deploy_tokens", row.id, row.data) if row else None

    async def use_deploy_token(self, token_hash: str) -> bool:
        # its own short transaction: the row count says which node deleted it
        async with self.store.engine.begin() as conn:
            gone = await conn.execute(delete(deploy_tokens).where(deploy_tokens.c.id == token_hash))
        return bool(gone.rowcount == 1)

    # -- links -------------------------------------------------------------------------

    async def write_links(self, batch: LinkBatch) -> list[int]:
        writes = [w for change in batch.links for w in _link_writes(change)]
        return await self.store.write_batch(batch.records, with_writes=writes)

    async def get_link(self, link_id: str) -> LinkRecord | None:
        q = select(bridge_links.c.id, bridge_links.c.data).where(bridge_links.c.id == link_id)
        return await self._link(q)

    async def find_link(self, world: str, server_id: str) -> LinkRecord | None:
        t = bridge_links.c
        q = (
            select(t.id, t.data)
            .where(t.world == world, t.server_id == server_id)
            .order_by(t.updated_at.desc())
            .limit(1)
        )
        return await self._link(q)

    async def take_link(self, world: str, server_id: str) -> LinkRecord | None:
        """The newest link of the game server, its replacements followed, with the
        server taken: one transaction that first bumps the server's epoch (waiting for
        a new link of it in flight on another node to commit, and fencing out one not
        yet written), then stamps the links it followed with that epoch (waiting for a
        write of each in flight to commit), then reads the newest and its outbox. So
        what it returns holds every write the previous taker made, and none of that
        taker's later writes can be stored.

        Locks, in the order every write takes them too (see the module's docstring):
        the server's row, then the links' rows in id order, not in the order the chain
        of replacements is followed (a write locking two links of the chain in id order
        would wait for this take while it waits for the write). The chain read before
        its rows are locked does not change meanwhile: a link is replaced only by the
        first write of the new link, which the server's row fences."""
        t, servers = bridge_links.c, bridge_servers.c
        bump = (
            pg_insert(bridge_servers)
            .values(world=world, server_id=server_id, epoch=1)
            .on_conflict_do_update(
                index_elements=["world", "server_id"], set_={"epoch": servers.epoch + 1}
            )
            .returning(servers.epoch)
        )
        newest = (
            select(t.id, t.data, t.epoch).where(t.world == world, t.server_id == server_id)
            .order_by(t.updated_at.desc()).limit(1)
        )  # fmt: skip
        async with self.store.reading() as conn, conn.begin():
            epoch = int((await conn.execute(bump)).scalar_one())
            chain: list[str] = []
            highest = 0
            row = (await conn.execute(newest)).first()
            link_id = row.id if row else None
            for _ in range(16):  # follow replacements to the newest link
                if row is None:
                    break
                chain.append(row.id)
                highest = max(highest, row.epoch)
                link_id = json.loads(row.data).get("replaced_by")
                row = None
                if link_id:
                    q = select(t.id, t.data, t.epoch).where(t.id == link_id)
                    row = (await conn.execute(q)).first()
            if highest >= epoch:  # stamped by a take of an earlier version: stay above it
                epoch = highest + 1
                await conn.execute(
                    update(bridge_servers)
                    .where(servers.world == world, servers.server_id == server_id)
                    .values(epoch=epoch)
                )
            found = None
            if chain:
                if len(chain) > 1:  # one statement locks one row; several: in id order
                    await conn.execute(
                        select(t.id).where(t.id.in_(chain)).order_by(t.id).with_for_update()
                    )
                await conn.execute(update(bridge_links).where(t.id.in_(chain)).values(epoch=epoch))
                last = link_id or chain[-1]  # past 16 replacements: read the 17th as it is
                found = await self._read_link(
                    conn, select(t.id, t.data, t.epoch).where(t.id == last)
                )
        taken = self._taken
        taken.pop((world, server_id), None)  # the newest last: the oldest go first
        taken[(world, server_id)] = epoch
        if len(taken) > MAX_TAKEN:
            del taken[next(iter(taken))]
        return found

    def taken_epoch(self, world: str, server_id: str) -> int:
        """As :meth:`LinkStore.taken_epoch`, for the latest ``MAX_TAKEN`` game servers
        this process took: it is read right after the take (an identify that found no
        link), so a bound keeps a daemon that saw many game servers from keeping one
        entry each for its life. A server forgotten meanwhile reads 0: its new link's
        write is refused as if another node had taken the server (the adapter is told
        to identify again), never stored unfenced."""
        return self._taken.get((world, server_id), 0)

    async def _link(self, query: Any) -> LinkRecord | None:
        """One link row with its outbox, read in one repeatable-read transaction (a
        consistent pair even while other connections commit)."""
        async with self.store.reading() as conn:
            await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                return await self._read_link(conn, query.add_columns(bridge_links.c.epoch))

    async def _read_link(self, conn: AsyncConnection, query: Any) -> LinkRecord | None:
        """The link row ``query`` selects (id, data, epoch) with its outbox, in the
        caller's transaction."""
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
                f"the outbox of link {row.id!r} in {self.store.where} is damaged; "
                "other links are unaffected"
            ) from None
        return record.model_copy(update={"unacked": unacked, "epoch": row.epoch})
