"""The deployment flow's records: submitted personas and companion sessions in game
worlds."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

from .common import STRICT, Id, Language, Timestamp, utcnow
from .persona import PersonaCore

PersonaStatus = Literal["pending_moderation", "rejected", "approved"]
CompanionStatus = Literal["spawning", "live", "ended"]


class PersonaRecord(BaseModel):
    """A submitted persona. ``pending_moderation`` means the automatic checks passed
    and an admin has yet to approve it; ``rejected`` (by moderation or an admin)
    carries the reasons. ``token_hash``: the hash of the one deploy token that may
    spawn it now (single-use; each approval replaces it)."""

    model_config = STRICT

    persona: PersonaCore
    status: PersonaStatus = "pending_moderation"
    reasons: list[str] = []
    submitted_at: Timestamp = Field(default_factory=utcnow)
    approved_at: Timestamp | None = None
    token_hash: Annotated[str, Field(max_length=128)] | None = None


class Location(BaseModel):
    model_config = STRICT

    x: Annotated[float, Field(allow_inf_nan=False)] = 0.0
    y: Annotated[float, Field(allow_inf_nan=False)] = 0.0
    z: Annotated[float, Field(allow_inf_nan=False)] = 0.0


class CompanionSession(BaseModel):
    """One persona spawned on one game server."""

    model_config = STRICT

    id: Id
    persona_id: Id
    world: Literal["gmod", "minecraft", "web"]
    server_id: Annotated[str, Field(min_length=1, max_length=64)]
    location: Location = Location()
    #: the players' language (BCP 47): the companion speaks it, moderation reads it
    language: Language = "en"
    status: CompanionStatus = "spawning"
    entity: Annotated[str, Field(max_length=64)] | None = None
    started_at: Timestamp = Field(default_factory=utcnow)
    ended_at: Timestamp | None = None
    #: its companion's brain stops reacting to the game (actions sent by hand still go)
    paused: bool = False
    actions_sent: Annotated[int, Field(ge=0)] = 0
    actions_blocked: Annotated[int, Field(ge=0)] = 0
    actions_done: Annotated[int, Field(ge=0)] = 0
    actions_failed: Annotated[int, Field(ge=0)] = 0
    events: Annotated[int, Field(ge=0)] = 0


Counter = Literal["actions_sent", "actions_blocked", "actions_done", "actions_failed", "events"]
Settable = Literal["status", "entity", "ended_at", "paused"]


class CompanionChange(BaseModel):
    """A change of one stored companion session, as data, made by the store to the row
    as it is when the change's batch commits (on PostgreSQL under the row's lock), so
    counts made by several daemon nodes at once all add up and a session one node
    ended stays ended. Data rather than code, so a node can hand it to the node that
    writes the batch. ``add`` increases counters; ``set`` sets fields (JSON values:
    ``ended_at`` as ISO text), and only while the stored session's status is one of
    ``when_status`` (when given)."""

    model_config = STRICT

    session_id: Id
    add: dict[Counter, int] = {}
    set: dict[Settable, str | bool | None] = {}
    when_status: list[CompanionStatus] | None = None
    _result: CompanionSession | None = PrivateAttr(None)

    def made_to(self, current: CompanionSession) -> CompanionSession:
        """``current`` with this change made. A change of counters alone (every signal
        and game event makes one, twice: in the cache and in the store's transaction)
        is a copy with the new counts, checked here (a count never goes below 0);
        anything else goes through the model's full validation."""
        if not self.set:
            counts: dict[str, Any] = {c: getattr(current, c) + by for c, by in self.add.items()}
            if all(n >= 0 for n in counts.values()):
                # the one field holding a mutable model is copied too: no aliasing
                return current.model_copy(
                    update={**counts, "location": current.location.model_copy()}
                )
        data = current.model_dump(mode="json")
        for counter, by in self.add.items():
            data[counter] += by
        if self.when_status is None or current.status in self.when_status:
            for field, value in self.set.items():
                data[field] = value
        return CompanionSession.model_validate_json(json.dumps(data))

    def apply(self, current: CompanionSession) -> CompanionSession:
        """The change made to ``current`` as stored; kept as :attr:`result`."""
        return self.stored(self.made_to(current))

    def stored(self, session: CompanionSession) -> CompanionSession:
        """Keep ``session`` as :attr:`result`: the store made this change itself (a
        store may count in its stored row without :meth:`apply`)."""
        self._result = session
        return session

    @property
    def result(self) -> CompanionSession | None:
        """The session as the store wrote it; ``None`` before the commit, or when no
        such session is stored."""
        return self._result
