"""The bridge daemon under cuts, restarts and bad input, with real WebSocket clients.

A real :class:`BridgeEdge` on 127.0.0.1 (port 0 unless a restart must reuse a port)
over a :class:`SQLiteStore` in ``tmp_path``; adapters are :class:`AdapterClient` or raw
``websockets`` connections speaking the frames of ``bridge/PROTOCOL.md`` by hand.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import anyio
import msgpack
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from encounters.errors import StoreError
from encounters.log import configure_logging
from encounters.models import utcnow
from encounters.models.audit import AuditEntry
from encounters.storage import SQLiteStore, Store, WriteBatch
from encounters_bridge.adapter import AdapterClient, EventQueueFull, InvalidEvent
from encounters_bridge.frames import CloseCode, Encoding, Frame, decode, encode
from encounters_bridge.keys import create_world_key
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import BridgeStore, LinkBatch, WorldKeyStore, open_bridge_store
from tests.support.services import store_backend

pytestmark = pytest.mark.anyio
INTERVAL = 0.5


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store of a daemon under test: SQLite in ``tmp_path``, or a fresh PostgreSQL
    schema (dropped afterwards)."""
    with store_backend(request.param, tmp_path) as factory:
        yield factory()


# -- harness ------------------------------------------------------------------------------


@dataclass
class Daemon:
    store: Store
    records: BridgeStore
    edge: BridgeEdge
    server: Server
    port: int
    events: list[tuple[str, Frame]] = field(default_factory=list)  #: (server_id, frame)

    @classmethod
    async def start(cls, db: Path, port: int = 0, store: Store | None = None) -> Daemon:
        """A daemon on ``db`` (SQLite), or on ``store`` when given (closed: opened here)."""
        store = store if store is not None else SQLiteStore(db)
        await store.open()
        records = await open_bridge_store(store)
        edge = BridgeEdge(records, heartbeat_interval=INTERVAL)
        server = await edge.serve("127.0.0.1", port)
        daemon = cls(store, records, edge, server, server.sockets[0].getsockname()[1])

        async def on_event(conn: Any, frame: Frame) -> None:
            daemon.events.append((conn.server_id, frame))

        edge.on_event.append(on_event)
        return daemon

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def events_of(self, server_id: str) -> list[Frame]:
        return [f for sid, f in self.events if sid == server_id]

    async def stop(self) -> None:
        """The daemon goes away: listener and connections closed (1001), store closed."""
        self.server.close()
        await self.server.wait_closed()
        await self.store.close()


@dataclass
class Adapter:
    """An :class:`AdapterClient` plus what it saw: dispatches in order and the close
    code of every connection that ended."""

    client: AdapterClient
    dispatches: list[Frame] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)

    @classmethod
    def make(
        cls, url: str, key: str, server_id: str, encoding: Encoding = "json", **kw: Any
    ) -> Adapter:
        adapter = cls(
            AdapterClient(
                url,
                world="minecraft",
                server_id=server_id,
                key=key,
                capabilities=["chat"],
                encoding=encoding,
                max_backoff=0.05,
                **kw,
            )
        )

        async def on_dispatch(frame: Frame) -> None:
            adapter.dispatches.append(frame)

        adapter.client.on_dispatch = on_dispatch
        closed = adapter.client.link.closed

        def record(code: int) -> Any:
            adapter.closes.append(code)
            return closed(code)

        adapter.client.link.closed = record  # type: ignore[method-assign]
        return adapter

    @property
    def ns(self) -> list[int]:
        return [f.d["n"] for f in self.dispatches]

    @property
    def live(self) -> bool:
        return self.client.ws is not None and self.client.link.ready


async def until(cond: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    with anyio.fail_after(timeout):
        while not cond():
            await anyio.sleep(0.005)


def chat(n: int) -> Frame:
    return Frame(
        "dispatch",
        {
            "type": "action",
            "n": n,
            "action": {"id": f"act_{n}", "type": "chat", "message": f"hi {n}"},
        },
        sid="sess_1",
    )


def health(n: int) -> dict[str, Any]:
    return {"type": "health", "sid": "sess_1", "health": 20, "n": n}


async def new_key(
    store: WorldKeyStore, world: str = "minecraft", servers: list[str] | None = None
) -> str:
    """A world key; with ``servers``, one key for that fleet of game servers."""
    _, key = await create_world_key(store, f"{world} server", world, servers)  # type: ignore[arg-type]
    return key


# -- a. resume under random cuts ----------------------------------------------------------


async def _cut_randomly(tmp_path: Path, encoding: Encoding, cuts: int, seed: int) -> None:
    """Cut the adapter's connection ``cuts`` times at random points: while the link is
    live (between and among dispatches and events), and while a reconnection is under
    way (right after ``hello``, right after ``resumed``, right after a replayed dispatch
    ran but before its ack went out)."""
    rng = random.Random(seed)
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records)
    adapter = Adapter.make(daemon.url, key, "srv", encoding)
    client = adapter.client
    dispatched: list[int] = []  # s the daemon gave each dispatch, in order
    sent_events: list[int] = []
    cut: set[int] = set()  # connection numbers cut
    kinds: dict[str, int] = {"live": 0, "hello": 0, "resumed": 0, "dispatch": 0}
    armed: list[str] = []  # cut the next connection right after this op arrives

    receive = client.link.receive

    def receive_and_maybe_cut(data: str | bytes, now: float) -> Any:
        effects = receive(data, now)
        if armed and client.ws is not None and decode(data, encoding, 1 << 24).op == armed[0]:
            kinds[armed.pop()] += 1
            cut.add(client.connections)
            client.ws.transport.abort()  # what this frame's answer would carry is lost
        return effects

    client.link.receive = receive_and_maybe_cut  # type: ignore[method-assign]

    def fresh() -> bool:  # a connection this test has not cut yet
        return client.ws is not None and client.connections not in cut

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: adapter.live)
            link_id = client.link.link_id

            async def dispatch() -> None:
                n = len(dispatched)
                s = await daemon.edge.dispatch("minecraft", "srv", chat(n))
                assert s == n + 1
                dispatched.append(s)

            async def event() -> None:
                sent_events.append(len(sent_events))
                await client.send_event(health(sent_events[-1]))

            async def step() -> None:
                kind = rng.random()
                if kind < 0.45:
                    await dispatch()
                elif kind < 0.7:
                    await event()
                else:
                    await anyio.sleep(rng.choice([0, 0, 0.001, 0.003, 0.01]))

            while len(cut) < cuts:
                await until(lambda: fresh() and client.link.ready)
                steps = rng.randint(0, 5)
                cut_at = rng.randint(0, steps)
                arm = rng.choice([None, None, "hello", "resumed", "dispatch"])
                for i in range(steps + 1):
                    if i == cut_at and fresh():
                        kinds["live"] += 1
                        cut.add(client.connections)
                        await client.drop()
                        if arm is not None:
                            armed.append(arm)
                            await dispatch()  # so the resume has something to replay
                            await event()  # and the adapter something to resend
                            with anyio.move_on_after(1):
                                await until(lambda: not armed)
                            armed.clear()
                    if i < steps:
                        await step()

            await until(
                lambda: (
                    adapter.live
                    and len(adapter.dispatches) >= len(dispatched)
                    and len(daemon.events_of("srv")) >= len(sent_events)
                ),
                timeout=20,
            )
            await anyio.sleep(4 * INTERVAL)  # room for a late duplicate to show up
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        await daemon.stop()

    assert len(cut) >= cuts
    assert len(dispatched) > cuts / 2 and len(sent_events) > cuts / 4
    assert all(kinds.values()), kinds  # every kind of cut happened
    # every dispatch ran once, in order: 0 lost, 0 duplicated
    assert [f.s for f in adapter.dispatches] == dispatched == list(range(1, len(dispatched) + 1))
    assert adapter.ns == list(range(len(dispatched)))
    # every event reached the daemon's handlers once, in order, with its first s
    events = daemon.events_of("srv")
    assert [f.d["n"] for f in events] == sent_events
    assert [f.s for f in events] == list(range(1, len(sent_events) + 1))
    # never re-identified: every reconnection was a resume of the same link
    assert client.link.link_id == link_id
    assert client.connections >= len(cut) + 1
    assert CloseCode.SESSION_INVALID not in adapter.closes
    assert set(adapter.closes) <= {1006, CloseCode.GOING_AWAY}


