"""The daemon's WebSocket edge: ``ws://HOST:3002/ws?encoding=json|msgpack``.

A thin asyncio layer over the sans-I/O :class:`~.protocol.ServerLink`: it moves frames
between the socket and the state machine and carries out the effects that need the
store (checking world keys, loading a link to resume). Each link's state has one owner
in the process, a :class:`~.links.LinkOwner`, loaded at most once and shared by the
connection, concurrent signals and resumes; it writes every dispatch durably before
any connection may send it.

Each connection has a reader (frames in) and, while there is something to send, a pump
(dispatches out, in ``s`` order, as they become durable); one watch task serves every
connection (timeouts, lazy ack writes), so an idle link holds no task of its own.
Nothing a peer does can block anyone else: a dispatch returns once it is written, not
once it is sent; a send that stalls past ``send_timeout`` (a peer that stopped reading) drops that
connection; shutdown ends within ``shutdown_grace`` whatever the adapters do.

Limits at the edge, each with its close code (see ``bridge/PROTOCOL.md``): open
sockets (``max_connections``, below the process's file-descriptor limit: beyond it a
new socket is dropped at once and the fact logged once), connections not identified
yet (globally and per address, 4008), the identify timeout (4003), every inbound frame
(4008), failed identifies per address (4008 until the back-off ends), revoked keys
(4004, at once through :meth:`BridgeEdge.revoke_world_key`, within
``revocation_check_interval`` when revoked by another process).

One bad connection never hurts the others: every error in a connection's handler ends
that connection only (with a close code when one applies).

Memory: a link's owner stays loaded while its game server is connected and for
``idle_link_ttl`` seconds after it is idle; then :meth:`BridgeEdge.evict_idle` drops it
(the store holds everything it had) and the next use loads it again. Nothing of an
evicted link stays behind (its game server's entry, locks, several nodes: its lease),
so memory grows with the links live or recently idle, not with every game server seen
since start; the per-address and per-link rate budgets are caches bounded on their own
(``InProcessRateLimiter``'s ``max_keys``). A link's backlog is bounded by
``max_unacked_dispatches`` (see :mod:`.links`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import anyio
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import Protocol, State

from encounters._util.locks import KeyedLocks
from encounters.errors import StoreError
from encounters.log import get_logger
from encounters.models.common import new_id
from encounters.moderation.ratelimit import InProcessRateLimiter, Rate
from encounters.storage import WriteBatch

from .backoff import BadKeyBackoff
from .budgets import LinkBudgets
from .forwarded import Network, client_address
from .frames import MAX_FRAME_BYTES, CloseCode, Encoding, Frame
from .keys import check_world_key, digest, new_resume_token, same
from .links import IDLE_LINK_TTL, MAX_UNACKED_DISPATCHES, LinkMoved, LinkOwner
from .protocol import (
    FRAME_RATE,
    IDENTIFY_TIMEOUT,
    Acked,
    Authenticate,
    Close,
    Effect,
    EventIn,
    LinkState,
    Processed,
    ResumeRequest,
    Send,
    ServerLink,
)
from .store.models import LinkRecord, WorldKey
from .store.protocols import BridgeStore, LinkBatch

if TYPE_CHECKING:
    from .cluster import Cluster
    from .cluster.routing import GiveUpReason

log = get_logger(__name__)


def _glibc() -> Any:
    """The C library when it is glibc (it has ``malloc_trim``), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


#: glibc, for ``malloc_trim`` (None on other C libraries)
_LIBC = _glibc()
#: Connections opened or closed since the last trim that make the next one worth it.
TRIM_CHURN = 64
EventHandler = Callable[["Connection", Frame], Awaitable[None]]
LinkHandler = Callable[[str, str], Awaitable[None]]
#: Connections the kernel queues for ``accept`` (capped by ``net.core.somaxconn``).
#: asyncio's default of 100 overflowed when thousands of game servers (re)connected at
#: once, after a daemon restart: the kernel dropped their SYNs and they came back after
#: 1, 3, 7... seconds of TCP retransmission, or gave up and backed off for a minute.
ACCEPT_BACKLOG = 4096
#: Seconds a socket closed for flooding lingers before it is reset: its close frame and
#: a FIN went out at once; nothing it sends meanwhile is read.
FLOOD_LINGER = 2.0
#: Idle links evicted per sweep at most: freeing one (its record, its backlog) costs
#: about 16 us, so a sweep stalls the loop for 8 ms at most; a sweep that hit it runs
#: again at the watch's next turn (within a second).
EVICT_BATCH = 500


