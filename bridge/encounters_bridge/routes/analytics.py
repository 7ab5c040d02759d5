"""Analytics: an encounter's (admins, game servers, and the creator that owns it),
a player's and feedback (player data: game servers and admins), the global view
(admin and creator keys), platform metrics (admin).

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from encounters.analytics.models import EncounterAnalytics, GlobalStats, PlayerStats
from encounters.engine import Engine
from encounters.models import utcnow
from encounters.platform_metrics import PlatformMetrics, platform_metrics

from ..store.models import WorldKey
from ..tenancy import Tenancy
from .auth import ADMIN, CALLER, Anyone, Player
from .schemas import ERRORS, Ok

#: A period in days: finite, more than 0 and at most ten years.
Days = Annotated[float | None, Query(gt=0, le=3650, allow_inf_nan=False)]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    encounter_id: str = Field(alias="encounterId", max_length=64)
    player_id: str = Field(alias="playerId", max_length=64)
    rating: Any = None
    comment: Any = None


def router(engine: Engine, tenancy: Tenancy) -> APIRouter:
    api = APIRouter(tags=["analytics"], responses=ERRORS)

    @api.get("/analytics/encounter/{encounter_id}")
    async def encounter(encounter_id: str, who: Anyone) -> EncounterAnalytics:
        if not isinstance(who, WorldKey):
            await tenancy.check("encounter", encounter_id, who)
        return await engine.analytics.encounter(encounter_id)

    @api.get("/analytics/player/{player_id}")
    async def player(player_id: str, _: Player) -> PlayerStats:
        return await engine.analytics.player(player_id)

    @api.get("/analytics/global", dependencies=CALLER)
    async def global_stats(days: Days = None) -> GlobalStats:
        since = utcnow() - timedelta(days=days) if days else None
        return await engine.analytics.global_stats(since)

    @api.post("/analytics/feedback", status_code=201)
    async def feedback(body: FeedbackRequest, _: Player) -> Ok:
        await engine.analytics.record_feedback(
            body.encounter_id, body.player_id, body.rating, body.comment
        )
        return Ok(ok=True)

    @api.get("/metrics/platform", dependencies=ADMIN)
    async def platform(days: Days = 7.0) -> PlatformMetrics:
        await engine.analytics.flush()
        until = utcnow()
        since = until - timedelta(days=days or 7.0)
        return await platform_metrics(engine.store, since, until)

    return api