async def test_resume_after_100_random_cuts_json(tmp_path: Path) -> None:
    await _cut_randomly(tmp_path, "json", cuts=100, seed=20240501)


async def test_resume_after_30_random_cuts_msgpack(tmp_path: Path) -> None:
    await _cut_randomly(tmp_path, "msgpack", cuts=30, seed=7)


# -- b. daemon restart --------------------------------------------------------------------


async def test_restart_mid_session_replays_outstanding_dispatches_once(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    d1 = await Daemon.start(db)
    port = d1.port
    key = await new_key(d1.records)
    slow = anyio.Event()
    adapter = Adapter.make(d1.url, key, "srv")

    async def on_dispatch(frame: Frame) -> None:
        if frame.d["n"] == 3:
            await slow.wait()  # the game is still running this one when the daemon stops
        adapter.dispatches.append(frame)

    adapter.client.on_dispatch = on_dispatch
    client = adapter.client
    d2: Daemon | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: adapter.live)
            link_id = client.link.link_id
            for n in range(3):
                await d1.edge.dispatch("minecraft", "srv", chat(n))
            await client.send_event(health(0))
            state = d1.edge.link_state(link_id or "")
            assert state is not None
            await until(lambda: adapter.ns == [0, 1, 2] and len(d1.events) == 1)
            await until(lambda: state.unacked == [])
            for n in range(3, 6):  # 3 is being run; 4 and 5 wait behind it
                await d1.edge.dispatch("minecraft", "srv", chat(n))
            assert [f.s for f in state.unacked] == [4, 5, 6]

            await d1.stop()  # mid-session: s 4..6 unacknowledged, saved in the store
            slow.set()  # dispatch s=4 finishes now; its ack cannot reach anyone
            await client.send_event(health(1))  # while the daemon is down: kept
            await anyio.sleep(0.2)  # the adapter retries against a closed port

            d2 = await Daemon.start(db, port)
            await until(lambda: len(adapter.dispatches) >= 6 and len(d2.events) >= 1)
            await anyio.sleep(4 * INTERVAL)
            assert adapter.ns == [0, 1, 2, 3, 4, 5]
            assert [f.s for f in adapter.dispatches] == [1, 2, 3, 4, 5, 6]
            assert client.link.link_id == link_id  # resumed, not identified again
            assert [f.d["n"] for _, f in d1.events] == [0]
            assert [(f.s, f.d["n"]) for f in d2.events_of("srv")] == [(2, 1)]

            # the session goes on with the restarted daemon
            assert await d2.edge.dispatch("minecraft", "srv", chat(6)) == 7
            await client.send_event(health(2))
            await until(lambda: adapter.ns[-1:] == [6] and len(d2.events) == 2)
            record = await d2.records.get_link(link_id or "")
            assert record is not None
            await until(lambda: getattr(d2.edge.link_state(record.id), "unacked", None) == [])
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        if d2 is not None:
            await d2.stop()
    assert adapter.ns == [0, 1, 2, 3, 4, 5, 6]
    assert set(adapter.closes) <= {1001, 1006}
    assert 1001 in adapter.closes


async def test_restart_with_a_lost_link_closes_4009_and_the_adapter_identifies_again(
    tmp_path: Path,
) -> None:
    d1 = await Daemon.start(tmp_path / "one.db")
    port = d1.port
    key = await new_key(d1.records)
    (record,) = await d1.records.list_world_keys()
    adapter = Adapter.make(d1.url, key, "srv")
    client = adapter.client
    d2: Daemon | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: adapter.live)
            first_link = client.link.link_id
            await d1.edge.dispatch("minecraft", "srv", chat(0))
            await until(lambda: adapter.ns == [0])
            await d1.stop()

            # the daemon comes back without the link (a fresh store that has the key)
            store2 = SQLiteStore(tmp_path / "two.db")
            async with store2:
                await (await open_bridge_store(store2)).save_world_key(record)
            d2 = await Daemon.start(tmp_path / "two.db", port)

            # a raw resume with that token: 4009
            async with connect(d2.url, ping_interval=None) as ws:
                await ws.recv()
                await ws.send(
                    json.dumps(
                        {
                            "op": "resume",
                            "d": {
                                "link_id": first_link,
                                "resume_token": client.link.resume_token,
                                "last_s": 1,
                            },
                        }
                    )
                )
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == CloseCode.SESSION_INVALID

            await until(lambda: adapter.live and client.link.link_id != first_link)
            assert CloseCode.SESSION_INVALID in adapter.closes
            assert client.link.link_id is not None
            assert await d2.edge.dispatch("minecraft", "srv", chat(1)) == 1
            await client.send_event(health(0))
            await until(lambda: adapter.ns == [0, 1] and len(d2.events) == 1)
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        if d2 is not None:
            await d2.stop()


# -- c. bad input -------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int | None
    frames: list[Frame]
    hello: Frame | None = None

    def ops(self) -> list[str]:
        return [f.op for f in self.frames]

    def errors(self) -> list[str]:
        return [str(f.d.get("code")) for f in self.frames if f.op == "error"]


def identify(
    key: str, world: str = "minecraft", server_id: str = "raw", **over: Any
) -> dict[str, Any]:
    d = {
        "protocol": 1,
        "world": world,
        "server_id": server_id,
        "key": key,
        "adapter": {"name": "raw", "version": "0"},
        "capabilities": ["chat"],
        **over,
    }
    return {"op": "identify", "d": d}


async def raw(
    url: str,
    sends: Sequence[str | bytes | dict[str, Any]],
    encoding: Encoding = "json",
    wait: float = 3.0,
) -> Outcome:
    """Connect, read hello, send ``sends`` (dicts are encoded), then read until the
    daemon closes the link or ``wait`` seconds pass (then close normally)."""
    frames: list[Frame] = []
    async with connect(f"{url}?encoding={encoding}", ping_interval=None, max_size=None) as ws:
        hello = decode(await ws.recv(), encoding)
        try:
            for item in sends:
                if isinstance(item, dict):
                    item = encode(Frame(item["op"], item.get("d", {}), item.get("s")), encoding)
                await ws.send(item)
            with anyio.move_on_after(wait):
                async for message in ws:
                    frames.append(decode(message, encoding, 1 << 24))
        except ConnectionClosed:
            pass
    return Outcome(ws.close_code, frames, hello)


