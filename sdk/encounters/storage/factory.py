"""Which store the settings name: ``AE_STORE`` is ``sqlite`` (the default, a file in
the data folder), ``memory``, or a ``postgresql://`` URL."""

from __future__ import annotations

from ..settings import Settings
from .base import Store
from .memory import MemoryStore
from .sqlite import SQLiteStore


def store_from_settings(settings: Settings) -> Store:
    """A new, unopened store. The PostgreSQL module is imported only when named, so
    the embedded default never needs its driver."""
    if settings.store == "memory":
        return MemoryStore()
    if settings.store == "sqlite":
        return SQLiteStore(settings.database_path)
    from .postgres import PostgresStore

    return PostgresStore(settings.store)
