"""The player systems: generation (``adaptive``), difficulty, NPC memory and
campaigns. Difficulty and memory are player data: a game server's key (its memory is
its own: the first server to touch an NPC's memory of a player owns it) or an admin
key. A creator publishes campaigns it then owns (another's id: 409); a campaign run and
its sessions belong to whoever started it.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from encounters.campaigns.parse import parse_campaign
from encounters.engine import Engine
from encounters.errors import FieldError, ValidationFailed
from encounters.models.bridge import WorldKey

from ..tenancy import Tenancy
from .auth import Anyone, Caller, Player


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    difficulty: float | None = None
    player: dict[str, Any] | str | None = None
    adaptive: bool = False
    seed: int | None = None


def router(engine: Engine, tenancy: Tenancy) -> APIRouter:
    api = APIRouter(tags=["players"])

    @api.post("/generate", status_code=201)
    async def generate(body: GenerateRequest, who: Anyone) -> dict[str, Any]:
        spec = await engine.generate(category=body.category, difficulty=body.difficulty,
                                     player=body.player, adaptive=body.adaptive,
                                     seed=body.seed)  # fmt: skip
        await tenancy.record("encounter", spec.id, who)
        return spec.model_dump(mode="json")

    @api.get("/difficulty/{player_id}")
    async def difficulty(player_id: str, _: Player, base: float = 0.5) -> dict[str, Any]:
        history = await engine.difficulty.history(player_id)
        chosen = await engine.difficulty.calculate_difficulty(player_id, base)
        return {"difficulty": chosen, "history": history.model_dump(mode="json")}

    @api.get("/memory/{npc_id}/{player_id}")
    async def memory(
        npc_id: str, player_id: str, who: Player, query: str = "", limit: int = 10
    ) -> dict[str, Any]:
        await tenancy.touch("memory", f"{npc_id}/{player_id}", who)
        profile = await engine.memory.get_memory(npc_id, player_id)
        found = await engine.memory.retrieve(npc_id, player_id, query, k=max(1, min(limit, 100)))
        return {
            "profile": profile.model_dump(mode="json"),
            "memories": [r.model_dump(mode="json", exclude={"interaction"}) for r in found],
            "context": await engine.memory.context_prompt(npc_id, player_id, query),
        }

    @api.post("/memory/{npc_id}/{player_id}", status_code=201)
    async def remember(
        npc_id: str, player_id: str, body: dict[str, Any], who: Player
    ) -> dict[str, Any]:
        await tenancy.touch("memory", f"{npc_id}/{player_id}", who)
        profile = await engine.memory.record_interaction(npc_id, player_id, body)
        return profile.model_dump(mode="json")

    @api.post("/campaigns", status_code=201)
    async def save_campaign(body: dict[str, Any], key: Caller) -> dict[str, Any]:
        checked = parse_campaign(body)
        await tenancy.may_publish("campaign", checked.id, key)
        saved = await engine.campaigns.save_campaign(checked)
        await tenancy.record("campaign", saved.id, key)
        return saved.model_dump(mode="json")

    @api.post("/campaigns/{campaign_id}/start", status_code=201)
    async def start_campaign(campaign_id: str, body: dict[str, Any], who: Anyone) -> dict[str, Any]:
        if not isinstance(who, WorldKey):  # game servers run every campaign
            await tenancy.check("campaign", campaign_id, who)
        player = body.get("player") or body.get("playerId")
        if not isinstance(player, str | dict):
            raise ValidationFailed("request body", [FieldError("player", "required")])
        run = await engine.start_campaign(campaign_id, player)
        await tenancy.record("campaign-run", run.id, who)
        return run.model_dump(mode="json")

    @api.get("/campaign-runs/{run_id}")
    async def campaign_run(run_id: str, who: Anyone) -> dict[str, Any]:
        await tenancy.check("campaign-run", run_id, who)
        return (await engine.campaigns.status(run_id)).model_dump(mode="json")

    @api.post("/campaign-runs/{run_id}/play", status_code=201)
    async def play_step(run_id: str, who: Anyone) -> dict[str, Any]:
        await tenancy.check("campaign-run", run_id, who)
        session = await engine.play_campaign_step(run_id)
        await tenancy.record("session", session.id, who)
        return session.model_dump(mode="json")

    @api.post("/campaign-runs/{run_id}/advance")
    async def advance(run_id: str, body: dict[str, Any], who: Anyone) -> dict[str, Any]:
        await tenancy.check("campaign-run", run_id, who)
        session_id = body.get("sessionId") or body.get("session_id")
        if not isinstance(session_id, str):
            raise ValidationFailed("request body", [FieldError("sessionId", "required")])
        await tenancy.check("session", session_id, who)
        return (await engine.campaigns.advance(run_id, session_id)).model_dump(mode="json")

    return api