async def test_bad_input_never_takes_the_daemon_down(tmp_path: Path) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    url = daemon.url
    fleet = [
        "healthy", "flood", "unknown-op", "twice", "twice2", "invalid-ev", "huge-s", "raw", "after"
    ]  # fmt: skip
    key = await new_key(daemon.records, servers=fleet)
    gmod_key = await new_key(daemon.records, "gmod")
    revoked_key = await new_key(daemon.records)
    record = next(
        k for k in await daemon.records.list_world_keys() if revoked_key.split("_")[2] == k.id
    )
    await daemon.records.save_world_key(record.model_copy(update={"revoked_at": utcnow()}))

    healthy = Adapter.make(url, key, "healthy", "msgpack")
    sent: list[int] = []
    events = 0
    outcomes: dict[str, Outcome] = {}

    async def traffic(stop: anyio.Event) -> None:
        nonlocal events
        while not stop.is_set():
            sent.append(len(sent))
            await daemon.edge.dispatch("minecraft", "healthy", chat(sent[-1]))
            if len(sent) % 5 == 0:  # 10 events a second: within the link's rate
                await healthy.client.send_event(health(events))
                events += 1
            await anyio.sleep(0.02)

    flood = [identify(key, server_id="flood")] + [
        {"op": "event", "s": s, "d": {"type": "health", "n": s}} for s in range(1, 1001)
    ]
    deep = '{"op":"event","s":1,"d":' + '{"a":' * 10_000 + "1" + "}" * 10_001
    cases: dict[str, tuple[list[Any], Encoding, float]] = {
        "malformed json": (['{"op": "identify", "d": {'], "json", 3),
        "not an object": (["[1, 2, 3]"], "json", 3),
        "no op": (['{"d": {}}'], "json", 3),
        "binary on a json link": ([b"\x81\xa2op\xa8identify"], "json", 3),
        "malformed msgpack": ([b"\xc1\xc1\xc1"], "msgpack", 3),
        "truncated msgpack": ([b"\x83\xa2op"], "msgpack", 3),
        "text on a msgpack link": (['{"op":"identify"}'], "msgpack", 3),
        "deep json array": (["[" * 10_000 + "]" * 10_000], "json", 3),
        "deep json object": ([deep], "json", 3),
        "deep msgpack": ([b"\x91" * 10_000 + b"\xc0"], "msgpack", 3),
        "just over 64 KiB": ([json.dumps({"op": "x", "d": {"p": "a" * 65_536}})], "json", 3),
        "200 KiB": (["[" + '"' + "a" * 200 * 1024 + '"]'], "json", 3),
        "200 KiB msgpack": ([msgpack.packb({"op": "x", "p": b"a" * 200 * 1024})], "msgpack", 3),
        "2 MiB": ([msgpack.packb({"op": "x", "p": b"a" * 2 * 1024 * 1024})], "msgpack", 3),
        "heartbeat before identify": ([{"op": "heartbeat", "d": {"ack": 0}}], "json", 3),
        "event before identify": ([{"op": "event", "s": 1, "d": {"type": "x"}}], "json", 3),
        "unknown op after identify": (
            [
                identify(key, server_id="unknown-op"),
                {"op": "moonwalk"},
                {"op": "heartbeat", "d": {"ack": 0}},
            ],
            "json",
            1.0,
        ),
        "identify twice": ([identify(key, server_id="twice"), identify(key)], "json", 3),
        "identify twice msgpack": (
            [identify(key, server_id="twice2"), identify(key)],
            "msgpack",
            3,
        ),
        "unknown key": ([identify("ae_wk_0123456789ab_" + "x" * 32)], "json", 3),
        "malformed key": ([identify("letmein")], "json", 3),
        "key of another world": ([identify(gmod_key)], "json", 3),
        "revoked key": ([identify(revoked_key)], "msgpack", 3),
        "no key": ([{"op": "identify", "d": {"world": "minecraft", "server_id": "x"}}], "json", 3),
        "protocol 2": ([identify(key, protocol=2)], "json", 3),
        "unknown link": (
            [{"op": "resume", "d": {"link_id": "link_nope", "resume_token": "t", "last_s": 0}}],
            "json",
            3,
        ),
        "invalid event": (
            [
                identify(key, server_id="invalid-ev"),
                {"op": "event", "s": 1, "d": {"no": "type"}},
                {"op": "heartbeat", "d": {"ack": 0}},
            ],
            "json",
            1.0,
        ),
        "lone surrogate": (['{"op":"event","d":{"x":"\\ud800"}}'], "json", 3),
        "huge s": (
            [
                identify(key, server_id="huge-s"),
                '{"op":"event","s":' + "9" * 30 + ',"d":{"type":"x"}}',
            ],
            "json",
            1.0,
        ),
        "event flood": (flood, "json", 15),
        "silent": ([], "json", 2 * INTERVAL + 5 + 2),
    }
    expected_close: dict[str, int | None] = {
        "malformed json": 4002,
        "not an object": 4002,
        "no op": 4002,
        "binary on a json link": 4002,
        "malformed msgpack": 4002,
        "truncated msgpack": 4002,
        "text on a msgpack link": 4002,
        "deep json array": 4002,
        "deep json object": 4002,
        "deep msgpack": 4002,
        "just over 64 KiB": 4012,
        "heartbeat before identify": 4003,
        "event before identify": 4003,
        "unknown op after identify": None,  # still up when we leave: closed by us
        "identify twice": 4005,
        "identify twice msgpack": 4005,
        "unknown key": 4004,
        "malformed key": 4004,
        "key of another world": 4004,
        "revoked key": 4004,
        "no key": 4004,
        "protocol 2": 4011,
        "unknown link": 4009,
        "invalid event": None,
        "lone surrogate": 4003,
        "event flood": 4008,
        "silent": 4013,
    }

    async def probe(name: str) -> None:
        sends, encoding, wait = cases[name]
        outcomes[name] = await raw(url, sends, encoding, wait)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(healthy.client.run)
            await until(lambda: healthy.live)
            stop = anyio.Event()
            tg.start_soon(traffic, stop)
            async with anyio.create_task_group() as probes:
                for name in cases:
                    probes.start_soon(probe, name)
            # after all that, new links still come up
            again = Adapter.make(url, key, "after", "json")
            tg.start_soon(again.client.run)
            await until(lambda: again.live)
            stop.set()
            await until(
                lambda: (
                    len(healthy.dispatches) == len(sent)
                    and len(daemon.events_of("healthy")) == events
                )
            )
            await healthy.client.stop()
            await again.client.stop()
            tg.cancel_scope.cancel()
    finally:
        await daemon.stop()

    for name, code in expected_close.items():
        outcome = outcomes[name]
        assert outcome.hello is not None and outcome.hello.op == "hello", name
        if code is None:
            assert outcome.code == 1000, (name, outcome)  # our own normal close
        else:
            assert outcome.code == code, (name, outcome.code, outcome.frames[-3:])
    # oversize frames: 4012; beyond 1 MiB the WebSocket layer may answer 1009 first
    assert outcomes["200 KiB"].code == CloseCode.FRAME_TOO_LARGE
    assert outcomes["200 KiB msgpack"].code == CloseCode.FRAME_TOO_LARGE
    assert outcomes["2 MiB"].code in (CloseCode.FRAME_TOO_LARGE, 1009)
    # each refusal said why, or was answered as PROTOCOL.md says
    assert outcomes["identify twice"].ops() == ["ready"]
    assert outcomes["unknown op after identify"].ops() == ["ready", "error", "heartbeat_ack"]
    assert outcomes["unknown op after identify"].errors() == ["unknown_op"]
    assert outcomes["invalid event"].errors() == ["invalid_event"]
    assert outcomes["invalid event"].ops()[-1] == "heartbeat_ack"
    flooded = outcomes["event flood"]
    acked = [f.d["s"] for f in flooded.frames if f.op == "ack"]
    assert 40 <= len(acked) <= 60
    assert acked == list(range(1, len(acked) + 1))
    refusals = flooded.errors()
    assert len(refusals) >= 49 and refusals[0] == "rate_limited"
    assert set(refusals) <= {"rate_limited", "out_of_order"}
    assert [f.s for f in daemon.events_of("flood")] == acked  # handled once each
    # and the healthy link never noticed
    assert [f.s for f in healthy.dispatches] == list(range(1, len(sent) + 1))
    assert healthy.ns == sent
    assert len(sent) > 20
    assert [f.d["n"] for f in daemon.events_of("healthy")] == list(range(events))
    assert healthy.client.connections == 1 and healthy.closes == []


