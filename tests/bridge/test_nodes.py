"""Three ``ae bridge serve`` processes on one PostgreSQL schema and one Redis prefix
(as three daemon nodes behind a load balancer): shared limits hold across the nodes,
and webhook events are delivered once with three nodes delivering, also when the node
sending one is killed with SIGKILL mid-request.

Needs PostgreSQL and Redis on 127.0.0.1 (skipped without them, failed under CI)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from encounters.client import EncountersClient
from encounters_bridge.adapter import AdapterClient
from tests.support.daemon_process import DaemonProcess
from tests.support.services import POSTGRES_URL, REDIS_URL, postgres_schema, redis_prefix

pytestmark = pytest.mark.anyio
SERVER = "node-srv"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The nodes' ``AE_STORE``; their Redis, master key and webhook network in the
    environment they inherit."""
    with postgres_schema() as schema, redis_prefix() as prefix:
        monkeypatch.setenv("AE_REDIS", REDIS_URL)
        monkeypatch.setenv("AE_REDIS_PREFIX", prefix)
        # every node seals and opens webhook secrets with one key
        monkeypatch.setenv("AE_MEMORY_KEY", base64.b64encode(os.urandom(32)).decode())
        monkeypatch.setenv("AE_WEBHOOK_ALLOW_NETWORKS", '["127.0.0.0/8"]')
        yield f"{POSTGRES_URL}?schema={schema}"


@contextlib.asynccontextmanager
async def three_nodes(tmp_path: Path, store: str) -> AsyncIterator[list[DaemonProcess]]:
    nodes = [DaemonProcess(tmp_path / f"node{i}", store=store) for i in range(3)]
    try:
        await nodes[0].keys()  # migrates the schema once, before the nodes start
        async with anyio.create_task_group() as tg:
            for node in nodes:
                tg.start_soon(node.start)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def identify_close_code(url: str, key: str) -> int:
    """Identify on ``url`` with ``key``; the close code the daemon answers with."""
    async with connect(url) as ws:
        await ws.recv()  # hello
        await ws.send(json.dumps({"op": "identify", "d": {
            "protocol": 1, "world": "minecraft", "server_id": SERVER, "key": key}}))  # fmt: skip
        with anyio.fail_after(20):
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None
                return closed.rcvd.code
    raise AssertionError("unreachable")


async def test_rate_limits_hold_across_nodes(tmp_path: Path, shared: str) -> None:
    async with three_nodes(tmp_path, shared) as nodes:
        admin, creator, world_key = await nodes[0].keys(servers=[SERVER])
        game = AdapterClient(nodes[0].ws_url, world="minecraft", server_id=SERVER,
                             key=world_key, capabilities=["chat"])  # fmt: skip
        async with anyio.create_task_group() as tg:
            tg.start_soon(game.run)
            with anyio.fail_after(30):
                await game.ready.wait()
            async with (
                EncountersClient(nodes[0].http_url, creator) as me,
                EncountersClient(nodes[0].http_url, admin) as ops,
            ):
                safety = {"allowedActions": ["chat"], "maxActionsPerMinute": 6}
                pid = (await me.submit_persona({"name": "Budget", "safety": safety}))["id"]
                token = (await ops.approve_persona(pid))["token"]
                sid = (await me.spawn(pid, token, "minecraft", SERVER))["sessionId"]
            # one persona's actions, four through each node in turn: one budget of 6
            results: list[dict[str, Any]] = []
            for n, node in enumerate(nodes):
                async with EncountersClient(node.http_url, creator) as client:
                    actions = [{"type": "chat", "message": f"hi {n}.{i}"} for i in range(4)]
                    results += (await client.signal(sid, actions))["results"]
            await game.stop()
            tg.cancel_scope.cancel()

        allowed = [r for r in results if r["decision"] == "allow"]
        # 6 at once, and one more only if the three calls took over 10 s (6 a minute);
        # with a budget per node it would be 12
        assert 6 <= len(allowed) <= 7, results
        assert [r["decision"] for r in results[:6]] == ["allow"] * 6
        refused = [r for r in results if r["decision"] != "allow"]
        assert all(r["reason"] == "rate_limited" and r["retry_after"] > 0 for r in refused)

        # failed identifies from one address, spread over the nodes: 5 are allowed in
        # all, the 6th starts the back-off, and then every node refuses with 4008
        codes = [await identify_close_code(nodes[i % 3].ws_url, "ae_wk_wrong") for i in range(6)]
        assert codes == [4004] * 6
        assert await identify_close_code(nodes[0].ws_url, "ae_wk_wrong") == 4008
        assert await identify_close_code(nodes[1].ws_url, world_key) == 4008  # even a good key


