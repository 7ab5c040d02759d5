"""``ae worlds add|list|revoke`` and ``ae bridge serve``, as an operator runs them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from typer.testing import CliRunner

from encounters.settings import load_settings
from encounters.storage import SQLiteStore
from encounters_bridge.adapter import AdapterClient
from encounters_bridge.cli import app
from encounters_bridge.frames import CloseCode
from encounters_bridge.keys import digest
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import open_bridge_store

KEY_LINE = re.compile(r"^(ae_wk_([0-9a-f]{12})_[A-Za-z0-9_-]{32})$", re.MULTILINE)
runner = CliRunner()


def ae(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--data-dir", str(data_dir), *args], env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def add_key(data_dir: Path, name: str, world: str = "gmod") -> tuple[str, str, str]:
    """``(key id, key, stdout)``."""
    code, out, err = ae(data_dir, "worlds", "add", name, "--world", world)
    assert code == 0, err
    matches = KEY_LINE.findall(out)
    assert len(matches) == 1, out  # printed exactly once
    key, key_id = matches[0]
    assert len(secret_of(key)) == 32
    return key_id, key, out


def secret_of(key: str) -> str:
    """The 32 secret characters after ``ae_wk_<id>_`` (they may contain ``_``)."""
    return key[len("ae_wk_") + 13 :]


def store_bytes(data_dir: Path) -> bytes:
    """Every byte the store left on disk (database, WAL, journal)."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- ae worlds ----------------------------------------------------------------------------


def test_worlds_add_prints_the_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key_id, key, out = add_key(data, "Friday night server", "gmod")
    assert (
        f"world key {key_id} for 'Friday night server' (gmod, bound to its first server id)" in out
    )
    assert "shown once" in out
    assert out.count(key) == 1
    disk = store_bytes(data)
    assert disk  # the store exists
    assert key.encode() not in disk
    assert secret_of(key).encode() not in disk  # nor the secret part alone
    assert digest(key).encode() in disk  # the hash is what is kept


def test_worlds_list_shows_every_key_but_never_a_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keys = [
        add_key(data, name, world)
        for name, world in (("gmod box", "gmod"), ("mc box", "minecraft"), ("web box", "web"))
    ]
    code, out, _ = ae(data, "worlds", "list")
    assert code == 0
    for (key_id, key, _), (name, world) in zip(
        keys, (("gmod box", "gmod"), ("mc box", "minecraft"), ("web box", "web")), strict=True
    ):
        row = next(line for line in out.splitlines() if key_id in line)
        assert name in row and world in row and "active" in row
        assert key not in out and secret_of(key) not in out
        assert digest(key) not in out
    assert "revoked" not in out


def test_worlds_revoke_marks_the_key_revoked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keep_id, _, _ = add_key(data, "keep")
    gone_id, _, _ = add_key(data, "gone")
    code, out, _ = ae(data, "worlds", "revoke", gone_id)
    assert code == 0
    assert f"world key {gone_id} revoked" in out
    _, listing, _ = ae(data, "worlds", "list")
    rows = {
        line.split()[1]: line for line in listing.splitlines() if re.search(r"[0-9a-f]{12}", line)
    }
    assert "revoked" in rows[gone_id] and "active" not in rows[gone_id]
    assert "active" in rows[keep_id]


def test_worlds_revoke_of_an_unknown_id_fails_clearly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_key(data, "one")
    code, out, err = ae(data, "worlds", "revoke", "ffffffffffff")
    assert code == 1
    assert "no world key with id 'ffffffffffff'" in err
    assert "ae worlds list" in err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("world", ["bogus", "GMOD", ""])
def test_worlds_add_with_a_bad_world_fails(tmp_path: Path, world: str) -> None:
    data = tmp_path / "data"
    code, out, err = ae(data, "worlds", "add", "x", "--world", world)
    assert code == 1
    assert "--world must be gmod, minecraft or web" in err
    assert not KEY_LINE.search(out)
    _, listing, _ = ae(data, "worlds", "list")
    assert not re.search(r"[0-9a-f]{12}", listing)  # nothing was stored


@pytest.mark.parametrize("name", ["", "x" * 121])
def test_worlds_add_with_a_bad_name_fails_cleanly(tmp_path: Path, name: str) -> None:
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "worlds", "add", name, "--world", "gmod"]
    )
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "name" in result.stderr


# -- keys made by the CLI against a daemon ------------------------------------------------


