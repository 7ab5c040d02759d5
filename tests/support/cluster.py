"""Several real daemon nodes for the cluster tests: N ``ae bridge serve`` processes on
free loopback ports, one PostgreSQL schema (:mod:`tests.support.services`) and one
Redis key prefix, started, paused (SIGSTOP/SIGCONT), killed (SIGKILL) and stopped by
process id.

Redis is at 127.0.0.1:6379; where it does not answer, :func:`redis_prefix` skips the
test (fails it under ``CI=true``) like the PostgreSQL helper does. Every key under the
prefix is deleted afterwards.
"""

from __future__ import annotations

import base64
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import anyio

from tests.support.daemon_process import DaemonProcess
from tests.support.services import POSTGRES_URL, REDIS_URL, postgres_schema, redis_prefix

#: Seconds a node may take to answer: several start at once on a loaded machine.
START_TIMEOUT = 90.0


@dataclass
class DaemonCluster:
    """``size`` daemon nodes sharing ``store`` (a ``postgresql://`` URL) and the Redis
    keys under ``prefix``; ``lease_ttl`` short so a killed node's links move quickly."""

    root: Path
    store: str
    prefix: str
    size: int = 3
    lease_ttl: float = 2.0
    #: seconds between an adapter's heartbeats the nodes ask for (a link silent for
    #: twice that and five seconds is closed)
    heartbeat: float = 0.5
    nodes: list[DaemonProcess] = field(init=False)

    def __post_init__(self) -> None:
        # one memory key for every node, as docs/deployment.md asks: the nodes share
        # NPC memories, and one with another key refuses to start
        env = {"AE_REDIS": REDIS_URL, "AE_REDIS_PREFIX": self.prefix,
               "AE_BRIDGE_LEASE_TTL": str(self.lease_ttl), "AE_LOG_LEVEL": "info",
               "AE_MEMORY_KEY": base64.b64encode(os.urandom(32)).decode()}  # fmt: skip
        self.nodes = [
            DaemonProcess(
                self.root / f"node{i}", store=self.store, env=env, heartbeat=self.heartbeat
            )
            for i in range(self.size)
        ]

    @property
    def ws_urls(self) -> list[str]:
        return [node.ws_url for node in self.nodes]

    def node_at(self, ws_url: str) -> DaemonProcess:
        """The node listening at ``ws_url`` (an adapter's ``url``, query and all)."""
        for node in self.nodes:
            if ws_url.split("?")[0] == node.ws_url:
                return node
        raise LookupError(ws_url)

    async def keys(self, servers: list[str]) -> tuple[str, str, str]:
        """``(admin API key, creator API key, world key)`` in the shared store."""
        return await self.nodes[0].keys(servers=servers)

    async def start(self) -> None:
        """Start every node that is not running, at the same time."""
        async with anyio.create_task_group() as tg:
            for node in self.nodes:
                if node.proc is None or node.proc.poll() is not None:
                    tg.start_soon(partial(node.start, timeout=START_TIMEOUT))

    def terminate(self, timeout: float = 30.0) -> list[int]:
        """SIGTERM every running node at once, then wait; their exit codes."""
        running = [n.proc for n in self.nodes if n.proc is not None and n.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        return [proc.wait(timeout) for proc in running]

    @staticmethod
    def pause(node: DaemonProcess) -> None:
        """SIGSTOP: the node stops dead (a long GC pause, a frozen VM) with its sockets
        open; what reaches them meanwhile waits in the kernel."""
        assert node.proc is not None and node.proc.poll() is None
        node.proc.send_signal(signal.SIGSTOP)

    @staticmethod
    def wake(node: DaemonProcess) -> None:
        """SIGCONT: a paused node goes on where it stopped."""
        assert node.proc is not None
        node.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Every node is gone afterwards, whatever its state."""
        for node in self.nodes:
            node.stop()

    def output(self) -> str:
        return "\n".join(f"--- {n.data.name}\n{n.output()[-2000:]}" for n in self.nodes)


@contextmanager
def daemon_cluster(
    root: Path, size: int = 3, lease_ttl: float = 4.0, heartbeat: float = 0.5
) -> Iterator[DaemonCluster]:
    """``size`` nodes (not started) on a fresh PostgreSQL schema and Redis prefix.

    ``lease_ttl`` is short, so a killed node's links move within seconds, yet above the
    event-loop pauses of a loaded CI machine: a node that pauses for longer than its
    lease is taken for dead and its links move (its stale writes are refused, but its
    adapters reconnect), and a test would then see that instead of what it tests."""
    with redis_prefix() as prefix, postgres_schema() as schema:
        store = f"{POSTGRES_URL}?schema={schema}"
        cluster = DaemonCluster(root, store, prefix, size, lease_ttl, heartbeat)
        try:
            yield cluster
        finally:
            cluster.stop()
