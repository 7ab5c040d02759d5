"""The bridge protocol as two state machines with no I/O: :class:`ServerLink` (the
daemon's side of one link) and :class:`AdapterLink` (the game's side).

Like the ``websockets`` library's core, they take what arrived (``receive``) and the
current time, and return *effects* for the I/O layer to carry out: frames to send, a
close, work that needs the store (checking a key, loading a link to resume), events for
the application. Nothing here awaits, sleeps or touches a socket, so every rule of
``PROTOCOL.md`` is testable with plain function calls, and the same core serves the
daemon, the Python adapter client and the conformance-vector runner.

State that must survive a reconnection or a daemon restart (sequence numbers,
unacknowledged dispatches) lives in :class:`LinkState`, which the I/O layer stores.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

from encounters.errors import EncountersError
from encounters.moderation.ratelimit import InProcessRateLimiter, Rate

from .frames import (
    MAX_DEPTH,
    MAX_FRAME_BYTES,
    MAX_SEQUENCE,
    PROTOCOL_VERSION,
    CloseCode,
    DecodeError,
    Encoding,
    Frame,
    decode,
    depth_ok,
    encode,
)

WORLDS = ("gmod", "minecraft", "web")
#: Inbound events allowed per link: 20 per second, bursts of 40.
EVENT_RATE = Rate.per_second(20, burst=40)
#: Inbound frames of any op allowed per game server (per address before identify):
#: an adapter acknowledging every 32 dispatches of a link carrying 10,000 a second sends
#: about 310 a second, plus events (20) and heartbeats. Beyond it the connection is
#: closed with 4008 before the frame is even decoded. A small burst keeps a flooder
#: from stalling every other link while its burst is answered.
FRAME_RATE = Rate.per_second(500, burst=250)
#: Seconds a new connection has to send ``identify`` or ``resume``.
IDENTIFY_TIMEOUT = 10.0
#: Refused events in a row after which a flooding link is closed.
FLOOD_CLOSE_AFTER = 50
#: Seconds an adapter waits before resending events the daemon refused.
RESEND_PAUSE = 1.0
#: Most events an adapter resends at once (the daemon's burst).
RESEND_BATCH = 40
#: Dispatches an adapter may process before it must acknowledge them; it also
#: acknowledges at its next tick. One ack per burst, not per dispatch, halves the
#: frames a busy link carries.
ACK_EVERY = 32
#: Events an adapter keeps waiting for the daemon's acknowledgement (sent or queued
#: while disconnected) before it refuses new ones: refuse new events when full; never
#: drop queued ones. 10,000 is about eight minutes of a link's whole event budget (20 a
#: second): a daemon away for half an hour or more at a busy server's pace (a few events
#: a second) loses nothing, memory stays a few MB for typical events of a few hundred
#: bytes (640 MB at worst, every event near the daemon's 64 KiB frame limit), and a
#: backlog that large already takes those eight minutes to resend at the daemon's pace.
MAX_UNACKED_EVENTS = 10_000
#: Largest frame the adapter reads from the daemon (whose own frames are a dispatch of
#: one action, far below): a longer one closes the connection, before it is buffered
#: whole, and the adapter resumes.
ADAPTER_MAX_FRAME_BYTES = 1 << 24
#: Heartbeat interval (seconds) an adapter uses when ``hello`` gives none it can use,
#: and the shortest it accepts (a daemon asking for a beat every microsecond would
#: have it send nothing but heartbeats).
DEFAULT_HEARTBEAT = 15.0
MIN_HEARTBEAT = 0.05


# -- effects -------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    frame: Frame


@dataclass(frozen=True)
class Close:
    code: CloseCode
    reason: str


@dataclass(frozen=True)
class Authenticate:
    """Check ``identify`` (key, world, server id); answer with
    :meth:`ServerLink.accept` or :meth:`ServerLink.refuse`."""

    world: str
    server_id: str
    key: str
    adapter: dict[str, Any]
    capabilities: list[str]
    #: the link the adapter's unacknowledged events were numbered on (``previous_link``)
    previous_link: str | None = None


@dataclass(frozen=True)
class ResumeRequest:
    """Load the link to resume; answer with :meth:`ServerLink.resume` or refuse."""

    link_id: str
    resume_token: str
    last_s: int


@dataclass(frozen=True)
class EventIn:
    """A new adapter event, in order, once: the application handles it."""

    frame: Frame


@dataclass(frozen=True)
class DispatchIn:
    """A new daemon dispatch, in order, once: the adapter carries it out."""

    frame: Frame


@dataclass(frozen=True)
class Processed:
    """An adapter event was consumed without reaching the application (it was
    invalid): only the link state changed."""

    s: int


@dataclass(frozen=True)
class Acked:
    """The peer processed our sequenced frames up to ``s``: forget them."""

    s: int


@dataclass(frozen=True)
class QueueDrained:
    """The adapter's queue of unacknowledged events, which refused ``refused`` events
    while it was full, is down to half its bound or less: the outage is over (the I/O
    layer says so once, as it warned once when it began)."""

    refused: int


Effect = (
    Send
    | Close
    | Authenticate
    | ResumeRequest
    | EventIn
    | DispatchIn
    | Acked
    | Processed
    | QueueDrained
)


class EventQueueFull(EncountersError):
    """Raised by :meth:`AdapterLink.event` (and ``AdapterClient.send_event``) when
    ``limit`` events already wait for the daemon's acknowledgement: the new event is
    refused, not queued, and nothing queued is dropped (refuse new events when full;
    never drop queued ones). Events are numbered in order and the daemon refuses a gap,
    so the oldest cannot make room. Room comes back as the daemon acknowledges the
    queue (after it is reachable again); the game may retry the event then, or give it
    up. ``waiting``: events queued now."""

    def __init__(self, waiting: int, limit: int) -> None:
        self.waiting = waiting
        self.limit = limit
        super().__init__(
            f"event refused: {waiting} events already wait for the daemon, which has not "
            f"acknowledged them (is it down or unreachable?); they are kept and sent when "
            f"it is back. Raise the bound with max_unacked_events= (now {limit}) on "
            f"AdapterClient or AdapterLink"
        )


class InvalidEvent(EncountersError):
    """Raised by :meth:`AdapterLink.event` (and ``AdapterClient.send_event``) when the
    event breaks the protocol's envelope or size rules (``PROTOCOL.md``, *Envelope*):
    ``d`` not a dict, ``sid`` not ``None`` nor a string of 1 to 64 characters, a value
    the link's encoding cannot carry, nesting deeper than ``MAX_DEPTH``, a frame over
    the daemon's ``max_frame_bytes``, or a string holding a lone surrogate (no UTF-8
    text holds one). The daemon would close the link on such a frame (4002, 4012, or
    its WebSocket size limit; the lone surrogate made the adapter's own WebSocket layer
    raise as it sent, 1006); kept, it would be resent after every reconnection and end
    the link again, forever, with every event queued behind it. So it is refused at
    the call: not queued, no sequence number, the link goes on. ``where``: the
    argument at fault (``d`` or ``sid``); ``problem``: what is wrong; ``fix``: how to
    send it instead."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"event refused, not queued: {where}: {problem}; {fix}")


