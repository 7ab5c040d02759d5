"""NPC memory across ``ae bridge serve`` nodes on one PostgreSQL schema: what one node
records, another serves (a game server's link can move between them), and a node with
another ``AE_MEMORY_KEY`` refuses to start.

Needs PostgreSQL and Redis on 127.0.0.1 (skipped without them, failed under CI)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.daemon_process import DaemonProcess
from tests.support.services import POSTGRES_URL, REDIS_URL, postgres_schema, redis_prefix

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The nodes' ``AE_STORE``, with their Redis and one memory key in the environment."""
    with postgres_schema() as schema, redis_prefix() as prefix:
        monkeypatch.setenv("AE_REDIS", REDIS_URL)
        monkeypatch.setenv("AE_REDIS_PREFIX", prefix)
        monkeypatch.setenv("AE_MEMORY_KEY", base64.b64encode(os.urandom(32)).decode())
        yield f"{POSTGRES_URL}?schema={schema}"


async def test_memories_follow_the_player_across_nodes(tmp_path: Path, shared: str) -> None:
    nodes = [DaemonProcess(tmp_path / f"node{i}", store=shared) for i in range(2)]
    another_key = {"AE_MEMORY_KEY": base64.b64encode(os.urandom(32)).decode()}
    other = DaemonProcess(tmp_path / "node-other-key", store=shared, env=another_key)
    try:
        admin, _, _ = await nodes[0].keys()
        for node in nodes:
            await node.start()
        auth = {"authorization": f"Bearer {admin}"}
        async with httpx.AsyncClient(headers=auth, timeout=30) as http:
            said = {"dialogue": ["You brought back my lost ring!"], "outcome": "positive"}
            r = await http.post(f"{nodes[0].http_url}/memory/smith/ana", json=said)
            assert r.status_code == 201, r.text
            r = await http.get(f"{nodes[1].http_url}/memory/smith/ana", params={"query": "ring"})
            assert r.status_code == 200, r.text
            view = r.json()
            assert view["profile"]["relationship"] == 10
            assert [m["text"] for m in view["memories"]] == ["You brought back my lost ring!"]
        with pytest.raises(AssertionError):  # it exits before its control API answers
            await other.start()
        assert other.proc is not None and other.proc.wait(30) == 1
        assert "AE_MEMORY_KEY" in other.output()
    finally:
        for node in [*nodes, other]:
            node.stop()
