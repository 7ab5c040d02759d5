"""``GET /metrics`` (admin key): Prometheus text.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from encounters.analytics import TTLCache
from encounters.engine import Engine
from encounters.models import utcnow
from encounters.platform_metrics import platform_metrics, prometheus_text

from ..deployment import DeploymentService
from .auth import ADMIN
from .schemas import ERRORS


def router(service: DeploymentService, engine: Engine | None) -> APIRouter:
    api = APIRouter(tags=["metrics"], responses=ERRORS)
    platform_cache: TTLCache[str, str] = TTLCache(60.0)

    @api.get("/metrics", response_class=PlainTextResponse, dependencies=ADMIN)
    async def metrics() -> str:
        counters = service.moderator.counters.decisions
        lines = [
            "# HELP ae_bridge_links Adapter links connected now.",
            "# TYPE ae_bridge_links gauge",
            f"ae_bridge_links {len(service.edge.connections)}",
            "# HELP ae_moderation_decisions_total Moderation decisions by kind and decision.",
            "# TYPE ae_moderation_decisions_total counter",
        ]
        for key, count in sorted(counters.items()):
            kind, decision = key.split(":")
            lines.append(
                f'ae_moderation_decisions_total{{kind="{kind}",decision="{decision}"}} {count}'
            )
        lines += [
            "# HELP ae_moderation_provider_failures_total Provider classifier calls that "
            "failed or timed out.",
            "# TYPE ae_moderation_provider_failures_total counter",
            f"ae_moderation_provider_failures_total {service.moderator.counters.provider_failures}",
        ]
        text = "\n".join(lines) + "\n"
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