def check_event(
    d: object, sid: object, encoding: Encoding, max_bytes: int = MAX_FRAME_BYTES
) -> None:
    """Raise :class:`InvalidEvent` unless an event frame of ``d`` and ``sid`` is one the
    daemon reads. The frame is encoded as it goes on the wire (with the largest ``s``,
    so renumbering it on a new link cannot push it over the size) and decoded back as
    the daemon decodes it, so what MessagePack writes but the daemon refuses (keys that
    are not strings, arrays of more than 10,000 items) is refused here too. Limit: on a
    JSON link NaN and infinities are sent as ``null`` and keys that are not strings as
    strings (``frames.json_text``): the event is sent, changed. ``d.type`` is not
    checked: the daemon acknowledges an event without one (an ``invalid_event`` error),
    so it cannot stop the link."""
    plain = "use only dicts with string keys, lists, strings, numbers, booleans and None"
    if not isinstance(d, dict):
        got = type(d).__name__
        raise InvalidEvent("d", f"the event is a {got}, not a dict", "pass its fields as a dict")
    if sid is not None and (not isinstance(sid, str) or not 0 < len(sid) <= 64):
        got = (
            f"{len(sid)} characters"
            if isinstance(sid, str)
            else f"{type(sid).__name__} {repr(sid)[:40]}"
        )
        raise InvalidEvent(
            "sid",
            f"the session id is {got}, not a string of 1 to 64 characters",
            "pass the session id the daemon gave (a string), or None for no session",
        )
    frame = Frame("event", d, MAX_SEQUENCE, sid)
    if not depth_ok(frame.to_wire()):
        problem = f"nested deeper than {MAX_DEPTH} levels (or it holds itself)"
        raise InvalidEvent("d", problem, "flatten it")
    try:
        data = encode(frame, encoding)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidEvent("d", f"{encoding} cannot carry it ({exc})", plain) from None
    try:  # (a JSON link's text frame must be UTF-8: the WebSocket layer refuses it)
        size = len(data.encode()) if isinstance(data, str) else len(data)
    except UnicodeEncodeError:
        problem = "a string holds a lone surrogate (half a UTF-16 pair), not UTF-8 text"
        raise InvalidEvent("d", problem, "replace it (str.encode(errors='replace'))") from None
    if size > max_bytes:
        raise InvalidEvent(
            "d",
            f"its frame is {size} bytes, over the daemon's limit of {max_bytes}",
            "send less (a summary, or an id the game looks up), or split it into several events",
        )
    try:
        decode(data, encoding, max_bytes)
    except DecodeError as exc:
        raise InvalidEvent("d", f"the daemon could not read it ({exc})", plain) from None


