"""This daemon node's identity and liveness in Redis (several nodes, ``AE_REDIS``).

Each node picks a random id at start and keeps ``<prefix>:node:<id>`` alive with a
TTL of ``lease_ttl`` seconds, renewed every third of it. Another node is *alive* while
its key exists: a node killed with SIGKILL stops renewing and is dead for everyone
``lease_ttl`` seconds later; a node that stops gracefully deletes its key at once.

Limits: liveness is what Redis says, so a node that is alive but paused or cut from
Redis for longer than ``lease_ttl`` is taken for dead and its links may move; it
notices at its next renewal (the key is gone or names no one) and gives up its links
then (see :mod:`.leases`). Until then it may still try to write a link another node
took: PostgreSQL refuses those writes (the link's epoch, see :mod:`.routing`), so the
cost of a too-short ``lease_ttl`` is links moving needlessly (adapters reconnect), not
two writers.
"""

from __future__ import annotations

import secrets
from typing import Any

from encounters._util.redis import redis_key
from encounters.settings import Settings


def new_node_id() -> str:
    """A fresh id for this process (a restarted node is a new node)."""
    return f"n{secrets.token_hex(6)}"


class Node:
    """This node's id and its liveness key."""

    def __init__(self, redis: Any, settings: Settings, ttl: float, node_id: str | None = None):
        self.redis = redis
        self.settings = settings
        self.ttl_ms = max(1, int(ttl * 1000))
        self.id = node_id or new_node_id()

    def key(self, node_id: str | None = None) -> str:
        """The liveness key of ``node_id`` (this node by default)."""
        return redis_key(self.settings, "node", node_id or self.id)

    async def beat(self) -> None:
        """Say this node is alive for another ``ttl``."""
        await self.redis.set(self.key(), b"1", px=self.ttl_ms)

    async def alive(self, node_id: str) -> bool:
        """Whether ``node_id``'s liveness key exists (this node is always alive)."""
        return node_id == self.id or bool(await self.redis.exists(self.key(node_id)))

    async def leave(self) -> None:
        """Graceful stop: others see this node dead at once."""
        await self.redis.delete(self.key())