async def test_a_nul_or_a_lone_surrogate_reads_as_u_fffd(tmp_path: Path, backend: Store) -> None:
    """JSON may escape half a surrogate pair with no other half (``"\\ud800"``), which
    no UTF-8 store holds, and JSON and MessagePack may carry NUL, which PostgreSQL's
    text does not hold: both read as U+FFFD, so an identify, a resume or an event naming
    one is answered like any other (ready, 4009, ack), not with an internal error
    (4000) or a store failure (1001, the event sent again forever)."""
    d = await Daemon.start(tmp_path / "bridge.db", store=backend)
    unbound = await new_key(d.records)  # bound to the server id of its first identify
    key = await new_key(d.records, servers=["srv"])
    lone, nul = "\\ud800", "\\u0000"  # the six characters of each JSON escape
    try:
        text = json.dumps(identify(unbound, server_id="srv-x-@")).replace("@", lone + nul)
        first = await raw(d.url, [text], wait=0.5)
        assert first.ops() == ["ready"], (first.code, first.frames)
        bound = [k.server_ids for k in await d.records.list_world_keys()]
        assert ["srv-x-\ufffd\ufffd"] in bound
        odd = identify(key, server_id="srv", capabilities=["chat"], adapter={"name": "x"},
                       previous_link="link_@")  # fmt: skip
        text = json.dumps(odd).replace('"chat"', f'"chat{lone}"').replace('"x"', f'"{nul}"')
        text = text.replace('"name"', f'"n{lone}"').replace("@", nul)
        event = '{"op":"event","s":1,"sid":"@","d":{"type":"health"}}'.replace("@", lone + nul)
        second = await raw(d.url, [text, event], wait=0.5)
        assert second.ops() == ["ready", "ack"], (second.code, second.frames)
        assert [f.sid for f in d.events_of("srv")] == ["\ufffd\ufffd"]
        for name in (lone, nul):
            resume = f'{{"op":"resume","d":{{"link_id":"{name}","resume_token":"{name}"}}}}'
            assert (await raw(d.url, [resume])).code == CloseCode.SESSION_INVALID
        resume_mp = msgpack.packb({"op": "resume", "d": {"link_id": "\x00", "resume_token": "t"}})
        assert (await raw(d.url, [resume_mp], "msgpack")).code == CloseCode.SESSION_INVALID
    finally:
        await d.stop()


async def test_a_200_kib_frame_closes_4012(tmp_path: Path) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    try:
        outcome = await raw(daemon.url, ["[" + '"' + "a" * 200 * 1024 + '"]'])
    finally:
        await daemon.stop()
    assert outcome.code == CloseCode.FRAME_TOO_LARGE


async def test_unknown_op_before_identify_closes_4003(tmp_path: Path) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    try:
        outcome = await raw(daemon.url, [{"op": "moonwalk"}], wait=1.0)
    finally:
        await daemon.stop()
    assert outcome.code == CloseCode.NOT_IDENTIFIED


async def test_a_revoked_key_cannot_resume_and_the_adapter_stops(tmp_path: Path) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records)
    adapter = Adapter.make(daemon.url, key, "srv")
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(adapter.client.run)
                await until(lambda: adapter.live)
                (record,) = await daemon.records.list_world_keys()
                await daemon.records.save_world_key(
                    record.model_copy(update={"revoked_at": utcnow()})
                )
                await adapter.client.drop()
                # run() returns by itself: 4004 means never retry
    finally:
        await daemon.stop()
    assert adapter.closes == [1006, CloseCode.AUTH_FAILED]
    assert adapter.client.link.stopped
    assert adapter.client.connections == 2


async def test_a_bad_key_is_never_retried(tmp_path: Path) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    adapter = Adapter.make(daemon.url, "ae_wk_0123456789ab_" + "x" * 32, "srv")
    try:
        with anyio.fail_after(10):
            await adapter.client.run()
    finally:
        await daemon.stop()
    assert adapter.closes == [CloseCode.AUTH_FAILED]
    assert adapter.client.connections == 1


async def test_concurrent_dispatches_reach_the_game_in_sequence_order(tmp_path: Path) -> None:
    """Many tasks dispatch at once (as many control-API calls do); their writes share
    commits, and the game still sees s = 1, 2, 3 ... with no gap, repeat or swap."""
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records)
    adapter = Adapter.make(daemon.url, key, "srv")
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(adapter.client.run)
            await until(lambda: adapter.live)

            async def burst(task: int) -> None:
                for k in range(5):
                    n = task * 100 + k * 10
                    await daemon.edge.dispatch_many(
                        "minecraft", "srv", [chat(n + i) for i in range(1 + (task + k) % 4)]
                    )

            async with anyio.create_task_group() as senders:
                for task in range(30):
                    senders.start_soon(burst, task)
            total = sum(1 + (t + k) % 4 for t in range(30) for k in range(5))
            await until(lambda: len(adapter.dispatches) >= total)
            await anyio.sleep(0.05)
            assert [f.s for f in adapter.dispatches] == list(range(1, total + 1))
            assert len(set(adapter.ns)) == total
            # and the store holds exactly what the game has not acknowledged yet
            record = await daemon.records.find_link("minecraft", "srv")
            assert record is not None and record.out_s == total
            await adapter.client.stop()
            tg.cancel_scope.cancel()
    finally:
        await daemon.stop()


async def test_dispatch_while_an_identify_is_being_answered(tmp_path: Path) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records)
    answering = anyio.Event()
    go_on = anyio.Event()

    async def sessions_for(world: str, server_id: str) -> list[dict[str, Any]]:
        answering.set()
        await go_on.wait()
        return []

    daemon.edge.sessions_for = sessions_for
    adapter = Adapter.make(daemon.url, key, "srv")
    error: AssertionError | None = None
    s: int | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(adapter.client.run)
            with anyio.fail_after(5):
                await answering.wait()
            try:
                s = await daemon.edge.dispatch("minecraft", "srv", chat(0))
            except AssertionError as exc:
                error = exc
            go_on.set()
            if error is None:
                assert s == 1
                await until(lambda: adapter.ns == [0], timeout=5)
            await adapter.client.stop()
            tg.cancel_scope.cancel()
    finally:
        await daemon.stop()
    if error is not None:
        raise error


# -- d. keys never in the URL -------------------------------------------------------------


async def test_the_handshake_refuses_keys_in_the_url_wrong_paths_and_encodings(
    tmp_path: Path,
) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records)
    base = f"ws://127.0.0.1:{daemon.port}"
    refused = {
        f"/ws?key={key}": 400,
        f"/ws?encoding=json&key={key}": 400,
        "/ws?token=ae_rt_abc": 400,
        "/ws?encoding=xml": 400,
        "/": 404,
        "/ws/": 404,
        f"/gateway?key={key}": 404,
    }
    try:
        for path, status in refused.items():
            with pytest.raises(InvalidStatus) as info:
                async with connect(base + path):
                    pass
            assert info.value.response.status_code == status, path
            if status == 400 and "key" in path:
                assert b"identify" in info.value.response.body
        # plain HTTP garbage does not hurt either
        stream = await anyio.connect_tcp("127.0.0.1", daemon.port)
        async with stream:
            await stream.send(b"GARBAGE / NOTHTTP\r\n\r\n")
            with anyio.move_on_after(2), contextlib.suppress(anyio.EndOfStream):
                await stream.receive()
        # and the right URL works, in both encodings (json by default)
        for suffix, kind in (
            ("/ws", str),
            ("/ws?encoding=json", str),
            ("/ws?encoding=msgpack", bytes),
        ):
            async with connect(base + suffix) as ws:
                assert isinstance(await ws.recv(), kind)
    finally:
        await daemon.stop()


async def test_a_repeated_encoding_is_refused(tmp_path: Path) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    try:
        for query in ("encoding=json&encoding=msgpack", "encoding=msgpack&encoding=msgpack"):
            with pytest.raises(InvalidStatus) as info:
                async with connect(f"ws://127.0.0.1:{daemon.port}/ws?{query}"):
                    pass
            assert info.value.response.status_code == 400
    finally:
        await daemon.stop()


async def test_the_encoding_checked_is_the_encoding_used(tmp_path: Path) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    try:
        for query in ("encoding=json&x=encoding=msgpack", "x=encoding=msgpack"):
            async with connect(f"ws://127.0.0.1:{daemon.port}/ws?{query}") as ws:
                assert isinstance(await ws.recv(), str), query
    finally:
        await daemon.stop()


# -- e. graceful shutdown -----------------------------------------------------------------


