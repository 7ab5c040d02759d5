"""Who owns what the control API stores: encounters, templates, campaigns, campaign
runs and encounter sessions. An owner is recorded (in the store, as a document of kind
``owner``) when something is first published or created over the API; from then on
only its owner and admins may read or change it.

NPC memory and difficulty histories are not claimed: each game server's are kept in a
scope of its own (its first owner tag: :meth:`Tenancy.player_scope`), so two servers
remember and rate the same NPC and player ids apart and neither can read, change or
lock out the other's. NPC memory pairs claimed before scopes existed (an ``owner``
document of resource ``memory``) stay their owner's, read where they were written.
Difficulty histories written before scopes (one per player, changed by every tenant)
stay in the unscoped namespace: an admin's, not served to any game server. Player
analytics follow the same scopes: a session a game server starts is marked with its
scope (:meth:`Tenancy.session_scope`), and its feedback is recorded in it.

Owners are tags: ``key:<id>`` for a control-API key, ``server:<world>:<server id>``
for a game server's world key (one per server id it is bound to; ``server:<world>:
key:<id>`` while it is bound to none). Admins pass every check and never take over
what a creator owns. Built-in templates belong to nobody and are read-only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from encounters.errors import FieldError, NotFound, ValidationFailed
from encounters.storage.protocols import DocumentStore

from .deployment import DeploymentError
from .store.models import ApiKey, WorldKey, server_tag

Resource = Literal["encounter", "template", "campaign", "campaign-run", "session", "memory"]
OWNER_KIND = "owner"


class Owner(BaseModel):
    """The owner tag of one stored thing."""

    owner: str


def is_admin(principal: ApiKey | WorldKey) -> bool:
    return isinstance(principal, ApiKey) and principal.role == "admin"


def tags(principal: ApiKey | WorldKey) -> list[str]:
    """The owner tags ``principal`` acts as; the first is the one it records."""
    if isinstance(principal, ApiKey):
        return [f"key:{principal.id}"]
    servers = principal.server_ids or [f"key:{principal.id}"]
    return [server_tag(principal.world, s) for s in servers]


class Tenancy:
    """Ownership checks over ``store`` (see the module)."""

    def __init__(
        self, store: DocumentStore, builtin_templates: frozenset[str] = frozenset()
    ) -> None:
        self.store = store
        self.builtin_templates = builtin_templates

    async def owner(self, resource: Resource, item_id: str) -> str | None:
        found = await self.store.get_document(OWNER_KIND, f"{resource}:{item_id}", Owner)
        return found.owner if found else None

    async def may_publish(
        self, resource: Resource, item_id: str, principal: ApiKey | WorldKey, *, exists: bool
    ) -> None:
        """Before publishing ``item_id`` (``exists``: one is stored already): 409 when it
        is built in, another owns it, or it exists with no owner (made outside the API:
        only an admin may replace it)."""
        if resource == "template" and item_id in self.builtin_templates:
            raise DeploymentError(
                f"template {item_id!r} is built in and read-only; publish it under another id"
            )
        if is_admin(principal):
            return
        current = await self.owner(resource, item_id)
        if (current is not None and current not in tags(principal)) or (current is None and exists):
            raise DeploymentError(
                f"{resource} {item_id!r} belongs to someone else; publish it under another id"
            )

    async def record(self, resource: Resource, item_id: str, principal: ApiKey | WorldKey) -> None:
        """``principal`` owns ``item_id`` from now on, unless it has an owner already."""
        if await self.owner(resource, item_id) is None:
            await self.store.save_document(
                OWNER_KIND, f"{resource}:{item_id}", Owner(owner=tags(principal)[0])
            )

    async def check(self, resource: Resource, item_id: str, principal: ApiKey | WorldKey) -> None:
        """404 unless ``principal`` is an admin or owns ``item_id`` (what others own is
        not shown to exist)."""
        if is_admin(principal):
            return
        if resource == "template" and item_id in self.builtin_templates:
            return
        if await self.owner(resource, item_id) not in tags(principal):
            raise NotFound(f"no {resource} with id {item_id!r}")

    @staticmethod
    def player_scope(principal: ApiKey | WorldKey, server: str | None) -> str | None:
        """The scope of player data (NPC memory, difficulty history) ``principal`` reads
        and writes on the player-data routes (None: the unscoped namespace, where the
        SDK keeps them).

        A game server's key: its first owner tag (``server:<world>:<server id>``, so a
        rotated key of the same server keeps its data). An admin: the scope of
        ``server`` (``<world>:<server id>``) when given, else the unscoped namespace.
        Others (``server`` is only an admin's): 422."""
        if is_admin(principal):
            return f"server:{server}" if server else None
        if server is not None:
            raise ValidationFailed(
                "query", [FieldError("server", "only an admin key may pick a server's data")]
            )
        return tags(principal)[0]

    async def memory_scope(
        self, npc_id: str, player_id: str, principal: ApiKey | WorldKey, server: str | None
    ) -> str | None:
        """The NPC memory scope ``principal`` reads and writes the pair in:
        :meth:`player_scope` (companions kept theirs unscoped before scopes), except
        for a pair a game server claimed before scopes existed, which stays in the
        unscoped namespace. Nothing is claimed any more."""
        scope = self.player_scope(principal, server)
        claimed = await self.owner("memory", f"{npc_id}/{player_id}")
        if not is_admin(principal) and claimed in tags(principal):
            return None
        return scope

    @staticmethod
    def generation_scope(principal: ApiKey | WorldKey) -> tuple[bool, str | None]:
        """(whether a generation prompt for ``principal`` carries player data, NPC
        memories and, when adaptive, the difficulty history, and of which scope): a
        game server's own scope, an admin's the unscoped namespace, none for a creator
        (not a game server: it has no players). Limits: a game server's memory pairs
        claimed before scopes existed are not in its scope, so their memories do not
        reach its prompts."""
        if isinstance(principal, WorldKey):
            return True, tags(principal)[0]
        return is_admin(principal), None

    async def session_history_scope(
        self, session_id: str, principal: ApiKey | WorldKey
    ) -> tuple[bool, str | None]:
        """(whether finishing ``session_id``, by ``principal`` who may, goes into the
        player's difficulty history, and of which scope): a session a game server
        started, that server's scope (whoever finishes it); any other session finished
        by an admin (an admin's, or one started outside the API), the unscoped
        namespace, as an admin's act; a creator finishing its own (not a game server:
        its test runs are nobody's record), none."""
        owner = await self.owner("session", session_id)
        if owner is not None and owner.startswith("server:"):
            return True, owner
        return is_admin(principal), None

    @staticmethod
    def session_scope(principal: ApiKey | WorldKey) -> str | None:
        """The scope whose player analytics count a session ``principal`` starts: a
        game server's own (its first owner tag, as :meth:`player_scope`); none for
        others (their sessions count only in the unscoped view an admin reads)."""
        return tags(principal)[0] if isinstance(principal, WorldKey) else None

    async def mine(self, resource: Resource, item_id: str, principal: ApiKey | WorldKey) -> bool:
        try:
            await self.check(resource, item_id, principal)
        except NotFound:
            return False
        return True
