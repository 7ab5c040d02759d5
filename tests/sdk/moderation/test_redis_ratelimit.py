"""The Redis rate limiter on a real Redis (127.0.0.1:6379, a fresh key prefix per
test): the in-process limiter's decisions over the same sequence, one budget for
several nodes, a server that forgot its scripts, and an outage mid-run (it fails open
to per-node limits, logs it once, and comes back)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from encounters.log import configure_logging
from encounters.moderation import InProcessRateLimiter, Rate, RedisRateLimiter, shared_limiter
from encounters.settings import load_settings
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # redis.asyncio


class Clock:
    """A wall clock the test moves (far from 0, as real epoch seconds are)."""

    def __init__(self) -> None:
        self.now = 1_765_000_000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def limiter(prefix: str, url: str = REDIS_URL, **kw: Any) -> AsyncIterator[RedisRateLimiter]:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1)
    lim = RedisRateLimiter(client, prefix=f"{prefix}:rate", **kw)
    try:
        yield lim
    finally:
        await lim.aclose()


async def test_same_decisions_and_retry_after_as_the_in_process_limiter(
    redis_key_prefix: str,
) -> None:
    clock = Clock()
    local = InProcessRateLimiter(clock=clock)
    rates = [Rate.per_second(5), Rate.per_minute(10, burst=3), Rate(7, 2.5, burst=4)]
    rng = random.Random(24)
    refused = 0
    async with limiter(redis_key_prefix, clock=clock) as shared:
        for step in range(400):
            clock.now += rng.choice([0.0, 0.0, 0.01, 0.05, 0.13, 0.4, 1.7])
            key, rate = f"k{rng.randrange(3)}", rng.choice(rates)
            cost = rng.choice([1, 1, 1, 2, 3])
            want = local.check(key, rate, cost)
            got = await shared.hit(key, rate, cost)
            assert got.allowed == want.allowed, step
            assert got.retry_after == pytest.approx(want.retry_after, abs=1e-9), step
            assert got.remaining == want.remaining, step
            refused += not got.allowed
        # a cost above the burst can never pass, in Redis as in process
        assert (await shared.hit("k0", Rate.per_second(2), cost=3)).retry_after == math.inf
    assert 0 < refused < 400, "the sequence must exercise both answers"


async def test_nodes_spend_one_budget(redis_key_prefix: str) -> None:
    """Three limiters with their own connections (as three daemon nodes) and the
    Redis server's clock: 6 a minute means 6 in all, not 6 each."""
    rate = Rate.per_minute(6)
    async with (
        limiter(redis_key_prefix) as a,
        limiter(redis_key_prefix) as b,
        limiter(redis_key_prefix) as c,
    ):
        answers = [await node.hit("persona:p1:s1:actions", rate) for node in (a, b, c) * 4]
    allowed = [d.allowed for d in answers]
    assert allowed[:6] == [True] * 6
    assert not any(allowed[7:]), "one budget: at most one more after 10 s of a slow run"
    refused = answers[-1]
    assert 0 < refused.retry_after <= 10.0 and refused.remaining == 0


async def test_a_burst_of_concurrent_checks_waits_for_connections_and_counts_exactly(
    redis_key_prefix: str,
) -> None:
    """More checks at once than the client's pool has connections (100): they queue
    rather than fail over to the per-node fallback, and the budget is exact."""
    rate = Rate.per_minute(150)  # one more every 0.4 s
    async with limiter(redis_key_prefix) as lim:
        started = time.monotonic()
        answers = await asyncio.gather(*(lim.hit("burst", rate) for _ in range(400)))
        elapsed = time.monotonic() - started
        assert not lim.degraded
    allowed = sum(d.allowed for d in answers)
    assert 150 <= allowed <= 150 + math.ceil(elapsed / rate.interval)


async def test_a_server_that_forgot_its_scripts_loads_them_again(redis_key_prefix: str) -> None:
    async with limiter(redis_key_prefix) as lim:
        assert (await lim.hit("k", Rate.per_second(1))).allowed
        await lim.client.script_flush()  # as after a Redis restart
        assert not (await lim.hit("k", Rate.per_second(1))).allowed
        assert not lim.degraded


async def test_idle_keys_expire_in_redis(redis_key_prefix: str) -> None:
    async with limiter(redis_key_prefix) as lim:
        await lim.hit("short", Rate(1, 0.2))
        ttl = await lim.client.pttl(f"{redis_key_prefix}:rate:short")
        assert 0 < ttl <= 201  # until the TAT (rounded up to a millisecond)


class Proxy:
    """A TCP proxy to Redis the test can cut (an outage) and restore, on one port."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.pipes):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self.pipes |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


async def test_an_outage_mid_run_falls_back_to_per_node_limits_and_recovers(
    redis_key_prefix: str,
) -> None:
    proxy = Proxy()
    await proxy.start()
    rate = Rate.per_minute(3)
    logs = io.StringIO()
    configure_logging("warning", "json", stream=logs)
    try:
        async with limiter(
            redis_key_prefix, f"redis://127.0.0.1:{proxy.port}/0", retry_interval=0.2, timeout=2
        ) as lim:
            assert (await lim.hit("p", rate)).allowed  # in Redis
            await proxy.cut()
            during = [await lim.hit("p", rate) for _ in range(5)]
            assert lim.degraded
            # the daemon goes on, and the node's own limiter still limits
            assert [d.allowed for d in during] == [True, True, True, False, False]
            await proxy.start()  # Redis is back (same port)
            await asyncio.sleep(0.3)  # past retry_interval: the next check asks Redis
            back = await lim.hit("p", rate)
            assert not lim.degraded
            assert back.allowed and back.remaining == 1, "Redis' own count, from before"
    finally:
        configure_logging()
    await proxy.cut()
    events = [json.loads(line)["event"] for line in logs.getvalue().splitlines()]
    assert events.count("ratelimit.redis_unreachable") == 1, events
    assert events.count("ratelimit.redis_restored") == 1, events


def test_settings_choose_the_limiter(tmp_path: Any) -> None:
    assert isinstance(shared_limiter(load_settings(data_dir=tmp_path)), InProcessRateLimiter)
    settings = load_settings(data_dir=tmp_path, redis=REDIS_URL, redis_prefix="tx")
    lim = shared_limiter(settings)
    assert isinstance(lim, RedisRateLimiter) and lim.prefix == "tx:rate"
