"""The whole store: the composition of the narrow protocols in :mod:`.protocols`.

The engine holds a :class:`Store`; each service asks for the narrowest protocol it
needs. The embedded SQLite store is the default, :class:`~.memory.MemoryStore` serves
tests and throwaway runs, and the PostgreSQL store (:mod:`.postgres`) shares state
between processes; each implements the same protocols. A store holds
only the SDK's records: a program built on the SDK (the bridge daemon) keeps its own
records in a store of its own, which may share the file and its transactions (see
:mod:`.writer`).
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from ..models.deployment import CompanionChange
from .protocols import (
    AuditLog,
    DeploymentStore,
    DocumentStore,
    EncounterStore,
    EventLog,
    LoggedEvent,
    SessionStore,
    UsageLog,
    WorkClaims,
    WriteBatch,
)

__all__ = ["CompanionChange", "LoggedEvent", "Store", "WriteBatch"]


class Store(
    EncounterStore,
    SessionStore,
    AuditLog,
    UsageLog,
    DocumentStore,
    EventLog,
    DeploymentStore,
    WorkClaims,
    Protocol,
):
    """Every part of persistent state, with a lifecycle: ``async with store:`` opens
    it (creating or migrating its schema) and closes it; it may be opened again."""

    #: True when other processes (daemon nodes) write the same records at the same
    #: time: a service must not keep records it read as the truth (PostgreSQL).
    shared_by_nodes: bool = False

    async def open(self) -> None:
        """Prepare the store (create or migrate its schema)."""
        return None

    async def close(self) -> None:
        """Release connections; the store may be opened again."""
        return None

    async def claim_work(self, kind: str, keys: list[str], owner: str, ttl: float) -> list[str]:
        """An embedded store has one process working on it: every claim is granted
        (the PostgreSQL store keeps real ones)."""
        return list(keys)

    async def extend_work(self, kind: str, key: str, owner: str, ttl: float) -> bool:
        return True

    async def release_work(self, kind: str, key: str, owner: str) -> None:
        return None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
