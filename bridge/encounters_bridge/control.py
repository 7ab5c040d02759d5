"""The HTTP control API (FastAPI; OpenAPI docs at ``/docs``), the seed's endpoints:

- ``POST /personas/submit`` (creator or admin key) -> ``{id, status, reasons}``
- ``POST /personas/{id}/approve`` (admin key) -> ``{token, ttl}``
- ``GET /personas``, ``GET /personas/{id}`` (admin, or the persona's creator)
- ``POST /spawn`` -> ``{sessionId, status}``; ``POST /signal`` -> per-action results
- ``POST /session/{id}/end`` -> ``{summary, replay}``; ``GET /session/{id}``,
  ``GET /session/{id}/replay``
- ``GET /health`` (no key), ``GET /metrics`` (Prometheus text, admin key)
- keys (admin): ``GET /admin/world-keys``, ``POST /admin/world-keys/{id}/revoke``
  (closes the key's live links at once), ``GET /admin/api-keys``,
  ``POST /admin/api-keys/{id}/revoke``
- with an engine: encounters, templates and sessions (``ae deploy``, ``ae test --url``),
  and the player systems: ``POST /generate`` (``adaptive``), ``GET /difficulty/{player}``,
  ``GET|POST /memory/{npc}/{player}``, ``POST /campaigns``,
  ``POST /campaigns/{id}/start``, ``GET /campaign-runs/{id}``,
  ``POST /campaign-runs/{id}/play``, ``POST /campaign-runs/{id}/advance``

Keys go in ``Authorization: Bearer <key>``. Request bodies are validated (errors name
the field); errors come back as ``{"error": {"message", "errors"}}`` with a proper
status, never a stack trace.

(No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations,
and the dependencies they name are local to :func:`create_app`.)
"""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from encounters.analytics import TTLCache
from encounters.campaigns import CampaignError
from encounters.engine import Engine
from encounters.errors import (
    EncountersError,
    FieldError,
    IllegalTransition,
    NotFound,
    ObjectivesIncomplete,
    SessionNotActive,
    TemplateError,
    ValidationFailed,
)
from encounters.models import utcnow
from encounters.models.bridge import ApiKey, WorldKey
from encounters.platform_metrics import platform_metrics, prometheus_text
from encounters.validation import format_path

from .deployment import DeploymentError, DeploymentService
from .editor import editor_router
from .keys import check_api_key
from .studio import mount_studio


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
        conflict = (IllegalTransition, ObjectivesIncomplete, SessionNotActive, CampaignError)
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

    _key_routes(app, service, admin)

    if engine is not None:
        service.notify.append(engine.notify)  # persona and companion events -> webhooks
        _content_routes(app, engine, caller)
        _player_routes(app, engine, caller)
        _webhook_routes(app, engine, admin)
        _analytics_routes(app, engine, caller, admin)
        app.include_router(editor_router(engine, caller, admin))  # /editor: the studio's API

    platform_cache: TTLCache[str, str] = TTLCache(60.0)

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

    mount_studio(app)  # the web studio at /studio (studio.py)
    return app


def _key_view(key: ApiKey | WorldKey) -> dict[str, Any]:
    """A key's record without its hash."""
    return key.model_dump(mode="json", exclude={"key_hash"})


def _key_routes(app: FastAPI, service: DeploymentService, admin: Any) -> None:
    """Admin routes for keys: list them (never a secret or a hash) and revoke them.
    Revoking a world key closes its live links at once (4004); a revoked API key is
    refused from its next request on."""
    store = service.store
    auth = [Depends(admin)]

    @app.get("/admin/world-keys", dependencies=auth)
    async def world_keys() -> list[dict[str, Any]]:
        return [_key_view(k) for k in await store.list_world_keys()]

    @app.post("/admin/world-keys/{key_id}/revoke", dependencies=auth)
    async def revoke_world_key(key_id: str) -> dict[str, Any]:
        key = await store.get_world_key(key_id)
        if key is None:
            raise NotFound(f"no world key with id {key_id!r}")
        if key.revoked_at is None:
            key = key.model_copy(update={"revoked_at": utcnow()})
            await store.save_world_key(key)
        closed = await service.edge.revoke_world_key(key_id)
        return {**_key_view(key), "links_closed": closed}

    @app.get("/admin/api-keys", dependencies=auth)
    async def api_keys() -> list[dict[str, Any]]:
        return [_key_view(k) for k in await store.list_api_keys()]

    @app.post("/admin/api-keys/{key_id}/revoke")
    async def revoke_api_key(
        key_id: str, caller_key: Annotated[ApiKey, Depends(admin)]
    ) -> dict[str, Any]:
        if key_id == caller_key.id:
            raise HTTPException(409, "an admin key cannot revoke itself; use another admin key")
        key = await store.get_api_key(key_id)
        if key is None:
            raise NotFound(f"no API key with id {key_id!r}")
        if key.revoked_at is None:
            key = key.model_copy(update={"revoked_at": utcnow()})
            await store.save_api_key(key)
        return _key_view(key)


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    difficulty: float | None = None
    player: dict[str, Any] | str | None = None
    adaptive: bool = False
    seed: int | None = None


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048)
    events: list[str] | str = "*"
    description: str = Field("", max_length=500)


