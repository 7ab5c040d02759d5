"""Bridge daemon figures, each next to a baseline or its target in the same run:

1. relay throughput: actions pushed through the daemon (control call -> moderation ->
   sequence -> durable write -> codec -> WebSocket -> adapter, which acknowledges)
   against a bare ``websockets`` server pushing frames of the same size to a client.
   Target: >= 25% of the bare server. The share of one core the process used while
   relaying says whether the relay is CPU-bound (near 100%) or waits (on commits).
2. action latency at 1,000 and at 5,000 actions/s: actions signalled open loop across
   100 companions, time from the call to the adapter's receipt; p50 and p99. Target at
   1,000/s: p99 <= 2 ms.
3. memory of 2,000 idle links with heartbeats (50 with ``--quick``; the target is for
   10,000, which do not all get ready and stop in time yet): the daemon runs as
   ``ae bridge serve`` in its own process with its default heartbeat (15 s), the
   adapters in four other processes; the daemon's RSS is read from /proc before they
   connect and once every link is ready and beating; printed per link. Target:
   <= 20 KiB per link. The heartbeat round trips the adapters saw meanwhile are
   printed as p50 and p99.

Everything talks to 127.0.0.1 only. Figures are medians where rounds repeat; the
machines here are shared and noisy, so read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


#: Adapter processes the idle fleet is spread over (a game server is its own process).
FLEET_WORKERS = 4
#: Seconds the fleet stays linked after every link is ready: one heartbeat round and more.
FLEET_HOLD = 17.0


async def fleet_worker(url: str, key: str, first: int, count: int, hold: float) -> None:
    """``count`` idle adapters (server ids ``idle-<first>...``) in this process: prints
    ``{"ready": n}`` once they are linked, then, after ``hold`` seconds, the
    heartbeat round trips (ms) it saw, and stops."""
    rtts: list[float] = []

    def timed(client: AdapterClient) -> AdapterClient:
        link, sent = client.link, [0.0]
        tick, receive = link.tick, link.receive

        def timed_tick(now: float) -> Any:
            out = tick(now)
            if any(getattr(e, "frame", None) and e.frame.op == "heartbeat" for e in out):
                sent[0] = time.perf_counter()
            return out

        def timed_receive(data: str | bytes, now: float) -> Any:
            if sent[0] and b"heartbeat_ack" in (data if isinstance(data, bytes) else data.encode()):
                rtts.append((time.perf_counter() - sent[0]) * 1000)
                sent[0] = 0.0
            return receive(data, now)

        link.tick = timed_tick  # type: ignore[method-assign]
        link.receive = timed_receive  # type: ignore[method-assign]
        return client

    clients = [timed(AdapterClient(url, world="web", server_id=f"idle-{i}", key=key,
                                   capabilities=["chat"]))
               for i in range(first, first + count)]  # fmt: skip
    async with anyio.create_task_group() as tg:
        for c in clients:
            tg.start_soon(c.run)
            await anyio.sleep(0.0005)
        with anyio.move_on_after(180):
            for c in clients:
                await c.ready.wait()
        print(json.dumps({"ready": sum(c.ready.is_set() for c in clients)}), flush=True)
        rtts.clear()  # the round trips of the steady state only
        await anyio.sleep(hold)
        print(json.dumps({"rtts": rtts}), flush=True)
        tg.cancel_scope.cancel()  # the links drop with the process, as a crashed game's do


async def idle_links(n: int, hold: float) -> tuple[float, float, int, list[float]]:
    """(RSS before MiB, RSS after MiB, links ready, heartbeat round trips ms) of a
    daemon process holding ``n`` idle links from ``FLEET_WORKERS`` adapter processes."""
    with tempfile.TemporaryDirectory() as tmp:
        # every adapter here comes from 127.0.0.1: let them all connect at once
        env = {**os.environ, "AE_DATA_DIR": tmp, "AE_BRIDGE_MAX_UNIDENTIFIED": str(n),
               "AE_BRIDGE_MAX_UNIDENTIFIED_PER_ADDRESS": str(n)}  # fmt: skip
        ae = str(Path(sys.executable).with_name("ae"))
        fleet = [arg for i in range(n) for arg in ("--server", f"idle-{i}")]
        key = subprocess.run(
            [ae, "worlds", "add", "bench", "--world", "web", *fleet],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [ae, "bridge", "serve", "--port", str(port), "--http-port", str(port + 1)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        workers: list[subprocess.Popen[str]] = []
        try:
            for _ in range(100):
                await anyio.sleep(0.1)
                try:
                    async with connect(f"ws://127.0.0.1:{port}/ws"):
                        break
                except OSError:
                    continue
            await anyio.sleep(0.5)
            before = rss_kib(proc.pid)
            share = -(-n // FLEET_WORKERS)
            for first in range(0, n, share):
                workers.append(subprocess.Popen(
                    [sys.executable, __file__, "--fleet-worker", f"ws://127.0.0.1:{port}/ws",
                     key, str(first), str(min(share, n - first)), str(hold)],
                    stdout=subprocess.PIPE, text=True,
                ))  # fmt: skip
            ready = 0
            for w in workers:
                assert w.stdout is not None
                ready += json.loads(await anyio.to_thread.run_sync(w.stdout.readline))["ready"]
            await anyio.sleep(hold / 2)  # the RSS of the steady state
            after = rss_kib(proc.pid)
            rtts: list[float] = []
            for w in workers:
                assert w.stdout is not None
                rtts += json.loads(await anyio.to_thread.run_sync(w.stdout.readline))["rtts"]
        finally:
            for w in workers:
                w.wait(timeout=60)
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:  # printed: a daemon should stop in time
                print("  (the daemon did not stop within 60 s of SIGTERM: killed)")
                proc.kill()
                proc.wait()
    return before / 1024, after / 1024, ready, rtts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run for smoke tests")
    parser.add_argument("--fleet-worker", nargs=5,
                        metavar=("URL", "KEY", "FIRST", "COUNT", "HOLD"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.fleet_worker:
        url, key, first, count, hold = args.fleet_worker
        anyio.run(fleet_worker, url, key, int(first), int(count), float(hold))
        return
    n, rounds, seconds, links = (500, 1, 0.5, 50) if args.quick else (5000, 3, 3.0, 2_000)
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
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms{goal}")  # fmt: skip
    before, after, ready, rtts = anyio.run(idle_links, links, 2.0 if args.quick else FLEET_HOLD)
    per_link = (after - before) * 1024 / max(1, ready)
    print(
        f"idle links: {ready}/{links} ready; daemon RSS {before:.1f} MiB -> {after:.1f} MiB "
        f"= {per_link:.1f} KiB per link (target <= 20 KiB: {_met(per_link <= 20)})"
    )
    if rtts:
        print(f"  heartbeat round trip with every link beating ({len(rtts):,} beats): "
              f"p50 {statistics.median(rtts):.2f} ms, p99 {pct(rtts, 0.99):.2f} ms")  # fmt: skip


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
