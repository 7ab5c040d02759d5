"""The HTTP control API (FastAPI; OpenAPI docs at ``/docs``), the seed's endpoints:

- ``POST /personas/submit`` (creator or admin key) -> ``{id, status, reasons}``
- ``POST /personas/{id}/approve`` (admin key) -> ``{token, ttl}``
- ``GET /personas``, ``GET /personas/{id}`` (admin, or the persona's creator)
- ``POST /spawn`` -> ``{sessionId, status}``; ``POST /signal`` -> per-action results
- ``POST /session/{id}/end`` -> ``{summary, replay}``; ``GET /session/{id}``,
  ``GET /session/{id}/replay``
- ``GET /health`` (no key), ``GET /metrics`` (Prometheus text, admin key)

Keys go in ``Authorization: Bearer <key>``. Request bodies are validated (errors name
the field); errors come back as ``{"error": {"message", "errors"}}`` with a proper
status, never a stack trace.

(No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations,
and the dependencies they name are local to :func:`create_app`.)
"""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from encounters.engine import Engine
from encounters.errors import (
    EncountersError,
    IllegalTransition,
    NotFound,
    ObjectivesIncomplete,
    SessionNotActive,
    TemplateError,
    ValidationFailed,
)
from encounters.models.bridge import ApiKey
from encounters.templates.library import template_from_data
from encounters.validation import format_path

from .deployment import DeploymentError, DeploymentService
from .keys import check_api_key


class SpawnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    persona_id: str = Field(alias="personaId", max_length=64)
    deployment_token: str = Field(alias="deploymentToken", max_length=128)
    world: str = Field(pattern="^(gmod|minecraft|web)$")
    server_id: str = Field(alias="serverId", min_length=1, max_length=64)
    spawn_location: dict[str, float] | None = Field(None, alias="spawnLocation")


class SignalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    session_id: str = Field(alias="sessionId", max_length=64)
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=100)


def _error(status: int, message: str, errors: list[str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "errors": errors or []}}, status)


class StartSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    player: dict[str, Any]
    encounter_id: str = Field(alias="encounterId", max_length=64)


class ObjectiveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    progress: int | None = None
    completed: bool | None = None