class EventRefused(Exception):
    """Raised by an event handler: the event was consumed but not accepted; the
    adapter gets an ``error`` frame with ``code`` (e.g. ``unknown_session``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(eq=False)
class Connection:
    """One live adapter connection."""

    ws: ServerConnection
    link: ServerLink
    address: str = ""  #: the peer's IP address (per-address limits)
    owner: LinkOwner | None = None  #: set once identify or resume checks out
    closed: bool = False
    counted: bool = False  #: counted among connections not identified yet
    sending: bool = False  #: ready or resumed (and the replay) went out: the pump may send
    cut: bool = False  #: closed for flooding: nothing more is read from it
    sent_s: int = 0  #: last dispatch sent on this connection
    #: held while dispatches go out (a replay, the pump): they leave in ``s`` order
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # (no deque until contended)
    pump: asyncio.Task[None] | None = None  #: sending what was written, while there is any
    #: the ``on_link`` handlers of its identify or resume, while they run (see _run)
    linking: asyncio.Task[None] | None = None
    closing: asyncio.Task[None] | None = None  #: our close frame on its way
    #: the ``s`` of the adapter event being taken (0 between events): from the moment
    #: it is read (the link's in-memory ``in_s`` counts it) until it is stored or given
    #: back; what :meth:`BridgeEdge.record` counts as received with the event's write
    receiving: int = 0
    #: set when the event being taken is stored or given back; made by a resume of the
    #: link on a newer connection that waits for it (:meth:`BridgeEdge._settled`)
    settled: asyncio.Event | None = None

    @property
    def link_id(self) -> str | None:
        return self.owner.link_id if self.owner is not None else None

    @property
    def server_id(self) -> str | None:
        return self.link.link.server_id if self.link.link is not None else None

    @property
    def world(self) -> str | None:
        return self.link.link.world if self.link.link is not None else None


@dataclass
class BridgeEdge:
    """Accepts adapter links and routes frames. ``on_event`` handlers receive every new
    adapter event once, in order; ``on_link`` handlers hear ``(world, server_id)``
    each time a game server identifies or resumes."""

    store: BridgeStore
    heartbeat_interval: float = 15.0
    max_frame_bytes: int = MAX_FRAME_BYTES
    clock: Callable[[], float] = time.monotonic
    on_event: list[EventHandler] = field(default_factory=list)
    on_link: list[LinkHandler] = field(default_factory=list)
    sessions_for: Callable[[str, str], Awaitable[list[dict[str, Any]]]] | None = None
    #: another credential ``identify`` may carry instead of a world key: a web world's
    #: single-use play pass (``play.PlayPasses.redeem_link``); answers the key it stands for
    redeem_pass: Callable[[str, str, str], Awaitable[WorldKey | None]] | None = None
    #: told of every dispatch once it is stored (world, server id, frames): the web
    #: world's rooms show companions' moderated lines from here, not from a browser
    observers: list[Callable[[str, str, list[Frame]], None]] = field(default_factory=list)
    #: the port :meth:`serve` listens on, once it does
    port: int | None = None
    #: seconds one send may stall (the peer stopped reading) before the link is dropped
    send_timeout: float = 10.0
    identify_timeout: float = IDENTIFY_TIMEOUT
    frame_rate: Rate = FRAME_RATE
    #: open sockets at most (None: from the file-descriptor limit, see serve)
    max_connections: int | None = None
    max_unidentified: int = 256
    max_unidentified_per_address: int = 32
    #: reverse proxies whose X-Forwarded-For names the client (forwarded.py); empty:
    #: every limit keyed by address sees the socket's peer
    trusted_proxies: tuple[Network, ...] = ()
    #: seconds between looks for keys revoked by another process (``ae worlds revoke``)
    revocation_check_interval: float = 2.0
    #: seconds close_all waits for adapters to finish their closing handshakes
    shutdown_grace: float = 3.0
    #: seconds a resume waits for the event its link's old connection is still taking
    #: (:meth:`_settled`) before it is refused with 1001 (the adapter resumes again)
    settle_timeout: float = 10.0
    #: several nodes (``AE_REDIS``): link leases and forwarded dispatches, see
    #: :mod:`.cluster`; None on one node
    cluster: Cluster | None = None
    #: dispatches a link keeps waiting for its game server's ack before new ones are
    #: refused (:class:`~.links.LinkBacklogFull`); None: no bound
    max_unacked_dispatches: int | None = MAX_UNACKED_DISPATCHES
    #: dispatches refused for that bound since start (all links)
    dispatches_refused: int = 0
    #: seconds an idle link's owner stays in memory (see :meth:`evict_idle`)
    idle_link_ttl: float = IDLE_LINK_TTL
    connections: dict[str, Connection] = field(default_factory=dict)  # by link id
    #: game server -> its latest link id, for the links in memory (an entry leaves with
    #: its owner, see :meth:`evict_idle`: memory follows the live links, not every game
    #: server seen since start; the store knows those)
    by_server: dict[tuple[str, str], str] = field(default_factory=dict)
    _owners: dict[str, LinkOwner] = field(default_factory=dict)
    #: when each owner was last used (a connection, a dispatch): for :meth:`evict_idle`
    _used: dict[str, float] = field(default_factory=dict)
    #: places an identify or a resume is working on (it holds an owner across awaits):
    #: their owners are never evicted meanwhile
    _busy: dict[tuple[str, str], int] = field(default_factory=dict)
    _evicted_at: float = 0.0
    _loading: dict[tuple[str, str], asyncio.Future[LinkOwner | None]] = field(default_factory=dict)
    #: identifies at work per game server (an entry leaves when its last one is done)
    _server_locks: KeyedLocks[tuple[str, str]] = field(
        default_factory=lambda: KeyedLocks(fast_acquire=True)
    )
    #: several nodes: bumped each time a game server's link is given up here while it
    #: is being loaded, so a load from the store that began before is not kept (an
    #: entry lives as long as the load, see :meth:`_find_owner`)
    _given_up: dict[tuple[str, str], int] = field(default_factory=dict)
    _claims: asyncio.Lock = field(default_factory=asyncio.Lock)
    _live: set[Connection] = field(default_factory=set)
    _unidentified: dict[str, int] = field(default_factory=dict)  # per address
    _unidentified_total: int = 0
    _sockets: int = 0
    _cap_logged: bool = False
    _closing: set[asyncio.Task[None]] = field(default_factory=set)
    _sweeper: asyncio.Task[None] | None = None
    _watcher: asyncio.Task[None] | None = None
    _server: Server | None = None  #: what serve returned (close_all stops it accepting)
    #: inbound event budgets per link, kept across its reconnections
    _event_limiter: InProcessRateLimiter = field(init=False)
    #: failed identifies per address (shared between nodes with AE_REDIS, see backoff.py)
    bad_keys: BadKeyBackoff | None = None
    #: the event and frame budgets, handed between nodes with AE_REDIS (budgets.py)
    budgets: LinkBudgets | None = None
    #: inbound frame budgets: per address before identify, per game server after
    _frame_limiter: InProcessRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        if self.budgets is not None:
            self._event_limiter, self._frame_limiter = self.budgets.events, self.budgets.frames
        else:
            self._event_limiter = InProcessRateLimiter(clock=self.clock)
            self._frame_limiter = InProcessRateLimiter(clock=self.clock)
        if self.bad_keys is None:
            self.bad_keys = BadKeyBackoff(clock=self.clock)

    # -- serving ---------------------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 3002) -> Server:
        """Start listening; the caller closes the returned server (after
        :meth:`close_all`). Without ``max_connections``, sockets are capped a tenth
        (at least 64) below the process's file-descriptor limit, so the store, the
        control API and the links already up keep working when a flood arrives."""
        if self.max_connections is None:
            self.max_connections = _socket_cap()
        server = await serve(
            self._handle,
            host,
            port,
            process_request=self._check_request,
            create_connection=_counting_connection(self),
            # our own check closes with 4012 up to 16x the limit; beyond, websockets 1009
            max_size=16 * self.max_frame_bytes,
            open_timeout=5,  # a socket that never sends its handshake is dropped
            close_timeout=2,  # a flooding or vanished peer must not hold a close for long
            ping_interval=None,  # the protocol has its own heartbeats
            compression=None,
            backlog=ACCEPT_BACKLOG,
        )
        self._server = server
        self.port = server.sockets[0].getsockname()[1] if server.sockets else None
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._sweep_revoked(server))
        self._watcher = loop.create_task(self._watch(server))
        return server

    def _socket_opened(self, transport: asyncio.BaseTransport) -> None:
        self._sockets += 1
        cap = self.max_connections
        if cap is not None and self._sockets > cap:
            if not self._cap_logged:
                self._cap_logged = True
                log.warning("bridge.connection_cap_reached", max_connections=cap)
            assert isinstance(transport, asyncio.Transport)
            transport.abort()

    def _socket_closed(self) -> None:
        self._sockets -= 1
        cap = self.max_connections
        if self._cap_logged and cap is not None and self._sockets < cap * 0.9:
            self._cap_logged = False

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path != "/ws":
            return connection.respond(HTTPStatus.NOT_FOUND, "the bridge listens on /ws\n")
        query = parse_qs(url.query)
        if len(query.get("encoding", [])) > 1:
            return connection.respond(HTTPStatus.BAD_REQUEST, "give encoding once\n")
        if "key" in query or "token" in query:
            return connection.respond(
                HTTPStatus.BAD_REQUEST, "never put keys in the URL: send them in identify\n"
            )
        encoding = query.get("encoding", ["json"])[0]
        if encoding not in ("json", "msgpack"):
            return connection.respond(HTTPStatus.BAD_REQUEST, "encoding is json or msgpack\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        encoding: Encoding = _encoding_of(ws.request.path if ws.request else "")
        link = ServerLink(
            encoding=encoding,
            heartbeat_interval=self.heartbeat_interval,
            max_frame_bytes=self.max_frame_bytes,
            frame_rate=self.frame_rate,
            identify_timeout=self.identify_timeout,
            now=self.clock(),
            limiter=self._event_limiter,
            frame_limiter=self._frame_limiter,
        )
        peer = str(ws.remote_address[0]) if ws.remote_address else ""
        address = peer
        if self.trusted_proxies and ws.request is not None:
            forwarded = ws.request.headers.get_all("X-Forwarded-For")
            address = client_address(peer, forwarded, self.trusted_proxies)
        link.frame_key = f"address:{address}"
        conn = Connection(ws, link, address=str(address))
        for handshake in (ws.request, ws.response):  # read above: an idle link keeps no headers
            if handshake is not None:
                handshake.headers.clear()
        if (
            self._unidentified_total >= self.max_unidentified
            or self._unidentified.get(conn.address, 0) >= self.max_unidentified_per_address
        ):
            await self._send_close(ws, CloseCode.RATE_LIMITED, "too many connections")
            return
        self._count(conn, True)
        self._live.add(conn)
        # the reader is this task; a pump task runs only while there is something to
        # send (_wake), and time-outs are watched for every connection by one task
        try:
            await self._run(conn, link.connected(self.clock()))
            async for message in ws:  # after a close, this drains until it ends
                if not conn.closed:
                    await self._run(conn, link.receive(message, self.clock()))
                elif conn.cut:  # a flooder: stop reading (and parsing) its frames
                    break
        except ConnectionClosed:
            pass
        except Exception as exc:  # a bug must not take down other links
            log.exception("bridge.connection_failed", remote=conn.address, error=repr(exc))
            await self._close(conn, CloseCode.UNKNOWN_ERROR, "internal error")
        finally:
            if conn.pump is not None:
                conn.pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await conn.pump
            if conn.closing is not None:  # our close code goes out before websockets' own
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.closing)
            self._live.discard(conn)
            self._count(conn, False)
            await self._forget(conn)

    def _count(self, conn: Connection, unidentified: bool) -> None:
        """Keep the count of connections not identified yet."""
        if conn.counted == unidentified:
            return
        conn.counted = unidentified
        step = 1 if unidentified else -1
        self._unidentified_total += step
        left = self._unidentified.get(conn.address, 0) + step
        if left > 0:
            self._unidentified[conn.address] = left
        else:
            self._unidentified.pop(conn.address, None)

    async def _watch(self, server: Server) -> None:
        """One task for every connection: every half heartbeat interval (at most every
        second) it closes those that timed out (identify, heartbeats) and starts the
        writes of acknowledgements not yet saved. A task per connection would cost
        every idle link its memory."""
        trimmed_at, trimmed_count = self.clock(), 0
        while server.is_serving():
            await asyncio.sleep(max(0.05, min(self.heartbeat_interval, 2.0) / 2))
            now = self.clock()
            if abs(len(self._live) - trimmed_count) >= TRIM_CHURN and now - trimmed_at >= 5:
                trimmed_at, trimmed_count = now, len(self._live)
                release_free_memory()
            sweep = now - self._evicted_at >= max(1.0, min(self.idle_link_ttl / 4, 30.0))
            if sweep:
                try:
                    if self.evict_idle() < EVICT_BATCH:  # else more wait: next turn
                        self._evicted_at = now
                except Exception as exc:  # a bug: the watch goes on, the next sweep retries
                    self._evicted_at = now
                    log.error("bridge.evict_failed", error=repr(exc))
            for conn in list(self._live):
                if conn.closed:
                    continue
                if conn.owner is not None:
                    conn.owner.flush_acks()
                effects = conn.link.timed_out(now)
                if effects:
                    try:
                        await self._run(conn, effects)
                    except Exception as exc:  # one connection never stops the watch
                        log.warning("bridge.watch_failed", remote=conn.address, error=repr(exc))

    def _wake(self, conn: Connection) -> None:
        """More was written for ``conn``'s link: send it now when the socket takes it
        at once (:meth:`_send_now`), else start its pump unless one is running (it
        looks again before it ends). An idle link has no pump task at all."""
        if conn.closed or not conn.sending or (conn.pump is not None and not conn.pump.done()):
            return
        try:
            if self._send_now(conn):
                return
        except Exception as exc:  # a bug: this connection ends, the others go on
            log.exception("bridge.pump_failed", remote=conn.address, error=repr(exc))
            self._abort(conn)
            return
        conn.pump = pump = asyncio.get_running_loop().create_task(self._pump(conn))
        pump.add_done_callback(lambda _: setattr(conn, "pump", None) if conn.pump is pump else None)

    def _send_now(self, conn: Connection) -> bool:
        """Send what is written and not sent right here, with no task and no wait, when
        nothing could make a send wait or reorder: no pump runs (checked by the caller),
        nothing holds the send lock (a replay), no message is half sent, the
        connection is open and its write buffer below the high-water mark. Then a
        send is only the frames handed to the transport: the pump's path (a task, a
        lock, a timeout scope and ``send_context`` per write) cost about a fifth of
        the loop's time per single-action signal, and a turn of the loop before the
        frame left. False when the pump must do it. When this write fills the buffer
        (``paused``), the pump is started all the same: it waits for the buffer to
        drain under ``send_timeout``, as after its own sends, so a peer that stopped
        reading is still dropped. Uses websockets' connection attributes as
        :meth:`_send_many` does."""
        owner, ws = conn.owner, conn.ws
        if (
            owner is None
            or conn.send_lock.locked()
            or ws.send_in_progress is not None
            or ws.paused
            or ws.protocol.state is not State.OPEN
            or ws.protocol.writes  # something else is queued for the socket
            or ws.transport.is_closing()
        ):
            return False
        if conn.sent_s < owner.written_s:
            _queue(ws.protocol, self._unsent(conn, owner))
            ws.transport.write(b"".join(ws.protocol.data_to_send()))  # data frames only
        return not ws.paused

    @staticmethod
    def _unsent(conn: Connection, owner: LinkOwner) -> list[str | bytes]:
        """The link's written dispatches ``conn`` has not sent, encoded, counted as sent
        (by the connection and the link)."""
        upto = owner.written_s
        frames = owner.state.replay_after(conn.sent_s, upto)
        conn.sent_s = upto
        owner.state.sent_s = max(owner.state.sent_s, upto)
        return [conn.link.encode(f) for f in frames]

    async def _pump(self, conn: Connection) -> None:
        """Send the link's durable dispatches this connection has not sent, in order,
        until it has sent all that is written. First waits (under ``send_timeout``)
        for a write buffer that :meth:`_send_now` filled to drain."""
        try:
            owner = conn.owner
            if owner is None:
                return
            async with conn.send_lock:
                if conn.ws.paused and not await self._drained(conn):
                    return
                while not conn.closed and conn.sent_s < owner.written_s:
                    if not await self._send_many(conn, self._unsent(conn, owner)):
                        return
        except ConnectionClosed:
            pass
        except Exception as exc:  # a bug: this connection ends, the others go on
            log.exception("bridge.pump_failed", remote=conn.address, error=repr(exc))
            self._abort(conn)

    async def _unstalled(self, conn: Connection, sending: Awaitable[object]) -> bool:
        """Await ``sending`` (a send, or the write buffer draining); one that stalls
        past ``send_timeout`` drops the connection (the peer stopped reading) and
        returns False."""
        with anyio.move_on_after(self.send_timeout) as scope:
            await sending
        if scope.cancelled_caught:
            log.warning("bridge.send_stalled", link_id=conn.link_id, remote=conn.address,
                        seconds=self.send_timeout)  # fmt: skip
            self._abort(conn)
            return False
        return True

    async def _send(self, conn: Connection, data: str | bytes) -> bool:
        """Send one frame under the stall rule (:meth:`_unstalled`)."""
        return await self._unstalled(conn, conn.ws.send(data))

    async def _drained(self, conn: Connection) -> bool:
        """Wait for the write buffer to drain under the stall rule."""
        return await self._unstalled(conn, conn.ws.drain())

    async def _send_many(self, conn: Connection, messages: list[str | bytes]) -> bool:
        """Send several frames with one write to the socket (a burst of dispatches
        costs one system call, not one each), under the same stall rule as
        :meth:`_send`. Uses websockets' documented ``send_context`` for what a send
        must check (the connection is open, flow control, errors close it)."""
        if len(messages) == 1:
            return await self._send(conn, messages[0])
        ws = conn.ws

        async def burst() -> None:
            while ws.send_in_progress is not None:  # never inside a fragmented message
                await asyncio.shield(ws.send_in_progress)
            async with ws.send_context():
                _queue(ws.protocol, messages)
                chunks = ws.protocol.data_to_send()
                if all(chunks):  # data frames only: one write; send_context drains it
                    ws.transport.write(b"".join(chunks))
                else:  # an end of stream is queued too (not by data frames): put them
                    ws.protocol.writes[:0] = chunks  # back for send_context to write

        return await self._unstalled(conn, burst())

    def _abort(self, conn: Connection) -> None:
        conn.closed = True
        conn.link.state = "closed"
        conn.ws.transport.abort()

    # -- effects ---------------------------------------------------------------------

    async def _run(self, conn: Connection, effects: list[Effect]) -> None:
        for effect in effects:
            if conn.closed:
                return
            if isinstance(effect, Send):
                if not await self._send(conn, conn.link.encode(effect.frame)):
                    return
            elif isinstance(effect, Close):
                if effect.code == CloseCode.RATE_LIMITED and conn.link.link is not None:
                    await self._failed(conn)  # a flooder that reconnects is made to wait
                await self._close(conn, effect.code, effect.reason)
            elif isinstance(effect, Authenticate | ResumeRequest):
                # nothing is pumped until ready/resumed and the replay are out
                async with conn.send_lock:
                    if isinstance(effect, Authenticate):
                        await self._run(conn, await self._authenticate(conn, effect))
                    else:
                        await self._run(conn, await self._resume(conn, effect))
                if conn.link.state == "ready" and not conn.closed:
                    conn.sending = True
                    self._wake(conn)  # what was written meanwhile
                    if self.budgets is not None:  # spent on another node: before any frame
                        await self.budgets.load(conn)
                    self._start_linking(conn)
            elif isinstance(effect, EventIn):
                conn.receiving = effect.frame.s or 0
                try:
                    if not await self._take(conn, effect.frame):
                        return
                finally:
                    conn.receiving = 0
                    settled, conn.settled = conn.settled, None
                    if settled is not None:
                        settled.set()
            elif isinstance(effect, Processed):
                if not await self._received(conn, effect.s):
                    return
            elif isinstance(effect, Acked):
                assert conn.owner is not None
                conn.owner.mark_acked()

    async def _take(self, conn: Connection, frame: Frame) -> bool:
        """Take an event the link has read (its in-memory ``in_s`` counts it already):
        stored and counted as received, or given back and the connection closed (then
        False). A resume of the link on a newer connection waits for this to end
        (:meth:`_settled`), as ``conn.receiving`` says.

        Taken first, then counted as received: a handler's write carries the link's
        record (see :meth:`record`), so the event and "received up to here" commit
        together, and no other write of the link counts it before (links.py); an event
        nothing could store is not counted, and the adapter sends it again after
        resuming. A handler that fails after its write stored the event (a later
        write failed) does not make it come again: it would be stored twice."""
        assert conn.owner is not None
        if conn.linking is not None:  # events reach the application after it
            await asyncio.shield(conn.linking)
        s = frame.s or 0
        if not await self._deliver(conn, frame) and conn.owner.record.in_s < s:
            await self._give_back(conn, s)
            return False
        return await self._received(conn, s)

    async def _received(self, conn: Connection, s: int) -> bool:
        """Count the adapter's events up to ``s`` as received in the store (unless the
        event's own write did): False, the event given back and the connection closed,
        when that write fails. Without the give-back the link's in-memory ``in_s``
        would stay ahead of the store's, and a resume on this node would acknowledge
        the resent event as a duplicate though the store never counted it."""
        assert conn.owner is not None
        try:
            await conn.owner.save_received(s)
        except (StoreError, LinkMoved) as exc:  # the store failed, or the link moved
            log.warning("bridge.event_not_counted", link_id=conn.link_id, error=repr(exc))
            await self._give_back(conn, s)
            return False
        return True

    async def _give_back(self, conn: Connection, s: int) -> None:
        """Event ``s`` was not stored: the link's in-memory ``in_s`` (which counted it
        when it was read) follows the store again, and the connection closes with 1001
        before the event is acknowledged, so the adapter resumes and sends it again."""
        assert conn.owner is not None
        if conn.owner.state.in_s == s and conn.owner.record.in_s < s:
            conn.owner.state.in_s = s - 1
        why = "the event could not be stored: resume and send it again"
        await self._close(conn, CloseCode.GOING_AWAY, why)

    async def _deliver(self, conn: Connection, frame: Frame) -> bool:
        """Give an event to the handlers: False when it could not be stored (the
        store failed, or the link moved to another node), so it must come again."""
        for handler in self.on_event:
            try:
                await handler(conn, frame)
            except EventRefused as refused:
                error = Frame("error", {"code": refused.code, "message": str(refused)})
                await self._send(conn, conn.link.encode(error))
                return True
            except (StoreError, LinkMoved) as exc:
                log.warning("bridge.event_not_stored", link_id=conn.link_id, error=repr(exc))
                return False
            except Exception as exc:  # a handler's bug: logged, the event is not retried
                log.exception("bridge.event_handler_failed", error=repr(exc))
        return True

    async def record(self, conn: Connection, batch: WriteBatch) -> None:
        """Write what an event handler keeps of an event, with the link's record (how
        far its events were received, this one included) in the same transaction, so a
        crash keeps both or neither: an event is then stored once, never lost."""
        if conn.owner is None:
            await self.store.write_links(LinkBatch(records=batch))
        else:
            await conn.owner.dispatch([], batch, received=conn.receiving)

    def _start_linking(self, conn: Connection) -> None:
        """Run the ``on_link`` handlers beside the connection's reader, not in it: they
        read the store (the server's live sessions), and when thousands of game servers
        link at once those reads queue for seconds; a reader waiting on them answered
        no heartbeat meanwhile (a heartbeat p99 of 3-4 s at 2,000 links). Events still
        wait for the handlers (``_run``), so the application sees a link's events only
        after it has heard of the link; heartbeats and acks need nothing from them. The
        task is let go once done: an idle link keeps none."""
        conn.linking = task = asyncio.get_running_loop().create_task(self._linked(conn))
        task.add_done_callback(lambda _: setattr(conn, "linking", None) if conn.linking is task
                               else None)  # fmt: skip

    async def _linked(self, conn: Connection) -> None:
        world, server_id = conn.world, conn.server_id
        if world is None or server_id is None:
            return
        for handler in self.on_link:
            try:
                await handler(world, server_id)
            except Exception as exc:
                log.exception("bridge.link_handler_failed", error=repr(exc))

    async def _close(self, conn: Connection, code: CloseCode, reason: str) -> None:
        """Start the close and return: the reader keeps draining, so a peer that is
        still sending sees the close at once instead of after a timeout. A peer closed
        for its rate (4008) is flooding: the daemon stops reading from it at once, so
        what it keeps sending is never even parsed, and drops the socket
        ``FLOOD_LINGER`` seconds after its close frame."""
        if conn.closed:
            return
        conn.closed = True
        conn.link.state = "closed"
        if code == CloseCode.RATE_LIMITED:
            self._cut_off(conn, code, reason)
            return
        task = asyncio.get_running_loop().create_task(self._send_close(conn.ws, code, reason))
        conn.closing = task
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    def _cut_off(conn: Connection, code: CloseCode, reason: str) -> None:
        """Close a flooder without reading another byte from it: its close frame and
        then a FIN go out at once (so the peer learns the code and sees the end of the
        stream even while it is still sending), and the socket is reset
        ``FLOOD_LINGER`` seconds later, whatever the peer does."""
        conn.cut = True
        ws = conn.ws
        ws.transport.pause_reading()
        asyncio.get_running_loop().call_later(FLOOD_LINGER, ws.transport.abort)
        try:
            ws.protocol.send_close(int(code), reason)
            ws.send_data()
            if ws.transport.can_write_eof():
                ws.transport.write_eof()
        except Exception as exc:  # the peer is gone already: the reset ends it anyway
            log.debug("bridge.cut_off_failed", remote=conn.address, error=repr(exc))

    @staticmethod
    async def _send_close(ws: ServerConnection, code: CloseCode, reason: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.close(int(code), reason)

    # -- identify and resume -----------------------------------------------------------

    async def _backing_off(self, conn: Connection) -> list[Effect] | None:
        """A refusal while this address is backing off after failed identifies."""
        assert self.bad_keys is not None
        wait = await self.bad_keys.wait(conn.address)
        if wait <= 0:
            return None
        return conn.link.refuse(
            CloseCode.RATE_LIMITED, f"too many failed identifies; wait {math.ceil(wait)} s"
        )

    async def _failed(self, conn: Connection) -> None:
        assert self.bad_keys is not None
        await self.bad_keys.failed(conn.address)

    async def _authenticate(self, conn: Connection, auth: Authenticate) -> list[Effect]:
        if (refusal := await self._backing_off(conn)) is not None:
            return refusal
        key = await check_world_key(self.store, auth.key, auth.world)
        if key is None and self.redeem_pass is not None:
            key = await self.redeem_pass(auth.key, auth.world, auth.server_id)
        problem = "bad or revoked world key" if key is None else None
        if key is not None:
            problem = await self._claim(key, auth.world, auth.server_id)
        if key is None or problem is not None:
            await self._failed(conn)
            log.warning("bridge.auth_failed", world=auth.world, server_id=auth.server_id,
                        remote=conn.address, reason=problem)  # fmt: skip
            return conn.link.refuse(CloseCode.AUTH_FAILED, problem or "bad world key")
        place = (auth.world, auth.server_id)
        async with self._server_locks.hold(place):
            if (refusal := await self._claim_here(conn, place, "replaced")) is not None:
                return refusal
            try:
                previous = await self._owner_for_server(*place)
            except LinkMoved as exc:  # another node claimed the server meanwhile
                return self._busy_elsewhere(conn, place, exc)
            if previous is not None and previous.record.key_id != key.id:
                other = await self.store.get_world_key(previous.record.key_id)
                if other is not None and other.revoked_at is None:
                    await self._failed(conn)
                    return conn.link.refuse(
                        CloseCode.AUTH_FAILED, f"server {auth.server_id!r} uses another key"
                    )
            if previous is not None and not await self._settled(
                conn, previous.link_id, replaced=True
            ):
                return conn.link.refuse(CloseCode.GOING_AWAY, "the server's last event is "
                                        "still being stored; identify again")  # fmt: skip
            token = new_resume_token()
            state = LinkState(new_id("link"), auth.world, auth.server_id, auth.capabilities)
            record = LinkRecord(
                id=state.link_id, world=key.world, server_id=auth.server_id, key_id=key.id,
                token_hash=digest(token), capabilities=auth.capabilities,
                adapter={k[:64]: str(v)[:64] for k, v in list(auth.adapter.items())[:8]
                         if isinstance(k, str)},  # (MessagePack keys may be bytes)
                # the fencing token of the take that found ``previous`` (or no link)
                epoch=previous.record.epoch if previous else self.store.taken_epoch(*place),
            )  # fmt: skip
            owner = self._own(LinkOwner(self.store, state, record))
            self.by_server[place] = owner.link_id
            if previous is not None:
                await previous.move_into(owner)
                self._owners.pop(previous.link_id, None)
                self._used.pop(previous.link_id, None)
                old = self.connections.pop(previous.link_id, None)
                if old is not None:
                    await self._close(old, CloseCode.REPLACED, "a newer link of this server")
            told = await self._stored_events(auth, previous)
            sessions = await self.sessions_for(*place) if self.sessions_for else []
            try:
                await owner.save()  # before ready goes out: a resume can follow at once
            except LinkMoved as exc:  # another node took the server since our take
                await self.give_up(place, "lost")
                return self._busy_elsewhere(conn, place, exc)
        self._attach(conn, owner)
        return conn.link.accept(state, token, sessions, told)

    async def _stored_events(
        self, auth: Authenticate, previous: LinkOwner | None
    ) -> dict[str, Any] | None:
        """What ``ready`` tells of the link the adapter named in ``previous_link`` (its
        unacknowledged events were numbered on it): ``{link_id, in_s}``, its events
        up to ``in_s`` are stored, so the adapter drops those and sends the rest again
        on the new link. None when the adapter named none, or a link that is not this
        game server's (another world's or server's link tells it nothing).

        ``in_s`` is final: the server's current link was settled just before (its
        connection closed, its event in flight stored or given back, and it moves to
        the new link before anything else can be read), and an older link was settled
        when it was replaced. Several nodes: the lease was taken first, so the node
        that held the link has stopped writing it."""
        named = auth.previous_link
        if named is None:
            return None
        if previous is not None and previous.link_id == named:
            record: LinkRecord | None = previous.record
        else:
            record = await self.store.get_link(named)
        if record is None or (record.world, record.server_id) != (auth.world, auth.server_id):
            return None
        return {"link_id": record.id, "in_s": record.in_s}

    async def _claim(self, key: WorldKey, world: str, server_id: str) -> str | None:
        """Why ``key`` may not identify as ``server_id``, or None. A key with no
        servers yet is bound to the first one it identifies as, unless another key
        holds that server."""
        if key.server_ids:
            return None if server_id in key.server_ids else _not_yours(key, server_id)
        async with self._claims:
            fresh = await self.store.get_world_key(key.id)
            if fresh is None or fresh.revoked_at is not None:
                return "bad or revoked world key"
            if fresh.server_ids:
                return None if server_id in fresh.server_ids else _not_yours(fresh, server_id)
            for other in await self.store.world_keys_holding(world, server_id):
                if other.id != key.id:
                    return f"server {server_id!r} uses another key"
            await self.store.save_world_key(fresh.model_copy(update={"server_ids": [server_id]}))
            log.info("bridge.key_bound", key_id=key.id, world=world, server_id=server_id)
        return None

    async def _resume(self, conn: Connection, req: ResumeRequest) -> list[Effect]:
        if (refusal := await self._backing_off(conn)) is not None:
            return refusal
        record = await self.store.get_link(req.link_id)
        if record is None or not same(req.resume_token, record.token_hash):
            await self._failed(conn)
            return conn.link.refuse(CloseCode.SESSION_INVALID, "unknown link or bad token")
        key = await self.store.get_world_key(record.key_id)
        if key is None or key.revoked_at is not None:
            return conn.link.refuse(CloseCode.AUTH_FAILED, "world key revoked")
        with self._pinned((record.world, record.server_id)):  # it holds the owner
            return await self._resume_link(conn, req, record)

    async def _resume_link(
        self, conn: Connection, req: ResumeRequest, record: LinkRecord
    ) -> list[Effect]:
        place = (record.world, record.server_id)
        if (refusal := await self._claim_here(conn, place, "resumed")) is not None:
            return refusal
        owner = self._owners.get(record.id)
        if owner is None:
            try:
                owner = await self._owner_for_server(record.world, record.server_id)
            except LinkMoved as exc:  # another node claimed the server meanwhile
                return self._busy_elsewhere(conn, place, exc)
        if owner is None or owner.link_id != record.id or owner.moved_to is not None:
            return conn.link.refuse(CloseCode.SESSION_INVALID, "this link was replaced")
        if (refusal := conn.link.resume_refusal(owner.state, req.last_s)) is not None:
            return refusal  # before the link's live connection is touched
        if not await self._settled(conn, owner.link_id):
            return conn.link.refuse(CloseCode.GOING_AWAY, "the link's last event is still "
                                    "being stored; resume again")  # fmt: skip
        if owner.moved_to is not None:  # a newer link identified meanwhile
            return conn.link.refuse(CloseCode.SESSION_INVALID, "this link was replaced")
        effects = conn.link.resume(owner.state, req.last_s, owner.written_s)
        if conn.link.state != "ready":
            return effects
        self._attach(conn, owner)
        conn.sent_s = owner.written_s
        owner.state.sent_s = max(owner.state.sent_s, owner.written_s)
        await owner.save()
        return effects

    async def _settled(self, conn: Connection, link_id: str, *, replaced: bool = False) -> bool:
        """Before ``conn`` resumes ``link_id``: stop the link's old connection here
        (its socket dropped, and the daemon may not know yet) and wait until the event
        it is still taking, if any, is stored or given back. False when that takes
        longer than ``settle_timeout`` (a handler hangs): the resume is refused then.
        ``replaced``: ``conn`` identified as the link's game server and replaces it;
        the old connection is closed with 4014 (not dropped: a peer still there must
        learn to stop) whether or not it is taking an event (it must read none once
        the link moves: its write would go to the new link), and the link's stored
        ``in_s`` is final once this returns True.

        Why: the link's in-memory ``in_s`` counts an event from the moment it is read.
        Answered at once, the resume would have the adapter's resend of that event
        acknowledged as a duplicate before it is stored (and the adapter forget it),
        and the event would be lost if its handler then failed to store it. Once it
        has settled, ``in_s`` counts it only if it is stored. The old connection is
        aborted first so it takes no further event. Returns at once, with no wait, when
        no event is being taken. Limit: only the link's connection in
        ``connections`` is looked at; an older one replaced there was settled by the
        resume that replaced it."""
        previous = self.connections.get(link_id)
        with anyio.move_on_after(self.settle_timeout):
            while previous is not None and previous is not conn:
                if replaced:
                    await self._close(previous, CloseCode.REPLACED, "a newer link of this "
                                      "server")  # fmt: skip
                if not previous.receiving:
                    return True
                if not replaced:  # (a replaced peer must see its 4014, else it resumes)
                    self._abort(previous)
                if previous.settled is None:
                    previous.settled = asyncio.Event()
                await previous.settled.wait()
                previous = self.connections.get(link_id)  # another resume may have won
            return True
        log.warning("bridge.settle_waited_too_long", link_id=link_id, identify=replaced,
                    seconds=self.settle_timeout)  # fmt: skip
        return False

    async def _claim_here(
        self, conn: Connection, place: tuple[str, str], reason: GiveUpReason
    ) -> list[Effect] | None:
        """Several nodes: take ``place``'s lease for this connection (its holder on
        another node closes its own); a refusal (1001, the adapter comes back) when
        that does not happen in time."""
        if self.cluster is None:
            return None
        from .cluster import ClusterBusy

        try:
            await self.cluster.claim(place, "resumed" if reason == "resumed" else "replaced")
        except ClusterBusy as exc:
            return self._busy_elsewhere(conn, place, exc)
        return None

    @staticmethod
    def _busy_elsewhere(conn: Connection, place: tuple[str, str], why: Exception) -> list[Effect]:
        """Several nodes: refuse an identify or resume of ``place`` whose link another
        node holds or took meanwhile (1001: the adapter comes back and is routed)."""
        log.warning("bridge.link_busy", world=place[0], server_id=place[1], error=str(why))
        return conn.link.refuse(CloseCode.GOING_AWAY, "this server's link is busy on "
                                "another node; try again")  # fmt: skip

    async def give_up(self, place: tuple[str, str], reason: GiveUpReason) -> None:
        """Several nodes: this node no longer writes ``place``'s link. Its connection
        here closes (4014 when a newer link identified on another node, 1001 when the
        lease was lost; dropped when the same link resumed elsewhere) and its owner is
        retired: nothing more of it is written here, and it is loaded from the store
        again if the lease comes back."""
        if place in self._loading:  # a load under way read the store too early
            self._given_up[place] = self._given_up.get(place, 0) + 1
        link_id = self.by_server.pop(place, None)
        if link_id is None:
            return
        owner = self._owners.pop(link_id, None)
        self._used.pop(link_id, None)
        conn = self.connections.pop(link_id, None)
        if conn is not None:
            if reason == "replaced":
                await self._close(conn, CloseCode.REPLACED, "a newer link of this server "
                                  "connected to another node")  # fmt: skip
            elif reason == "lost":
                await self._close(conn, CloseCode.GOING_AWAY, "this node lost the link")
            else:
                self._abort(conn)
        if owner is not None:
            await owner.retire()

    def _own(self, owner: LinkOwner) -> LinkOwner:
        """Register ``owner`` as its link's one owner."""
        link_id = owner.link_id
        cluster, place = self.cluster, (owner.state.world, owner.state.server_id)
        if cluster is not None:
            cluster.bind(owner, place)

        def written() -> None:
            conn = self.connections.get(link_id)
            if conn is not None:
                self._wake(conn)

        owner.on_written = written
        owner.on_refused = self._refused
        owner.max_unacked = self.max_unacked_dispatches
        self._owners[link_id] = owner
        self._used[link_id] = self.clock()
        return owner

    def _refused(self, count: int) -> None:
        """A link of this process refused ``count`` dispatches for its bound (a
        dispatch here or forwarded here, a check for room): the count since start."""
        self.dispatches_refused += count

    async def _owner_for_server(self, world: str, server_id: str) -> LinkOwner | None:
        """The owner of a game server's latest link: in memory, or loaded from the
        store once however many callers ask at the same time; registered when it is
        returned (a caller that waited for another's load may find it evicted meanwhile:
        then it is loaded again, so one process never writes through two owners).
        Several nodes: :class:`~.links.LinkMoved` when this node does not hold the
        place's lease (see :meth:`_load`)."""
        while True:
            owner = await self._find_owner(world, server_id)
            if owner is None or self._owners.get(owner.link_id) is owner:
                return owner

    async def _find_owner(self, world: str, server_id: str) -> LinkOwner | None:
        place = (world, server_id)
        link_id = self.by_server.get(place)
        if link_id is not None and link_id in self._owners:
            return self._owners[link_id]
        loading = self._loading.get(place)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[LinkOwner | None] = asyncio.get_running_loop().create_future()
        self._loading[place] = future
        try:
            owner = await self._load(world, server_id)
            future.set_result(owner)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the callers waiting see it
            raise
        finally:
            del self._loading[place]
            self._given_up.pop(place, None)  # only a load under way reads it
        return owner

    async def _load(self, world: str, server_id: str) -> LinkOwner | None:
        """Take the game server's latest link from the store and own it. Several
        nodes: only while this node holds the place's lease, else
        :class:`~.links.LinkMoved` (the caller routes again). A take bumps the
        server's epoch, which fences whoever loaded the link before: a node that gave
        the place up while a load was under way (a caller that waited for another's
        load found its owner retired, or the load read the store too early) would
        otherwise take the link back from the node now holding it, whose next write
        would be refused, and keep an owner of a place it does not hold."""
        place = (world, server_id)
        if self.cluster is not None and not self.cluster.holds(place):
            raise LinkMoved(f"{world}/{server_id} is held by another node now")
        given_up = self._given_up.get(place, 0)
        record = await self.store.take_link(world, server_id)
        if self._given_up.get(place, 0) != given_up:
            return await self._load(world, server_id)  # read before another node wrote
        if record is None:
            return None
        owner = self._owners.get(record.id) or self._own(LinkOwner.from_record(self.store, record))
        self.by_server[(world, server_id)] = owner.link_id
        return owner

    def _attach(self, conn: Connection, owner: LinkOwner) -> None:
        """Make ``conn`` the live connection of its link (a newer one wins)."""
        previous = self.connections.get(owner.link_id)
        if previous is not None and previous is not conn:
            # the old socket may be half-open: drop it now rather than wait for a handshake
            self._abort(previous)
        conn.owner = owner
        self._count(conn, False)
        self.connections[owner.link_id] = conn
        self.by_server[(owner.state.world, owner.state.server_id)] = owner.link_id

    async def _forget(self, conn: Connection) -> None:
        conn.closed = True
        owner = conn.owner
        if owner is None:
            return
        if self.connections.get(owner.link_id) is conn:
            del self.connections[owner.link_id]
        if owner.link_id in self._used:  # idle from now: not evicted before idle_link_ttl
            self._used[owner.link_id] = self.clock()
        if self.budgets is not None:  # for the node this link may move to
            await self.budgets.save([conn])
        try:
            owner.flush_acks()
            await owner.idle()
        except Exception as exc:  # the store closed first (shutdown): nothing to save
            log.warning("bridge.link_not_saved", link_id=owner.link_id, error=repr(exc))
        if owner.link_id in self._used:  # idle from now on (see evict_idle)
            self._used[owner.link_id] = self.clock()

    # -- idle links ------------------------------------------------------------------

    def evict_idle(self, limit: int = EVICT_BATCH) -> int:
        """Drop from memory the owners of links idle for ``idle_link_ttl`` seconds, at
        most ``limit`` of them; returns how many. Idle: no connection (live, or still
        draining), nothing queued, being written or waiting to be written (acks are
        written first: a sweep starts that write, the next one evicts), and no
        identify or resume of its game server at work (they hold the owner across
        awaits; a server lock held or waited for, a load from the store under way,
        ``_busy``). Everything the owner held is in the store then, so the next use
        (a dispatch, a resume, an identify) loads it again with ``take_link``, backlog
        included, exactly as after a restart. Runs with no await, so no dispatch,
        resume or load can come between the checks and the drop. Cost: a pass over
        the owners in memory and the live connections, each sweep (every quarter of
        ``idle_link_ttl``, at most every 30 s).

        Nothing of the link is kept: its ``by_server`` entry goes with it (the list of
        servers shows the links in memory; :meth:`knows` asks the store), so memory
        follows the links live or recently idle, not every game server seen since
        start. Several nodes: the link's lease is released as well
        (:meth:`~.cluster.routing.Cluster.release`), so it is not renewed for a link
        this node no longer holds, and the node its game server comes back to takes it
        without asking this one; the next use here takes it again, loading the link
        with a new epoch like any node."""
        now = self.clock()
        held = {id(c.owner) for c in self._live if c.owner is not None}
        by_server, evicted = self.by_server, 0
        for link_id, owner in list(self._owners.items()):
            if evicted >= limit:
                break
            place = (owner.state.world, owner.state.server_id)
            if (
                now - self._used.get(link_id, now) < self.idle_link_ttl
                or link_id in self.connections
                or id(owner) in held
                or place in self._loading
                or self._busy.get(place)
                or self._server_locks.locked(place)
            ):
                continue
            if not owner.quiet:
                owner.flush_acks()  # acks not written yet (a failed write): written now
                continue
            del self._owners[link_id]
            self._used.pop(link_id, None)
            if by_server.get(place) == link_id:  # (else a newer link of it is listed)
                del by_server[place]
            if self.cluster is not None and place not in by_server:  # no link of it here:
                self.cluster.release(place)  # its lease goes too (free for any node)
            evicted += 1
        if evicted:
            log.info("bridge.idle_links_evicted", count=evicted, kept=len(self._owners))
        return evicted

    def _release_unused(self, place: tuple[str, str]) -> None:
        """Several nodes: release ``place``'s lease when this node has no link of it in
        memory and nothing of it at work (an identify, a resume, a load), as
        :meth:`evict_idle` does for an evicted link: a lease is held for a link this
        node holds, not for a dispatch that found no link."""
        if (
            self.cluster is not None
            and place not in self.by_server
            and place not in self._loading
            and not self._busy.get(place)
            and not self._server_locks.locked(place)
        ):
            self.cluster.release(place)

    @contextlib.contextmanager
    def _pinned(self, place: tuple[str, str]) -> Iterator[None]:
        """Keep ``place``'s owner from eviction while the block runs."""
        self._busy[place] = self._busy.get(place, 0) + 1
        try:
            yield
        finally:
            left = self._busy[place] - 1
            if left:
                self._busy[place] = left
            else:
                del self._busy[place]

    # -- sending ---------------------------------------------------------------------

    async def dispatch(self, world: str, server_id: str, frame: Frame) -> int | None:
        """Send one dispatch; see :meth:`dispatch_many`."""
        numbers = await self.dispatch_many(world, server_id, [frame])
        return numbers[0] if numbers else None

    async def dispatch_many(
        self,
        world: str,
        server_id: str,
        frames: list[Frame],
        *,
        also: WriteBatch | None = None,
        bounded: bool = True,
    ) -> list[int]:
        """Send dispatches to a game server's link, live or not. They are numbered and
        written to the store (with ``also``, in one transaction) and then this
        returns their ``s``; the link's connection sends them when it can. Kept until
        acknowledged, so neither a drop nor a daemon restart loses one. Raises the
        store's error when they could not be written (none of them will be sent).
        Empty when that server never connected (``also`` is written all the same).
        Several nodes: written by the node holding the link (see :mod:`.cluster`)."""
        if self.cluster is not None:
            numbers = await self.cluster.dispatch(world, server_id, frames, also, bounded=bounded)
        else:
            numbers = await self.dispatch_here(world, server_id, frames, also, bounded=bounded)
        for observer in self.observers:
            try:
                observer(world, server_id, frames)
            except Exception as exc:  # an observer's bug must not fail a stored dispatch
                log.error("bridge.observer_failed", error=repr(exc))
        return numbers

    async def dispatch_here(
        self,
        world: str,
        server_id: str,
        frames: list[Frame],
        also: WriteBatch | None,
        *,
        bounded: bool = True,
    ) -> list[int]:
        """:meth:`dispatch_many` through this process's owner of the link (several
        nodes: :class:`~.links.LinkMoved` when this node no longer holds it)."""
        owner = await self._owner_for_server(world, server_id)
        if owner is None:
            if self.cluster is not None and not self.cluster.holds((world, server_id)):
                raise LinkMoved(f"{world}/{server_id} is held by another node now")
            if also is not None:
                await self.store.write_links(LinkBatch(records=also))
            self._release_unused((world, server_id))  # taken for a link that is not there
            return []
        self._touch(owner)
        return await owner.dispatch(frames, also, bounded=bounded)

    def _touch(self, owner: LinkOwner) -> None:
        """``owner`` is used now (a dispatch, or a check for room, taken or refused):
        not evicted before ``idle_link_ttl`` from here (see :meth:`evict_idle`)."""
        if owner.link_id in self._used:
            self._used[owner.link_id] = self.clock()

    def capabilities(self, link_id: str) -> list[str] | None:
        """The capabilities a link identified with, while it is in memory; None for
        one that is not (never here, or evicted: on one node a signal loads its link
        first, see :meth:`check_room`)."""
        owner = self._owners.get(link_id)
        return owner.state.capabilities if owner is not None else None

    async def server_capabilities(self, world: str, server_id: str) -> list[str] | None:
        """The action types a game server's link declared (None: any): from the link in
        memory, else from its stored record (several nodes: a link another node holds,
        or one evicted here while idle), so every action dispatch passes the link's
        capabilities (PROTOCOL.md *Trust*)."""
        link_id = self.by_server.get((world, server_id))
        known = self.capabilities(link_id) if link_id else None
        if known is None:
            record = await self.store.find_link(world, server_id)
            known = record.capabilities if record is not None else None
        return known or None

    async def check_room(self, world: str, server_id: str, count: int) -> None:
        """Raise :class:`~.links.LinkBacklogFull` now when the game server's link would
        refuse ``count`` more dispatches, for a caller about to spend something on them
        (a spawn's deploy token); the dispatch itself is checked again. One node: the
        link is loaded if need be. Several: only an owner this node holds is asked (the
        holder decides at the dispatch).

        A refusal is a use of the link, as a refused dispatch is (:meth:`_touch`): a
        game server away with a full backlog while signals keep coming stays in memory
        (no store read of its backlog per reload) and its outage is logged once
        (``bridge.link_backlog_full``). Limit: refusals further apart than
        ``idle_link_ttl`` find the link evicted in between (nothing of an evicted link
        stays in memory), so such an outage is logged once per ``idle_link_ttl``."""
        if self.cluster is None:
            owner = await self._owner_for_server(world, server_id)
        else:
            link_id = self.by_server.get((world, server_id))
            owner = self._owners.get(link_id) if link_id is not None else None
        if owner is not None and owner.moved_to is None:
            self._touch(owner)
            owner.make_room(count)

    async def knows(self, world: str, server_id: str) -> bool:
        """Whether that game server has ever linked (to any node, with several): its
        link is in memory or in the store (an idle link evicted from memory, a link
        from before a restart)."""
        if (world, server_id) in self.by_server:
            return True
        return await self.store.find_link(world, server_id) is not None

    def link_state(self, link_id: str) -> LinkState | None:
        """The in-memory state of a link this daemon has seen."""
        owner = self._owners.get(link_id)
        return owner.state if owner is not None else None

    # -- keys --------------------------------------------------------------------------

    async def revoke_world_key(self, key_id: str) -> int:
        """Close every live link of a revoked key with 4004; returns how many."""
        return await self._close_links_of({key_id})

    async def _close_links_of(self, key_ids: AbstractSet[str]) -> int:
        """Close with 4004 every live link of the keys ``key_ids``; returns how many
        (one pass over the connections, whatever the number of keys)."""
        revoked = [c for c in self.connections.values()
                   if c.owner is not None and c.owner.record.key_id in key_ids]  # fmt: skip
        for conn in revoked:
            await self._close(conn, CloseCode.AUTH_FAILED, "world key revoked")
        return len(revoked)

    async def _sweep_revoked(self, server: Server) -> None:
        """Every ``revocation_check_interval`` while links are up, close those of keys
        revoked by another process (``ae worlds revoke``, another node). Only the
        revoked ids are read, not every key. A store that fails is logged once per
        outage and asked again next round: a revoked key's links are closed once it
        answers."""
        failing = False
        while server.is_serving():
            await asyncio.sleep(self.revocation_check_interval)
            if not self.connections:
                continue
            try:
                revoked = await self.store.revoked_world_key_ids()
            except Exception as exc:
                if not failing:
                    log.warning("bridge.revocation_check_failed", error=repr(exc))
                failing = True
                continue
            if failing:
                log.info("bridge.revocation_check_recovered")
            failing = False
            await self._close_links_of(revoked)

    # -- shutdown ----------------------------------------------------------------------

    async def close_all(self, code: CloseCode = CloseCode.GOING_AWAY) -> None:
        """Graceful shutdown, bounded by ``shutdown_grace`` whatever adapters do: stop
        accepting, save every link, close every connection with ``code``, abort those
        that have not finished closing in time, and cancel the handlers still running
        then.

        Those handlers are connections that were identifying when the stop came, each
        waiting its turn for the store: with thousands of game servers connecting at
        once they kept the daemon working through the queue (and accepting more) for
        over 30 s after SIGTERM. Their adapters identify again with the next daemon."""
        for task in (self._sweeper, self._watcher):
            if task is not None:
                task.cancel()
        server = self._server
        if server is not None:
            server.server.close()  # stop accepting; the links already up close below
        with anyio.move_on_after(self.shutdown_grace):
            for owner in list(self._owners.values()):
                owner.flush_acks()
                await owner.idle()
        for conn in list(self._live):
            await self._close(conn, code, "daemon shutting down")
        with anyio.move_on_after(self.shutdown_grace):
            while self._live:
                await asyncio.sleep(0.02)
        for conn in list(self._live):
            self._abort(conn)
        if server is not None:
            for handler in list(server.handler_tasks):
                handler.cancel()


