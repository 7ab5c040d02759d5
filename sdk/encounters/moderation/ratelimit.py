"""Rate limiting with GCRA (the generic cell rate algorithm), keyed by anything.

GCRA keeps one number per key, the theoretical arrival time (TAT) of the next
request, so it is exact (no window edges that let twice the rate through) and costs
O(1) time and about 100 bytes per active key. A key whose TAT is in the past carries
no state and is dropped by a sweep, so memory follows the number of *active* keys;
``max_keys`` bounds it in the worst case (oldest keys are forgotten first, which can
only let a forgotten key through early, never block a request wrongly).

Use one limiter for everything with keys such as ``persona:<id>:actions``,
``link:<id>:events`` or ``ip:<addr>:connects``. :class:`RateLimiter` is the interface;
:class:`~.redis_ratelimit.RedisRateLimiter` implements it in Redis, shared by several
daemon nodes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period`` seconds, allowing a burst of ``burst``
    (default: ``count``) at once."""

    count: int
    period: float
    burst: int | None = None

    def __post_init__(self) -> None:
        if self.count < 1 or not self.period > 0 or (self.burst is not None and self.burst < 1):
            raise ValueError("a rate needs count >= 1, period > 0 and burst >= 1")

    @property
    def interval(self) -> float:
        return self.period / self.count

    @property
    def capacity(self) -> int:
        return self.burst if self.burst is not None else self.count

    @classmethod
    def per_minute(cls, count: int, burst: int | None = None) -> Rate:
        return cls(count, 60.0, burst)

    @classmethod
    def per_second(cls, count: int, burst: int | None = None) -> Rate:
        return cls(count, 1.0, burst)


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    #: Seconds until a request of the same cost would be allowed (0 when allowed;
    #: infinite when the cost is larger than the rate's burst and can never pass).
    retry_after: float
    #: Requests of cost 1 still allowed right now.
    remaining: int


class RateLimiter(Protocol):
    async def hit(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        """Count a request against ``key``; refused requests are not counted."""
        ...


class InProcessRateLimiter:
    """GCRA in a dict. Not shared between processes; safe within one event loop (a
    check never awaits). Not thread-safe: give each thread its own limiter."""

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._tat: dict[str, float] = {}
        self._max_keys = max_keys
        self._clock = clock
        self._checks = 0

    def __len__(self) -> int:
        return len(self._tat)

    def check(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        """The synchronous check (what :meth:`hit` does, without awaiting)."""
        if cost < 1:
            raise ValueError("cost must be a whole number >= 1")
        now = self._clock()
        interval = rate.interval
        if cost > rate.capacity:  # can never fit in the burst: never retry
            return RateDecision(False, math.inf, 0)
        tolerance = interval * rate.capacity
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + interval * cost
        allow_at = new_tat - tolerance
        if allow_at > now + 1e-9:
            remaining = max(0, math.floor((now - (tat - tolerance)) / interval + 1e-9))
            return RateDecision(False, allow_at - now, remaining)
        self._tat[key] = new_tat
        self._checks += 1
        if len(self._tat) > self._max_keys or self._checks % 4096 == 0:
            self._sweep(now)
        remaining = max(0, math.floor((now - (new_tat - tolerance)) / interval + 1e-9))
        return RateDecision(True, 0.0, remaining)

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        return self.check(key, rate, cost)

    def reset(self, key: str) -> None:
        self._tat.pop(key, None)

    def state(self, key: str) -> float | None:
        """The key's theoretical arrival time on this limiter's clock, or None when
        it has spent nothing that still counts (for handing a budget to another
        process, see ``encounters_bridge.budgets``)."""
        tat = self._tat.get(key)
        return tat if tat is not None and tat > self._clock() else None

    def restore(self, key: str, tat: float) -> None:
        """Take over a budget spent elsewhere: ``tat`` on this limiter's clock. The
        later of it and the key's own is kept, so restoring never refills a budget."""
        if tat > self._tat.get(key, -math.inf):
            self._tat[key] = tat

    def _sweep(self, now: float) -> None:
        for key in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[key]
        if len(self._tat) > self._max_keys:  # still too many: forget the oldest tenth,
            # so a flood of new keys costs one sort per max_keys/10 keys, not one each
            keep = int(self._max_keys * 0.9)
            for key in sorted(self._tat, key=self._tat.__getitem__)[: len(self._tat) - keep]:
                del self._tat[key]
