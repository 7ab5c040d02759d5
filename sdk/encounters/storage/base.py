"""The storage interface. The engine only talks to a :class:`Store`; the embedded
SQLite store is the default, :class:`MemoryStore` serves tests and throwaway runs, and
the PostgreSQL store (:mod:`.postgres`) shares state between processes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from pydantic import BaseModel

from ..models import Category, EncounterSpec, Session, SessionStatus
from ..models.audit import AuditEntry
from ..models.bridge import ApiKey, LinkRecord, WorldKey
from ..models.deployment import CompanionSession, DeployToken, PersonaRecord
from ..models.usage import UsageRecord, UsageTotals

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoggedEvent:
    """One row of an event log: ``id`` grows with every append (a log's cursor)."""

    id: int
    kind: str
    key: str | None
    at: datetime
    data: dict[str, Any]


@dataclass
class LinkWrite:
    """What changed in a bridge link since it was last written: its record (sequence
    numbers; its ``unacked`` is ignored here), the dispatches sequenced since
    (``appended``, wire dicts with ``s``), and how far the adapter acknowledged
    (``acked``: stored dispatches up to that ``s`` are dropped; ``replace`` drops them
    all before ``appended`` is stored). Writing the change, not the whole replay
    window, keeps a busy link's writes small."""

    record: LinkRecord
    appended: list[dict[str, Any]] = field(default_factory=list)
    acked: int = 0
    replace: bool = False


@dataclass
class WriteBatch:
    """Writes that land together, in one transaction: the bridge commits a signal's
    audit entries, its dispatches and the companion's counters at once, so a crash
    keeps all of them or none."""

    audit: list[AuditEntry] = field(default_factory=list)
    links: list[LinkWrite] = field(default_factory=list)
    companions: list[CompanionSession] = field(default_factory=list)


class Store(ABC):
    """Persistent state. Implementations store whole models, copy on read and write
    (callers never share objects with the store), and are safe for concurrent use by
    tasks of one event loop. Models are stored as given: validating them is the
    caller's job (the engine does it before every write)."""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare the store (create or migrate its schema)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the store may be opened again."""

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

    @abstractmethod
    async def save_encounter(self, spec: EncounterSpec) -> None: ...

    @abstractmethod
    async def get_encounter(self, encounter_id: str) -> EncounterSpec | None: ...

    @abstractmethod
    async def list_encounters(
        self, *, category: Category | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]: ...

    @abstractmethod
    async def save_session(self, session: Session) -> None:
        """Insert or replace the session with this id."""

    async def save_sessions(self, batch: list[Session]) -> None:
        """Save many sessions (imports); stores may do it in one transaction."""
        for session in batch:
            await self.save_session(session)

    @abstractmethod
    async def update_session(self, session_id: str, change: Callable[[Session], None]) -> Session:
        """Read, change and write one session atomically, even against other stores
        (and processes) on the same data. ``change`` mutates the session it is given and
        may raise to cancel the update; its exception propagates. Raises
        :class:`~encounters.errors.SessionNotFound` for an unknown id."""

    @abstractmethod
    async def get_session(self, session_id: str) -> Session | None: ...

    @abstractmethod
    async def list_sessions(
        self,
        *,
        player_id: str | None = None,
        status: SessionStatus | None = None,
        campaign_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]:
        """Newest first."""

    @abstractmethod
    async def append_audit(self, entries: list[AuditEntry]) -> list[int]:
        """Append entries (never update or delete them); returns their ``seq``."""

    @abstractmethod
    async def list_audit(
        self,
        *,
        session_id: str | None = None,
        persona_id: str | None = None,
        after_seq: int = 0,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Entries in the order they were appended, optionally filtered."""

    @abstractmethod
    async def append_usage(self, records: list[UsageRecord]) -> None:
        """Record LLM call attempts (append-only)."""

    @abstractmethod
    async def usage_totals(self) -> list[UsageTotals]:
        """Calls, failures, tokens and cost per provider and model."""

    # -- documents (player histories, campaigns...) -------------------------------------

    @abstractmethod
    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None:
        """Insert or replace the document ``(kind, key)``."""

    @abstractmethod
    async def get_document(self, kind: str, key: str, model: type[M]) -> M | None: ...

    @abstractmethod
    async def list_documents(self, kind: str, model: type[M], *, prefix: str = "") -> list[M]:
        """Documents of a kind whose key starts with ``prefix``, in key order."""

    @abstractmethod
    async def delete_document(self, kind: str, key: str) -> bool:
        """Forget the document ``(kind, key)``; whether there was one."""

    # -- event logs (analytics events, the webhook outbox) ------------------------------

    @abstractmethod
    async def append_events(
        self, kind: str, events: list[tuple[str | None, datetime, dict[str, Any]]]
    ) -> list[int]:
        """Append ``(key, at, data)`` rows to the log ``kind`` in one transaction;
        returns their ids (increasing; shared by all logs)."""

    @abstractmethod
    async def list_events(
        self, kind: str, *, key: str | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[LoggedEvent]:
        """Rows of a log after ``after_id``, oldest first, optionally for one key."""

    # -- bridge ------------------------------------------------------------------------

    @abstractmethod
    async def save_world_key(self, key: WorldKey) -> None: ...

    @abstractmethod
    async def get_world_key(self, key_id: str) -> WorldKey | None: ...

    @abstractmethod
    async def list_world_keys(self) -> list[WorldKey]: ...

    @abstractmethod
    async def write_batch(self, batch: WriteBatch) -> list[int]:
        """Commit ``batch`` atomically; returns the ``seq`` of its audit entries."""

    async def save_link(self, link: LinkRecord) -> None:
        """Save a whole link record, replacing its stored unacknowledged dispatches
        with ``link.unacked``."""
        await self.write_batch(
            WriteBatch(links=[LinkWrite(link, list(link.unacked), replace=True)])
        )

    @abstractmethod
    async def get_link(self, link_id: str) -> LinkRecord | None:
        """The link with its unacknowledged dispatches in ``unacked``, in ``s`` order."""

    @abstractmethod
    async def find_link(self, world: str, server_id: str) -> LinkRecord | None:
        """The most recently updated link of a game server."""

    # -- deployment --------------------------------------------------------------------

    @abstractmethod
    async def save_persona(self, record: PersonaRecord) -> None: ...

    @abstractmethod
    async def get_persona(self, persona_id: str) -> PersonaRecord | None: ...

    @abstractmethod
    async def list_personas(self, *, status: str | None = None) -> list[PersonaRecord]: ...

    @abstractmethod
    async def save_deploy_token(self, token: DeployToken) -> None: ...

    @abstractmethod
    async def get_deploy_token(self, token_hash: str) -> DeployToken | None: ...

    @abstractmethod
    async def save_companion(self, session: CompanionSession) -> None: ...

    @abstractmethod
    async def get_companion(self, session_id: str) -> CompanionSession | None: ...

    @abstractmethod
    async def list_companions(
        self,
        *,
        world: str | None = None,
        server_id: str | None = None,
        status: str | None = None,
    ) -> list[CompanionSession]: ...

    @abstractmethod
    async def save_api_key(self, key: ApiKey) -> None: ...

    @abstractmethod
    async def get_api_key(self, key_id: str) -> ApiKey | None: ...

    @abstractmethod
    async def list_api_keys(self) -> list[ApiKey]: ...
