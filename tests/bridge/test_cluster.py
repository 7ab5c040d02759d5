"""Several daemon nodes on one PostgreSQL and one Redis (``AE_REDIS``): real
``ae bridge serve`` processes (tests/support/cluster.py).

- a signal sent to one node's control API reaches an adapter linked to another node,
  in order and gapless with the signals sent to the adapter's own node;
- a node holding a link is killed (SIGKILL) mid-stream, ten times: the adapter resumes
  on another node, every action a control API answered ``allow`` reaches the game
  exactly once, in order, and every event the game sent back is acknowledged and
  stored exactly once;
- two connections for one game server on two nodes: the newer one is live, the older
  one is closed with 4014 (``replaced``) and stops, as on one node;
- a node holding a link is paused (SIGSTOP) past its lease with an event waiting in its
  socket; the adapter resumes on another node and goes on; woken, the stale node's
  write of that event is refused by PostgreSQL (the link's epoch), it closes its
  connection (1001), and every event is taken once, in order;
- a game server identifies again on another node naming its previous link: that node
  takes the link from the first (which closes its connection with 4014) and ``ready``'s
  ``previous`` says how far the first node stored its events.

The nodes run with a short lease (``AE_BRIDGE_LEASE_TTL``), so a dead node's links
move within seconds.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from encounters.client import ControlError, EncountersClient
from encounters.storage.postgres import PostgresStore
from encounters_bridge.adapter import AdapterClient
from encounters_bridge.frames import CloseCode, Frame
from encounters_bridge.store import open_bridge_store
from tests.support.cluster import START_TIMEOUT, DaemonCluster, daemon_cluster
from tests.support.daemon_process import DaemonProcess
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.anyio
SERVER = "cluster-srv"
ROUNDS = 10
SESSIONS = 4


@pytest.fixture
def cluster3(tmp_path: Path) -> Iterator[DaemonCluster]:
    with daemon_cluster(tmp_path, size=3) as cluster:
        yield cluster


@pytest.fixture
def cluster2(tmp_path: Path) -> Iterator[DaemonCluster]:
    with daemon_cluster(tmp_path, size=2) as cluster:
        yield cluster


@dataclass
class Game:
    """What an adapter received: action ids per session, and every ``s``."""

    actions: dict[str, list[str]] = field(default_factory=dict)
    seqs: list[int] = field(default_factory=list)

    async def on_dispatch(self, frame: Frame) -> None:
        if frame.s is not None:
            self.seqs.append(frame.s)
        if frame.d.get("type") == "action" and frame.sid:
            self.actions.setdefault(frame.sid, []).append(frame.d["action"]["id"])


def adapter(urls: list[str], key: str, game: Game) -> AdapterClient:
    return AdapterClient(urls, world="minecraft", server_id=SERVER, key=key,
                         capabilities=["chat"], on_dispatch=game.on_dispatch,
                         max_backoff=0.05)  # fmt: skip


async def spawn(url: str, creator: str, admin: str, name: str) -> str:
    """An approved persona spawned on SERVER through the control API at ``url``."""
    async with EncountersClient(url, creator) as me, EncountersClient(url, admin) as ops:
        safety = {"allowedActions": ["chat"], "maxActionsPerMinute": 600}
        pid = (await me.submit_persona({"name": name, "safety": safety}))["id"]
        token = (await ops.approve_persona(pid))["token"]
        session_id: str = (await me.spawn(pid, token, "minecraft", SERVER))["sessionId"]
        return session_id


def chat(action_id: str) -> dict[str, Any]:
    # the line is the same every time: a session id's random letters and digits read as
    # leetspeak could spell a word the filter masks ("a55"), and the test would vary
    return {"id": action_id, "type": "chat", "message": "a line for the game"}


async def test_a_signal_to_one_node_reaches_an_adapter_linked_to_another(
    cluster2: DaemonCluster,
) -> None:
    admin, creator, world_key = await cluster2.keys([SERVER])
    a, b = cluster2.nodes
    await cluster2.start()
    game = Game()
    client = adapter([b.ws_url], world_key, game)  # linked to node B only
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        with anyio.fail_after(30):
            await client.ready.wait()
        sid = await spawn(a.http_url, creator, admin, "Crossing")  # spawned through A
        sent: list[str] = []
        async with (
            EncountersClient(a.http_url, creator) as via_a,
            EncountersClient(b.http_url, creator) as via_b,
        ):
            for n in range(10):  # alternately through A (forwarded) and B (its own)
                action_id = f"act-{n:03d}"
                answer = await (via_a if n % 2 == 0 else via_b).signal(sid, [chat(action_id)])
                assert answer["results"][0]["decision"] == "allow", answer
                sent.append(action_id)
        with anyio.fail_after(30):
            while len(game.actions.get(sid, [])) < len(sent):
                await anyio.sleep(0.02)
        await client.stop()
        tg.cancel_scope.cancel()
    assert game.actions[sid] == sent  # each once, in the order the calls returned
    assert game.seqs == list(range(game.seqs[0], game.seqs[0] + len(game.seqs)))  # gapless
    assert client.connections == 1  # never moved: A forwarded to B


@dataclass
class Stream:
    """One creator streaming numbered chat actions to one session (as in test_crash)."""

    session_id: str
    next_n: int = 0
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    cut_off: list[str] = field(default_factory=list)

    def action(self) -> dict[str, Any]:
        """The next action, ``act-00001`` on: not the session id with a number, as it
        was: the audit log redacts personal data from every event it records, and a
        session id whose random hex ends in eight decimal digits ran on into the number
        (``...a08060089-00003``), thirteen digits that pass the Luhn check for about
        one id in ten. Those ids were recorded as ``sess_...[personal data]``, so
        distinct events read as one event taken twice."""
        self.next_n += 1
        return chat(f"act-{self.next_n:05d}")

    async def run(self, client: EncountersClient, stop: anyio.Event) -> None:
        while not stop.is_set():
            batch = [self.action(), self.action()]
            ids = [a["id"] for a in batch]
            try:
                answer = await client.signal(self.session_id, batch)
            except (ControlError, httpx.HTTPError, OSError):
                self.cut_off += ids
                return
            for result in answer["results"]:
                if result["decision"] in ("allow", "sanitize"):  # sent (masked or not)
                    self.accepted.append(result["action_id"])
                else:
                    self.refused.append(result["action_id"])


async def events_done(ops: EncountersClient, session_id: str) -> list[str]:
    """The action ids of the ``action_done`` events the daemon took for a session."""
    return [
        e["input"]["action_id"]
        for e in await ops.replay(session_id)
        if e["kind"] == "event" and e["input"].get("type") == "action_done"
    ]


async def test_killing_the_node_holding_a_link_ten_times_loses_and_duplicates_nothing(
    cluster3: DaemonCluster,
) -> None:
    admin, creator, world_key = await cluster3.keys([SERVER])
    await cluster3.start()
    game = Game()
    events: dict[str, list[str]] = {}  # by session: the action ids of the events sent

    async def on_dispatch(frame: Frame) -> None:
        """Like a game: report each action done (events flow back while dispatches
        flow out)."""
        await game.on_dispatch(frame)
        if frame.d.get("type") == "action" and frame.sid:
            action_id = frame.d["action"]["id"]
            events.setdefault(frame.sid, []).append(action_id)
            await client.send_event({"type": "action_done", "action_id": action_id},
                                    frame.sid)  # fmt: skip

    client = adapter(cluster3.ws_urls, world_key, game)
    client.on_dispatch = on_dispatch
    rng = random.Random(24)
    streams: list[Stream] = []
    holders: list[str] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        with anyio.fail_after(30):
            await client.ready.wait()
        for i in range(SESSIONS):
            node = cluster3.nodes[i % len(cluster3.nodes)]
            streams.append(Stream(await spawn(node.http_url, creator, admin, f"Streamer {i}")))
        connections = 0
        restarted: dict[str, anyio.Event] = {}  # by node: its restart is done

        async def restart(node: DaemonProcess, done: anyio.Event) -> None:
            await node.start(timeout=START_TIMEOUT)
            done.set()

        for round_ in range(ROUNDS):
            with anyio.fail_after(60):  # the adapter is linked again (resumed elsewhere)
                while not (client.connections > connections and client.ready.is_set()):
                    await anyio.sleep(0.02)
            holder = cluster3.node_at(client.url)
            if holder.data.name in restarted:  # never kill a node still starting
                with anyio.fail_after(60):
                    await restarted[holder.data.name].wait()
            other = next(n for n in cluster3.nodes if n is not holder)
            holders.append(holder.data.name)
            stop = anyio.Event()
            async with (
                EncountersClient(holder.http_url, creator) as direct,
                EncountersClient(other.http_url, creator) as forwarded,
                anyio.create_task_group() as signallers,
            ):
                before = sum(len(s.accepted) for s in streams)
                for i, stream in enumerate(streams):
                    signallers.start_soon(stream.run, direct if i % 2 else forwarded, stop)
                # the streams run (counted, not timed: a loaded machine runs fewer actions
                # in the same time), then the holder dies at a random moment mid-stream
                with anyio.fail_after(60):
                    while sum(len(s.accepted) for s in streams) < before + 2 * SESSIONS:
                        await anyio.sleep(0.02)
                await anyio.sleep(rng.uniform(0.0, 0.5))
                connections = client.connections
                holder.kill()  # mid-stream: calls and events are in flight
                stop.set()
            if round_ < ROUNDS - 1:  # it comes back while the link moves
                restarted[holder.data.name] = anyio.Event()
                tg.start_soon(restart, holder, restarted[holder.data.name])

        with anyio.fail_after(60):
            for done in restarted.values():
                await done.wait()
        wanted = {s.session_id: set(s.accepted) for s in streams}
        with anyio.fail_after(60):
            while any(not wanted[sid] <= set(game.actions.get(sid, [])) for sid in wanted):
                await anyio.sleep(0.05)
        # the adapter keeps each event until a node acknowledges it (the link's ack or
        # heartbeat_ack): once none is left, every event sent was acknowledged
        with anyio.fail_after(60):
            while client.link.out.unacked or not client.ready.is_set():
                await anyio.sleep(0.05)
        await anyio.sleep(0.5)  # anything that would arrive twice has time to
        await client.stop()
        tg.cancel_scope.cancel()
    alive = next(n for n in cluster3.nodes if n.proc is not None and n.proc.poll() is None)
    async with EncountersClient(alive.http_url, admin) as ops:
        recorded = {s.session_id: await events_done(ops, s.session_id) for s in streams}
    assert cluster3.terminate() == [0, 0], cluster3.output()  # the last one killed stays down

    assert sum(map(len, events.values())) > ROUNDS, "no events flowed back"
    assert len(set(holders)) > 1, "the link never moved between nodes"
    for sid, ids in recorded.items():  # the game's events: each taken once, wherever
        twice = sorted({i for i in ids if ids.count(i) > 1})
        assert not twice, f"events taken twice: {sid} {twice}\n{cluster3.output()}"
        assert set(ids) <= set(events.get(sid, [])), "an event nobody sent"
        # every event was acknowledged (above), so every one of them is stored
        lost = sorted(set(events.get(sid, [])) - set(ids))
        assert not lost, f"acknowledged, not stored: {sid} {lost}\n{cluster3.output()}"
    for stream in streams:
        got = game.actions.get(stream.session_id, [])
        assert len(got) == len(set(got)), f"duplicated: {stream.session_id}"
        assert got == sorted(got), f"out of order: {stream.session_id}"
        assert set(stream.accepted) <= set(got), f"lost: {set(stream.accepted) - set(got)}"
        assert not set(stream.refused) & set(got), "a refused action reached the game"
        assert set(got) <= set(stream.accepted) | set(stream.cut_off), "an unknown action"


async def test_two_connections_for_one_server_on_two_nodes_leave_one_live(
    cluster2: DaemonCluster,
) -> None:
    admin, creator, world_key = await cluster2.keys([SERVER])
    a, b = cluster2.nodes
    await cluster2.start()
    first, second = Game(), Game()
    old = adapter([a.ws_url], world_key, first)
    new = adapter([b.ws_url], world_key, second)
    async with anyio.create_task_group() as tg:
        tg.start_soon(old.run)
        with anyio.fail_after(30):
            await old.ready.wait()
        old_done = anyio.Event()

        async def run_new() -> None:
            await new.run()

        async def run_old_until_stopped() -> None:
            with anyio.fail_after(30):
                while not old.link.stopped:
                    await anyio.sleep(0.02)
            old_done.set()

        tg.start_soon(run_new)
        tg.start_soon(run_old_until_stopped)
        with anyio.fail_after(30):
            await new.ready.wait()
            await old_done.wait()
        assert old.last_close == CloseCode.REPLACED  # the older one stops, as on one node
        sid = await spawn(a.http_url, creator, admin, "One live")  # through the old node
        async with EncountersClient(a.http_url, creator) as me:
            answer = await me.signal(sid, [chat("only-new")])
        assert answer["results"][0]["decision"] == "allow"
        with anyio.fail_after(30):
            while "only-new" not in second.actions.get(sid, []):
                await anyio.sleep(0.02)
        await new.stop()
        tg.cancel_scope.cancel()
    assert sid not in first.actions
    assert new.connections == 1


@pytest.fixture
def cluster2_slow_beat(tmp_path: Path) -> Iterator[DaemonCluster]:
    """Two nodes asking for a heartbeat every 5 s: a link silent while its node was
    paused is not closed for silence (15 s) when the node wakes up."""
    with daemon_cluster(tmp_path, size=2, heartbeat=5.0) as cluster:
        yield cluster


class RawLink:
    """One adapter connection spoken frame by frame (the test decides what is sent
    when, which the adapter client would not let it)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str) -> RawLink:
        link = cls(await connect(url, ping_interval=None))
        assert (await link.recv())["op"] == "hello"
        return link

    async def send(self, op: str, d: dict[str, Any], s: int | None = None) -> None:
        frame: dict[str, Any] = {"op": op, "d": d}
        if s is not None:
            frame["s"] = s
        await self.ws.send(json.dumps(frame))

    async def recv(self) -> dict[str, Any]:
        with anyio.fail_after(30):
            frame: dict[str, Any] = json.loads(await self.ws.recv())
            return frame

    async def until(self, op: str) -> dict[str, Any]:
        while (frame := await self.recv())["op"] != op:
            assert frame["op"] in ("heartbeat_ack", "ack", "dispatch"), frame
        return frame

    async def event(self, n: int) -> None:
        """Event ``n`` (its ``s`` too), acknowledged: stored by the node."""
        await self.send("event", {"type": "fence_probe", "n": n}, s=n)
        while (await self.until("ack"))["d"]["s"] < n:
            pass

    async def close_code(self) -> int:
        """Wait for the node to close this connection; its close code."""
        with anyio.fail_after(30):
            try:
                while True:
                    await self.ws.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None, "the connection was dropped, not closed"
                return closed.rcvd.code


