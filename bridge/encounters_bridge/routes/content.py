"""Encounters, templates and encounter sessions (what ``ae deploy`` and
``ae test --url`` use). Published encounters and templates have every text field
moderated and no control characters (422 names the fields), and so have the parameter
values an encounter is generated from a template with (they become its text). A
creator publishes encounters and templates it then owns (another's id or a built-in
template's id: 409) and reads only its own and the built-in templates; game servers
read every encounter and template and start sessions; a session belongs to whoever
started it. A finished session counts in its player's difficulty history of the game
server that started it (any other: in the unscoped history when an admin completes it,
nowhere when a creator does).

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from encounters.engine import Engine
from encounters.errors import FieldError, ValidationFailed
from encounters.models.encounter import EncounterSpec
from encounters.models.session import Session
from encounters.moderation.published import screen
from encounters.templates.library import template_from_data
from encounters.templates.model import EncounterTemplate
from encounters.validation import validate_model

from ..store.models import ApiKey, WorldKey
from ..tenancy import Resource, Tenancy
from .auth import Anyone, Caller
from .schemas import ERRORS, TemplateId, body_of


class StartSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    player: dict[str, Any]
    encounter_id: str = Field(alias="encounterId", max_length=64)


class ObjectiveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    progress: int | None = None
    completed: bool | None = None


def router(engine: Engine, tenancy: Tenancy) -> APIRouter:
    api = APIRouter(tags=["content"], responses=ERRORS)

    async def readable(resource: Resource, item_id: str, who: ApiKey | WorldKey) -> None:
        """Game servers read all content; creators only their own."""
        if not isinstance(who, WorldKey):
            await tenancy.check(resource, item_id, who)

    @api.post("/encounters", status_code=201, openapi_extra=body_of(EncounterSpec))
    async def publish_encounter(body: dict[str, Any], key: Caller) -> EncounterSpec:
        screen(engine.moderator, body, "encounter")
        checked = validate_model(EncounterSpec, body, "encounter")
        stored = await engine.store.get_encounter(checked.id)
        await tenancy.may_publish("encounter", checked.id, key, exists=stored is not None)
        spec = await engine.save_encounter(checked)
        await tenancy.record("encounter", spec.id, key)
        return spec

    @api.get("/encounters/{encounter_id}")
    async def get_encounter(encounter_id: str, who: Anyone) -> EncounterSpec:
        await readable("encounter", encounter_id, who)
        return await engine.get_encounter(encounter_id)

    @api.get("/templates")
    async def list_templates(who: Anyone) -> list[EncounterTemplate]:
        out = []
        for template in engine.templates.list():
            if isinstance(who, WorldKey) or await tenancy.mine("template", template.id, who):
                out.append(template)
        return out

    @api.post("/templates", status_code=201, openapi_extra=body_of(EncounterTemplate))
    async def publish_template(body: dict[str, Any], key: Caller) -> TemplateId:
        screen(engine.moderator, body, "template")
        validate_model(EncounterTemplate, body, "template")  # 422: one line per field
        checked = template_from_data(body, "template")  # then its placeholders
        await tenancy.may_publish("template", checked.id, key,
                                  exists=checked.id in engine.templates)  # fmt: skip
        template = await engine.publish_template(checked)
        await tenancy.record("template", template.id, key)
        return TemplateId(id=template.id)

    @api.post("/templates/{template_id}/generate", status_code=201)
    async def generate_from_template(
        template_id: str, body: dict[str, Any], who: Anyone
    ) -> EncounterSpec:
        await readable("template", template_id, who)
        params = body.get("parameters", {})
        if not isinstance(params, dict):
            raise ValidationFailed("request", [FieldError(
                "parameters", "must be an object of parameter names and values")])  # fmt: skip
        # the values become the stored encounter's text: moderated as published text
        screen(engine.moderator, {"parameters": params}, "template parameters")
        spec = await engine.generate(template=template_id, params=params)
        await tenancy.record("encounter", spec.id, who)
        return spec

    @api.post("/sessions", status_code=201)
    async def start_session(body: StartSessionRequest, who: Anyone) -> Session:
        await readable("encounter", body.encounter_id, who)
        session = await engine.start_session(body.player, body.encounter_id)
        await tenancy.record("session", session.id, who)
        if (scope := tenancy.session_scope(who)) is not None:  # its server's player stats
            await engine.analytics.record_session_scope(session.id, session.player_id, scope)
        return session

    @api.get("/sessions/{session_id}")
    async def get_session(session_id: str, who: Anyone) -> Session:
        await tenancy.check("session", session_id, who)
        return await engine.get_session(session_id)

    @api.post("/sessions/{session_id}/objectives/{objective_id}")
    async def update_objective(
        session_id: str, objective_id: str, body: ObjectiveRequest, who: Anyone
    ) -> Session:
        await tenancy.check("session", session_id, who)
        session = await engine.update_objective(session_id, objective_id,
                                                progress=body.progress,
                                                completed=body.completed)  # fmt: skip
        return session

    @api.post("/sessions/{session_id}/complete")
    async def complete(session_id: str, who: Anyone) -> Session:
        """Finish the session; its result goes into the player's difficulty history in
        the scope of the game server that started it (see
        :meth:`..tenancy.Tenancy.session_history_scope`)."""
        await tenancy.check("session", session_id, who)
        record, scope = await tenancy.session_history_scope(session_id, who)
        return await engine.complete_session(session_id, record_history=record,
                                             history_scope=scope)  # fmt: skip

    return api
