"""The bridge daemon's store, cut into small protocols like the SDK's.

The daemon's records live beside the SDK's (in the same SQLite file by default) but
only the bridge knows them. What must survive a crash together (a dispatch, the audit
entries of the signal that caused it and the companion's counters) is written by
:meth:`LinkStore.write_links` in one transaction with the SDK's records: a
:class:`LinkBatch` carries the SDK's :class:`~encounters.storage.WriteBatch`. A
backend implements each protocol over the same database as the SDK store it shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from encounters.storage import WriteBatch

from .models import ApiKey, DeployToken, LinkRecord, WorldKey


class LinkMoved(Exception):
    """The link's writer is no longer in this process (several nodes: its lease went
    to another node, or the store refused the write because another node has loaded the
    link to write it since). Nothing of the refused write was stored; route it again."""


@dataclass
class LinkWrite:
    """What changed in a bridge link since it was last written: its record (sequence
    numbers; its ``unacked`` is ignored here), the dispatches sequenced since
    (``appended``, wire dicts with ``s``), and how far the adapter acknowledged
    (``acked``: stored dispatches up to that ``s`` are dropped; ``replace`` drops them
    all before ``appended`` is stored). Writing the change, not the whole replay
    window, keeps a busy link's writes small.

    Fenced by ``record.epoch`` on a store shared by nodes: when the stored link's epoch
    is another one (a node loaded it with :meth:`LinkStore.take_link` since), the write's
    whole batch is refused with :class:`LinkMoved` and nothing of it is stored. ``new``:
    the link may not be stored yet (its process made it; no row carries its epoch
    yet), so it is fenced by its game server's epoch instead: refused the same way
    unless ``record.epoch`` is the epoch the server was last taken with
    (:meth:`LinkStore.taken_epoch`), that is, unless no other process took the server
    since this one did."""

    record: LinkRecord
    appended: list[dict[str, Any]] = field(default_factory=list)
    acked: int = 0
    replace: bool = False
    new: bool = False


@dataclass
class LinkBatch:
    """Link changes and the SDK records (audit entries, companion counters) that land
    with them, in one transaction: a crash keeps all of them or none."""

    links: list[LinkWrite] = field(default_factory=list)
    records: WriteBatch = field(default_factory=WriteBatch)


class WorldKeyStore(Protocol):
    """Game servers' credentials."""

    async def save_world_key(self, key: WorldKey) -> None: ...

    async def get_world_key(self, key_id: str) -> WorldKey | None: ...

    async def list_world_keys(self) -> list[WorldKey]:
        """Oldest first."""
        ...

    async def revoked_world_key_ids(self) -> set[str]:
        """The ids of the revoked keys (the daemon's revocation sweep asks every few
        seconds: revocations are rare, keys may be many)."""
        ...

    async def world_keys_holding(self, world: str, server_id: str) -> list[WorldKey]:
        """The active keys of ``world`` that hold ``server_id``, oldest first (one
        unless keys were bound by hand to the same server)."""
        ...


class ApiKeyStore(Protocol):
    """Control-API credentials."""

    async def save_api_key(self, key: ApiKey) -> None: ...

    async def get_api_key(self, key_id: str) -> ApiKey | None: ...

    async def list_api_keys(self) -> list[ApiKey]:
        """Oldest first."""
        ...


class DeployTokenStore(Protocol):
    """Single-use deploy tokens, by hash."""

    async def save_deploy_token(self, token: DeployToken) -> None: ...

    async def get_deploy_token(self, token_hash: str) -> DeployToken | None: ...

    async def use_deploy_token(self, token_hash: str) -> bool:
        """Delete the token, durably: ``True`` for the one caller that found it there.
        Atomic against every other caller, on every daemon node sharing the store, so
        two spawns racing with one token never both pass."""
        ...


class LinkStore(Protocol):
    """Link records and their unacknowledged dispatches (the outbox)."""

    async def write_links(self, batch: LinkBatch) -> list[int]:
        """Commit ``batch`` atomically; returns the ``seq`` of its audit entries.
        Raises :class:`LinkMoved` (nothing of the batch stored) when a stored link it
        writes has another epoch than its record (stores shared by nodes only)."""
        ...

    async def save_link(self, link: LinkRecord) -> None:
        """Save a whole link record, replacing its stored unacknowledged dispatches
        with ``link.unacked``."""
        await self.write_links(LinkBatch([LinkWrite(link, list(link.unacked), replace=True)]))

    async def get_link(self, link_id: str) -> LinkRecord | None:
        """The link with its unacknowledged dispatches in ``unacked``, in ``s`` order."""
        ...

    async def find_link(self, world: str, server_id: str) -> LinkRecord | None:
        """The most recently updated link of a game server."""
        ...

    async def take_link(self, world: str, server_id: str) -> LinkRecord | None:
        """The newest link of a game server (:meth:`find_link`, its replacements
        followed), loaded to be written by this process. On a store shared by nodes
        this takes the game server: its epoch is bumped and the link is stamped with it
        in the same transaction as it is read, so writes of whoever took it before are
        refused from then on (a new link of theirs too), and everything they wrote
        before is in what this returns. Stores one process writes keep the epoch as it
        is (this default: no fence is needed where one process writes)."""
        record = await self.find_link(world, server_id)
        for _ in range(16):  # follow replacements to the newest link
            if record is None or record.replaced_by is None:
                break
            record = await self.get_link(record.replaced_by)
        return record

    def taken_epoch(self, world: str, server_id: str) -> int:
        """The epoch this store object (this process) last took the game server with
        (:meth:`take_link`), which a link it makes for the server carries: a server
        with no link yet has no record to carry it. 0 when this process never took the
        server, and on stores one process writes (this default)."""
        return 0


class KeyStore(WorldKeyStore, ApiKeyStore, Protocol):
    """Both kinds of credentials (what authenticating a caller reads)."""


class BridgeStore(KeyStore, DeployTokenStore, LinkStore, Protocol):
    """Every record of the daemon. Open one over the SDK store it shares with
    :func:`~encounters_bridge.store.open_bridge_store`."""
