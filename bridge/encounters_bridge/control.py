"""The HTTP control API (FastAPI; Swagger UI at ``/docs``, served offline).
:func:`create_app` composes one router per resource (``encounters_bridge.routes``);
another module adds its routes with one more ``include_router`` line there:

- ``personas``: ``POST /personas/submit`` (creator or admin) -> ``{id, status,
  reasons}``; ``POST /personas/{id}/approve`` (admin) -> ``{token, ttl}`` (a
  single-use token); ``POST /personas/{id}/reject`` (admin); ``GET /personas``,
  ``GET /personas/{id}`` (admin, or the persona's creator)
- ``sessions``: ``POST /spawn`` -> ``{sessionId, status}``; ``POST /signal`` ->
  per-action results; ``POST /session/{id}/end`` -> ``{summary, replay}``;
  ``GET /session/{id}``, ``GET /session/{id}/replay``
- the studio's flow: ``POST /personas/screen`` (the persona screen, nothing saved);
  ``GET /worlds/servers``, ``GET /worlds/catalog``, ``POST /deploys``,
  ``GET /deploys[/{id}]`` (a deploy walks queued -> spawning -> live);
  ``GET /moderation/queue``, ``POST /moderation/queue/{id}/approve|reject`` (admin);
  ``GET /session/{id}/stream`` (server-sent events), ``GET /session/{id}/items``,
  ``POST /session/{id}/pause|resume``
- ``keys`` (admin): ``GET /admin/world-keys``, ``POST /admin/world-keys/{id}/revoke``
  (closes the key's live links at once), ``GET /admin/api-keys``,
  ``POST /admin/api-keys/{id}/revoke``
- ``metrics``: ``GET /metrics`` (Prometheus text, admin key); ``GET /health`` (no key)
- ``audio``: ``GET /audio/{key}.wav?exp=&sig=`` (no key: a signed, expiring link from a
  voiced ``chat`` action)
- with an engine: ``content`` (encounters, templates and sessions: ``ae deploy``,
  ``ae test --url``), ``players`` (``POST /generate``, ``GET /difficulty/{player}``,
  ``GET|POST /memory/{npc}/{player}``, campaigns and campaign runs), ``webhooks``
  (admin), ``analytics`` and ``market`` (the marketplace: ``/market/listings``,
  ``/market/search``, ratings, reports, installs, bundles and Character Cards)

Keys go in ``Authorization: Bearer <key>``: they are checked, and the body limit
enforced, before a request body is read (``gate.py``); what each role may do is
decided in ``routes/auth.py`` and who owns what in ``tenancy.py``. Request bodies are
validated (errors name the field); errors come back as ``{"error": {"message",
"errors"}}`` with a proper status, never a stack trace.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from encounters.campaigns import CampaignError
from encounters.engine import Engine
from encounters.errors import (
    EncountersError,
    IllegalTransition,
    NotFound,
    ObjectiveLocked,
    ObjectivesIncomplete,
    SessionNotActive,
    StoreCorrupt,
    StoreError,
    StoreValueRefused,
    TemplateError,
    ValidationFailed,
)
from encounters.i18n.translate import TranslationError
from encounters.log import get_logger
from encounters.marketplace import MarketError
from encounters.templates.library import TemplateLibrary
from encounters.validation import format_path

from .deployment import BacklogRefused, DeploymentError, DeploymentService
from .deploys import Deploys
from .editor import editor_router
from .gate import MAX_BODY_BYTES, Gate
from .headers import SecurityHeaders, content_security_policy
from .links import LinkBacklogFull
from .play import mount_play
from .routes import (
    analytics,
    audio,
    auth,
    content,
    keys,
    live,
    market,
    metrics,
    personas,
    players,
    queue,
    screening,
    sessions,
    translate,
    webhooks,
)
from .routes import deploys as deploy_routes
from .routes.schemas import COMPONENTS, Health
from .studio import mount_studio
from .telemetry import RequestTimer, Telemetry
from .tenancy import Tenancy

log = get_logger(__name__)


def _error(status: int, message: str, errors: list[str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "errors": errors or []}}, status)


def create_app(
    service: DeploymentService,
    engine: Engine | None = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The control API over ``service``; with an ``engine`` (sharing the store) also
    the content, player, webhook and analytics routes. Every request passes the
    :class:`~encounters_bridge.gate.Gate` first: the key is checked and the body
    limit (``max_body_bytes``) enforced before a body is read."""
    app = FastAPI(title="AI Encounters bridge", version="1", docs_url=None, redoc_url=None,
                  description=API_DESCRIPTION)  # fmt: skip
    app.add_middleware(Gate, store=service.records, max_body_bytes=max_body_bytes)
    telemetry = Telemetry(service)
    app.add_middleware(RequestTimer, telemetry=telemetry)  # times refusals too
    app.add_middleware(SecurityHeaders)  # outermost: on refusals too (headers.py)
    _error_handlers(app)
    _docs(app)

    @app.get("/health", tags=["health"])
    async def health() -> Health:
        return Health(status="ok", links=len(service.edge.connections))

    app.include_router(personas.router(service))
    app.include_router(sessions.router(service))
    app.include_router(keys.router(service))
    deploys = Deploys(service)  # the studio's persona, deploy, queue and live pages
    app.include_router(screening.router(service))
    app.include_router(deploy_routes.router(service, deploys))
    app.include_router(queue.router(service, deploys))
    app.include_router(live.router(service))
    app.include_router(audio.router(service))
    if engine is not None:
        service.notify.append(engine.notify)  # persona and companion events -> webhooks
        builtin = frozenset(t.id for t in TemplateLibrary.builtin().list())
        tenancy = Tenancy(engine.store, builtin)
        app.include_router(content.router(engine, tenancy))
        app.include_router(players.router(engine, tenancy))
        app.include_router(webhooks.router(engine))
        app.include_router(analytics.router(engine, tenancy))
        app.include_router(market.router(engine, tenancy, service))
        app.include_router(translate.router(engine))
        app.include_router(
            editor_router(engine, tenancy, auth.caller, auth.admin)
        )  # the studio's API
    app.include_router(metrics.router(telemetry, engine))
    mount_studio(app)  # the web studio at /studio (studio.py)
    mount_play(app, service)  # the web world at /play/{server} (play.py)
    return app


