"""Keys (admin): list them (never a secret or a hash) and revoke them. Revoking a
world key closes its live links at once (4004); a revoked API key is refused from its
next request on.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from fastapi import APIRouter, HTTPException

from encounters.errors import NotFound
from encounters.models import utcnow

from ..deployment import DeploymentService
from ..store.models import ApiKey, WorldKey
from .auth import ADMIN, Admin
from .schemas import ERRORS, ApiKeyView, WorldKeyView


def world_key_view(key: WorldKey, links_closed: int | None = None) -> WorldKeyView:
    """A world key's record without its hash."""
    return WorldKeyView(**key.model_dump(exclude={"key_hash"}), links_closed=links_closed)


def api_key_view(key: ApiKey) -> ApiKeyView:
    """An API key's record without its hash."""
    return ApiKeyView(**key.model_dump(exclude={"key_hash"}))


def router(service: DeploymentService) -> APIRouter:
    api = APIRouter(tags=["keys"], responses=ERRORS)
    store = service.records

    @api.get("/admin/world-keys", dependencies=ADMIN, response_model_exclude_none=True)
    async def world_keys() -> list[WorldKeyView]:
        return [world_key_view(k) for k in await store.list_world_keys()]

    @api.post("/admin/world-keys/{key_id}/revoke", dependencies=ADMIN)
    async def revoke_world_key(key_id: str) -> WorldKeyView:
        key = await store.get_world_key(key_id)
        if key is None:
            raise NotFound(f"no world key with id {key_id!r}")
        if key.revoked_at is None:
            key = key.model_copy(update={"revoked_at": utcnow()})
            await store.save_world_key(key)
        closed = await service.edge.revoke_world_key(key_id)
        return world_key_view(key, closed)

    @api.get("/admin/api-keys", dependencies=ADMIN)
    async def api_keys() -> list[ApiKeyView]:
        return [api_key_view(k) for k in await store.list_api_keys()]

    @api.post("/admin/api-keys/{key_id}/revoke")
    async def revoke_api_key(key_id: str, caller_key: Admin) -> ApiKeyView:
        if key_id == caller_key.id:
            raise HTTPException(409, "an admin key cannot revoke itself; use another admin key")
        key = await store.get_api_key(key_id)
        if key is None:
            raise NotFound(f"no API key with id {key_id!r}")
        if key.revoked_at is None:
            key = key.model_copy(update={"revoked_at": utcnow()})
            await store.save_api_key(key)
        return api_key_view(key)

    return api
