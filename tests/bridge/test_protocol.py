"""The bridge protocol core without sockets: :class:`ServerLink` and :class:`AdapterLink`
driven against each other in memory, plus the frame codecs (``bridge/PROTOCOL.md``)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import msgpack
import pytest

from encounters_bridge.frames import (
    MAX_DEPTH,
    MAX_FRAME_BYTES,
    MAX_SEQUENCE,
    CloseCode,
    DecodeError,
    Encoding,
    Frame,
    decode,
    encode,
)
from encounters_bridge.protocol import (
    ACK_EVERY,
    EVENT_RATE,
    FLOOD_CLOSE_AFTER,
    FRAME_RATE,
    MAX_UNACKED_EVENTS,
    RESEND_BATCH,
    RESEND_PAUSE,
    Acked,
    AdapterLink,
    Authenticate,
    Close,
    DispatchIn,
    Effect,
    EventIn,
    EventQueueFull,
    InvalidEvent,
    LinkState,
    Processed,
    QueueDrained,
    ResumeRequest,
    Send,
    ServerLink,
)

KEY = "ae_wk_0123456789ab_" + "k" * 32
ENCODINGS: list[Encoding] = ["json", "msgpack"]


def sent(effects: list[Effect]) -> list[Frame]:
    return [e.frame for e in effects if isinstance(e, Send)]


def closes(effects: list[Effect]) -> list[Close]:
    return [e for e in effects if isinstance(e, Close)]


def action(i: int) -> Frame:
    return Frame(
        "dispatch", {"type": "action", "action": {"id": f"a{i}", "type": "chat"}}, None, "s1"
    )


@dataclass
class Wire:
    """A daemon (one :class:`ServerLink` per connection, plus the "store": the link's
    state and token) and an adapter, connected in memory. While ``up`` is False every
    frame sent either way is lost, as on a cut connection."""

    encoding: Encoding = "json"
    interval: float = 15.0
    seed: int = 1
    max_unacked_events: int = MAX_UNACKED_EVENTS
    now: float = 0.0
    up: bool = True
    server: ServerLink = field(init=False)
    adapter: AdapterLink = field(init=False)
    state: LinkState | None = None
    token: str = "ae_rt_token"
    link_id: str = "link_1"
    dispatched: list[Frame] = field(default_factory=list)  #: DispatchIn, in order
    events: list[Frame] = field(default_factory=list)  #: EventIn, in order
    to_adapter_log: list[Frame] = field(default_factory=list)
    to_server_log: list[Frame] = field(default_factory=list)
    server_closes: list[Close] = field(default_factory=list)
    authenticated: list[Authenticate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.adapter = AdapterLink(
            world="minecraft",
            server_id="srv-1",
            key=KEY,
            capabilities=["chat", "move_to"],
            encoding=self.encoding,
            rng=random.Random(self.seed),
            max_unacked_events=self.max_unacked_events,
        )
        self.server = self._new_server()

    def _new_server(self) -> ServerLink:
        return ServerLink(encoding=self.encoding, heartbeat_interval=self.interval, now=self.now)

    # -- moving frames -----------------------------------------------------------------

    def from_server(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                if not self.up:
                    continue
                self.to_adapter_log.append(effect.frame)
                data = self.server.encode(effect.frame)
                self.from_adapter(self.adapter.receive(data, self.now))
            elif isinstance(effect, Close):
                self.server_closes.append(effect)
            elif isinstance(effect, Authenticate):
                self.authenticated.append(effect)
                self.state = LinkState(
                    self.link_id, effect.world, effect.server_id, effect.capabilities
                )
                self.from_server(self.server.accept(self.state, self.token, []))
            elif isinstance(effect, ResumeRequest):
                if (
                    self.state is None
                    or effect.link_id != self.state.link_id
                    or effect.resume_token != self.token
                ):
                    self.from_server(self.server.refuse(CloseCode.SESSION_INVALID, "unknown"))
                else:
                    self.from_server(self.server.resume(self.state, effect.last_s))
            elif isinstance(effect, EventIn):
                self.events.append(effect.frame)

    def from_adapter(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                if not self.up:
                    continue
                self.to_server_log.append(effect.frame)
                data = self.adapter.encode(effect.frame)
                self.from_server(self.server.receive(data, self.now))
            elif isinstance(effect, DispatchIn):
                self.dispatched.append(effect.frame)
                self.from_adapter(self.adapter.processed(effect.frame))  # carried out at once

    # -- what the I/O layers do ----------------------------------------------------------

    def connect(self) -> None:
        """A new connection: a fresh ServerLink, hello, identify or resume."""
        self.up = True
        self.server = self._new_server()
        self.from_server(self.server.connected(self.now))

    def cut(self) -> None:
        """The connection dies; the adapter learns it with 1006."""
        self.up = False
        self.adapter.closed(1006)

    def dispatch(self, frame: Frame) -> int:
        """The daemon sends a dispatch (to the live connection, or kept for a resume)."""
        assert self.state is not None
        if self.server.link is self.state and self.server.state == "ready":
            effects = self.server.dispatch(frame)
            numbered = sent(effects)[0]
            self.from_server(effects)
        else:
            numbered = self.state.sequence(frame)
        assert numbered.s is not None
        return numbered.s

    def event(self, d: dict[str, Any]) -> None:
        self.from_adapter(self.adapter.event(d))


# -- handshake --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_hello_identify_ready_handshake(encoding: Encoding) -> None:
    wire = Wire(encoding=encoding)
    hello_effects = wire.server.connected(0.0)
    assert sent(hello_effects) == [
        Frame("hello", {"protocol": 1, "heartbeat_interval": 15000, "max_frame_bytes": 65536})
    ]
    wire.from_server(hello_effects)

    identify = wire.to_server_log[0]
    assert identify.op == "identify"
    assert identify.s is None
    assert identify.d == {
        "protocol": 1,
        "world": "minecraft",
        "server_id": "srv-1",
        "key": KEY,
        "adapter": {"name": "encounters-python", "version": "0.1.0"},
        "capabilities": ["chat", "move_to"],
    }
    assert wire.authenticated == [
        Authenticate(
            "minecraft",
            "srv-1",
            KEY,
            {"name": "encounters-python", "version": "0.1.0"},
            ["chat", "move_to"],
        )
    ]
    ready = wire.to_adapter_log[-1]
    assert ready == Frame(
        "ready",
        {
            "link_id": "link_1",
            "resume_token": "ae_rt_token",
            "heartbeat_interval": 15000,
            "sessions": [],
        },
    )
    assert wire.server.state == "ready"
    assert wire.adapter.ready
    assert wire.adapter.link_id == "link_1"
    assert wire.adapter.resume_token == "ae_rt_token"
    assert wire.adapter.heartbeat_interval == 15.0
    assert wire.server_closes == []


def test_identify_is_validated() -> None:
    def identify(**over: Any) -> list[Effect]:
        link = ServerLink()
        link.connected(0.0)
        d = {"protocol": 1, "world": "gmod", "server_id": "a", "key": KEY, **over}
        return link.receive(json.dumps({"op": "identify", "d": d}), 1.0)

    assert closes(identify(protocol=2)) == [
        Close(CloseCode.UNSUPPORTED_PROTOCOL, "unsupported protocol version")
    ]
    for bad in (
        {"world": "bogus"},
        {"key": None},
        {"key": 5},
        {"server_id": ""},
        {"server_id": "x" * 65},
        {"capabilities": "chat"},
        {"capabilities": [1]},
    ):
        got = closes(identify(**bad))
        assert [c.code for c in got] == [CloseCode.AUTH_FAILED], bad
    (auth,) = identify(capabilities=[f"c{i}" for i in range(50)], adapter="nope")
    assert isinstance(auth, Authenticate)
    assert len(auth.capabilities) == 32
    assert auth.adapter == {}


def test_second_identify_or_resume_on_a_ready_link_closes_4005() -> None:
    for op in ("identify", "resume"):
        wire = Wire()
        wire.connect()
        assert wire.server.state == "ready"
        frame = {
            "op": op,
            "d": {
                "protocol": 1,
                "world": "minecraft",
                "server_id": "srv-1",
                "key": KEY,
                "link_id": "link_1",
                "resume_token": "t",
            },
        }
        effects = wire.server.receive(json.dumps(frame), 1.0)
        assert closes(effects) == [Close(CloseCode.ALREADY_IDENTIFIED, "already identified")]
        assert str(wire.server.state) == "closed"  # (mypy narrowed it to "ready" above)
        assert wire.server.receive('{"op":"heartbeat"}', 2.0) == []  # closed: ignores all


@pytest.mark.parametrize("op", ["heartbeat", "ack", "event"])
def test_sequenced_or_ack_ops_before_identify_close_4003(op: str) -> None:
    link = ServerLink()
    link.connected(0.0)
    effects = link.receive(json.dumps({"op": op, "d": {"type": "x"}, "s": 1}), 0.5)
    assert [c.code for c in closes(effects)] == [CloseCode.NOT_IDENTIFIED]


def test_unknown_op_before_identify_closes_4003() -> None:
    link = ServerLink()
    link.connected(0.0)
    effects = link.receive('{"op":"dance","d":{}}', 0.5)
    assert [c.code for c in closes(effects)] == [CloseCode.NOT_IDENTIFIED]


def test_unknown_op_after_identify_is_an_error_and_the_link_stays_up() -> None:
    wire = Wire()
    wire.connect()
    effects = wire.server.receive('{"op":"dance","d":{},"future_field":1}', 1.0)
    assert sent(effects) == [
        Frame("error", {"code": "unknown_op", "message": "unknown op 'dance'"})
    ]
    assert closes(effects) == []
    assert wire.server.state == "ready"


def test_resume_with_bad_fields_closes_4009() -> None:
    for d in (
        {},
        {"link_id": 1, "resume_token": "t"},
        {"link_id": "l", "resume_token": "t", "last_s": "3"},
    ):
        link = ServerLink()
        link.connected(0.0)
        effects = link.receive(json.dumps({"op": "resume", "d": d}), 0.1)
        assert [c.code for c in closes(effects)] == [CloseCode.SESSION_INVALID], d
    link = ServerLink()
    link.connected(0.0)
    (req,) = link.receive('{"op":"resume","d":{"link_id":"l","resume_token":"t","last_s":-4}}', 0)
    assert req == ResumeRequest("l", "t", 0)


# -- sequencing, acks, duplicates -------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_dispatches_are_sequenced_processed_once_and_acked_cumulatively(
    encoding: Encoding,
) -> None:
    wire = Wire(encoding=encoding)
    wire.connect()
    assert wire.state is not None
    for i in range(1, 6):
        assert wire.dispatch(action(i)) == i
    assert [f.s for f in wire.dispatched] == [1, 2, 3, 4, 5]
    assert [f.d["action"]["id"] for f in wire.dispatched] == ["a1", "a2", "a3", "a4", "a5"]
    assert all(f.sid == "s1" for f in wire.dispatched)
    # the adapter acknowledges a burst with one cumulative ack (here at its next tick),
    # so the daemon keeps nothing
    assert [f for f in wire.to_server_log if f.op == "ack"] == []
    assert [f.s for f in wire.state.unacked] == [1, 2, 3, 4, 5]
    wire.from_adapter(wire.adapter.tick(wire.now))
    acks = [f.d["s"] for f in wire.to_server_log if f.op == "ack"]
    assert acks == [5]
    assert wire.state.unacked == []
    assert wire.adapter.tick(wire.now) == []  # nothing more is owed
    assert wire.state.out_s == 5
    assert wire.adapter.in_s == 5


def test_adapter_acks_without_waiting_for_a_tick_after_a_long_burst() -> None:
    wire = Wire()
    wire.connect()
    assert wire.state is not None
    for i in range(1, 2 * ACK_EVERY + 4):
        wire.dispatch(action(i))
    acks = [f.d["s"] for f in wire.to_server_log if f.op == "ack"]
    assert acks == [ACK_EVERY, 2 * ACK_EVERY]
    assert [f.s for f in wire.state.unacked] == [2 * ACK_EVERY + 1, 2 * ACK_EVERY + 2,
                                                 2 * ACK_EVERY + 3]  # fmt: skip


def test_server_ack_is_cumulative_and_reports_acked() -> None:
    wire = Wire()
    wire.connect()
    assert wire.state is not None
    wire.up = False  # the adapter sees nothing: the daemon keeps all five
    for i in range(1, 6):
        wire.dispatch(action(i))
    wire.up = True
    assert [f.s for f in wire.state.unacked] == [1, 2, 3, 4, 5]
    assert wire.server.receive('{"op":"ack","d":{"s":3}}', 1.0) == [Acked(3)]
    assert [f.s for f in wire.state.unacked] == [4, 5]
    assert wire.server.receive('{"op":"ack","d":{"s":2}}', 1.0) == []  # old ack: nothing
    assert wire.server.receive('{"op":"ack","d":{"s":true}}', 1.0) == []  # not a number
    # a heartbeat carries an ack too, and is answered with the daemon's own ack
    effects = wire.server.receive('{"op":"heartbeat","d":{"ack":5}}', 2.0)
    assert effects == [Acked(5), Send(Frame("heartbeat_ack", {"ack": 0}))]
    assert wire.state.unacked == []


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_events_are_sequenced_delivered_once_and_acked_cumulatively(encoding: Encoding) -> None:
    wire = Wire(encoding=encoding)
    wire.connect()
    for n in range(1, 4):
        wire.event({"type": "health", "sid": "s1", "health": n})
    assert [(f.s, f.d["health"]) for f in wire.events] == [(1, 1), (2, 2), (3, 3)]
    assert [f.d["s"] for f in wire.to_adapter_log if f.op == "ack"] == [1, 2, 3]
    assert wire.adapter.out.unacked == []
    assert wire.state is not None and wire.state.in_s == 3

    # the adapter's unacked events go away with a cumulative ack (or a heartbeat_ack)
    wire.up = False
    for n in range(4, 8):
        wire.event({"type": "health", "sid": "s1", "health": n})
    assert [f.s for f in wire.adapter.out.unacked] == [4, 5, 6, 7]
    ack5 = encode(Frame("ack", {"s": 5}), encoding)
    assert wire.adapter.receive(ack5, 1.0) == [Acked(5)]
    assert [f.s for f in wire.adapter.out.unacked] == [6, 7]
    beat_ack = encode(Frame("heartbeat_ack", {"ack": 7}), encoding)
    assert wire.adapter.receive(beat_ack, 1.0) == [Acked(7)]
    assert wire.adapter.out.unacked == []


def test_duplicate_dispatch_is_ignored_and_acked_again() -> None:
    wire = Wire()
    wire.connect()
    wire.dispatch(action(1))
    wire.dispatch(action(2))
    again = encode(Frame("dispatch", action(1).d, 1, "s1"), "json")
    assert wire.adapter.receive(again, 1.0) == [Send(Frame("ack", {"s": 2}))]
    again2 = encode(Frame("dispatch", action(2).d, 2, "s1"), "json")
    assert wire.adapter.receive(again2, 1.0) == [Send(Frame("ack", {"s": 2}))]
    assert [f.s for f in wire.dispatched] == [1, 2]


def test_duplicate_event_is_ignored_and_acked_again() -> None:
    wire = Wire()
    wire.connect()
    wire.event({"type": "player_join", "player": {"id": "1", "name": "bob"}})
    wire.event({"type": "player_join", "player": {"id": "2", "name": "eve"}})
    for s in (1, 2):
        dup = json.dumps({"op": "event", "s": s, "d": {"type": "player_join"}})
        assert wire.server.receive(dup, 1.0) == [Send(Frame("ack", {"s": 2}))]
    assert [f.s for f in wire.events] == [1, 2]


def test_event_without_s_or_type_is_refused_with_invalid_event() -> None:
    wire = Wire()
    wire.connect()
    for frame in ({"op": "event", "d": {"type": "x"}}, {"op": "event", "s": 1, "d": {}}):
        effects = wire.server.receive(json.dumps(frame), 1.0)
        assert [f.d["code"] for f in sent(effects) if f.op == "error"] == ["invalid_event"]
        assert closes(effects) == []
    assert wire.events == []


def test_invalid_event_is_acknowledged_so_it_is_not_resent() -> None:
    wire = Wire()
    wire.connect()
    wire.event({"no_type": True})  # sequenced by the adapter as s=1
    assert wire.adapter.out.unacked == []


def test_invalid_event_is_consumed_in_order_and_not_delivered() -> None:
    wire = Wire()
    wire.connect()
    assert wire.state is not None
    effects = wire.server.receive('{"op":"event","s":1,"d":{"type":7}}', 1.0)
    assert [type(e) for e in effects] == [Processed, Send, Send]  # saved, then answered
    assert effects[0] == Processed(1)
    assert [(f.op, f.d.get("code"), f.d.get("s")) for f in sent(effects)] == [
        ("error", "invalid_event", None),
        ("ack", None, 1),
    ]
    assert wire.state.in_s == 1 and wire.events == []
    effects = wire.server.receive('{"op":"event","s":2,"d":{"type":"health"}}', 1.0)
    assert [e.frame.s for e in effects if isinstance(e, EventIn)] == [2]  # not a gap
    assert sent(effects) == [Frame("ack", {"s": 2})]


def test_event_flood_is_refused_then_closed_4008() -> None:
    """A flood of new events: the burst passes, the next one is refused (rate_limited),
    the ones after it are out of order; the link that keeps going is closed."""
    wire = Wire()
    wire.connect()
    burst = EVENT_RATE.capacity
    accepted = 0
    refusals: list[str] = []
    close: list[Close] = []
    for s in range(1, 1001):
        effects = wire.server.receive(
            json.dumps({"op": "event", "s": s, "d": {"type": "health", "health": s}}), 10.0
        )
        accepted += sum(isinstance(e, EventIn) for e in effects)
        refusals += [f.d["code"] for f in sent(effects) if f.op == "error"]
        assert not [f for f in sent(effects) if f.op == "ack" and f.d["s"] > burst]
        close = closes(effects)
        if close:
            break
    assert accepted == burst
    assert len(refusals) == FLOOD_CLOSE_AFTER - 1
    assert refusals[0] == "rate_limited"
    assert set(refusals) <= {"rate_limited", "out_of_order"}
    assert [c.code for c in close] == [CloseCode.RATE_LIMITED]
    assert wire.state is not None and wire.state.in_s == burst


def test_resending_a_refused_event_too_fast_is_closed_4008() -> None:
    wire = Wire()
    wire.connect()
    for s in range(1, 41):
        wire.server.receive(json.dumps({"op": "event", "s": s, "d": {"type": "x"}}), 10.0)
    for attempt in range(1, FLOOD_CLOSE_AFTER + 1):
        effects = wire.server.receive('{"op":"event","s":41,"d":{"type":"x"}}', 10.0)
        if attempt < FLOOD_CLOSE_AFTER:
            assert [f.d["code"] for f in sent(effects)] == ["rate_limited"]
    assert [c.code for c in closes(effects)] == [CloseCode.RATE_LIMITED]


def test_an_event_after_a_gap_is_refused_unacknowledged() -> None:
    wire = Wire()
    wire.connect()
    wire.event({"type": "health"})
    effects = wire.server.receive('{"op":"event","s":3,"d":{"type":"x"}}', 1.0)
    assert [f.d["code"] for f in sent(effects) if f.op == "error"] == ["out_of_order"]
    assert not [f for f in sent(effects) if f.op == "ack"]
    assert [f.s for f in wire.events] == [1]


def test_event_rate_refills_over_time() -> None:
    wire = Wire()
    wire.connect()

    def send(s: int, now: float) -> bool:
        frame = json.dumps({"op": "event", "s": s, "d": {"type": "health"}})
        return any(isinstance(e, EventIn) for e in wire.server.receive(frame, now))

    assert all(send(s, 100.0) for s in range(1, 41))
    assert not send(41, 100.0)
    assert send(41, 100.06)  # 20 per second: one more every 50 ms (the refused one, again)
    assert not send(42, 100.06)
    assert wire.server.state == "ready"


def test_events_refused_by_the_rate_limit_are_not_acknowledged_away() -> None:
    """Events sent faster than the daemon takes them: those over its burst are refused
    (rate_limited), not acknowledged, and sent again after a pause, in order; events
    made meanwhile wait behind them instead of being refused too."""
    wire = Wire()
    wire.connect()
    for n in range(60):  # all at once, 20 over the burst
        wire.event({"type": "health", "n": n})
    delivered = {f.d["n"] for f in wire.events}
    held = {f.d["n"] for f in wire.adapter.out.unacked}
    assert delivered | held == set(range(60)) and held
    refusals = [f for f in wire.to_adapter_log if f.op == "error"]
    assert [f.d["code"] for f in refusals] == ["rate_limited"]  # the first over: then it waits
    assert [f for f in sent(wire.adapter.tick(wire.now)) if f.op == "event"] == []
    wire.now += RESEND_PAUSE
    resent = wire.adapter.tick(wire.now)
    assert [f.s for f in sent(resent) if f.op == "event"] == sorted(
        f.s or 0 for f in wire.adapter.out.unacked
    )
    wire.from_adapter(resent)
    assert [f.d["n"] for f in wire.events] == list(range(60))
    assert wire.adapter.out.unacked == []


def test_refusals_count_toward_4008_only_in_a_row() -> None:
    """An accepted event resets the count: an adapter that resends what was refused
    after its pause, at the rate it is allowed, is never closed."""
    wire = Wire()
    wire.connect()
    s, now = 0, 0.0
    for _ in range(3):
        while True:  # as fast as it can, until a refusal
            effects = wire.server.receive(
                json.dumps({"op": "event", "s": s + 1, "d": {"type": "x"}}), now
            )
            if not any(isinstance(e, EventIn) for e in effects):
                assert [f.d["code"] for f in sent(effects)] == ["rate_limited"]
                break
            s += 1
        for gap in range(2, FLOOD_CLOSE_AFTER):  # 48 later events refused as well
            effects = wire.server.receive(
                json.dumps({"op": "event", "s": s + gap, "d": {"type": "x"}}), now
            )
            assert closes(effects) == [], gap
            assert [f.d["code"] for f in sent(effects)] == ["out_of_order"]
        now += RESEND_PAUSE  # the adapter's pause, then it resends from the refused one
    assert wire.server.state == "ready"
    assert s == 40 + 20 + 20  # the burst, then 20 per second
    assert wire.state is not None and wire.state.in_s == s


def test_a_long_outage_does_not_get_the_resumed_link_closed_4008() -> None:
    wire = Wire()
    wire.connect()
    wire.cut()
    for n in range(200):  # 10 s of events at 20 per second, held through the outage
        wire.adapter.event({"type": "health", "n": n})
    wire.adapter.next_heartbeat = 1e9  # keep heartbeats out of the way
    wire.connect()  # resumed: the backlog goes out
    for _ in range(20):  # the adapter's pauses: the backlog drains at the allowed rate
        if not wire.adapter.out.unacked or wire.server_closes:
            break
        wire.now += RESEND_PAUSE
        wire.from_adapter(wire.adapter.tick(wire.now))
    assert wire.server_closes == []
    assert [f.d["n"] for f in wire.events] == list(range(200))


def test_adapter_resends_its_unacked_events_a_pause_after_a_refusal() -> None:
    wire = Wire()
    wire.connect()
    wire.now = 10.0
    for n in range(45):  # 40 accepted, 41 rate_limited, 42..45 out_of_order
        wire.event({"type": "health", "n": n})
    assert [f.s for f in wire.events] == list(range(1, 41))
    assert [f.s for f in wire.adapter.out.unacked] == [41, 42, 43, 44, 45]
    assert wire.adapter.resend_at == 10.0 + RESEND_PAUSE
    wire.adapter.next_heartbeat = 1e9  # keep heartbeats out of the way
    wire.to_server_log.clear()
    wire.from_adapter(wire.adapter.tick(10.0 + RESEND_PAUSE - 0.01))
    assert wire.to_server_log == []  # not yet
    wire.now = 10.0 + RESEND_PAUSE
    wire.from_adapter(wire.adapter.tick(wire.now))
    assert [(f.op, f.s) for f in wire.to_server_log] == [("event", s) for s in range(41, 46)]
    assert [f.d["n"] for f in wire.events] == list(range(45))  # once each, in order
    assert wire.adapter.out.unacked == [] and wire.adapter.resend_at is None
    wire.to_server_log.clear()
    wire.from_adapter(wire.adapter.tick(wire.now + 5))
    assert wire.to_server_log == []  # nothing more to resend


def test_adapter_resends_only_after_refusals_not_after_other_errors() -> None:
    wire = Wire()
    wire.connect()
    for code in ("unknown_op", "invalid_event"):
        error = encode(Frame("error", {"code": code, "message": "m"}), "json")
        assert wire.adapter.receive(error, 1.0) == []
        assert wire.adapter.resend_at is None
    for code in ("rate_limited", "out_of_order"):
        error = encode(Frame("error", {"code": code, "message": "m"}), "json")
        assert wire.adapter.receive(error, 2.0) == []
        assert wire.adapter.resend_at == 2.0 + RESEND_PAUSE


def test_sequence_numbers_stop_at_2_53_minus_1() -> None:
    assert MAX_SEQUENCE == 2**53 - 1
    wire = Wire()
    wire.connect()
    effects = wire.server.receive(
        json.dumps({"op": "event", "s": MAX_SEQUENCE, "d": {"type": "x"}}), 1.0
    )
    assert [f.d["code"] for f in sent(effects)] == ["out_of_order"]  # valid, but a gap
    effects = wire.server.receive(
        json.dumps({"op": "event", "s": MAX_SEQUENCE + 1, "d": {"type": "x"}}), 1.0
    )
    assert [c.code for c in closes(effects)] == [CloseCode.DECODE_ERROR]


# -- resume -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_resume_replays_exactly_the_unacked_dispatches_in_order(encoding: Encoding) -> None:
    wire = Wire(encoding=encoding)
    wire.connect()
    assert wire.state is not None
    wire.dispatch(action(1))
    wire.dispatch(action(2))
    wire.cut()
    for i in range(3, 6):
        wire.dispatch(action(i))  # never reach the adapter
    # 1 and 2 were processed but their ack was still owed at the cut
    assert [f.s for f in wire.state.unacked] == [1, 2, 3, 4, 5]
    wire.to_adapter_log.clear()
    wire.to_server_log.clear()

    wire.connect()
    assert wire.to_server_log[0] == Frame(
        "resume", {"link_id": "link_1", "resume_token": "ae_rt_token", "last_s": 2}
    )
    replay = [f for f in wire.to_adapter_log if f.op != "hello"]
    assert replay[0] == Frame("resumed", {"replayed": 3})
    assert [(f.op, f.s, f.d["action"]["id"]) for f in replay[1:]] == [
        ("dispatch", 3, "a3"),
        ("dispatch", 4, "a4"),
        ("dispatch", 5, "a5"),
    ]
    assert [f.s for f in wire.dispatched] == [1, 2, 3, 4, 5]
    wire.from_adapter(wire.adapter.tick(wire.now))
    assert wire.state.unacked == []
    assert wire.adapter.ready and wire.server.state == "ready"
    # sequence numbers continue across the resume
    assert wire.dispatch(action(6)) == 6
    assert [f.s for f in wire.dispatched] == [1, 2, 3, 4, 5, 6]


def test_resume_after_a_lost_ack_replays_only_what_the_adapter_has_not_processed() -> None:
    wire = Wire()
    wire.connect()
    assert wire.state is not None
    for i in range(1, 4):
        wire.dispatch(action(i))
    # the adapter processed 4 and 5 but its acks were lost on the way back
    for i in (4, 5):
        numbered = wire.state.sequence(action(i))
        (taken,) = wire.adapter.receive(encode(numbered, "json"), 1.0)
        assert isinstance(taken, DispatchIn)
        wire.adapter.processed(taken.frame)  # its ack (if one is owed) never arrives
    wire.cut()
    wire.dispatch(action(6))
    wire.to_adapter_log.clear()
    wire.to_server_log.clear()
    wire.connect()
    (resume,) = [f for f in wire.to_server_log if f.op == "resume"]
    assert resume.d["last_s"] == 5
    assert [f.s for f in wire.to_adapter_log if f.op == "dispatch"] == [6]
    assert next(f for f in wire.to_adapter_log if f.op == "resumed").d == {"replayed": 1}


def test_a_dispatch_still_being_carried_out_is_not_acknowledged() -> None:
    """The adapter acknowledges what it has carried out, not what it has read: while a
    dispatch is still running, neither a heartbeat nor an ack covers it (an adapter
    that dies meanwhile gets it again after its resume), and once it is done the next
    heartbeat does."""
    wire = Wire(interval=1.0)
    wire.connect()
    assert wire.state is not None
    wire.dispatch(action(1))  # carried out at once by the wire
    numbered = wire.state.sequence(action(2))
    (taken,) = wire.adapter.receive(encode(numbered, "json"), 2.0)
    assert isinstance(taken, DispatchIn) and taken.frame.s == 2
    assert wire.adapter.in_s == 1  # read, not yet carried out
    beats = [f for f in sent(wire.adapter.tick(10.0)) if f.op in ("heartbeat", "ack")]
    assert beats and all(f.d.get("ack", f.d.get("s")) == 1 for f in beats)
    assert wire.adapter.processed(taken.frame) == []  # one dispatch owes no ack yet
    (beat,) = [f for f in sent(wire.adapter.tick(20.0)) if f.op == "heartbeat"]
    assert beat.d["ack"] == 2


def test_resume_with_a_replayed_duplicate_is_ignored_by_the_adapter() -> None:
    """If the daemon replays a frame the adapter already ran (its ``last_s`` was
    stale), the adapter ignores it and acknowledges again."""
    wire = Wire()
    wire.connect()
    assert wire.state is not None
    wire.cut()
    for i in (1, 2, 3):
        wire.dispatch(action(i))
    link = ServerLink()
    link.connected(0.0)
    link.receive('{"op":"resume","d":{"link_id":"link_1","resume_token":"t","last_s":0}}', 0.0)
    # the adapter has processed 1 and 2 in between
    for f in wire.state.unacked[:2]:
        (taken,) = wire.adapter.receive(encode(f, "json"), 0.0)
        assert isinstance(taken, DispatchIn)
        wire.adapter.processed(taken.frame)
    wire.dispatched.clear()
    wire.up = True
    wire.server = link
    wire.from_server(link.resume(wire.state, 0))
    assert [f.s for f in wire.dispatched] == [3]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_adapter_resends_its_unacked_events_after_resumed(encoding: Encoding) -> None:
    wire = Wire(encoding=encoding)
    wire.connect()
    wire.event({"type": "health", "health": 1})
    # event 2 reaches the daemon but the ack is lost; 3 is lost; 4 and 5 are queued
    # while the adapter knows the link is down
    numbered = wire.adapter.out.sequence(Frame("event", {"type": "health", "health": 2}))
    wire.server.receive(encode(numbered, encoding), 1.0)
    wire.up = False
    wire.event({"type": "health", "health": 3})
    wire.cut()
    assert wire.adapter.event({"type": "health", "health": 4}) == []  # not ready: queued
    assert wire.adapter.event({"type": "health", "health": 5}) == []
    assert [f.s for f in wire.adapter.out.unacked] == [2, 3, 4, 5]
    wire.to_server_log.clear()
    wire.connect()
    ops = [(f.op, f.s) for f in wire.to_server_log]
    assert ops[0] == ("resume", None)
    assert [s for op, s in ops if op == "event"] == [2, 3, 4, 5]  # original s, in order
    assert [f.d["health"] for f in wire.events] == [1, 3, 4, 5]  # 2 was not run twice
    assert wire.adapter.out.unacked == []
    assert wire.state is not None and wire.state.in_s == 5


def test_resume_with_an_unknown_link_closes_4009_and_the_adapter_identifies_again() -> None:
    wire = Wire()
    wire.connect()
    wire.cut()
    wire.token = "another_token"  # the daemon lost the link (or the token changed)
    wire.connect()
    assert [c.code for c in wire.server_closes] == [CloseCode.SESSION_INVALID]
    assert wire.adapter.closed(CloseCode.SESSION_INVALID) == "identify"
    assert wire.adapter.link_id is None and wire.adapter.resume_token is None
    wire.to_server_log.clear()
    wire.link_id = "link_2"
    wire.connect()
    assert wire.to_server_log[0].op == "identify"
    assert wire.adapter.ready and wire.adapter.link_id == "link_2"


def _identified_with_three_events() -> AdapterLink:
    """An adapter that identified (link_1), sent events 1-3 with none acknowledged,
    and lost its link (4009): it identifies again at the next hello."""
    adapter = AdapterLink(world="minecraft", server_id="srv-1", key=KEY, capabilities=[])
    hello = encode(Frame("hello", {"heartbeat_interval": 15000}), "json")
    assert sent(adapter.receive(hello, 0.0))[0].op == "identify"
    ready = {"link_id": "link_1", "resume_token": "t1", "heartbeat_interval": 15000}
    adapter.receive(encode(Frame("ready", {**ready, "sessions": []}), "json"), 0.0)
    for n in (1, 2, 3):
        adapter.event({"type": "health", "n": n})
    assert adapter.closed(CloseCode.SESSION_INVALID) == "identify"
    return adapter


@pytest.mark.parametrize(
    ("previous", "resent"),
    [
        ({"link_id": "link_1", "in_s": 2}, [3]),  # 1 and 2 stored: their acks were lost
        ({"link_id": "link_1", "in_s": 0}, [1, 2, 3]),
        ({"link_id": "link_0", "in_s": 2}, [1, 2, 3]),  # another link: tells nothing
        ({"link_id": "link_1", "in_s": "2"}, [1, 2, 3]),
        (None, [1, 2, 3]),  # an older daemon, or a link it does not know
    ],
)
def test_an_adapter_identifying_again_drops_the_events_the_daemon_stored(
    previous: dict[str, Any] | None, resent: list[int]
) -> None:
    """Identifying again with unacknowledged events, the adapter names the link they
    were numbered on (``previous_link``); ``ready``'s ``previous`` says how far that
    link's events were stored, and only the rest is sent again, numbered from 1."""
    adapter = _identified_with_three_events()
    hello = encode(Frame("hello", {"heartbeat_interval": 15000}), "json")
    (identify,) = sent(adapter.receive(hello, 1.0))
    assert identify.op == "identify" and identify.d["previous_link"] == "link_1"
    d: dict[str, Any] = {"link_id": "link_2", "resume_token": "t2", "sessions": []}
    if previous is not None:
        d["previous"] = previous
    again = sent(adapter.receive(encode(Frame("ready", d), "json"), 1.0))
    assert [f.d["n"] for f in again] == resent
    assert [f.s for f in again] == list(range(1, len(resent) + 1))