@dataclass
class LinkState:
    """What outlives one connection of a link."""

    link_id: str
    world: str
    server_id: str
    capabilities: list[str] = field(default_factory=list)
    out_s: int = 0  #: last sequence number given to an outgoing sequenced frame
    in_s: int = 0  #: last incoming sequence number processed
    #: highest ``s`` handed to the wire on any connection of the link: the peer cannot
    #: have processed more, so an ack or a resume beyond it is a protocol error
    sent_s: int = 0
    unacked: list[Frame] = field(default_factory=list)  #: sent, not yet acknowledged

    def sequence(self, frame: Frame) -> Frame:
        self.out_s += 1
        numbered = Frame(frame.op, frame.d, self.out_s, frame.sid)
        self.unacked.append(numbered)
        return numbered

    def unsequence(self, n: int) -> None:
        """Take back the last ``n`` frames sequenced: their write failed and none of
        them was sent, so their numbers are given again."""
        if n:
            del self.unacked[-n:]
            self.out_s -= n

    def ack(self, s: int) -> bool:
        """Forget frames up to ``s``. Frames are kept in ``s`` order, so this costs a
        binary search, not a pass over a long replay window."""
        done = bisect_right(self.unacked, s, key=lambda f: f.s or 0)
        del self.unacked[:done]
        return done > 0

    def replay_after(self, s: int, upto: int | None = None) -> list[Frame]:
        """Unacknowledged frames after ``s`` (and up to ``upto``), in order."""
        start = bisect_right(self.unacked, s, key=lambda f: f.s or 0)
        end = (
            len(self.unacked)
            if upto is None
            else bisect_right(self.unacked, upto, key=lambda f: f.s or 0)
        )
        return self.unacked[start:end]


def _error(code: str, message: str) -> Send:
    return Send(Frame("error", {"code": code, "message": message}))


# -- the daemon's side -------------------------------------------------------------------


