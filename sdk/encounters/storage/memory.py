"""An in-memory store for tests and throwaway runs. Models are kept as JSON text so
the store behaves like a real one: what you read back is a fresh copy."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from ..errors import SessionNotFound
from ..models import Category, EncounterSpec, Session, SessionStatus
from ..models.audit import AuditEntry
from ..models.deployment import CompanionSession, PersonaRecord
from ..models.usage import UsageRecord, UsageTotals
from .base import LoggedEvent, Store, WriteBatch

#: ``entry.model_dump_json()`` without its keyword handling (the same bytes, as UTF-8).
_audit_json = AuditEntry.__pydantic_serializer__.to_json

M = TypeVar("M", bound=BaseModel)


class MemoryStore(Store):
    """Everything in dicts and lists of JSON text; gone when the process ends. Each
    method runs without yielding to the event loop, so every call is atomic."""

    def __init__(self) -> None:
        self._encounters: dict[str, tuple[str, str]] = {}  # id -> (category, json)
        self._sessions: dict[str, str] = {}
        self._audit: list[str] = []
        self._usage: list[UsageRecord] = []
        self._personas: dict[str, str] = {}
        self._companions: dict[str, str] = {}
        self._documents: dict[tuple[str, str], str] = {}
        self._events: list[LoggedEvent] = []

    async def append_events(
        self, kind: str, events: list[tuple[str | None, datetime, dict[str, Any]]]
    ) -> list[int]:
        ids = []
        for key, at, data in events:
            row = LoggedEvent(len(self._events) + 1, kind, key, at, json.loads(json.dumps(data)))
            self._events.append(row)
            ids.append(row.id)
        return ids

    async def list_events(
        self, kind: str, *, key: str | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[LoggedEvent]:
        out = []
        for row in self._events[after_id:]:
            if row.kind == kind and (key is None or row.key == key):
                out.append(LoggedEvent(row.id, row.kind, row.key, row.at,
                                       json.loads(json.dumps(row.data))))  # fmt: skip
                if len(out) >= limit:
                    break
        return out

    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None:
        self._documents[(kind, key)] = doc.model_dump_json()

    async def get_document(self, kind: str, key: str, model: type[M]) -> M | None:
        raw = self._documents.get((kind, key))
        return model.model_validate_json(raw) if raw is not None else None

    async def list_documents(self, kind: str, model: type[M], *, prefix: str = "") -> list[M]:
        return [
            model.model_validate_json(raw)
            for (k, key), raw in sorted(self._documents.items())
            if k == kind and key.startswith(prefix)
        ]

    async def delete_document(self, kind: str, key: str) -> bool:
        return self._documents.pop((kind, key), None) is not None

    async def save_encounter(self, spec: EncounterSpec) -> None:
        self._encounters.pop(spec.id, None)  # re-saving moves it to the newest place
        self._encounters[spec.id] = (spec.category.value, spec.model_dump_json())

    async def get_encounter(self, encounter_id: str) -> EncounterSpec | None:
        row = self._encounters.get(encounter_id)
        return EncounterSpec.model_validate_json(row[1]) if row else None

    async def list_encounters(
        self, *, category: Category | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]:
        rows = [
            j
            for c, j in reversed(self._encounters.values())
            if category is None or c == category.value
        ]
        return [EncounterSpec.model_validate_json(j) for j in rows[offset : offset + limit]]

    async def save_session(self, session: Session) -> None:
        self._sessions[session.id] = session.model_dump_json()

    async def update_session(self, session_id: str, change: Callable[[Session], None]) -> Session:
        # No await between read and write: atomic within the event loop.
        raw = self._sessions.get(session_id)
        if raw is None:
            raise SessionNotFound(session_id)
        session = Session.model_validate_json(raw)
        change(session)
        self._sessions[session_id] = session.model_dump_json()
        return session

    async def get_session(self, session_id: str) -> Session | None:
        raw = self._sessions.get(session_id)
        return Session.model_validate_json(raw) if raw else None

    async def list_sessions(
        self,
        *,
        player_id: str | None = None,
        status: SessionStatus | None = None,
        campaign_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]:
        found = [Session.model_validate_json(raw) for raw in self._sessions.values()]
        found = [
            s
            for s in found
            if (player_id is None or s.player_id == player_id)
            and (status is None or s.status == status)
            and (campaign_id is None or s.campaign_id == campaign_id)
        ]
        found.sort(key=lambda s: s.created_at, reverse=True)
        return found[offset : offset + limit]

    async def append_audit(self, entries: list[AuditEntry]) -> list[int]:
        return self._append_audit(entries)

    def _append_audit(self, entries: list[AuditEntry]) -> list[int]:
        first = len(self._audit) + 1
        # stored as they are: a seq they carry is replaced by their place in the list
        # when read (no copy, no per-call exclude set to build)
        if len(entries) == 1:  # one message's entry: no comprehension, no range
            self._audit.append(_audit_json(entries[0]).decode())
            return [first]
        self._audit += [_audit_json(entry).decode() for entry in entries]
        return list(range(first, len(self._audit) + 1))

    async def write_batch(self, batch: WriteBatch) -> list[int]:
        seqs = self._append_audit(batch.audit)
        for companion in batch.companions:
            await self.save_companion(companion)
        for change in batch.changes:
            raw = self._companions.get(change.session_id)
            if raw is not None:
                changed = change.apply(CompanionSession.model_validate_json(raw))
                self._companions[changed.id] = changed.model_dump_json()
        return seqs

    async def list_audit(
        self,
        *,
        session_id: str | None = None,
        persona_id: str | None = None,
        after_seq: int = 0,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        out = []
        for seq, raw in enumerate(self._audit[after_seq:], start=after_seq + 1):
            entry = AuditEntry.model_validate_json(raw)
            entry.seq = seq
            if (session_id is None or entry.session_id == session_id) and (
                persona_id is None or entry.persona_id == persona_id
            ):
                out.append(entry)
                if len(out) >= limit:
                    break
        return out

    async def append_usage(self, records: list[UsageRecord]) -> None:
        self._usage += [r.model_copy() for r in records]

    async def usage_totals(self) -> list[UsageTotals]:
        return totals_of(self._usage)

    async def save_persona(self, record: PersonaRecord) -> None:
        self._personas[record.persona.id] = record.model_dump_json()

    async def get_persona(self, persona_id: str) -> PersonaRecord | None:
        raw = self._personas.get(persona_id)
        return PersonaRecord.model_validate_json(raw) if raw else None

    async def list_personas(self, *, status: str | None = None) -> list[PersonaRecord]:
        found = [PersonaRecord.model_validate_json(r) for r in self._personas.values()]
        return [p for p in found if status is None or p.status == status]

    async def save_companion(self, session: CompanionSession) -> None:
        self._companions[session.id] = session.model_dump_json()

    async def get_companion(self, session_id: str) -> CompanionSession | None:
        raw = self._companions.get(session_id)
        return CompanionSession.model_validate_json(raw) if raw else None

    async def list_companions(
        self,
        *,
        world: str | None = None,
        server_id: str | None = None,
        status: str | None = None,
    ) -> list[CompanionSession]:
        found = [CompanionSession.model_validate_json(r) for r in self._companions.values()]
        return [
            c
            for c in found
            if (world is None or c.world == world)
            and (server_id is None or c.server_id == server_id)
            and (status is None or c.status == status)
        ]


def totals_of(records: list[UsageRecord]) -> list[UsageTotals]:
    """Aggregate usage records per (provider, model), sorted by provider then model."""
    groups: dict[tuple[str, str], list[UsageRecord]] = {}
    for r in records:
        groups.setdefault((r.provider, r.model), []).append(r)
    return [
        UsageTotals(
            provider=provider,
            model=model,
            calls=len(rs),
            failures=sum(not r.ok for r in rs),
            input_tokens=sum(r.input_tokens for r in rs),
            output_tokens=sum(r.output_tokens for r in rs),
            cost_usd=sum(r.cost_usd for r in rs),
        )
        for (provider, model), rs in sorted(groups.items())
    ]