API_DESCRIPTION = """The AI Encounters daemon's control API. Every route but `/health`
and these docs needs `Authorization: Bearer <key>`: an admin or creator key
(`ae keys add`) or a game server's world key (`ae worlds add`); what each may do is
the role table in the README. Bodies over the limit (1 MiB by default) are answered
413 unread. Errors are `{"error": {"message", "errors"}}`."""


def _unreadable(exc: StarletteHTTPException) -> str | None:
    """What FastAPI's bare 400 "There was an error parsing the body" was about, said
    so the caller can fix it: a body that is not UTF-8, or JSON nested past what
    Python's parser reads (``json.loads`` raises neither as a decode error)."""
    cause = exc.__cause__
    if exc.status_code != 400:
        return None
    if isinstance(cause, UnicodeDecodeError):
        return (f"the request body is not UTF-8 (byte {cause.object[cause.start]:#04x} at "
                f"offset {cause.start}); send JSON as UTF-8 text")  # fmt: skip
    if isinstance(cause, RecursionError):
        return ("the request body nests objects and lists too deeply to be read; no "
                "request of this API needs more than a few levels")  # fmt: skip
    return None


def _docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` from the files the ``fastapi-offline`` package ships
    (Swagger UI 5, which reads the OpenAPI 3.1 document FastAPI makes; works offline),
    and the OpenAPI document with the component schemas request bodies refer to."""
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs/static", StaticFiles(directory=static), name="swagger-ui")

    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="AI Encounters bridge",
        swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="/docs/static/favicon.png",
        oauth2_redirect_url=None,
    )
    # the page starts Swagger UI from one inline script: the policy allows it by its
    # hash (and nothing else inline)
    inline = re.findall(rb"<script>(.*?)</script>", page.body, re.S)
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in inline]
    policy = content_security_policy(scripts=hashes)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page.body, headers={"content-security-policy": policy})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)  # fmt: skip
            found = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, component in COMPONENTS.items():
                found.setdefault(name, component)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error_handlers(app: FastAPI) -> None:
    """Every error as ``{"error": {"message", "errors"}}`` with its status."""

    @app.exception_handler(ValidationFailed)
    async def _invalid(_: Request, exc: ValidationFailed) -> JSONResponse:
        return _error(422, f"invalid {exc.what}", [str(e) for e in exc.errors])

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        lines = []
        for e in exc.errors():
            if e["type"] == "json_invalid":  # where and what the parser tripped on
                lines.append(f"body: not JSON at character {e['loc'][-1]}: "
                             f"{e.get('ctx', {}).get('error', e['msg'])}")  # fmt: skip
                continue
            loc = e["loc"][1:] if e["loc"][:1] == ("body",) else e["loc"]
            lines.append(f"{format_path(loc) or 'body'}: {e['msg']}")
        return _error(422, "invalid request", lines)

    @app.exception_handler(StarletteHTTPException)  # also unknown paths and methods
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, _unreadable(exc) or str(exc.detail))
        response.headers.update(exc.headers or {})  # Allow on 405, WWW-Authenticate on 401
        return response

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(DeploymentError)
    async def _conflict(_: Request, exc: DeploymentError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(LinkBacklogFull)  # a dispatch not wrapped by the service
    async def _backlog(_: Request, exc: LinkBacklogFull) -> JSONResponse:
        return _error(503, str(BacklogRefused(exc)))

    @app.exception_handler(MarketError)
    async def _market(_: Request, exc: MarketError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(EncountersError)
    async def _other(_: Request, exc: EncountersError) -> JSONResponse:
        conflict = (
            IllegalTransition,
            ObjectiveLocked,
            ObjectivesIncomplete,
            SessionNotActive,
            CampaignError,
        )
        if isinstance(exc, conflict):
            return _error(409, str(exc))
        if isinstance(exc, TemplateError):
            return _error(422, str(exc))
        if isinstance(exc, TranslationError):  # the model failed, not the caller
            return _error(502, str(exc))
        if isinstance(exc, StoreValueRefused):  # the caller's value, not the daemon
            return _error(422, "a value in this request cannot be stored (PostgreSQL "
                          "keeps no NUL character, U+0000, in text); remove control "
                          "characters from the ids and text you send")  # fmt: skip
        if isinstance(exc, StoreError):  # the daemon's own trouble: its paths stay here
            log.error("control.store_failed", error=repr(exc))
            if isinstance(exc, StoreCorrupt):  # trying again will not help
                return _error(500, "the store is damaged: the daemon's log says where and "
                                   "how to recover")  # fmt: skip
            return _error(503, "the store could not be read or written; try again")
        return _error(400, str(exc))
