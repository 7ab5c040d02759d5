"""The studio's editor API (the design's section 4), typed and in the OpenAPI schema:

- ``POST /editor/validate`` -> ``{valid, errors: [{path, message}]}``: the server's
  validator (the one ``ae validate`` and publishing use), one ``path: message`` per problem
- ``POST /editor/preview``: play an encounter against the engine without touching real
  players' data. ``{"action": "start", "encounter": {...}}`` starts a test session in an
  in-memory scratch engine (its own store, no webhooks reach anyone); ``objective``,
  ``choice``, ``talk`` and ``finish`` steps play it; the answer is the session's state
- ``POST /editor/publish`` -> the stored encounter (validated first; 422 lists the errors)
- ``GET /editor/templates``, ``POST /editor/templates/{id}/render``: the gallery (the
  built-in templates and the caller's own; an admin's: all), and an encounter from one
  of them and its parameters (not stored: the editor opens it; another creator's
  template is 404, as on ``GET /templates``)
- drafts, one list per API key: ``GET /editor/drafts``, ``GET|PUT|DELETE
  /editor/drafts/{id}`` (the studio autosaves here). A draft is stored under its key's
  id, so only that key reads, changes or deletes it (admins included: drafts are
  private work, not published content)
- ``GET /editor/dashboard?days=7`` (admin): platform metrics, global analytics, sessions
  per day and the analytics of the most played encounters, for the dashboard's charts

Every route needs ``Authorization: Bearer <creator or admin key>``.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

import re
from collections import OrderedDict
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from encounters.analytics import EncounterAnalytics, GlobalStats
from encounters.engine import Engine
from encounters.errors import ValidationFailed
from encounters.generation.procedural import ProceduralGenerator
from encounters.models import utcnow
from encounters.models.encounter import EncounterSpec
from encounters.moderation.published import screen
from encounters.platform_metrics import PlatformMetrics, platform_metrics
from encounters.storage import MemoryStore
from encounters.validation import validate_model

from .routes.schemas import ERRORS
from .store.models import ApiKey
from .tenancy import Tenancy

#: Preview sessions kept per daemon; the oldest are forgotten beyond this. The scratch
#: engine's in-memory store is replaced by a fresh one every SCRATCH_SESSIONS starts.
MAX_PREVIEWS = 200
SCRATCH_SESSIONS = 1000
#: Drafts per API key.
MAX_DRAFTS = 100
#: How deep a draft's encounter may nest objects and lists (deeper could not be stored).
MAX_DRAFT_DEPTH = 32
_DRAFTS = "editor_draft"


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ValidateRequest(_Camel):
    encounter: dict[str, Any]


class ValidationIssue(BaseModel):
    path: str = Field(description="where, e.g. objectives[0].description ('' for the whole)")
    message: str


class ValidationResult(BaseModel):
    valid: bool
    errors: list[ValidationIssue]


class PublishRequest(_Camel):
    encounter: dict[str, Any]


class PublishResult(BaseModel):
    id: str
    encounter: dict[str, Any]


class PreviewStart(_Camel):
    action: Literal["start"]
    encounter: dict[str, Any]
    player: str = Field("preview-player", max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class PreviewObjective(_Camel):
    action: Literal["objective"]
    preview_id: str = Field(max_length=64)
    objective_id: str = Field(max_length=64)
    progress: int | None = None
    completed: bool | None = None


class PreviewChoice(_Camel):
    action: Literal["choice"]
    preview_id: str = Field(max_length=64)
    description: str = Field(min_length=1, max_length=300)
    option: str = Field(min_length=1, max_length=200)
    options: list[str] = Field(default=[], max_length=20)
    choice_id: str | None = Field(None, max_length=64, description="the encounter's choice")


class PreviewTalk(_Camel):
    action: Literal["talk"]
    preview_id: str = Field(max_length=64)
    npc_id: str = Field(max_length=64)
    line: str | None = Field(None, max_length=500)
    reply: str | None = Field(None, max_length=200, description="the player's answer")
    outcome: Literal["positive", "neutral", "negative"] = "neutral"


class PreviewFinish(_Camel):
    action: Literal["finish"]
    preview_id: str = Field(max_length=64)
    outcome: Literal["completed", "failed", "abandoned"] = "completed"
    reason: str | None = Field(None, max_length=300)


PreviewRequest = Annotated[
    PreviewStart | PreviewObjective | PreviewChoice | PreviewTalk | PreviewFinish,
    Field(discriminator="action"),
]


class PreviewObjectiveState(BaseModel):
    id: str
    description: str
    quantity: int
    progress: int
    completed: bool
    optional: bool
    waiting_for: list[str] = Field(
        serialization_alias="waitingFor",
        description="required objectives still open: until they are done this one is locked",
    )


class PreviewState(BaseModel):
    preview_id: str = Field(serialization_alias="previewId")
    status: str
    objectives: list[PreviewObjectiveState]
    can_complete: bool = Field(serialization_alias="canComplete")
    log: list[str] = Field(description="what happened, oldest first")
    session: dict[str, Any]


class TemplateParam(BaseModel):
    type: str
    description: str
    required: bool
    default: str | int | float | bool | None
    min: float | None
    max: float | None
    choices: list[str]


class TemplateSummary(BaseModel):
    id: str
    name: str
    category: str
    description: str
    difficulty: str
    estimated_duration: int
    tags: list[str]
    parameters: dict[str, TemplateParam]


class RenderRequest(_Camel):
    parameters: dict[str, Any] = {}


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) nests objects and lists deeper than ``limit``;
    walked with a stack, so any depth is measured without recursion."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


class Draft(_Camel):
    id: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    title: str = Field("", max_length=200)
    #: The encounter as the editor holds it (unfinished: not validated), nested at
    #: most MAX_DRAFT_DEPTH levels (a real encounter nests far less)
    encounter: dict[str, Any]
    layout: dict[str, dict[str, float]] = Field(
        default={}, description="node id -> {x, y} on the canvas"
    )
    updated_at: datetime | None = None

    @field_validator("encounter")
    @classmethod
    def _shallow(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _too_deep(value, MAX_DRAFT_DEPTH):
            raise ValueError(f"is nested deeper than {MAX_DRAFT_DEPTH} levels; an "
                             "encounter needs far fewer: check what the editor sent")  # fmt: skip
        return value


class DayPoint(BaseModel):
    day: date
    started: int
    completed: int
    failed: int
    abandoned: int
    success_rate: float | None


class Dashboard(BaseModel):
    days: float
    platform: PlatformMetrics
    global_stats: GlobalStats
    daily: list[DayPoint]
    encounters: list[EncounterAnalytics]
    titles: dict[str, str] = Field(description="encounter id -> title")


#: A message that starts with where it is about: ``objectives[1].requires[0]: ...``
_LEADING_PATH = re.compile(r"^([a-z_]+(?:\[\d+\])*(?:\.[a-z_]+(?:\[\d+\])*)*): (.+)$", re.S)


def _issues(exc: ValidationFailed) -> list[ValidationIssue]:
    """One issue per error. Checks that span fields (a dialogue link, a prerequisite)
    name their field at the start of the message; that part joins the path, so the
    studio can point at the node."""
    out = []
    for e in exc.errors:
        path, message = e.path, e.message
        found = _LEADING_PATH.match(message)
        if found:
            path = f"{path}.{found[1]}" if path else found[1]
            message = found[2]
        out.append(ValidationIssue(path=path, message=message))
    return out


class _Previews:
    """Preview sessions in a scratch engine: an in-memory store of its own, so no real
    player's history, analytics, difficulty or NPC memory is touched."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._scratch: Engine | None = None
        self._started = 0
        self._owners: OrderedDict[str, str] = OrderedDict()  # preview id -> key id
        self._logs: dict[str, list[str]] = {}

    async def scratch(self) -> Engine:
        if self._scratch is None or self._started >= SCRATCH_SESSIONS:
            settings = self._engine.settings.model_copy(update={"store": "memory"})
            fresh = Engine(
                settings,
                store=MemoryStore(),
                templates=self._engine.templates,
                generator=ProceduralGenerator(),
                moderator=self._engine.moderator,
            )
            await fresh.open()
            self._scratch, self._started = fresh, 0
            self._owners.clear()
            self._logs.clear()
        return self._scratch

    async def start(self, body: PreviewStart, key: ApiKey) -> PreviewState:
        spec = validate_model(EncounterSpec, body.encounter, "encounter")
        scratch = await self.scratch()
        session = await scratch.start_session(body.player, spec)
        self._started += 1
        self._owners[session.id] = key.id
        self._logs[session.id] = [f"started {spec.title!r} as {body.player}"]
        while len(self._owners) > MAX_PREVIEWS:
            old, _ = self._owners.popitem(last=False)
            self._logs.pop(old, None)
        return await self.state(session.id)

    def check(self, preview_id: str, key: ApiKey) -> Engine:
        if self._scratch is None or self._owners.get(preview_id) != key.id:
            raise HTTPException(404, f"no preview {preview_id!r} (start one with action 'start')")
        return self._scratch

    def note(self, preview_id: str, line: str) -> None:
        self._logs[preview_id].append(line)

    async def state(self, preview_id: str) -> PreviewState:
        assert self._scratch is not None
        session = await self._scratch.get_session(preview_id)
        objectives = []
        for o in session.encounter.objectives:
            progress = session.objectives.get(o.id)
            objectives.append(
                PreviewObjectiveState(
                    id=o.id,
                    description=o.description,
                    quantity=o.quantity,
                    optional=o.optional,
                    progress=progress.progress if progress else 0,
                    completed=bool(progress and progress.completed),
                    waiting_for=[r for r in o.requires if not session.objectives[r].completed],
                )
            )
        required_done = all(s.completed for s in objectives if not s.optional)
        return PreviewState(
            preview_id=session.id,
            status=session.status.value,
            objectives=objectives,
            can_complete=session.status.value == "active" and required_done,
            log=list(self._logs.get(preview_id, [])),
            session=session.model_dump(mode="json"),
        )


