"""The Minecraft bridge (``minecraft_plugin_bridge/``, Node), end to end on 127.0.0.1.

- its own unit tests (``node --test``: the link state machine, codecs, bots with a fake
  Mineflayer, the CLI);
- the shared protocol vectors run by its Node runner (``test/vectors.test.js``) against a
  real daemon: this module serves the daemon's side (a fresh daemon per vector and
  encoding, plus the harness steps) on a loopback HTTP control endpoint;
- a real game: a flying-squid Minecraft 1.21.1 server (offline mode, superflat), the
  daemon with its control API and a companion host (as ``ae bridge serve --script``
  runs it), the bridge, and a second Mineflayer bot as the player.

Every process is started here on free loopback ports and stopped by its process id. The
Node dependencies come from ``npm ci --prefix minecraft_plugin_bridge`` (``make test``
runs it); without them these tests fail, they are never skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from encounters.companion import CompanionHost, CompanionScript, Context
from encounters.moderation import TextFilter
from encounters.storage import SQLiteStore
from encounters_bridge.frames import Frame
from encounters_bridge.keys import create_world_key
from encounters_bridge.store import open_bridge_store
from tests.support.control import Daemon, bearer, make_keys, persona_body, run_daemon
from tests.support.vectors import KNOWN_BUGS, VECTORS, Harness, VectorFailure, load

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = ROOT / "minecraft_plugin_bridge"
MC_VERSION = "1.21.1"
SERVER_ID = "mc-e2e"
PLAYER = "Steve"
COMPANION = "Helpful_Guide"  # "Helpful Guide", made a valid Minecraft username
SETUP_HINT = "run `npm ci --prefix minecraft_plugin_bridge` (make test does it)"
NEEDED_MODULES = ("mineflayer", "mineflayer-pathfinder", "ws", "@msgpack/msgpack", "flying-squid")

pytestmark = pytest.mark.timeout(300)


# -- node and the package's dependencies -------------------------------------------------------


#: the Node the package declares (``engines``: mineflayer and minecraft-protocol need 22)
NODE_MAJOR = 22
#: ``npm ci`` brings that Node as a dev dependency (the ``node`` package)
PACKAGE_NODE = BRIDGE / "node_modules" / ".bin" / "node"


@pytest.fixture(scope="module")
def node() -> str:
    """The Node the package declares, from its own dev dependencies; the test fails
    (never skips) when it or the package's dependencies are missing."""
    declared = json.loads((BRIDGE / "package.json").read_text(encoding="utf-8"))["engines"]["node"]
    assert declared == f">={NODE_MAJOR}", declared
    if not PACKAGE_NODE.exists():
        pytest.fail(f"{PACKAGE_NODE} is missing: {SETUP_HINT}")
    path = str(PACKAGE_NODE)
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    major = int(re.sub(r"^v", "", out.stdout.strip()).split(".")[0] or 0)
    if major < NODE_MAJOR:
        pytest.fail(f"node {out.stdout.strip()} is too old: the bridge declares {declared}")
    missing = [
        m for m in NEEDED_MODULES if not (BRIDGE / "node_modules" / m / "package.json").exists()
    ]
    if missing:
        pytest.fail(
            f"minecraft_plugin_bridge/node_modules lacks {', '.join(missing)}: {SETUP_HINT}"
        )
    return path


def _node_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AE_", "MC_"))}
    env.update(extra)
    return env


def _tap_summary(output: str) -> dict[str, int]:
    """``# pass 12`` ... lines of a TAP report."""
    return {k: int(v) for k, v in re.findall(r"^# (tests|pass|fail|skipped|todo|cancelled) (\d+)$",
                                              output, flags=re.MULTILINE)}  # fmt: skip


def _failed_lines(output: str) -> str:
    lines = output.splitlines()
    picked = [i for i, line in enumerate(lines) if re.match(r"\s*not ok ", line)]
    return "\n".join("\n".join(lines[i : i + 12]) for i in picked[:10])


# -- the package's own tests -----------------------------------------------------------------------


