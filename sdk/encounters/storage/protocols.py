"""The store, cut into the small protocols services actually use.

:class:`~.base.Store` is the whole contract, and the SQLite and in-memory stores
implement all of it. A service names only the part it needs (the difficulty manager
reads and writes documents; the webhook delivery loop appends to and reads event
logs), so a new backend (PostgreSQL, say) can be built and tested one protocol at a
time, and a test can hand a service a small stand-in. The methods mean exactly what
:class:`~.base.Store` documents; they are repeated here only as signatures.

``_conforms`` at the bottom makes mypy prove that every ``Store`` is each of these.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from ..models import Category, EncounterSpec, Session, SessionStatus
from ..models.audit import AuditEntry
from ..models.deployment import CompanionSession, PersonaRecord
from ..models.usage import UsageRecord, UsageTotals
from .base import LoggedEvent, Store

M = TypeVar("M", bound=BaseModel)


class EncounterStore(Protocol):
    """Encounter specs by id."""

    async def save_encounter(self, spec: EncounterSpec) -> None: ...

    async def get_encounter(self, encounter_id: str) -> EncounterSpec | None: ...

    async def list_encounters(
        self, *, category: Category | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]: ...


class SessionStore(Protocol):
    """Encounter sessions, changed atomically."""

    async def save_session(self, session: Session) -> None: ...

    async def update_session(
        self, session_id: str, change: Callable[[Session], None]
    ) -> Session: ...

    async def get_session(self, session_id: str) -> Session | None: ...

    async def list_sessions(
        self,
        *,
        player_id: str | None = None,
        status: SessionStatus | None = None,
        campaign_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]: ...


class AuditLog(Protocol):
    """The append-only moderation audit log."""

    async def append_audit(self, entries: list[AuditEntry]) -> list[int]: ...

    async def list_audit(
        self,
        *,
        session_id: str | None = None,
        persona_id: str | None = None,
        after_seq: int = 0,
        limit: int = 1000,
    ) -> list[AuditEntry]: ...


class UsageLog(Protocol):
    """LLM call attempts and their totals."""

    async def append_usage(self, records: list[UsageRecord]) -> None: ...

    async def usage_totals(self) -> list[UsageTotals]: ...


class DocumentStore(Protocol):
    """Whole documents by ``(kind, key)``: player histories, campaigns, webhooks."""

    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None: ...

    async def get_document(self, kind: str, key: str, model: type[M]) -> M | None: ...

    async def list_documents(self, kind: str, model: type[M], *, prefix: str = "") -> list[M]: ...

    async def delete_document(self, kind: str, key: str) -> bool: ...


class EventLog(Protocol):
    """Append-only event logs with cursors: analytics events, the webhook outbox."""

    async def append_events(
        self, kind: str, events: list[tuple[str | None, datetime, dict[str, Any]]]
    ) -> list[int]: ...

    async def list_events(
        self, kind: str, *, key: str | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[LoggedEvent]: ...


class DeploymentReader(Protocol):
    """What platform metrics read of the deployment records."""

    async def list_personas(self, *, status: str | None = None) -> list[PersonaRecord]: ...

    async def list_companions(
        self,
        *,
        world: str | None = None,
        server_id: str | None = None,
        status: str | None = None,
    ) -> list[CompanionSession]: ...


# -- what each service needs ---------------------------------------------------------


class CampaignStore(DocumentStore, SessionStore, Protocol):
    """Campaigns and their runs (documents), and the sessions their steps play."""


class AnalyticsStore(EventLog, EncounterStore, SessionStore, Protocol):
    """The analytics recorder's event log, and what it reads of encounters and sessions."""


class WebhookStore(DocumentStore, EventLog, Protocol):
    """Webhook registrations (documents) and the outbox and delivery logs."""


class MetricsStore(AuditLog, EventLog, DeploymentReader, Protocol):
    """What platform metrics read."""


def _conforms(store: Store) -> None:
    """Never called: mypy checks that a ``Store`` is every protocol above."""
    parts: tuple[
        EncounterStore, SessionStore, AuditLog, UsageLog, DocumentStore, EventLog,
        DeploymentReader, CampaignStore, AnalyticsStore, WebhookStore, MetricsStore,
    ] = (store, store, store, store, store, store, store, store, store, store, store)  # fmt: skip
    del parts
