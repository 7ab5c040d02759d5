"""Storage: the :class:`Store` protocols, the embedded SQLite store and an in-memory
store for tests."""

from .base import LoggedEvent, Store, WriteBatch
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["LoggedEvent", "MemoryStore", "SQLiteStore", "Store", "WriteBatch"]
