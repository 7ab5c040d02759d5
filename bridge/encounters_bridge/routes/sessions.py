"""Companions in game worlds: spawn, signal, read, end and replay (admin, or the
persona's creator).

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from encounters.models.audit import AuditEntry
from encounters.models.common import LANGUAGE_PATTERN
from encounters.models.deployment import CompanionSession

from ..deployment import DeploymentService
from .auth import Caller, may_see
from .schemas import ERRORS, NOT_ENDED, UNAVAILABLE, Ended, Signalled, Spawned


class SpawnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    persona_id: str = Field(alias="personaId", max_length=64)
    deployment_token: str = Field(alias="deploymentToken", max_length=128)
    world: str = Field(pattern="^(gmod|minecraft|web)$")
    server_id: str = Field(alias="serverId", min_length=1, max_length=64)
    spawn_location: dict[str, float] | None = Field(None, alias="spawnLocation")
    #: the players' language (BCP 47, e.g. es, pt-BR): the companion speaks it
    language: str = Field("en", pattern=LANGUAGE_PATTERN, max_length=35)


class SignalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    session_id: str = Field(alias="sessionId", max_length=64)
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=100)


def router(service: DeploymentService) -> APIRouter:
    api = APIRouter(tags=["sessions"], responses=ERRORS)

    async def owner_of(session_id: str) -> str:
        found = await service.companion(session_id)
        return (await service.persona(found.persona_id)).persona.creator_id

    @api.post("/spawn", status_code=201, responses=UNAVAILABLE)
    async def spawn(body: SpawnRequest, key: Caller) -> Spawned:
        record = await service.persona(body.persona_id)
        may_see(key, record.persona.creator_id)
        session = await service.spawn(body.persona_id, body.deployment_token, body.world,
                                      body.server_id, body.spawn_location,
                                      language=body.language)  # fmt: skip
        return Spawned(sessionId=session.id, status=session.status)

    @api.post("/signal", responses=UNAVAILABLE)
    async def signal(body: SignalRequest, key: Caller) -> Signalled:
        may_see(key, await owner_of(body.session_id))
        results = await service.signal(body.session_id, body.actions)
        return Signalled.model_validate({"results": results})

    @api.get("/session/{session_id}")
    async def session(session_id: str, key: Caller) -> CompanionSession:
        may_see(key, await owner_of(session_id))
        return await service.companion(session_id)

    @api.post("/session/{session_id}/end", responses=NOT_ENDED)
    async def end(session_id: str, key: Caller) -> Ended:
        may_see(key, await owner_of(session_id))
        return Ended.model_validate(await service.end(session_id))

    @api.get("/session/{session_id}/replay")
    async def replay(session_id: str, key: Caller) -> list[AuditEntry]:
        may_see(key, await owner_of(session_id))
        return await service.audit.replay(session_id)

    return api