async def _connect(db: Path, key: str, **link: Any) -> AdapterClient:
    """Run a daemon on ``db`` and an adapter with ``key`` until it is ready or stops;
    ``link`` presets the adapter's link (to resume instead of identifying)."""
    async with SQLiteStore(db) as store:
        edge = BridgeEdge(await open_bridge_store(store), heartbeat_interval=0.5)
        server = await edge.serve("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = AdapterClient(
            f"ws://127.0.0.1:{port}/ws",
            world="gmod",
            server_id="srv",
            key=key,
            capabilities=["chat"],
            max_backoff=0.05,
        )
        for name, value in link.items():
            setattr(client.link, name, value)
        try:
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:

                    async def watch() -> None:
                        await client.ready.wait()
                        await client.stop()

                    tg.start_soon(watch)
                    await client.run()
                    tg.cancel_scope.cancel()
        finally:
            server.close()
            await server.wait_closed()
    return client


def test_a_cli_key_authenticates_and_after_revoke_is_refused_with_4004(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key_id, key, _ = add_key(data, "gmod box", "gmod")
    db = load_settings(data_dir=data).database_path

    ok = anyio.run(_connect, db, key)
    assert ok.link.link_id is not None and ok.connections == 1
    assert not ok.link.stopped

    assert ae(data, "worlds", "revoke", key_id)[0] == 0
    # a new identify with the revoked key: 4004, and the adapter never retries
    refused = anyio.run(_connect, db, key)
    assert refused.last_close == CloseCode.AUTH_FAILED
    assert refused.link.stopped and refused.connections == 1
    # the link made before the revocation cannot resume either
    resumed = anyio.run(
        lambda: _connect(db, key, link_id=ok.link.link_id, resume_token=ok.link.resume_token)
    )
    assert resumed.last_close == CloseCode.AUTH_FAILED
    assert resumed.link.stopped and resumed.connections == 1


def test_a_cli_key_for_another_world_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _, key, _ = add_key(data, "mc box", "minecraft")
    client = anyio.run(_connect, load_settings(data_dir=data).database_path, key)  # as gmod
    assert client.last_close == CloseCode.AUTH_FAILED and client.link.stopped


# -- ae bridge serve ----------------------------------------------------------------------


def test_bridge_serve_runs_until_sigterm_and_closes_links_with_1001(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _, key, _ = add_key(data, "gmod box", "gmod")
    ae_bin = Path(sys.executable).parent / "ae"
    assert ae_bin.exists()
    port, http_port = free_port(), free_port()
    # The config file's ports are overridden by the environment (WebSocket) and a flag
    # (HTTP): the daemon must listen where the last layer says.
    config = tmp_path / "bridge.toml"
    config.write_text(f"[bridge]\nport = {free_port()}\nhttp_port = 1\nheartbeat = 0.5\n")
    env = {
        **os.environ,
        "AE_DATA_DIR": str(data),
        "AE_BRIDGE_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    proc = subprocess.Popen(
        [
            str(ae_bin),
            "bridge",
            "serve",
            "--config",
            str(config),
            "--http-port",
            str(http_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    closes: list[int] = []
    try:
        client = AdapterClient(
            f"ws://127.0.0.1:{port}/ws",
            world="gmod",
            server_id="srv",
            key=key,
            capabilities=["chat"],
            max_backoff=0.05,
        )
        original = client.link.closed

        def record(code: int) -> Any:
            closes.append(code)
            return original(code)

        client.link.closed = record  # type: ignore[method-assign]

        async def session() -> None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.run)
                with anyio.fail_after(20):  # the daemon starts (imports, store) meanwhile
                    while not (client.ws is not None and client.link.ready):
                        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                        await anyio.sleep(0.05)
                assert client.link.link_id is not None
                async with httpx.AsyncClient() as http:  # the control API, on the flag's port
                    with anyio.fail_after(10):
                        while True:
                            try:
                                docs = await http.get(f"http://127.0.0.1:{http_port}/docs")
                                break
                            except httpx.ConnectError:
                                await anyio.sleep(0.05)
                    assert docs.status_code == 200
                closes.clear()  # refused connections while the daemon was starting
                started = time.monotonic()
                os.kill(proc.pid, signal.SIGTERM)
                with anyio.fail_after(10):
                    while not closes:
                        await anyio.sleep(0.01)
                    while proc.poll() is None:
                        await anyio.sleep(0.05)
                assert time.monotonic() - started < 10
                await client.stop()
                tg.cancel_scope.cancel()

        anyio.run(session)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert closes[0] == CloseCode.GOING_AWAY, (closes, err)
    assert proc.returncode == 0, err
    assert f"ws://127.0.0.1:{port}/ws" in out
    assert f"http://127.0.0.1:{http_port} " in out
    assert "bridge stopped; link state saved" in out
    assert key not in out + err


async def api_keys(data: Path) -> tuple[str, str]:
    """An admin's and a creator's control-API keys in the daemon's store at ``data``."""
    from encounters_bridge.keys import create_api_key

    async with SQLiteStore(load_settings(data_dir=data).database_path) as store:
        records = await open_bridge_store(store)
        _, admin = await create_api_key(records, "ops", "admin")
        _, creator = await create_api_key(records, "me", "creator")
    return admin, creator


def serve(data: Path, port: int, http_port: int, *args: str) -> subprocess.Popen[str]:
    """`ae bridge serve` on ``port`` and ``http_port`` with its data in ``data`` and
    ``args`` added, its output captured."""
    env = {**os.environ, "AE_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1", "COLUMNS": "300"}
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "ae"), "bridge", "serve", "--port", str(port),
         "--http-port", str(http_port), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def run_against(
    proc: subprocess.Popen[str], scene: Callable[[], Awaitable[None]], timeout: float = 15
) -> tuple[str, str]:
    """Run ``scene`` against the daemon ``proc``, then wait for the daemon to end and
    return its output (stdout, stderr); a daemon still running afterwards (the scene
    failed, or it did not stop) is killed, never left behind."""
    try:
        anyio.run(scene)
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@asynccontextmanager
async def spawned_companion(
    proc: subprocess.Popen[str],
    game: AdapterClient,
    http_port: int,
    keys: tuple[str, str],
    persona: dict[str, Any],
) -> AsyncIterator[tuple[Any, str]]:
    """Run ``game``'s adapter against the daemon ``proc`` until its link is ready, then
    (the control API answering) submit ``persona`` with the creator's key, approve it
    with the admin's and spawn it on the adapter's server; yields the creator's client
    and the session id. On exit the daemon is sent SIGTERM and the adapter stopped."""
    from encounters.client import EncountersClient

    creator, admin = keys
    async with anyio.create_task_group() as tg:
        tg.start_soon(game.run)
        with anyio.fail_after(30):  # the daemon starts (imports, store) meanwhile
            while not game.ready.is_set():
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                await anyio.sleep(0.05)
        url = f"http://127.0.0.1:{http_port}"
        async with EncountersClient(url, creator) as me, EncountersClient(url, admin) as ops:
            with anyio.fail_after(10):
                while True:
                    try:
                        await me.health()
                        break
                    except Exception:
                        await anyio.sleep(0.05)
            pid = (await me.submit_persona(persona))["id"]
            token = (await ops.approve_persona(pid))["token"]
            sid = (await me.spawn(pid, token, "web", "srv"))["sessionId"]
            yield me, sid
        os.kill(proc.pid, signal.SIGTERM)
        await game.stop()
        tg.cancel_scope.cancel()


def test_bridge_serve_with_a_script_gives_spawned_personas_a_companion(tmp_path: Path) -> None:
    """`ae bridge serve --script examples/companion_script.py`: a player's chat in the game
    is answered by the script, moderated, through the real daemon process."""
    from encounters_bridge.frames import Frame

    data = tmp_path / "data"
    _, world_key, _ = add_key(data, "web box", "web")

    admin, creator = anyio.run(api_keys, data)
    port, http_port = free_port(), free_port()
    script = Path(__file__).resolve().parents[2] / "examples" / "companion_script.py"
    proc = serve(data, port, http_port, "--heartbeat", "1", "--script", str(script))
    heard: list[Frame] = []

    async def on_dispatch(frame: Frame) -> None:
        heard.append(frame)

    game = AdapterClient(f"ws://127.0.0.1:{port}/ws", world="web", server_id="srv", key=world_key,
                         capabilities=["chat", "follow", "stop", "emote"],
                         on_dispatch=on_dispatch, max_backoff=0.05)  # fmt: skip
    persona = {"name": "Pip", "safety": {"allowedActions": ["chat", "follow", "stop", "emote"],
               "moderation": "sanitize"}, "embodiment": {"emotes": ["wave"]}}  # fmt: skip
    player = {"id": "ava", "name": "Ava"}

    def said() -> list[str]:
        return [f.d["action"]["message"] for f in heard
                if f.d.get("type") == "action" and f.d["action"]["type"] == "chat"]  # fmt: skip

    async def scene() -> None:
        async with spawned_companion(proc, game, http_port, (creator, admin), persona) as (_, sid):
            await game.send_event({"type": "spawned", "entity": "pip"}, sid)
            for line in ("any treasure around here?", "say this shit cave is dark"):
                await game.send_event({"type": "player_chat", "player": player,
                                       "message": line}, sid)  # fmt: skip
            with anyio.fail_after(10):
                while len(said()) < 2:
                    await anyio.sleep(0.05)

    _, err = run_against(proc, scene)
    assert said()[:2] == ["Treasure? Follow me, I know the old mine.", "this **** cave is dark"]
    assert any(f.d.get("action", {}).get("type") == "follow" for f in heard)
    assert proc.returncode == 0, err


def test_bridge_serve_on_uvloop_relays_an_action_end_to_end(tmp_path: Path) -> None:
    """`ae bridge serve --event-loop uvloop` (the `speed` extra): the daemon says it runs
    on uvloop, and an action signalled through the control API is moderated, stored and
    reaches the game server's adapter over the WebSocket link."""
    pytest.importorskip("uvloop")
    from encounters_bridge.frames import Frame

    data = tmp_path / "data"
    _, world_key, _ = add_key(data, "web box", "web")

    admin, creator = anyio.run(api_keys, data)
    port, http_port = free_port(), free_port()
    proc = serve(data, port, http_port, "--event-loop", "uvloop")
    heard: list[Frame] = []
    arrived = anyio.Event()

    async def on_dispatch(frame: Frame) -> None:
        if frame.d.get("type") == "action":
            heard.append(frame)
            arrived.set()

    game = AdapterClient(f"ws://127.0.0.1:{port}/ws", world="web", server_id="srv",
                         key=world_key, capabilities=["chat"], on_dispatch=on_dispatch,
                         max_backoff=0.05)  # fmt: skip
    persona = {"name": "Pip", "safety": {"allowedActions": ["chat"]}}
    results: list[dict[str, Any]] = []

    async def scene() -> None:
        async with spawned_companion(proc, game, http_port, (creator, admin), persona) as (me, sid):
            line = {"type": "chat", "message": "The forge is to the north."}
            results.append(await me.signal(sid, [line]))
            with anyio.fail_after(10):
                await arrived.wait()

    out, err = run_against(proc, scene)
    assert "event loop: uvloop" in out, out
    assert [r["decision"] for r in results[0]["results"]] == ["allow"]
    assert [f.d["action"]["message"] for f in heard] == ["The forge is to the north."]
    assert heard[0].d["action"]["id"] == results[0]["results"][0]["action_id"]
    assert proc.returncode == 0, err


def test_bridge_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    """A port another program holds: one line naming the fix, no banner, no traceback."""
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "AE_DATA_DIR": str(data)}
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "ae"), "bridge", "serve", "--port", str(port),
             "--http-port", str(free_port())],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "bridge: adapters on" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"cannot listen on 127.0.0.1 (ports {port} and" in lines[0]
    assert "--port" in lines[0]


def test_the_demo_does_not_import_the_cli() -> None:
    """The daemon's wiring lives in encounters_bridge.daemon: the demo and the CLI both
    use it, and neither imports the other (the CLI loads the demo only when run)."""
    code = (
        "import sys, encounters_bridge.demo, encounters_bridge.daemon; "
        "print('encounters_bridge.cli' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_worlds_and_keys_list_as_json_never_show_a_secret_or_hash(tmp_path: Path) -> None:
    import json

    key_id, key, _ = add_key(tmp_path, "Friday night server")
    code, out, err = ae(tmp_path, "keys", "add", "ops", "--role", "admin")
    assert code == 0, err
    code, out, err = ae(tmp_path, "worlds", "list", "--json")
    assert code == 0, err
    worlds = json.loads(out)
    assert [(w["id"], w["name"], w["server_ids"]) for w in worlds] == [
        (key_id, "Friday night server", [])
    ]
    code, out, err = ae(tmp_path, "keys", "list", "--json")
    assert code == 0, err
    keys = json.loads(out)
    assert [k["role"] for k in keys] == ["admin"]
    everything = json.dumps(worlds) + json.dumps(keys)
    assert secret_of(key) not in everything and "key_hash" not in everything