class ServerLink:
    """One adapter connection, as the daemon sees it."""

    def __init__(
        self,
        *,
        encoding: Encoding = "json",
        heartbeat_interval: float = 15.0,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        event_rate: Rate = EVENT_RATE,
        frame_rate: Rate = FRAME_RATE,
        identify_timeout: float = IDENTIFY_TIMEOUT,
        now: float = 0.0,
        limiter: InProcessRateLimiter | None = None,
        frame_limiter: InProcessRateLimiter | None = None,
        frame_key: str = "frames",
    ) -> None:
        """``limiter``: the event budget, shared by every connection of a link when the
        I/O layer passes one limiter for all (so reconnecting does not refill it);
        by default this connection's own. ``frame_rate`` caps every inbound frame of
        every inbound frame (heartbeats and acks too), counted in ``frame_limiter``
        under ``frame_key`` until the link identifies, then under its game server, so
        reconnecting does not refill it (by default this connection's own);
        ``identify_timeout`` is how long a new connection may stay unidentified."""
        self.encoding: Encoding = encoding
        self.heartbeat_interval = heartbeat_interval
        self.max_frame_bytes = max_frame_bytes
        self.state: Literal["new", "waiting", "authenticating", "ready", "closed"] = "new"
        self.link: LinkState | None = None
        self._now = now
        self.last_seen = now
        self._limiter = (
            limiter if limiter is not None else InProcessRateLimiter(clock=lambda: self._now)
        )
        self._event_rate = event_rate
        self._frame_rate = frame_rate
        self._frames = (
            frame_limiter
            if frame_limiter is not None
            else InProcessRateLimiter(clock=lambda: self._now)
        )
        self.frame_key = frame_key
        self.identify_timeout = identify_timeout
        self.connected_at = now
        self._refused_in_a_row = 0

    # inputs ---------------------------------------------------------------------------

    def connected(self, now: float) -> list[Effect]:
        self._now = self.last_seen = self.connected_at = now
        self.state = "waiting"
        return [Send(Frame("hello", {
            "protocol": PROTOCOL_VERSION,
            "heartbeat_interval": int(self.heartbeat_interval * 1000),
            "max_frame_bytes": self.max_frame_bytes,
        }))]  # fmt: skip

    def receive(self, data: str | bytes, now: float) -> list[Effect]:
        """Handle one frame from the wire."""
        self._now = self.last_seen = now
        if self.state == "closed":
            return []
        if not self._frames.check(self.frame_key, self._frame_rate).allowed:
            return self._close(CloseCode.RATE_LIMITED, "too many frames")
        try:
            frame = decode(data, self.encoding, self.max_frame_bytes)
        except DecodeError as exc:
            return self._close(exc.code, str(exc))
        if self.state == "waiting" and frame.op not in ("identify", "resume"):
            return self._close(CloseCode.NOT_IDENTIFIED, "identify first")
        handler = getattr(self, f"_on_{frame.op}", None)
        if handler is None:
            return [_error("unknown_op", f"unknown op {frame.op!r}")]
        result: list[Effect] = handler(frame)
        return result

    def timed_out(self, now: float) -> list[Effect]:
        """Close a connection that did not identify in time, or a link that has sent
        nothing for two intervals and five seconds."""
        self._now = now
        if self.state == "waiting" and now - self.connected_at > self.identify_timeout:
            return self._close(
                CloseCode.NOT_IDENTIFIED, f"identify within {self.identify_timeout:g} s"
            )
        if self.state != "closed" and now - self.last_seen > 2 * self.heartbeat_interval + 5:
            return self._close(CloseCode.HEARTBEAT_TIMEOUT, "no heartbeat")
        return []

    # answers from the I/O layer ---------------------------------------------------------

    def accept(
        self,
        link: LinkState,
        resume_token: str,
        sessions: list[dict[str, Any]],
        previous: dict[str, Any] | None = None,
    ) -> list[Effect]:
        """``identify`` checked out: the link is ready. ``previous``: the link the
        adapter named in ``previous_link`` and how far its events were stored
        (``{link_id, in_s}``), when the daemon knows it for this game server."""
        self.link = link
        self.state = "ready"
        self.frame_key = f"server:{link.world}:{link.server_id}"
        d: dict[str, Any] = {
            "link_id": link.link_id,
            "resume_token": resume_token,
            "heartbeat_interval": int(self.heartbeat_interval * 1000),
            "sessions": sessions,
        }
        if previous is not None:
            d["previous"] = previous
        return [Send(Frame("ready", d))]

    def resume(self, link: LinkState, last_s: int, upto: int | None = None) -> list[Effect]:
        """``resume`` checked out: replay what the adapter has not processed (up to
        ``upto``: the I/O layer sends only what its store holds). A ``last_s`` beyond
        what was ever sent is a lie that would drop dispatches: it closes with 4007."""
        if (refusal := self.resume_refusal(link, last_s)) is not None:
            return refusal
        self.link = link
        self.state = "ready"
        self.frame_key = f"server:{link.world}:{link.server_id}"
        link.ack(last_s)
        replay = link.replay_after(last_s, upto)
        return [Send(Frame("resumed", {"replayed": len(replay)})), *map(Send, replay)]

    def resume_refusal(self, link: LinkState, last_s: int) -> list[Effect] | None:
        """The close (4007) a resume of ``link`` with ``last_s`` deserves, or None when
        it may go on. The I/O layer asks before it touches the link's live connection
        (a refused resume must leave it alone); :meth:`resume` asks again."""
        if last_s > link.sent_s:
            return self._close(
                CloseCode.INVALID_SEQUENCE,
                f"last_s {last_s} is beyond the last dispatch sent ({link.sent_s})",
            )
        return None

    def refuse(self, code: CloseCode, reason: str) -> list[Effect]:
        return self._close(code, reason)

    def dispatch(self, frame: Frame) -> list[Effect]:
        """Sequence a dispatch and send it (it is kept until acknowledged, and
        resent on resume even if this link is not connected now)."""
        assert self.link is not None, "dispatch on a link that is not ready"
        numbered = self.link.sequence(frame)
        self.link.sent_s = self.link.out_s
        return [Send(numbered)]

    # ops ----------------------------------------------------------------------------------

    def _close(self, code: CloseCode, reason: str) -> list[Effect]:
        self.state = "closed"
        return [Close(code, reason[:120])]

    def _on_identify(self, frame: Frame) -> list[Effect]:
        if self.state in ("ready", "authenticating"):
            return self._close(CloseCode.ALREADY_IDENTIFIED, "already identified")
        d = frame.d
        if d.get("protocol", PROTOCOL_VERSION) != PROTOCOL_VERSION:
            return self._close(CloseCode.UNSUPPORTED_PROTOCOL, "unsupported protocol version")
        world, server_id, key = d.get("world"), d.get("server_id"), d.get("key")
        caps = d.get("capabilities", [])
        if (
            world not in WORLDS
            or not isinstance(server_id, str)
            or not 0 < len(server_id) <= 64
            or not isinstance(key, str)
            or not isinstance(caps, list)
            or not all(isinstance(c, str) for c in caps)
        ):
            return self._close(CloseCode.AUTH_FAILED, "identify needs world, server_id, key")
        adapter = d.get("adapter") if isinstance(d.get("adapter"), dict) else {}
        previous = d.get("previous_link")
        if not isinstance(previous, str) or not 0 < len(previous) <= 64:
            previous = None  # optional: an adapter with no unacknowledged events leaves it out
        self.state = "authenticating"
        return [Authenticate(world, server_id, key, adapter or {}, list(caps)[:32], previous)]

    def _on_resume(self, frame: Frame) -> list[Effect]:
        if self.state in ("ready", "authenticating"):
            return self._close(CloseCode.ALREADY_IDENTIFIED, "already identified")
        d = frame.d
        link_id, token, last_s = d.get("link_id"), d.get("resume_token"), d.get("last_s", 0)
        if (
            not isinstance(link_id, str)
            or not isinstance(token, str)
            or not isinstance(last_s, int)
        ):
            return self._close(CloseCode.SESSION_INVALID, "resume needs link_id, resume_token")
        self.state = "authenticating"
        return [ResumeRequest(link_id, token, max(0, last_s))]

    def _ready_or_close(self) -> list[Effect] | None:
        if self.state != "ready":
            return self._close(CloseCode.NOT_IDENTIFIED, "identify first")
        return None

    def _on_heartbeat(self, frame: Frame) -> list[Effect]:
        if (early := self._ready_or_close()) is not None:
            return early
        assert self.link is not None
        out: list[Effect] = self._on_ack(Frame("ack", {"s": frame.d.get("ack", 0)}))
        out.append(Send(Frame("heartbeat_ack", {"ack": self.link.in_s})))
        return out

    def _on_ack(self, frame: Frame) -> list[Effect]:
        if (early := self._ready_or_close()) is not None:
            return early
        assert self.link is not None
        s = frame.d.get("s")
        if not isinstance(s, int) or isinstance(s, bool):
            return []
        if s > self.link.sent_s:  # acking what was never sent would drop it unsent
            return self._close(
                CloseCode.INVALID_SEQUENCE,
                f"ack {s} is beyond the last dispatch sent ({self.link.sent_s})",
            )
        if self.link.ack(s):
            return [Acked(s)]
        return []

    def _on_event(self, frame: Frame) -> list[Effect]:
        if (early := self._ready_or_close()) is not None:
            return early
        assert self.link is not None
        if frame.s is None:
            return [_error("invalid_event", "an event needs 's'")]
        if frame.s <= self.link.in_s:  # already processed: acknowledge again, ignore
            return [Send(Frame("ack", {"s": self.link.in_s}))]
        if frame.s != self.link.in_s + 1:  # a gap: an earlier event was refused or lost
            return self._refuse_event(
                "out_of_order",
                f"expected event {self.link.in_s + 1}; resend unacknowledged events in order",
            )
        if not self._limiter.check(f"events:{self.link.link_id}", self._event_rate).allowed:
            return self._refuse_event("rate_limited", f"event {frame.s} refused: slow down")
        self._refused_in_a_row = 0
        self.link.in_s = frame.s
        if not isinstance(frame.d.get("type"), str):  # consumed, so it is not resent
            return [Processed(frame.s), _error("invalid_event", "an event needs a string "
                    "'d.type'"), Send(Frame("ack", {"s": frame.s}))]  # fmt: skip
        return [EventIn(frame), Send(Frame("ack", {"s": frame.s}))]

    def _refuse_event(self, code: str, message: str) -> list[Effect]:
        """Refuse an event without acknowledging it (the adapter resends it later);
        a link that keeps sending refused events is closed with 4008."""
        self._refused_in_a_row += 1
        if self._refused_in_a_row >= FLOOD_CLOSE_AFTER:
            return self._close(CloseCode.RATE_LIMITED, "too many events")
        return [_error(code, message)]

    def encode(self, frame: Frame) -> str | bytes:
        return encode(frame, self.encoding)


