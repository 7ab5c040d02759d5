"""The deployment flow of the original design:

submit (persona moderated, ``pending_moderation``) -> approve (admin; a single-use
deploy token with a time to live, revoking any earlier one) or reject (admin) -> spawn
(world, server, location: a ``spawn`` dispatch to that server's link) -> signal
(batches of actions, each moderated at the edge) -> end (a ``despawn``, a summary and
the replay from the audit log).

Everything is in the store (personas, token hashes, companion sessions, link state), so
a daemon restart loses none of it: live sessions are handed back to their game server
in its next ``ready``.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from encounters.errors import EncountersError, FieldError, NotFound, ValidationFailed
from encounters.log import get_logger
from encounters.models import utcnow
from encounters.models.common import new_id, new_ids
from encounters.models.deployment import (
    CompanionChange,
    CompanionSession,
    Location,
    PersonaRecord,
)
from encounters.models.persona import PersonaCore
from encounters.moderation import AuditLogger, ContentModerator
from encounters.storage import WriteBatch
from encounters.storage.protocols import AuditLog, DeploymentStore, DocumentStore
from encounters.validation import unsafe_text_errors, validate_model

from .cluster.routing import DispatchUncertain
from .frames import Frame
from .keys import digest
from .links import LinkBacklogFull
from .screening import screen
from .server import BridgeEdge, Connection, EventRefused
from .store.models import DeployToken, server_tag
from .store.protocols import BridgeStore
from .worlds import DEFAULT_SPAWN

if TYPE_CHECKING:
    from encounters.companion import CompanionHost
    from encounters.voice import VoiceService

    from .audio import AudioLinks

log = get_logger(__name__)
TOKEN_PREFIX = "deploy_"
#: Persona fields only the server sets, in both spellings, with their defaults: a
#: submit giving another value is refused (``PersonaCore().model_dump()`` passes).
SERVER_OWNED: dict[str, Any] = {"reputation": 50.0, "deployment_history": [],
                                "deploymentHistory": [], "created_at": None,
                                "createdAt": None}  # fmt: skip


class DeploymentError(EncountersError):
    """A step of the flow is not allowed now; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class BacklogRefused(DeploymentError):
    """A spawn or signal refused because the game server's link has as many
    dispatches waiting for its acknowledgement as the daemon keeps
    (:class:`~.links.LinkBacklogFull`): answered 503; nothing of it was stored."""

    def __init__(self, full: LinkBacklogFull, spent: bool = False) -> None:
        # the numbers (how many wait, the daemon's bound) are for the daemon's log, not
        # for every API caller
        message = (
            f"the {full.world} server {full.server_id!r} is away or not reading its link: "
            "it has not acknowledged the dispatches already waiting for it, so nothing "
            "more is queued for it and nothing of this request was stored; "
        )
        message += (
            "the deploy token was used: approve the persona again, and spawn once the "
            "game server is back"
            if spent
            else "try again once it is back"
        )
        super().__init__(message, 503)
        self.full = full


def new_deploy_token() -> str:
    return f"{TOKEN_PREFIX}{secrets.token_urlsafe(24)}"


class DeploymentRecords(DeploymentStore, AuditLog, DocumentStore, Protocol):
    """What the deployment flow keeps in the SDK store: personas, companion sessions,
    their audit entries, and deploy requests (documents)."""

    #: other daemon nodes change the same records (see :class:`DeploymentService`)
    shared_by_nodes: bool


