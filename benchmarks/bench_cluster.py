"""Relay throughput of the daemon as an operator deploys it (issue #24), each figure
beside the same run's baseline:

1. one node on SQLite (the embedded default);
2. one node on PostgreSQL (``AE_STORE=postgresql://...``);
3. three nodes on one PostgreSQL and one Redis (``AE_REDIS``).

Every node is ``ae bridge serve`` in its own process on 127.0.0.1. Three game servers
(web adapters, :class:`AdapterClient`, in this process) link to the nodes, each to its
own node when there are three; companions are spawned on them through the control API,
and the actions come as control-API calls (``POST /signal``, :data:`BATCH` actions a
call, :data:`IN_FLIGHT` calls at once), each sent to the node *after* the one holding
the link, so with three nodes every action crosses nodes. Timed from the first call to
the last action received. Baseline: a bare ``websockets`` server pushing frames of the
same size (``bench_bridge.bare_push``), run right after each figure.

This relay adds HTTP and process boundaries to ``bench_bridge``'s (which signals inside
the daemon's process): compare the three figures here with each other. A figure whose
service (PostgreSQL at 127.0.0.1:5432, database ``test``; Redis at 127.0.0.1:6379) is
not reachable, or whose cluster mode is missing (a signal sent to one node never reaches
a link on another), is reported as not available, with the reason.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
import httpx  # noqa: E402

from benchmarks.bench_bridge import BATCH, IN_FLIGHT, PERSONA, bare_push, chats  # noqa: E402
from encounters.settings import load_settings  # noqa: E402
from encounters.storage.factory import store_from_settings  # noqa: E402
from encounters_bridge.adapter import AdapterClient  # noqa: E402
from encounters_bridge.frames import Frame  # noqa: E402
from encounters_bridge.keys import create_api_key, create_world_key  # noqa: E402
from encounters_bridge.store import open_bridge_store  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
#: Game servers (adapters) the actions go to: one per node with three nodes.
SERVERS = 3
#: The game servers' world (Minecraft bridges, as many operators run them).
WORLD: Final = "minecraft"
#: Seconds a signal sent through one node may take to reach a link on another before
#: the cluster figure is reported as not available.
ROUTE_WAIT = 15.0


class Unavailable(Exception):
    """A configuration that cannot run here; the message says why."""


@dataclass
class Node:
    proc: subprocess.Popen[bytes]
    ws_url: str
    http_url: str
    log: Path


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """``AE_STORE`` of a fresh schema in database ``test``, dropped afterwards."""
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(POSTGRES, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise Unavailable(f"PostgreSQL is not reachable at {POSTGRES} ({exc})") from None
    try:
        await conn.execute(f"CREATE SCHEMA {name}")
        yield f"{POSTGRES}?schema={name}"
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await conn.close()


@asynccontextmanager
async def redis_prefix() -> AsyncIterator[str]:
    """An ``AE_REDIS_PREFIX`` of this run alone; its keys are deleted afterwards."""
    import redis.asyncio as aioredis

    prefix = f"bench-{uuid.uuid4().hex[:12]}"
    client = aioredis.Redis.from_url(REDIS, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        await client.aclose()
        raise Unavailable(f"Redis is not reachable at {REDIS} ({exc})") from None
    try:
        yield prefix
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def provision(env: dict[str, str]) -> tuple[str, str, str]:
    """``(admin key, creator key, world key for bench-0..N)`` in the nodes' store."""
    settings = load_settings(data_dir=Path(env["AE_DATA_DIR"]), store=env["AE_STORE"])
    async with store_from_settings(settings) as store:
        records = await open_bridge_store(store)
        _, admin = await create_api_key(records, "bench-admin", "admin")
        _, creator = await create_api_key(records, "bench-creator", "creator")
        servers = [f"bench-{i}" for i in range(SERVERS)]
        _, world = await create_world_key(records, "bench", WORLD, servers)
    return admin, creator, world


