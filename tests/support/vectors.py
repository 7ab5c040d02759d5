"""The reference harness for the bridge conformance vectors (``bridge/spec/vectors/*.json``):
it runs a vector against a real daemon from the adapter's side.

Each vector runs against its own daemon (a :class:`BridgeEdge` on a fresh
:class:`SQLiteStore`, listening on 127.0.0.1, port 0). ``bridge/spec/README.md`` describes
the format and what a Lua or Node runner must do to run the same files; the GMod and
Minecraft tests plug their codecs into :func:`run_vector` behind the same steps.

A vector that fails because of a known daemon bug is listed in ``KNOWN_BUGS``: it is a
strict xfail that must fail with :class:`VectorFailure` (a harness crash or a timeout in
the runner itself is not the bug), and it turns into an error once the bug is fixed, so
the entry gets removed with the fix.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import msgpack
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server
from websockets.exceptions import ConnectionClosed, InvalidStatus

from encounters.models import utcnow
from encounters.storage import SQLiteStore
from encounters_bridge.frames import Encoding, Frame, decode, encode, frame_from
from encounters_bridge.keys import create_world_key
from encounters_bridge.protocol import WORLDS
from encounters_bridge.server import BridgeEdge, Connection
from encounters_bridge.store import BridgeStore, open_bridge_store

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "bridge" / "spec"
VECTORS = sorted((SPEC / "vectors").glob("*.json"))
PROTOCOL_MD = ROOT / "bridge" / "PROTOCOL.md"

RECV_TIMEOUT = 3.0  #: longest wait for one frame, close or event
CLOSE_HANDSHAKE_TIMEOUT = 1.0  #: after its close frame, the daemon closes TCP within this
NO_EVENT_SETTLE = 0.2  #: how long "expect_no_event" waits for a stray event
BAD_KEY = "ae_wk_000000000000_" + "A" * 32  #: well formed, never issued

pytestmark = pytest.mark.timeout(60)


@dataclass(frozen=True)
class Bug:
    """A daemon bug that makes a vector fail: the failure message must contain
    ``symptom`` (so the vector still fails for this reason and no other)."""

    id: str
    where: str
    summary: str
    symptom: str


#: vector name -> the known bug it shows (a strict xfail; see the module docstring)
KNOWN_BUGS: dict[str, Bug] = {}

WIRE_STEPS = {
    "send", "send_raw", "send_raw_b64", "send_sized", "send_nested", "send_many",
    "recv", "recv_unordered", "recv_many", "recv_until_close", "close",
    "connect", "connect_rejected", "drop", "reconnect", "wait",
}  # fmt: skip
#: harness steps -> the capability a runner needs from the daemon's side
HARNESS_STEPS = {
    "dispatch": "dispatch",
    "expect_event": "events",
    "expect_no_event": "events",
    "expect_ack_invariant": "events",
    "advance_clock": "clock",
    "freeze_clock": "clock",
    "restart_daemon": "restart",
    "revoke_key": "revoke",
}
REQUIREMENTS = {*HARNESS_STEPS.values(), "sessions"}


def _close_of(frame: Any) -> tuple[int, str]:
    """Code and reason of a received close frame (1006 when there was none)."""
    return (frame.code, frame.reason) if frame is not None else (1006, "")


class VectorFailure(AssertionError):
    """The daemon did not behave as the vector says."""


class LinkClosed(VectorFailure):
    """A frame was expected; the daemon closed the link instead."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"expected a frame, the link closed with {code} {reason!r}")
        self.code = code


# -- vectors -------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return vector


def requirements(vector: dict[str, Any]) -> set[str]:
    """What a runner needs beyond a plain daemon and provisioned keys."""
    kinds = {kind for step in vector["steps"] for kind in step}
    needs = {HARNESS_STEPS[kind] for kind in kinds if kind in HARNESS_STEPS}
    if vector.get("setup", {}).get("sessions"):
        needs.add("sessions")
    return needs


def vector_params() -> list[Any]:
    out = []
    for path in VECTORS:
        vector = load(path)
        for encoding in vector.get("encodings", ["json", "msgpack"]):
            out.append(pytest.param(path, encoding, id=f"{path.stem}-{encoding}"))
    return out


# -- patterns --------------------------------------------------------------------------


