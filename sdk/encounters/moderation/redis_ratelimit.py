"""A rate limiter shared by every daemon node: the same GCRA as
:class:`~.ratelimit.InProcessRateLimiter`, run atomically in Redis (``AE_REDIS``).

Each check is one round trip: a Lua script (sent once, then run by its SHA with
``EVALSHA``; a server that lost its scripts after a restart or ``SCRIPT FLUSH`` answers
``NOSCRIPT`` and the script is loaded again, by redis-py's ``Script``) reads the key's
theoretical arrival time (TAT), decides, and writes the new TAT with an expiry at that
TAT, so an idle key holds no memory in Redis. Decisions and ``retry_after`` are the
in-process limiter's, to the same floating-point arithmetic (a shared test runs both
over one sequence). Keys are named with ``AE_REDIS_PREFIX`` (``<prefix>:rate:<key>``).

Time: by default the Redis server's clock (``TIME``), one clock for every node, so
clock skew between nodes cannot widen a budget. A ``clock`` may be given instead
(tests); it must then be a wall clock shared by the nodes.

When Redis cannot be reached (down, a network partition, a call slower than
``timeout``), it *fails open to the in-process limiter*: the check is made by a
per-node :class:`~.ratelimit.InProcessRateLimiter`, a warning is logged once per
outage, Redis is tried again after ``retry_interval`` seconds, and its return is
logged. So an outage never stops the daemon or blocks every game, and limits still
hold per node (with N nodes, a budget can be spent up to N times during the outage).
Budgets spent in the fallback are not carried into Redis when it returns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from .._util.redis import redis_client, redis_key
from ..log import get_logger
from .ratelimit import InProcessRateLimiter, Rate, RateDecision

if TYPE_CHECKING:
    from ..settings import Settings

log = get_logger(__name__)

#: KEYS[1]: the key. ARGV: interval (s), capacity, cost, now (s; "" for Redis' TIME).
#: Returns {allowed (0|1), retry_after (a string: replies cut numbers to integers),
#: remaining}. The arithmetic is InProcessRateLimiter.check's, line for line.
GCRA_SCRIPT = """
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[4])
end
local tolerance = interval * capacity
local tat = tonumber(redis.call("GET", KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
if allow_at > now + 1e-9 then
  local remaining = math.max(0, math.floor((now - (tat - tolerance)) / interval + 1e-9))
  return {0, string.format("%.17g", allow_at - now), remaining}
end
local ttl = math.max(1, math.ceil((new_tat - now) * 1000))
redis.call("SET", KEYS[1], string.format("%.17g", new_tat), "PX", ttl)
local remaining = math.max(0, math.floor((now - (new_tat - tolerance)) / interval + 1e-9))
return {1, "0", remaining}
"""


class RedisRateLimiter:
    """GCRA in Redis, shared by every process using the same Redis and prefix (see the
    module). ``client`` is a ``redis.asyncio.Redis``; ``prefix`` is put before every key
    (``redis_key``); ``timeout`` bounds one check; ``fallback`` is the per-node limiter
    used while Redis is unreachable; ``max_in_flight`` bounds the checks sent at once
    (more wait their turn)."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "ae",
        clock: Callable[[], float] | None = None,
        timeout: float = 1.0,
        retry_interval: float = 5.0,
        fallback: InProcessRateLimiter | None = None,
        max_in_flight: int = 32,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
        self.retry_interval = retry_interval
        self.fallback = fallback if fallback is not None else InProcessRateLimiter()
        self._clock = clock
        self._script = client.register_script(GCRA_SCRIPT)
        #: checks sent at once: the client's pool (100 connections by default) is shared
        #: with the rest of the daemon, and a check beyond it would fail, not wait
        self._in_flight = anyio.Semaphore(max_in_flight)
        #: monotonic time until which checks go to the fallback (an outage); None: Redis
        self._down_until: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisRateLimiter:
        """The limiter on ``AE_REDIS`` with ``AE_REDIS_PREFIX``."""
        return cls(redis_client(settings), prefix=redis_key(settings, "rate"))

    @property
    def degraded(self) -> bool:
        """True while checks go to the per-node fallback (Redis was unreachable)."""
        return self._down_until is not None

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        """Count a request against ``key``; refused requests are not counted."""
        if cost < 1:
            raise ValueError("cost must be a whole number >= 1")
        if cost > rate.capacity:  # can never fit in the burst: no need to ask Redis
            return RateDecision(False, math.inf, 0)
        if self._down_until is not None and time.monotonic() < self._down_until:
            return self.fallback.check(key, rate, cost)
        try:
            async with self._in_flight:  # a burst of checks waits for the pool
                now = "" if self._clock is None else repr(self._clock())
                args = [repr(rate.interval), str(rate.capacity), str(cost), now]
                with anyio.fail_after(self.timeout):
                    allowed, retry_after, remaining = await self._script(
                        keys=[f"{self.prefix}:{key}"], args=args
                    )
        except Exception as exc:  # unreachable, timed out, or refused: fail open
            if not _is_redis_problem(exc):
                raise
            self._went_down(exc)
            return self.fallback.check(key, rate, cost)
        if self._down_until is not None:
            self._down_until = None
            log.warning("ratelimit.redis_restored", detail="shared rate limits are back")
        return RateDecision(bool(allowed), float(retry_after), int(remaining))

    def _went_down(self, exc: BaseException) -> None:
        if self._down_until is None:
            log.warning(
                "ratelimit.redis_unreachable",
                error=f"{type(exc).__name__}: {exc}"[:300],
                detail=(
                    "rate limits fall back to this node's own counts until Redis answers "
                    f"again (tried every {self.retry_interval:g} s)"
                ),
            )
        self._down_until = time.monotonic() + self.retry_interval

    async def aclose(self) -> None:
        """Close the Redis client's connections."""
        await self.client.aclose()


def _is_redis_problem(exc: BaseException) -> bool:
    """Errors that mean Redis cannot answer (not bugs of the caller)."""
    if isinstance(exc, TimeoutError | OSError):
        return True
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - the client came from redis-py
        return False
    return isinstance(exc, RedisError)


def shared_limiter(settings: Settings) -> RedisRateLimiter | InProcessRateLimiter:
    """The limiter for ``settings``: in Redis when ``AE_REDIS`` is set (shared by the
    daemon nodes), else in this process."""
    if settings.redis:
        return RedisRateLimiter.from_settings(settings)
    return InProcessRateLimiter()