async def start_node(env: dict[str, str], folder: Path) -> Node:
    folder.mkdir(parents=True, exist_ok=True)
    port, http_port = _free_port(), _free_port()
    log = folder / "daemon.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("ae")), "bridge", "serve", "--port", str(port),
             "--http-port", str(http_port)],
            env={**env, "AE_DATA_DIR": str(folder)}, stdout=out, stderr=out,
        )  # fmt: skip
    node = Node(proc, f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{http_port}", log)
    async with httpx.AsyncClient() as client:
        with anyio.fail_after(60):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"a node did not start:\n{log.read_text()[-2000:]}")
                try:
                    if (await client.get(f"{node.http_url}/health")).status_code == 200:
                        return node
                except httpx.HTTPError:
                    pass
                await anyio.sleep(0.1)


def stop_nodes(nodes: list[Node]) -> None:
    for node in nodes:
        node.proc.terminate()
    for node in nodes:
        try:
            node.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print("  (a node did not stop within 30 s of SIGTERM: killed)")
            node.proc.kill()
            node.proc.wait()


async def spawn(http: httpx.AsyncClient, admin: str, creator: str, server: str) -> str:
    """A companion on game server ``server``, through the control API."""
    r = await http.post("/personas/submit", headers=_bearer(creator), json=PERSONA)
    _ok(r)
    pid = r.json()["id"]
    r = await http.post(f"/personas/{pid}/approve", headers=_bearer(admin))
    _ok(r)
    body = {"personaId": pid, "deploymentToken": r.json()["token"], "world": WORLD,
            "serverId": server}  # fmt: skip
    r = await http.post("/spawn", headers=_bearer(creator), json=body)
    _ok(r)
    sid: str = r.json()["sessionId"]
    return sid


