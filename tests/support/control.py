"""The shared parts of the bridge tests: an in-process daemon (the FastAPI control API
on uvicorn plus the WebSocket edge, wired as ``ae bridge serve`` wires them, on free
loopback ports), keys for each role, a game adapter that answers like a game, and the
requests the deployment flow is made of.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import uvicorn
from anyio.from_thread import BlockingPortal
from typer.testing import CliRunner
from websockets.asyncio.server import Server

from encounters.engine import Engine
from encounters.moderation import AuditLogger, ContentModerator, TextFilter
from encounters.settings import Settings
from encounters.storage import SQLiteStore
from encounters.storage.base import Store
from encounters_bridge.adapter import AdapterClient
from encounters_bridge.cli import app as ae_app
from encounters_bridge.control import create_app
from encounters_bridge.deployment import DeploymentService
from encounters_bridge.frames import CloseCode, Encoding, Frame, decode
from encounters_bridge.keys import create_api_key, create_world_key
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import KeyStore, open_bridge_store

ENCODINGS: list[Encoding] = ["json", "msgpack"]
CAPABILITIES = ["chat", "move_to", "emote", "stop"]
SERVER = "web-1"


# -- an in-process daemon ------------------------------------------------------------------


class _HTTPServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the test stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Daemon:
    store: Store
    edge: BridgeEdge
    service: DeploymentService
    moderator: ContentModerator
    ws_server: Server
    http_url: str
    ws_port: int
    engine: Engine | None = None  #: the control API's engine (NPC memory, generation)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"


@contextlib.asynccontextmanager
async def run_daemon(
    db: Path,
    text_filter: TextFilter,
    *,
    ws_port: int = 0,
    token_ttl: float = 3600.0,
    settings: Settings | None = None,
    store: Store | None = None,
) -> AsyncIterator[Daemon]:
    """The daemon as ``ae bridge serve`` builds it, on free ports (the WebSocket port
    can be given, to restart a daemon where its adapters expect it), on the SQLite
    file ``db`` or on ``store`` (not opened yet: a PostgreSQL one). Stopping it is a
    graceful shutdown: HTTP stops, links close with 1001, the store closes."""
    store = store or SQLiteStore(db)
    await store.open()
    try:
        edge = BridgeEdge(await open_bridge_store(store), heartbeat_interval=0.5)
        moderator = ContentModerator(text_filter, audit=AuditLogger(store))
        service = DeploymentService(store, moderator, edge, token_ttl=token_ttl)
        engine = Engine(settings, store=store, moderator=moderator)
        ws_server = await edge.serve("127.0.0.1", ws_port)
        port = ws_server.sockets[0].getsockname()[1]
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        http = _HTTPServer(uvicorn.Config(
            create_app(service, engine), host="127.0.0.1", port=sock.getsockname()[1],
            log_level="warning", lifespan="off",
        ))  # fmt: skip
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(http.serve, [sock])
                with anyio.fail_after(5):
                    while not http.started:
                        await anyio.sleep(0.01)
                yield Daemon(store, edge, service, moderator, ws_server,
                             f"http://127.0.0.1:{sock.getsockname()[1]}", port,
                             engine)  # fmt: skip
                http.should_exit = True
                await edge.close_all(CloseCode.GOING_AWAY)
                ws_server.close()
                await ws_server.wait_closed()
        finally:
            sock.close()
    finally:
        await store.close()


@dataclass
class Keys:
    admin: str
    creator: str
    creator_id: str
    other: str  # a second creator
    world: str

    def secrets(self) -> list[str]:
        return [self.admin, self.creator, self.other, self.world]


async def make_keys(store: KeyStore) -> Keys:
    _, admin = await create_api_key(store, "ops", "admin")
    creator_record, creator = await create_api_key(store, "alice", "creator")
    _, other = await create_api_key(store, "mallory", "creator")
    _, world = await create_world_key(store, "web world", "web")
    return Keys(admin, creator, creator_record.id, other, world)


# -- a game (an adapter) -----------------------------------------------------------------


@dataclass
class Game:
    """An adapter that records every dispatch it is handed and answers like a game:
    ``spawned`` for a spawn, ``action_done`` for an action."""

    client: AdapterClient
    dispatches: list[Frame] = field(default_factory=list)
    control: list[Frame] = field(default_factory=list)  # ready / resumed, as received
    closes: list[int] = field(default_factory=list)  # close codes, 1006 when unreachable

    @classmethod
    def create(
        cls, url: str, key: str, encoding: Encoding, *, capabilities: list[str] | None = None
    ) -> Game:
        game = cls(AdapterClient(
            url, world="web", server_id=SERVER, key=key,
            capabilities=capabilities or CAPABILITIES, encoding=encoding, max_backoff=0.05,
        ))  # fmt: skip
        game.client.on_dispatch = game._on_dispatch
        receive = game.client.link.receive

        def recording(data: str | bytes, now: float) -> Any:
            frame = decode(data, encoding, 1 << 24)
            if frame.op in ("ready", "resumed"):
                game.control.append(frame)
            return receive(data, now)

        game.client.link.receive = recording  # type: ignore[method-assign]
        closed = game.client.link.closed

        def record_close(code: int) -> Any:
            game.closes.append(code)
            return closed(code)

        game.client.link.closed = record_close  # type: ignore[method-assign]
        return game

    async def _on_dispatch(self, frame: Frame) -> None:
        self.dispatches.append(frame)
        if frame.d.get("type") == "spawn":
            await self.client.send_event({"type": "spawned", "entity": "npc-7"}, sid=frame.sid)
        elif frame.d.get("type") == "action":
            done = {"type": "action_done", "action_id": frame.d["action"]["id"]}
            await self.client.send_event(done, sid=frame.sid)

    def of_type(self, kind: str) -> list[Frame]:
        return [f for f in self.dispatches if f.d.get("type") == kind]

    def action_ids(self) -> list[str]:
        return [f.d["action"]["id"] for f in self.of_type("action")]


@contextlib.asynccontextmanager
async def connected(game: Game) -> AsyncIterator[Game]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(game.client.run)
        with anyio.fail_after(5):
            await game.client.ready.wait()
        yield game
        await game.client.stop()
        tg.cancel_scope.cancel()


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while True:
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await anyio.sleep(0.01)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def persona_body(**over: Any) -> dict[str, Any]:
    """A persona as the seed's JSON API spells it (camelCase)."""
    body: dict[str, Any] = {
        "name": "Helpful Guide",
        "description": "A friendly guide who knows every road.",
        "traits": {"tone": "curious", "ethics": "helper", "risk": "low"},
        "goals": ["guide", "entertain"],
        "safety": {
            "blockedTopics": ["self-harm", "nsfw"],
            "maxActionsPerMinute": 5,
            "allowedActions": ["chat", "move", "emote", "follow"],
        },
        "embodiment": {"avatar": "humanoid_b", "emotes": ["wave", "sit"]},
    }
    body.update(over)
    return body


