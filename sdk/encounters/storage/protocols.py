"""The store, cut into the small protocols services actually use.

:class:`~.base.Store` is their composition, and the SQLite and in-memory stores
implement all of it. A service names only the part it needs (the difficulty manager
reads and writes documents; the webhook delivery loop appends to and reads event
logs), so a new backend (PostgreSQL, say) can be built and tested one protocol at a
time, and a test can hand a service a small stand-in.

Implementations store whole models, copy on read and write (callers never share objects
with the store), and are safe for concurrent use by tasks of one event loop. Models are
stored as given: validating them is the caller's job (the engine does it before every
write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from ..models import Category, EncounterSpec, Session, SessionStatus
from ..models.audit import AuditEntry
from ..models.deployment import CompanionChange, CompanionSession, PersonaRecord
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
class WriteBatch:
    """Writes that land together, in one transaction: a companion's audit entries and
    its counters, so a crash keeps all of them or none. (The bridge daemon commits its
    dispatches with such a batch, through its own store sharing this one's file.)
    ``companions`` are written whole (a new session); ``changes`` change stored ones
    (:class:`~encounters.models.deployment.CompanionChange`)."""

    audit: list[AuditEntry] = field(default_factory=list)
    companions: list[CompanionSession] = field(default_factory=list)
    changes: list[CompanionChange] = field(default_factory=list)


class EncounterStore(Protocol):
    """Encounter specs by id."""

    async def save_encounter(self, spec: EncounterSpec) -> None: ...

    async def get_encounter(self, encounter_id: str) -> EncounterSpec | None: ...

    async def list_encounters(
        self, *, category: Category | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]:
        """Newest (most recently saved) first."""
        ...


class SessionStore(Protocol):
    """Encounter sessions, changed atomically."""

    async def save_session(self, session: Session) -> None:
        """Insert or replace the session with this id."""
        ...

    async def save_sessions(self, batch: list[Session]) -> None:
        """Save many sessions (imports); stores may do it in one transaction."""
        for session in batch:
            await self.save_session(session)

    async def update_session(self, session_id: str, change: Callable[[Session], None]) -> Session:
        """Read, change and write one session atomically, even against other stores
        (and processes) on the same data. ``change`` mutates the session it is given and
        may raise to cancel the update; its exception propagates. Raises
        :class:`~encounters.errors.SessionNotFound` for an unknown id."""
        ...

    async def get_session(self, session_id: str) -> Session | None: ...

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
        ...


class AuditLog(Protocol):
    """The append-only moderation audit log."""

    async def append_audit(self, entries: list[AuditEntry]) -> list[int]:
        """Append entries (never update or delete them); returns their ``seq``."""
        ...

    async def list_audit(
        self,
        *,
        session_id: str | None = None,
        persona_id: str | None = None,
        after_seq: int = 0,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Entries in the order they were appended, optionally filtered."""
        ...


class UsageLog(Protocol):
    """LLM call attempts and their totals."""

    async def append_usage(self, records: list[UsageRecord]) -> None:
        """Record LLM call attempts (append-only)."""
        ...

    async def usage_totals(self) -> list[UsageTotals]:
        """Calls, failures, tokens and cost per provider and model."""
        ...


class DocumentStore(Protocol):
    """Whole documents by ``(kind, key)``: player histories, campaigns, webhooks."""

    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None:
        """Insert or replace the document ``(kind, key)``."""
        ...

    async def get_document(self, kind: str, key: str, model: type[M]) -> M | None: ...

    async def list_documents(self, kind: str, model: type[M], *, prefix: str = "") -> list[M]:
        """Documents of a kind whose key starts with ``prefix``, in key order."""
        ...

    async def delete_document(self, kind: str, key: str) -> bool: ...


class EventLog(Protocol):
    """Append-only event logs with cursors: analytics events, the webhook outbox."""

    async def append_events(
        self, kind: str, events: list[tuple[str | None, datetime, dict[str, Any]]]
    ) -> list[int]:
        """Append ``(key, at, data)`` rows to the log ``kind`` in one transaction;
        returns their ids (increasing; shared by all logs)."""
        ...

    async def list_events(
        self, kind: str, *, key: str | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[LoggedEvent]:
        """Rows of a log after ``after_id``, oldest first, optionally for one key."""
        ...


class WorkClaims(Protocol):
    """Claims on units of work that every process sharing a store could do (a
    webhook's deliveries), so that one does each: a claim is held by an ``owner`` (one
    per process) for ``ttl`` seconds and renewed by claiming again; a process that dies
    holding one leaves it to expire, then another process takes the work over. The
    PostgreSQL store keeps claims in the database (row locks, ``SKIP LOCKED``); an
    embedded store (one process works on it) grants every claim."""

    async def claim_work(self, kind: str, keys: list[str], owner: str, ttl: float) -> list[str]:
        """Of ``keys`` (units of work of ``kind``), those ``owner`` now holds for ``ttl``
        seconds: the free ones, the expired ones and its own (renewed). Never waits for
        another process's claim: what is held elsewhere is left out."""
        ...

    async def extend_work(self, kind: str, key: str, owner: str, ttl: float) -> bool:
        """Extend ``owner``'s claim by ``ttl`` seconds only if it never lapsed: False
        when it expired (another process may have done the work meanwhile), which is
        how a process that stalled finds out before it writes stale progress."""
        ...

    async def release_work(self, kind: str, key: str, owner: str) -> None:
        """Give a claim up at once (when ``owner`` still holds it)."""
        ...


class DeploymentReader(Protocol):
    """What platform metrics read of the deployment records."""

    async def list_personas(self, *, status: str | None = None) -> list[PersonaRecord]:
        """Most recently saved first."""
        ...

    async def list_companions(
        self,
        *,
        world: str | None = None,
        server_id: str | None = None,
        status: str | None = None,
    ) -> list[CompanionSession]: ...


class DeploymentStore(DeploymentReader, Protocol):
    """Submitted personas and the companion sessions spawned from them."""

    async def save_persona(self, record: PersonaRecord) -> None: ...

    async def get_persona(self, persona_id: str) -> PersonaRecord | None: ...

    async def save_companion(self, session: CompanionSession) -> None: ...

    async def get_companion(self, session_id: str) -> CompanionSession | None: ...

    async def write_batch(self, batch: WriteBatch) -> list[int]:
        """Commit ``batch`` atomically; returns the ``seq`` of its audit entries."""
        ...


# -- what each service needs ---------------------------------------------------------


class CampaignStore(DocumentStore, SessionStore, Protocol):
    """Campaigns and their runs (documents), and the sessions their steps play."""


class AnalyticsStore(EventLog, EncounterStore, SessionStore, Protocol):
    """The analytics recorder's event log, and what it reads of encounters and sessions."""


class WebhookStore(DocumentStore, EventLog, WorkClaims, Protocol):
    """Webhook registrations (documents), the outbox and delivery logs, and claims on
    a webhook's deliveries (one process delivers each webhook's events at a time)."""


class MetricsStore(AuditLog, EventLog, DeploymentReader, Protocol):
    """What platform metrics read."""
