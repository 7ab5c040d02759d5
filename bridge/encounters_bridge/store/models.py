"""Records only the bridge daemon keeps: credentials of game servers and control-API
callers, deploy tokens, and link state between connections."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from encounters.models.common import STRICT, Id, Timestamp, utcnow

World = Literal["gmod", "minecraft", "web"]
#: a game server's id, as a world key lists it
ServerId = Annotated[str, Field(min_length=1, max_length=64)]


def server_tag(world: str, server_id: str) -> str:
    """``server:<world>:<server id>``: the owner tag of one game server (see
    :mod:`..tenancy`) and the NPC memory scope of its control-API calls and its
    companions, so both remember players in one place, apart from other servers."""
    return f"server:{world}:{server_id}"


class WorldKey(BaseModel):
    """A game server's credential. Only a hash of the secret is kept; the key itself is
    shown once, when it is created."""

    model_config = STRICT

    id: Id
    name: Annotated[str, Field(min_length=1, max_length=120)]
    world: World
    key_hash: Annotated[str, Field(max_length=128)]
    #: the game server ids this key may identify as; empty until its first identify,
    #: which binds it to that one server
    server_ids: list[ServerId] = []
    created_at: Timestamp = Field(default_factory=utcnow)
    revoked_at: Timestamp | None = None


class LinkRecord(BaseModel):
    """A link's state between connections: sequence numbers, the hash of its resume
    token, and dispatches not yet acknowledged (as wire dicts)."""

    model_config = STRICT

    id: Id
    world: World
    server_id: Annotated[str, Field(min_length=1, max_length=64)]
    key_id: Id
    token_hash: Annotated[str, Field(max_length=128)]
    capabilities: list[str] = []
    adapter: dict[str, Any] = {}
    out_s: Annotated[int, Field(ge=0)] = 0
    in_s: Annotated[int, Field(ge=0)] = 0
    unacked: list[dict[str, Any]] = []
    #: the newer link of the same game server that took this one's dispatches
    replaced_by: Id | None = None
    updated_at: Timestamp = Field(default_factory=utcnow)
    #: the fencing token of the process that loaded the link to write it (kept in a
    #: column of its own, not in the record's JSON). Several nodes: loading a link to
    #: write it (``LinkStore.take_link``) takes its game server, whose epoch goes up by
    #: one, and stamps the link with it (a link made by an identify carries the epoch
    #: of its server's take), and the store refuses a write whose token is not the
    #: stored one, so a node whose lease lapsed cannot write over the next holder's
    #: writes. 0 for a link never taken.
    epoch: Annotated[int, Field(ge=0)] = 0


class ApiKey(BaseModel):
    """A control-API credential: ``admin`` (approve personas, manage everything) or
    ``creator`` (submit personas, spawn and signal their own). Hash only."""

    model_config = STRICT

    id: Id
    name: Annotated[str, Field(min_length=1, max_length=120)]
    role: Literal["admin", "creator"]
    key_hash: Annotated[str, Field(max_length=128)]
    created_at: Timestamp = Field(default_factory=utcnow)
    revoked_at: Timestamp | None = None


class DeployToken(BaseModel):
    """Permission to spawn one persona once, until ``expires_at``; only the hash is
    kept. A newer approval of the persona revokes it."""

    model_config = STRICT

    token_hash: Annotated[str, Field(max_length=128)]
    persona_id: Id
    expires_at: Timestamp
    created_at: Timestamp = Field(default_factory=utcnow)