class Receiver:
    """A webhook receiver on 127.0.0.1 (HTTP/1.1, keep-alive) that records the
    ``webhook-id`` of each event it answered 200. When ``trap`` is set, the next
    request is held unanswered (its sender's port noted in ``held``) until
    ``release``, then dropped: a delivery cut off mid-request."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []  # (webhook-id, persona id)
        self.trap = False
        self.held: tuple[str, int] | None = None  # (webhook-id, the sender's port)
        self.sprung = asyncio.Event()
        self.release = asyncio.Event()
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:])
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                event_id = headers["webhook-id"]
                if self.trap:
                    self.trap = False
                    self.held = (event_id, writer.get_extra_info("peername")[1])
                    self.sprung.set()
                    await self.release.wait()
                    writer.transport.abort()
                    return
                self.delivered.append((event_id, json.loads(body)["data"]["persona_id"]))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.transport.abort()


def owner_of_port(port: int, nodes: list[DaemonProcess]) -> DaemonProcess:
    """The node whose socket has local port ``port`` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in list(f)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for node in nodes:
        assert node.proc is not None
        fds = Path(f"/proc/{node.proc.pid}/fd")
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return node
    raise AssertionError(f"no node holds port {port}")


async def test_each_webhook_event_is_delivered_once_by_three_nodes_and_after_a_kill(
    tmp_path: Path, shared: str
) -> None:
    receiver = Receiver()
    await receiver.start()
    async with three_nodes(tmp_path, shared) as nodes:
        admin, creator, _ = await nodes[0].keys()
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {admin}"}) as http:
            hook = {"url": receiver.url, "events": ["persona.submitted"]}
            answer = await http.post(f"{nodes[1].http_url}/webhooks", json=hook)
            assert answer.status_code == 201, answer.text
        submitted: list[str] = []

        async def submit(node: DaemonProcess, n: int) -> None:
            async with EncountersClient(node.http_url, creator) as me:
                for _ in range(n):
                    persona = {"name": f"Hook {len(submitted)}"}
                    submitted.append((await me.submit_persona(persona))["id"])

        async def delivered_all() -> None:
            with anyio.fail_after(90):  # a killed node's claim expires after 15 s
                while {p for _, p in receiver.delivered} != set(submitted):
                    await anyio.sleep(0.05)

        # three nodes delivering (each is woken by the events it records)
        async with anyio.create_task_group() as tg:
            for node in nodes:
                tg.start_soon(submit, node, 8)
        await delivered_all()

        # the node sending an event is killed while the receiver holds the request
        receiver.trap = True
        await submit(nodes[2], 1)
        with anyio.fail_after(30):
            await receiver.sprung.wait()
        assert receiver.held is not None
        victim = owner_of_port(receiver.held[1], nodes)
        victim.kill()
        receiver.release.set()
        survivors = [n for n in nodes if n is not victim]
        await submit(survivors[0], 2)
        await submit(survivors[1], 2)
        await delivered_all()
        await anyio.sleep(1.0)  # a second send of anything would arrive by now

    assert len(submitted) == 29
    counts = Counter(event_id for event_id, _ in receiver.delivered)
    assert [e for e, n in counts.items() if n > 1] == [], "an event was delivered twice"
    assert len(counts) == 29
    assert receiver.held[0] in counts, "the event cut off by the kill was delivered later"
