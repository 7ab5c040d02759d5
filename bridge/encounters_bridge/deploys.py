"""Deploys: a creator's request to put a persona on one linked game server, walked to a
live companion by the daemon itself.

A creator asks (``request``): the persona must be theirs and not rejected, and the
server must be linked now. The request waits (``queued``) for an admin's approval in
the moderation queue; the approval (``approved``) issues the single-use deploy token
and spends it at once on the spawn, so the token never leaves the daemon
(``spawning``); the game's first ``spawned`` event makes the session ``live``.
Failures are states too: the persona rejected (by moderation or the admin, with the
reasons), the server offline when the spawn is due, or the game giving up on the spawn
(a final ``kicked`` before ``spawned``, with the adapter's reason).

Requests are documents in the store (kind ``deploy``), so they survive a restart; the
state shown is worked out from the persona, the companion session and its audit log
each time it is read, never kept twice. A persona has at most one request waiting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from encounters.errors import NotFound, ValidationFailed
from encounters.models import utcnow
from encounters.models.common import Timestamp, new_id
from encounters.models.deployment import CompanionSession, Location

from .deployment import DeploymentError, DeploymentService

KIND = "deploy"
DeployState = Literal["queued", "spawning", "live", "ended", "failed"]
World = Literal["gmod", "minecraft", "web"]


class DeployRequest(BaseModel):
    """What was asked, and what came of it so far (``session_id`` once spawned,
    ``failure`` once it failed before a spawn)."""

    id: str
    persona_id: str
    creator_id: str
    world: World
    server_id: str
    location: Location = Location()
    requested_at: Timestamp = Field(default_factory=utcnow)
    session_id: str | None = None
    failure: str | None = None
    #: the admin's note with the approval or rejection
    note: str | None = None


class DeployView(BaseModel):
    """A request with its state now: ``step`` says in words what the daemon is doing or
    waiting for; ``reason`` why it failed."""

    id: str
    persona_id: str
    persona_name: str
    world: World
    server_id: str
    state: DeployState
    step: str
    reason: str | None = None
    session_id: str | None = None
    note: str | None = None
    requested_at: Timestamp


class LinkedServer(BaseModel):
    """A game server that has linked to this daemon; ``online``: linked now."""

    world: str
    server_id: str
    online: bool
    capabilities: list[str]


class Deploys:
    """Deploy requests over ``service`` (see the module)."""

    def __init__(self, service: DeploymentService) -> None:
        self.service = service
        self.store = service.store

    def servers(self) -> list[LinkedServer]:
        """The game servers whose links this daemon holds in memory: those linked now
        (``online``) and those gone for less than ``idle_link_ttl`` (their links leave
        memory then, and the list with them: it follows the live links, not every game
        server ever seen, which the store keeps)."""
        edge = self.service.edge
        out = []
        for (world, server_id), link_id in sorted(edge.by_server.items()):
            out.append(LinkedServer(
                world=world, server_id=server_id, online=link_id in edge.connections,
                capabilities=list(edge.capabilities(link_id) or []),
            ))  # fmt: skip
        return out

    def online(self, world: str, server_id: str) -> bool:
        link_id = self.service.edge.by_server.get((world, server_id))
        return link_id is not None and link_id in self.service.edge.connections

    async def request(
        self, persona_id: str, creator_id: str, world: World, server_id: str, location: Location
    ) -> DeployRequest:
        """A new request (the caller has checked the persona is the creator's): 409
        when the persona was rejected, the server is not linked now, or another
        request for the persona waits already."""
        record = await self.service.persona(persona_id)
        if record.status == "rejected":
            raise DeploymentError(
                f"persona {record.persona.name!r} was rejected by moderation: "
                f"{'; '.join(record.reasons)}; change it and submit it again"
            )
        if not self.online(world, server_id):
            raise DeploymentError(
                f"server offline: no {world} server {server_id!r} is linked to this daemon "
                "now; start it (or its adapter) and deploy again"
            )
        waiting = await self.waiting(persona_id)
        if waiting is not None:
            raise DeploymentError(
                f"persona {record.persona.name!r} has a deploy waiting for approval already "
                f"({waiting.id})"
            )
        request = DeployRequest(id=new_id("deploy"), persona_id=persona_id,
                                creator_id=creator_id, world=world, server_id=server_id,
                                location=location)  # fmt: skip
        await self.store.save_document(KIND, request.id, request)
        return request

    async def get(self, deploy_id: str) -> DeployRequest:
        found = await self.store.get_document(KIND, deploy_id, DeployRequest)
        if found is None:
            raise NotFound(f"no deploy with id {deploy_id!r}")
        return found

    async def all(self) -> list[DeployRequest]:
        found = await self.store.list_documents(KIND, DeployRequest)
        return sorted(found, key=lambda r: r.requested_at)

    async def waiting(self, persona_id: str) -> DeployRequest | None:
        """The persona's request not yet spawned nor failed, if any."""
        return (await self.all_waiting()).get(persona_id)

    async def all_waiting(self) -> dict[str, DeployRequest]:
        """Requests not yet spawned nor failed, by persona (one read of every request:
        fine for a studio's few hundred; a busy platform would index them)."""
        return {r.persona_id: r for r in await self.all() if not r.session_id and not r.failure}

    async def _save(self, request: DeployRequest) -> DeployRequest:
        await self.store.save_document(KIND, request.id, request)
        return request

    async def approved(self, persona_id: str, token: str, note: str | None) -> DeployRequest | None:
        """The persona was just approved with ``token``: spawn its waiting request with
        it (the token is spent there). Returns that request, spawned or failed (server
        offline, or the spawn refused), or None when none waits."""
        request = await self.waiting(persona_id)
        if request is None:
            return None
        request = request.model_copy(update={"note": note})
        if not self.online(request.world, request.server_id):
            return await self._save(request.model_copy(update={
                "failure": f"server offline: {request.world} server {request.server_id!r} "
                           "went away before the spawn; deploy again when it is back",
            }))  # fmt: skip
        try:
            session = await self.service.spawn(
                persona_id, token, request.world, request.server_id, request.location.model_dump()
            )
        except (DeploymentError, ValidationFailed) as exc:  # the token stays unused
            return await self._save(request.model_copy(update={"failure": f"spawn refused: {exc}"}))
        return await self._save(request.model_copy(update={"session_id": session.id}))

    async def rejected(self, persona_id: str, note: str) -> DeployRequest | None:
        """The admin turned the persona (or its redeploy) down: its waiting request
        fails with the note."""
        request = await self.waiting(persona_id)
        if request is None:
            return None
        return await self._save(request.model_copy(update={
            "note": note, "failure": f"rejected by moderation: {note}",
        }))  # fmt: skip

    async def view(self, request: DeployRequest) -> DeployView:
        """The request's state now (see the module)."""
        record = await self.service.persona(request.persona_id)
        state: DeployState
        reason = None
        if request.failure:
            state, step, reason = "failed", "failed before the spawn", request.failure
        elif request.session_id is None:
            if record.status == "rejected":
                state, step = "failed", "moderation rejected the persona"
                reason = f"rejected by moderation: {'; '.join(record.reasons)}"
            elif record.status == "pending_moderation":
                state, step = "queued", "moderation pending: waiting for an admin's approval"
            else:  # approved before, but tokens are single-use: this spawn needs its own
                state, step = "queued", "waiting for an admin to approve this deploy"
        else:
            session = await self.service.companion(request.session_id)
            state, step, reason = await self._session_state(session)
        return DeployView(
            id=request.id, persona_id=request.persona_id, persona_name=record.persona.name,
            world=request.world, server_id=request.server_id, state=state, step=step,
            reason=reason, session_id=request.session_id, note=request.note,
            requested_at=request.requested_at,
        )  # fmt: skip

    async def _session_state(
        self, session: CompanionSession
    ) -> tuple[DeployState, str, str | None]:
        if session.status == "spawning":
            if not self.online(session.world, session.server_id):
                return ("spawning", f"server offline: the spawn waits for {session.server_id} "
                        "to link again", None)  # fmt: skip
            return "spawning", "approved; spawn sent, waiting for the game to spawn it", None
        if session.status == "live":
            return "live", f"live on {session.world} server {session.server_id}", None
        if session.entity is None:  # ended before the game ever spawned it
            return "failed", "the game could not spawn it", await self._spawn_failure(session.id)
        return "ended", "the session has ended", None

    async def _spawn_failure(self, session_id: str) -> str:
        """The adapter's reason from the session's last ``kicked`` event."""
        for entry in reversed(await self.service.audit.replay(session_id)):
            data = entry.input if isinstance(entry.input, dict) else {}
            if entry.kind == "event" and data.get("type") == "kicked":
                hint = f" ({data['hint']})" if data.get("hint") else ""
                said = str(data.get("reason") or "no reason given")
                return f"{'' if said.startswith('spawn failed') else 'spawn failed: '}{said}{hint}"
        return "spawn failed: the session ended before the game spawned the companion"


__all__ = ["DeployRequest", "DeployView", "Deploys", "LinkedServer"]