# -- the game's side ---------------------------------------------------------------------


class AdapterLink:
    """A game server's link, as the adapter sees it (used by the Python adapter client
    and the web world; the Lua and Node adapters implement the same machine)."""

    def __init__(
        self,
        *,
        world: str,
        server_id: str,
        key: str,
        capabilities: list[str],
        adapter: dict[str, Any] | None = None,
        encoding: Encoding = "json",
        rng: random.Random | None = None,
        max_unacked_events: int = MAX_UNACKED_EVENTS,
    ) -> None:
        """``max_unacked_events``: how many events may wait for the daemon's
        acknowledgement before :meth:`event` refuses new ones (see
        :data:`MAX_UNACKED_EVENTS`)."""
        if max_unacked_events < 1:
            raise ValueError("max_unacked_events must be at least 1")
        self.world = world
        self.server_id = server_id
        self.key = key
        self.capabilities = capabilities
        self.adapter = adapter or {"name": "encounters-python", "version": "0.1.0"}
        self.encoding: Encoding = encoding
        self.rng = rng or random.Random()
        self.link_id: str | None = None
        self.resume_token: str | None = None
        self.in_s = 0  #: last daemon dispatch processed
        self.acked_s = 0  #: last dispatch acknowledged to the daemon
        self.out = LinkState(link_id="", world=world, server_id=server_id)
        self.heartbeat_interval = 15.0
        self.next_heartbeat: float | None = None
        self.ready = False
        self.stopped = False
        self.resend_at: float | None = None
        self.max_unacked_events = max_unacked_events
        #: events refused since the queue was last full (0: not full now)
        self.refused = 0
        #: the largest frame the daemon reads: ``hello``'s ``max_frame_bytes`` once
        #: one came (a daemon configured otherwise), the protocol's default before
        self.max_frame_bytes = MAX_FRAME_BYTES

    @property
    def waiting(self) -> int:
        """Events waiting for the daemon's acknowledgement: sent or not, numbered on
        the current link or (before ``ready``) on the previous one. After identifying
        again it counts only those the daemon did not store (``_not_stored``)."""
        return len(self.out.unacked)

    def receive(self, data: str | bytes, now: float) -> list[Effect]:
        frame = decode(data, self.encoding, ADAPTER_MAX_FRAME_BYTES)
        if frame.op == "hello":
            self.heartbeat_interval = _heartbeat_seconds(frame.d.get("heartbeat_interval"))
            max_bytes = frame.d.get("max_frame_bytes")
            if _whole_number(max_bytes) and max_bytes > 0:
                self.max_frame_bytes = max_bytes
            self.next_heartbeat = now + self.heartbeat_interval * self.rng.random()
            if self.link_id and self.resume_token:
                return [Send(Frame("resume", {"link_id": self.link_id,
                                              "resume_token": self.resume_token,
                                              "last_s": self.in_s}))]  # fmt: skip
            identify: dict[str, Any] = {
                "protocol": PROTOCOL_VERSION, "world": self.world, "server_id": self.server_id,
                "key": self.key, "adapter": self.adapter, "capabilities": self.capabilities,
            }  # fmt: skip
            if self.out.unacked and self.out.link_id:  # the daemon says which it stored
                identify["previous_link"] = self.out.link_id
            return [Send(Frame("identify", identify))]
        if frame.op == "ready":
            link_id, token = frame.d.get("link_id"), frame.d.get("resume_token")
            # (not strings: the next connection identifies again instead of resuming)
            self.link_id = link_id if isinstance(link_id, str) else None
            self.resume_token = token if isinstance(token, str) else None
            self.ready = True
            self.in_s = self.acked_s = 0
            # events not yet acknowledged: those the daemon stored under the previous
            # link (their acks were lost) are dropped, the rest numbered again here
            pending = _not_stored(self.out, frame.d.get("previous"))
            self.out = LinkState(link_id=self.link_id or "", world=self.world,
                                 server_id=self.server_id)  # fmt: skip
            for f in pending:
                self.out.sequence(Frame(f.op, f.d, None, f.sid))
            # one burst now, the rest paced (a backlog sent at once is refused: 4008)
            return self._resend(now) + self._drained()
        if frame.op == "resumed":
            self.ready = True
            return self._resend(now)
        if frame.op == "dispatch" and frame.s is not None:
            if frame.s <= self.in_s:  # a replay of one we ran: acknowledge it again
                return [self._ack()]
            return [DispatchIn(frame)]  # counted once carried out (processed)
        if frame.op in ("ack", "heartbeat_ack"):
            s = frame.d.get("s", frame.d.get("ack"))
            # an ack beyond the last event sent is a daemon's error: taken, it would
            # drop events queued and never sent (the daemon refuses the same: 4007)
            if _whole_number(s) and s <= self.out.sent_s and self.out.ack(s):
                return [Acked(s), *self._drained()]
        if frame.op == "error" and frame.d.get("code") in ("rate_limited", "out_of_order"):
            self.resend_at = now + RESEND_PAUSE  # resend everything unacked, in order
        return []

    def processed(self, frame: Frame) -> list[Effect]:
        """The I/O layer carried out ``frame`` (a :class:`DispatchIn`). Only now does it
        count as processed: no ack and no heartbeat covers a dispatch still being
        carried out, so an adapter that dies meanwhile gets it again after its resume.
        Returns the ack owed when a burst's worth is processed."""
        if frame.s is not None and frame.s > self.in_s:
            self.in_s = frame.s
        return [self._ack()] if self.in_s - self.acked_s >= ACK_EVERY else []

    def _ack(self) -> Send:
        self.acked_s = self.in_s
        return Send(Frame("ack", {"s": self.in_s}))

    def flush_acks(self) -> list[Effect]:
        """An ``ack`` for dispatches processed but not yet acknowledged, if any: call
        it when no more frames are waiting (the next tick does it anyway)."""
        return [self._ack()] if self.owes_ack() else []

    def _resend(self, now: float) -> list[Effect]:
        """Unacknowledged events, oldest first, at most one burst's worth now; the rest
        after a pause (a backlog sent at once would be refused and close the link)."""
        batch = self.out.unacked[:RESEND_BATCH]
        self.resend_at = now + RESEND_PAUSE if len(self.out.unacked) > RESEND_BATCH else None
        if batch:
            self.out.sent_s = max(self.out.sent_s, batch[-1].s or 0)
        return [Send(f) for f in batch]

    def event(self, d: dict[str, Any], sid: str | None = None) -> list[Effect]:
        """Send an event (kept until acknowledged; resent after a resume). Raises
        :class:`InvalidEvent` when the daemon could not read it (:func:`check_event`),
        and :class:`EventQueueFull` when ``max_unacked_events`` already wait: refuse
        new events when full; never drop queued ones. A refused event is not queued
        and takes no sequence number. Limit: the size is checked against the last
        daemon's ``max_frame_bytes``; a daemon later configured lower closes the link
        on an event queued before (4012)."""
        check_event(d, sid, self.encoding, self.max_frame_bytes)
        if self.waiting >= self.max_unacked_events:
            self.refused += 1
            raise EventQueueFull(self.waiting, self.max_unacked_events)
        frame = self.out.sequence(Frame("event", d, None, sid))
        # while a backlog is paced out, a new event waits its turn behind it (in order)
        if not self.ready or self.resend_at is not None:
            return []
        self.out.sent_s = frame.s or 0
        return [Send(frame)]

    def _drained(self) -> list[Effect]:
        """:class:`QueueDrained` when events were refused and the queue is down to half
        its bound: not at the first free place, so a queue hovering at its bound makes
        one warning and one drained line, not one per event."""
        if self.refused and self.waiting <= self.max_unacked_events // 2:
            refused, self.refused = self.refused, 0
            return [QueueDrained(refused)]
        return []

    def next_tick(self) -> float | None:
        """When :meth:`tick` next has something to send (a resend or a heartbeat), or
        None while the link is not ready. Acks owed for dispatches are not in it: the
        caller flushes them (:meth:`flush_acks`) once a burst has been read."""
        due = [t for t in (self.resend_at, self.next_heartbeat) if t is not None]
        return min(due) if self.ready and due else None

    def owes_ack(self) -> bool:
        """Dispatches were processed that no ack has covered yet."""
        return self.ready and self.in_s > self.acked_s

    def tick(self, now: float) -> list[Effect]:
        """A resend of unacknowledged events after the daemon refused one (rate limit),
        a heartbeat when one is due (it carries the ack), else any ack still owed."""
        out: list[Effect] = []
        if self.ready and self.resend_at is not None and now >= self.resend_at:
            out += self._resend(now)
        if self.ready and self.next_heartbeat is not None and now >= self.next_heartbeat:
            self.next_heartbeat = now + self.heartbeat_interval
            self.acked_s = self.in_s
            out.append(Send(Frame("heartbeat", {"ack": self.in_s})))
        return out + self.flush_acks()

    def closed(self, code: int) -> Literal["resume", "identify", "stop"]:
        """What to do after the link closed with ``code``."""
        self.ready = False
        try:
            action = CloseCode(code).retry
        except ValueError:
            action = "resume"
        if action == "identify":
            self.link_id = self.resume_token = None
        if action == "stop":
            self.stopped = True
        return action

    def backoff(self, attempt: int) -> float:
        """Seconds before reconnection ``attempt`` (0-based): 1, 2, 4 ... 60, jittered."""
        return float(min(60.0, 2.0 ** min(attempt, 6)) * (0.5 + 0.5 * self.rng.random()))

    def encode(self, frame: Frame) -> str | bytes:
        return encode(frame, self.encoding)


