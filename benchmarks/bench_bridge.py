"""Bridge daemon figures, each next to a baseline or its target in the same run:

1. relay throughput: actions pushed through the daemon (control call -> moderation ->
   sequence -> durable write -> codec -> WebSocket -> adapter, which acknowledges)
   against a bare ``websockets`` server pushing frames of the same size to a client.
   Target: >= 25% of the bare server. The share of one core the process used while
   relaying says whether the relay is CPU-bound (near 100%) or waits (on commits).
2. action latency at 1,000 and at 5,000 actions/s: actions signalled open loop across
   100 companions (one action per call, each call a plain asyncio task), time from the
   call to the adapter's receipt; p50 and p99. Target at 1,000/s: p99 <= 2 ms.
3. 10,000 idle links with heartbeats (50 with ``--quick``; ``--links N``), held by
   ``ae bridge serve`` and, as the baseline, by a bare ``websockets`` server (see
   ``idle_fleet.py``): RSS per link (target: <= 20 KiB), the heartbeat round trip
   p50 and p99 with every link beating, and how long each takes to stop on SIGTERM
   while it holds them all.
4. world keys: with 10,000 of them (500 with ``--quick``), the event loop's CPU time
   for a revocation sweep (every 2 s while links are up) and for finding the web world
   key of a server (every page pass), against listing every key, the way both worked
   before (the baseline, in the same run).

Everything talks to 127.0.0.1 only. Figures are medians where rounds repeat; the
machines here are shared and noisy, so read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402

from benchmarks import idle_fleet  # noqa: E402
from encounters.moderation import AuditLogger, ContentModerator  # noqa: E402
from encounters.storage import SQLiteStore  # noqa: E402
from encounters_bridge.adapter import AdapterClient  # noqa: E402
from encounters_bridge.config import BridgeConfig  # noqa: E402
from encounters_bridge.deployment import DeploymentService  # noqa: E402
from encounters_bridge.eventloop import EVENT_LOOPS, backend_options, resolve  # noqa: E402
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
    # the count with thousands separators: bare, some numbers are hate codes the
    # filter blocks (1488), and a blocked line never reaches the adapter that waits
    return [{"type": "chat", "message": f"{LINES[i % len(LINES)]} ({i:,})"}
            for i in range(first, first + count)]  # fmt: skip


def allowed(results: list[dict[str, Any]]) -> None:
    """Stop with the reason when moderation did not let an action through: the adapter
    counts the actions it receives and would otherwise wait for it forever."""
    for r in results:
        if r["decision"] != "allow":
            raise RuntimeError(f"the benchmark's action {r['action_id']} was not sent "
                               f"({r['decision']}: {r['reason']}): change its line")  # fmt: skip


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


def loop_times() -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of this thread, from
    Linux's ``/proc/thread-self/schedstat``; elsewhere the thread's CPU time and 0. On a
    shared machine the second tells starved from idle: a loop that always has work is
    CPU-bound even while other processes hold the cores."""
    try:
        ran, waited, _ = Path("/proc/thread-self/schedstat").read_text().split()
        return int(ran) / 1e9, int(waited) / 1e9
    except (OSError, ValueError):
        return time.thread_time(), 0.0


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