def match(pattern: Any, value: Any, captures: dict[str, Any], path: str = "$") -> None:
    """Raise :class:`VectorFailure` unless ``value`` matches ``pattern``; new captures
    go into ``captures`` (the caller commits them only when the whole frame matched)."""
    if isinstance(pattern, str) and pattern.startswith("$"):
        kind, _, name = pattern.partition(":")
        if kind == "$any":
            return
        if kind == "$int":
            if isinstance(value, int) and not isinstance(value, bool):
                return
            raise VectorFailure(f"{path}: expected an integer, got {value!r}")
        if kind == "$str":
            if isinstance(value, str):
                return
            raise VectorFailure(f"{path}: expected a string, got {value!r}")
        if kind == "$capture":
            captures[name] = value
            return
        if kind == "$ref":
            if name not in captures:
                raise VectorFailure(f"{path}: $ref:{name} was never captured")
            pattern = captures[name]
        elif kind == "$not_ref":
            if value == captures.get(name):
                raise VectorFailure(f"{path}: expected anything but {value!r}")
            return
        elif pattern.startswith("$$"):
            pattern = pattern[1:]  # a literal string starting with "$"
        else:
            raise VectorFailure(f"{path}: unknown pattern {pattern!r} (bad vector)")
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            raise VectorFailure(f"{path}: expected an object, got {value!r}")
        for key, sub in pattern.items():
            if sub == "$absent":
                if key in value:
                    raise VectorFailure(f"{path}.{key}: expected absent, got {value[key]!r}")
                continue
            if key not in value:
                raise VectorFailure(f"{path}.{key}: missing (in {value!r})")
            match(sub, value[key], captures, f"{path}.{key}")
        return
    if isinstance(pattern, list):
        if not isinstance(value, list) or len(value) != len(pattern):
            raise VectorFailure(f"{path}: expected {pattern!r}, got {value!r}")
        for i, (sub, item) in enumerate(zip(pattern, value, strict=True)):
            match(sub, item, captures, f"{path}[{i}]")
        return
    if type(pattern) is not type(value) or pattern != value:
        raise VectorFailure(f"{path}: expected {pattern!r}, got {value!r}")


def matches(pattern: Any, value: Any, captures: dict[str, Any]) -> bool:
    trial = dict(captures)
    try:
        match(pattern, value, trial)
    except VectorFailure:
        return False
    captures.update(trial)
    return True


# -- encoding what the adapter sends -------------------------------------------------------


def encode_value(value: Any, encoding: Encoding) -> str | bytes:
    """A frame as the link's encoding carries it. Well-formed envelopes go through
    :func:`encounters_bridge.frames.encode`; anything else (arrays, numbers, a missing
    ``op``, unknown fields) is encoded as it is, with the same settings."""
    if isinstance(value, dict) and set(value) <= {"op", "d", "s", "sid"} and "d" in value:
        try:
            frame = frame_from(value)
        except ValueError:
            frame = None
        if frame is not None and frame.to_wire() == value:
            return encode(frame, encoding)
    if encoding == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def _size(data: str | bytes) -> int:
    return len(data.encode("utf-8")) if isinstance(data, str) else len(data)


def sized(frame: dict[str, Any], size: int, encoding: Encoding) -> str | bytes:
    """``frame`` with a top-level ``pad`` string making it exactly ``size`` bytes."""
    pad = 0
    for _ in range(8):
        data = encode_value({**frame, "pad": "x" * pad}, encoding)
        if _size(data) == size:
            return data
        pad = max(0, pad + size - _size(data))
    raise AssertionError(f"cannot pad {frame!r} to exactly {size} bytes")


def nested(op: str, depth: int, kind: str, encoding: Encoding) -> str | bytes:
    """``{"op": op, "d": {"n": <chain>}}`` nesting exactly ``depth`` containers deep
    (the envelope is level 1), built without recursion."""
    if depth < 3:
        raise AssertionError("send_nested needs a depth of at least 3")
    links = depth - 3  # envelope, d, and the innermost empty container
    if encoding == "json":
        head = '{"n":' if kind == "object" else "["
        tail = "}" if kind == "object" else "]"
        chain = head * links + ("{}" if kind == "object" else "[]") + tail * links
        return f'{{"op":{json.dumps(op)},"d":{{"n":{chain}}}}}'
    n: bytes = msgpack.packb("n")
    head_b = b"\x81" + n if kind == "object" else b"\x91"
    chain_b = head_b * links + (b"\x80" if kind == "object" else b"\x90")
    envelope: bytes = b"\x82" + msgpack.packb("op") + msgpack.packb(op) + msgpack.packb("d")
    return envelope + b"\x81" + n + chain_b