def _whole_number(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _heartbeat_seconds(ms: object) -> float:
    """``hello``'s ``heartbeat_interval`` (milliseconds) in seconds: at least
    :data:`MIN_HEARTBEAT`, and :data:`DEFAULT_HEARTBEAT` when it is missing or no
    positive finite number (a daemon's bad ``hello`` must not stop the adapter)."""
    if isinstance(ms, bool) or not isinstance(ms, int | float):
        return DEFAULT_HEARTBEAT
    try:
        seconds = float(ms) / 1000
    except OverflowError:  # an integer beyond any float
        return DEFAULT_HEARTBEAT
    if not math.isfinite(seconds) or seconds <= 0:
        return DEFAULT_HEARTBEAT
    return max(MIN_HEARTBEAT, seconds)


def _not_stored(out: LinkState, previous: object) -> list[Frame]:
    """``out``'s unacknowledged events less those ``ready``'s ``previous`` (``{link_id,
    in_s}``) says the daemon stored: ``in_s`` counts events of that link, so it applies
    only when ``out`` is that link. Without it (an older daemon, a link it no longer
    knows) every one is sent again, which may store one twice. An ``in_s`` beyond the
    last event sent on that link counts only up to it: the rest were never sent, so no
    daemon stored them."""
    if isinstance(previous, dict) and out.link_id and previous.get("link_id") == out.link_id:
        stored = previous.get("in_s")
        if _whole_number(stored):  # (no further than sent: the rest was never sent)
            return [f for f in out.unacked if (f.s or 0) > min(stored, out.sent_s)]
    return list(out.unacked)