async def test_a_node_paused_past_its_lease_cannot_write_the_link_it_lost(
    cluster2_slow_beat: DaemonCluster,
) -> None:
    cluster = cluster2_slow_beat
    _, _, world_key = await cluster.keys([SERVER])
    a, b = cluster.nodes
    await cluster.start()
    redis = Redis.from_url(REDIS_URL)
    prefix = cluster.prefix
    try:
        old = await RawLink.open(a.ws_url)
        await old.send("identify", {"protocol": 1, "world": "minecraft", "server_id": SERVER,
                                    "key": world_key, "capabilities": ["chat"]})  # fmt: skip
        ready = (await old.until("ready"))["d"]
        for n in (1, 2):
            await old.event(n)
        holder = await redis.get(f"{prefix}:lease:minecraft:{SERVER}")
        assert isinstance(holder, bytes)  # the node that took the link: A

        cluster.pause(a)
        # sent to the paused node: it waits in A's socket, read when A wakes up
        await old.send("event", {"type": "fence_probe", "n": 3}, s=3)
        with anyio.fail_after(60):  # A's liveness key lapses: A is dead for the cluster
            while await redis.exists(f"{prefix}:node:{holder.decode()}"):
                await anyio.sleep(0.1)

        new = await RawLink.open(b.ws_url)  # the adapter gave up on A and resumes on B
        await new.send("resume", {"link_id": ready["link_id"],
                                  "resume_token": ready["resume_token"], "last_s": 0})  # fmt: skip
        await new.until("resumed")
        for n in (3, 4):  # 3 again (A never acknowledged it), then more
            await new.event(n)

        cluster.wake(a)  # A reads event 3 and, still thinking it holds the link, writes
        assert await old.close_code() == CloseCode.GOING_AWAY
        with anyio.fail_after(30):
            while "bridge.link_write_refused" not in a.output():
                await anyio.sleep(0.05)
        await new.event(5)  # B goes on writing the link
        await new.send("heartbeat", {"ack": 0})
        assert (await new.until("heartbeat_ack"))["d"]["ack"] == 5
        await new.ws.close()
    finally:
        await redis.aclose()

    async with PostgresStore(cluster.store) as shared:
        taken = [e.input.get("n") for e in await shared.list_audit()
                 if e.kind == "event" and e.input.get("type") == "fence_probe"]  # fmt: skip
        record = await (await open_bridge_store(shared)).get_link(ready["link_id"])
    assert taken == [1, 2, 3, 4, 5], cluster.output()  # each once, in order: no fork
    assert record is not None and record.in_s == 5 and record.epoch >= 1
    log_a = a.output()
    assert "taken over by another node" in log_a and "bridge.event_not_stored" in log_a
    assert "bridge.link_write_refused" not in b.output()
    assert cluster.terminate() == [0, 0], cluster.output()