async def test_graceful_shutdown_closes_1001_and_the_adapter_resumes(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    d1 = await Daemon.start(db)
    port = d1.port
    key = await new_key(d1.records, servers=["srv-json", "srv-msgpack"])
    adapters = [Adapter.make(d1.url, key, f"srv-{enc}", enc) for enc in ("json", "msgpack")]
    d2: Daemon | None = None
    try:
        async with anyio.create_task_group() as tg:
            for a in adapters:
                tg.start_soon(a.client.run)
            await until(lambda: all(a.live for a in adapters))
            links = [a.client.link.link_id for a in adapters]
            for a in adapters:
                await d1.edge.dispatch("minecraft", a.client.link.server_id, chat(0))
            await until(lambda: all(a.ns == [0] for a in adapters))

            await d1.edge.close_all()
            await until(lambda: all(a.closes for a in adapters))
            assert [a.closes[0] for a in adapters] == [1001, 1001]
            await d1.stop()
            await anyio.sleep(0.2)

            d2 = await Daemon.start(db, port)
            await until(lambda: all(a.live for a in adapters))
            assert [a.client.link.link_id for a in adapters] == links
            for a in adapters:
                assert await d2.edge.dispatch("minecraft", a.client.link.server_id, chat(1)) == 2
                await a.client.send_event(health(0))
            await until(lambda: all(a.ns == [0, 1] for a in adapters) and len(d2.events) == 2)
            for a in adapters:
                await a.client.stop()
            tg.cancel_scope.cancel()
    finally:
        if d2 is not None:
            await d2.stop()
    for a in adapters:
        assert set(a.closes) <= {1001, 1006, 1000}
        assert a.client.connections >= 2


async def test_shutdown_ends_while_an_identify_waits_on_the_store(tmp_path: Path) -> None:
    """A daemon asked to stop while links are identifying (thousands of game servers
    reconnecting, each waiting its turn for the store) stops accepting at once and ends
    within its grace, however long the store takes: those adapters identify again
    with the next daemon."""
    daemon = await Daemon.start(tmp_path / "bridge.db")
    daemon.edge.shutdown_grace = 0.5
    key = await new_key(daemon.records)
    reading, never = anyio.Event(), anyio.Event()

    async def stuck(key_id: str) -> Any:
        reading.set()
        await never.wait()

    daemon.records.get_world_key = stuck  # type: ignore[method-assign]
    try:
        async with connect(daemon.url, ping_interval=None) as ws:
            await ws.recv()  # hello
            await ws.send(json.dumps(identify(key)))
            with anyio.fail_after(10):
                await reading.wait()
            with anyio.fail_after(30):
                await daemon.edge.close_all()
            with pytest.raises(OSError):  # no longer accepting
                async with connect(daemon.url, ping_interval=None, open_timeout=5):
                    pass
    finally:
        with anyio.fail_after(30):  # before: waited forever for the identifying handler
            await daemon.stop()


async def test_a_heartbeat_is_answered_while_link_handlers_run_and_events_wait(
    tmp_path: Path,
) -> None:
    """The ``on_link`` handlers of a new link (they read the store) run beside its
    reader: a heartbeat sent meanwhile is answered at once, and an event reaches the
    application only after the handlers are done."""
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records)
    linking, release = anyio.Event(), anyio.Event()

    async def slow_link(world: str, server_id: str) -> None:
        linking.set()
        await release.wait()

    daemon.edge.on_link.append(slow_link)
    try:
        async with connect(daemon.url, ping_interval=None) as ws:
            await ws.recv()  # hello
            await ws.send(json.dumps(identify(key)))
            ready = decode(await ws.recv(), "json")
            assert ready.op == "ready"
            with anyio.fail_after(10):
                await linking.wait()
            await ws.send(json.dumps({"op": "heartbeat", "d": {"ack": 0}}))
            with anyio.fail_after(10):
                assert decode(await ws.recv(), "json").op == "heartbeat_ack"
            await ws.send(json.dumps({"op": "event", "s": 1, "d": health(0)}))
            with anyio.fail_after(10):  # the event is read: it waits for the handlers now
                while (state := daemon.edge.link_state(ready.d["link_id"])) is None or (
                    state.in_s != 1
                ):
                    await anyio.sleep(0.01)
            assert daemon.events == []
            record = await daemon.records.get_link(ready.d["link_id"])
            assert record is not None and record.in_s == 0  # not counted as received yet
            release.set()
            with anyio.fail_after(10):
                ack = decode(await ws.recv(), "json")
            assert (ack.op, ack.d) == ("ack", {"s": 1})
            assert [f.d["n"] for _, f in daemon.events] == [0]
    finally:
        await daemon.stop()


async def test_events_held_through_an_outage_are_not_lost_to_the_rate_limit(
    tmp_path: Path,
) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records)
    adapter = Adapter.make(daemon.url, key, "srv")
    client = adapter.client
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: adapter.live)
            await client.drop()
            for n in range(60):  # the game goes on while the link is down
                await client.send_event(health(n))
            await until(lambda: adapter.live and len(daemon.events) >= 40)
            await anyio.sleep(1.0)
            await client.send_event(health(60))
            await until(lambda: client.link.out.unacked == [])
            await anyio.sleep(2 * INTERVAL)
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        await daemon.stop()
    assert [f.d["n"] for f in daemon.events_of("srv")] == list(range(61))


async def test_a_full_event_queue_refuses_new_events_and_the_daemon_keeps_every_queued_one(
    tmp_path: Path,
) -> None:
    """Refuse new events when full; never drop queued ones. While the daemon is down the
    game's events fill the adapter's queue up to its bound; the next is refused with
    :class:`EventQueueFull` (warned once, not once per event). The daemon back stores
    every queued event exactly once, in order, and once it has acknowledged them the
    adapter takes new events again and says how many it refused."""
    db = tmp_path / "bridge.db"
    limit = 50  # more than one resend batch (40): the backlog goes out in two
    d1 = await Daemon.start(db)
    port = d1.port
    key = await new_key(d1.records, servers=["srv-1"])

    def keeping(d: Daemon) -> Daemon:
        async def keep(conn: Any, frame: Frame) -> None:
            entry = AuditEntry(kind="event", decision="allow", input=frame.d)
            await d.edge.record(conn, WriteBatch(audit=[entry]))

        d.edge.on_event.append(keep)
        return d

    keeping(d1)
    a = Adapter.make(d1.url, key, "srv-1", max_unacked_events=limit)
    client = a.client
    logged = io.StringIO()
    configure_logging("info", "json", stream=logged)
    d2: Daemon | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: a.live)
            await client.send_event(health(0))
            await until(lambda: client.link.waiting == 0)
            await d1.stop()
            await until(lambda: not a.live)
            for n in range(1, limit + 1):
                await client.send_event(health(n))
            for _ in range(3):
                with pytest.raises(EventQueueFull, match=f"{limit} events already wait"):
                    await client.send_event(health(-1))
            assert client.link.waiting == limit

            d2 = keeping(await Daemon.start(db, port))

            async def kept() -> list[int]:
                assert d2 is not None
                return [e.input["n"] for e in await d2.store.list_audit()]

            with anyio.fail_after(20):
                while await kept() != list(range(limit + 1)) or client.link.waiting:
                    await anyio.sleep(0.02)
            await client.send_event(health(limit + 1))  # room again: taken
            with anyio.fail_after(10):
                while await kept() != list(range(limit + 2)):
                    await anyio.sleep(0.02)
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        configure_logging("warning", "console", None)
        if d2 is not None:
            await d2.stop()
    lines = [json.loads(line) for line in logged.getvalue().splitlines()]
    full = [line for line in lines if line["event"] == "adapter.event_queue_full"]
    drained = [line for line in lines if line["event"] == "adapter.event_queue_drained"]
    assert [(f["waiting"], f["limit"]) for f in full] == [(limit, limit)]  # once, not thrice
    assert [d["refused"] for d in drained] == [3]