class AdapterProcess:
    """A game server's adapter in its own process, as in production (``--adapter``):
    an :class:`AdapterClient` that notes when each action arrives. ``expect(n)`` waits
    until it has received ``n`` more actions and returns ``(action id, time)`` for
    each; times are ``time.perf_counter()``, the system's monotonic clock, which every
    process on the machine shares."""

    def __init__(self, url: str, key: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--adapter", url, key],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    async def _line(self) -> Any:
        assert self.proc.stdout is not None
        line = await anyio.to_thread.run_sync(self.proc.stdout.readline)
        if not line:
            raise RuntimeError("the adapter process ended")
        return json.loads(line)

    async def ready(self) -> None:
        await self._line()

    def expect(self, n: int) -> None:
        """Tell the adapter to report once ``n`` more actions arrived."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()

    async def received(self) -> list[tuple[str, float]]:
        return [(str(i), float(t)) for i, t in await self._line()]

    async def stop(self) -> None:
        """Close its stdin and wait for it to end, the event loop running meanwhile
        (the adapter closes its link with a handshake the daemon answers)."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await anyio.to_thread.run_sync(self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def adapter_worker(url: str, key: str) -> None:
    """``--adapter``: one adapter; prints ``{"ready": 1}`` once linked, then for each
    number ``n`` read from stdin, ``[[action id, time], ...]`` once ``n`` more actions
    arrived. Ends when stdin closes."""
    got: list[tuple[str, float]] = []
    arrived = anyio.Event()
    want = [0]

    async def on_dispatch(frame: Frame) -> None:
        if frame.d.get("type") == "action":
            got.append((frame.d["action"]["id"], time.perf_counter()))
            if len(got) >= want[0] > 0:
                arrived.set()

    client = AdapterClient(url, world="web", server_id="bench", key=key,
                           capabilities=["chat", "move_to"], on_dispatch=on_dispatch)  # fmt: skip
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await client.ready.wait()
        print(json.dumps({"ready": 1}), flush=True)
        while line := await anyio.to_thread.run_sync(sys.stdin.readline):
            want[0] = int(line)
            if len(got) < want[0]:
                await arrived.wait()
            out, got[:] = got[: want[0]], got[want[0] :]
            arrived, want[0] = anyio.Event(), 0
            print(json.dumps(out), flush=True)
        await client.stop()
        tg.cancel_scope.cancel()


@dataclass
class Relay:
    """Medians of the relay rounds: actions (frames) per second, the shares of the time
    the daemon's event loop ran and waited for a CPU, and CPU seconds per action
    (frame): the CPU figures hold steadier than wall-clock rates on a shared machine."""

    ours: float
    base: float
    busy: float
    starved: float
    cpu: float
    base_cpu: float


async def relay(n: int, rounds: int, profiler: cProfile.Profile | None = None) -> Relay:
    """The daemon relaying ``n`` actions against a bare server pushing ``n`` frames,
    ``rounds`` times; the adapter and the bare client each run in a process of their
    own."""
    ours: list[float] = []
    base: list[float] = []
    busy: list[float] = []
    starved: list[float] = []
    cpu: list[float] = []
    base_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store, _edge, service, key, server = await daemon(Path(tmp))
        port = server.sockets[0].getsockname()[1]
        adapter = AdapterProcess(f"ws://127.0.0.1:{port}/ws", key)
        try:
            await adapter.ready()
            sessions = await spawn_many(service, SESSIONS)
            for r in range(rounds):
                batches = [chats(r * n + i, min(BATCH, n - i)) for i in range(0, n, BATCH)]
                adapter.expect(n)
                start, (ran, waited) = time.perf_counter(), loop_times()
                if profiler is not None:
                    profiler.enable()

                # signals from many companions at once, as from many control-API calls
                async def one(k: int, batch: list[dict[str, Any]], limit: Any) -> None:
                    async with limit:
                        allowed(await service.signal(sessions[k % len(sessions)], batch))

                async with anyio.create_task_group() as signals:
                    limit = anyio.Semaphore(IN_FLIGHT)
                    for k, batch in enumerate(batches):
                        signals.start_soon(one, k, batch, limit)
                last = max(t for _, t in await adapter.received())
                if profiler is not None:
                    profiler.disable()
                wall = last - start
                ours.append(n / wall)
                ran_after, waited_after = loop_times()
                busy.append((ran_after - ran) / wall)
                starved.append((waited_after - waited) / wall)
                cpu.append((ran_after - ran) / n)
                # baseline in the same run: a bare websockets server pushes n frames
                # to a client in its own process
                rate, per_frame = await bare_push(n)
                base.append(rate)
                base_cpu.append(per_frame)
        finally:
            await adapter.stop()
        await stop(server, store)
    m = statistics.median
    return Relay(m(ours), m(base), m(busy), m(starved), m(cpu), m(base_cpu))


def bare_payload() -> str:
    return json.dumps(
        Frame(
            "dispatch",
            {"type": "action", "action": {"id": "act_0123456789abcdef", **ACTION}},
            1,
            "sess_0123456789abcdef",
        ).to_wire()
    )


async def bare_push(n: int) -> tuple[float, float]:
    """Frames per second a bare ``websockets`` server pushes to a client in another
    process (``--bare-client``), which times them from its ``go`` to the last, and the
    server's CPU seconds per frame (its event loop's)."""
    payload = bare_payload()
    cpu = [0.0]

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        ran = loop_times()[0]
        for _ in range(n):
            await ws.send(payload)
        cpu[0] = (loop_times()[0] - ran) / n
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        out = await anyio.run_process(
            [sys.executable, __file__, "--bare-client", f"ws://127.0.0.1:{port}", str(n)]
        )
        return float(out.stdout), cpu[0]


async def bare_client(url: str, n: int) -> None:
    """``--bare-client``: prints the frames per second it received."""
    async with connect(url, compression=None) as ws:
        start = time.perf_counter()
        await ws.send("go")
        for _ in range(n):
            await ws.recv()
        print(n / (time.perf_counter() - start), flush=True)


async def latency(rate: int, seconds: float) -> tuple[float, float, int, float]:
    """(p50 ms, p99 ms, actions, the event loop's CPU seconds per action) at ``rate``
    actions per second, open loop, from the call to the adapter's receipt (in its own
    process)."""
    with tempfile.TemporaryDirectory() as tmp:
        store, edge, service, key, server = await daemon(Path(tmp))
        port = server.sockets[0].getsockname()[1]
        sent_at: dict[str, float] = {}
        total = int(rate * seconds)
        # open loop: at 5,000/s the daemon falls behind, and its backlog for the link
        # would pass the bound on unacknowledged dispatches, which then refuses actions
        # (backpressure, tested in tests/bridge/test_link_backlog.py); here every
        # offered action's latency is measured, so the bound covers the whole run
        edge.max_unacked_dispatches = max(total + SESSIONS, edge.max_unacked_dispatches or 0)
        adapter = AdapterProcess(f"ws://127.0.0.1:{port}/ws", key)
        try:
            await adapter.ready()
            sessions = await spawn_many(service, SESSIONS)
            adapter.expect(total)
            start, ran = time.perf_counter(), loop_times()[0]

            async def one(i: int) -> None:
                action = {**chats(i, 1)[0], "id": f"a{i}"}
                sent_at[action["id"]] = time.perf_counter()
                allowed(await service.signal(sessions[i % len(sessions)], [action]))

            # each call a plain asyncio task, as a server's request handler is: an anyio
            # task group's bookkeeping (a cancel scope per task) cost up to a fifth of
            # the loop at 5,000/s and was counted as the daemon's
            loop, senders = asyncio.get_running_loop(), []
            for i in range(total):
                target = start + i / rate
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                senders.append(loop.create_task(one(i)))
            await asyncio.gather(*senders)  # a refused action stops the benchmark here
            received = await adapter.received()
            cpu = (loop_times()[0] - ran) / total
        finally:
            await adapter.stop()
        await stop(server, store)
    lat = [(t - sent_at[i]) * 1000 for i, t in received]
    return statistics.median(lat), pct(lat, 0.99), len(lat), cpu


async def keys(count: int, rounds: int = 5) -> tuple[float, float, float]:
    """Median loop CPU seconds (thread time) with ``count`` world keys, one revoked:
    (listing every key, the revoked ids, the web key holding one server)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "keys.db")
        await store.open()
        records = await open_bridge_store(store)
        for i in range(count):
            await create_world_key(records, f"key {i}", "web", [f"srv-{i}"])
        first = (await records.world_keys_holding("web", "srv-0"))[0]
        await records.save_world_key(first.model_copy(update={"revoked_at": first.created_at}))
        timed: dict[str, list[float]] = {"all": [], "revoked": [], "holding": []}
        for _ in range(rounds):
            for name, ask in (("all", records.list_world_keys),
                              ("revoked", records.revoked_world_key_ids),
                              ("holding", lambda: records.world_keys_holding(
                                  "web", f"srv-{count // 2}"))):  # fmt: skip
                start = time.thread_time()
                await ask()
                timed[name].append(time.thread_time() - start)
        await store.close()
    m = statistics.median
    return m(timed["all"]), m(timed["revoked"]), m(timed["holding"])


#: pstats restriction: functions outside encounters/moderation/, and of the built-ins
#: (named ``{...}``, whoever called them) only SQLite's, sockets' and the selector's
BRIDGE_ONLY = r"^(?!.*[/\\]moderation[/\\])(?!\{(?!.*(sqlite3|socket|select|epoll)))"
BEFORE = {"relay_ratio": 0.06, "p99_1000": 2.6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run for smoke tests")
    parser.add_argument("--only", choices=("relay", "latency", "idle", "keys"), action="append",
                        help="run only these parts (repeat the option for several)")  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="profile the daemon's process during the relay (cProfile): "
                             "the ten largest costs by own time, then the ten largest "
                             "outside moderation")  # fmt: skip
    parser.add_argument("--links", type=int, help="idle links (default 10,000; 50 with --quick)")
    parser.add_argument("--event-loop", choices=EVENT_LOOPS,
                        default=BridgeConfig.model_fields["event_loop"].default,
                        help="the daemon's event loop, as `ae bridge serve --event-loop` "
                             "(the same default; auto: uvloop when installed); the bare "
                             "server shares it "
                             "(same process), the adapter and the bare client run on "
                             "asyncio's own")  # fmt: skip
    parser.add_argument("--adapter", nargs=2, metavar=("URL", "KEY"), help=argparse.SUPPRESS)
    parser.add_argument("--bare-client", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.adapter:
        anyio.run(adapter_worker, *args.adapter)
        return
    if args.bare_client:
        anyio.run(bare_client, args.bare_client[0], int(args.bare_client[1]))
        return
    parts = set(args.only or ("relay", "latency", "keys", "idle"))
    n, rounds, seconds, links = (500, 1, 0.5, 50) if args.quick else (5000, 3, 3.0, 10_000)
    key_count = 500 if args.quick else 10_000
    loop = backend_options(args.event_loop)
    print(f"the daemon's event loop: {resolve(args.event_loop)} (--event-loop {args.event_loop})")
    if "relay" in parts:
        # CPU time of the loop thread: on a shared machine wall time counts preemption
        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        r = anyio.run(relay, n, rounds, profiler, backend_options=loop)
        ours, base, busy, starved = r.ours, r.base, r.busy, r.starved
        ratio = ours / base
        print(f"bridge relay, {n} actions x {rounds} rounds (medians); the adapter and the "
              "bare client each in a process of their own", flush=True)  # fmt: skip
        print(f"  daemon (auth, moderation, audit, durable write, seq/ack, codec, WebSocket): "
              f"{ours:>7,.0f} actions/s")  # fmt: skip
        print(f"  baseline: bare websockets push, same frame size: {base:>7,.0f} frames/s")
        bound = (
            "CPU-bound (the loop always had work)"
            if busy + starved >= 0.85
            else "latency-bound (the loop waited: on commits, the adapter's acks)"
        )
        gain = ratio / BEFORE["relay_ratio"]
        print(f"  ratio: {ratio:.1%} (target >= 25%: {_met(ratio >= 0.25)}; "
              f"before #25: {BEFORE['relay_ratio']:.0%}, {gain:.1f}x that)")  # fmt: skip
        print(f"  the daemon's event loop ran {busy:.0%} of the time and waited for a CPU "
              f"{starved:.0%} (the machine is shared): {bound}")  # fmt: skip
        print(f"  CPU per action (steadier than rates on a shared machine): daemon "
              f"{r.cpu * 1e6:.0f} us, so at most {1 / r.cpu:,.0f} actions/s on a core of its "
              f"own ({1 / r.cpu / base:.0%} of the bare push); the bare server "
              f"{r.base_cpu * 1e6:.1f} us per frame (its client limits it)")  # fmt: skip
        if profiler is not None:
            print("  profile of the daemon's event loop while relaying (own CPU time, top 10):")
            stats = pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime")
            stats.print_stats(10)
            print("  the same outside moderation (encounters/moderation/): what the bridge "
                  "itself costs (store writes, codec, sends and acks, the loop); built-ins "
                  "only for SQLite and sockets, as others are mostly moderation's")  # fmt: skip
            stats.print_stats(BRIDGE_ONLY, 10)
    if "latency" in parts:
        for rate, target in ((1000, 2.0), (5000, None)):
            p50, p99, count, cpu = anyio.run(latency, rate, seconds, backend_options=loop)
            goal = (f" (target p99 <= {target:g} ms: {_met(p99 <= target)}; before #25: "
                    f"{BEFORE['p99_1000']:g} ms, ratio {p99 / BEFORE['p99_1000']:.2f})"
                    if target else "")  # fmt: skip
            print(f"action latency at {rate:,} actions/s for {seconds:g} s ({count} actions, "
                  "call to the adapter's receipt): "
                  f"p50 {p50:.2f} ms, p99 {p99:.2f} ms{goal}; "
                  f"CPU {cpu * 1e6:.0f} us per action")  # fmt: skip
    if "keys" in parts:
        every, revoked, holding = anyio.run(keys, key_count, backend_options=loop)
        print(f"world keys: {key_count:,} (one revoked), the event loop's CPU per question "
              f"(medians): listing every key (the baseline: how both were answered "
              f"before) {every * 1e3:.2f} ms; a revocation sweep {revoked * 1e3:.2f} ms "
              f"({every / revoked:,.0f}x less); the web world key of a server "
              f"{holding * 1e3:.2f} ms ({every / holding:,.0f}x less)")  # fmt: skip
    if "idle" not in parts:
        return
    idle_fleet.report(args.links or links, 2.0 if args.quick else idle_fleet.HOLD)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
