"""A link's inbound budgets handed between daemon nodes through Redis (a fresh key
prefix per test): what a link spent on one node still counts on the node it moves to.
Needs Redis on 127.0.0.1 (skipped without it, failed under CI)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from encounters.log import configure_logging
from encounters.storage import MemoryStore
from encounters_bridge.budgets import LinkBudgets
from encounters_bridge.keys import create_world_key
from encounters_bridge.protocol import EVENT_RATE
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import open_bridge_store
from tests.support.daemon_process import free_port
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Link:
    link_id: str | None = "link_1"
    world: str | None = "minecraft"
    server_id: str | None = "srv"


@asynccontextmanager
async def budgets(prefix: str, url: str = REDIS_URL, **kw: Any) -> AsyncIterator[LinkBudgets]:
    b = LinkBudgets(aioredis.Redis.from_url(url, socket_connect_timeout=1),
                    prefix=f"{prefix}:budget", **kw)  # fmt: skip
    try:
        yield b
    finally:
        await b.redis.aclose()


async def test_a_spent_budget_moves_with_the_link(redis_key_prefix: str) -> None:
    # two nodes whose monotonic clocks have nothing in common; time stands still
    link = Link()
    async with (
        budgets(redis_key_prefix, clock=lambda: 1000.0, wall=lambda: 1.7e9) as a,
        budgets(redis_key_prefix, clock=lambda: 5.0, wall=lambda: 1.7e9) as b,
    ):
        spent = [a.events.check("events:link_1", EVENT_RATE) for _ in range(41)]
        assert [d.allowed for d in spent] == [True] * 40 + [False]
        await a.save([link])
        await b.load(link)
        moved = b.events.check("events:link_1", EVENT_RATE)
        assert not moved.allowed, "the burst was spent on the other node"
        assert moved.retry_after == pytest.approx(spent[-1].retry_after)
        # a node that spent more itself keeps its own count: loading never refills
        for _ in range(3):
            b.frames.check("server:minecraft:srv", EVENT_RATE)
        before = b.frames.state("server:minecraft:srv")
        await b.load(link)
        assert b.frames.state("server:minecraft:srv") == before


async def test_an_unreachable_redis_leaves_budgets_per_node(redis_key_prefix: str) -> None:
    logs = io.StringIO()
    configure_logging("warning", "json", stream=logs)
    try:
        async with budgets(redis_key_prefix, f"redis://127.0.0.1:{free_port()}/0") as b:
            b.events.check("events:link_1", EVENT_RATE)
            await b.save([Link()])  # nothing raises
            await b.load(Link())
            assert b.events.check("events:link_1", EVENT_RATE).allowed
    finally:
        configure_logging()
    events = [json.loads(line)["event"] for line in logs.getvalue().splitlines()]
    assert events.count("bridge.budgets_unshared") == 1, events


async def frames_until(ws: ClientConnection, op: str) -> dict[str, Any]:
    with anyio.fail_after(20):
        while True:
            frame = json.loads(await ws.recv())
            if frame["op"] == op:
                return dict(frame)


async def test_edges_hand_the_budget_over_when_a_link_resumes_on_another_node(
    redis_key_prefix: str,
) -> None:
    """Two edges on one store and one Redis prefix: a link that spent events on the
    first resumes on the second, which counts what was spent."""
    store = MemoryStore()
    records = await open_bridge_store(store)
    _, key = await create_world_key(records, "game", "minecraft", ["srv"])
    # time stands still (as if the link moved at once), on two unrelated clocks
    clocks = {"first": 50.0, "second": 9000.0}
    async with (
        budgets(redis_key_prefix, clock=lambda: clocks["first"], wall=lambda: 1.7e9) as first,
        budgets(redis_key_prefix, clock=lambda: clocks["second"], wall=lambda: 1.7e9) as second,
    ):
        edges = [BridgeEdge(records, heartbeat_interval=5, budgets=b, clock=b.clock)
                 for b in (first, second)]  # fmt: skip
        servers = [await edge.serve("127.0.0.1", 0) for edge in edges]
        urls = [f"ws://127.0.0.1:{s.sockets[0].getsockname()[1]}/ws" for s in servers]
        try:
            async with connect(urls[0]) as ws:
                await frames_until(ws, "hello")
                hello = {"protocol": 1, "world": "minecraft", "server_id": "srv", "key": key}
                await ws.send(json.dumps({"op": "identify", "d": hello}))
                ready = (await frames_until(ws, "ready"))["d"]
                for s in range(1, 41):  # the whole burst: 2 s of budget
                    await ws.send(json.dumps({"op": "event", "s": s, "d": {"type": "tick"}}))
                while (await frames_until(ws, "ack"))["d"]["s"] < 40:
                    pass
            spent_key = f"events:{ready['link_id']}"
            with anyio.fail_after(10):  # the first edge writes it as the connection ends
                while await first.redis.get(f"{redis_key_prefix}:budget:{spent_key}") is None:
                    await anyio.sleep(0.02)
            assert second.events.state(spent_key) is None
            async with connect(urls[1]) as ws:
                await frames_until(ws, "hello")
                await ws.send(json.dumps({"op": "resume", "d": {
                    "link_id": ready["link_id"], "resume_token": ready["resume_token"],
                    "last_s": 0}}))  # fmt: skip
                await frames_until(ws, "resumed")
                await ws.send(json.dumps({"op": "heartbeat", "d": {"ack": 0}}))
                await frames_until(ws, "heartbeat_ack")  # the resume was handled whole
                tat = second.events.state(spent_key)
                assert tat is not None, "the second node took the spent budget over"
                # 40 events at 20 a second: 2 s of budget spent, as on the first node
                assert tat - second.clock() == pytest.approx(2.0)
        finally:
            for edge, server in zip(edges, servers, strict=True):
                await edge.close_all()
                server.close()
                await server.wait_closed()
