"""The control API's OpenAPI contract pieces shared by the routers: the error body
every error answers with, the error responses each route documents, the models of the
answers that are not records of the SDK, and request-body schemas for routes that read
their body themselves (to give errors in the SDK's words).

(No ``from __future__ import annotations``: FastAPI reads these models.)
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from encounters.difficulty import PlayerHistory
from encounters.memory.models import NPCMemory
from encounters.models.audit import AuditEntry
from encounters.models.common import Timestamp
from encounters.webhooks.models import Webhook

#: Component schemas the request bodies below refer to; create_app adds them to the
#: OpenAPI document.
COMPONENTS: dict[str, Any] = {}


class ErrorDetail(BaseModel):
    message: str
    #: One line per problem, naming the field (``objectives[1].quantity: ...``).
    errors: list[str]


class ErrorResponse(BaseModel):
    """What every error answers: ``{"error": {"message", "errors"}}``."""

    error: ErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


#: The errors every authenticated route may answer.
ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("No valid key: `Authorization: Bearer <key>`"),
    403: _error("The key's role may not do this"),
    404: _error("Not found, or owned by someone else"),
    409: _error("Conflicts with the current state, or the id belongs to someone else"),
    413: _error("The request body is larger than the limit"),
    422: _error("The request is not valid; `errors` names each field"),
    503: _error("The store could not be read or written; try again"),
}
#: The routes that dispatch to a game server: nothing stored, try again later.
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: _error(
        "Nothing was stored or sent: the game server has not acknowledged the most "
        "dispatches its link keeps (it is away), or the store failed"
    ),
}
#: Ending a session (never refused for a full backlog: see ``bounded`` in the edge).
NOT_ENDED: dict[int | str, dict[str, Any]] = {
    503: _error(
        "The session was not ended: the store failed (try again); with several daemon "
        "nodes, the node holding the game server's link may have ended it before it "
        "stopped answering (end it again to find out)"
    ),
}


def body_of(model: type[BaseModel], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` (less the ``drop`` fields) as the JSON
    request body of a route that validates its body itself."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    COMPONENTS.update(schema.pop("$defs", {}))
    for name in drop:
        schema.get("properties", {}).pop(name, None)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


class Health(BaseModel):
    status: str
    links: int


class Submitted(BaseModel):
    id: str
    status: str
    reasons: list[str]


class Approval(BaseModel):
    #: The deploy token: shown once, spawns once.
    token: str
    ttl: float


class Spawned(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sessionId: str
    status: str


class ActionResult(BaseModel):
    action_id: str | None
    decision: str
    reason: str | None
    errors: list[str]
    retry_after: float | None


class Signalled(BaseModel):
    results: list[ActionResult]


class Summary(BaseModel):
    session_id: str
    persona_id: str
    world: str
    server_id: str
    duration_seconds: float
    actions_sent: int
    actions_blocked: int
    actions_done: int
    actions_failed: int
    events: int


class Ended(BaseModel):
    summary: Summary
    replay: list[AuditEntry]


class Ok(BaseModel):
    ok: bool


class TemplateId(BaseModel):
    id: str


class Secret(BaseModel):
    secret: str


class ApiKeyView(BaseModel):
    """A control-API key's record, never its secret or hash."""

    id: str
    name: str
    role: str
    created_at: Timestamp
    revoked_at: Timestamp | None = None


class WorldKeyView(BaseModel):
    """A world key's record, never its secret or hash."""

    id: str
    name: str
    world: str
    server_ids: list[str]
    created_at: Timestamp
    revoked_at: Timestamp | None = None
    #: Set when it was just revoked: how many live links that closed.
    links_closed: int | None = None


class Registered(Webhook):
    """A webhook as registered, with its signing secret (shown this once)."""

    secret: str


class Remembered(BaseModel):
    """A memory found by retrieval, with the parts of its score."""

    kind: str
    at: datetime
    text: str
    importance: float
    recency: float
    relevance: float
    score: float


class MemoryView(BaseModel):
    profile: NPCMemory
    memories: list[Remembered]
    #: The memory as a prompt section, for an NPC's next line.
    context: str


class DifficultyView(BaseModel):
    difficulty: float
    history: PlayerHistory


def answer_of(
    model: type[BaseModel], *, many: bool = False, hide: tuple[str, ...] = ()
) -> dict[int | str, dict[str, Any]]:
    """``responses`` declaring a 200 answer of ``model`` dumped with its field names
    (``model_dump(mode="json")``, not its aliases), or a list of them; ``hide`` names
    fields left out. Its component schemas end in ``Record``."""
    schema = model.model_json_schema(by_alias=False, mode="serialization",
                                     ref_template="#/components/schemas/{model}Record")  # fmt: skip
    for name, component in schema.pop("$defs", {}).items():
        COMPONENTS[f"{name}Record"] = component
    for name in hide:
        schema.get("properties", {}).pop(name, None)
    if many:
        schema = {"type": "array", "items": schema}
    return {200: {"description": "Successful Response",
                  "content": {"application/json": {"schema": schema}}}}  # fmt: skip
