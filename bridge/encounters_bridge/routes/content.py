"""Encounters, templates and encounter sessions (what ``ae deploy`` and
``ae test --url`` use).

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from encounters.engine import Engine

from .auth import CALLER


class StartSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    player: dict[str, Any]
    encounter_id: str = Field(alias="encounterId", max_length=64)


class ObjectiveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    progress: int | None = None
    completed: bool | None = None


def router(engine: Engine) -> APIRouter:
    api = APIRouter(tags=["content"], dependencies=CALLER)

    @api.post("/encounters", status_code=201)
    async def publish_encounter(body: dict[str, Any]) -> dict[str, Any]:
        spec = await engine.save_encounter(body)
        return spec.model_dump(mode="json")

    @api.get("/encounters/{encounter_id}")
    async def get_encounter(encounter_id: str) -> dict[str, Any]:
        return (await engine.get_encounter(encounter_id)).model_dump(mode="json")

    @api.get("/templates")
    async def list_templates() -> list[dict[str, Any]]:
        return [t.model_dump(mode="json") for t in engine.templates.list()]

    @api.post("/templates", status_code=201)
    async def publish_template(body: dict[str, Any]) -> dict[str, Any]:
        template = await engine.publish_template(body)
        return {"id": template.id}

    @api.post("/templates/{template_id}/generate", status_code=201)
    async def generate_from_template(template_id: str, body: dict[str, Any]) -> dict[str, Any]:
        params = body.get("parameters", {})
        spec = await engine.generate(
            template=template_id, params=params if isinstance(params, dict) else {}
        )
        return spec.model_dump(mode="json")

    @api.post("/sessions", status_code=201)
    async def start_session(body: StartSessionRequest) -> dict[str, Any]:
        session = await engine.start_session(body.player, body.encounter_id)
        return session.model_dump(mode="json")

    @api.get("/sessions/{session_id}")
    async def get_session(session_id: str) -> dict[str, Any]:
        return (await engine.get_session(session_id)).model_dump(mode="json")

    @api.post("/sessions/{session_id}/objectives/{objective_id}")
    async def update_objective(
        session_id: str, objective_id: str, body: ObjectiveRequest
    ) -> dict[str, Any]:
        session = await engine.update_objective(session_id, objective_id,
                                                progress=body.progress,
                                                completed=body.completed)  # fmt: skip
        return session.model_dump(mode="json")

    @api.post("/sessions/{session_id}/complete")
    async def complete(session_id: str) -> dict[str, Any]:
        return (await engine.complete_session(session_id)).model_dump(mode="json")

    return api
