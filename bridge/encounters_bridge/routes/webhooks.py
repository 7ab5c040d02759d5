"""Webhooks (admin key): register (the signing secret is in this answer only), list,
delete, test, rotate the secret, and each webhook's delivery log.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from encounters.engine import Engine
from encounters.webhooks.models import DeliveryRecord, DeliveryResult, Webhook

from .auth import ADMIN
from .schemas import ERRORS, Registered, Secret


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048)
    events: list[str] | str = "*"
    description: str = Field("", max_length=500)


def router(engine: Engine) -> APIRouter:
    api = APIRouter(tags=["webhooks"], dependencies=ADMIN, responses=ERRORS)

    @api.post("/webhooks", status_code=201)
    async def register(body: WebhookRequest) -> Registered:
        webhook, secret = await engine.webhooks.register(body.url, body.events, body.description)
        return Registered(**webhook.model_dump(), secret=secret)

    @api.get("/webhooks")
    async def webhooks() -> list[Webhook]:
        return await engine.webhooks.list()

    @api.delete("/webhooks/{webhook_id}", status_code=204)
    async def delete(webhook_id: str) -> None:
        await engine.webhooks.delete(webhook_id)

    @api.post("/webhooks/{webhook_id}/test")
    async def test(webhook_id: str) -> DeliveryResult:
        return await engine.webhooks.test(webhook_id)

    @api.post("/webhooks/{webhook_id}/rotate")
    async def rotate(webhook_id: str) -> Secret:
        return Secret(secret=await engine.webhooks.rotate_secret(webhook_id))

    @api.get("/webhooks/{webhook_id}/deliveries")
    async def deliveries(
        webhook_id: str, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> list[DeliveryRecord]:
        return await engine.webhooks.deliveries(webhook_id, limit)

    return api