async def test_a_daemon_not_acknowledging_fills_the_queue_and_its_acks_make_room(
    tmp_path: Path,
) -> None:
    """A daemon that is up but does not acknowledge (its handler of the first event is
    stuck) fills the adapter's queue as surely as one that is down: the next event is
    refused, and once the daemon acknowledges, the queue was kept whole and new events
    are taken again."""
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records, servers=["srv-1"])
    stuck, release = anyio.Event(), anyio.Event()

    async def slow(conn: Any, frame: Frame) -> None:
        if frame.d["n"] == 0:
            stuck.set()
            await release.wait()

    daemon.edge.on_event.append(slow)
    a = Adapter.make(daemon.url, key, "srv-1", max_unacked_events=5)
    client = a.client
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: a.live)
            for n in range(5):
                await client.send_event(health(n))
            with anyio.fail_after(10):
                await stuck.wait()
            with pytest.raises(EventQueueFull, match="5 events already wait"):
                await client.send_event(health(-1))
            assert a.live  # the link is up: the daemon just has not acknowledged
            release.set()
            await until(lambda: client.link.waiting == 0)
            await client.send_event(health(5))
            await until(lambda: len(daemon.events) == 6 and client.link.waiting == 0)
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        release.set()  # a failed test must not leave the daemon's handler stuck
        await daemon.stop()
    assert [f.d["n"] for f in daemon.events_of("srv-1")] == list(range(6))


@pytest.mark.parametrize(
    ("encoding", "bad", "sid"),
    [
        ("json", {"type": "custom", "n": -1}, 5),
        ("msgpack", {"type": "custom", "n": -1}, 5),
        ("json", {"type": "custom", "n": -1, "blob": "x" * 100 * 1024}, None),
        ("msgpack", {"type": "custom", "n": -1, "blob": "x" * 100 * 1024}, None),
        ("msgpack", {"type": "custom", "n": -1, "by_id": {7: "x"}}, None),
        ("json", {"type": "custom", "n": -1, "message": "a\ud800b"}, None),
    ],
    ids=["numeric-sid-json", "numeric-sid-msgpack", "100kib-json", "100kib-msgpack",
         "integer-key-msgpack", "lone-surrogate-json"],
)  # fmt: skip
async def test_an_event_the_daemon_could_not_read_is_refused_and_the_link_stays_up(
    tmp_path: Path, encoding: Encoding, bad: dict[str, Any], sid: Any
) -> None:
    """A modder's event with a numeric ``sid``, a 100 KiB payload or a key MessagePack
    links cannot carry is one the daemon closes the link on (4002, 4012); a lone
    surrogate makes the WebSocket layer raise as it sends (1006). It used to be queued:
    resent after every reconnection, it closed the link again, a hundred times in six
    seconds, and no event behind it ever arrived. Now ``send_event`` raises
    :class:`InvalidEvent`, and the link stays up on its first connection with the
    events before and after it stored once, in order."""
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records, servers=["srv-1"])
    a = Adapter.make(daemon.url, key, "srv-1", encoding)
    client = a.client
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: a.live)
            await client.send_event(health(0))
            with pytest.raises(InvalidEvent, match="event refused, not queued"):
                await client.send_event(bad, sid)
            await client.send_event(health(1))
            await until(lambda: len(daemon.events_of("srv-1")) == 2 and client.link.waiting == 0)
            # a heartbeat goes and is answered on the same connection: the link is up
            first_beat = client.link.next_heartbeat
            await until(lambda: client.link.next_heartbeat != first_beat)
            await client.send_event(health(2))
            await until(lambda: len(daemon.events_of("srv-1")) == 3 and client.link.waiting == 0)
            assert (a.closes, client.connections, a.live) == ([], 1, True)
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        await daemon.stop()
    assert [(f.s, f.d["n"]) for f in daemon.events_of("srv-1")] == [(1, 0), (2, 1), (3, 2)]


async def test_bad_frames_from_the_daemon_never_stop_the_adapter_nor_lose_events() -> None:
    """A daemon that breaks the protocol (a ``hello`` whose heartbeat interval is no
    number, a frame that is not JSON) must not end the game's link for good: the
    adapter drops that connection, resumes, and its unacknowledged event is sent again
    and kept until acknowledged."""
    seen: list[list[dict[str, Any]]] = []

    async def daemon(ws: ServerConnection) -> None:
        frames: list[dict[str, Any]] = []
        seen.append(frames)
        first = len(seen) == 1
        interval = "soon" if first else 15_000
        await ws.send(json.dumps({"op": "hello", "d": {"heartbeat_interval": interval}}))
        async for message in ws:
            frame = json.loads(message)
            frames.append(frame)
            if frame["op"] == "identify":
                ready = {"link_id": "link_1", "resume_token": "tok", "sessions": []}
                await ws.send(json.dumps({"op": "ready", "d": ready}))
            elif frame["op"] == "resume":
                await ws.send(json.dumps({"op": "resumed", "d": {"replayed": 0}}))
            elif frame["op"] == "event" and first:
                await ws.send("{not json")
            elif frame["op"] == "event":
                await ws.send(json.dumps({"op": "ack", "d": {"s": frame["s"]}}))

    async with serve(daemon, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        a = Adapter.make(f"ws://127.0.0.1:{port}/ws", "key", "srv-1")
        client = a.client
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await until(lambda: a.live)
            await client.send_event(health(1))
            await until(lambda: client.connections == 2 and client.link.waiting == 0)
            await client.stop()
    assert a.closes == [CloseCode.DECODE_ERROR]  # and then it resumed
    assert [f["op"] for f in seen[1]] == ["resume", "event"]
    assert seen[1][0]["d"]["link_id"] == "link_1"
    assert seen[1][1]["s"] == 1 and seen[1][1]["d"] == health(1)


async def test_a_dispatch_the_game_cannot_handle_does_not_stop_the_adapter() -> None:
    """A dispatch whose handler raises (a daemon sent an action the game cannot read,
    or the game has a bug) is logged and counted processed: the link goes on, the
    next dispatch is handled, and the acknowledgement covers both."""
    acks: list[int] = []

    async def daemon(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"op": "hello", "d": {"heartbeat_interval": 15_000}}))
        async for message in ws:
            frame = json.loads(message)
            if frame["op"] == "identify":
                ready = {"link_id": "link_1", "resume_token": "tok", "sessions": []}
                await ws.send(json.dumps({"op": "ready", "d": ready}))
                odd = {"op": "dispatch", "s": 1, "sid": "s1", "d": {"type": "action"}}
                await ws.send(json.dumps(odd))
                await ws.send(json.dumps({**chat(2).to_wire(), "s": 2}))
            elif frame["op"] == "ack":
                acks.append(frame["d"]["s"])

    handled: list[str] = []

    async def on_dispatch(frame: Frame) -> None:
        handled.append(frame.d["action"]["id"])  # KeyError on the odd one

    async with serve(daemon, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        a = Adapter.make(f"ws://127.0.0.1:{port}/ws", "key", "srv-1")
        a.client.on_dispatch = on_dispatch
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.client.run)
            await until(lambda: 2 in acks)
            await a.client.stop()
    assert handled == ["act_2"]
    assert a.client.connections == 1 and a.closes == []


async def test_a_flooding_link_is_closed_within_seconds(tmp_path: Path) -> None:
    daemon = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(daemon.records)
    flood = [identify(key, server_id="flood")] + [
        {"op": "event", "s": s, "d": {"type": "health", "n": s}} for s in range(1, 1001)
    ]
    outcome: Outcome | None = None
    try:
        with anyio.move_on_after(3):
            outcome = await raw(daemon.url, flood, "json", wait=3)
    finally:
        await daemon.stop()
    assert outcome is not None, "no close within 3 s"
    assert outcome.code == CloseCode.RATE_LIMITED


async def test_an_event_the_store_could_not_keep_comes_again_and_is_kept_once(
    tmp_path: Path,
) -> None:
    """An event is acknowledged only once what the daemon keeps of it is written with
    the link's record: when that write fails, the link closes 1001, the adapter
    resumes and sends the event again, and it is kept once, in order."""
    d = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(d.records, servers=["srv-1"])
    real_write = d.records.write_links
    failures: list[str] = []

    async def write_links(batch: LinkBatch) -> list[int]:
        if batch.records.audit and not failures:  # the first event's write fails
            failures.append("disk full")
            raise StoreError("write to bridge.db failed: disk full")
        return await real_write(batch)

    d.records.write_links = write_links  # type: ignore[method-assign]

    async def keep(conn: Any, frame: Frame) -> None:
        entry = AuditEntry(kind="event", decision="allow", input=frame.d)
        await d.edge.record(conn, WriteBatch(audit=[entry]))

    d.edge.on_event.append(keep)
    a = Adapter.make(d.url, key, "srv-1")
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.client.run)
            await until(lambda: a.live)
            for n in range(3):
                await a.client.send_event(health(n))

            async def kept() -> list[int]:
                return [e.input["n"] for e in await d.store.list_audit()]

            with anyio.fail_after(10):
                while await kept() != [0, 1, 2]:
                    await anyio.sleep(0.02)
            assert failures == ["disk full"] and 1001 in a.closes
            await anyio.sleep(0.3)  # anything kept twice would be by now
            assert await kept() == [0, 1, 2]
            await a.client.stop()
            tg.cancel_scope.cancel()
    finally:
        await d.stop()


