"""The daemon's bound on a link's unacknowledged dispatches, and idle links leaving
memory (``bridge/PROTOCOL.md``, "The daemon's queue of unacknowledged dispatches").

Real daemons on 127.0.0.1: the control API and the edge as ``ae bridge serve`` wires
them, with :class:`AdapterClient` games. A game server "away" is one whose adapter is
cut off and retries against a port nothing listens on, as after a network failure;
pointed at the daemon again it resumes its link.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import TaskGroup
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from encounters._util.locks import KeyedLocks
from encounters.log import configure_logging
from encounters.models.deployment import CompanionSession
from encounters.moderation import AuditLogger, ContentModerator, TextFilter
from encounters.settings import Settings, load_settings
from encounters.storage import SQLiteStore, Store
from encounters.storage.postgres import PostgresStore
from encounters_bridge.adapter import AdapterClient
from encounters_bridge.cluster import Cluster
from encounters_bridge.deployment import DeploymentService
from encounters_bridge.frames import CloseCode, Frame
from encounters_bridge.keys import create_world_key
from encounters_bridge.links import LinkBacklogFull
from encounters_bridge.protocol import LinkState
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import LinkBatch, LinkRecord, LinkWrite, open_bridge_store
from tests.support.control import (
    SERVER,
    Daemon,
    Game,
    Keys,
    approved_persona,
    bearer,
    connected,
    make_keys,
    persona_body,
    run_daemon,
    session_of,
    spawn_live,
    until,
)
from tests.support.services import (
    POSTGRES_URL,
    REDIS_URL,
    postgres_schema,
    redis_prefix,
    store_backend,
)

pytestmark = pytest.mark.anyio
LIMIT = 5


@contextlib.contextmanager
def dead_url() -> Iterator[str]:
    """A loopback URL where connections are refused: a socket bound, never listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/ws"
    finally:
        sock.close()


def away(client: AdapterClient, url: str) -> list[str]:
    """Cut the client off: it retries against ``url`` until given its URLs back."""
    urls, client.urls = client.urls, [f"{url}?encoding=json"]
    return urls


def signal(sid: str, *ids: str) -> dict[str, Any]:
    actions = [{"id": i, "type": "chat", "message": f"Hello {i}"} for i in ids]
    return {"sessionId": sid, "actions": actions}


def log_lines(logged: io.StringIO, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in logged.getvalue().splitlines()]
    return [line for line in lines if line["event"] == event]


@dataclass
class Spawned:
    """A daemon with a game server linked and a companion live on it (its spawn acked)."""

    dm: Daemon
    keys: Keys
    game: Game
    http: httpx.AsyncClient
    sid: str
    #: the link's in-memory state (its unacknowledged dispatches)
    state: LinkState

    @property
    def client(self) -> AdapterClient:
        return self.game.client

    @contextlib.asynccontextmanager
    async def away(self) -> AsyncIterator[None]:
        """The game server away for the block (cut off, its link no longer connected);
        given its URLs back after it, it resumes its link."""
        with dead_url() as nowhere:
            urls = away(self.client, nowhere)
            await self.client.drop()
            await until(lambda: not self.dm.edge.connections)
            yield
            self.client.urls = urls


@contextlib.asynccontextmanager
async def spawned(tmp_path: Path, text_filter: TextFilter) -> AsyncIterator[Spawned]:
    """A daemon whose links keep at most ``LIMIT`` dispatches waiting, a web game
    server linked to it and a persona allowed to chat (600 a minute) spawned there."""
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        dm.edge.max_unacked_dispatches = LIMIT
        keys = await make_keys(dm.edge.store)
        game = Game.create(dm.ws_url, keys.world, "json")
        async with connected(game), httpx.AsyncClient(base_url=dm.http_url) as http:
            safety = {"maxActionsPerMinute": 600, "allowedActions": ["chat"]}
            pid, token = await approved_persona(http, keys, safety=safety)
            sid = await spawn_live(http, keys, pid, token)
            state = dm.edge.link_state(game.client.link.link_id or "")
            assert state is not None
            await until(lambda: state.unacked == [])
            yield Spawned(dm, keys, game, http, sid, state)