async def test_identifying_again_on_another_node_says_how_far_the_first_stored(
    cluster2: DaemonCluster,
) -> None:
    """The adapter's acks were lost (it still holds events 1-3) and it identifies again
    on node B naming its link on node A: B fences A off before it reads the link's
    stored count, so ``previous`` tells the adapter not to send 1-3 again."""
    _, _, world_key = await cluster2.keys([SERVER])
    a, b = cluster2.nodes
    await cluster2.start()
    identify = {"protocol": 1, "world": "minecraft", "server_id": SERVER, "key": world_key,
                "capabilities": ["chat"]}  # fmt: skip
    old = await RawLink.open(a.ws_url)
    await old.send("identify", identify)
    first = (await old.until("ready"))["d"]
    for n in (1, 2, 3):
        await old.event(n)
    new = await RawLink.open(b.ws_url)
    await new.send("identify", {**identify, "previous_link": first["link_id"]})
    ready = (await new.until("ready"))["d"]
    assert ready["link_id"] != first["link_id"]
    assert ready["previous"] == {"link_id": first["link_id"], "in_s": 3}
    assert await old.close_code() == CloseCode.REPLACED
    await new.event(1)  # the new link's events are numbered from 1
    await new.ws.close()
    async with PostgresStore(cluster2.store) as shared:
        taken = [e.input.get("n") for e in await shared.list_audit()
                 if e.kind == "event" and e.input.get("type") == "fence_probe"]  # fmt: skip
    assert taken == [1, 2, 3, 1], cluster2.output()
    assert cluster2.terminate() == [0, 0], cluster2.output()


