"""The bridge daemon's persistence: its records (:mod:`.models`), the protocols a
backend implements (:mod:`.protocols`), and the SQLite, PostgreSQL and in-memory
backends, which keep the records beside the SDK store the daemon's engine uses (the
PostgreSQL one, :mod:`.postgres`, is imported when a PostgreSQL store is opened: its
driver is an extra)."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from encounters.errors import StoreError
from encounters.storage import MemoryStore, SQLiteStore, Store

from .memory import MemoryBridgeStore
from .models import ApiKey, DeployToken, LinkRecord, World, WorldKey
from .protocols import (
    ApiKeyStore,
    BridgeStore,
    DeployTokenStore,
    KeyStore,
    LinkBatch,
    LinkMoved,
    LinkStore,
    LinkWrite,
    WorldKeyStore,
)
from .sqlite import SQLiteBridgeStore

__all__ = [
    "ApiKey",
    "ApiKeyStore",
    "BridgeStore",
    "DeployToken",
    "DeployTokenStore",
    "KeyStore",
    "LinkBatch",
    "LinkMoved",
    "LinkRecord",
    "LinkStore",
    "LinkWrite",
    "MemoryBridgeStore",
    "SQLiteBridgeStore",
    "World",
    "WorldKey",
    "WorldKeyStore",
    "open_bridge_store",
]

#: one set of in-memory records per memory store: every part of a daemon (and a test
#: making keys for it) must see the same ones, as they would in a file
_MEMORY: WeakKeyDictionary[MemoryStore, MemoryBridgeStore] = WeakKeyDictionary()


async def open_bridge_store(store: Store) -> BridgeStore:
    """The daemon's records beside ``store`` (which must be open), their tables
    created or migrated. Raises :class:`StoreError` for a kind of store the bridge
    has no backend for."""
    if isinstance(store, SQLiteStore):
        records = SQLiteBridgeStore(store)
        await records.open()
        return records
    if isinstance(store, MemoryStore):
        found = _MEMORY.get(store)
        if found is None:
            found = _MEMORY[store] = MemoryBridgeStore(store)
        return found
    from encounters.storage.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        from .postgres import PostgresBridgeStore

        shared = PostgresBridgeStore(store)
        await shared.open()
        return shared
    raise StoreError(
        f"the bridge cannot keep its records beside a {type(store).__name__}; "
        "run the daemon on the SQLite store (the default), PostgreSQL or the in-memory one"
    )