def create_app(service: DeploymentService, engine: Engine | None = None) -> FastAPI:
    """The control API over ``service``; with an ``engine`` (sharing the store) also
    the content routes: encounters, templates and encounter sessions."""
    app = FastAPI(title="AI Encounters bridge", version="1", docs_url="/docs")
    store = service.store

    async def caller(authorization: Annotated[str | None, Header()] = None) -> ApiKey:
        key = authorization.removeprefix("Bearer ").strip() if authorization else ""
        record = await check_api_key(store, key) if key else None
        if record is None:
            raise HTTPException(401, "a valid API key is needed: Authorization: Bearer <key>")
        return record

    async def admin(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
        if key.role != "admin":
            raise HTTPException(403, "this needs an admin key")
        return key

    def may_see(key: ApiKey, creator_id: str) -> None:
        if key.role != "admin" and key.id != creator_id:
            raise HTTPException(403, "only the persona's creator or an admin may do this")

    @app.exception_handler(ValidationFailed)
    async def _invalid(_: Request, exc: ValidationFailed) -> JSONResponse:
        return _error(422, f"invalid {exc.what}", [str(e) for e in exc.errors])

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        lines = []
        for e in exc.errors():
            loc = e["loc"][1:] if e["loc"][:1] == ("body",) else e["loc"]
            lines.append(f"{format_path(loc) or 'body'}: {e['msg']}")
        return _error(422, "invalid request", lines)

    @app.exception_handler(StarletteHTTPException)  # also unknown paths and methods
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(DeploymentError)
    async def _conflict(_: Request, exc: DeploymentError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(EncountersError)
    async def _other(_: Request, exc: EncountersError) -> JSONResponse:
        conflict = (IllegalTransition, ObjectivesIncomplete, SessionNotActive)
        if isinstance(exc, conflict):
            return _error(409, str(exc))
        if isinstance(exc, TemplateError):
            return _error(422, str(exc))
        return _error(400, str(exc))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "links": len(service.edge.connections)}

    @app.post("/personas/submit", status_code=201)
    async def submit(
        body: dict[str, Any], key: Annotated[ApiKey, Depends(caller)]
    ) -> dict[str, Any]:
        record = await service.submit(body, creator_id=key.id)
        return {"id": record.persona.id, "status": record.status, "reasons": record.reasons}

    @app.post("/personas/{persona_id}/approve")
    async def approve(persona_id: str, _: Annotated[ApiKey, Depends(admin)]) -> dict[str, Any]:
        token, ttl = await service.approve(persona_id)
        return {"token": token, "ttl": ttl}

    @app.get("/personas")
    async def personas(
        key: Annotated[ApiKey, Depends(caller)], status: str | None = None
    ) -> list[dict[str, Any]]:
        found = await store.list_personas(status=status)
        return [r.model_dump(mode="json") for r in found
                if key.role == "admin" or r.persona.creator_id == key.id]  # fmt: skip

    @app.get("/personas/{persona_id}")
    async def persona(persona_id: str, key: Annotated[ApiKey, Depends(caller)]) -> dict[str, Any]:
        record = await service.persona(persona_id)
        may_see(key, record.persona.creator_id)
        return record.model_dump(mode="json")

    @app.post("/spawn", status_code=201)
    async def spawn(body: SpawnRequest, key: Annotated[ApiKey, Depends(caller)]) -> dict[str, Any]:
        record = await service.persona(body.persona_id)
        may_see(key, record.persona.creator_id)
        session = await service.spawn(body.persona_id, body.deployment_token, body.world,
                                      body.server_id, body.spawn_location)  # fmt: skip
        return {"sessionId": session.id, "status": session.status}

    @app.post("/signal")
    async def signal(
        body: SignalRequest, key: Annotated[ApiKey, Depends(caller)]
    ) -> dict[str, Any]:
        session = await service.companion(body.session_id)
        may_see(key, (await service.persona(session.persona_id)).persona.creator_id)
        return {"results": await service.signal(body.session_id, body.actions)}

    @app.get("/session/{session_id}")
    async def session(session_id: str, key: Annotated[ApiKey, Depends(caller)]) -> dict[str, Any]:
        found = await service.companion(session_id)
        may_see(key, (await service.persona(found.persona_id)).persona.creator_id)
        return found.model_dump(mode="json")

    @app.post("/session/{session_id}/end")
    async def end(session_id: str, key: Annotated[ApiKey, Depends(caller)]) -> dict[str, Any]:
        found = await service.companion(session_id)
        may_see(key, (await service.persona(found.persona_id)).persona.creator_id)
        return await service.end(session_id)

    @app.get("/session/{session_id}/replay")
    async def replay(
        session_id: str, key: Annotated[ApiKey, Depends(caller)]
    ) -> list[dict[str, Any]]:
        found = await service.companion(session_id)
        may_see(key, (await service.persona(found.persona_id)).persona.creator_id)
        return [e.model_dump(mode="json") for e in await service.audit.replay(session_id)]

    if engine is not None:
        _content_routes(app, engine, caller)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics(_: Annotated[ApiKey, Depends(admin)]) -> str:
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
        return "\n".join(lines) + "\n"

    return app


def _content_routes(app: FastAPI, engine: Engine, caller: Any) -> None:
    """Encounters, templates and encounter sessions (what ``ae deploy`` and
    ``ae test --url`` use)."""
    auth = [Depends(caller)]

    @app.post("/encounters", status_code=201, dependencies=auth)
    async def publish_encounter(body: dict[str, Any]) -> dict[str, Any]:
        spec = await engine.save_encounter(body)
        return spec.model_dump(mode="json")

    @app.get("/encounters/{encounter_id}", dependencies=auth)
    async def get_encounter(encounter_id: str) -> dict[str, Any]:
        return (await engine.get_encounter(encounter_id)).model_dump(mode="json")

    @app.get("/templates", dependencies=auth)
    async def list_templates() -> list[dict[str, Any]]:
        return [t.model_dump(mode="json") for t in engine.templates.list()]

    @app.post("/templates", status_code=201, dependencies=auth)
    async def publish_template(body: dict[str, Any]) -> dict[str, Any]:
        template = template_from_data(body, "request body")
        engine.templates.add(template)
        return {"id": template.id}

    @app.post("/templates/{template_id}/generate", status_code=201, dependencies=auth)
    async def generate_from_template(template_id: str, body: dict[str, Any]) -> dict[str, Any]:
        params = body.get("parameters", {})
        spec = await engine.generate(
            template=template_id, params=params if isinstance(params, dict) else {}
        )
        return spec.model_dump(mode="json")

    @app.post("/sessions", status_code=201, dependencies=auth)
    async def start_session(body: StartSessionRequest) -> dict[str, Any]:
        session = await engine.start_session(body.player, body.encounter_id)
        return session.model_dump(mode="json")

    @app.get("/sessions/{session_id}", dependencies=auth)
    async def get_session(session_id: str) -> dict[str, Any]:
        return (await engine.get_session(session_id)).model_dump(mode="json")

    @app.post("/sessions/{session_id}/objectives/{objective_id}", dependencies=auth)
    async def update_objective(
        session_id: str, objective_id: str, body: ObjectiveRequest
    ) -> dict[str, Any]:
        session = await engine.update_objective(session_id, objective_id,
                                                progress=body.progress,
                                                completed=body.completed)  # fmt: skip
        return session.model_dump(mode="json")

    @app.post("/sessions/{session_id}/complete", dependencies=auth)
    async def complete(session_id: str) -> dict[str, Any]:
        return (await engine.complete_session(session_id)).model_dump(mode="json")