def test_identifying_again_paces_a_backlog_and_the_daemon_stores_all_of_it() -> None:
    """A backlog waiting when the adapter identifies again (its link was lost, 4009)
    goes out as after a resume: one burst, the rest a pause later as acks come back,
    and a new event waits behind it. Sent all at once, the daemon refused all but its
    burst and closed the link for flooding (4008)."""
    wire = Wire()
    wire.connect()
    wire.cut()  # the daemon is away: 200 events wait
    for n in range(200):
        wire.event({"type": "health", "n": n})
    wire.token = "forgotten"  # and it lost the link: the resume is refused
    wire.connect()
    assert [c.code for c in wire.server_closes] == [CloseCode.SESSION_INVALID]
    assert wire.adapter.closed(CloseCode.SESSION_INVALID) == "identify"
    wire.token = "ae_rt_token"
    wire.connect()  # identifies again; ready: the backlog goes on the new link
    assert len(wire.events) <= RESEND_BATCH
    wire.event({"type": "health", "n": 200})  # new: behind the backlog, in order
    for _ in range(100):
        if wire.adapter.waiting == 0:
            break
        wire.now += RESEND_PAUSE
        wire.from_adapter(wire.adapter.tick(wire.now))
    assert [c.code for c in wire.server_closes] == [CloseCode.SESSION_INVALID]
    assert [f.d["n"] for f in wire.events] == list(range(201))  # each once, in order


