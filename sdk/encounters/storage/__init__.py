"""Storage: the :class:`Store` interface, the embedded SQLite store and an in-memory
store for tests. The PostgreSQL store is ``encounters.storage.postgres.PostgresStore``
(imported on its own: its driver is the ``postgres`` extra)."""

from .base import LinkWrite, LoggedEvent, Store, WriteBatch
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["LinkWrite", "LoggedEvent", "MemoryStore", "SQLiteStore", "Store", "WriteBatch"]
