"""Storage: the :class:`Store` interface, the embedded SQLite store and an in-memory
store for tests."""

from .base import LinkWrite, Store, WriteBatch
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["LinkWrite", "MemoryStore", "SQLiteStore", "Store", "WriteBatch"]