def _ok(r: httpx.Response) -> None:
    if r.status_code >= 400:
        raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def relay(env: dict[str, str], nodes_wanted: int, n: int, rounds: int,
                sessions_per_server: int) -> float:  # fmt: skip
    """Actions per second (median of ``rounds``) through ``nodes_wanted`` nodes."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**env, "AE_DATA_DIR": tmp}
        admin, creator, world = await provision(env)
        nodes: list[Node] = []
        try:
            for i in range(nodes_wanted):  # the first on the provisioned data folder
                nodes.append(await start_node(env, Path(tmp) / f"node-{i}" if i else Path(tmp)))
            received: list[Frame] = []
            figures: list[float] = []
            routed = False

            async def on_dispatch(frame: Frame) -> None:
                received.append(frame)

            def actions() -> int:
                return sum(1 for f in received if f.d.get("type") == "action")

            adapters = [
                AdapterClient(nodes[i % len(nodes)].ws_url, world=WORLD, server_id=f"bench-{i}",
                              key=world, capabilities=["chat"], on_dispatch=on_dispatch)
                for i in range(SERVERS)
            ]  # fmt: skip
            # the control API of the node holding each game server's link (spawns), and
            # of the node after it (signals)
            own = [httpx.AsyncClient(base_url=nodes[i % len(nodes)].http_url, timeout=60)
                   for i in range(SERVERS)]  # fmt: skip
            https = [httpx.AsyncClient(base_url=nodes[(i + 1) % len(nodes)].http_url, timeout=60)
                     for i in range(SERVERS)]  # fmt: skip
            try:
                async with anyio.create_task_group() as tg:
                    for adapter in adapters:
                        tg.start_soon(adapter.run)
                    with anyio.fail_after(60):
                        for adapter in adapters:
                            await adapter.ready.wait()
                    placed = [
                        (i, await spawn(own[i], admin, creator, f"bench-{i}"))
                        for i in range(SERVERS)
                        for _ in range(sessions_per_server)
                    ]
                    # one action first: does a signal reach a link held by another node?
                    await _signal(https[0], creator, placed[0][1], chats(0, 1))
                    with anyio.move_on_after(ROUTE_WAIT) as waited:
                        while actions() < 1:
                            await anyio.sleep(0.01)
                    routed = not waited.cancelled_caught
                    if routed:
                        figures = [await _round(https, creator, placed, r * n + 1, n, actions)
                                   for r in range(rounds)]  # fmt: skip
                    for adapter in adapters:
                        await adapter.stop()
                    tg.cancel_scope.cancel()
            finally:
                for http in own + https:
                    await http.aclose()
        finally:
            stop_nodes(nodes)
    if not routed:
        raise Unavailable(
            f"a signal sent to one node did not reach a link on another within "
            f"{ROUTE_WAIT:g} s: cluster mode (AE_REDIS routing) is not in this build"
        )
    return statistics.median(figures)


async def _signal(http: httpx.AsyncClient, creator: str, sid: str,
                  batch: list[dict[str, Any]]) -> None:  # fmt: skip
    r = await http.post("/signal", headers=_bearer(creator), json={"sessionId": sid,
                                                                   "actions": batch})  # fmt: skip
    _ok(r)
    refused = [x for x in r.json()["results"] if x["decision"] != "allow"]
    if refused:
        raise RuntimeError(f"the daemon refused actions: {refused[:3]}")


async def _round(https: list[httpx.AsyncClient], creator: str, placed: list[tuple[int, str]],
                 first: int, n: int, actions: Any) -> float:  # fmt: skip
    """Send ``n`` actions in batches over the companions; actions per second."""
    start_count = actions()
    batches = [chats(first + i, min(BATCH, n - i)) for i in range(0, n, BATCH)]
    start = time.perf_counter()

    async def one(k: int, batch: list[dict[str, Any]], limit: anyio.Semaphore) -> None:
        server, sid = placed[k % len(placed)]
        async with limit:
            await _signal(https[server], creator, sid, batch)

    async with anyio.create_task_group() as signals:
        limit = anyio.Semaphore(IN_FLIGHT)
        for k, batch in enumerate(batches):
            signals.start_soon(one, k, batch, limit)
    with anyio.fail_after(120):
        while actions() < start_count + n:
            await anyio.sleep(0.002)
    return n / (time.perf_counter() - start)


async def figure(label: str, nodes: int, n: int, rounds: int, sessions: int,
                 postgres: bool, redis: bool) -> float | None:  # fmt: skip
    """Run one configuration and print its line beside the baseline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AE_STORE", "AE_REDIS"))}
    env["AE_STORE"] = "sqlite"
    try:
        async with _maybe(postgres_schema() if postgres else None) as store_url:
            if store_url:
                env["AE_STORE"] = store_url
            async with _maybe(redis_prefix() if redis else None) as prefix:
                if prefix:
                    env["AE_REDIS"], env["AE_REDIS_PREFIX"] = REDIS, prefix
                ours = await relay(env, nodes, n, rounds, sessions)
    except Unavailable as exc:
        print(f"  {label:<38}: not available: {exc}", flush=True)
        return None
    base, _ = await bare_push(n)  # frames/s (and the server's CPU per frame)
    print(f"  {label:<38}: {ours:>8,.0f} actions/s  (baseline bare websockets push "
          f"{base:,.0f} frames/s: {ours / base:.0%})", flush=True)  # fmt: skip
    return ours


@asynccontextmanager
async def _maybe(cm: Any) -> AsyncIterator[str | None]:
    if cm is None:
        yield None
    else:
        async with cm as value:
            yield value


async def run(quick: bool) -> None:
    n, rounds, sessions = (300, 1, 2) if quick else (3000, 3, 10)
    print(f"cluster relay, {n} actions x {rounds} rounds through the control API "
          f"(medians; {SERVERS} game servers, {SERVERS * sessions} companions)",
          flush=True)  # fmt: skip
    one_sqlite = await figure("one node, SQLite", 1, n, rounds, sessions, False, False)
    one_pg = await figure("one node, PostgreSQL", 1, n, rounds, sessions, True, False)
    three = await figure("three nodes, PostgreSQL + Redis", 3, n, rounds, sessions, True, True)
    if one_pg and three:  # one machine here: the nodes share its cores, no scaling shows
        print(f"  three nodes / one node on PostgreSQL: {three / one_pg:.2f}x")
    if one_sqlite and one_pg:
        print(f"  PostgreSQL / SQLite, one node: {one_pg / one_sqlite:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run for smoke tests")
    anyio.run(run, parser.parse_args().quick)


if __name__ == "__main__":
    main()