def _not_yours(key: WorldKey, server_id: str) -> str:
    servers = ", ".join(repr(s) for s in key.server_ids[:3])
    more = "" if len(key.server_ids) <= 3 else f" and {len(key.server_ids) - 3} more"
    return f"this key is for server {servers}{more}, not {server_id!r}"


def _counting_connection(edge: BridgeEdge) -> type[ServerConnection]:
    """A connection class that counts open sockets for ``edge`` and drops a socket at
    once when the count is over ``edge.max_connections``."""

    class CountedConnection(ServerConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            edge._socket_opened(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            edge._socket_closed()
            super().connection_lost(exc)

    return CountedConnection


def _socket_cap() -> int:
    """Sockets the edge may hold: the file-descriptor limit less what the process
    holds already and a tenth of the limit (at least 64) kept for the store, the
    control API and logs."""
    import os
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 100_000
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 64
    return max(16, soft - in_use - max(64, soft // 10))


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Report "out of file descriptors" while accepting once, as one line, instead of
    asyncio's traceback on every retry (it pauses accepting for a second and tries
    again); other errors go to the loop's usual handler."""
    logged = False

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        nonlocal logged
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            if not logged:
                logged = True
                log.warning("bridge.out_of_file_descriptors", error=repr(context.get("exception")))
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def raise_fd_limit() -> int:
    """Raise this process's soft file-descriptor limit to its hard limit (a daemon
    holding thousands of links needs it); returns the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``; a no-op
    elsewhere). A burst of connections (thousands of game servers identifying after a
    restart) leaves the heap full of small holes between the objects that stay; without
    this the daemon's RSS keeps the burst's high-water mark."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _queue(protocol: Protocol, messages: list[str | bytes]) -> None:
    """Queue ``messages`` as data frames in websockets' sans-I/O ``protocol`` (text for
    ``str``, binary for ``bytes``); the caller writes ``protocol.data_to_send()``."""
    for message in messages:
        if isinstance(message, str):
            protocol.send_text(message.encode())
        else:
            protocol.send_binary(message)


#: Collections of the middle generation between two full ones (Python's default: 10).
FULL_COLLECTION_SPACING = 100


def settle_heap() -> None:
    """Call once the daemon is built: moves every object made so far (word lists,
    normalisation tables, compiled schemas; they live as long as the process) out of
    reach of the cyclic garbage collector (``gc.freeze``), so a full collection only
    scans what requests create. Without it a full collection walked the moderation
    tables for ~60 ms, a stall every link felt as latency.

    It also makes full collections ``FULL_COLLECTION_SPACING`` times rarer than
    Python's default: when signals come faster than the daemon moderates them (5,000
    actions/s in ``benchmarks/bench_bridge.py``), every waiting signal's objects grow
    old, and full collections, each walking all of them (~90 ms), took a quarter of
    the loop's time. Young collections, which free almost everything a request
    makes, run as before; cyclic garbage that grew old waits longer to be freed."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_SPACING)


def _encoding_of(path: str) -> Encoding:
    return "msgpack" if parse_qs(urlsplit(path).query).get("encoding") == ["msgpack"] else "json"