def test_previous_link_is_optional_in_identify() -> None:
    """An adapter with nothing unacknowledged leaves ``previous_link`` out; the daemon
    ignores one that is not a link id's string."""
    adapter = AdapterLink(world="minecraft", server_id="srv-1", key=KEY, capabilities=[])
    hello = encode(Frame("hello", {"heartbeat_interval": 15000}), "json")
    assert "previous_link" not in sent(adapter.receive(hello, 0.0))[0].d
    for given, seen in (("link_1", "link_1"), (7, None), ("x" * 65, None), ("", None)):
        link = ServerLink()
        link.connected(0.0)
        d = {"world": "gmod", "server_id": "a", "key": KEY, "previous_link": given}
        (auth,) = link.receive(json.dumps({"op": "identify", "d": d}), 1.0)
        assert isinstance(auth, Authenticate) and auth.previous_link == seen, given


def test_events_queued_before_ready_are_sent_after_identify() -> None:
    wire = Wire()
    wire.adapter.event({"type": "player_join", "player": {"id": "1", "name": "bob"}})
    wire.connect()
    assert [f.d["type"] for f in wire.events] == ["player_join"]


# -- events the daemon could not read are refused at the call -------------------------------


def _dict_chain(depth: int) -> dict[str, Any]:
    """``{"n": {"n": ... {}}}`` with ``depth`` dicts in all."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


#: (event d, sid, argument at fault): each one the daemon closes the link on (4002 or
#: 4012) when it arrives; the last element says for which encodings it is bad.
BAD_EVENTS: list[tuple[str, Any, Any, str, tuple[Encoding, ...]]] = [
    ("numeric sid", {"type": "custom"}, 5, "sid", ("json", "msgpack")),
    ("empty sid", {"type": "custom"}, "", "sid", ("json", "msgpack")),
    ("65-character sid", {"type": "custom"}, "s" * 65, "sid", ("json", "msgpack")),
    ("d a list", [{"type": "custom"}], None, "d", ("json", "msgpack")),
    ("d a string", "player_join", None, "d", ("json", "msgpack")),
    ("100 KiB payload", {"type": "custom", "blob": "x" * 100 * 1024}, None, "d",
     ("json", "msgpack")),
    ("nested 40 deep", {"type": "custom", "tree": _dict_chain(40)}, None, "d", ("json", "msgpack")),
    ("a value no encoding carries", {"type": "custom", "at": object()}, None, "d",
     ("json", "msgpack")),
    ("a lone surrogate", {"type": "player_chat", "message": "a\ud800b"}, None, "d",
     ("json", "msgpack")),
    ("an integer key (MessagePack)", {"type": "custom", "by_id": {7: "x"}}, None, "d",
     ("msgpack",)),
    ("an integer beyond 64 bits (MessagePack)", {"type": "custom", "n": 2**70}, None, "d",
     ("msgpack",)),
]  # fmt: skip
BAD_CASES = [
    pytest.param(encoding, d, sid, where, id=f"{name}-{encoding}")
    for name, d, sid, where, encodings in BAD_EVENTS
    for encoding in encodings
]


@pytest.mark.parametrize(("encoding", "d", "sid", "where"), BAD_CASES)
def test_an_event_the_daemon_could_not_read_is_refused_and_the_link_goes_on(
    encoding: Encoding, d: Any, sid: Any, where: str
) -> None:
    """An event whose frame the daemon would close the link on (PROTOCOL.md, Envelope)
    is refused at the call with :class:`InvalidEvent` naming the argument at fault:
    nothing is queued or numbered, and the events before and after it reach the daemon
    once, in order, on one connection. Kept, it was resent after every reconnection
    and closed the link again, forever."""
    wire = Wire(encoding=encoding)
    wire.connect()
    wire.event({"type": "health", "n": 0})
    with pytest.raises(InvalidEvent, match="event refused, not queued") as refused:
        wire.adapter.event(d, sid)
    assert refused.value.where == where
    assert refused.value.fix  # says how to send it instead
    assert (wire.adapter.out.out_s, wire.adapter.waiting) == (1, 0)  # no number, no queue
    wire.event({"type": "health", "n": 1})
    assert [f.d["n"] for f in wire.events] == [0, 1]
    assert [f.s for f in wire.events] == [1, 2]
    assert wire.server_closes == []
    assert wire.adapter.ready and wire.server.state == "ready"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_largest_event_taken_is_one_the_daemon_reads(encoding: Encoding) -> None:
    """The size checked is the encoded frame's, with the largest ``s`` it may take: an
    event filling the frame to the limit is taken and read by the daemon; one byte more
    is refused. (A check short of the wire would let a frame the daemon refuses through,
    or refuse one it reads.)"""
    base = encode(Frame("event", {"type": "custom", "blob": ""}, MAX_SEQUENCE), encoding)
    room = MAX_FRAME_BYTES - len(base)
    if encoding == "msgpack":
        room -= 2  # a string over 31 bytes has a 2-byte longer header (str 16)
    wire = Wire(encoding=encoding)
    wire.connect()
    with pytest.raises(InvalidEvent, match=f"over the daemon's limit of {MAX_FRAME_BYTES}"):
        wire.adapter.event({"type": "custom", "blob": "x" * (room + 1)})
    wire.event({"type": "custom", "blob": "x" * room})
    assert [len(f.d["blob"]) for f in wire.events] == [room]
    assert wire.server_closes == []


def test_a_daemon_with_a_smaller_frame_limit_is_held_to_it() -> None:
    """The limit is the one the daemon's ``hello`` gives (``[bridge] max_frame_bytes``),
    not the protocol's default: a daemon reading at most 4 KiB would close the link on
    a 10 KiB event (4012), so it is refused."""
    wire = Wire()
    wire.server = ServerLink(max_frame_bytes=4096)
    wire.from_server(wire.server.connected(0.0))
    assert wire.adapter.max_frame_bytes == 4096
    with pytest.raises(InvalidEvent, match="over the daemon's limit of 4096"):
        wire.adapter.event({"type": "custom", "blob": "x" * 10_000})
    wire.event({"type": "custom", "blob": "x" * 1_000})
    assert len(wire.events) == 1 and wire.server_closes == []


def test_a_bad_event_is_refused_while_disconnected_too() -> None:
    """Queued while the daemon is away, a bad event would close the first connection
    back (and every one after): it is refused before any daemon is reached."""
    wire = Wire()
    with pytest.raises(InvalidEvent, match="sid: the session id is int 5"):
        wire.adapter.event({"type": "custom"}, 5)  # type: ignore[arg-type]
    wire.adapter.event({"type": "health", "n": 0})
    wire.connect()
    assert [f.d["n"] for f in wire.events] == [0]
    assert wire.server_closes == []


# -- the adapter's bound on unacknowledged events ------------------------------------------


def _adapter_on_link_1(limit: int) -> AdapterLink:
    """An adapter whose link (link_1) is ready, with nobody acknowledging its events."""
    adapter = AdapterLink(
        world="minecraft", server_id="srv-1", key=KEY, capabilities=[], max_unacked_events=limit
    )
    adapter.receive(encode(Frame("hello", {"heartbeat_interval": 15000}), "json"), 0.0)
    ready = {"link_id": "link_1", "resume_token": "t1", "sessions": []}
    adapter.receive(encode(Frame("ready", ready), "json"), 0.0)
    return adapter


def test_a_full_queue_refuses_new_events_and_the_daemon_gets_every_queued_one_once() -> None:
    """Refuse new events when full; never drop queued ones: while the daemon is away
    the adapter queues up to its bound, then refuses the next event with
    :class:`EventQueueFull` (queuing nothing, numbering nothing); once the daemon is
    back it gets every queued event once, in order, and new events are taken again."""
    wire = Wire(max_unacked_events=8)
    wire.connect()
    wire.event({"type": "health", "n": 0})
    wire.cut()  # the daemon is down: events wait
    for n in range(1, 9):
        wire.event({"type": "health", "n": n})
    assert wire.adapter.waiting == 8
    with pytest.raises(EventQueueFull) as refused:
        wire.adapter.event({"type": "health", "n": 9})
    assert (refused.value.waiting, refused.value.limit) == (8, 8)
    message = str(refused.value)
    assert "8 events already wait for the daemon" in message
    assert "not acknowledged" in message and "max_unacked_events=" in message
    with pytest.raises(EventQueueFull):  # and again: nothing was queued meanwhile
        wire.adapter.event({"type": "health", "n": 10})
    assert [f.d["n"] for f in wire.adapter.out.unacked] == list(range(1, 9))
    assert wire.adapter.out.out_s == 9  # no number was used by a refused event

    wire.connect()  # back: resume, and the queue is resent
    assert [f.d["n"] for f in wire.events] == list(range(9))  # each once, in order
    assert wire.adapter.waiting == 0
    wire.event({"type": "health", "n": 11})  # room again: taken
    assert [(f.s, f.d["n"]) for f in wire.events[-1:]] == [(10, 11)]


def test_acks_make_room_and_the_outage_ends_once_half_the_queue_is_acknowledged() -> None:
    """A daemon that takes events without acknowledging them fills the queue as surely
    as one that is down. Each ack makes room at once; the outage (one warning, then
    one :class:`QueueDrained` with how many were refused) ends at half the bound, so
    a queue hovering at its bound does not log once per event."""
    adapter = _adapter_on_link_1(limit=4)
    for n in range(1, 5):
        assert [f.s for f in sent(adapter.event({"type": "health", "n": n}))] == [n]
    for _ in range(3):
        with pytest.raises(EventQueueFull):
            adapter.event({"type": "health", "n": 0})
    assert adapter.refused == 3

    def ack(s: int) -> list[Effect]:
        return adapter.receive(encode(Frame("ack", {"s": s}), "json"), 1.0)

    assert ack(1) == [Acked(1)]  # room for one; the outage goes on
    assert [f.s for f in sent(adapter.event({"type": "health", "n": 5}))] == [5]
    with pytest.raises(EventQueueFull):
        adapter.event({"type": "health", "n": 0})
    assert adapter.refused == 4  # the same outage: counted, not warned again
    assert ack(3) == [Acked(3), QueueDrained(4)]  # 2 wait: half the bound
    assert adapter.refused == 0
    assert ack(5) == [Acked(5)]  # drained once
    assert [f.s for f in sent(adapter.event({"type": "health", "n": 6}))] == [6]


@pytest.mark.parametrize(
    ("previous", "waiting"),
    [
        ({"link_id": "link_1", "in_s": 3}, 1),  # 1-3 stored: only 4 waits, renumbered 1
        (None, 4),  # nothing known stored: all four wait, renumbered 1-4
    ],
)
def test_the_bound_counts_what_waits_after_identifying_again(
    previous: dict[str, Any] | None, waiting: int
) -> None:
    """Identifying again drops the events ``ready``'s ``previous`` says were stored and
    numbers the rest again: the bound counts those, not the numbers used before."""
    adapter = _adapter_on_link_1(limit=4)
    for n in range(1, 5):
        adapter.event({"type": "health", "n": n})
    with pytest.raises(EventQueueFull):
        adapter.event({"type": "health", "n": 0})
    assert adapter.closed(CloseCode.SESSION_INVALID) == "identify"
    adapter.receive(encode(Frame("hello", {"heartbeat_interval": 15000}), "json"), 1.0)
    d: dict[str, Any] = {"link_id": "link_2", "resume_token": "t2", "sessions": []}
    if previous is not None:
        d["previous"] = previous
    effects = adapter.receive(encode(Frame("ready", d), "json"), 1.0)
    assert [f.s for f in sent(effects)] == list(range(1, waiting + 1))
    assert adapter.waiting == waiting
    assert (QueueDrained(1) in effects) == (waiting <= 2)
    if waiting < 4:
        (frame,) = sent(adapter.event({"type": "health", "n": 5}))
        assert frame.s == waiting + 1
    else:
        with pytest.raises(EventQueueFull):
            adapter.event({"type": "health", "n": 5})


def test_the_bound_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="max_unacked_events"):
        AdapterLink(world="gmod", server_id="a", key=KEY, capabilities=[], max_unacked_events=0)
    assert (
        AdapterLink(world="gmod", server_id="a", key=KEY, capabilities=[]).max_unacked_events
        == MAX_UNACKED_EVENTS
        == 10_000
    )


# -- heartbeats ---------------------------------------------------------------------------


def test_first_heartbeat_is_jittered_then_every_interval() -> None:
    for seed in range(20):
        link = AdapterLink(
            world="gmod", server_id="a", key=KEY, capabilities=[], rng=random.Random(seed)
        )
        expected_r = random.Random(seed).random()
        hello = encode(Frame("hello", {"heartbeat_interval": 10_000}), "json")
        link.receive(hello, 100.0)
        assert link.heartbeat_interval == 10.0
        first = link.next_heartbeat
        assert first is not None
        assert 100.0 <= first < 110.0
        assert first == pytest.approx(100.0 + 10.0 * expected_r)
        assert link.tick(first + 0.001) == []  # not ready yet: no beat
        link.receive(encode(Frame("ready", {"link_id": "l", "resume_token": "t"}), "json"), 100)
        if first > 100.0:
            assert link.tick(first - 1e-6) == []
        assert link.tick(first) == [Send(Frame("heartbeat", {"ack": 0}))]
        assert link.tick(first + 9.999) == []
        assert link.tick(first + 10.0) == [Send(Frame("heartbeat", {"ack": 0}))]
        assert link.tick(first + 19.0) == []
        assert link.tick(first + 20.0) == [Send(Frame("heartbeat", {"ack": 0}))]


def test_first_heartbeats_are_spread_over_the_interval() -> None:
    rng = random.Random(7)
    firsts = []
    for _ in range(200):
        link = AdapterLink(world="gmod", server_id="a", key=KEY, capabilities=[], rng=rng)
        link.receive(encode(Frame("hello", {"heartbeat_interval": 1000}), "json"), 0.0)
        assert link.next_heartbeat is not None
        firsts.append(link.next_heartbeat)
    assert all(0.0 <= f < 1.0 for f in firsts)
    assert min(firsts) < 0.1 and max(firsts) > 0.9  # not all in step


def test_heartbeat_carries_the_adapters_ack() -> None:
    wire = Wire()
    wire.connect()
    wire.dispatch(action(1))
    wire.dispatch(action(2))
    assert wire.adapter.next_heartbeat is not None
    effects = wire.adapter.tick(wire.adapter.next_heartbeat)
    assert effects == [Send(Frame("heartbeat", {"ack": 2}))]
    answer = wire.server.receive(wire.adapter.encode(effects[0].frame), 1.0)  # type: ignore[union-attr]
    assert sent(answer) == [Frame("heartbeat_ack", {"ack": 0})]


def test_server_times_out_after_two_intervals_and_five_seconds_of_silence() -> None:
    link = ServerLink(heartbeat_interval=15.0, now=0.0, identify_timeout=60.0)
    link.connected(0.0)
    assert link.timed_out(35.0) == []  # 2 * 15 + 5: not yet
    assert link.timed_out(35.0 + 1e-6) == [Close(CloseCode.HEARTBEAT_TIMEOUT, "no heartbeat")]
    assert link.state == "closed"
    assert link.timed_out(100.0) == []  # once

    wire = Wire(interval=0.5)
    wire.connect()
    wire.now = 3.0
    wire.from_adapter([Send(Frame("heartbeat", {"ack": 0}))])  # any frame counts
    assert wire.server.timed_out(9.0) == []
    assert wire.server.timed_out(9.01) == [Close(CloseCode.HEARTBEAT_TIMEOUT, "no heartbeat")]


def test_server_closes_a_connection_that_does_not_identify_in_time() -> None:
    link = ServerLink(heartbeat_interval=15.0, now=0.0, identify_timeout=10.0)
    link.connected(0.0)
    assert link.timed_out(10.0) == []
    assert link.timed_out(10.5) == [Close(CloseCode.NOT_IDENTIFIED, "identify within 10 s")]


def test_server_closes_a_connection_over_its_frame_rate_before_decoding() -> None:
    wire = Wire(interval=15.0)
    wire.connect()
    heartbeat = wire.adapter.encode(Frame("heartbeat", {"ack": 0}))
    effects: list[Any] = []
    for _ in range(FRAME_RATE.capacity):  # the server's whole burst: all answered
        effects = wire.server.receive(heartbeat, wire.now)
        assert effects and isinstance(effects[-1], Send)
    assert wire.server.receive(b"not even a frame", wire.now) == [
        Close(CloseCode.RATE_LIMITED, "too many frames")
    ]
    assert wire.server.state == "closed"


def test_ack_or_resume_beyond_what_was_sent_closes_with_4007() -> None:
    wire = Wire(interval=15.0)
    wire.connect()
    wire.dispatch(action(1))
    wire.dispatch(action(2))
    assert wire.server.receive(wire.adapter.encode(Frame("ack", {"s": 3})), wire.now) == [
        Close(CloseCode.INVALID_SEQUENCE, "ack 3 is beyond the last dispatch sent (2)")
    ]
    link = wire.server.link
    assert link is not None and [f.s for f in link.unacked] == [1, 2]  # nothing dropped

    again = ServerLink(now=0.0)
    again.connected(0.0)
    again.receive(wire.adapter.encode(Frame("resume", {"link_id": "l", "resume_token": "t",
                                                        "last_s": 10**15})), 0.0)  # fmt: skip
    assert again.resume(link, 10**15) == [
        Close(CloseCode.INVALID_SEQUENCE, f"last_s {10**15} is beyond the last dispatch sent (2)")
    ]
    assert [f.s for f in link.unacked] == [1, 2]


# -- close codes and backoff --------------------------------------------------------------


def test_close_code_retry_mapping() -> None:
    expected = {
        1000: "stop",
        4004: "stop",
        4007: "identify",
        4011: "stop",
        4014: "stop",
        4003: "identify",
        4009: "identify",
        1001: "resume",
        4000: "resume",
        4002: "resume",
        4005: "resume",
        4008: "resume",
        4012: "resume",
        4013: "resume",
    }
    assert {int(c) for c in CloseCode} == set(expected)
    for code, action_ in expected.items():
        assert CloseCode(code).retry == action_, code


@pytest.mark.parametrize("code", [1000, 4004, 4011])
def test_adapter_stops_for_good_after_stop_codes(code: int) -> None:
    wire = Wire()
    wire.connect()
    assert wire.adapter.closed(code) == "stop"
    assert wire.adapter.stopped and not wire.adapter.ready


@pytest.mark.parametrize("code", [4003, 4009])
def test_adapter_forgets_its_link_after_identify_codes(code: int) -> None:
    wire = Wire()
    wire.connect()
    assert wire.adapter.closed(code) == "identify"
    assert wire.adapter.link_id is None and wire.adapter.resume_token is None
    assert not wire.adapter.stopped and not wire.adapter.ready
    wire.to_server_log.clear()
    wire.connect()
    assert wire.to_server_log[0].op == "identify"


@pytest.mark.parametrize("code", [1001, 1006, 1011, 4000, 4002, 4005, 4008, 4012, 4013, 4999])
def test_adapter_resumes_after_other_codes(code: int) -> None:
    wire = Wire()
    wire.connect()
    assert wire.adapter.closed(code) == "resume"
    assert wire.adapter.link_id == "link_1" and wire.adapter.resume_token == "ae_rt_token"
    assert not wire.adapter.stopped
    wire.to_server_log.clear()
    wire.connect()
    assert wire.to_server_log[0].op == "resume"


def test_backoff_doubles_to_60_seconds_with_jitter() -> None:
    link = AdapterLink(world="gmod", server_id="a", key=KEY, capabilities=[], rng=random.Random(3))
    mirror = random.Random(3)
    for attempt in range(12):
        base = min(60.0, 2.0**attempt)
        delay = link.backoff(attempt)
        assert 0.5 * base <= delay <= base, (attempt, delay)
        assert delay == pytest.approx(base * (0.5 + 0.5 * mirror.random()))
    assert [min(60.0, 2.0**a) for a in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    delays = [link.backoff(10) for _ in range(500)]
    assert min(delays) < 31 and max(delays) > 59  # the whole [30, 60] range is used
    assert all(30.0 <= d <= 60.0 for d in delays)


def test_backoff_does_not_overflow_after_many_attempts() -> None:
    link = AdapterLink(world="gmod", server_id="a", key=KEY, capabilities=[])
    assert 30.0 <= link.backoff(1024) <= 60.0


# -- frames -------------------------------------------------------------------------------


def _error_code(data: str | bytes, encoding: Encoding = "json", **kw: Any) -> CloseCode:
    with pytest.raises(DecodeError) as info:
        decode(data, encoding, **kw)
    return info.value.code


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encode_decode_roundtrip(encoding: Encoding) -> None:
    frames = [
        Frame("hello", {"protocol": 1}),
        Frame(
            "dispatch",
            {
                "type": "action",
                "action": {"type": "chat", "message": 'héllo 世界 🎉 \u2028 "quoted" \\ back'},
            },
            7,
            "sess_1",
        ),
        Frame("event", {"type": "health", "health": 12.5, "food": None, "list": [1, [2, {}]]}, 1),
        Frame("ack", {}),
        Frame("ünïcode_öp", {"ключ": "значение"}, None, "sïd"),
    ]
    for frame in frames:
        data = encode(frame, encoding)
        assert isinstance(data, str if encoding == "json" else bytes)
        assert decode(data, encoding) == frame
    text = encode(frames[1], "json")
    assert isinstance(text, str) and "世界 🎉" in text  # UTF-8 text, not \u escapes
    assert "s" not in json.loads(encode(Frame("ack", {"s": 1}), "json"))  # unsequenced
    assert "sid" not in json.loads(encode(Frame("ack", {}), "json"))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decode_refuses_frames_over_the_size_limit(encoding: Encoding) -> None:
    big = Frame("event", {"type": "x", "pad": "a" * MAX_FRAME_BYTES}, 1)
    assert _error_code(encode(big, encoding), encoding) == CloseCode.FRAME_TOO_LARGE
    small = encode(Frame("event", {"pad": "a" * 100}, 1), encoding)
    assert _error_code(small, encoding, max_bytes=50) == CloseCode.FRAME_TOO_LARGE
    assert decode(small, encoding, max_bytes=len(small)).d["pad"] == "a" * 100


def test_decode_size_is_counted_in_utf8_bytes() -> None:
    text = json.dumps({"op": "x", "d": {"p": "é" * 40_000}}, ensure_ascii=False)
    assert len(text) < MAX_FRAME_BYTES < len(text.encode())
    assert _error_code(text) == CloseCode.FRAME_TOO_LARGE


def _nested(levels: int) -> Any:
    value: Any = 1
    for i in range(levels):
        value = {"a": value} if i % 2 else [value]
    return value


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decode_refuses_deep_nesting(encoding: Encoding) -> None:
    def frame(levels: int) -> str | bytes:
        raw = {"op": "x", "d": {"v": _nested(levels)}}
        return json.dumps(raw) if encoding == "json" else msgpack.packb(raw)

    # the frame is depth 0, d depth 1, d.v depth 2: the deepest value sits at levels + 2
    assert decode(frame(MAX_DEPTH - 2), encoding).op == "x"
    assert _error_code(frame(MAX_DEPTH - 1), encoding) == CloseCode.DECODE_ERROR
    assert _error_code(frame(200), encoding) == CloseCode.DECODE_ERROR


def test_decode_refuses_pathological_nesting_without_recursing() -> None:
    assert _error_code("[" * 10_000 + "]" * 10_000) == CloseCode.DECODE_ERROR
    deep_obj = '{"op":"x","d":' + '{"a":' * 10_000 + "1" + "}" * 10_001
    assert _error_code(deep_obj) == CloseCode.DECODE_ERROR
    assert _error_code(b"\x91" * 10_000 + b"\xc0", "msgpack") == CloseCode.DECODE_ERROR
    assert _error_code(b"\x81\xa1a" * 10_000 + b"\xc0", "msgpack") == CloseCode.DECODE_ERROR


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ('{"op":', "json"),
        ("", "json"),
        ('{"op":"x"}{"op":"y"}', "json"),
        ("[1, 2]", "json"),
        ('"op"', "json"),
        ("42", "json"),
        ("null", "json"),
        ('{"d":{}}', "json"),
        ('{"op":5}', "json"),
        ('{"op":""}', "json"),
        ('{"op":null}', "json"),
        ('{"op":"x","d":[]}', "json"),
        ('{"op":"x","d":"y"}', "json"),
        ('{"op":"x","s":"1"}', "json"),
        ('{"op":"x","s":0}', "json"),
        ('{"op":"x","s":-3}', "json"),
        ('{"op":"x","s":1.5}', "json"),
        ('{"op":"x","s":true}', "json"),
        ('{"op":"x","s":' + str(2**53) + "}", "json"),  # beyond MAX_SEQUENCE
        ('{"op":"x","s":' + "9" * 30 + "}", "json"),
        ('{"op":"x","sid":5}', "json"),
        ('{"op":"x","sid":""}', "json"),
        ('{"op":"x","sid":"' + "x" * 65 + '"}', "json"),
        (b'{"op":"x"}', "json"),  # binary frame on a JSON link
        ('{"op":"x"}', "msgpack"),  # text frame on a MessagePack link
        (b"\xc1", "msgpack"),  # never used byte
        (b"", "msgpack"),
        (b"\x81\xa2op", "msgpack"),  # truncated
        (msgpack.packb({"op": "x"}) + b"\x01", "msgpack"),  # extra data
        (msgpack.packb([1, 2]), "msgpack"),
        (msgpack.packb("op"), "msgpack"),
        (msgpack.packb({1: "x"}), "msgpack"),  # non-string keys
        (msgpack.packb({"op": b"x"}), "msgpack"),  # op is bytes
        (msgpack.packb({"op": "x", "s": 2.0}), "msgpack"),
        (msgpack.packb({"op": "x", "s": 2**64 - 1}), "msgpack"),
        (b"\x81\xa2op\xa2\xff\xfe", "msgpack"),  # invalid UTF-8
    ],
)
def test_decode_errors(data: str | bytes, encoding: Encoding) -> None:
    assert _error_code(data, encoding) == CloseCode.DECODE_ERROR


def test_decode_accepts_the_envelope_variants() -> None:
    assert decode('{"op":"x"}', "json") == Frame("x", {})
    assert decode('{"op":"x","d":null}', "json") == Frame("x", {})
    assert decode('{"op":"x","s":' + str(2**53 - 1) + "}", "json").s == MAX_SEQUENCE
    assert decode('{"op":"x","s":1,"sid":"' + "y" * 64 + '","extra":[1]}', "json") == Frame(
        "x", {}, 1, "y" * 64
    )
    assert decode(msgpack.packb({"op": "x", "d": {"b": b"\x00"}}), "msgpack").d == {"b": b"\x00"}


def test_the_event_budget_of_a_link_survives_a_reconnection() -> None:
    from encounters.moderation.ratelimit import InProcessRateLimiter

    now = [0.0]
    shared = InProcessRateLimiter(clock=lambda: now[0])
    state = LinkState("link_1", "minecraft", "srv-1", ["chat"])

    def ready(link: ServerLink, resume: bool) -> None:
        link.connected(now[0])
        if resume:
            link.receive(json.dumps({"op": "resume", "d": {"link_id": "link_1",
                                     "resume_token": "t", "last_s": 0}}), now[0])  # fmt: skip
            link.resume(state, 0)
        else:
            identify = {"op": "identify", "d": {"world": "minecraft", "server_id": "srv-1",
                                                "key": KEY}}  # fmt: skip
            link.receive(json.dumps(identify), now[0])
            link.accept(state, "t", [])

    def event(link: ServerLink, s: int) -> list[str]:
        effects = link.receive(json.dumps({"op": "event", "s": s, "d": {"type": "x"}}), now[0])
        return [f.d["code"] for f in sent(effects) if f.op == "error"]

    first = ServerLink(limiter=shared)
    ready(first, resume=False)
    assert all(event(first, s) == [] for s in range(1, EVENT_RATE.capacity + 1))
    assert event(first, EVENT_RATE.capacity + 1) == ["rate_limited"]
    # the adapter reconnects at once: the budget is the link's, not the connection's
    second = ServerLink(limiter=shared)
    ready(second, resume=True)
    assert event(second, EVENT_RATE.capacity + 1) == ["rate_limited"]
    now[0] += 1.0  # a second later there is room again
    assert event(second, EVENT_RATE.capacity + 1) == []


def test_json_frames_the_fast_codec_refuses_still_go_out() -> None:
    """Frames are written by orjson; what it refuses (an integer beyond 64 bits, a lone
    surrogate) is written as the standard library writes it, and reads back."""
    plain = Frame("dispatch", {"type": "action", "action": {"message": "héllo ✓"}}, 3, "s1")
    assert encode(plain, "json") == json.dumps(
        plain.to_wire(), ensure_ascii=False, separators=(",", ":")
    )
    big = Frame("dispatch", {"n": 2**70}, 4, "s1")
    assert decode(encode(big, "json"), "json") == big
    lone = Frame("dispatch", {"text": "a\ud800b"}, 5, "s1")
    text = encode(lone, "json")
    assert isinstance(text, str) and json.loads(text)["d"]["text"] == "a\ud800b"


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [
        ("200", 15.0),
        (None, 15.0),
        (True, 15.0),
        ("NaN", 15.0),
        (0, 15.0),
        (-1000, 15.0),
        ("1e999", 15.0),
        (10**400, 15.0),
        (1, 0.05),
        (200, 0.2),
    ],
    ids=["text", "null", "bool", "nan", "zero", "negative", "inf", "huge", "1ms", "200ms"],
)
def test_the_adapter_takes_only_a_usable_heartbeat_interval_from_hello(
    interval: object, seconds: float
) -> None:
    """A daemon's ``hello`` whose interval is no positive finite number (a string,
    NaN, zero, negative, beyond any float) leaves the adapter at 15 s instead of
    stopping it or having it beat in a loop; a tiny one is raised to 50 ms."""
    adapter = AdapterLink(world="minecraft", server_id="srv-1", key=KEY, capabilities=[])
    value = interval if interval not in ("NaN", "1e999") else "@"
    text = json.dumps({"op": "hello", "d": {"heartbeat_interval": value}})
    text = text.replace('"@"', str(interval))  # JSON's NaN and an overflowing float
    assert sent(adapter.receive(text, 0.0))[0].op == "identify"
    assert adapter.heartbeat_interval == seconds


def test_an_ack_beyond_the_events_sent_drops_none_of_the_queue() -> None:
    """A daemon acknowledging (or saying it stored) events the adapter never sent, as
    a broken or hostile one may, drops none of those queued while it was away: they
    are sent and kept until a true ack covers them."""
    adapter = AdapterLink(world="minecraft", server_id="srv-1", key=KEY, capabilities=[])
    hello = encode(Frame("hello", {"heartbeat_interval": 15000}), "json")
    adapter.receive(hello, 0.0)
    ready = {"link_id": "link_1", "resume_token": "t1", "sessions": []}
    adapter.receive(encode(Frame("ready", ready), "json"), 0.0)
    assert sent(adapter.event({"type": "health", "n": 1}))[0].s == 1
    adapter.closed(1006)
    for n in (2, 3, 4):  # queued while disconnected: never sent
        assert adapter.event({"type": "health", "n": n}) == []
    assert sent(adapter.receive(hello, 0.0))[0].op == "resume"
    for lie in (Frame("heartbeat_ack", {"ack": 4}), Frame("ack", {"s": 10**9})):
        assert adapter.receive(encode(lie, "json"), 0.0) == []
    assert adapter.waiting == 4
    resent = sent(adapter.receive(encode(Frame("resumed", {"replayed": 0}), "json"), 0.0))
    assert [f.d["n"] for f in resent] == [1, 2, 3, 4]
    adapter.receive(encode(Frame("ack", {"s": 4}), "json"), 0.0)  # now a true one
    assert adapter.waiting == 0
    # identifying again: ``previous.in_s`` beyond what was sent keeps the unsent ones
    adapter.event({"type": "health", "n": 5})
    adapter.closed(CloseCode.SESSION_INVALID)
    adapter.event({"type": "health", "n": 6})
    assert sent(adapter.receive(hello, 0.0))[0].op == "identify"
    told = {**ready, "link_id": "link_2", "previous": {"link_id": "link_1", "in_s": 99}}
    again = sent(adapter.receive(encode(Frame("ready", told), "json"), 0.0))
    assert [(f.s, f.d["n"]) for f in again] == [(1, 6)]  # 5 was stored, 6 never sent


def test_nul_and_lone_surrogates_read_as_u_fffd_and_nothing_else_changes() -> None:
    """No store holds a NUL or a lone surrogate (PostgreSQL neither): both read as
    U+FFFD, in keys and values, in either encoding; a surrogate pair, an escaped
    backslash and other text are read as written."""
    text = r'{"op":"x","d":{"k\u0000":["\ud800a","\ud83d\ude00","\\ud800","\u00e9\udfff"]}}'
    assert decode(text, "json").d == {"k\ufffd": ["\ufffda", "😀", "\\ud800", "é\ufffd"]}
    packed = msgpack.packb({"op": "x", "d": {"k\x00": ["a\x00b", 0, b"\x00"]}})
    assert decode(packed, "msgpack").d == {"k\ufffd": ["a\ufffdb", 0, b"\x00"]}