def _summary(template: Any) -> TemplateSummary:
    return TemplateSummary(
        id=template.id,
        name=template.name,
        category=str(template.category),
        description=template.description,
        difficulty=template.difficulty,
        estimated_duration=template.estimated_duration,
        tags=list(template.tags),
        parameters={
            name: TemplateParam(
                type=str(p.type),
                description=p.description,
                required=p.required,
                default=p.default,
                min=p.min,
                max=p.max,
                choices=list(p.choices),
            )
            for name, p in template.parameters.items()
        },
    )


def editor_router(engine: Engine, tenancy: Tenancy, caller: Any, admin: Any) -> APIRouter:
    """The editor routes over ``engine``; ``tenancy`` records who owns what is
    published; ``caller`` and ``admin`` are the API's key dependencies (any creator or
    admin key; an admin key)."""
    router = APIRouter(prefix="/editor", tags=["editor"], responses=ERRORS)
    previews = _Previews(engine)
    Caller = Annotated[ApiKey, Depends(caller)]

    @router.post("/validate")
    async def validate(body: ValidateRequest, _: Caller) -> ValidationResult:
        try:
            validate_model(EncounterSpec, body.encounter, "encounter")
        except ValidationFailed as exc:
            return ValidationResult(valid=False, errors=_issues(exc))
        return ValidationResult(valid=True, errors=[])

    @router.post("/preview")
    async def preview(body: PreviewRequest, key: Caller) -> PreviewState:
        if isinstance(body, PreviewStart):
            return await previews.start(body, key)
        scratch = previews.check(body.preview_id, key)
        pid = body.preview_id
        if isinstance(body, PreviewObjective):
            await scratch.update_objective(
                pid, body.objective_id, progress=body.progress, completed=body.completed
            )
            previews.note(pid, f"objective {body.objective_id} updated")
        elif isinstance(body, PreviewChoice):
            await scratch.record_choice(
                pid,
                body.description,
                body.option,
                available_options=body.options,
                choice_id=body.choice_id,
            )
            previews.note(pid, f"chose {body.option!r}: {body.description}")
        elif isinstance(body, PreviewTalk):
            session = await scratch.get_session(pid)
            npc = session.encounter.npc(body.npc_id)
            line = body.line or (npc.dialogue[0] if npc and npc.dialogue else None)
            await scratch.record_npc_interaction(
                pid,
                body.npc_id,
                outcome=body.outcome,
                dialogue=[line] if line else [],
                player_choices=[body.reply] if body.reply else [],
            )
            name = npc.name if npc else body.npc_id
            said = f"{name}: {line}" if line else f"talked to {name}"
            previews.note(pid, f"{said} / you: {body.reply}" if body.reply else said)
        else:
            if body.outcome == "completed":
                await scratch.complete_session(pid)
            elif body.outcome == "failed":
                await scratch.fail_session(pid, body.reason)
            else:
                await scratch.abandon_session(pid, body.reason)
            previews.note(pid, f"session {body.outcome}")
        return await previews.state(pid)

    @router.post("/publish", status_code=201)
    async def publish(body: PublishRequest, key: Caller) -> PublishResult:
        # the same rules as POST /encounters: moderated text, and an id another
        # creator owns is refused; the publisher owns what it publishes
        screen(engine.moderator, body.encounter, "encounter")
        checked = validate_model(EncounterSpec, body.encounter, "encounter")
        stored = await engine.store.get_encounter(checked.id)
        await tenancy.may_publish("encounter", checked.id, key, exists=stored is not None)
        spec = await engine.save_encounter(checked)
        await tenancy.record("encounter", spec.id, key)
        return PublishResult(id=spec.id, encounter=spec.model_dump(mode="json"))

    @router.get("/templates")
    async def templates(key: Caller) -> list[TemplateSummary]:
        # as GET /templates: the built-in ones and the caller's own (admins: all)
        return [_summary(t) for t in engine.templates.list()
                if await tenancy.mine("template", t.id, key)]  # fmt: skip

    @router.post("/templates/{template_id}/render")
    async def render(template_id: str, body: RenderRequest, key: Caller) -> dict[str, Any]:
        await tenancy.check("template", template_id, key)  # another's: 404
        spec = engine.templates.render(template_id, body.parameters)
        return spec.model_dump(mode="json")

    @router.get("/drafts")
    async def drafts(key: Caller) -> list[Draft]:
        found = await engine.store.list_documents(_DRAFTS, Draft, prefix=f"{key.id}/")
        return sorted(
            found, key=lambda d: d.updated_at or datetime.min.replace(tzinfo=UTC), reverse=True
        )

    @router.get("/drafts/{draft_id}")
    async def draft(draft_id: str, key: Caller) -> Draft:
        found = await engine.store.get_document(_DRAFTS, f"{key.id}/{draft_id}", Draft)
        if found is None:
            raise HTTPException(404, f"no draft {draft_id!r}")
        return found

    @router.put("/drafts/{draft_id}")
    async def save_draft(draft_id: str, body: Draft, key: Caller) -> Draft:
        if body.id != draft_id:
            raise HTTPException(422, "the draft's id must match the path")
        known = await engine.store.list_documents(_DRAFTS, Draft, prefix=f"{key.id}/")
        if len(known) >= MAX_DRAFTS and all(d.id != draft_id for d in known):
            raise HTTPException(409, f"at most {MAX_DRAFTS} drafts per key: delete some first")
        saved = body.model_copy(update={"updated_at": utcnow()})
        await engine.store.save_document(_DRAFTS, f"{key.id}/{draft_id}", saved)
        return saved

    @router.delete("/drafts/{draft_id}", status_code=204)
    async def delete_draft(draft_id: str, key: Caller) -> None:
        if not await engine.store.delete_document(_DRAFTS, f"{key.id}/{draft_id}"):
            raise HTTPException(404, f"no draft {draft_id!r}")

    @router.get("/dashboard", dependencies=[Depends(admin)])
    async def dashboard(days: Annotated[float, Query(gt=0, le=365)] = 7.0) -> Dashboard:
        await engine.analytics.flush()
        until = utcnow()
        since = until - timedelta(days=days)
        platform = await platform_metrics(engine.store, since, until)
        global_stats = await engine.analytics.global_stats(since)
        daily = await _daily(engine, since, until)
        encounters = []
        titles = {}
        for top in global_stats.top_encounters[:5]:
            encounters.append(await engine.analytics.encounter(top.encounter_id))
            spec = await engine.store.get_encounter(top.encounter_id)
            titles[top.encounter_id] = spec.title if spec else top.encounter_id
        return Dashboard(
            days=days,
            platform=platform,
            global_stats=global_stats,
            daily=daily,
            encounters=encounters,
            titles=titles,
        )

    return router


async def _daily(engine: Engine, since: datetime, until: datetime) -> list[DayPoint]:
    """Sessions started and finished per UTC day in ``[since, until)`` (at most the
    newest 5000 sessions are looked at)."""
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    days = {first + timedelta(days=i): [0, 0, 0, 0] for i in range((last - first).days + 1)}
    for s in await engine.list_sessions(limit=5000):
        if since <= s.created_at < until:
            days[s.created_at.astimezone(UTC).date()][0] += 1
        ended = s.ended_at
        if ended is not None and since <= ended < until:
            slot = {"completed": 1, "failed": 2, "abandoned": 3}.get(s.status.value)
            if slot:
                days[ended.astimezone(UTC).date()][slot] += 1
    points = []
    for day, (started, done, failed, abandoned) in sorted(days.items()):
        finished = done + failed + abandoned
        points.append(
            DayPoint(
                day=day,
                started=started,
                completed=done,
                failed=failed,
                abandoned=abandoned,
                success_rate=done / finished if finished else None,
            )
        )
    return points


__all__ = ["editor_router"]