async def approved_persona(http: httpx.AsyncClient, keys: Keys, **over: Any) -> tuple[str, str]:
    """Submit (creator) and approve (admin): ``(persona id, deploy token)``."""
    r = await http.post("/personas/submit", headers=bearer(keys.creator), json=persona_body(**over))
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = await http.post(f"/personas/{pid}/approve", headers=bearer(keys.admin))
    assert r.status_code == 200, r.text
    return pid, r.json()["token"]


async def spawn_live(http: httpx.AsyncClient, keys: Keys, pid: str, token: str) -> str:
    body = {"personaId": pid, "deploymentToken": token, "world": "web", "serverId": SERVER,
            "spawnLocation": {"x": 100, "y": 64, "z": 200}}  # fmt: skip
    r = await http.post("/spawn", headers=bearer(keys.creator), json=body)
    assert r.status_code == 201, r.text
    sid: str = r.json()["sessionId"]

    async def live() -> bool:
        got = await http.get(f"/session/{sid}", headers=bearer(keys.creator))
        return bool(got.json()["status"] == "live")

    await until(live)
    return sid


@dataclass
class Live:
    """A daemon with one live companion: its keys, the game it is in (connected, JSON),
    an HTTP client on the control API, the approved persona, its (spent) deploy token
    and the session."""

    dm: Daemon
    keys: Keys
    game: Game
    http: httpx.AsyncClient
    pid: str
    token: str
    sid: str


@contextlib.asynccontextmanager
async def live_companion(db: Path, text_filter: TextFilter) -> AsyncIterator[Live]:
    """:func:`run_daemon`, a game connected to it, a persona submitted and approved, and
    its companion spawned and live (what most tests of a running companion start with)."""
    async with run_daemon(db, text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        game = Game.create(dm.ws_url, keys.world, "json")
        async with connected(game), httpx.AsyncClient(base_url=dm.http_url) as http:
            pid, token = await approved_persona(http, keys)
            sid = await spawn_live(http, keys, pid, token)
            yield Live(dm, keys, game, http, pid, token, sid)


async def session_of(http: httpx.AsyncClient, key: str, sid: str) -> dict[str, Any]:
    r = await http.get(f"/session/{sid}", headers=bearer(key))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def errors_of(response: httpx.Response) -> list[str]:
    errors: list[str] = response.json()["error"]["errors"]
    return errors


# -- the ae commands against a running daemon -------------------------------------------------

runner = CliRunner()


@dataclass
class Threaded:
    """A daemon (and a connected game) on an event loop in another thread, for
    commands that run their own event loop."""

    portal: BlockingPortal
    daemon: Daemon
    keys: Keys
    game: Game

    def http(self, method: str, path: str, key: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.daemon.http_url + path, headers=bearer(key), **kw)


def ae(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(ae_app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def template_dict() -> dict[str, Any]:
    return {
        "id": "village-errand",
        "name": "Village Errand",
        "category": "social",
        "description": "Someone in the village needs a hand.",
        "difficulty": "easy",
        "estimated_duration": 10,
        "parameters": {
            "who": {"type": "string", "required": True, "max_length": 40},
            "count": {"type": "int", "min": 1, "max": 10, "default": 2},
        },
        "structure": {
            "title": "A favour for {{who}}",
            "description": "{{who}} asks for help in the village.",
            "objectives": [{"id": "obj_1", "description": "Bring {{count}} apples to {{who}}",
                            "kind": "deliver", "target": "apples", "quantity": "{{count}}"}],
            "npcs": [],
            "rewards": [{"kind": "experience", "amount": 50}],
        },
    }  # fmt: skip
