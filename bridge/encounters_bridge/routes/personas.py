"""Personas: submit (creator or admin key), approve and reject (admin), list and read
(admin, or the creator). An approval answers a single-use deploy token that replaces
any earlier one.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from encounters.models.deployment import PersonaRecord, PersonaStatus
from encounters.models.persona import PersonaCore
from encounters.validation import unsafe_character

from ..deployment import DeploymentService
from .auth import Admin, Caller, may_see
from .schemas import ERRORS, Approval, Submitted, answer_of, body_of

#: Never shown: the hash of the persona's current deploy token.
PRIVATE = ("token_hash",)


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Shown to the creator; no control or invisible format characters.
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("reason")
    @classmethod
    def _printable(cls, value: str) -> str:
        problem = unsafe_character(value)
        if problem is not None:
            raise ValueError(problem)
        return value


def router(service: DeploymentService) -> APIRouter:
    api = APIRouter(tags=["personas"], responses=ERRORS)
    persona_body = body_of(PersonaCore, drop=("id", "creatorId", "reputation",
                                              "deploymentHistory", "createdAt"))  # fmt: skip
    store = service.store

    @api.post("/personas/submit", status_code=201, openapi_extra=persona_body)
    async def submit(body: dict[str, Any], key: Caller) -> Submitted:
        record = await service.submit(body, creator_id=key.id)
        return Submitted(id=record.persona.id, status=record.status, reasons=record.reasons)

    @api.post("/personas/{persona_id}/approve")
    async def approve(persona_id: str, _: Admin) -> Approval:
        token, ttl = await service.approve(persona_id)
        return Approval(token=token, ttl=ttl)

    @api.post("/personas/{persona_id}/reject")
    async def reject(persona_id: str, body: RejectRequest, _: Admin) -> Submitted:
        record = await service.reject(persona_id, body.reason)
        return Submitted(id=persona_id, status=record.status, reasons=record.reasons)

    @api.get("/personas", response_model=None,
             responses=answer_of(PersonaRecord, many=True, hide=PRIVATE))  # fmt: skip
    async def personas(key: Caller, status: PersonaStatus | None = None) -> list[dict[str, Any]]:
        found = await store.list_personas(status=status)
        return [r.model_dump(mode="json", exclude=set(PRIVATE)) for r in found
                if key.role == "admin" or r.persona.creator_id == key.id]  # fmt: skip

    @api.get("/personas/{persona_id}", response_model=None,
             responses=answer_of(PersonaRecord, hide=PRIVATE))  # fmt: skip
    async def persona(persona_id: str, key: Caller) -> dict[str, Any]:
        record = await service.persona(persona_id)
        may_see(key, record.persona.creator_id)
        return record.model_dump(mode="json", exclude=set(PRIVATE))

    return api