async def test_an_event_stored_before_its_handler_failed_is_not_taken_again(
    tmp_path: Path,
) -> None:
    """A handler whose write stored the event and which then failed on the store
    (something it writes after, a notification say) does not get the event again: its
    write counted it received, so it is acknowledged, not given back and resent (it
    would be stored twice)."""
    d = await Daemon.start(tmp_path / "bridge.db")
    key = await new_key(d.records, servers=["srv-1"])
    failed: list[int] = []

    async def keep(conn: Any, frame: Frame) -> None:
        entry = AuditEntry(kind="event", decision="allow", input=frame.d)
        await d.edge.record(conn, WriteBatch(audit=[entry]))
        if not failed:  # the first event: stored, then a later write fails
            failed.append(frame.d["n"])
            raise StoreError("write to bridge.db failed: disk full")

    d.edge.on_event.append(keep)
    a = Adapter.make(d.url, key, "srv-1")
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.client.run)
            await until(lambda: a.live)
            for n in range(2):
                await a.client.send_event(health(n))
            await until(lambda: a.live and failed == [0] and a.client.link.out.unacked == [])
            assert [e.input["n"] for e in await d.store.list_audit()] == [0, 1]
            await a.client.stop()
            tg.cancel_scope.cancel()
    finally:
        await d.stop()


@dataclass
class HeldEvent:
    """A daemon whose event handler holds the first event it is given (as a handler
    reading the store would) until ``release``, then fails to store it; later tries
    are stored. Adapters are raw connections sending event 1 (``health(1)``)."""

    d: Daemon
    key: str
    #: the held try fails to store the event (else it is stored once released)
    fail: bool = True
    holding: anyio.Event = field(default_factory=anyio.Event)
    release: anyio.Event = field(default_factory=anyio.Event)
    tries: list[int] = field(default_factory=list)  #: ``n`` of each event given
    resume: dict[str, Any] = field(default_factory=dict)  #: link_id, resume_token

    EVENT: ClassVar[dict[str, Any]] = {"op": "event", "s": 1, "d": health(1)}

    @classmethod
    async def start(cls, db: Path, store: Store | None = None, *, fail: bool = True) -> HeldEvent:
        d = await Daemon.start(db, store=store)
        held = cls(d, await new_key(d.records, servers=["srv-1"]), fail)
        d.edge.on_event.append(held.keep)
        return held

    async def keep(self, conn: Any, frame: Frame) -> None:
        self.tries.append(frame.d["n"])
        if len(self.tries) == 1:
            self.holding.set()
            await self.release.wait()
            if self.fail:
                raise StoreError("read from bridge.db failed: disk gone")
        entry = AuditEntry(kind="event", decision="allow", input=frame.d)
        await self.d.edge.record(conn, WriteBatch(audit=[entry]))

    async def kept(self) -> list[int]:
        return [e.input["n"] for e in await self.d.store.list_audit()]

    async def identify_and_send(self, ws: Any) -> None:
        """Identify, send event 1 and return once its handler holds it."""
        await ws.recv()  # hello
        await ws.send(json.dumps(identify(self.key, server_id="srv-1")))
        ready = decode(await ws.recv(), "json")
        self.resume.update(link_id=ready.d["link_id"], resume_token=ready.d["resume_token"])
        await ws.send(json.dumps(self.EVENT))
        with anyio.fail_after(10):
            await self.holding.wait()

    async def resume_until_acked(self) -> str:
        """Resume on a new connection and resend event 1 as the adapter does; how it
        ended: the daemon's close code, or "acked" (once checked that the event was
        stored: the adapter forgets an acknowledged event)."""
        with anyio.fail_after(10):
            async with connect(self.d.url, ping_interval=None) as ws:
                await ws.recv()  # hello
                await ws.send(json.dumps({"op": "resume", "d": self.resume}))
                try:
                    async for message in ws:
                        frame = decode(message, "json")
                        if frame.op == "resumed":
                            await ws.send(json.dumps(self.EVENT))
                        elif frame.op == "ack" and frame.d["s"] >= 1:
                            assert await self.kept() == [1], "event 1 acked but not stored"
                            return "acked"
                except ConnectionClosed:
                    pass
        return str(ws.close_code)

    async def stop(self) -> None:
        self.release.set()
        await self.d.stop()


async def test_a_resume_is_refused_while_its_old_connection_still_takes_an_event(
    tmp_path: Path,
) -> None:
    """An adapter whose socket dropped resumes on a new connection to the same daemon
    while the old connection's handler still holds its last event. Answered at once,
    the resume would have the resend acknowledged as a duplicate (the link's in-memory
    ``in_s`` counts the event from the moment it was read): the adapter would forget
    it, and the handler, failing, would not store it: lost. The resume waits for the
    event instead; held past ``settle_timeout``, it is refused with 1001, acknowledging
    nothing, and the adapter's next resume has the event taken and stored once."""
    held = await HeldEvent.start(tmp_path / "bridge.db")
    held.d.edge.settle_timeout = 0.2  # the handler holds the event longer
    try:
        async with connect(held.d.url, ping_interval=None) as old:
            await held.identify_and_send(old)
            assert await held.resume_until_acked() == str(int(CloseCode.GOING_AWAY))
            held.release.set()
            assert await held.resume_until_acked() == "acked"
        assert held.tries == [1, 1] and await held.kept() == [1]
    finally:
        await held.stop()


async def test_a_resume_is_answered_once_its_old_connection_gave_the_event_back(
    tmp_path: Path,
) -> None:
    """The same race, the handler done within ``settle_timeout``: the resume stops the
    old connection (the daemon had not seen its drop), waits for its event to be given
    back (the store failed) and only then answers; the resend is taken and stored
    once."""
    held = await HeldEvent.start(tmp_path / "bridge.db")
    try:
        async with connect(held.d.url, ping_interval=None) as old:
            await held.identify_and_send(old)
            async with anyio.create_task_group() as tg:

                async def release_once_old_is_stopped() -> None:
                    with contextlib.suppress(ConnectionClosed), anyio.fail_after(10):
                        await old.recv()  # the resume stops the old connection first
                    held.release.set()

                tg.start_soon(release_once_old_is_stopped)
                assert await held.resume_until_acked() == "acked"
        assert held.tries == [1, 1] and await held.kept() == [1]
    finally:
        await held.stop()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"last_s": 99}, CloseCode.INVALID_SEQUENCE),
        ({"resume_token": "not-the-token"}, CloseCode.SESSION_INVALID),
        ({"link_id": "link_unknown"}, CloseCode.SESSION_INVALID),
    ],
    ids=["last_s", "token", "link"],
)
async def test_a_refused_resume_leaves_the_link_and_its_event_alone(
    tmp_path: Path, backend: Store, change: dict[str, Any], code: CloseCode
) -> None:
    """A resume of a link whose live connection is taking an event, refused for its
    ``last_s`` (4007), its token or its link id (4009), must not touch that
    connection: someone who knows the link id could otherwise drop a live adapter.
    Before, the resume stopped the live connection and waited for its event before
    looking at ``last_s`` (the token was checked first already). The live connection
    has its event stored and acknowledged once released."""
    held = await HeldEvent.start(tmp_path / "bridge.db", backend, fail=False)
    held.d.edge.settle_timeout = 0.5  # a resume that waits gives up quickly
    try:
        async with connect(held.d.url, ping_interval=None) as live:
            await held.identify_and_send(live)
            outcome = await raw(held.d.url, [{"op": "resume", "d": {**held.resume, **change}}])
            assert outcome.code == code
            held.release.set()
            with anyio.fail_after(10):
                ack = decode(await live.recv(), "json")
            assert (ack.op, ack.d) == ("ack", {"s": 1})
        assert held.tries == [1] and await held.kept() == [1]
    finally:
        await held.stop()


