"""Storage: the :class:`Store` protocols, the embedded SQLite store and an in-memory
store for tests. The PostgreSQL store is ``encounters.storage.postgres.PostgresStore``
(imported on its own: its driver is the ``postgres`` extra)."""

from .base import CompanionChange, LoggedEvent, Store, WriteBatch
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["CompanionChange", "LoggedEvent", "MemoryStore", "SQLiteStore", "Store", "WriteBatch"]
