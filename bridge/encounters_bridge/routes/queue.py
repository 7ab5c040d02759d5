"""The admin's moderation queue: personas waiting for approval (with what the persona
screen found in them and a deploy waiting, if any), and approved personas whose
creator asked for another deploy (deploy tokens are single-use, so each spawn needs an
approval). Approving issues the deploy token and spends it on the waiting deploy at
once; rejecting fails the waiting deploy with the note. Each note goes to the audit
log.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from encounters.models.common import Timestamp
from encounters.validation import unsafe_character

from ..deployment import DeploymentError, DeploymentService
from ..deploys import Deploys, DeployView
from ..screening import Finding, screen
from .auth import Admin
from .schemas import ERRORS


class QueueItem(BaseModel):
    persona_id: str
    name: str
    description: str
    goals: list[str]
    creator_id: str
    status: str
    #: ``review``: a new persona; ``redeploy``: approved before, deploying again
    why: Literal["review", "redeploy"]
    submitted_at: Timestamp
    #: what moderation found in the persona's own text (none blocks: those are rejected)
    findings: list[Finding]
    #: what the persona may do: its safety settings, as the admin approves them
    blocked_topics: list[str]
    allowed_actions: list[str]
    max_actions_per_minute: int
    deploy: DeployView | None = None


class Decided(BaseModel):
    persona_id: str
    status: str
    deploy: DeployView | None = None


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Shown to the creator and kept in the audit log; no control characters.
    note: str = Field("", max_length=500)

    @field_validator("note")
    @classmethod
    def _printable(cls, value: str) -> str:
        problem = unsafe_character(value)
        if problem is not None:
            raise ValueError(problem)
        return value.strip()


def router(service: DeploymentService, deploys: Deploys) -> APIRouter:
    api = APIRouter(tags=["moderation queue"], responses=ERRORS)
    store = service.store

    @api.get("/moderation/queue")
    async def queue(_: Admin) -> list[QueueItem]:
        out = []
        all_waiting = await deploys.all_waiting()
        for record in await store.list_personas():
            waiting = all_waiting.get(record.persona.id)
            if record.status == "pending_moderation":
                why: Literal["review", "redeploy"] = "review"
            elif record.status == "approved" and waiting is not None:
                why = "redeploy"
            else:
                continue
            p = record.persona
            out.append(QueueItem(
                persona_id=p.id, name=p.name, description=p.description, goals=p.goals,
                creator_id=p.creator_id, status=record.status, why=why,
                submitted_at=record.submitted_at, findings=screen(service.moderator, p),
                blocked_topics=p.safety.blocked_topics, allowed_actions=p.safety.allowed_actions,
                max_actions_per_minute=p.safety.max_actions_per_minute,
                deploy=await deploys.view(waiting) if waiting else None,
            ))  # fmt: skip
        return sorted(out, key=lambda i: i.submitted_at)

    @api.post("/moderation/queue/{persona_id}/approve")
    async def approve(persona_id: str, body: Note, _: Admin) -> Decided:
        token, _ttl = await service.approve(persona_id)
        await service.audit.record("persona", "allow", input={"persona_id": persona_id,
                                   "note": body.note}, reason=body.note or "approved",
                                   persona_id=persona_id)  # fmt: skip
        request = await deploys.approved(persona_id, token, body.note or None)
        return Decided(persona_id=persona_id, status="approved",
                       deploy=await deploys.view(request) if request else None)  # fmt: skip

    @api.post("/moderation/queue/{persona_id}/reject")
    async def reject(persona_id: str, body: Note, _: Admin) -> Decided:
        note = body.note or "rejected by an admin"
        record = await service.persona(persona_id)
        if record.status != "approved":
            record = await service.reject(persona_id, note)
        elif await deploys.waiting(persona_id) is None:
            raise DeploymentError(
                f"persona {persona_id!r} is approved and has no deploy waiting: nothing to reject"
            )
        # an approved persona keeps its live sessions: only the waiting deploy is refused
        request = await deploys.rejected(persona_id, note)
        return Decided(persona_id=persona_id, status=record.status,
                       deploy=await deploys.view(request) if request else None)  # fmt: skip

    return api
