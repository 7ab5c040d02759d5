"""Webhooks (admin key): register (the signing secret is in this answer only), list,
delete, test, rotate the secret, and each webhook's delivery log.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from encounters.engine import Engine

from .auth import ADMIN


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048)
    events: list[str] | str = "*"
    description: str = Field("", max_length=500)


def router(engine: Engine) -> APIRouter:
    api = APIRouter(tags=["webhooks"], dependencies=ADMIN)

    @api.post("/webhooks", status_code=201)
    async def register(body: WebhookRequest) -> dict[str, Any]:
        webhook, secret = await engine.webhooks.register(body.url, body.events, body.description)
        return {**webhook.model_dump(mode="json"), "secret": secret}

    @api.get("/webhooks")
    async def webhooks() -> list[dict[str, Any]]:
        return [w.model_dump(mode="json") for w in await engine.webhooks.list()]

    @api.delete("/webhooks/{webhook_id}", status_code=204)
    async def delete(webhook_id: str) -> None:
        await engine.webhooks.delete(webhook_id)

    @api.post("/webhooks/{webhook_id}/test")
    async def test(webhook_id: str) -> dict[str, Any]:
        return (await engine.webhooks.test(webhook_id)).model_dump(mode="json")

    @api.post("/webhooks/{webhook_id}/rotate")
    async def rotate(webhook_id: str) -> dict[str, Any]:
        return {"secret": await engine.webhooks.rotate_secret(webhook_id)}

    @api.get("/webhooks/{webhook_id}/deliveries")
    async def deliveries(webhook_id: str, limit: int = 50) -> list[dict[str, Any]]:
        found = await engine.webhooks.deliveries(webhook_id, max(1, min(limit, 500)))
        return [d.model_dump(mode="json") for d in found]

    return api
