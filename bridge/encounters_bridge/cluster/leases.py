"""Link leases: which node writes a game server's link, ``(world, server_id)``.

``<prefix>:lease:<world>:<server_id>`` holds the id of the node that holds the link's
:class:`~encounters_bridge.links.LinkOwner` (its sequence numbers and outbox writer).
At most one node holds a lease at a time, so a link has one writer in the whole
cluster, as it has one in a single process. The lease is valid while its key exists
*and* its node is alive (:mod:`.node`); it is renewed with the node's heartbeat while
the node holds the link in memory, and released when the node evicts the idle link
(``Cluster.release``), so a node renews the leases of the links it holds, not of every
link it ever held.

Taking a lease (:meth:`Leases.acquire`) is one Lua script, so two nodes racing for a
free or stale lease cannot both win: it keeps a lease held by a live node, and
otherwise gives it to the caller. Handing one over (:meth:`Leases.hand_to`) is a
compare-and-set by the holder, so between the old and the new holder there is no
moment when a third node could take it.

A lease decides who *should* write; PostgreSQL decides who *can*: the node taking a
lease loads the link with a bumped epoch (its fencing token) and every write of the link
must carry the stored epoch (see :mod:`.routing` and
:mod:`encounters_bridge.store.postgres`). So a holder whose lease lapsed without its
knowing cannot write over the next holder's records, and the lease needs no token of
its own (no Redis round trip on the write path).
"""

from __future__ import annotations

from typing import Any

from encounters._util.redis import redis_key
from encounters.settings import Settings

Place = tuple[str, str]

# KEYS[1]: the lease; ARGV: me, ttl ms, the node-key prefix. Returns the holder.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return holder
end
if holder and redis.call('EXISTS', ARGV[3] .. holder) == 1 then
  return holder
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
"""
# KEYS: leases; ARGV: me, ttl ms. Renews those still ours; returns 1/0 for each.
_RENEW = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
# KEYS[1]: the lease; ARGV: me, the new holder (empty: release), ttl ms.
_HAND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""


class Leases:
    """The leases this node holds, and the scripts that move them."""

    def __init__(self, redis: Any, settings: Settings, node_id: str, ttl: float) -> None:
        self.redis = redis
        self.settings = settings
        self.me = node_id
        self.ttl_ms = max(1, int(ttl * 1000))
        self.held: set[Place] = set()
        #: per renewal under way, the places acquired or handed on meanwhile: its
        #: answer for them is out of date (see :meth:`renew`)
        self._renewing: list[set[Place]] = []
        self._node_prefix = redis_key(settings, "node", "")
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._hand = redis.register_script(_HAND)

    def key(self, place: Place) -> str:
        return redis_key(self.settings, "lease", place[0], place[1])

    async def acquire(self, place: Place) -> str:
        """The node holding ``place``'s lease after this call: this node's id when it
        was free, stale (its node dead) or already ours; else the live holder's."""
        self._moved(place)
        holder = await self._acquire(keys=[self.key(place)],
                                     args=[self.me, self.ttl_ms, self._node_prefix])  # fmt: skip
        holder = holder.decode() if isinstance(holder, bytes) else str(holder)
        self._moved(place)
        if holder == self.me:
            self.held.add(place)
        else:
            self.held.discard(place)
        return holder

    async def renew(self) -> list[Place]:
        """Renew every lease held; returns those that turned out not to be ours any
        more (the caller gives their links up). A place this node acquired or handed
        on (released, passed to another node) while the renewal was under way is not
        among them: its key may have been found gone because this node released it on
        purpose, and the newer acquire or hand-over knows better."""
        places = list(self.held)
        if not places:
            return []
        moved: set[Place] = set()
        self._renewing.append(moved)
        try:
            kept = await self._renew(keys=[self.key(p) for p in places],
                                     args=[self.me, self.ttl_ms])  # fmt: skip
        finally:
            self._renewing.remove(moved)
        lost = [p for p, ok in zip(places, kept, strict=True) if not int(ok) and p not in moved]
        self.held.difference_update(lost)
        return lost

    def _moved(self, place: Place) -> None:
        for moved in self._renewing:
            moved.add(place)

    async def hand_to(self, place: Place, node_id: str | None) -> bool:
        """Give ``place``'s lease to ``node_id`` (None: release it); False when it was
        not ours."""
        self.held.discard(place)
        self._moved(place)
        done = await self._hand(keys=[self.key(place)],
                                args=[self.me, node_id or "", self.ttl_ms])  # fmt: skip
        return bool(int(done))

    async def release_all(self) -> None:
        """Graceful stop: every lease this node holds is free at once."""
        for place in list(self.held):
            await self.hand_to(place, None)
