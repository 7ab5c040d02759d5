"""The parts several daemon nodes are built on, against the real Redis (127.0.0.1:6379,
a fresh key prefix per test): leases stay with a live holder and move only when it is
dead or hands them over; a request to a node that died before taking it is withdrawn,
known not to have run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from encounters._util.redis import redis_client
from encounters.settings import Settings, load_settings
from encounters_bridge.cluster.bus import NotDelivered, SignalBus
from encounters_bridge.cluster.leases import Leases
from encounters_bridge.cluster.node import Node
from tests.support.services import REDIS_URL, redis_prefix

pytestmark = pytest.mark.anyio
PLACE = ("minecraft", "srv-1")
TTL = 0.5


@pytest.fixture
def settings() -> Iterator[Settings]:
    with redis_prefix() as prefix:
        yield load_settings(redis=REDIS_URL, redis_prefix=prefix)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Any]:
    client = redis_client(settings)
    yield client
    await client.aclose()


async def gone(redis: Any, key: str) -> None:
    """Wait until ``key`` expired (a node that stopped renewing is dead)."""
    with anyio.fail_after(10):
        while await redis.exists(key):
            await anyio.sleep(0.05)


async def test_a_lease_stays_with_its_live_holder_and_moves_when_it_dies(
    settings: Settings, redis: Any
) -> None:
    a, b = Node(redis, settings, TTL), Node(redis, settings, TTL)
    await a.beat()
    await b.beat()
    leases_a, leases_b = Leases(redis, settings, a.id, TTL), Leases(redis, settings, b.id, TTL)
    assert await leases_a.acquire(PLACE) == a.id
    await b.beat()
    assert await leases_b.acquire(PLACE) == a.id  # A lives: B is told who holds it
    assert PLACE not in leases_b.held
    await gone(redis, a.key())  # A stops beating (killed)
    await b.beat()
    assert await leases_b.acquire(PLACE) == b.id
    assert await leases_a.renew() == [PLACE]  # A finds out and gives the link up
    assert PLACE not in leases_a.held


async def test_a_lease_is_handed_over_only_by_its_holder(settings: Settings, redis: Any) -> None:
    a, b = Node(redis, settings, 30), Node(redis, settings, 30)
    await a.beat()
    await b.beat()
    leases_a, leases_b = Leases(redis, settings, a.id, 30), Leases(redis, settings, b.id, 30)
    assert await leases_a.acquire(PLACE) == a.id
    assert not await leases_b.hand_to(PLACE, b.id)  # not B's to give
    assert await leases_a.hand_to(PLACE, b.id)
    assert await leases_b.acquire(PLACE) == b.id
    assert await leases_a.acquire(PLACE) == b.id
    await leases_b.release_all()  # a graceful stop frees it at once
    assert await leases_a.acquire(PLACE) == a.id


async def test_a_request_is_answered_and_one_to_a_dead_node_is_withdrawn(
    settings: Settings, redis: Any
) -> None:
    caller, callee = Node(redis, settings, TTL), Node(redis, settings, TTL)
    await caller.beat()
    await callee.beat()
    seen: list[dict[str, Any]] = []

    async def handler(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return {"echo": request["n"]}

    bus = SignalBus(redis, settings, caller, handler)
    served = SignalBus(redis, settings, callee, handler)
    async with anyio.create_task_group() as tg:
        tg.start_soon(served.serve)
        assert await bus.call(callee.id, {"n": 1}, wait=30) == {"echo": 1}
        tg.cancel_scope.cancel()
    await gone(redis, callee.key())  # the callee died without taking the next one
    with pytest.raises(NotDelivered):
        await bus.call(callee.id, {"n": 2}, wait=30)
    assert await redis.llen(bus.inbox(callee.id)) == 0  # withdrawn: it will never run
    assert [r["n"] for r in seen] == [1]
