"""A link's inbound budgets, handed between daemon nodes through Redis (``AE_REDIS``).

Every inbound frame is checked against two GCRA budgets in this process, with no
round trip (the protocol core's :class:`~encounters.moderation.InProcessRateLimiter`):
the link's events (``events:<link id>``) and its game server's frames
(``server:<world>:<server id>``). A link is live on one node at a time, so the node
holding it is the one place these budgets are spent; what needs sharing is the budget
of a link that *moves* (its node died, or it reconnected through the load balancer to
another node): without this it would start a fresh budget there, a free burst per move.

So, with ``AE_REDIS``: when a link identifies or resumes on a node, that node reads the
budgets its game server and link spent elsewhere (:meth:`LinkBudgets.load`); the node
holding a link writes them to Redis every ``interval`` seconds while they change, and
when its connection ends (:meth:`LinkBudgets.save`). Stored values are wall-clock times
(``<prefix>:budget:<key>``) expiring when the budget is full again; each node converts
them to its own monotonic clock. Limits: spending in the last ``interval`` seconds of
a node killed mid-run is not carried over; clocks of the nodes should agree (NTP) to
within a fraction of the event interval. When Redis is unreachable budgets stay per
node (logged once per outage); nothing else changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import anyio

from encounters._util.redis import redis_key
from encounters.log import get_logger
from encounters.moderation import InProcessRateLimiter, RateLimiter, RedisRateLimiter
from encounters.settings import Settings

log = get_logger(__name__)

#: Seconds between writes of the budgets this node's links are spending.
SAVE_INTERVAL = 1.0


class LinkView(Protocol):
    """What the budgets need of a connection (``server.Connection``)."""

    @property
    def link_id(self) -> str | None: ...

    @property
    def world(self) -> str | None: ...

    @property
    def server_id(self) -> str | None: ...


class LinkBudgets:
    """The edge's two budget limiters (``events`` per link, ``frames`` per game server
    once identified), shared through ``redis`` (a ``redis.asyncio`` client) under
    ``prefix``; see the module. ``clock`` is the edge's (monotonic) clock, ``wall``
    the wall clock budgets are stored in."""

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "ae:budget",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        interval: float = SAVE_INTERVAL,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self.wall = wall
        self.interval = interval
        self.events = InProcessRateLimiter(clock=clock)
        self.frames = InProcessRateLimiter(clock=clock)
        self._saved: dict[str, float] = {}  # key -> the TAT last written
        self._down = False
        self._retry_at = 0.0  # while Redis is away: when to try it again (monotonic)

    @classmethod
    def sharing(cls, limiter: RateLimiter, settings: Settings) -> LinkBudgets | None:
        """Budgets handed between nodes through the Redis client of ``limiter`` when
        it is a :class:`RedisRateLimiter` (the engine's moderator's, with
        ``AE_REDIS``), else None (the edge keeps its own)."""
        if not isinstance(limiter, RedisRateLimiter):
            return None
        return cls(limiter.client, prefix=redis_key(settings, "budget"))

    def _keys(self, conn: LinkView) -> list[tuple[InProcessRateLimiter, str]]:
        keys = []
        if conn.link_id is not None:
            keys.append((self.events, f"events:{conn.link_id}"))
        if conn.world is not None and conn.server_id is not None:
            keys.append((self.frames, f"server:{conn.world}:{conn.server_id}"))
        return keys

    async def load(self, conn: LinkView) -> None:
        """Take over what this link and its game server spent on other nodes."""
        keys = self._keys(conn)
        if not keys or self._resting():
            return
        try:
            with anyio.fail_after(1.0):
                values = await self.redis.mget([f"{self.prefix}:{k}" for _, k in keys])
        except Exception as exc:
            self._failed(exc)
            return
        self._back()
        now, wall = self.clock(), self.wall()
        for (limiter, key), raw in zip(keys, values, strict=True):
            if raw is not None:
                tat = now + (float(raw) - wall)
                limiter.restore(key, tat)
                self._saved[key] = tat

    async def save(self, conns: Iterable[LinkView]) -> None:
        """Write the budgets of ``conns`` that changed since they were last written."""
        now, wall = self.clock(), self.wall()
        changes: list[tuple[str, float]] = []
        for conn in conns:
            for limiter, key in self._keys(conn):
                tat = limiter.state(key)
                if tat is not None and tat != self._saved.get(key):
                    changes.append((key, tat))
        if not changes or self._resting():
            return
        try:
            with anyio.fail_after(2.0):
                pipe = self.redis.pipeline(transaction=False)
                for key, tat in changes:
                    ms = max(1, int((tat - now) * 1000) + 1)
                    pipe.set(f"{self.prefix}:{key}", repr(wall + (tat - now)), px=ms)
                await pipe.execute()
        except Exception as exc:
            self._failed(exc)
            return
        self._back()
        self._saved.update(changes)
        if len(self._saved) > 4 * max(64, len(changes)):  # forget budgets long full again
            self._saved = {k: t for k, t in self._saved.items() if t > now}

    async def run(self, live: Callable[[], Iterable[LinkView]]) -> None:
        """Every ``interval`` seconds, write the changed budgets of the links ``live``
        gives (the edge's connections), until cancelled."""
        while True:
            await anyio.sleep(self.interval)
            await self.save(list(live()))

    def _resting(self) -> bool:
        """Redis was unreachable a moment ago: do not wait for it on every link."""
        return self._down and time.monotonic() < self._retry_at

    def _failed(self, exc: BaseException) -> None:
        self._retry_at = time.monotonic() + 5.0
        if not self._down:
            self._down = True
            log.warning("bridge.budgets_unshared", error=f"{type(exc).__name__}: {exc}"[:300],
                        detail="link budgets stay on this node until Redis answers")  # fmt: skip

    def _back(self) -> None:
        if self._down:
            self._down = False
            log.warning("bridge.budgets_shared_again")