# -- the daemon's side ---------------------------------------------------------------------


@dataclass
class Harness:
    """A daemon for one vector, plus the hooks harness steps need."""

    store: BridgeStore
    setup: dict[str, Any]
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)
    edge: BridgeEdge | None = None
    server: Server | None = None
    port: int = 0
    clock_offset: float = 0.0
    frozen_at: float | None = None  #: the daemon's time stands still from here
    events: list[dict[str, Any]] = field(default_factory=list)  #: not yet expected
    history: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)

    @property
    def world(self) -> str:
        world: str = self.setup.get("world", "gmod")
        return world

    @property
    def server_id(self) -> str:
        server_id: str = self.setup.get("server_id", "srv-1")
        return server_id

    def clock(self) -> float:
        now = time.monotonic() if self.frozen_at is None else self.frozen_at
        return now + self.clock_offset

    async def provision(self) -> None:
        other = next(w for w in WORLDS if w != self.world)
        for name, world in (("key", self.world), ("check", self.world), ("other", other)):
            record, key = await create_world_key(self.store, f"vectors-{name}", world)  # type: ignore[arg-type]
            self.keys[name], self.key_ids[name] = key, record.id
        record, key = await create_world_key(self.store, "vectors-revoked", self.world)  # type: ignore[arg-type]
        await self.store.save_world_key(record.model_copy(update={"revoked_at": utcnow()}))
        self.keys["revoked"] = key

    async def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1 (``port``: a given one, for a daemon back where it was)."""
        sessions = list(self.setup.get("sessions", []))

        async def sessions_for(world: str, server_id: str) -> list[dict[str, Any]]:
            return sessions if (world, server_id) == (self.world, self.server_id) else []

        async def on_event(conn: Connection, frame: Frame) -> None:
            self.events.append(frame.to_wire())
            self.history.append((conn.link_id, frame.to_wire()))

        self.edge = BridgeEdge(
            self.store,
            heartbeat_interval=float(self.setup.get("heartbeat_interval", 0.2)),
            clock=self.clock,
            sessions_for=sessions_for,
        )
        self.edge.on_event.append(on_event)
        self.server = await self.edge.serve("127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.edge is not None:
            for conn in list(self.edge.connections.values()):
                if conn.closed:  # closed by the daemon, stuck in its close timeout (BUG-6)
                    conn.ws.transport.abort()
            await self.edge.close_all()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        self.edge = self.server = None

    async def restart(self) -> None:
        """A graceful restart: links close with 1001, the new daemon (new port) has
        nothing in memory, only the store."""
        await self.stop()
        await self.start()

    async def dispatch(self, step: dict[str, Any]) -> None:
        assert self.edge is not None
        frame = Frame("dispatch", step["d"], sid=step.get("sid"))
        s = await self.edge.dispatch(self.world, self.server_id, frame)
        if s is None:
            raise VectorFailure(f"the daemon refused to dispatch to {self.server_id}: {step!r}")

    async def revoke(self) -> None:
        record = await self.store.get_world_key(self.key_ids["key"])
        assert record is not None
        await self.store.save_world_key(record.model_copy(update={"revoked_at": utcnow()}))


# -- the adapter's side --------------------------------------------------------------------


@dataclass
class Runner:
    vector: dict[str, Any]
    encoding: Encoding
    harness: Harness
    captures: dict[str, Any] = field(default_factory=dict)
    ws: ClientConnection | None = None
    background: list[ClientConnection] = field(default_factory=list)  #: kept open, unread
    link_id: str | None = None  #: the link identity of the last ready frame
    acked: dict[str, int] = field(default_factory=dict)  #: link id -> highest event s acked

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.harness.port}/ws?encoding={self.encoding}"

    async def run(self) -> None:
        for index, step in enumerate(self.vector["steps"]):
            if len(step) != 1:
                raise AssertionError(f"step {index} needs exactly one kind: {step!r}")
            ((kind, arg),) = step.items()
            try:
                await getattr(self, f"_{kind}")(arg)
            except VectorFailure as exc:
                raise VectorFailure(f"step {index} {step!r}: {exc}") from None
            except TimeoutError:
                raise VectorFailure(
                    f"step {index} {step!r}: nothing within {RECV_TIMEOUT} s"
                ) from None

    async def keeps_serving(self) -> None:
        """After the vector: a fresh link still gets hello and ready."""
        await self._connect(True)
        await self._recv({"op": "hello"})
        await self._send({"op": "identify", "d": {
            "protocol": 1, "world": self.harness.world, "server_id": "keeps-serving",
            "key": self.harness.keys["check"], "adapter": {"name": "vectors", "version": "1"},
            "capabilities": [],
        }})  # fmt: skip
        await self._recv({"op": "ready", "d": {"link_id": "$str"}})
        await self.close()

    async def close(self, everything: bool = False) -> None:
        """Close our side; give up on a daemon that does not answer (and cut TCP)."""
        for ws in [self.ws, *(self.background if everything else [])]:
            if ws is not None:
                with anyio.move_on_after(1):
                    await ws.close()
                ws.transport.abort()
        self.ws = None
        if everything:
            self.background.clear()

    # plumbing ----------------------------------------------------------------------------

    def _subst(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._subst(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._subst(v) for v in value]
        if isinstance(value, str) and value.startswith("$"):
            keys = self.harness.keys
            fixed = {
                "$key": keys["key"], "$other_world_key": keys["other"],
                "$revoked_key": keys["revoked"], "$bad_key": BAD_KEY,
            }  # fmt: skip
            if value in fixed:
                return fixed[value]
            if value.startswith("$ref:"):
                name = value[5:]
                if name not in self.captures:
                    raise AssertionError(f"$ref:{name} was never captured (bad vector)")
                return self.captures[name]
            if value.startswith("$$"):
                return value[1:]
            raise AssertionError(f"unknown placeholder {value!r} in a sent frame (bad vector)")
        return value

    def _socket(self) -> ClientConnection:
        if self.ws is None:
            raise AssertionError("no connection: the vector needs a connect step")
        return self.ws

    async def _put(self, data: str | bytes) -> None:
        try:
            await self._socket().send(data)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else 1006
            raise VectorFailure(f"the daemon had closed the link ({code})") from None

    async def _next(self) -> str | bytes:
        """The next message from the daemon, or :class:`LinkClosed` once the daemon's
        close frame has arrived (not only when TCP is gone: the daemon may be slow to
        finish the closing handshake, which :meth:`_close_code` checks separately)."""
        ws = self._socket()
        with anyio.fail_after(RECV_TIMEOUT):
            while True:
                try:
                    with anyio.move_on_after(0.05):
                        return await ws.recv()  # cancelling recv() loses nothing
                except ConnectionClosed as exc:
                    raise LinkClosed(*_close_of(exc.rcvd)) from None
                if ws.protocol.close_rcvd is not None:
                    raise LinkClosed(*_close_of(ws.protocol.close_rcvd))

    async def _frame(self) -> dict[str, Any]:
        """The next frame from the daemon, decoded as the link's encoding requires."""
        data = await self._next()
        try:
            wire = decode(data, self.encoding, max_bytes=1 << 24).to_wire()
        except ValueError as exc:
            raise VectorFailure(f"the daemon sent an undecodable frame {data!r}: {exc}") from None
        self._observe(wire)
        return wire

    def _observe(self, wire: dict[str, Any]) -> None:
        if wire["op"] == "ready":
            self.link_id = wire["d"].get("link_id")
        acked = wire["d"].get("s") if wire["op"] == "ack" else wire["d"].get("ack")
        if wire["op"] in ("ack", "heartbeat_ack") and isinstance(acked, int) and self.link_id:
            self.acked[self.link_id] = max(self.acked.get(self.link_id, 0), acked)

    async def _collect(self, arg: dict[str, Any], until_close: bool) -> None:
        allow = arg.get("allow", ["$any"])
        counts = [0] * len(arg.get("require", []))
        received = 0
        while until_close or received < arg["count"]:
            try:
                wire = await self._frame()
            except LinkClosed:
                if not until_close:
                    raise
                await self._close_code(arg["code"])
                break
            received += 1
            if not any(matches(p, wire, self.captures) for p in allow):
                raise VectorFailure(f"frame {received} {wire!r} matches no allowed pattern")
            for i, req in enumerate(arg.get("require", [])):
                if matches(req["match"], wire, self.captures):
                    counts[i] += 1
        for i, req in enumerate(arg.get("require", [])):
            lo, hi = req.get("min", 0), req.get("max")
            if counts[i] < lo or (hi is not None and counts[i] > hi):
                raise VectorFailure(
                    f"{counts[i]} frames matched {req['match']!r}; wanted {lo}..{hi or ''}"
                )

    async def _close_code(self, code: int) -> None:
        """The daemon's close frame carried ``code``; the closing handshake then ends
        promptly (the daemon closes TCP), as the adapter's side of it is automatic."""
        ws = self._socket()
        got, reason = _close_of(ws.protocol.close_rcvd)
        if got != code:
            raise VectorFailure(f"expected close {code}, got {got} {reason!r}")
        with anyio.move_on_after(CLOSE_HANDSHAKE_TIMEOUT) as waiting:
            await ws.wait_closed()
        if waiting.cancelled_caught:
            raise VectorFailure(
                f"close {code} received, but the daemon did not finish the closing handshake "
                f"within {CLOSE_HANDSHAKE_TIMEOUT} s"
            )

    # wire steps --------------------------------------------------------------------------

    async def _send(self, frame: Any) -> None:
        await self._put(encode_value(self._subst(frame), self.encoding))

    async def _send_raw(self, text: str) -> None:
        await self._put(text)

    async def _send_raw_b64(self, b64: str) -> None:
        await self._put(base64.b64decode(b64))

    async def _send_sized(self, arg: dict[str, Any]) -> None:
        await self._put(sized(self._subst(arg["frame"]), arg["bytes"], self.encoding))

    async def _send_nested(self, arg: dict[str, Any]) -> None:
        kind = arg.get("kind", "object")
        await self._put(nested(arg.get("op", "heartbeat"), arg["depth"], kind, self.encoding))

    async def _send_many(self, arg: dict[str, Any]) -> None:
        """Frames with ``$seq`` = first, first + 1 ...; stops quietly once the daemon has
        closed the link (what it answered is checked by the next steps)."""
        template = json.dumps(arg["frame"])
        for i in range(arg["count"]):
            seq = arg.get("first", 1) + i
            frame = json.loads(template.replace('"$seq"', str(seq)))
            try:
                await self._socket().send(encode_value(self._subst(frame), self.encoding))
            except ConnectionClosed:
                return

    async def _recv(self, pattern: Any) -> None:
        wire = await self._frame()
        trial = dict(self.captures)
        match(pattern, wire, trial)
        self.captures = trial

    async def _recv_unordered(self, patterns: list[Any]) -> None:
        left = list(patterns)
        while left:
            wire = await self._frame()
            for i, pattern in enumerate(left):
                if matches(pattern, wire, self.captures):
                    del left[i]
                    break
            else:
                raise VectorFailure(f"{wire!r} matches none of {left!r}")

    async def _recv_many(self, arg: dict[str, Any]) -> None:
        await self._collect(arg, until_close=False)

    async def _recv_until_close(self, arg: dict[str, Any]) -> None:
        await self._collect(arg, until_close=True)

    async def _close(self, code: int) -> None:
        try:
            data = await self._next()
        except LinkClosed:
            await self._close_code(code)
            return
        raise VectorFailure(f"expected close {code}, got the frame {data!r}")

    async def _connect(self, arg: Any) -> None:
        """A new connection. ``{"keep_previous": "open"}`` leaves the current one open
        (unread, but its WebSocket layer still answers pings and closes);
        ``"unresponsive"`` also stops reading it at the TCP level, so to the daemon it is
        a half-open link whose peer is gone and answers nothing."""
        keep = arg.get("keep_previous") if isinstance(arg, dict) else None
        if keep in ("open", "unresponsive") and self.ws is not None:
            if keep == "unresponsive":
                self.ws.transport.pause_reading()
            self.background.append(self.ws)
            self.ws = None
        await self.close()
        with anyio.fail_after(RECV_TIMEOUT):
            self.ws = await connect(self.url, ping_interval=None, max_size=None, compression=None)

    async def _connect_rejected(self, arg: dict[str, Any]) -> None:
        url = f"ws://127.0.0.1:{self.harness.port}{arg['path']}"
        try:
            with anyio.fail_after(RECV_TIMEOUT):
                ws = await connect(url, ping_interval=None, compression=None)
        except InvalidStatus as exc:
            if exc.response.status_code != arg["status"]:
                raise VectorFailure(
                    f"{arg['path']}: HTTP {exc.response.status_code}, wanted {arg['status']}"
                ) from None
            return
        await ws.close()
        raise VectorFailure(f"{arg['path']}: the daemon accepted the WebSocket")

    async def _drop(self, _arg: Any) -> None:
        """A network failure: the socket goes away without a close handshake."""
        ws = self._socket()
        ws.transport.abort()
        with anyio.fail_after(RECV_TIMEOUT):
            await ws.wait_closed()
        self.ws = None

    async def _reconnect(self, _arg: Any) -> None:
        await self._drop(True)
        await self._connect(True)

    async def _wait(self, seconds: float) -> None:
        await anyio.sleep(seconds)

    # harness steps -----------------------------------------------------------------------

    async def _dispatch(self, arg: dict[str, Any]) -> None:
        await self.harness.dispatch(arg)

    async def _expect_event(self, pattern: Any) -> None:
        with anyio.fail_after(RECV_TIMEOUT):
            while not self.harness.events:
                await anyio.sleep(0.005)
        wire = self.harness.events.pop(0)
        trial = dict(self.captures)
        match(pattern, wire, trial)
        self.captures = trial

    async def _expect_no_event(self, _arg: Any) -> None:
        await anyio.sleep(NO_EVENT_SETTLE)
        if self.harness.events:
            raise VectorFailure(f"unexpected events delivered: {self.harness.events!r}")

    async def _expect_ack_invariant(self, _arg: Any) -> None:
        """Acks are cumulative: every event up to the highest acked s of this link was
        delivered to the application, none twice, and in the order of their s."""
        await anyio.sleep(NO_EVENT_SETTLE)
        if self.link_id is None:
            raise AssertionError("expect_ack_invariant before any ready (bad vector)")
        delivered = [w["s"] for lid, w in self.harness.history if lid == self.link_id]
        twice = sorted({s for s in delivered if delivered.count(s) > 1})
        if twice:
            raise VectorFailure(f"events delivered twice: {twice}")
        if delivered != sorted(delivered):
            raise VectorFailure(f"events delivered out of order: {delivered}")
        top = self.acked.get(self.link_id, 0)
        lost = sorted(set(range(1, top + 1)) - set(delivered))
        if lost:
            raise VectorFailure(f"acked up to s={top} but never delivered: {lost}")

    async def _advance_clock(self, seconds: float) -> None:
        self.harness.clock_offset += seconds
        # let the watchdog (every heartbeat_interval / 2) see the new time
        await anyio.sleep(float(self.harness.setup.get("heartbeat_interval", 0.2)))

    async def _freeze_clock(self, _arg: Any) -> None:
        self.harness.frozen_at = time.monotonic()

    async def _restart_daemon(self, _arg: Any) -> None:
        await self.harness.restart()

    async def _revoke_key(self, _arg: Any) -> None:
        await self.harness.revoke()


