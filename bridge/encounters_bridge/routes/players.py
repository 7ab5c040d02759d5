"""The player systems: generation (``adaptive``), difficulty, NPC memory and
campaigns.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from encounters.engine import Engine
from encounters.errors import FieldError, ValidationFailed

from .auth import CALLER


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    difficulty: float | None = None
    player: dict[str, Any] | str | None = None
    adaptive: bool = False
    seed: int | None = None


def router(engine: Engine) -> APIRouter:
    api = APIRouter(tags=["players"], dependencies=CALLER)

    @api.post("/generate", status_code=201)
    async def generate(body: GenerateRequest) -> dict[str, Any]:
        spec = await engine.generate(category=body.category, difficulty=body.difficulty,
                                     player=body.player, adaptive=body.adaptive,
                                     seed=body.seed)  # fmt: skip
        return spec.model_dump(mode="json")

    @api.get("/difficulty/{player_id}")
    async def difficulty(player_id: str, base: float = 0.5) -> dict[str, Any]:
        history = await engine.difficulty.history(player_id)
        chosen = await engine.difficulty.calculate_difficulty(player_id, base)
        return {"difficulty": chosen, "history": history.model_dump(mode="json")}

    @api.get("/memory/{npc_id}/{player_id}")
    async def memory(
        npc_id: str, player_id: str, query: str = "", limit: int = 10
    ) -> dict[str, Any]:
        profile = await engine.memory.get_memory(npc_id, player_id)
        found = await engine.memory.retrieve(npc_id, player_id, query, k=max(1, min(limit, 100)))
        return {
            "profile": profile.model_dump(mode="json"),
            "memories": [r.model_dump(mode="json", exclude={"interaction"}) for r in found],
            "context": await engine.memory.context_prompt(npc_id, player_id, query),
        }

    @api.post("/memory/{npc_id}/{player_id}", status_code=201)
    async def remember(npc_id: str, player_id: str, body: dict[str, Any]) -> dict[str, Any]:
        profile = await engine.memory.record_interaction(npc_id, player_id, body)
        return profile.model_dump(mode="json")

    @api.post("/campaigns", status_code=201)
    async def save_campaign(body: dict[str, Any]) -> dict[str, Any]:
        return (await engine.campaigns.save_campaign(body)).model_dump(mode="json")

    @api.post("/campaigns/{campaign_id}/start", status_code=201)
    async def start_campaign(campaign_id: str, body: dict[str, Any]) -> dict[str, Any]:
        player = body.get("player") or body.get("playerId")
        if not isinstance(player, str | dict):
            raise ValidationFailed("request body", [FieldError("player", "required")])
        run = await engine.start_campaign(campaign_id, player)
        return run.model_dump(mode="json")

    @api.get("/campaign-runs/{run_id}")
    async def campaign_run(run_id: str) -> dict[str, Any]:
        return (await engine.campaigns.status(run_id)).model_dump(mode="json")

    @api.post("/campaign-runs/{run_id}/play", status_code=201)
    async def play_step(run_id: str) -> dict[str, Any]:
        return (await engine.play_campaign_step(run_id)).model_dump(mode="json")

    @api.post("/campaign-runs/{run_id}/advance")
    async def advance(run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        session_id = body.get("sessionId") or body.get("session_id")
        if not isinstance(session_id, str):
            raise ValidationFailed("request body", [FieldError("sessionId", "required")])
        return (await engine.campaigns.advance(run_id, session_id)).model_dump(mode="json")

    return api
