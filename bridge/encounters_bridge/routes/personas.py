"""Personas: submit (creator or admin key), approve and reject (admin), list and read
(admin, or the creator). An approval answers a single-use deploy token that replaces
any earlier one.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ..deployment import DeploymentService
from .auth import Admin, Caller, may_see


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


def router(service: DeploymentService) -> APIRouter:
    api = APIRouter(tags=["personas"])
    store = service.store

    @api.post("/personas/submit", status_code=201)
    async def submit(body: dict[str, Any], key: Caller) -> dict[str, Any]:
        record = await service.submit(body, creator_id=key.id)
        return {"id": record.persona.id, "status": record.status, "reasons": record.reasons}

    @api.post("/personas/{persona_id}/approve")
    async def approve(persona_id: str, _: Admin) -> dict[str, Any]:
        token, ttl = await service.approve(persona_id)
        return {"token": token, "ttl": ttl}

    @api.post("/personas/{persona_id}/reject")
    async def reject(persona_id: str, body: RejectRequest, _: Admin) -> dict[str, Any]:
        record = await service.reject(persona_id, body.reason)
        return {"id": persona_id, "status": record.status, "reasons": record.reasons}

    @api.get("/personas")
    async def personas(key: Caller, status: str | None = None) -> list[dict[str, Any]]:
        found = await store.list_personas(status=status)
        return [r.model_dump(mode="json") for r in found
                if key.role == "admin" or r.persona.creator_id == key.id]  # fmt: skip

    @api.get("/personas/{persona_id}")
    async def persona(persona_id: str, key: Caller) -> dict[str, Any]:
        record = await service.persona(persona_id)
        may_see(key, record.persona.creator_id)
        return record.model_dump(mode="json")

    return api