# -- running one vector ----------------------------------------------------------------


def _run(fn: Callable[[], Awaitable[None]]) -> None:
    anyio.run(fn)


def run_vector(
    path: Path, tmp_path: Path, make_runner: Callable[[dict[str, Any], Harness], Runner]
) -> None:
    """One vector against a fresh daemon, with the runner ``make_runner`` builds (this
    module's, or another language's codec behind the same steps). A vector listed in
    ``KNOWN_BUGS`` must fail with its symptom (xfail) until the bug is fixed."""
    vector = load(path)

    async def main() -> None:
        async with SQLiteStore(tmp_path / "bridge.db") as store:
            harness = Harness(await open_bridge_store(store), vector.get("setup", {}))
            await harness.provision()
            await harness.start()
            runner = make_runner(vector, harness)
            try:
                await runner.run()
                await runner.close()
                await runner.keeps_serving()
            finally:
                await runner.close(everything=True)
                await harness.stop()

    bug = KNOWN_BUGS.get(path.stem)
    try:
        _run(main)
    except VectorFailure as exc:
        if bug is not None and bug.symptom in str(exc):
            pytest.xfail(f"{bug.id} {bug.where}: {bug.summary}")
        raise
    if bug is not None:  # strict: a fixed bug must leave the list
        pytest.fail(f"{bug.id} no longer shows ({bug.summary}): remove it from KNOWN_BUGS")