async def test_an_event_not_counted_received_is_not_acknowledged_after_a_resume(
    tmp_path: Path, backend: Store
) -> None:
    """An event whose handler stores nothing of it is counted received by a write of
    its own. When that write fails, the link's in-memory ``in_s`` must follow the
    store back: before, it stayed ahead (the connection closed with 4000), and the
    resume on the same daemon acknowledged the resent event as a duplicate although
    the store never counted it (a daemon restarted then expects it again, and the
    adapter, which forgot it, can never send it: every later event is out of order).
    Now the connection closes 1001, the resend is taken again and acknowledged only
    once the store counts it."""
    d = await Daemon.start(tmp_path / "bridge.db", store=backend)
    key = await new_key(d.records, servers=["srv-1"])
    real_write = d.records.write_links
    armed: list[bool] = []

    async def write_links(batch: LinkBatch) -> list[int]:
        if armed and armed.pop():
            raise StoreError("write to bridge.db failed: disk full")
        return await real_write(batch)

    d.records.write_links = write_links  # type: ignore[method-assign]
    event = {"op": "event", "s": 1, "d": health(1)}
    try:
        with anyio.fail_after(10):
            async with connect(d.url, ping_interval=None) as ws:
                await ws.recv()  # hello
                await ws.send(json.dumps(identify(key, server_id="srv-1")))
                ready = decode(await ws.recv(), "json")
                armed.append(True)  # the next write (event 1 counted received) fails
                await ws.send(json.dumps(event))
                with pytest.raises(ConnectionClosed):
                    while True:
                        assert decode(await ws.recv(), "json").op != "ack"
            closed = ws.close_code
            link_id = ready.d["link_id"]
            resume = {"link_id": link_id, "resume_token": ready.d["resume_token"], "last_s": 0}
            async with connect(d.url, ping_interval=None) as ws:
                await ws.recv()  # hello
                await ws.send(json.dumps({"op": "resume", "d": resume}))
                assert decode(await ws.recv(), "json").op == "resumed"
                await ws.send(json.dumps(event))
                while (frame := decode(await ws.recv(), "json")).op != "ack":
                    pass
                assert frame.d == {"s": 1}
                stored = await d.records.get_link(link_id)
                assert stored is not None and stored.in_s == 1, "acked, not counted"
        assert [f.d["n"] for f in d.events_of("srv-1")] == [1, 1]  # taken again
        assert closed == CloseCode.GOING_AWAY
    finally:
        await d.stop()


async def _identify_while_the_old_link_takes_event_1(held: HeldEvent, a: Adapter) -> str:
    """Link the adapter, have its event 1 held by the handler, send event 2 (the old
    connection never reads it), then drop the socket with the resume token forgotten:
    the adapter identifies again. Returns the old link's id once its connection here
    is stopped."""
    client = a.client
    await until(lambda: a.live)
    old_link = client.link.link_id
    assert old_link is not None
    await client.send_event(health(1))
    with anyio.fail_after(10):
        await held.holding.wait()
    old = held.d.edge.connections[old_link]
    client.link.link_id = client.link.resume_token = None  # it must identify
    await client.send_event(health(2))  # sent; the daemon reads it after event 1
    await client.drop()
    await until(lambda: old.closed)  # stopped by the identify (before: replaced)
    return old_link


@pytest.mark.parametrize("fail", [False, True], ids=["stored", "given-back"])
async def test_an_identify_waits_for_the_old_links_event_and_the_adapter_sends_it_once(
    tmp_path: Path, backend: Store, fail: bool
) -> None:
    """An adapter that identifies again (its resume token lost) while the daemon still
    takes an event of its old link (its socket dropped, the daemon has not seen it):
    before, the identify was answered at once, the event was stored all the same
    (written through the new link, not counted by the old one), and the adapter,
    which had no ack for it, sent it again on the new link: stored twice. Now the
    identify stops the old connection and waits for the event; ``ready`` says how far
    the old link's events were stored (``previous``), and the adapter drops those and
    sends the rest (event 2 here, never read by the old connection) on the new link:
    each stored once, in order."""
    held = await HeldEvent.start(tmp_path / "bridge.db", backend, fail=fail)
    a = Adapter.make(held.d.url, held.key, "srv-1")
    client = a.client
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            old_link = await _identify_while_the_old_link_takes_event_1(held, a)
            held.release.set()
            await until(lambda: a.live and client.link.link_id != old_link)
            await until(lambda: client.link.out.unacked == [])
            assert await held.kept() == [1, 2]
            assert held.tries == ([1, 1, 2] if fail else [1, 2])
            stored = await held.d.records.get_link(old_link)
            assert stored is not None and stored.replaced_by == client.link.link_id
            assert stored.in_s == (0 if fail else 1)
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        await held.stop()


async def test_an_identify_is_refused_1001_while_the_old_links_event_is_held(
    tmp_path: Path,
) -> None:
    """The same race with a handler holding the event past ``settle_timeout``: the
    identify is refused with 1001 and the old link stays as it was; the adapter
    identifies again, and once the event is stored each event is stored once."""
    held = await HeldEvent.start(tmp_path / "bridge.db", fail=False)
    held.d.edge.settle_timeout = 0.2
    a = Adapter.make(held.d.url, held.key, "srv-1")
    client = a.client
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            old_link = await _identify_while_the_old_link_takes_event_1(held, a)
            await until(lambda: CloseCode.GOING_AWAY in a.closes)
            stored = await held.d.records.get_link(old_link)
            assert stored is not None and stored.replaced_by is None
            held.release.set()
            await until(lambda: a.live and client.link.link_id not in (None, old_link))
            await until(lambda: client.link.out.unacked == [])
            assert await held.kept() == [1, 2] and held.tries == [1, 2]
            await client.stop()
            tg.cancel_scope.cancel()
    finally:
        await held.stop()


async def test_a_replaced_connection_is_told_4014_and_ready_tells_only_its_servers_links(
    tmp_path: Path, backend: Store
) -> None:
    """An identify replacing a link whose connection is taking an event closes that
    connection with 4014 (a game server still there must learn to stop: dropped, it
    would resume, be refused and identify, replacing the newer one in turn), and
    answers once the event is stored. ``ready`` tells how far a named link's events
    were stored only for a link of the same game server: naming another server's (or
    world's) link tells nothing."""
    held = await HeldEvent.start(tmp_path / "bridge.db", backend, fail=False)
    other_key = await new_key(held.d.records, servers=["srv-2"])
    try:
        other = await raw(held.d.url, [identify(other_key, server_id="srv-2")], wait=0.2)
        other_link = other.frames[0].d["link_id"]
        async with connect(held.d.url, ping_interval=None) as old:
            await held.identify_and_send(old)
            old_link = held.resume["link_id"]
            async with connect(held.d.url, ping_interval=None) as new:
                await new.recv()  # hello
                await new.send(json.dumps(identify(held.key, server_id="srv-1",
                                                   previous_link=other_link)))  # fmt: skip
                with pytest.raises(ConnectionClosed), anyio.fail_after(10):
                    while True:
                        assert decode(await old.recv(), "json").op != "ack"
                assert old.close_code == CloseCode.REPLACED
                held.release.set()
                with anyio.fail_after(10):
                    ready = decode(await new.recv(), "json")
                assert ready.op == "ready" and "previous" not in ready.d
        again = await raw(
            held.d.url, [identify(held.key, server_id="srv-1", previous_link=old_link)], wait=0.2
        )
        assert again.frames[0].op == "ready"
        assert again.frames[0].d["previous"] == {"link_id": old_link, "in_s": 1}
        assert await held.kept() == [1]
    finally:
        await held.stop()
