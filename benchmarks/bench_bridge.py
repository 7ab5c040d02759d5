"""Bridge daemon figures, each next to a baseline or its target in the same run:

1. relay throughput: actions pushed through the daemon (control call -> moderation ->
   sequence -> durable write -> codec -> WebSocket -> adapter, which acknowledges)
   against a bare ``websockets`` server pushing frames of the same size to a client.
   Target: >= 25% of the bare server. The share of one core the process used while
   relaying says whether the relay is CPU-bound (near 100%) or waits (on commits).
2. action latency at 1,000 and at 5,000 actions/s: actions signalled open loop across
   100 companions, time from the call to the adapter's receipt; p50 and p99. Target at
   1,000/s: p99 <= 2 ms.
3. 10,000 idle links with heartbeats (50 with ``--quick``; ``--links N``), held by
   ``ae bridge serve`` and, as the baseline, by a bare ``websockets`` server (see
   ``idle_fleet.py``): RSS per link (target: <= 20 KiB), the heartbeat round trip
   p50 and p99 with every link beating, and how long each takes to stop on SIGTERM
   while it holds them all.

Everything talks to 127.0.0.1 only. Figures are medians where rounds repeat; the
machines here are shared and noisy, so read the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402

import idle_fleet  # noqa: E402  (benchmarks/, the script's own folder)
from encounters.moderation import AuditLogger, ContentModerator  # noqa: E402
from encounters.storage import SQLiteStore  # noqa: E402
from encounters_bridge.adapter import AdapterClient  # noqa: E402
from encounters_bridge.deployment import DeploymentService  # noqa: E402
from encounters_bridge.frames import Frame  # noqa: E402
from encounters_bridge.keys import create_world_key  # noqa: E402
from encounters_bridge.server import BridgeEdge, settle_heap  # noqa: E402
from encounters_bridge.store import open_bridge_store  # noqa: E402

PERSONA = {"name": "Bench", "safety": {"max_actions_per_minute": 600,
                                       "allowed_actions": ["chat", "move_to"]}}  # fmt: skip
ACTION = {"type": "chat", "message": "Hello there, traveller! The forge is to the north."}
#: Companion lines; each action gets a numbered one, so no cache sees a repeat.
LINES = [
    "Hello there, traveller! The forge is to the north.",
    "Watch your step, the bridge is older than it looks.",
    "I found some iron ore near the river bend.",
    "Follow me, I know a shortcut through the woods.",
    "Night is coming; we should light a torch.",
    "That villager sells bread for two emeralds.",
    "Do you want me to guard the door while you craft?",
    "The creeper went that way, keep your distance!",
]
#: Actions per signal, and signals in flight at once in the relay run.
BATCH, IN_FLIGHT = 100, 4


def chats(first: int, count: int) -> list[dict[str, Any]]:
    return [{"type": "chat", "message": f"{LINES[i % len(LINES)]} ({i})"}
            for i in range(first, first + count)]  # fmt: skip


#: Companions spawned on the benchmark's game server: a persona may act at most 600
#: times a minute, so 1,000 actions/s come from many companions, as in a real world.
SESSIONS = 100


async def spawn_many(service: DeploymentService, count: int) -> list[str]:
    record = await service.submit(PERSONA, creator_id="bench")
    out = []
    for _ in range(count):  # a deploy token spawns once: an approval each
        token, _ = await service.approve(record.persona.id)
        out.append((await service.spawn(record.persona.id, token, "web", "bench")).id)
    return out


async def stop(server: Any, store: SQLiteStore) -> None:
    """Close the edge and let its connections save their state before the store goes."""
    server.close()
    await server.wait_closed()
    await store.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def daemon(tmp: Path) -> tuple[Any, BridgeEdge, DeploymentService, str, Any]:
    store = SQLiteStore(tmp / "bench.db")
    await store.open()
    edge = BridgeEdge(await open_bridge_store(store), heartbeat_interval=5)
    moderator = ContentModerator(audit=AuditLogger(store))
    service = DeploymentService(store, moderator, edge)
    server = await edge.serve("127.0.0.1", 0)
    _, key = await create_world_key(edge.store, "bench", "web")
    settle_heap()  # as `ae bridge serve` does once it is built
    return store, edge, service, key, server


async def live_session(
    service: DeploymentService, port: int, key: str, received: list[tuple[float, Frame]]
) -> tuple[AdapterClient, str]:
    async def on_dispatch(frame: Frame) -> None:
        received.append((time.perf_counter(), frame))

    client = AdapterClient(
        f"ws://127.0.0.1:{port}/ws",
        world="web",
        server_id="bench",
        key=key,
        capabilities=["chat", "move_to"],
        on_dispatch=on_dispatch,
    )
    return client, ""


async def relay(n: int, rounds: int) -> tuple[float, float, float]:
    """(ours, baseline) frames per second, medians, and the share of one core the
    process used while relaying (median)."""
    ours: list[float] = []
    base: list[float] = []
    busy: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store, _edge, service, key, server = await daemon(Path(tmp))
        port = server.sockets[0].getsockname()[1]
        received: list[tuple[float, Frame]] = []
        client, _ = await live_session(service, port, key, received)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await client.ready.wait()
            sessions = await spawn_many(service, SESSIONS)
            for r in range(rounds):
                received.clear()
                batches = [chats(r * n + i, min(BATCH, n - i)) for i in range(0, n, BATCH)]
                start, cpu = time.perf_counter(), time.process_time()

                # signals from many companions at once, as from many control-API calls
                async def one(k: int, batch: list[dict[str, Any]], limit: Any) -> None:
                    async with limit:
                        await service.signal(sessions[k % len(sessions)], batch)

                async with anyio.create_task_group() as signals:
                    limit = anyio.Semaphore(IN_FLIGHT)
                    for k, batch in enumerate(batches):
                        signals.start_soon(one, k, batch, limit)
                while sum(1 for _, f in received if f.d.get("type") == "action") < n:
                    await anyio.sleep(0.001)
                wall = time.perf_counter() - start
                ours.append(n / wall)
                busy.append((time.process_time() - cpu) / wall)
                # baseline in the same run: a bare websockets server pushes n frames
                base.append(await bare_push(n))
            await client.stop()
            tg.cancel_scope.cancel()
        await stop(server, store)
    return statistics.median(ours), statistics.median(base), statistics.median(busy)


async def bare_push(n: int) -> float:
    payload = json.dumps(
        Frame(
            "dispatch",
            {"type": "action", "action": {"id": "act_0123456789abcdef", **ACTION}},
            1,
            "sess_0123456789abcdef",
        ).to_wire()
    )

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        for _ in range(n):
            await ws.send(payload)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            start = time.perf_counter()
            await ws.send("go")
            for _ in range(n):
                await ws.recv()
            return n / (time.perf_counter() - start)


async def latency(rate: int, seconds: float) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, actions) at ``rate`` actions per second, open loop."""
    with tempfile.TemporaryDirectory() as tmp:
        store, _edge, service, key, server = await daemon(Path(tmp))
        port = server.sockets[0].getsockname()[1]
        received: list[tuple[float, Frame]] = []
        client, _ = await live_session(service, port, key, received)
        sent_at: dict[str, float] = {}
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await client.ready.wait()
            sessions = await spawn_many(service, SESSIONS)
            total = int(rate * seconds)
            start = time.perf_counter()

            async def one(i: int) -> None:
                action = {**chats(i, 1)[0], "id": f"a{i}"}
                sent_at[action["id"]] = time.perf_counter()
                await service.signal(sessions[i % len(sessions)], [action])

            async with anyio.create_task_group() as senders:
                for i in range(total):
                    target = start + i / rate
                    delay = target - time.perf_counter()
                    if delay > 0:
                        await anyio.sleep(delay)
                    senders.start_soon(one, i)
            while sum(1 for _, f in received if f.d.get("type") == "action") < total:
                await anyio.sleep(0.005)
            await client.stop()
            tg.cancel_scope.cancel()
        await stop(server, store)
    lat = [(t - sent_at[f.d["action"]["id"]]) * 1000 for t, f in received
           if f.d.get("type") == "action"]  # fmt: skip
    return statistics.median(lat), pct(lat, 0.99), len(lat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run for smoke tests")
    parser.add_argument("--idle-only", action="store_true", help="only the idle-links figure")
    parser.add_argument("--links", type=int, help="idle links (default 10,000; 50 with --quick)")
    args = parser.parse_args()
    n, rounds, seconds, links = (500, 1, 0.5, 50) if args.quick else (5000, 3, 3.0, 10_000)
    if not args.idle_only:
        relay_and_latency(n, rounds, seconds)
    idle_fleet.report(args.links or links, 2.0 if args.quick else idle_fleet.HOLD)


def relay_and_latency(n: int, rounds: int, seconds: float) -> None:
    ours, base, busy = anyio.run(relay, n, rounds)
    print(f"bridge relay, {n} actions x {rounds} rounds (medians)", flush=True)
    print(f"  daemon (moderation, seq/ack, durable write, codec): {ours:>9,.0f} actions/s")
    print(f"  baseline bare websockets push, same frame size     : {base:>9,.0f} frames/s")
    bound = "CPU-bound" if busy >= 0.85 else "waiting (latency-bound)"
    print(f"  ratio: {ours / base:.0%} (target >= 25%: {_met(ours / base >= 0.25)}); "
          f"the process used {busy:.0%} of one core: {bound}")  # fmt: skip
    for rate, target in ((1000, 2.0), (5000, None)):
        p50, p99, count = anyio.run(latency, rate, seconds)
        goal = f" (target p99 <= {target:g} ms: {_met(p99 <= target)})" if target else ""
        print(f"action latency at {rate:,} actions/s for {seconds:g} s ({count} actions): "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms{goal}", flush=True)  # fmt: skip


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
