"""``GET /metrics`` (admin key): the daemon's metrics in the Prometheus text format
(see ``encounters_bridge.telemetry`` for the families).

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from prometheus_client import generate_latest

from encounters.analytics import TTLCache
from encounters.engine import Engine
from encounters.models import utcnow
from encounters.platform_metrics import platform_metrics, prometheus_text

from ..telemetry import Telemetry
from .auth import ADMIN
from .schemas import ERRORS


def router(telemetry: Telemetry, engine: Engine | None) -> APIRouter:
    api = APIRouter(tags=["metrics"], responses=ERRORS)
    platform_cache: TTLCache[str, str] = TTLCache(60.0)

    @api.get("/metrics", response_class=PlainTextResponse, dependencies=ADMIN)
    async def metrics() -> str:
        text = generate_latest(telemetry.registry).decode()
        if engine is not None:  # the platform metrics of the last 7 days, at most once a minute
            cached = platform_cache.get("7d")
            if cached is None:
                await engine.analytics.flush()
                until = utcnow()
                cached = prometheus_text(
                    await platform_metrics(engine.store, until - timedelta(days=7), until)
                )
                platform_cache.set("7d", cached)
            text += cached
        return text

    return api
