"""The player systems: generation (``adaptive``), difficulty, NPC memory and
campaigns. Difficulty and memory are player data: a game server's key or an admin
key. Each game server's NPC memories and difficulty histories are its own: kept in its
scope (``server:<world>:<server id>``), so another server using the same NPC and
player ids reads and writes data of its own and cannot claim, see or change these; a
memory pair a server claimed before scopes existed is still served to it from where it
was written. The sessions a server starts count in its players' histories only. An
admin reads the unscoped namespace (where the SDK keeps both, companions kept memories
before scopes, and every tenant's sessions counted before scopes), or a server's scope
with ``?server=<world>:<server id>``. A generated encounter (its prompt, and with
``adaptive`` its difficulty) carries player data of the caller's scope only (a game
server's), of the unscoped namespace for an admin, none for a creator key.

A creator publishes campaigns it then owns (another's id: 409), their text moderated
as published encounters' is (422 names the field); a campaign run and its sessions
belong to whoever started it.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from encounters.campaigns.limits import CAMPAIGN_KIND
from encounters.campaigns.model import CampaignRun, CampaignSpec
from encounters.campaigns.parse import parse_campaign
from encounters.engine import Engine
from encounters.errors import FieldError, ValidationFailed
from encounters.memory.models import NPCMemory
from encounters.models.encounter import EncounterSpec
from encounters.models.session import Session
from encounters.moderation.published import screen

from ..store.models import WorldKey
from ..tenancy import Tenancy
from .auth import Anyone, Caller, Player
from .schemas import ERRORS, DifficultyView, MemoryView, body_of


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    difficulty: float | None = None
    player: dict[str, Any] | str | None = None
    adaptive: bool = False
    seed: int | None = None


def router(engine: Engine, tenancy: Tenancy) -> APIRouter:
    api = APIRouter(tags=["players"], responses=ERRORS)

    @api.post("/generate", status_code=201)
    async def generate(body: GenerateRequest, who: Anyone) -> EncounterSpec:
        """One encounter; player data in it only of the caller's scope (see the
        module): a creator's ``adaptive`` uses no history (the base difficulty)."""
        players, scope = tenancy.generation_scope(who)
        spec = await engine.generate(category=body.category, difficulty=body.difficulty,
                                     player=body.player, adaptive=body.adaptive,
                                     seed=body.seed, use_memory=players,
                                     memory_scope=scope, use_history=players,
                                     history_scope=scope)  # fmt: skip
        await tenancy.record("encounter", spec.id, who)
        return spec

    @api.get("/difficulty/{player_id}")
    async def difficulty(
        player_id: str,
        who: Player,
        base: Annotated[float, Query(ge=0, le=1)] = 0.5,
        server: Annotated[str | None, Query(max_length=150)] = None,
    ) -> DifficultyView:
        """The player's history in the caller's scope and the difficulty adaptive
        generation picks from it (``server``: an admin's pick of a game server's
        scope)."""
        scope = tenancy.player_scope(who, server)
        history = await engine.difficulty.history(player_id, scope=scope)
        chosen = engine.difficulty.difficulty_for(history, base)
        return DifficultyView(difficulty=chosen, history=history)

    @api.get("/memory/{npc_id}/{player_id}")
    async def memory(
        npc_id: str,
        player_id: str,
        who: Player,
        query: Annotated[str, Query(max_length=500)] = "",
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        server: Annotated[str | None, Query(max_length=150)] = None,
    ) -> MemoryView:
        """What the NPC remembers of the player, in the caller's scope (see the module;
        ``server``: an admin's pick of a game server's scope)."""
        scope = await tenancy.memory_scope(npc_id, player_id, who, server)
        profile = await engine.memory.get_memory(npc_id, player_id, scope=scope)
        found = await engine.memory.retrieve(npc_id, player_id, query, k=limit, scope=scope)
        return MemoryView.model_validate({
            "profile": profile,
            "memories": [r.model_dump(exclude={"interaction"}) for r in found],
            "context": await engine.memory.context_prompt(npc_id, player_id, query, scope=scope),
        })  # fmt: skip

    @api.post("/memory/{npc_id}/{player_id}", status_code=201)
    async def remember(
        npc_id: str,
        player_id: str,
        body: dict[str, Any],
        who: Player,
        server: Annotated[str | None, Query(max_length=150)] = None,
    ) -> NPCMemory:
        """Record one meeting in the caller's scope (as :func:`memory` reads it)."""
        scope = await tenancy.memory_scope(npc_id, player_id, who, server)
        return await engine.memory.record_interaction(npc_id, player_id, body, scope=scope)

    @api.post("/campaigns", status_code=201, openapi_extra=body_of(CampaignSpec))
    async def save_campaign(body: dict[str, Any], key: Caller) -> CampaignSpec:
        screen(engine.moderator, body, "campaign")  # as published encounters are
        checked = parse_campaign(body)
        stored = await engine.store.get_document(CAMPAIGN_KIND, checked.id, CampaignSpec)
        await tenancy.may_publish("campaign", checked.id, key, exists=stored is not None)
        saved = await engine.campaigns.save_campaign(checked)
        await tenancy.record("campaign", saved.id, key)
        return saved

    @api.post("/campaigns/{campaign_id}/start", status_code=201)
    async def start_campaign(campaign_id: str, body: dict[str, Any], who: Anyone) -> CampaignRun:
        if not isinstance(who, WorldKey):  # game servers run every campaign
            await tenancy.check("campaign", campaign_id, who)
        player = body.get("player") or body.get("playerId")
        if not isinstance(player, str | dict):
            raise ValidationFailed("request body", [FieldError("player", "required")])
        run = await engine.start_campaign(campaign_id, player)
        await tenancy.record("campaign-run", run.id, who)
        return run

    @api.get("/campaign-runs/{run_id}")
    async def campaign_run(run_id: str, who: Anyone) -> CampaignRun:
        await tenancy.check("campaign-run", run_id, who)
        return await engine.campaigns.status(run_id)

    @api.post("/campaign-runs/{run_id}/play", status_code=201)
    async def play_step(run_id: str, who: Anyone) -> Session:
        await tenancy.check("campaign-run", run_id, who)
        session = await engine.play_campaign_step(run_id)
        await tenancy.record("session", session.id, who)
        if (scope := tenancy.session_scope(who)) is not None:  # its server's player stats
            await engine.analytics.record_session_scope(session.id, session.player_id, scope)
        return session

    @api.post("/campaign-runs/{run_id}/advance")
    async def advance(run_id: str, body: dict[str, Any], who: Anyone) -> CampaignRun:
        await tenancy.check("campaign-run", run_id, who)
        session_id = body.get("sessionId") or body.get("session_id")
        if not isinstance(session_id, str):
            raise ValidationFailed("request body", [FieldError("sessionId", "required")])
        await tenancy.check("session", session_id, who)
        return await engine.campaigns.advance(run_id, session_id)

    return api
