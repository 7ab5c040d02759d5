"""Storage: the :class:`Store` interface, the embedded SQLite store and an in-memory
store for tests."""

from .base import Store
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["MemoryStore", "SQLiteStore", "Store"]