class DeploymentService:
    """Personas from submission to live companions. ``store`` holds the SDK's records;
    the daemon's own (deploy tokens, links) are in ``edge.store``, in the same
    database.

    Several daemon nodes on one store (``store.shared_by_nodes``): personas and
    companion sessions are read from the store each time instead of this process's
    cache (another node may have approved, ended or counted since); counters and
    status changes are made by the store to the row as it is at commit
    (:class:`~encounters.models.deployment.CompanionChange`), and a deploy token is used up by
    one atomic delete, so two nodes never spawn with one token."""

    def __init__(
        self,
        store: DeploymentRecords,
        moderator: ContentModerator,
        edge: BridgeEdge,
        *,
        token_ttl: float = 3600.0,
    ) -> None:
        self.store = store
        self.records: BridgeStore = edge.store
        self.moderator = moderator
        self.edge = edge
        self.token_ttl = token_ttl
        self.audit = moderator.audit or AuditLogger(store)
        edge.on_event.append(self.handle_event)
        edge.on_link.append(self.know_sessions)
        edge.sessions_for = self.sessions_for
        #: write-through caches: this service is the only writer of personas and
        #: companion sessions, so a signal reads neither from the store
        self._persona_cache: dict[str, PersonaRecord] = {}
        self._companions: dict[str, CompanionSession] = {}
        #: with other nodes writing, the caches are never read as the truth
        self.shared = store.shared_by_nodes
        #: called with (event type, data) after each step of the flow (webhooks)
        self.notify: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []
        #: when set, game events drive each live session's companion (its actions go
        #: through :meth:`signal`); ``ae bridge serve --script FILE`` sets it
        self.companions: CompanionHost | None = None
        #: the daemon's address as players' browsers reach it (``public_url``), when
        #: it is behind a reverse proxy: the web world's page links through it
        self.public_url: str | None = None
        #: set when the daemon stops: long-lived answers (the live streams) end
        self.closing = False
        #: when both are set, the chat lines of personas with a voice carry a signed
        #: link to their audio (made after moderation, see :meth:`_voiced`)
        self.voice: VoiceService | None = None
        self.audio_links: AudioLinks | None = None

    async def _notify(self, event_type: str, data: dict[str, Any]) -> None:
        for listener in self.notify:
            try:
                await listener(event_type, data)
            except Exception as exc:  # a listener never fails the flow
                log.warning("deployment.notify_failed", event_type=event_type, error=repr(exc))

    def _change(self, session: CompanionSession, change: CompanionChange) -> CompanionSession:
        """Make ``change`` to the cached companion session with no await between read
        and write, so counters updated by signals and game events at once are never
        lost here. The caller gives the same change to the store in its transaction
        (with other nodes, the stored row is the one that counts: see
        :meth:`_settled`)."""
        current = self._companions.get(session.id, session)
        updated = change.made_to(current)
        self._companions[session.id] = updated
        return updated

    def _settled(self, change: CompanionChange, cached: CompanionSession) -> CompanionSession:
        """The session as the store wrote it (``cached`` if the store had none), kept in
        the cache in place of this process's own reckoning."""
        result = change.result or cached
        if change.session_id in self._companions:
            self._companions[change.session_id] = result
        return result

    # -- personas --------------------------------------------------------------------

    def check(self, data: dict[str, Any] | PersonaCore, creator_id: str) -> PersonaCore:
        """The persona ``data`` describes, validated: fields the server keeps
        (reputation, deployment history, creation time) set to anything but their
        defaults, text with control or invisible format characters, and unknown
        blocked topics are refused (``ValidationFailed``, 422). Its id is always a new
        one of ours (a client's id could take over a persona)."""
        raw = data.model_dump() if isinstance(data, PersonaCore) else dict(data)
        owned = [FieldError(k, "is kept by the server; leave it out")
                 for k, v in raw.items() if k in SERVER_OWNED and v != SERVER_OWNED[k]]  # fmt: skip
        unsafe = unsafe_text_errors(raw)
        if owned or unsafe:
            raise ValidationFailed("persona", owned + unsafe)
        raw["creator_id"] = creator_id
        raw["id"] = new_id("persona")
        persona = validate_model(PersonaCore, raw, "persona")
        unknown = [t for t in persona.safety.blocked_topics if t not in self.moderator.topics]
        if unknown:
            raise ValidationFailed("persona", [
                FieldError("safety.blocked_topics", f"unknown topic {t!r}; known topics: "
                           f"{', '.join(self.moderator.topics)}") for t in unknown
            ])  # fmt: skip
        return persona

    async def submit(self, data: dict[str, Any] | PersonaCore, creator_id: str) -> PersonaRecord:
        """Validate (:meth:`check`) and moderate a persona: creator-written text that
        fails the persona screen (``screening.screen``: any built-in topic, any
        profanity) in any field rejects it, with the reasons kept."""
        persona = self.check(data, creator_id)
        reasons = [f.why() for f in screen(self.moderator, persona) if f.decision == "block"]
        record = PersonaRecord(persona=persona,
                               status="rejected" if reasons else "pending_moderation",
                               reasons=reasons)  # fmt: skip
        await self.store.save_persona(record)
        self.moderator.counters.count("persona", "block" if reasons else "allow")
        await self.audit.record(
            "persona",
            "block" if reasons else "allow",
            input=persona.model_dump(mode="json"),
            reason="; ".join(reasons) or None,
            persona_id=persona.id,
        )
        await self._notify("persona.rejected" if reasons else "persona.submitted", {
            "persona_id": persona.id, "name": persona.name, "creator_id": creator_id,
            "reasons": reasons,
        })  # fmt: skip
        return record

    async def persona(self, persona_id: str) -> PersonaRecord:
        cached = None if self.shared else self._persona_cache.get(persona_id)
        record = cached or await self.store.get_persona(persona_id)
        if record is None:
            raise NotFound(f"no persona with id {persona_id!r}")
        self._persona_cache[persona_id] = record
        return record

    async def approve(self, persona_id: str) -> tuple[str, float]:
        """Approve (admin) and issue a deploy token: ``(token, ttl seconds)``. The token
        is shown once (only its hash is kept), spawns once, and replaces any token an
        earlier approval issued."""
        record = await self.persona(persona_id)
        if record.status == "rejected":
            raise DeploymentError(
                f"persona {persona_id!r} was rejected: {'; '.join(record.reasons)}"
            )
        token = new_deploy_token()
        await self.records.save_deploy_token(DeployToken(
            token_hash=digest(token), persona_id=persona_id,
            expires_at=utcnow() + timedelta(seconds=self.token_ttl),
        ))  # fmt: skip
        record = record.model_copy(update={
            "status": "approved", "approved_at": record.approved_at or utcnow(),
            "token_hash": digest(token),
        })  # fmt: skip
        await self.store.save_persona(record)
        self._persona_cache[persona_id] = record
        await self._notify("persona.approved", {"persona_id": persona_id,
                                                "name": record.persona.name})  # fmt: skip
        return token, self.token_ttl

    async def reject(self, persona_id: str, reason: str) -> PersonaRecord:
        """Reject a pending persona (admin), with the reason kept; an approved one
        cannot be rejected (its sessions may be live): 409."""
        record = await self.persona(persona_id)
        if record.status == "approved":
            raise DeploymentError(f"persona {persona_id!r} is approved already")
        if record.status == "rejected":
            return record
        record = record.model_copy(update={"status": "rejected", "reasons": [reason],
                                           "token_hash": None})  # fmt: skip
        await self.store.save_persona(record)
        self._persona_cache[persona_id] = record
        self.moderator.counters.count("persona", "block")
        await self.audit.record("persona", "block", input={"persona_id": persona_id},
                                reason=reason, persona_id=persona_id)  # fmt: skip
        await self._notify("persona.rejected", {
            "persona_id": persona_id, "name": record.persona.name,
            "creator_id": record.persona.creator_id, "reasons": [reason],
        })  # fmt: skip
        return record

    # -- companion sessions ------------------------------------------------------------

    def spawn_location(self, location: dict[str, float] | None, world: str) -> Location:
        """``location`` as a :class:`Location` inside ``world``'s bounds, else
        ``ValidationFailed`` (422) naming the coordinate; none given: the world's
        :data:`~encounters_bridge.worlds.DEFAULT_SPAWN` (the origin elsewhere)."""
        given = location or DEFAULT_SPAWN.get(world, {})
        spawn_location = validate_model(Location, given, "spawn location")
        bound = self.moderator.out_of_bounds(spawn_location.model_dump(), world)
        if bound is not None:
            raise ValidationFailed("spawn location", [FieldError(f"spawnLocation.{bound[0]}",
                                                                 bound[1])])  # fmt: skip
        return spawn_location

    async def spawn(
        self,
        persona_id: str,
        token: str,
        world: str,
        server_id: str,
        location: dict[str, float] | None = None,
        *,
        language: str = "en",
    ) -> CompanionSession:
        """Spawn an approved persona on a connected game server, speaking ``language``
        (BCP 47). The deploy token is used up by a spawn that reaches a server (approve
        again for another)."""
        spawn_location = self.spawn_location(location, world)
        stored = await self.records.get_deploy_token(digest(token))
        if stored is None or stored.persona_id != persona_id:
            raise DeploymentError(
                "the deploy token is not valid for this persona: it was used or replaced by "
                "a newer approval, or never issued; approve the persona again for a new one",
                403,
            )  # fmt: skip
        if stored.expires_at <= utcnow():
            raise DeploymentError("the deploy token has expired; approve the persona again", 403)
        checked = await self.persona(persona_id)
        if checked.status != "approved":
            raise DeploymentError(f"persona {persona_id!r} is {checked.status}", 403)
        if not await self.edge.knows(world, server_id):
            raise DeploymentError(
                f"no {world} server {server_id!r} has connected to this daemon", 404
            )
        try:  # before the token is spent (the dispatch below is checked again)
            await self.edge.check_room(world, server_id, 1)
        except LinkBacklogFull as exc:
            raise BacklogRefused(exc) from None
        # used up here, with no await between the check and the change: two spawns
        # racing with one token cannot both pass
        record = self._persona_cache.get(persona_id, checked)
        if record.token_hash != stored.token_hash:
            raise DeploymentError(
                "the deploy token was used or replaced by a newer approval; "
                "approve the persona again for a new one", 403
            )  # fmt: skip
        if not await self.records.use_deploy_token(stored.token_hash):
            raise DeploymentError(
                "the deploy token was used by another spawn; approve the persona again "
                "for a new one", 403
            )  # fmt: skip
        record = record.model_copy(update={"token_hash": None})
        self._persona_cache[persona_id] = record
        await self.store.save_persona(record)
        session = CompanionSession(
            id=new_id("sess"), persona_id=persona_id, world=world,
            server_id=server_id, location=spawn_location, language=language,
        )  # fmt: skip
        self._companions[session.id] = session
        entry = self.audit.entry("event", "allow", input={"type": "spawn", "world": world,
                                 "server_id": server_id}, session_id=session.id,
                                 persona_id=persona_id)  # fmt: skip
        try:
            await self.edge.dispatch_many(world, server_id, [Frame(
                "dispatch", {"type": "spawn", "persona": self._persona_view(record.persona),
                             "location": session.location.model_dump()}, sid=session.id,
            )], also=WriteBatch(audit=[entry], companions=[session]))  # fmt: skip
        except LinkBacklogFull as exc:  # filled since the check above: the token is spent
            self._companions.pop(session.id, None)
            raise BacklogRefused(exc, spent=True) from None
        await self._notify("companion.spawned", {
            "session_id": session.id, "persona_id": persona_id, "world": world,
            "server_id": server_id,
        })  # fmt: skip
        return session

    @staticmethod
    def _persona_view(p: PersonaCore) -> dict[str, Any]:
        return {"id": p.id, "name": p.name, "avatar": p.embodiment.avatar,
                "emotes": p.embodiment.emotes, "traits": p.traits.model_dump()}  # fmt: skip

    async def companion(self, session_id: str) -> CompanionSession:
        cached = None if self.shared else self._companions.get(session_id)
        session = cached or await self.store.get_companion(session_id)
        if session is None:
            raise NotFound(f"no companion session with id {session_id!r}")
        self._companions[session_id] = session
        return session

    async def signal(self, session_id: str, actions: list[Any]) -> list[dict[str, Any]]:
        """Moderate each action at the edge and dispatch those allowed. Returns one
        result per action: ``{action_id, decision, reason, errors}``."""
        session = await self.companion(session_id)
        if session.status == "ended":
            raise DeploymentError(f"session {session_id!r} has ended")
        batch: list[Any] = [dict(raw) if isinstance(raw, dict) else raw for raw in actions[:100]]
        try:  # before moderation spends the persona's rate budget, an LLM or a voice
            # (room for the whole batch: how many moderation allows is not known yet)
            await self.edge.check_room(session.world, session.server_id, len(batch))
        except LinkBacklogFull as exc:
            raise BacklogRefused(exc) from None
        persona = (await self.persona(session.persona_id)).persona
        capabilities = await self.edge.server_capabilities(session.world, session.server_id)
        # ids for those sent without: one read of the random source for the batch
        unnamed = [a for a in batch if isinstance(a, dict) and not a.get("id")]
        for action, action_id in zip(unnamed, new_ids("act", len(unnamed)), strict=True):
            action["id"] = action_id
        decisions, entries = await self.moderator.decide_actions(
            batch, persona, capabilities=capabilities, session_id=session_id, world=session.world
        )
        language = getattr(session, "language", None) or "en"  # sessions that know theirs
        allowed = [d.action.model_dump(exclude_none=True)
                   for d in decisions if d.allowed and d.action is not None]  # fmt: skip
        if self._may_voice(persona):  # else no coroutine per action
            allowed = [await self._voiced(a, persona, language) for a in allowed]
        frames = [Frame("dispatch", {"type": "action", "action": a}, sid=session.id)
                  for a in allowed]  # fmt: skip
        sent, blocked = len(frames), len(decisions) - len(frames)
        counted = CompanionChange(
            session_id=session.id, add={"actions_sent": sent, "actions_blocked": blocked}
        )
        session = self._change(session, counted)
        # the audit entries, the dispatches and the counters: one transaction
        try:
            await self.edge.dispatch_many(
                session.world,
                session.server_id,
                frames,
                also=WriteBatch(audit=entries, changes=[counted]),
            )
        except DispatchUncertain as exc:  # several nodes: the holder died mid-write
            log.error("deployment.signal_uncertain", session_id=session_id, error=repr(exc))
            raise DeploymentError(
                "the daemon node holding this server's link stopped answering: the "
                "actions may still be sent (each once); read the session's replay "
                "before sending them again", 503,
            ) from exc  # fmt: skip
        except Exception as exc:  # nothing was written: none of these will be sent
            self._change(session, CompanionChange(
                session_id=session.id, add={"actions_sent": -sent, "actions_blocked": -blocked}
            ))  # fmt: skip
            if isinstance(exc, LinkBacklogFull):  # the game server is away
                raise BacklogRefused(exc) from None
            log.error("deployment.signal_not_written", session_id=session_id, error=repr(exc))
            raise DeploymentError(
                "the actions could not be stored, so none will be sent; try again", 503
            ) from exc
        self._settled(counted, session)
        results = [
            {"action_id": d.action.id if d.action else (
                a.get("id") if isinstance(a, dict) else None),
             "decision": d.decision, "reason": d.reason, "errors": list(d.errors),
             "retry_after": d.retry_after}
            for a, d in zip(batch, decisions, strict=True)
        ]  # fmt: skip
        return results

    async def _companion_signal(self, session_id: str, actions: list[Any]) -> None:
        """A companion's actions, as :meth:`signal`; refused for a full backlog
        quietly: the link logged the refusal once for the episode and counts it
        (``dispatches_refused``), and the companion goes on with the next event
        (the game server is away; its actions would be stale by the time it is back)."""
        with contextlib.suppress(BacklogRefused):
            await self.signal(session_id, actions)

    def _may_voice(self, persona: PersonaCore) -> bool:
        """Whether :meth:`_voiced` may add audio to this persona's lines (asked once
        per batch: without a voice it returns every action as it was)."""
        return not (persona.voice is None or self.voice is None or self.audio_links is None)

    async def _voiced(
        self, action: dict[str, Any], persona: PersonaCore, language: str
    ) -> dict[str, Any]:
        """A moderated action, with ``audio: {url, duration, content_type}`` added when
        it is a chat line of a persona with a voice. Only lines moderation allowed reach
        here, in their moderated form (masked words stay masked in the audio). When no
        engine speaks the line in time the line goes without audio: voice never holds
        up or blocks a chat."""
        voice, links = self.voice, self.audio_links
        if action.get("type") != "chat" or persona.voice is None or voice is None or links is None:
            return action
        from encounters.voice import SpeechFailed

        try:
            line = await voice.speak(str(action["message"]), persona.voice, language)
        except SpeechFailed as exc:
            log.warning("deployment.line_not_voiced", persona_id=persona.id, error=str(exc))
            return action
        return {**action, "audio": {"url": links.url(line.key),
                                    "duration": round(line.duration, 3),
                                    "content_type": line.content_type}}  # fmt: skip

    async def pause(self, session_id: str, paused: bool) -> CompanionSession:
        """Pause or resume a live companion's brain: game events are still recorded,
        actions sent by hand still go out. Kept in the session (every node, and a
        restarted daemon, see it)."""
        session = await self.companion(session_id)
        if paused and session.status == "ended":
            raise DeploymentError(f"session {session_id!r} has ended")
        change = CompanionChange(session_id=session.id, set={"paused": paused})
        session = self._change(session, change)
        await self.store.write_batch(WriteBatch(changes=[change]))
        return self._settled(change, session)

    async def end(self, session_id: str) -> dict[str, Any]:
        """Despawn and close the session; returns its summary and replay."""
        session = await self.companion(session_id)
        if session.status != "ended":
            at = utcnow()
            ending = CompanionChange(
                session_id=session.id,
                when_status=["spawning", "live"],
                set={"status": "ended", "ended_at": at.isoformat()},
            )
            session = self._change(session, ending)
            # beyond the link's bound: a session on a game server that never comes back
            # can still be ended (its companion closed), and a session has one despawn
            try:
                await self.edge.dispatch_many(session.world, session.server_id, [
                    Frame("dispatch", {"type": "despawn", "reason": "ended"}, sid=session.id)
                ], also=WriteBatch(changes=[ending]), bounded=False)  # fmt: skip
            except BaseException as exc:  # a cancelled request too
                # the cache said ended before the write: read the store again, which
                # knows (with several nodes, a holder that died may have written it)
                self._companions.pop(session_id, None)
                if not isinstance(exc, Exception):
                    raise
                log.error("deployment.end_not_written", session_id=session_id, error=repr(exc))
                if isinstance(exc, DispatchUncertain):
                    raise DeploymentError(
                        "the daemon node holding this server's link stopped answering: the "
                        "session may have ended; end it again to find out", 503,
                    ) from exc  # fmt: skip
                raise DeploymentError(
                    "the session could not be ended: nothing changed; try again", 503
                ) from exc
            session = self._settled(ending, session)
            self._companions.pop(session_id, None)  # read from the store from now on
            if self.companions is not None:
                await self.companions.end(session_id)
            if session.ended_at == at:  # ended by this call, not by another node meanwhile
                await self._notify("companion.ended", {
                    "session_id": session.id, "persona_id": session.persona_id,
                    "actions_sent": session.actions_sent,
                    "actions_blocked": session.actions_blocked,
                })  # fmt: skip
        replay = await self.audit.replay(session_id)
        assert session.ended_at is not None
        return {
            "summary": {
                "session_id": session.id, "persona_id": session.persona_id,
                "world": session.world, "server_id": session.server_id,
                "duration_seconds": (session.ended_at - session.started_at).total_seconds(),
                "actions_sent": session.actions_sent, "actions_blocked": session.actions_blocked,
                "actions_done": session.actions_done, "actions_failed": session.actions_failed,
                "events": session.events,
            },
            "replay": [e.model_dump(mode="json") for e in replay],
        }  # fmt: skip

    # -- from the games ----------------------------------------------------------------

    async def sessions_for(self, world: str, server_id: str) -> list[dict[str, Any]]:
        """Live sessions on a server, for its ``ready`` (after a daemon restart)."""
        out = []
        for s in await self._live_on(world, server_id):
            record = await self.store.get_persona(s.persona_id)
            if record is not None:
                out.append({"sid": s.id, "persona": self._persona_view(record.persona),
                            "location": s.location.model_dump()})  # fmt: skip
        return out

    @staticmethod
    def _counted(session_id: str, event: dict[str, Any], at: datetime) -> CompanionChange:
        """What an adapter event changes in its session."""
        kind = event.get("type")
        change = CompanionChange(session_id=session_id, add={"events": 1})
        if kind == "spawned":
            change.set = {"status": "live", "entity": str(event.get("entity"))[:64] or None}
            change.when_status = ["spawning"]
        elif kind == "action_done":
            change.add["actions_done"] = 1
        elif kind == "action_failed":
            change.add["actions_failed"] = 1
        elif kind == "kicked" and event.get("final") is True:
            # the game gave up on the companion (banned, whitelist, never joined)
            change.set = {"status": "ended", "ended_at": at.isoformat()}
            change.when_status = ["spawning", "live"]
        return change

    async def know_sessions(self, world: str, server_id: str) -> None:
        """A game server linked: its live sessions are known from now on, so events
        naming no session (a player joining) reach their companions at once, even
        right after a daemon restart."""
        await self._live_on(world, server_id)

    async def _live_on(self, world: str, server_id: str) -> list[CompanionSession]:
        """Sessions not ended on a server, loaded into the cache."""
        out = []
        for stored in await self.store.list_companions(world=world, server_id=server_id):
            if self.shared:
                self._companions[stored.id] = stored
            session = self._companions.setdefault(stored.id, stored)
            if session.status != "ended":
                out.append(session)
            else:
                self._companions.pop(stored.id, None)
        return out

    async def handle_event(self, conn: Connection, frame: Frame) -> None:
        """Record an adapter event and update the companion session it is about. An
        event may name only a session spawned on its own game server: any other
        ``sid`` is refused (``unknown_session``) and changes nothing."""
        d = frame.d
        session = None
        if frame.sid:
            try:
                session = await self.companion(frame.sid)
            except NotFound:
                session = None
            if session is None or (session.world, session.server_id) != (
                conn.world,
                conn.server_id,
            ):
                log.warning("deployment.event_foreign_session", sid=frame.sid,
                            world=conn.world, server_id=conn.server_id)  # fmt: skip
                raise EventRefused(
                    "unknown_session", f"no session {frame.sid!r} is live on this server"
                )
        entry = self.audit.entry(
            "event",
            "allow",
            input=d,
            session_id=session.id if session else None,
            persona_id=session.persona_id if session else None,
        )
        if session is None:
            await self.edge.record(conn, WriteBatch(audit=[entry]))
            if self.companions is not None:
                # an event for no session in particular (player_join): every live
                # companion on that game server hears it
                world, server_id = conn.world or "", conn.server_id or ""
                known = (await self._live_on(world, server_id) if self.shared
                         else list(self._companions.values()))  # fmt: skip
                for live in known:
                    here = (live.world, live.server_id) == (conn.world, conn.server_id)
                    if live.status != "ended" and here:
                        await self._to_companion(live, d)
            return
        counted = self._counted(session.id, d, at := utcnow())
        session = self._change(session, counted)
        try:
            await self.edge.record(conn, WriteBatch(audit=[entry], changes=[counted]))
        except Exception:  # not stored: the adapter sends the event again
            self._companions.pop(session.id, None)  # read from the store from now on
            raise
        session = self._settled(counted, session)
        if session.status == "ended" and session.ended_at == at:  # this event ended it
            self._companions.pop(session.id, None)  # read from the store from now on
            if self.companions is not None:
                await self.companions.end(session.id)
            await self._notify("companion.ended", {
                "session_id": session.id, "persona_id": session.persona_id,
                "actions_sent": session.actions_sent, "actions_blocked": session.actions_blocked,
                "reason": str(d.get("reason", ""))[:200],
            })  # fmt: skip
            return
        if self.companions is not None and session.status != "ended":
            await self._to_companion(session, d)

    async def _to_companion(self, session: CompanionSession, event: dict[str, Any]) -> None:
        """Give an event to its session's companion, in the background."""
        assert self.companions is not None
        if session.paused:  # heard (recorded), not answered
            return
        try:
            persona = (await self.persona(session.persona_id)).persona
        except NotFound:
            return
        self.companions.submit(
            session.id,
            persona,
            {**event, "sid": session.id},
            partial(self._companion_signal, session.id),
            session.world,
            session.language,
            # the game server's own memories: a persona deployed on several servers
            # does not carry what players said on one to another
            server_tag(session.world, session.server_id),
        )