def test_node_unit_tests(node: str) -> None:
    files = sorted(str(p.relative_to(BRIDGE)) for p in (BRIDGE / "test").glob("*.test.js"))
    files.remove("test/vectors.test.js")  # run below, with the daemon's side
    assert files, "no unit tests found in minecraft_plugin_bridge/test"
    run = subprocess.run(
        [node, "--test", "--test-reporter=tap", *files],
        cwd=BRIDGE, env=_node_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    summary = _tap_summary(run.stdout)
    assert run.returncode == 0 and summary.get("fail") == 0, (
        f"node --test failed ({summary}):\n{_failed_lines(run.stdout)}\n{run.stderr[-3000:]}"
    )
    assert summary.get("skipped", 0) == 0 and summary.get("todo", 0) == 0, summary
    assert summary.get("pass", 0) >= 30, summary


# -- the shared vectors, run by the Node runner ---------------------------------------------------


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the test stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class VectorControl:
    """The daemon's side of the vectors for a runner in another process, over loopback
    HTTP: ``POST /start {vector}`` makes a fresh daemon (the reference
    :class:`~tests.support.vectors.Harness`: a ``BridgeEdge`` on a new ``SQLiteStore``)
    and answers its port and keys; ``/dispatch {vector, index}`` carries out that harness
    step as this side parsed it; ``/events/next``, ``/events/pending``, ``/history``,
    ``/clock/freeze``, ``/clock/advance``, ``/restart``, ``/revoke``; ``/stop``."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.vectors = {path.stem: load(path) for path in VECTORS}
        self.vector: dict[str, Any] | None = None
        self.harness: Harness | None = None
        self.store: SQLiteStore | None = None
        self.runs = 0
        self.started: list[str] = []  # vector names, one per /start
        routes = {
            "/start": self.start, "/stop": self.stop, "/dispatch": self.dispatch,
            "/events/next": self.next_event, "/events/pending": self.pending,
            "/history": self.history, "/clock/freeze": self.freeze,
            "/clock/advance": self.advance, "/restart": self.restart, "/revoke": self.revoke,
            "/known_bugs": self.known_bugs,
        }  # fmt: skip
        self.app = Starlette(routes=[
            Route(path, self._endpoint(fn), methods=["POST"]) for path, fn in routes.items()
        ])  # fmt: skip

    def _endpoint(self, fn: Callable[[dict[str, Any]], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> JSONResponse:
            body = await request.json()
            try:
                return JSONResponse(await fn(body))
            except VectorFailure as exc:  # the daemon misbehaved: the runner fails the vector
                return JSONResponse({"error": str(exc)}, status_code=409)

        return endpoint

    def _harness(self) -> Harness:
        if self.harness is None:
            raise VectorFailure("no daemon: POST /start first")
        return self.harness

    async def start(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.stop({})
        vector = self.vectors[body["vector"]]
        self.runs += 1
        self.started.append(vector["name"])
        self.store = SQLiteStore(self.tmp / f"vector-{self.runs}.db")
        await self.store.open()
        records = await open_bridge_store(self.store)
        self.vector, self.harness = vector, Harness(records, vector.get("setup", {}))
        await self.harness.provision()
        await self.harness.start()
        return {
            "port": self.harness.port, "keys": self.harness.keys, "world": self.harness.world,
            "server_id": self.harness.server_id,
            "heartbeat_interval": float(self.harness.setup.get("heartbeat_interval", 0.2)),
        }  # fmt: skip

    async def stop(self, _body: dict[str, Any]) -> dict[str, Any]:
        if self.harness is not None:
            await self.harness.stop()
        if self.store is not None:
            await self.store.close()
        self.harness = self.store = self.vector = None
        return {}

    async def dispatch(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.vector is not None and body["vector"] == self.vector["name"], body
        step = self.vector["steps"][body["index"]]
        assert set(step) == {"dispatch"}, step
        await self._harness().dispatch(step["dispatch"])
        return {}

    async def next_event(self, body: dict[str, Any]) -> dict[str, Any]:
        harness = self._harness()
        with anyio.move_on_after(float(body.get("timeout", 3))):
            while not harness.events:
                await anyio.sleep(0.005)
        return {"event": harness.events.pop(0) if harness.events else None}

    async def pending(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"events": list(self._harness().events)}

    async def history(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"history": [[lid, wire] for lid, wire in self._harness().history]}

    async def freeze(self, _body: dict[str, Any]) -> dict[str, Any]:
        self._harness().frozen_at = time.monotonic()
        return {}

    async def advance(self, body: dict[str, Any]) -> dict[str, Any]:
        self._harness().clock_offset += float(body["seconds"])
        return {}

    async def restart(self, _body: dict[str, Any]) -> dict[str, Any]:
        harness = self._harness()
        await harness.restart()
        return {"port": harness.port}

    async def revoke(self, _body: dict[str, Any]) -> dict[str, Any]:
        await self._harness().revoke()
        return {}

    async def known_bugs(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"known_bugs": {name: bug.symptom for name, bug in KNOWN_BUGS.items()}}


@contextlib.contextmanager
def serving(portal: BlockingPortal, app: Any) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port in the portal's event loop."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = _QuietServer(uvicorn.Config(app, log_level="warning", lifespan="off"))
    future = portal.start_task_soon(server.serve, [sock])
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the control endpoint did not start"
            assert not future.done(), future.exception()
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            future.result(timeout=10)
        sock.close()


def _expected_runs() -> list[str]:
    return [
        f"{p.stem}-{enc}" for p in VECTORS for enc in load(p).get("encodings", ["json", "msgpack"])
    ]


def test_protocol_vectors_node_runner(node: str, tmp_path: Path) -> None:
    """Every vector x encoding, each against its own daemon, all harness steps included:
    nothing is skipped."""
    control = VectorControl(tmp_path)
    with start_blocking_portal("asyncio") as portal:
        try:
            with serving(portal, control.app) as url:
                run = subprocess.run(
                    [node, "--test", "--test-reporter=tap", "test/vectors.test.js"],
                    cwd=BRIDGE, env=_node_env(AE_VECTORS_CONTROL=url),
                    capture_output=True, text=True, timeout=240,
                )  # fmt: skip
        finally:
            portal.call(control.stop, {})
    summary = _tap_summary(run.stdout)
    expected = _expected_runs()
    assert run.returncode == 0 and summary.get("fail") == 0, (
        f"vectors failed in the Node runner ({summary}):\n{_failed_lines(run.stdout)}\n"
        f"{run.stderr[-3000:]}"
    )
    ran = re.findall(r"^ok \d+ - (\S+)", run.stdout, flags=re.MULTILINE)
    assert sorted(ran) == sorted(expected), set(expected) ^ set(ran)
    assert summary == {"tests": len(expected), "pass": len(expected), "fail": 0, "cancelled": 0,
                       "skipped": 0, "todo": 0}, summary  # fmt: skip
    assert sorted(set(control.started)) == sorted(p.stem for p in VECTORS)


# -- a real game ---------------------------------------------------------------------------------


class NodeProcess:
    """A Node script of this test; its stdout carries JSON lines (anything else is kept
    as text), its stderr goes to a log file."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log: Path, stdin: bool = False
    ) -> None:
        self.name = name
        self.log = log
        self._stderr = log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            args, cwd=BRIDGE, env=env, text=True, bufsize=1,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self._stderr,
        )  # fmt: skip
        self.records: list[dict[str, Any]] = []
        self.text: list[str] = []
        self._changed = threading.Condition()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, name=f"{name}-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            with self._changed:
                if isinstance(record, dict):
                    self.records.append(record)
                else:
                    self.text.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def mark(self) -> int:
        with self._changed:
            return len(self.records)

    def wait_for(
        self,
        check: Callable[[dict[str, Any]], bool],
        timeout: float,
        since: int = 0,
        what: str = "",
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for record in self.records[since:]:
                    if check(record):
                        return record
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"{self.name}: no {what or 'matching record'} within {timeout} s "
                        f"(exit {self.proc.poll()}); last records: {self.records[-8:]}\n"
                        f"{self.tail()}"
                    )
                self._changed.wait(min(left, 0.1))

    def request(self, cmd: str, timeout: float = 10, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self._next_id += 1
        rid = self._next_id
        since = self.mark()
        self.proc.stdin.write(json.dumps({"id": rid, "cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        reply = self.wait_for(
            lambda r: r.get("event") == "reply" and r.get("id") == rid, timeout, since, cmd
        )
        assert reply["ok"], reply
        return reply

    def tail(self, lines: int = 40) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return f"--- {self.name} stderr (last {lines} lines) ---\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        """Stop by process id: SIGTERM, then SIGKILL after 5 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
        self._stderr.close()


class Game:
    """The daemon (in-process, on its own event loop thread) and what the test sees of it:
    every event the bridge delivers, in order, by link."""

    def __init__(self, portal: BlockingPortal, daemon: Daemon) -> None:
        self.portal = portal
        self.daemon = daemon
        self.events: list[tuple[str | None, dict[str, Any]]] = []
        self.http = httpx.Client(base_url=daemon.http_url, timeout=15)

        async def record(conn: Any, frame: Frame) -> None:
            self.events.append((conn.link_id, frame.to_wire()))

        daemon.edge.on_event.append(record)

    def of(self, kind: str, sid: str | None = None) -> list[dict[str, Any]]:
        return [w for _, w in list(self.events)
                if w["d"].get("type") == kind and (sid is None or w.get("sid") == sid)]  # fmt: skip

    def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s; events: {self.events[-10:]}")
            time.sleep(0.05)

    def result_of(self, action_id: str, timeout: float = 20) -> dict[str, Any]:
        """The one action_done / action_failed event answering ``action_id``."""

        def answered() -> list[dict[str, Any]]:
            return [w for _, w in list(self.events)
                    if w["d"].get("type") in ("action_done", "action_failed")
                    and w["d"].get("action_id") == action_id]  # fmt: skip

        answers: list[dict[str, Any]] = self.wait(answered, timeout, f"answer to {action_id}")
        return answers[0]

    def signal(self, key: str, sid: str, actions: list[dict[str, Any]]) -> None:
        r = self.http.post(
            "/signal", headers=bearer(key), json={"sessionId": sid, "actions": actions}
        )
        assert r.status_code == 200, r.text
        decisions = [(x["action_id"], x["decision"], x["reason"]) for x in r.json()["results"]]
        assert all(d == "allow" for _, d, _ in decisions), decisions

    def session(self, key: str, sid: str) -> dict[str, Any]:
        r = self.http.get(f"/session/{sid}", headers=bearer(key))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data


def _distance(a: dict[str, float], b: dict[str, float]) -> float:
    return float(sum((a[k] - b[k]) ** 2 for k in "xyz") ** 0.5)


#: the companion's script in the daemon: it answers each chat line it hears with what
#: the player said (moderated: a profane word comes back masked); other events go to the
#: offline brain, which greets a player who joins
ECHO = CompanionScript()


@ECHO.on("player_chat")
async def _echo(ctx: Context, event: dict[str, Any]) -> None:
    await ctx.say(f"You said: {event['message']}")


ALL_ACTIONS = ["chat", "move_to", "follow", "look_at", "emote", "use_entity", "interact",
               "equip", "use_item", "title", "stop"]  # fmt: skip


def test_end_to_end_with_a_minecraft_server(node: str, tmp_path: Path) -> None:
    started = time.monotonic()
    procs: list[NodeProcess] = []

    def logs() -> str:
        return "\n".join(p.tail() for p in procs)

    try:
        # the Minecraft server, then the player (joins one after the other)
        env = _node_env(MC_PORT="0", MC_VERSION=MC_VERSION)
        server = NodeProcess("flying-squid", [node, "e2e/server.js"], env, tmp_path / "server.log")
        procs.append(server)
        listening = server.wait_for(lambda r: r.get("event") == "listening", 60, what="listening")
        mc_port = listening["port"]
        player = NodeProcess(
            "player", [node, "e2e/player.js"],
            _node_env(MC_PORT=str(mc_port), MC_VERSION=MC_VERSION, PLAYER_NAME=PLAYER),
            tmp_path / "player.log", stdin=True,
        )  # fmt: skip
        procs.append(player)
        home = player.wait_for(lambda r: r.get("event") == "spawned", 30, what="spawn")["position"]
        ground = home["y"]

        with start_blocking_portal("asyncio") as portal, contextlib.ExitStack() as stack:
            text_filter = TextFilter.default()
            daemon = stack.enter_context(
                portal.wrap_async_context_manager(run_daemon(tmp_path / "daemon.db", text_filter))
            )
            game = Game(portal, daemon)
            stack.callback(game.http.close)
            daemon.service.companions = host = CompanionHost(daemon.moderator, script=ECHO, seed=1)
            stack.callback(portal.call, host.aclose)  # before the daemon stops
            keys = portal.call(make_keys, daemon.edge.store)
            _, world_key = portal.call(
                create_world_key, daemon.edge.store, "minecraft e2e", "minecraft"
            )

            bridge = NodeProcess("bridge", [node, "src/cli.js"], _node_env(
                AE_BRIDGE_URL=daemon.ws_url, AE_WORLD_KEY=world_key, AE_SERVER_ID=SERVER_ID,
                AE_ENCODING="msgpack", MC_HOST="127.0.0.1", MC_PORT=str(mc_port),
                MC_VERSION=MC_VERSION, AE_LOG_LEVEL="debug", AE_MC_JOIN_TIMEOUT="20",
                AE_MC_MOVE_TIMEOUT="30", AE_MC_FOLLOW_TIMEOUT="30", AE_MC_REJOIN_MAX_BACKOFF="1",
                AE_STATE_FILE=str(tmp_path / "bridge-state.json"),
            ), tmp_path / "bridge.log")  # fmt: skip
            procs.append(bridge)
            stack.callback(bridge.stop)  # before the daemon stops
            game.wait(lambda: ("minecraft", SERVER_ID) in daemon.edge.by_server, 15, "bridge link")
            link_id = daemon.edge.by_server[("minecraft", SERVER_ID)]
            capabilities = daemon.edge.link_state(link_id).capabilities  # type: ignore[union-attr]
            assert sorted(capabilities) == sorted(ALL_ACTIONS)

            # persona: submitted by its creator, approved by an admin; spawned on this server
            body = persona_body(safety={
                "blockedTopics": ["self-harm", "nsfw"], "maxActionsPerMinute": 120,
                "allowedActions": ALL_ACTIONS, "moderation": "sanitize",
            })  # fmt: skip
            r = game.http.post("/personas/submit", headers=bearer(keys.creator), json=body)
            assert r.status_code == 201, r.text
            pid = r.json()["id"]

            def spawn() -> str:
                # a deploy token spawns once: each spawn gets a new approval
                r = game.http.post(f"/personas/{pid}/approve", headers=bearer(keys.admin))
                assert r.status_code == 200, r.text
                token = r.json()["token"]
                r = game.http.post("/spawn", headers=bearer(keys.creator), json={
                    "personaId": pid, "deploymentToken": token, "world": "minecraft",
                    "serverId": SERVER_ID, "spawnLocation": {"x": 2, "y": ground, "z": 0},
                })  # fmt: skip
                assert r.status_code == 201, r.text
                sid: str = r.json()["sessionId"]
                game.wait(lambda: game.session(keys.creator, sid)["status"] == "live", 30, "live")
                return sid

            # spawn: the companion joins the game as its own player
            sid = spawn()
            (spawned,) = game.of("spawned", sid)
            assert spawned["d"]["entity"] == COMPANION
            assert game.session(keys.creator, sid)["entity"] == COMPANION
            seen = game.wait(lambda: player.request("where", name=COMPANION)["seen"], 10,
                             "companion visible to the player")  # fmt: skip
            assert seen
            health = game.wait(lambda: game.of("health", sid), 10, "health event")
            assert health[0]["d"]["health"] == 20

            def heard(since: int, count: int) -> list[str]:
                """What the player heard the companion say since ``since`` (waits for
                ``count`` lines, then a little longer for any extra one)."""

                def lines() -> list[str]:
                    return [r["message"] for r in player.records[since:]
                            if r.get("event") == "chat" and r["username"] == COMPANION]  # fmt: skip

                game.wait(lambda: len(lines()) >= count, 10, f"{count} chat lines")
                time.sleep(0.2)
                return lines()

            def act(action: dict[str, Any], timeout: float = 20) -> dict[str, Any]:
                game.signal(keys.creator, sid, [action])
                return game.result_of(action["id"], timeout)

            # the companion's chat reaches the player
            mark = player.mark()
            done = act({"id": "chat-1", "type": "chat", "message": "Hello Steve, I am here!"})
            assert done["d"]["type"] == "action_done", done
            assert done["sid"] == sid
            assert heard(mark, 1) == ["Hello Steve, I am here!"]
            # a chat action never runs a command
            mark = player.mark()
            assert act({"id": "chat-2", "type": "chat", "message": "/op Steve"})["d"]["type"] == (
                "action_done"
            )
            assert heard(mark, 1) == ["op Steve"]

            # the player's chat reaches the daemon as an event; naming the companion sets sid
            mark = player.mark()
            player.request("chat", message=f"hi {COMPANION}, nice to meet you")
            player.request("chat", message="what a nice day")
            chats = game.wait(lambda: len(game.of("player_chat")) >= 2 and game.of("player_chat"),
                              10, "player_chat events")  # fmt: skip
            assert [(c["d"]["player"]["name"], c["d"]["message"], c.get("sid")) for c in chats] == [
                (PLAYER, f"hi {COMPANION}, nice to meet you", sid),
                (PLAYER, "what a nice day", None),
            ]
            # the companion hears both (the second, for no session, reaches every live
            # companion on the server) and answers in game chat, moderated at the companion
            # and at the edge: the persona's policy is sanitize, so profanity is masked
            player.request("chat", message=f"{COMPANION}, this road is shit")
            assert heard(mark, 3) == [
                f"You said: hi {COMPANION}, nice to meet you",
                "You said: what a nice day",
                f"You said: {COMPANION}, this road is ****",
            ]
            assert game.of("player_chat")[2]["sid"] == sid

            # move_to finishes within 3 blocks of the point
            target = {"x": 8.0, "y": ground, "z": 6.0}
            done = act({"id": "move-1", "type": "move_to", **target}, 40)
            assert done["d"]["type"] == "action_done", done
            assert done["d"]["detail"]["distance"] <= 3, done
            where = player.request("where", name=COMPANION)
            assert where["seen"] and _distance(where["other"], target) <= 3, where

            # follow: done once within 3 blocks of the player, and it keeps following
            done = act({"id": "follow-1", "type": "follow", "target": PLAYER, "distance": 2}, 40)
            assert done["d"]["type"] == "action_done", done
            assert player.request("where", name=COMPANION)["distance"] <= 3
            player.request("goto", timeout=30, x=-6, y=ground, z=-5)
            game.wait(lambda: player.request("where", name=COMPANION)["distance"] <= 3, 60,
                      "the companion following the player")  # fmt: skip
            done = act({"id": "stop-1", "type": "stop"})
            assert done["d"] == {"type": "action_done", "action_id": "stop-1",
                                 "detail": {"stopped": "follow-1"}}, done  # fmt: skip

            # the other action families, each answered
            assert act({"id": "look-1", "type": "look_at", "target": PLAYER})["d"]["type"] == (
                "action_done"
            )
            assert (
                act({"id": "wave-1", "type": "emote", "name": "wave"})["d"]["type"] == "action_done"
            )
            failed = act({"id": "title-1", "type": "title", "text": "Welcome!"})["d"]
            assert (failed["type"], failed["reason"]) == ("action_failed", "not_op"), failed
            assert f"/op {COMPANION}" in failed["message"]
            failed = act({"id": "equip-1", "type": "equip", "item": "diamond_sword"})["d"]
            assert (failed["type"], failed["reason"]) == ("action_failed", "not_in_inventory")
            done = act(
                {"id": "use-1", "type": "interact", "target_type": "entity", "entity": PLAYER}
            )
            assert done["d"]["type"] == "action_done", done

            # an unknown action (or a broken one) is answered, not crashed on
            for action in ({"id": "odd-1", "type": "fly_to_the_moon", "speed": 9}, {"id": "odd-2"}):
                frame = Frame("dispatch", {"type": "action", "sid": sid, "action": action}, sid=sid)
                assert portal.call(daemon.edge.dispatch, "minecraft", SERVER_ID, frame) is not None
            failed = game.result_of("odd-1")["d"]
            assert (failed["type"], failed["reason"]) == ("action_failed", "unknown_action")
            assert game.result_of("odd-2")["d"]["reason"] == "bad_arguments"
            assert bridge.proc.poll() is None, bridge.tail()

            # the link drops (the TCP connection is cut) and resumes with nothing lost:
            # dispatches made while it is down are replayed, events made meanwhile resent
            conn = daemon.edge.connections[link_id]
            mark = player.mark()
            portal.call(conn.ws.transport.abort)
            away = [
                {"id": f"away-{i}", "type": "chat", "message": f"while away {i}"} for i in (1, 2, 3)
            ]
            game.signal(keys.creator, sid, away)
            player.request("chat", message=f"{COMPANION}, are you still there?")
            for action in away:
                assert game.result_of(action["id"], 30)["d"]["type"] == "action_done"
            game.wait(
                lambda: daemon.edge.connections.get(link_id) not in (None, conn), 10, "resume"
            )
            assert daemon.edge.by_server[("minecraft", SERVER_ID)] == link_id  # resumed, same link
            lines = heard(mark, 4)  # and the companion's answer to the chat made meanwhile
            assert [line for line in lines if not line.startswith("You said: ")] == [
                "while away 1",
                "while away 2",
                "while away 3",
            ]
            assert f"You said: {COMPANION}, are you still there?" in lines
            again = game.wait(lambda: [c for c in game.of("player_chat")
                                       if c["d"]["message"].endswith("are you still there?")],
                              10, "player_chat sent across the drop")  # fmt: skip
            assert len(again) == 1 and again[0]["sid"] == sid
            numbers = [w["s"] for lid, w in game.events if lid == link_id]
            assert numbers == list(range(1, len(numbers) + 1)), numbers  # once each, in order
            assert "link.resumed" in bridge.log.read_text(encoding="utf-8")

            # players coming and going, reported once each (the companion sees them)
            alex = NodeProcess("alex", [node, "e2e/player.js"], _node_env(
                MC_PORT=str(mc_port), MC_VERSION=MC_VERSION, PLAYER_NAME="Alex",
            ), tmp_path / "alex.log", stdin=True)  # fmt: skip
            procs.append(alex)
            mark = player.mark()
            alex.wait_for(lambda r: r.get("event") == "spawned", 30, what="spawn")
            game.wait(lambda: game.of("player_join"), 10, "player_join")
            assert heard(mark, 1) == ["Hello, Alex! What brings you here?"]  # the companion
            portal.call(host.idle)  # its greeting (a chat, then a wave) done before the rest

            def all_answered() -> bool:
                s = game.session(keys.creator, sid)
                return bool(s["actions_done"] + s["actions_failed"] == s["actions_sent"] + 2)

            game.wait(all_answered, 10, "the companion's actions answered")
            alex.request("quit")
            game.wait(lambda: game.of("player_leave"), 10, "player_leave")
            joins, leaves = game.of("player_join"), game.of("player_leave")
            assert [(e["d"]["player"]["name"], e.get("sid")) for e in joins + leaves] == [
                ("Alex", None),
                ("Alex", None),
            ], (joins, leaves)
            assert joins[0]["d"]["player"]["id"] == leaves[0]["d"]["player"]["id"]

            # death: reported; the companion respawns and goes on
            player.request("chat", message=f"/kill {COMPANION}")
            game.wait(lambda: game.of("death", sid), 10, "death")
            damaged = game.wait(lambda: game.of("companion_damaged", sid), 10, "damage")
            assert damaged[0]["d"]["amount"] == 20
            done = act({"id": "after-death", "type": "chat", "message": "I am back"})
            assert done["d"]["type"] == "action_done", done

            # end: the companion leaves the game
            r = game.http.post(f"/session/{sid}/end", headers=bearer(keys.creator))
            assert r.status_code == 200, r.text
            summary = r.json()["summary"]
            answers = [w["d"]["action_id"] for w in game.of("action_done", sid)]
            answers += [w["d"]["action_id"] for w in game.of("action_failed", sid)]
            assert len(answers) == len(set(answers)), answers  # each action answered once
            answered = len(answers)
            assert summary["actions_done"] + summary["actions_failed"] == answered
            assert summary["actions_sent"] + 2 == answered  # + the two dispatched directly
            game.wait(lambda: not player.request("where", name=COMPANION)["seen"], 10,
                      "the companion gone")  # fmt: skip

            # kicked by an operator: reported with the reason, and the companion joins
            # again (only a ban, a whitelist or online mode keep it out); its actions wait
            second = spawn()
            assert second != sid
            assert game.of("spawned", second)[0]["d"]["entity"] == COMPANION  # the name is free
            player.request("chat", message=f"/kick {COMPANION} go away")
            kicked = game.wait(lambda: game.of("kicked", second), 10, "kicked")
            assert "go away" in kicked[0]["d"]["reason"], kicked
            assert kicked[0]["d"].get("rejoining") is True and "final" not in kicked[0]["d"]
            game.signal(keys.creator, second, [{"id": "kicked-1", "type": "chat", "message": "hi"}])
            assert game.result_of("kicked-1", 30)["d"]["type"] == "action_done"
            assert len(game.of("spawned", second)) == 2  # back in the game
            r = game.http.post(f"/session/{second}/end", headers=bearer(keys.creator))
            assert r.status_code == 200, r.text

            assert bridge.proc.poll() is None, bridge.tail()
            bridge.stop()  # SIGTERM: companions leave, the link closes, exit 0
            assert bridge.proc.returncode == 0, bridge.tail()
            (tmp_path / "events.json").write_text(json.dumps(game.events, indent=1), "utf-8")
            errors = [line for line in bridge.log.read_text(encoding="utf-8").splitlines()
                      if '"level":"error"' in line]  # fmt: skip
            assert not errors, errors
            said = [r["message"] for r in player.records
                    if r.get("event") == "chat" and r["username"] == COMPANION]  # fmt: skip
            assert not [line for line in said if "shit" in line.lower()], said  # never in clear
    except Exception as exc:  # with what each process said (an ExceptionGroup from the daemon too)
        detail = "".join(traceback.format_exception(exc))[-8000:]
        raise AssertionError(f"{detail}\n{logs()}") from None
    finally:
        for proc in reversed(procs):
            proc.stop()
    elapsed = time.monotonic() - started
    assert elapsed < 120, f"the end-to-end test took {elapsed:.0f} s"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _load_state(node: str, state_file: Path) -> dict[str, Any]:
    """The bridge's state file as a restarted bridge takes it up (its snapshot with the
    journal replayed), read by the bridge's own loader: the file is no single JSON document."""
    script = (
        "const [file] = process.argv.slice(1);"
        "const { StateFile } = require('./src/state');"
        "const log = { info () {}, warn (e, f) { console.error(e, f) } };"
        "const text = require('node:fs').readFileSync(file, 'utf8');"
        "process.stdout.write(JSON.stringify(new StateFile(file, log)._replay(text)))"
    )
    out = subprocess.run(
        [node, "-e", script, str(state_file)],
        cwd=BRIDGE,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    data: dict[str, Any] = json.loads(out)
    return data


def test_restarts_and_a_failed_join(node: str, tmp_path: Path) -> None:
    """Issue #19: the Minecraft server restarts (its graceful stop kicks everyone with
    "Server closed") and the companion comes back; the bridge is killed (SIGKILL) while
    actions are queued and, started again, resumes its link from its state file with
    nothing lost; a bridge that cannot reach its Minecraft server, or whose server runs
    in online mode, reports the failed join with the reason (and the online-mode hint)."""
    procs: list[NodeProcess] = []
    mc_port = _free_port()

    def logs() -> str:
        return "\n".join(p.tail() for p in procs)

    def start_server(n: int, port: int = mc_port, **env: str) -> NodeProcess:
        server = NodeProcess("flying-squid", [node, "e2e/server.js"],
                             _node_env(MC_PORT=str(port), MC_VERSION=MC_VERSION, **env),
                             tmp_path / f"server-{n}.log")  # fmt: skip
        procs.append(server)
        server.wait_for(lambda r: r.get("event") == "listening", 60, what="listening")
        return server

    def start_player(n: int) -> NodeProcess:
        player = NodeProcess("player", [node, "e2e/player.js"],
                             _node_env(MC_PORT=str(mc_port), MC_VERSION=MC_VERSION,
                                       PLAYER_NAME=PLAYER),
                             tmp_path / f"player-{n}.log", stdin=True)  # fmt: skip
        procs.append(player)
        player.wait_for(lambda r: r.get("event") == "spawned", 30, what="spawn")
        return player

    try:
        server = start_server(1)
        player = start_player(1)
        with start_blocking_portal("asyncio") as portal, contextlib.ExitStack() as stack:
            daemon = stack.enter_context(portal.wrap_async_context_manager(
                run_daemon(tmp_path / "daemon.db", TextFilter.default())))  # fmt: skip
            game = Game(portal, daemon)
            stack.callback(game.http.close)
            keys = portal.call(make_keys, daemon.edge.store)
            _, world_key = portal.call(
                create_world_key, daemon.edge.store, "mc restarts", "minecraft"
            )

            def start_bridge(n: int, server_id: str, key: str, port: int) -> NodeProcess:
                bridge = NodeProcess("bridge", [node, "src/cli.js"], _node_env(
                    AE_BRIDGE_URL=daemon.ws_url, AE_WORLD_KEY=key, AE_SERVER_ID=server_id,
                    MC_HOST="127.0.0.1", MC_PORT=str(port), MC_VERSION=MC_VERSION,
                    AE_LOG_LEVEL="debug", AE_MC_JOIN_TIMEOUT="30", AE_MC_REJOIN_MAX_BACKOFF="1",
                    AE_STATE_FILE=str(tmp_path / f"{server_id}-state.json"),
                ), tmp_path / f"bridge-{n}.log")  # fmt: skip
                procs.append(bridge)
                stack.callback(bridge.stop)  # before the daemon stops
                return bridge

            bridge = start_bridge(1, SERVER_ID, world_key, mc_port)
            state_file = tmp_path / f"{SERVER_ID}-state.json"
            game.wait(lambda: ("minecraft", SERVER_ID) in daemon.edge.by_server, 15, "bridge link")
            link_id = daemon.edge.by_server[("minecraft", SERVER_ID)]
            body = persona_body(safety={"maxActionsPerMinute": 120, "allowedActions": ["chat"]})
            r = game.http.post("/personas/submit", headers=bearer(keys.creator), json=body)
            assert r.status_code == 201, r.text
            pid = r.json()["id"]

            def spawn(server_id: str) -> str:
                # a deploy token spawns once: each spawn gets a new approval
                r = game.http.post(f"/personas/{pid}/approve", headers=bearer(keys.admin))
                assert r.status_code == 200, r.text
                token = r.json()["token"]
                r = game.http.post("/spawn", headers=bearer(keys.creator), json={
                    "personaId": pid, "deploymentToken": token, "world": "minecraft",
                    "serverId": server_id, "spawnLocation": {"x": 0, "y": 4, "z": 0},
                })  # fmt: skip
                assert r.status_code == 201, r.text
                sid: str = r.json()["sessionId"]
                return sid

            sid = spawn(SERVER_ID)
            game.wait(lambda: game.session(keys.creator, sid)["status"] == "live", 30, "live")

            def say(action_id: str, timeout: float = 40) -> dict[str, Any]:
                game.signal(keys.creator, sid, [{"id": action_id, "type": "chat",
                                                 "message": f"{action_id} here"}])  # fmt: skip
                return game.result_of(action_id, timeout)

            def heard(p: NodeProcess, count: int) -> list[str]:
                def lines() -> list[str]:
                    return [r["message"] for r in p.records
                            if r.get("event") == "chat" and r["username"] == COMPANION]  # fmt: skip

                game.wait(lambda: len(lines()) >= count, 15, f"{count} chat lines")
                time.sleep(0.3)
                return lines()

            assert say("before")["d"]["type"] == "action_done"
            assert heard(player, 1) == ["before here"]

            # the Minecraft server stops (kicking everyone: "Server closed") and starts again
            server.stop()
            kicked = game.wait(lambda: game.of("kicked", sid), 15, "the kick of the stop")
            assert kicked[0]["d"]["reason"] == "Server closed", kicked
            assert kicked[0]["d"]["rejoining"] is True
            server = start_server(2)
            game.wait(lambda: len(game.of("spawned", sid)) == 2, 60, "the companion back")
            player = start_player(2)
            assert say("after-restart")["d"]["type"] == "action_done"
            assert heard(player, 1) == ["after-restart here"]
            assert game.session(keys.creator, sid)["status"] == "live"

            # the bridge is killed (SIGKILL); actions sent meanwhile wait in the daemon;
            # started again, the bridge resumes the same link from its state file
            def saved() -> dict[str, Any]:
                return _load_state(node, state_file)

            game.wait(lambda: saved()["link"]["inS"] >= 3 and not saved()["running"], 10,
                      "the state file up to date")  # fmt: skip
            assert state_file.stat().st_mode & 0o777 == 0o600
            assert world_key not in state_file.read_text("utf-8")
            bridge.proc.kill()
            bridge.proc.wait(timeout=10)
            queued = [f"queued-{i}" for i in (1, 2, 3)]
            for action_id in queued:
                game.signal(keys.creator, sid, [{"id": action_id, "type": "chat",
                                                 "message": f"{action_id} here"}])  # fmt: skip
            mark = len(game.events)
            bridge = start_bridge(2, SERVER_ID, world_key, mc_port)
            for action_id in queued:
                assert game.result_of(action_id, 60)["d"]["type"] == "action_done"
            assert daemon.edge.by_server[("minecraft", SERVER_ID)] == link_id  # resumed
            assert "bridge.resuming" in bridge.log.read_text(encoding="utf-8")
            assert heard(player, 4)[1:] == [f"{a} here" for a in queued]
            assert len(game.of("spawned", sid)) >= 3  # it joined again after the kill
            answers = [w["d"]["action_id"] for w in game.of("action_done", sid)]
            answers += [w["d"]["action_id"] for w in game.of("action_failed", sid)]
            assert sorted(answers) == sorted(["before", "after-restart", *queued]), answers
            numbers = [w["s"] for lid, w in game.events if lid == link_id]
            assert numbers == list(range(1, len(numbers) + 1)), numbers  # once each, in order
            assert all(lid == link_id for lid, _ in game.events[mark:])

            # a bridge pointed at a Minecraft port where nothing listens: it says so at
            # start-up, and a companion spawned there fails its join with the reason
            closed_port = _free_port()
            _, other_key = portal.call(create_world_key, daemon.edge.store, "mc wrong", "minecraft")
            wrong = start_bridge(3, "mc-wrong", other_key, closed_port)
            game.wait(lambda: ("minecraft", "mc-wrong") in daemon.edge.by_server, 15, "link")
            failed_sid = spawn("mc-wrong")
            kicked = game.wait(lambda: game.of("kicked", failed_sid), 60, "the failed join")
            assert kicked[0]["d"]["final"] is True, kicked
            assert kicked[0]["d"]["reason"].startswith(
                f"could not join the Minecraft server at 127.0.0.1:{closed_port}: "
            ), kicked
            assert "ECONNREFUSED" in kicked[0]["d"]["reason"], kicked
            log = wrong.log.read_text(encoding="utf-8")
            assert '"event":"minecraft.unreachable"' in log, log[-2000:]

            # an online-mode server refuses the offline companion: the hint says what to do
            online_port = _free_port()
            start_server(3, online_port, MC_ONLINE_MODE="1", MC_SESSION_PORT=str(_free_port()))
            _, online_key = portal.call(
                create_world_key, daemon.edge.store, "mc online", "minecraft"
            )
            online = start_bridge(4, "mc-online", online_key, online_port)
            game.wait(lambda: ("minecraft", "mc-online") in daemon.edge.by_server, 15, "link")
            online_sid = spawn("mc-online")
            kicked = game.wait(lambda: game.of("kicked", online_sid), 30, "the refused join")
            assert kicked[0]["d"]["final"] is True, kicked
            assert kicked[0]["d"]["reason"] == "Failed to verify username!", kicked
            assert "online-mode=true" in kicked[0]["d"]["hint"], kicked
            assert "--auth microsoft" in kicked[0]["d"]["hint"], kicked
            assert all(b.proc.poll() is None for b in (bridge, wrong, online))
    except Exception as exc:  # with what each process said
        detail = "".join(traceback.format_exception(exc))[-8000:]
        raise AssertionError(f"{detail}\n{logs()}") from None
    finally:
        for proc in reversed(procs):
            proc.stop()


def test_the_link_follows_a_killed_node_to_another_in_a_cluster(node: str, tmp_path: Path) -> None:
    """Issue #24: the bridge's link (``src/connection.js``, driven by ``e2e/link.js``)
    given three real daemon nodes on PostgreSQL and Redis (``AE_BRIDGE_URL``, comma
    separated); the node holding the link is killed (SIGKILL); the link resumes on
    another node, and actions signalled through any node reach it once each, in order."""
    from encounters.client import EncountersClient
    from tests.support.cluster import daemon_cluster

    with daemon_cluster(tmp_path, size=3) as cluster:
        admin, creator, world_key = anyio.run(cluster.keys, [SERVER_ID])
        anyio.run(cluster.start)
        link = NodeProcess("link", [node, "e2e/link.js"], _node_env(
            AE_BRIDGE_URL=",".join(cluster.ws_urls), AE_WORLD_KEY=world_key,
            AE_SERVER_ID=SERVER_ID, AE_LOG_LEVEL="debug",
        ), tmp_path / "link.log")  # fmt: skip

        def actions() -> list[str]:
            return [r["d"]["action"]["message"] for r in link.records
                    if r.get("event") == "dispatch" and r["d"].get("type") == "action"]  # fmt: skip

        async def spawn(url: str) -> str:
            async with EncountersClient(url, creator) as me, EncountersClient(url, admin) as ops:
                persona = {"name": "Guide", "safety": {"allowedActions": ["chat"],
                                                       "maxActionsPerMinute": 600}}  # fmt: skip
                pid = (await me.submit_persona(persona))["id"]
                token = (await ops.approve_persona(pid))["token"]
                sid: str = (await me.spawn(pid, token, "minecraft", SERVER_ID))["sessionId"]
                return sid

        async def say(url: str, sid: str, line: str) -> None:
            async with EncountersClient(url, creator) as me:
                answer = await me.signal(sid, [{"type": "chat", "message": line}])
                assert [r["decision"] for r in answer["results"]] == ["allow"], answer

        try:
            ready = link.wait_for(lambda r: r.get("event") == "ready", 30, what="ready")
            connected = [r for r in link.records if r.get("event") == "connected"]
            first = cluster.node_at(connected[-1]["url"])
            others = [n for n in cluster.nodes if n is not first]
            sid = anyio.run(spawn, others[0].http_url)
            anyio.run(say, others[0].http_url, sid, "one")
            link.wait_for(lambda r: r.get("event") == "dispatch" and r["d"].get("type") == "action",
                          30, what="the first action")  # fmt: skip

            mark = link.mark()
            first.kill()
            link.wait_for(lambda r: r.get("event") == "resumed", 60, mark, "the resume")
            moved = [r for r in link.records[mark:] if r.get("event") == "connected"]
            assert cluster.node_at(moved[-1]["url"]) is not first
            for other in others:
                anyio.run(say, other.http_url, sid, f"via {other.data.name}")
            wanted = ["one"] + [f"via {n.data.name}" for n in others]
            link.wait_for(lambda r: len(actions()) >= len(wanted), 30, what="every action")
            time.sleep(1.0)  # anything that would come twice has time to
            assert actions() == wanted
            assert [r["linkId"] for r in link.records if r.get("event") == "ready"] == [
                ready["linkId"]
            ]  # identified once: the same link all along
            numbers = [r["s"] for r in link.records if r.get("event") == "dispatch"]
            assert numbers == sorted(set(numbers)), numbers  # once each, in order
        except Exception as exc:
            detail = "".join(traceback.format_exception(exc))[-6000:]
            raise AssertionError(f"{detail}\n{link.tail()}\n{cluster.output()}") from None
        finally:
            link.stop()


def test_a_full_queue_while_the_daemon_is_away_loses_nothing(node: str, tmp_path: Path) -> None:
    """The bridge's link (``e2e/link.js``, ``AE_MAX_UNACKED=5``) and a real daemon: the
    daemon goes away, the events waiting for its ack fill the queue and the next ones are
    refused (``sendEvent`` false), with one ``link.queue_full`` warning; the daemon comes
    back on its address: every accepted event is stored once, in order, ``link.queue_room``
    says how many were refused, and new events are accepted again."""
    with start_blocking_portal("asyncio") as portal:
        store = SQLiteStore(tmp_path / "bridge.db")
        portal.call(store.open)
        setup = {"world": "minecraft", "server_id": SERVER_ID, "heartbeat_interval": 0.2}
        harness = Harness(portal.call(open_bridge_store, store), setup)
        portal.call(harness.provision)
        portal.call(harness.start)
        port = harness.port
        link = NodeProcess("link", [node, "e2e/link.js"], _node_env(
            AE_BRIDGE_URL=f"ws://127.0.0.1:{port}/ws", AE_WORLD_KEY=harness.keys["key"],
            AE_SERVER_ID=SERVER_ID, AE_MAX_UNACKED="5", AE_LOG_LEVEL="info",
        ), tmp_path / "link.log", stdin=True)  # fmt: skip

        def queue(message: str) -> bool:
            d = {"type": "player_chat", "player": {"id": "u1", "name": PLAYER}, "message": message}
            queued: bool = link.request("event", d=d)["queued"]
            return queued

        def chats() -> list[str]:
            return [w["d"]["message"] for _, w in list(harness.history)
                    if w["d"].get("type") == "player_chat"]  # fmt: skip

        def until(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
            deadline = time.monotonic() + timeout
            while not check():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                time.sleep(0.02)

        def logged(event: str) -> list[dict[str, Any]]:
            lines = (tmp_path / "link.log").read_text(encoding="utf-8").splitlines()
            return [r for r in map(json.loads, lines) if r.get("event") == event]

        try:
            link.wait_for(lambda r: r.get("event") == "ready", 30, what="ready")
            assert queue("m1")
            until(lambda: chats() == ["m1"] and link.request("status")["unacked"] == 0, "m1 acked")
            mark = link.mark()
            portal.call(harness.stop)  # the daemon is gone: nothing listens on its port
            link.wait_for(lambda r: r.get("event") == "closed", 10, mark, "the link closed")
            answers = [queue(f"m{i}") for i in range(2, 10)]
            assert answers == [True] * 5 + [False] * 3
            assert len(logged("link.queue_full")) == 1  # once, not per event
            mark = link.mark()
            portal.call(harness.start, port)  # back where it was
            link.wait_for(lambda r: r.get("event") in ("resumed", "ready"), 30, mark, "back")
            until(lambda: link.request("status")["unacked"] == 0, "the queue drained")
            until(lambda: len(logged("link.queue_room")) == 1, "the room line")
            assert logged("link.queue_room")[0]["refused"] == 3
            assert queue("m10")
            until(lambda: "m10" in chats(), "a new event stored")
            time.sleep(0.5)  # anything that would come twice has time to
            # every accepted event stored once, in order; the refused ones never
            assert chats() == [f"m{i}" for i in (1, 2, 3, 4, 5, 6, 10)]
            assert len(logged("link.queue_full")) == 1
        except Exception as exc:
            detail = "".join(traceback.format_exception(exc))[-6000:]
            raise AssertionError(f"{detail}\n{link.tail()}") from None
        finally:
            link.stop()
            portal.call(harness.stop)
            portal.call(store.close)


def _nested(levels: int) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "custom"}
    inner = d
    for _ in range(levels):
        inner["n"] = {}
        inner = inner["n"]
    return d


#: events the daemon would refuse (d, sid) and the reason the bridge gives in its warning
BAD_EVENTS: list[tuple[Any, Any, str]] = [
    ({"type": "custom"}, 5, "bad_sid"),  # a plugin's numeric sid
    ({"type": "custom"}, "", "bad_sid"),
    ({"type": "custom"}, "x" * 65, "bad_sid"),
    (["player_chat"], None, "bad_data"),
    ("player_chat", None, "bad_data"),
    ({"type": "custom", "log": "x" * 70000}, None, "too_big"),
    (_nested(40), None, "too_deep"),
]


def test_an_event_the_daemon_would_refuse_is_refused_at_the_call(node: str, tmp_path: Path) -> None:
    """The bridge's link (``e2e/link.js``) and a real daemon: an event the daemon would
    close the link over (a numeric sid, data that is no object, a huge or deep payload)
    is refused at the call (``sendEvent`` false), with one ``link.bad_event`` warning per
    reason, and neither queued nor numbered: the events before and after it are stored
    once, in order, on the one connection. Queued, it would be resent after every
    reconnection and close the link each time, holding back every event behind it."""
    with start_blocking_portal("asyncio") as portal:
        store = SQLiteStore(tmp_path / "bridge.db")
        portal.call(store.open)
        setup = {"world": "minecraft", "server_id": SERVER_ID, "heartbeat_interval": 0.2}
        harness = Harness(portal.call(open_bridge_store, store), setup)
        portal.call(harness.provision)
        portal.call(harness.start)
        link = NodeProcess("link", [node, "e2e/link.js"], _node_env(
            AE_BRIDGE_URL=f"ws://127.0.0.1:{harness.port}/ws", AE_WORLD_KEY=harness.keys["key"],
            AE_SERVER_ID=SERVER_ID, AE_LOG_LEVEL="info",
        ), tmp_path / "link.log", stdin=True)  # fmt: skip

        def queue(d: Any, sid: Any = None) -> bool:
            queued: bool = link.request("event", d=d, sid=sid)["queued"]
            return queued

        def chat(message: str) -> dict[str, Any]:
            return {
                "type": "player_chat",
                "player": {"id": "u1", "name": PLAYER},
                "message": message,
            }

        def logged(event: str) -> list[dict[str, Any]]:
            lines = (tmp_path / "link.log").read_text(encoding="utf-8").splitlines()
            return [r for r in map(json.loads, lines) if r.get("event") == event]

        try:
            link.wait_for(lambda r: r.get("event") == "ready", 30, what="ready")
            assert queue(chat("before"))
            assert [queue(d, sid) for d, sid, _ in BAD_EVENTS] == [False] * len(BAD_EVENTS)
            assert queue(chat("after"))
            deadline = time.monotonic() + 15
            while len(harness.history) < 2 or link.request("status")["unacked"] > 0:
                assert time.monotonic() < deadline, "timed out waiting for both events"
                time.sleep(0.02)
            time.sleep(0.5)  # a close and a resend would show now
            assert [(w["s"], w["d"].get("message")) for _, w in list(harness.history)] == [
                (1, "before"), (2, "after")]  # fmt: skip
            assert len(logged("link.connected")) == 1  # one connection: never closed over them
            warnings = logged("link.bad_event")
            assert sorted(r["reason"] for r in warnings) == sorted({why for *_, why in BAD_EVENTS})
            assert any("1 to 64 characters" in r["hint"] for r in warnings)
        except Exception as exc:
            detail = "".join(traceback.format_exception(exc))[-6000:]
            raise AssertionError(f"{detail}\n{link.tail()}") from None
        finally:
            link.stop()
            portal.call(harness.stop)
            portal.call(store.close)
