"""The idle-links figure of ``bench_bridge.py``: a daemon holding thousands of idle
links that heartbeat, next to a bare ``websockets`` server holding the same fleet.

The daemon runs as ``ae bridge serve`` in its own process with its default heartbeat
(15 s); the adapters (:class:`~encounters_bridge.adapter.AdapterClient`, as a game runs
it) run in ``WORKERS`` other processes on the same machine. The baseline is a bare
``websockets`` server in its own process that speaks just enough of the protocol for
those adapters (``hello``, ``ready`` to any ``identify``, ``heartbeat_ack`` to each
``heartbeat``), with the daemon's socket settings: it is the floor of what asyncio and
``websockets`` cost per connection and per heartbeat on this machine.

For each server: its RSS is read from /proc before the fleet connects and in the steady
state (every link ready and beating; the workers start their timed hold together, on a
``go`` from here, so the reading sees all of them); the heartbeat round trips the
adapters saw during the hold give p50 and p99; then the server gets SIGTERM while it
still holds every link, and the seconds until it exits are printed (the daemon saves and
closes every link first).

Run as a script it is one of the fleet's processes (``worker``) or the baseline server
(``bare``); ``bench_bridge.py`` starts them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402

from encounters_bridge.adapter import AdapterClient  # noqa: E402
from encounters_bridge.protocol import Send  # noqa: E402

#: Adapter processes the fleet is spread over (a game server is its own process).
WORKERS = 4
#: Seconds of the timed hold: a little over one heartbeat interval, so every link beats.
HOLD = 17.0
#: Seconds the whole fleet has to become ready.
READY_WITHIN = 240.0
#: Adapters of one worker connecting (not ready yet) at once: a fleet reconnecting
#: after a restart is spread by its adapters' jittered back-off, not one SYN flood.
CONNECTING = 100
#: The target, KiB of daemon RSS per idle link (issue #25).
TARGET_KIB = 20.0


@dataclass
class Figures:
    """What one server showed while holding the fleet."""

    links: int
    ready: int = 0
    rss_before_mib: float = 0.0
    rss_after_mib: float = 0.0
    rtts_ms: list[float] = field(default_factory=list)
    ready_seconds: float = 0.0
    stop_seconds: float | None = None  #: None: it did not exit in time (killed)

    @property
    def kib_per_link(self) -> float:
        return (self.rss_after_mib - self.rss_before_mib) * 1024 / max(1, self.ready)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- one adapter process of the fleet ------------------------------------------------------


async def worker(url: str, key: str, first: int, count: int, hold: float) -> None:
    """``count`` idle adapters (server ids ``idle-<first>...``) in this process. Prints
    ``{"ready": n}`` once they are linked (or after ``READY_WITHIN``), waits for ``go``
    on stdin, then after ``hold`` seconds prints the heartbeat round trips (ms) it saw
    meanwhile and how many connections it made (more than ``count``: links dropped and
    reconnected), and keeps the links until ``stop`` (or the end of stdin)."""
    rtts: list[float] = []
    clients = [_timed(AdapterClient(url, world="web", server_id=f"idle-{i}", key=key,
                                    capabilities=["chat"]), rtts)
               for i in range(first, first + count)]  # fmt: skip
    window = anyio.Semaphore(CONNECTING)

    async def ready(c: AdapterClient) -> None:
        with anyio.move_on_after(60):
            await c.ready.wait()
        window.release()

    async with anyio.create_task_group() as tg:
        with anyio.move_on_after(READY_WITHIN):
            for c in clients:
                await window.acquire()
                tg.start_soon(c.run)
                tg.start_soon(ready, c)
            for c in clients:
                await c.ready.wait()
        print(json.dumps({"ready": sum(c.ready.is_set() for c in clients)}), flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)  # go
        rtts.clear()  # the round trips of the steady state only
        await anyio.sleep(hold)
        reconnects = sum(c.connections for c in clients) - count
        print(json.dumps({"rtts": rtts, "reconnects": reconnects}), flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)  # stop
        tg.cancel_scope.cancel()


def _timed(client: AdapterClient, rtts: list[float]) -> AdapterClient:
    """Record the time from each heartbeat the client sends to its ``heartbeat_ack``."""
    link, sent = client.link, [0.0]
    tick, receive = link.tick, link.receive

    def timed_tick(now: float) -> Any:
        out = tick(now)
        if any(isinstance(e, Send) and e.frame.op == "heartbeat" for e in out):
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


# -- the baseline server ---------------------------------------------------------------------


async def bare(port: int) -> None:
    """A bare ``websockets`` server with the daemon's socket settings that answers the
    adapters as the daemon would when nothing else is asked of it."""
    from websockets.asyncio.server import ServerConnection, serve

    hello = json.dumps({"op": "hello", "d": {"protocol": 1, "heartbeat_interval": 15000,
                                             "max_frame_bytes": 65536}})  # fmt: skip

    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello)
        n = 0
        async for message in ws:
            frame = json.loads(message)
            if frame["op"] == "identify":
                n += 1
                await ws.send(json.dumps({"op": "ready", "d": {
                    "link_id": f"link_{n}", "resume_token": "ae_rt_bench",
                    "heartbeat_interval": 15000, "sessions": []}}))  # fmt: skip
            elif frame["op"] == "heartbeat":
                await ws.send(json.dumps({"op": "heartbeat_ack", "d": {"ack": 0}}))

    stop = anyio.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    async with serve(handler, "127.0.0.1", port, ping_interval=None, compression=None,
                     max_size=16 * 65536, close_timeout=2):  # fmt: skip
        await stop.wait()


# -- driving one server and its fleet ---------------------------------------------------


async def hold_fleet(server: list[str], env: dict[str, str], port: int, key: str, n: int,
                     hold: float) -> Figures:  # fmt: skip
    """Start ``server`` (listening on ``port``), connect ``n`` idle adapters to it from
    ``WORKERS`` processes, measure, SIGTERM it while it holds them, stop the fleet."""
    figures = Figures(n)
    # its log goes to a file, not a pipe: a full pipe would stall the server
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(server, env=env, stdout=subprocess.DEVNULL, stderr=log)
        workers: list[subprocess.Popen[str]] = []
        try:
            await _listening(proc, port, log)
            await _measure(proc, workers, figures, env, port, key, hold)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for w in workers:
                _say(w, "stop")
            for w in workers:
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    w.kill()
                    w.wait()
    return figures


async def _listening(proc: subprocess.Popen[bytes], port: int, log: Any) -> None:
    for _ in range(300):
        await anyio.sleep(0.1)
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server exited: {log.read()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            continue
    await anyio.sleep(1.0)  # settled: its startup work is done


async def _measure(proc: subprocess.Popen[bytes], workers: list[subprocess.Popen[str]],
                   figures: Figures, env: dict[str, str], port: int, key: str,
                   hold: float) -> None:  # fmt: skip
    n = figures.links
    figures.rss_before_mib = rss_kib(proc.pid) / 1024
    share, start = -(-n // WORKERS), time.perf_counter()
    for first in range(0, n, share):
        workers.append(subprocess.Popen(
            [sys.executable, __file__, "worker", f"ws://127.0.0.1:{port}/ws", key,
             str(first), str(min(share, n - first)), str(hold)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        ))  # fmt: skip
    for w in workers:
        figures.ready += json.loads(await _line(w))["ready"]
    figures.ready_seconds = time.perf_counter() - start
    for w in workers:
        _say(w, "go")
    await anyio.sleep(hold / 2)
    figures.rss_after_mib = rss_kib(proc.pid) / 1024
    for w in workers:
        figures.rtts_ms += json.loads(await _line(w))["rtts"]
    start = time.perf_counter()
    proc.send_signal(signal.SIGTERM)  # while it holds every link
    try:
        await anyio.to_thread.run_sync(lambda: proc.wait(timeout=60))
        figures.stop_seconds = time.perf_counter() - start
    except subprocess.TimeoutExpired:
        pass


async def _line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = await anyio.to_thread.run_sync(proc.stdout.readline)
    if not line:
        raise RuntimeError("a fleet worker ended early")
    return line


def _say(proc: subprocess.Popen[str], word: str) -> None:
    try:
        assert proc.stdin is not None
        proc.stdin.write(word + "\n")
        proc.stdin.flush()
    except (BrokenPipeError, ValueError):
        pass


async def daemon_fleet(n: int, hold: float) -> Figures:
    """The daemon (``ae bridge serve``) holding ``n`` idle links."""
    with tempfile.TemporaryDirectory() as tmp:
        # every adapter here comes from 127.0.0.1: let them all connect at once
        env = {**os.environ, "AE_DATA_DIR": tmp, "AE_BRIDGE_MAX_UNIDENTIFIED": str(n),
               "AE_BRIDGE_MAX_UNIDENTIFIED_PER_ADDRESS": str(n)}  # fmt: skip
        ae = str(Path(sys.executable).with_name("ae"))
        fleet = [arg for i in range(n) for arg in ("--server", f"idle-{i}")]
        add = [ae, "worlds", "add", "bench", "--world", "web", *fleet]
        added = subprocess.run(add, env=env, capture_output=True, text=True, check=True)
        key = added.stdout.split()[-1]
        port, http_port = _free_port(), _free_port()
        serve = [ae, "bridge", "serve", "--port", str(port), "--http-port", str(http_port)]
        return await hold_fleet(serve, env, port, key, n, hold)


async def bare_fleet(n: int, hold: float) -> Figures:
    """The baseline: a bare ``websockets`` server holding ``n`` idle connections."""
    port = _free_port()
    server = [sys.executable, __file__, "bare", str(port)]
    return await hold_fleet(server, dict(os.environ), port, "ae_wk_bench", n, hold)


def report(n: int, hold: float) -> None:
    """Print the idle-links figures (the daemon's, then the baseline's)."""
    ours = anyio.run(daemon_fleet, n, hold)
    base = anyio.run(bare_fleet, n, hold)
    print(f"idle links with heartbeats (default 15 s), {n:,} from {WORKERS} adapter processes:")
    for name, f in (("daemon (ae bridge serve)", ours), ("baseline bare websockets", base)):
        rtt = (f"heartbeat p50 {statistics.median(f.rtts_ms):.2f} ms, p99 "
               f"{pct(f.rtts_ms, 0.99):.2f} ms ({len(f.rtts_ms):,} beats)"
               if f.rtts_ms else "no heartbeats seen")  # fmt: skip
        stop = (f"{f.stop_seconds:.1f} s" if f.stop_seconds is not None
                else "did not exit within 60 s: killed")  # fmt: skip
        print(f"  {name:<25}: {f.ready:,}/{n:,} ready in {f.ready_seconds:.0f} s; RSS "
              f"{f.rss_before_mib:.1f} -> {f.rss_after_mib:.1f} MiB = {f.kib_per_link:.1f} KiB "
              f"per link; {rtt}; stops {stop} after SIGTERM")  # fmt: skip
    print(f"  daemon RSS per link: {ours.kib_per_link:.1f} KiB (target <= {TARGET_KIB:g} KiB: "
          f"{'met' if ours.kib_per_link <= TARGET_KIB else 'NOT met'}; "
          f"{ours.kib_per_link - base.kib_per_link:.1f} KiB above the baseline)")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        url, key, first, count, hold = sys.argv[2:7]
        anyio.run(worker, url, key, int(first), int(count), float(hold))
    elif sys.argv[1] == "bare":
        anyio.run(bare, int(sys.argv[2]))
