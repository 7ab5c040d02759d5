"""Deploying from the studio: the game servers linked to the daemon and what each world
offers a persona (avatars, emotes), and deploy requests that the daemon walks from
queued to live (``deploys.py``). A creator sees and makes only their own deploys; an
admin sees all.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from encounters.errors import NotFound

from ..deployment import DeploymentService
from ..deploys import Deploys, DeployView, LinkedServer
from ..worlds import CATALOG, WorldCatalog
from .auth import Caller, may_see
from .schemas import ERRORS


class DeployBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    persona_id: str = Field(alias="personaId", max_length=64)
    world: Literal["gmod", "minecraft", "web"]
    server_id: str = Field(alias="serverId", min_length=1, max_length=64)
    spawn_location: dict[str, float] | None = Field(None, alias="spawnLocation")


def router(service: DeploymentService, deploys: Deploys) -> APIRouter:
    api = APIRouter(tags=["deploys"], responses=ERRORS)

    @api.get("/worlds/servers")
    async def servers(_: Caller) -> list[LinkedServer]:
        """Game servers linked to this daemon now (``online``) or gone for less than
        ``idle_link_ttl``."""
        return deploys.servers()

    @api.get("/worlds/catalog")
    async def catalog(_: Caller) -> list[WorldCatalog]:
        """Per world, the avatars and emotes its adapter knows how to show."""
        return CATALOG

    @api.post("/deploys", status_code=201)
    async def deploy(body: DeployBody, key: Caller) -> DeployView:
        record = await service.persona(body.persona_id)
        may_see(key, record.persona.creator_id)
        location = service.spawn_location(body.spawn_location, body.world)
        request = await deploys.request(body.persona_id, record.persona.creator_id,
                                        body.world, body.server_id, location)  # fmt: skip
        return await deploys.view(request)

    @api.get("/deploys")
    async def list_deploys(key: Caller) -> list[DeployView]:
        mine = [r for r in await deploys.all() if key.role == "admin" or r.creator_id == key.id]
        return [await deploys.view(r) for r in mine[-100:]]

    @api.get("/deploys/{deploy_id}")
    async def get_deploy(deploy_id: str, key: Caller) -> DeployView:
        request = await deploys.get(deploy_id)
        if key.role != "admin" and request.creator_id != key.id:
            raise NotFound(f"no deploy with id {deploy_id!r}")  # others' are not shown
        return await deploys.view(request)

    return api