def _webhook_routes(app: FastAPI, engine: Engine, admin: Any) -> None:
    """Webhooks (admin key): register (the signing secret is in this answer only),
    list, delete, test, rotate the secret, and each webhook's delivery log."""
    auth = [Depends(admin)]

    @app.post("/webhooks", status_code=201, dependencies=auth)
    async def register(body: WebhookRequest) -> dict[str, Any]:
        webhook, secret = await engine.webhooks.register(body.url, body.events, body.description)
        return {**webhook.model_dump(mode="json"), "secret": secret}

    @app.get("/webhooks", dependencies=auth)
    async def webhooks() -> list[dict[str, Any]]:
        return [w.model_dump(mode="json") for w in await engine.webhooks.list()]

    @app.delete("/webhooks/{webhook_id}", status_code=204, dependencies=auth)
    async def delete(webhook_id: str) -> None:
        await engine.webhooks.delete(webhook_id)

    @app.post("/webhooks/{webhook_id}/test", dependencies=auth)
    async def test(webhook_id: str) -> dict[str, Any]:
        return (await engine.webhooks.test(webhook_id)).model_dump(mode="json")

    @app.post("/webhooks/{webhook_id}/rotate", dependencies=auth)
    async def rotate(webhook_id: str) -> dict[str, Any]:
        return {"secret": await engine.webhooks.rotate_secret(webhook_id)}

    @app.get("/webhooks/{webhook_id}/deliveries", dependencies=auth)
    async def deliveries(webhook_id: str, limit: int = 50) -> list[dict[str, Any]]:
        found = await engine.webhooks.deliveries(webhook_id, max(1, min(limit, 500)))
        return [d.model_dump(mode="json") for d in found]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    encounter_id: str = Field(alias="encounterId", max_length=64)
    player_id: str = Field(alias="playerId", max_length=64)
    rating: Any = None
    comment: Any = None


def _analytics_routes(app: FastAPI, engine: Engine, caller: Any, admin: Any) -> None:
    """Analytics (any key) and platform metrics (admin)."""
    auth = [Depends(caller)]

    @app.get("/analytics/encounter/{encounter_id}", dependencies=auth)
    async def encounter(encounter_id: str) -> dict[str, Any]:
        return (await engine.analytics.encounter(encounter_id)).model_dump(mode="json")

    @app.get("/analytics/player/{player_id}", dependencies=auth)
    async def player(player_id: str) -> dict[str, Any]:
        return (await engine.analytics.player(player_id)).model_dump(mode="json")

    @app.get("/analytics/global", dependencies=auth)
    async def global_stats(days: float | None = None) -> dict[str, Any]:
        since = utcnow() - timedelta(days=days) if days else None
        return (await engine.analytics.global_stats(since)).model_dump(mode="json")

    @app.post("/analytics/feedback", status_code=201, dependencies=auth)
    async def feedback(body: FeedbackRequest) -> dict[str, Any]:
        await engine.analytics.record_feedback(
            body.encounter_id, body.player_id, body.rating, body.comment
        )
        return {"ok": True}

    @app.get("/metrics/platform", dependencies=[Depends(admin)])
    async def platform(days: float = 7.0) -> dict[str, Any]:
        await engine.analytics.flush()
        until = utcnow()
        since = until - timedelta(days=max(0.001, min(days, 3650)))
        return (await platform_metrics(engine.store, since, until)).model_dump(mode="json")


def _player_routes(app: FastAPI, engine: Engine, caller: Any) -> None:
    """Adaptive difficulty, NPC memory and campaigns (issue 8)."""
    auth = [Depends(caller)]

    @app.post("/generate", status_code=201, dependencies=auth)
    async def generate(body: GenerateRequest) -> dict[str, Any]:
        spec = await engine.generate(category=body.category, difficulty=body.difficulty,
                                     player=body.player, adaptive=body.adaptive,
                                     seed=body.seed)  # fmt: skip
        return spec.model_dump(mode="json")

    @app.get("/difficulty/{player_id}", dependencies=auth)
    async def difficulty(player_id: str, base: float = 0.5) -> dict[str, Any]:
        history = await engine.difficulty.history(player_id)
        chosen = await engine.difficulty.calculate_difficulty(player_id, base)
        return {"difficulty": chosen, "history": history.model_dump(mode="json")}

    @app.get("/memory/{npc_id}/{player_id}", dependencies=auth)
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

    @app.post("/memory/{npc_id}/{player_id}", status_code=201, dependencies=auth)
    async def remember(npc_id: str, player_id: str, body: dict[str, Any]) -> dict[str, Any]:
        profile = await engine.memory.record_interaction(npc_id, player_id, body)
        return profile.model_dump(mode="json")

    @app.post("/campaigns", status_code=201, dependencies=auth)
    async def save_campaign(body: dict[str, Any]) -> dict[str, Any]:
        return (await engine.campaigns.save_campaign(body)).model_dump(mode="json")

    @app.post("/campaigns/{campaign_id}/start", status_code=201, dependencies=auth)
    async def start_campaign(campaign_id: str, body: dict[str, Any]) -> dict[str, Any]:
        player = body.get("player") or body.get("playerId")
        if not isinstance(player, str | dict):
            raise ValidationFailed("request body", [FieldError("player", "required")])
        run = await engine.start_campaign(campaign_id, player)
        return run.model_dump(mode="json")

    @app.get("/campaign-runs/{run_id}", dependencies=auth)
    async def campaign_run(run_id: str) -> dict[str, Any]:
        return (await engine.campaigns.status(run_id)).model_dump(mode="json")

    @app.post("/campaign-runs/{run_id}/play", status_code=201, dependencies=auth)
    async def play_step(run_id: str) -> dict[str, Any]:
        return (await engine.play_campaign_step(run_id)).model_dump(mode="json")

    @app.post("/campaign-runs/{run_id}/advance", dependencies=auth)
    async def advance(run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        session_id = body.get("sessionId") or body.get("session_id")
        if not isinstance(session_id, str):
            raise ValidationFailed("request body", [FieldError("sessionId", "required")])
        return (await engine.campaigns.advance(run_id, session_id)).model_dump(mode="json")


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
        template = await engine.publish_template(body)
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