async def test_a_full_backlog_refuses_signals_with_503_and_keeps_every_queued_dispatch(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """While the game server is away its link keeps at most ``LIMIT`` dispatches: a
    signal beyond is refused whole with 503 and a message saying what, where and what
    to do; nothing queued is dropped. A companion's refused actions are logged once
    for the episode and counted. The game back resumes and gets every queued dispatch
    once, in order; its acks make room and signals are taken again."""
    logged = io.StringIO()
    configure_logging("info", "json", stream=logged)
    try:
        async with spawned(tmp_path, text_filter) as on:
            http, sid, state, game = on.http, on.sid, on.state, on.game
            link_id = on.client.link.link_id
            creator = bearer(on.keys.creator)
            async with on.away():
                r = await http.post("/signal", headers=creator, json=signal(sid, "a1", "a2", "a3"))
                assert r.status_code == 200, r.text
                # 3 wait; 3 more would make 6: refused whole, none of them queued
                r = await http.post("/signal", headers=creator, json=signal(sid, "b1", "b2", "b3"))
                assert r.status_code == 503, r.text
                message = r.json()["error"]["message"]
                assert f"web server '{SERVER}' is away or not reading its link" in message
                assert "nothing of this request was stored" in message
                assert "try again once it is back" in message  # what to do
                # the daemon's numbers and settings are for its log, not API callers
                assert "max_unacked_dispatches" not in message and "at most" not in message
                r = await http.post("/signal", headers=creator, json=signal(sid, "a4", "a5"))
                assert r.status_code == 200, r.text
                r = await http.post("/signal", headers=creator, json=signal(sid, "c1"))
                assert r.status_code == 503, r.text
                assert "is away or not reading its link" in r.json()["error"]["message"]
                # a companion's actions: refused quietly, logged once, counted
                for n in range(3):
                    await on.dm.service._companion_signal(sid, [
                        {"id": f"k{n}", "type": "chat", "message": "Hello"}])  # fmt: skip
                r = await http.get("/metrics", headers=bearer(on.keys.admin))
                assert "ae_bridge_dispatches_refused_total 7.0" in r.text  # 3 + 1 + 3
                # refused before moderation: no rate budget or count spent on them
                assert 'ae_actions_total{decision="allow"} 5.0' in r.text
                assert len(state.unacked) == LIMIT
                # the session counts only what was taken
                assert (await session_of(http, on.keys.creator, sid))["actions_sent"] == LIMIT

            await until(lambda: len(game.action_ids()) == LIMIT)
            assert on.client.link.link_id == link_id  # resumed, not identified again
            await until(lambda: state.unacked == [])
            r = await http.post("/signal", headers=creator, json=signal(sid, "a6"))
            assert r.status_code == 200, r.text
            await until(lambda: game.action_ids()[-1:] == ["a6"])
            assert game.action_ids() == ["a1", "a2", "a3", "a4", "a5", "a6"]
            assert [f.s for f in game.of_type("action")] == [2, 3, 4, 5, 6, 7]
    finally:
        configure_logging("warning", "console", None)
    full = log_lines(logged, "bridge.link_backlog_full")
    assert [(f["server_id"], f["waiting"], f["limit"]) for f in full] == [
        (SERVER, 3, LIMIT),  # the first episode: b1..b3 refused
        (SERVER, LIMIT, LIMIT),  # the second, after a4 and a5 were taken: once, not 4 times
    ]
    # dispatches refused in each episode: b1..b3; c1 and the companion's three
    assert [r["refused"] for r in log_lines(logged, "bridge.link_backlog_room")] == [3, 4]


async def test_a_refused_spawn_keeps_its_deploy_token(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """A spawn to a game server whose backlog is full is refused (503) before its deploy
    token is spent: the same token spawns once the game server caught up."""
    async with spawned(tmp_path, text_filter) as on:
        http, state = on.http, on.state
        other, other_token = await approved_persona(http, on.keys, name="Second Guide")
        creator = bearer(on.keys.creator)
        body = {"personaId": other, "deploymentToken": other_token, "world": "web",
                "serverId": SERVER}  # fmt: skip
        async with on.away():
            ids = [f"a{n}" for n in range(LIMIT)]
            r = await http.post("/signal", headers=creator, json=signal(on.sid, *ids))
            assert r.status_code == 200, r.text
            r = await http.post("/spawn", headers=creator, json=body)
            assert r.status_code == 503, r.text
            assert "is away or not reading its link" in r.json()["error"]["message"]
        await until(lambda: len(on.game.action_ids()) == LIMIT and state.unacked == [])
        r = await http.post("/spawn", headers=creator, json=body)
        assert r.status_code == 201, r.text


async def test_a_session_ends_while_its_game_server_is_away_with_a_full_backlog(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """Ending a session is never refused for a full backlog (its one despawn goes
    beyond the bound): a session on a game server that never comes back can be ended.
    The game server back gets the queued actions, then the despawn, once each."""
    async with spawned(tmp_path, text_filter) as on:
        http, sid, state, game = on.http, on.sid, on.state, on.game
        creator = bearer(on.keys.creator)
        async with on.away():
            ids = [f"a{n}" for n in range(LIMIT)]
            r = await http.post("/signal", headers=creator, json=signal(sid, *ids))
            assert r.status_code == 200, r.text
            r = await http.post(f"/session/{sid}/end", headers=creator)
            assert r.status_code == 200, r.text
            assert (await session_of(http, on.keys.creator, sid))["status"] == "ended"
        await until(lambda: bool(game.of_type("despawn")) and state.unacked == [])
        assert game.action_ids() == ids
        assert [f.sid for f in game.of_type("despawn")] == [sid]


# -- idle links leave memory --------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with store_backend(request.param, tmp_path) as factory:
        yield factory()


def evict(edge: BridgeEdge, limit: int = 500) -> int:
    """Evict every idle link now. The daemon's own sweep (``idle_link_ttl`` is an hour
    here) cannot run between: nothing here awaits."""
    edge.idle_link_ttl = 0
    try:
        return edge.evict_idle(limit)
    finally:
        edge.idle_link_ttl = 3600


#: What the edge and the cluster keep that is not per game server or link: handlers,
#: settings, the cluster's own tasks (heartbeat, inbox). (The rate budgets' limiters
#: hold per-link keys too: a cache with its own bound.)
NOT_PER_LINK = {"on_event", "on_link", "observers", "trusted_proxies", "_tasks"}


def leftovers(*parts: object) -> dict[str, int]:
    """Every container (dict, set, list, keyed locks) of ``parts`` (an edge, its cluster, the
    cluster's leases) still holding something, by name: what memory keeps after the
    links left. Found by looking at all of them, so a map added later is checked too."""
    found = {}
    for part in parts:
        for name, value in vars(part).items():
            if name in NOT_PER_LINK or not isinstance(value, dict | set | list | KeyedLocks):
                continue
            if value:
                found[f"{type(part).__name__}.{name}"] = len(value)
    return found


def start_fleet(
    tg: TaskGroup,
    url: str,
    key: str,
    clients: dict[str, AdapterClient],
    got: dict[str, list[Frame]],
    max_backoff: float,
) -> None:
    """One running adapter per game server of ``got`` (its keys), each recording the
    dispatches it runs in ``got``; the adapters in ``clients``."""
    for name in got:
        client = clients[name] = AdapterClient(
            url, world="minecraft", server_id=name, key=key, capabilities=["chat"],
            max_backoff=max_backoff,
        )  # fmt: skip

        async def on_dispatch(frame: Frame, name: str = name) -> None:
            got[name].append(frame)

        client.on_dispatch = on_dispatch
        tg.start_soon(client.run)


def chat(n: int) -> Frame:
    return Frame("dispatch", {"type": "action", "n": n,
                              "action": {"id": f"act_{n}", "type": "chat", "message": "hi"}},
                 sid="sess_1")  # fmt: skip


async def test_idle_links_leave_memory_and_come_back_with_their_backlog(backend: Store) -> None:
    """Many game servers connect and go away: once idle, their links leave the
    daemon's memory (``_owners`` shrinks to none). One that comes back resumes its
    link, and gets the dispatches made while it was away (written to the store while
    its link was out of memory too) once each, in order, with their numbers."""
    await backend.open()
    records = await open_bridge_store(backend)
    edge = BridgeEdge(records, heartbeat_interval=0.5, idle_link_ttl=3600)
    server = await edge.serve("127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"
    servers = [f"srv-{n}" for n in range(12)]
    _, key = await create_world_key(records, "fleet", "minecraft", servers)
    got: dict[str, list[Frame]] = {s: [] for s in servers}
    clients: dict[str, AdapterClient] = {}
    try:
        async with anyio.create_task_group() as tg:
            start_fleet(tg, url, key, clients, got, max_backoff=0.05)
            await until(lambda: len(edge.connections) == len(servers), timeout=20)
            for name in servers:
                assert await edge.dispatch("minecraft", name, chat(0)) == 1
            await until(lambda: all(len(f) == 1 for f in got.values()), timeout=20)
            await until(lambda: all(not o.state.unacked for o in edge._owners.values()))
            back = clients["srv-0"]
            link_id = back.link.link_id
            with dead_url() as nowhere:
                urls = away(back, nowhere)
                for name, client in clients.items():
                    if name == "srv-0":
                        await client.drop()
                    else:
                        await client.stop()
                await until(lambda: not edge.connections and not edge._live, timeout=20)
                assert await edge.dispatch("minecraft", "srv-0", chat(1)) == 2  # in memory
                assert len(edge._owners) == len(servers)

                assert evict(edge, limit=5) == 5  # a sweep frees a bounded batch
                assert len(edge._owners) == len(servers) - 5
                assert evict(edge) == len(servers) - 5
                assert edge._owners == {}
                assert leftovers(edge) == {}  # nothing per game server stays behind
                # the store still knows them; a use loads the link, capabilities too
                assert await edge.knows("minecraft", "srv-1")
                assert edge.capabilities(clients["srv-1"].link.link_id or "") is None
                await edge.check_room("minecraft", "srv-1", 1)  # what a signal does first
                assert edge.capabilities(clients["srv-1"].link.link_id or "") == ["chat"]
                assert evict(edge) == 1
                # dispatched while its link is out of memory: loaded, numbered on
                for n in (2, 3):
                    assert await edge.dispatch("minecraft", "srv-0", chat(n)) == n + 1
                assert evict(edge) == 1
                assert edge._owners == {}
                back.urls = urls
            await until(lambda: len(got["srv-0"]) == 4)
            assert back.link.link_id == link_id  # resumed, not identified again
            assert [(f.s, f.d["n"]) for f in got["srv-0"]] == [(1, 0), (2, 1), (3, 2), (4, 3)]
            assert list(edge._owners) == [link_id]
            state = edge.link_state(link_id or "")
            assert state is not None
            await until(lambda: state.unacked == [])
            assert evict(edge) == 0  # connected: kept
            assert await edge.dispatch("minecraft", "srv-0", chat(4)) == 5
            await until(lambda: len(got["srv-0"]) == 5)
            assert [f.d["n"] for f in got["srv-0"]] == [0, 1, 2, 3, 4]
            assert all(len(got[s]) == 1 for s in servers[1:])
            await back.stop()
            tg.cancel_scope.cancel()
    finally:
        await edge.close_all()
        server.close()
        await server.wait_closed()
        await backend.close()


async def test_a_backlog_refused_at_the_bound_survives_eviction(tmp_path: Path) -> None:
    """The bound holds for a link loaded again from the store: its backlog counts."""
    store = SQLiteStore(tmp_path / "d.db")
    await store.open()
    records = await open_bridge_store(store)
    edge = BridgeEdge(records, heartbeat_interval=0.5, idle_link_ttl=3600,
                      max_unacked_dispatches=3)  # fmt: skip
    server = await edge.serve("127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"
    client, _ = await game_server(edge, url)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: len(edge.connections) == 1)
            await client.stop()
            await until(lambda: not edge.connections and not edge._live)
            for n in range(3):
                await edge.dispatch("minecraft", "srv", chat(n))
            assert evict(edge) == 1
            with pytest.raises(LinkBacklogFull, match="the 3 dispatches"):
                await edge.dispatch_many("minecraft", "srv", [chat(3)])
            assert len(edge._owners) == 1
            tg.cancel_scope.cancel()
    finally:
        await edge.close_all()
        server.close()
        await server.wait_closed()
        await store.close()


class Clock:
    """The edge's monotonic clock, moved by the test (idle times without waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_outage_refused_at_the_room_check_is_logged_once_while_signals_come(
    tmp_path: Path,
) -> None:
    """A game server away with a full backlog while signals keep coming (each checked
    for room first, as a spawn or a signal does): its link stays in memory and the
    outage is logged once. Before, refusals at the check did not count as a use: the
    link was evicted every ``idle_link_ttl`` and loaded again (a store read), and each
    load logged the outage anew. Refusals further apart than ``idle_link_ttl`` find it
    evicted in between (nothing of an evicted link stays): logged again then."""
    logged = io.StringIO()
    configure_logging("info", "json", stream=logged)
    store = SQLiteStore(tmp_path / "d.db")
    await store.open()
    try:
        records = await open_bridge_store(store)
        record = LinkRecord(id="lnk_1", world="minecraft", server_id="srv", key_id="wk_1",
                            token_hash="h", out_s=3)  # fmt: skip
        waiting = [chat(n).to_wire() | {"s": n + 1} for n in range(3)]
        await records.write_links(LinkBatch([LinkWrite(record, waiting)]))
        clock = Clock()
        edge = BridgeEdge(records, clock=clock, idle_link_ttl=10, max_unacked_dispatches=3)
        for _ in range(3):  # a signal every 6 s, for longer than idle_link_ttl
            with pytest.raises(LinkBacklogFull, match="the 3 dispatches"):
                await edge.check_room("minecraft", "srv", 1)
            clock.now += 6
            assert edge.evict_idle() == 0
        assert len(log_lines(logged, "bridge.link_backlog_full")) == 1
        assert edge.dispatches_refused == 3
        clock.now += 10  # no signal for idle_link_ttl: evicted, logged again when refused
        assert edge.evict_idle() == 1
        with pytest.raises(LinkBacklogFull):
            await edge.dispatch("minecraft", "srv", chat(3))
        assert len(log_lines(logged, "bridge.link_backlog_full")) == 2
        assert edge.dispatches_refused == 4
    finally:
        configure_logging("warning", "console", None)
        await store.close()


async def test_a_failing_eviction_sweep_stops_neither_the_watch_nor_the_next_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one task that watches every connection (timeouts, ack writes) also sweeps
    idle links: a sweep that fails (a bug) is logged and the watch goes on, closing a
    connection that never identifies in time, and the next sweep evicts. Before, the
    error ended the task: no connection timed out any more and no link left memory."""
    logged = io.StringIO()
    configure_logging("info", "json", stream=logged)
    store = SQLiteStore(tmp_path / "d.db")
    await store.open()
    records = await open_bridge_store(store)
    edge = BridgeEdge(records, heartbeat_interval=0.5, idle_link_ttl=3600, identify_timeout=1.0)
    server = await edge.serve("127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"
    client, _ = await game_server(edge, url)
    failed = anyio.Event()
    locked = edge._server_locks.locked

    def failing_once(place: tuple[str, str]) -> bool:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("a bug in the sweep")
        return locked(place)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: len(edge.connections) == 1)
            await client.stop()
            await until(lambda: not edge.connections and not edge._live)
            monkeypatch.setattr(edge._server_locks, "locked", failing_once)
            edge.idle_link_ttl = 0  # swept within a second from now
            with anyio.fail_after(10):
                await failed.wait()
            assert len(edge._owners) == 1
            async with connect(url) as silent:  # never identifies
                with anyio.fail_after(10), pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await silent.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CloseCode.NOT_IDENTIFIED
            await until(lambda: edge._owners == {})
            tg.cancel_scope.cancel()
    finally:
        await edge.close_all()
        server.close()
        await server.wait_closed()
        await store.close()
        configure_logging("warning", "console", None)
    (line,) = log_lines(logged, "bridge.evict_failed")
    assert line["error"] == "RuntimeError('a bug in the sweep')"


async def test_evicting_while_links_drop_resume_and_get_dispatches_loses_nothing(
    tmp_path: Path,
) -> None:
    """Races: idle links are evicted without pause while their adapters are cut and
    resume, and dispatches are made to them connected or not (a resume or a dispatch
    arriving while a link is evicted, a load under way). Every dispatch reaches its
    game once, in order, with gapless numbers."""
    store = SQLiteStore(tmp_path / "d.db")
    await store.open()
    records = await open_bridge_store(store)
    edge = BridgeEdge(records, heartbeat_interval=0.5, idle_link_ttl=0)
    server = await edge.serve("127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"
    servers = [f"srv-{n}" for n in range(4)]
    _, key = await create_world_key(records, "fleet", "minecraft", servers)
    got: dict[str, list[Frame]] = {s: [] for s in servers}
    clients: dict[str, AdapterClient] = {}
    evictions = 0
    rounds = 40
    try:
        async with anyio.create_task_group() as tg:
            start_fleet(tg, url, key, clients, got, max_backoff=0.01)
            await until(lambda: len(edge.connections) == len(servers), timeout=20)
            stop = anyio.Event()

            async def evicting() -> None:
                nonlocal evictions
                while not stop.is_set():
                    evictions += edge.evict_idle()
                    await anyio.sleep(0)

            tg.start_soon(evicting)
            for n in range(rounds):
                for name in servers:
                    assert await edge.dispatch("minecraft", name, chat(n)) == n + 1
                if n % 4 == 0:
                    await clients[servers[n // 4 % len(servers)]].drop()
            await until(lambda: all(len(f) >= rounds for f in got.values()), timeout=30)
            stop.set()
            for client in clients.values():
                await client.stop()
            tg.cancel_scope.cancel()
    finally:
        await edge.close_all()
        server.close()
        await server.wait_closed()
        await store.close()
    for name in servers:  # the adapter skips a resent dispatch it has run: once each
        assert [(f.s, f.d["n"]) for f in got[name]] == [(n + 1, n) for n in range(rounds)]
    assert evictions > 0


# -- several nodes: an evicted link's lease ---------------------------------------------

LEASE_TTL = 1.0


@pytest.fixture
def shared() -> Iterator[tuple[str, Settings]]:
    """A PostgreSQL schema and a Redis key prefix two nodes share."""
    with postgres_schema() as schema, redis_prefix() as prefix:
        yield f"{POSTGRES_URL}?schema={schema}", load_settings(redis=REDIS_URL,
                                                               redis_prefix=prefix)  # fmt: skip


@contextlib.asynccontextmanager
async def node(pg_url: str, settings: Settings) -> AsyncIterator[tuple[BridgeEdge, str]]:
    """A daemon node's edge in the cluster (its leases in Redis, its links fenced in
    PostgreSQL) and its adapter URL; idle links leave memory only when ``evict`` says."""
    async with PostgresStore(pg_url) as store:
        records = await open_bridge_store(store)
        edge = BridgeEdge(records, heartbeat_interval=0.5, idle_link_ttl=3600)
        edge.cluster = cluster = Cluster(settings, lease_ttl=LEASE_TTL)
        await cluster.start(edge)
        server = await edge.serve("127.0.0.1", 0)
        try:
            yield edge, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"
        finally:
            await edge.close_all()
            server.close()
            await server.wait_closed()
            await cluster.close()


def kept_by(edge: BridgeEdge) -> dict[str, int]:
    """What a node keeps per game server or link (edge, cluster, leases)."""
    assert edge.cluster is not None
    return leftovers(edge, edge.cluster, edge.cluster.leases)


async def quiet(edge: BridgeEdge) -> None:
    """Wait until no connection is left and every link in memory has written all."""
    await until(lambda: not edge._live and all(o.quiet for o in edge._owners.values()))


async def game_server(edge: BridgeEdge, url: str) -> tuple[AdapterClient, list[Frame]]:
    """Game server ``srv`` (minecraft, chat only) with a world key of its own in
    ``edge``'s store: its adapter, linking to ``url`` once run, and the dispatches it
    gets, in order."""
    _, key = await create_world_key(edge.store, "one", "minecraft", ["srv"])
    got: list[Frame] = []

    async def on_dispatch(frame: Frame) -> None:
        got.append(frame)

    client = AdapterClient(url, world="minecraft", server_id="srv", key=key,
                           capabilities=["chat"], max_backoff=0.05,
                           on_dispatch=on_dispatch)  # fmt: skip
    return client, got


async def test_an_evicted_link_frees_its_lease_for_the_node_its_game_server_comes_back_to(
    shared: tuple[str, Settings],
) -> None:
    """A node that evicts an idle link from memory frees its lease in Redis: it is not
    renewed on for as long as the node lives, and the node keeps nothing of the link.
    Used again there at once (a dispatch while the lease is being freed) the node takes
    the lease again and loads the link anew; evicted again, the lease goes. The game
    server coming back to another node resumes its link there and gets every dispatch
    once, in order; the first node's next dispatch is forwarded to it."""
    pg_url, settings = shared
    place = ("minecraft", "srv")
    async with node(pg_url, settings) as (a, url_a), node(pg_url, settings) as (b, url_b):
        assert a.cluster is not None and b.cluster is not None
        client, got = await game_server(a, url_a)
        redis, lease = a.cluster.redis, a.cluster.leases.key(place)

        async def released(key: str = lease) -> bool:
            """The lease is free in Redis and A keeps nothing of the link (its release
            task done too)."""
            return not await redis.exists(key) and kept_by(a) == {}

        # a dispatch to a game server that never linked takes no lease for good
        assert await a.dispatch("minecraft", "never-linked", chat(0)) is None
        never = a.cluster.leases.key(("minecraft", "never-linked"))
        await until(lambda: released(never))
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: len(a.connections) == 1, timeout=20)
            link_id = client.link.link_id
            assert await a.dispatch(*place, chat(0)) == 1
            await until(lambda: len(got) == 1)
            with dead_url() as nowhere:
                away(client, nowhere)
                await client.drop()
                await quiet(a)
                assert evict(a) == 1
                # at once, before the lease is freed: taken again, the link loaded anew
                assert await a.dispatch(*place, chat(1)) == 2
                assert await redis.get(lease) == a.cluster.node_id.encode()
                await quiet(a)
                assert evict(a) == 1
                await until(released)  # freed, not renewed by the heartbeat
                client.urls = [url_b + "?encoding=json"]  # back, to node B
            await until(lambda: len(got) == 2 and bool(b.connections), timeout=20)
            assert client.link.link_id == link_id  # resumed on B, not identified again
            assert await redis.get(lease) == b.cluster.node_id.encode()
            assert await a.dispatch(*place, chat(2)) == 3  # forwarded to B
            await until(lambda: len(got) == 3)
            assert [(f.s, f.d["n"]) for f in got] == [(1, 0), (2, 1), (3, 2)]
            assert kept_by(a) == {}
            await client.stop()
            tg.cancel_scope.cancel()


async def test_an_eviction_while_a_take_is_at_work_leaves_the_lease_to_the_take(
    shared: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node A takes a link's lease for one dispatch; while that take is at work (its
    lease acquired in Redis, the link not loaded yet) a second dispatch takes the
    lease too, writes, and the link, idle, is evicted. The eviction leaves the lease
    alone: the first take goes on, A writes the link and its lease in Redis names A,
    so node B's dispatch is forwarded to A and nothing A writes is refused. Before,
    the eviction freed the lease under the take: A wrote the link holding no lease in
    Redis (free for B to take, A's next writes refused by the store's fence) and its
    heartbeat found the lease lost. The interleaving is made with an event on A's
    acquire script, not timing."""
    pg_url, settings = shared
    place = ("minecraft", "srv")
    logged = io.StringIO()
    configure_logging("info", "json", stream=logged)
    try:
        async with node(pg_url, settings) as (a, url_a), node(pg_url, settings) as (b, _):
            cluster_a = a.cluster
            assert cluster_a is not None
            client, got = await game_server(a, url_a)
            redis, lease = cluster_a.redis, cluster_a.leases.key(place)

            async def released() -> bool:
                return not await redis.exists(lease) and kept_by(a) == {}

            async with anyio.create_task_group() as tg:
                tg.start_soon(client.run)
                await until(lambda: len(a.connections) == 1, timeout=20)
                assert await a.dispatch(*place, chat(0)) == 1
                await until(lambda: len(got) == 1)
                with dead_url() as nowhere:
                    away(client, nowhere)
                    await client.drop()
                    await quiet(a)
                    assert evict(a) == 1
                    await until(released)  # no node holds the link

                    acquire = cluster_a.leases._acquire
                    acquired, go = anyio.Event(), anyio.Event()

                    async def gated(*, keys: list[str], args: list[Any]) -> Any:
                        holder = await acquire(keys=keys, args=args)
                        if not acquired.is_set():  # the first take waits here
                            acquired.set()
                            await go.wait()
                        return holder

                    monkeypatch.setattr(cluster_a.leases, "_acquire", gated)
                    numbers: list[int | None] = []

                    async def taking() -> None:
                        numbers.append(await a.dispatch(*place, chat(1)))

                    async with anyio.create_task_group() as sending:
                        sending.start_soon(taking)
                        await acquired.wait()  # the lease is A's in Redis; the take waits
                        assert await a.dispatch(*place, chat(2)) == 2
                        await quiet(a)
                        assert evict(a) == 1  # idle again, while the first take is at work
                        await until(lambda: not cluster_a._dropping)  # any release done
                        go.set()
                    assert numbers == [3]
                    assert await redis.get(lease) == cluster_a.node_id.encode()
                    assert await b.dispatch(*place, chat(3)) == 4  # forwarded to A
                    assert await a.dispatch(*place, chat(4)) == 5
                    client.urls = [url_a + "?encoding=json"]
                await until(lambda: len(got) == 5, timeout=20)
                assert [(f.s, f.d["n"]) for f in got] == [(1, 0), (2, 2), (3, 1), (4, 3), (5, 4)]
                await client.stop()
                tg.cancel_scope.cancel()
    finally:
        configure_logging("warning", "console", None)
    assert log_lines(logged, "bridge.link_write_refused") == []
    assert log_lines(logged, "cluster.lease_lost") == []


async def test_a_lease_released_during_a_renewal_and_taken_again_is_not_lost(
    shared: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node A's heartbeat renews a link's lease; while that renewal is under way, A
    evicts the idle link (its lease freed in Redis, so the renewal finds it gone) and
    the game server resumes on A at once (the lease taken again). The renewal does not
    take the freed lease for a lost one: the resumed connection stays open and gets
    the next dispatch, and A still holds the lease. Before, A logged the lease lost
    and gave up the link it had just taken again (its connection closed, 1001). The
    interleaving is made with events on A's renewal script, not timing."""
    pg_url, settings = shared
    place = ("minecraft", "srv")
    logged = io.StringIO()
    configure_logging("info", "json", stream=logged)
    try:
        async with node(pg_url, settings) as (a, url_a):
            cluster_a = a.cluster
            assert cluster_a is not None
            client, got = await game_server(a, url_a)
            redis, lease = cluster_a.redis, cluster_a.leases.key(place)
            # the heartbeat is held below: its leases must not lapse meanwhile
            monkeypatch.setattr(cluster_a.leases, "ttl_ms", 60_000)
            renew, beat = cluster_a.leases._renew, cluster_a.node.beat
            entered, run, renewed, answer = (anyio.Event() for _ in range(4))
            beats = 0

            async def gated(*, keys: list[str], args: list[Any]) -> Any:
                if entered.is_set():
                    return await renew(keys=keys, args=args)
                entered.set()  # this renewal's list of leases names the link's
                await run.wait()
                kept = await renew(keys=keys, args=args)
                renewed.set()
                await answer.wait()
                return kept

            async def counted() -> None:
                nonlocal beats
                beats += 1
                await beat()

            async with anyio.create_task_group() as tg:
                tg.start_soon(client.run)
                await until(lambda: len(a.connections) == 1, timeout=20)
                assert await a.dispatch(*place, chat(0)) == 1
                await until(lambda: len(got) == 1)
                monkeypatch.setattr(cluster_a.leases, "_renew", gated)
                monkeypatch.setattr(cluster_a.node, "beat", counted)
                await entered.wait()
                with dead_url() as nowhere:
                    away(client, nowhere)
                    await client.drop()
                    await quiet(a)
                    assert evict(a) == 1
                    await until(lambda: not cluster_a._dropping)  # freed in Redis
                    assert not await redis.exists(lease)
                    run.set()
                    await renewed.wait()  # the renewal found the lease gone
                    client.urls = [url_a + "?encoding=json"]
                    await until(lambda: bool(a.connections) and cluster_a.holds(place),
                                timeout=20)  # fmt: skip
                (conn,) = a.connections.values()
                seen = beats
                answer.set()
                await until(lambda: beats > seen)  # the heartbeat went on past its answer
                assert list(a.connections.values()) == [conn]  # not closed
                assert await redis.get(lease) == cluster_a.node_id.encode()
                assert await a.dispatch(*place, chat(1)) == 2
                await until(lambda: len(got) == 2)
                assert [(f.s, f.d["n"]) for f in got] == [(1, 0), (2, 1)]
                await client.stop()
                tg.cancel_scope.cancel()
    finally:
        configure_logging("warning", "console", None)
    assert log_lines(logged, "cluster.lease_lost") == []


async def test_a_link_handed_to_another_node_leaves_nothing_on_the_first(
    shared: tuple[str, Settings],
) -> None:
    """A game server identified on node A resumes on node B while A still holds its
    link: A hands the lease over and keeps nothing of the link (no lock, no entry),
    and B is its one writer: the dispatches made through either node reach the game
    once each, numbered on."""
    pg_url, settings = shared
    place = ("minecraft", "srv")
    async with node(pg_url, settings) as (a, url_a), node(pg_url, settings) as (b, url_b):
        assert a.cluster is not None and b.cluster is not None
        client, got = await game_server(a, url_a)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: len(a.connections) == 1, timeout=20)
            link_id = client.link.link_id
            assert await b.dispatch(*place, chat(0)) == 1  # forwarded to A
            await until(lambda: len(got) == 1)
            client.urls = [url_b + "?encoding=json"]
            await client.drop()
            await until(lambda: bool(b.connections) and not a._live, timeout=20)
            assert client.link.link_id == link_id
            await quiet(a)
            assert kept_by(a) == {}
            assert await a.dispatch(*place, chat(1)) == 2  # forwarded to B
            await until(lambda: len(got) == 2)
            assert [(f.s, f.d["n"]) for f in got] == [(1, 0), (2, 1)]
            assert kept_by(a) == {}
            await client.stop()
            tg.cancel_scope.cancel()


async def test_a_signal_after_its_link_was_evicted_still_checks_the_link_capabilities(
    shared: tuple[str, Settings], text_filter: TextFilter
) -> None:
    """With several nodes a node that evicted an idle link keeps nothing of it (nor
    does a node that never held it): the next signal still checks the action types
    the game server declared, read from the stored link (PROTOCOL.md: every action
    dispatch passed the link's capabilities). Found by review: an undeclared action
    was allowed and dispatched."""
    pg_url, settings = shared
    async with node(pg_url, settings) as (a, url_a):
        sdk_store = a.store.store  # type: ignore[attr-defined]
        service = DeploymentService(
            sdk_store, ContentModerator(text_filter, audit=AuditLogger(sdk_store)), a
        )
        client, _ = await game_server(a, url_a)
        record = await service.submit(persona_body(), "cr_1")
        await service.approve(record.persona.id)
        await sdk_store.save_companion(CompanionSession(
            id="sess_1", persona_id=record.persona.id, world="minecraft", server_id="srv",
            status="live",
        ))  # fmt: skip
        emote = [{"type": "emote", "name": "wave"}]
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: len(a.connections) == 1, timeout=20)
            # linked: the game server did not declare emote, so it is blocked
            [before] = await service.signal("sess_1", emote)
            assert (before["decision"], before["reason"]) == ("block", "not_supported_by_world")
            with dead_url() as nowhere:
                away(client, nowhere)
                await client.drop()
                await quiet(a)
                assert evict(a) == 1
                [after] = await service.signal("sess_1", emote)
            assert (after["decision"], after["reason"]) == ("block", "not_supported_by_world")
            await client.stop()
            tg.cancel_scope.cancel()


async def test_a_load_waited_for_and_given_up_meanwhile_does_not_take_the_link_back(
    shared: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node A loads a link for a dispatch while a second dispatch waits for that load;
    the moment the load is done, A hands the link to node B (what B's claim asks of A
    over the bus), before the waiting dispatch runs on. The waiting dispatch finds the
    owner retired: it is routed to B (A does not take the link from the store again),
    and B stays its one writer. Before, A took the link again (bumping the server's
    epoch) and kept an owner of a link it did not hold: B's next write was refused.
    The interleaving is made with events on A's store, not timing."""
    pg_url, settings = shared
    place = ("minecraft", "srv")
    async with node(pg_url, settings) as (a, url_a), node(pg_url, settings) as (b, url_b):
        cluster_a, cluster_b = a.cluster, b.cluster
        assert cluster_a is not None and cluster_b is not None
        client, got = await game_server(a, url_a)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: len(a.connections) == 1, timeout=20)
            assert await a.dispatch(*place, chat(0)) == 1
            await until(lambda: len(got) == 1)
            with dead_url() as nowhere:
                away(client, nowhere)
                await client.drop()
                await quiet(a)
                assert evict(a) == 1  # out of A's memory: the next use loads it

                takes: list[str] = []
                go, loaded, b_took = anyio.Event(), anyio.Event(), anyio.Event()
                take = a.store.take_link

                async def gated_take(world: str, server_id: str) -> LinkRecord | None:
                    takes.append(server_id)
                    if len(takes) > 1:  # a take after the hand-over: let B take it first
                        await b_took.wait()
                        return await take(world, server_id)
                    await go.wait()
                    found = await take(world, server_id)
                    loaded.set()  # wakes the hand-over before the waiting dispatch
                    return found

                monkeypatch.setattr(a.store, "take_link", gated_take)
                numbers: dict[str, int | None] = {}

                async def send(name: str, edge: BridgeEdge, n: int) -> None:
                    numbers[name] = await edge.dispatch(*place, chat(n))

                async def hand_over() -> None:
                    await loaded.wait()
                    await cluster_a._answer({"op": "handover", "world": place[0],
                                             "server_id": place[1], "reason": "replaced",
                                             "to": cluster_b.node_id})  # fmt: skip
                    await cluster_b.claim(place, "replaced")
                    await send("b", b, 3)  # B loads the link and writes it
                    b_took.set()

                async with anyio.create_task_group() as sending:
                    sending.start_soon(send, "loading", a, 1)
                    await until(lambda: len(takes) == 1)
                    sending.start_soon(send, "waiting", a, 2)
                    await anyio.wait_all_tasks_blocked()  # it waits for the load
                    sending.start_soon(hand_over)
                    go.set()
                assert takes == ["srv"]  # A never took the link back
                assert place not in a.by_server and a._owners == {}
                assert sorted(n or 0 for n in numbers.values()) == [2, 3, 4]
                assert await b.dispatch(*place, chat(4)) == 5  # B writes on, not fenced
                client.urls = [url_b + "?encoding=json"]
            await until(lambda: len(got) == 5, timeout=20)
            assert [f.s for f in got] == [1, 2, 3, 4, 5]
            assert sorted(f.d["n"] for f in got) == [0, 1, 2, 3, 4]
            await client.stop()
            tg.cancel_scope.cancel()
