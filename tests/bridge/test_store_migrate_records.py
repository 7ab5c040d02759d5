"""``ae store migrate --to postgresql://...`` moves the daemon's records too (issue #24):
an operator moves an embedded daemon into PostgreSQL and its game servers, API callers
and deploy tokens keep working without new keys; a link resumes on the moved daemon
and gets what it had not acknowledged. Needs PostgreSQL at 127.0.0.1:5432 (see
tests/support/services.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect

import encounters_bridge.cli  # noqa: F401  (what `ae` loads: registers the daemon's tables)
from encounters.models import utcnow
from encounters.storage import SQLiteStore
from encounters.storage.postgres import PostgresStore
from encounters_bridge.frames import Frame
from encounters_bridge.keys import create_world_key, digest, new_key
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import DeployToken, open_bridge_store
from tests.support.control import Keys, ae, bearer, make_keys
from tests.support.daemon_process import DaemonProcess
from tests.support.services import POSTGRES_URL, postgres_schema

pytestmark = pytest.mark.timeout(120)

SERVER_ID = "gmod-moved"


async def embedded_daemon(db: Path) -> dict[str, Any]:
    """What an embedded daemon leaves in its SQLite file: keys, a deploy token, and a
    link with two dispatches its game server has not acknowledged."""
    async with SQLiteStore(db) as store:
        records = await open_bridge_store(store)
        keys = await make_keys(records)
        _, world_key = await create_world_key(records, "moved server", "gmod")
        token, _ = new_key("dt")
        await records.save_deploy_token(DeployToken(
            token_hash=digest(token), persona_id="per_moved",
            expires_at=utcnow() + timedelta(hours=1),
        ))  # fmt: skip
        edge = BridgeEdge(records, heartbeat_interval=5.0)
        server = await edge.serve("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws?encoding=json") as ws:
                assert json.loads(await ws.recv())["op"] == "hello"
                await ws.send(json.dumps({"op": "identify", "d": {
                    "world": "gmod", "server_id": SERVER_ID, "key": world_key,
                    "capabilities": ["chat"],
                }}))  # fmt: skip
                ready = json.loads(await ws.recv())
                assert ready["op"] == "ready", ready
                for n in (1, 2):  # received, never acknowledged
                    d = {"type": "action", "action": {"id": f"act-{n}", "type": "chat"}}
                    assert await edge.dispatch("gmod", SERVER_ID, Frame("dispatch", d, sid="s1"))
                got: list[dict[str, Any]] = []
                with anyio.fail_after(10):
                    while len([f for f in got if f["op"] == "dispatch"]) < 2:
                        got.append(json.loads(await ws.recv()))
        finally:
            await edge.close_all()
            server.close()
            await server.wait_closed()
    return {"keys": keys, "world_key": world_key, "token": token, "ready": ready["d"]}


def test_an_embedded_daemon_moved_into_postgresql_keeps_its_keys_and_links(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    made = anyio.run(embedded_daemon, data / "encounters.db")
    keys: Keys = made["keys"]
    with postgres_schema() as schema:
        url = f"{POSTGRES_URL}?schema={schema}"
        code, out, err = ae("--data-dir", str(data), "store", "migrate", "--to", url)
        assert code == 0, err
        for table in ("world_keys", "api_keys", "deploy_tokens", "bridge_links", "bridge_outbox"):
            assert table in out, out

        async def records_moved() -> None:
            async with PostgresStore(url) as store:
                records = await open_bridge_store(store)
                token = await records.get_deploy_token(digest(made["token"]))
                assert token is not None and token.persona_id == "per_moved"
                link = await records.get_link(made["ready"]["link_id"])
                assert link is not None and [f["s"] for f in link.unacked] == [1, 2]

        anyio.run(records_moved)

        # a daemon started on the PostgreSQL store: the same keys, the same link
        node = DaemonProcess(tmp_path / "node", store=url)
        anyio.run(node.start)
        try:

            async def moved_daemon_serves() -> None:
                async with httpx.AsyncClient(base_url=node.http_url) as http:
                    r = await http.get("/admin/world-keys", headers=bearer(keys.admin))
                    assert r.status_code == 200, r.text
                    assert "moved server" in [k["name"] for k in r.json()]
                    r = await http.get("/admin/world-keys", headers=bearer("ae_ak_not_a_key"))
                    assert r.status_code == 401
                async with connect(node.ws_url + "?encoding=json") as ws:
                    assert json.loads(await ws.recv())["op"] == "hello"
                    await ws.send(json.dumps({"op": "resume", "d": {
                        "link_id": made["ready"]["link_id"],
                        "resume_token": made["ready"]["resume_token"], "last_s": 0,
                    }}))  # fmt: skip
                    frames: list[dict[str, Any]] = []
                    with anyio.fail_after(10):
                        while len([f for f in frames if f["op"] == "dispatch"]) < 2:
                            frames.append(json.loads(await ws.recv()))
                    assert frames[0]["op"] == "resumed", frames
                    replayed = [f for f in frames if f["op"] == "dispatch"]
                    assert [(f["s"], f["d"]["action"]["id"]) for f in replayed] == [
                        (1, "act-1"), (2, "act-2")
                    ]  # fmt: skip
                # the world key identifies the same game server on the moved daemon
                async with connect(node.ws_url + "?encoding=json") as ws:
                    assert json.loads(await ws.recv())["op"] == "hello"
                    await ws.send(json.dumps({"op": "identify", "d": {
                        "world": "gmod", "server_id": SERVER_ID, "key": made["world_key"],
                        "capabilities": ["chat"],
                    }}))  # fmt: skip
                    with anyio.fail_after(10):
                        assert json.loads(await ws.recv())["op"] == "ready"

            anyio.run(moved_daemon_serves)
        except Exception:
            print(node.output()[-4000:])
            raise
        finally:
            node.stop()
