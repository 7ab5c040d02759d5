"""Analytics: an encounter's (admins, game servers, and the creator that owns it),
a player's and feedback (player data: game servers and admins), the global view
(admin and creator keys), platform metrics (admin).

Player data is each game server's own, as NPC memory and difficulty are
(:meth:`..tenancy.Tenancy.player_scope`): a world key reads the stats of the sessions
its server started (marked with the server's scope when started) and records feedback
in its server's scope, where a player's latest rating of an encounter replaces their
earlier one, so another server using the same player id can neither read nor replace
it. An admin reads every session of the player id and records unscoped feedback, or
a server's with ``?server=<world>:<server id>``. In an encounter's comments a world
key sees the player ids of its own server's comments only.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from encounters.analytics.models import EncounterAnalytics, GlobalStats, PlayerStats
from encounters.engine import Engine
from encounters.errors import NotFound
from encounters.models import utcnow
from encounters.platform_metrics import PlatformMetrics, platform_metrics

from ..store.models import WorldKey
from ..tenancy import Tenancy, tags
from .auth import ADMIN, CALLER, Anyone, Player
from .schemas import ERRORS, Ok

#: A period in days: finite, more than 0 and at most ten years.
Days = Annotated[float | None, Query(gt=0, le=3650, allow_inf_nan=False)]
#: An admin's pick of a game server's player data: ``<world>:<server id>``.
Server = Annotated[str | None, Query(max_length=150)]


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
        found = await engine.analytics.encounter(encounter_id)
        if isinstance(who, WorldKey):  # other tenants' player ids are not a server's
            mine = tags(who)[0]
            for c in found.player_feedback.latest_comments:
                if c.scope != mine:
                    c.player_id = None
        return found

    @api.get("/analytics/player/{player_id}")
    async def player(player_id: str, who: Player, server: Server = None) -> PlayerStats:
        """The player's stats in the caller's scope (see the module; ``server``: an
        admin's pick of a game server's)."""
        scope = tenancy.player_scope(who, server)
        return await engine.analytics.player(player_id, scope=scope)

    @api.get("/analytics/global", dependencies=CALLER)
    async def global_stats(days: Days = None) -> GlobalStats:
        since = utcnow() - timedelta(days=days) if days else None
        return await engine.analytics.global_stats(since)

    @api.post("/analytics/feedback", status_code=201)
    async def feedback(body: FeedbackRequest, who: Player, server: Server = None) -> Ok:
        """Record a player's rating in the caller's scope (see the module). A game
        server rates stored encounters only (those it can play): others are 404."""
        scope = tenancy.player_scope(who, server)
        if (
            isinstance(who, WorldKey)
            and await engine.store.get_encounter(body.encounter_id) is None
        ):
            raise NotFound(f"no encounter with id {body.encounter_id!r}")
        await engine.analytics.record_feedback(
            body.encounter_id, body.player_id, body.rating, body.comment, scope=scope
        )
        return Ok(ok=True)

    @api.get("/metrics/platform", dependencies=ADMIN)
    async def platform(days: Days = 7.0) -> PlatformMetrics:
        await engine.analytics.flush()
        until = utcnow()
        since = until - timedelta(days=days or 7.0)
        return await platform_metrics(engine.store, since, until)

    return api