async def test_a_full_backlog_is_refused_alike_by_the_holder_and_a_forwarding_node(
    cluster2: DaemonCluster, tmp_path: Path
) -> None:
    """The bound on a link's unacknowledged dispatches is kept by the node holding the
    link; a node forwarding a signal to it answers the same 503. Nothing queued is
    lost: the game back gets every action the nodes took, once, in order."""
    limit = 100  # the smallest the daemon's config takes
    admin, creator, world_key = await cluster2.keys([SERVER])
    a, b = cluster2.nodes
    for node in cluster2.nodes:
        node.env["AE_BRIDGE_MAX_UNACKED_DISPATCHES"] = str(limit)
    await cluster2.start()
    game = Game()
    client = adapter([b.ws_url], world_key, game)  # linked to node B only
    nowhere = socket.socket()  # bound, never listening: connections are refused
    nowhere.bind(("127.0.0.1", 0))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            with anyio.fail_after(30):
                await client.ready.wait()
            sid = await spawn(a.http_url, creator, admin, "Backlog")
            with anyio.fail_after(30):
                while not game.seqs:
                    await anyio.sleep(0.02)
            client.urls = [f"ws://127.0.0.1:{nowhere.getsockname()[1]}/ws?encoding=json"]
            await client.drop()  # the game server is away; B keeps holding its link
            sent: list[str] = []
            refusals: list[ControlError] = []
            async with (
                EncountersClient(a.http_url, creator) as via_a,
                EncountersClient(b.http_url, creator) as via_b,
            ):
                batch = [chat(f"act-{n:03d}") for n in range(limit - 10)]
                await via_a.signal(sid, batch)  # forwarded by A to B
                sent += [x["id"] for x in batch]
                for n in range(limit - 10, limit + 10):  # through A until B refuses
                    try:
                        await via_a.signal(sid, [chat(f"act-{n:03d}")])
                    except ControlError as exc:
                        refusals.append(exc)
                        break
                    sent.append(f"act-{n:03d}")
                for via in (via_a, via_b):  # forwarded, and B's own
                    with pytest.raises(ControlError) as refused:
                        await via.signal(sid, [chat("act-late")])
                    refusals.append(refused.value)
            assert len(refusals) == 3
            for refusal in refusals:
                assert refusal.status == 503
                assert f"minecraft server '{SERVER}' is away or not reading its link" in (
                    refusal.message
                )
                assert "nothing of this request was stored" in refusal.message
            client.urls = [f"{b.ws_url}?encoding=json"]
            with anyio.fail_after(30):
                while len(game.actions.get(sid, [])) < len(sent):
                    await anyio.sleep(0.02)
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        nowhere.close()
    assert game.actions[sid] == sent  # each once, in order
    assert game.seqs == list(range(1, len(sent) + 2))  # the spawn, then the actions
