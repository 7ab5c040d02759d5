"""The bad-key back-off: an address whose identifies or resumes keep failing must wait.

Failures per address are counted by a GCRA (:data:`BAD_KEY_RATE`: 5 at once, then one
every 6 seconds); a failure beyond the budget blocks the address until the budget
allows one again, and every identify or resume from a blocked address is refused with
4008 before its key is even looked at. An address under its budget is never refused:
a game server that mistyped its key a few times still gets in with the right one.

With several daemon nodes (``AE_REDIS``), the count is a
:class:`~encounters.moderation.RedisRateLimiter` and the block a Redis key with an
expiry (``<prefix>:badkey:blocked:<address>``), so a guesser cannot spread its tries
over the nodes. When Redis cannot be reached the back-off goes on per node: the
limiter falls back to its in-process count and every block is also kept here (so a
block set during an outage still holds on this node). Memory: one float per blocked
address, at most ``max_blocked`` of them (expired ones are dropped first).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio

from encounters._util.redis import redis_key
from encounters.log import get_logger
from encounters.moderation import InProcessRateLimiter, Rate, RateLimiter, RedisRateLimiter
from encounters.settings import Settings

log = get_logger(__name__)

#: Failed identifies or resumes per address before it must wait: 5 at once, then one
#: every 6 seconds.
BAD_KEY_RATE = Rate.per_minute(10, burst=5)
#: Most addresses remembered as blocked on one node.
MAX_BLOCKED = 10_000


class BadKeyBackoff:
    """Counts failed identifies per address and says how long one must still wait.
    ``redis``: a ``redis.asyncio`` client sharing the blocks between nodes (with
    ``prefix``, the deployment's key prefix), or None for one node."""

    def __init__(
        self,
        limiter: RateLimiter | None = None,
        *,
        rate: Rate = BAD_KEY_RATE,
        clock: Callable[[], float] = time.monotonic,
        redis: Any = None,
        prefix: str = "ae",
        max_blocked: int = MAX_BLOCKED,
    ) -> None:
        self.limiter: RateLimiter = limiter or InProcessRateLimiter(clock=clock)
        self.rate = rate
        self.clock = clock
        self.redis = redis
        self.prefix = prefix
        self.max_blocked = max_blocked
        self._blocked: dict[str, float] = {}  # address -> until (clock)

    @classmethod
    def sharing(cls, limiter: RateLimiter, settings: Settings) -> BadKeyBackoff:
        """Shared between nodes when ``limiter`` is a :class:`RedisRateLimiter` (the
        engine's moderator's, with ``AE_REDIS``: its client serves the blocks too),
        else this node's own."""
        if not isinstance(limiter, RedisRateLimiter):
            return cls()
        return cls(limiter, redis=limiter.client, prefix=redis_key(settings))

    async def wait(self, address: str) -> float:
        """Seconds ``address`` must still wait before it may try a key (0: it may)."""
        until = self._blocked.get(address)
        local = 0.0 if until is None else until - self.clock()
        if until is not None and local <= 0:
            del self._blocked[address]
        shared = 0.0
        if self._shared():
            try:
                with anyio.fail_after(1.0):
                    ms = await self.redis.pttl(self._key(address))
                shared = ms / 1000 if ms > 0 else 0.0
            except Exception as exc:  # Redis away: this node's blocks still hold
                log.debug("bridge.backoff_unshared", error=repr(exc))
        return max(local, shared, 0.0)

    async def failed(self, address: str) -> None:
        """Count a failed identify or resume; past the budget the address is blocked."""
        decision = await self.limiter.hit(f"badkey:{address}", self.rate)
        if decision.allowed:
            return
        if len(self._blocked) >= self.max_blocked:
            now = self.clock()
            self._blocked = {a: t for a, t in self._blocked.items() if t > now}
            if len(self._blocked) >= self.max_blocked:  # all live: forget the oldest
                del self._blocked[min(self._blocked, key=self._blocked.__getitem__)]
        self._blocked[address] = self.clock() + decision.retry_after
        if self._shared():
            try:
                ms = max(1, int(decision.retry_after * 1000))
                with anyio.fail_after(1.0):
                    await self.redis.set(self._key(address), b"1", px=ms)
            except Exception as exc:
                log.debug("bridge.backoff_unshared", error=repr(exc))

    def _shared(self) -> bool:
        """Blocks go to Redis (not while the limiter finds Redis unreachable)."""
        if self.redis is None:
            return False
        return not (isinstance(self.limiter, RedisRateLimiter) and self.limiter.degraded)

    def _key(self, address: str) -> str:
        return f"{self.prefix}:badkey:blocked:{address}"
