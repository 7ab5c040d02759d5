"""The daemon's WebSocket edge: ``ws://HOST:3002/ws?encoding=json|msgpack``.

A thin asyncio layer over the sans-I/O :class:`~.protocol.ServerLink`: it moves frames
between the socket and the state machine and carries out the effects that need the
store (checking world keys, loading a link to resume, keeping link state). A link's
state is written to the store whenever it changes, so a daemon restart loses no
sequence number and no unacknowledged dispatch.

Dispatches are written before they are sent (a restart must not reuse a sequence
number the adapter has seen), and a link's writes carry only what changed: the frames
sequenced since, and how far the adapter acknowledged (see
:class:`~encounters.storage.LinkWrite`). Concurrent dispatches share commits (the
store's group commit), and one pump per connection sends committed frames in ``s``
order, so a frame never overtakes an earlier one on the wire.

One bad connection never hurts the others: every error in a connection's handler ends
that connection only (with a close code when one applies).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from bisect import bisect_right
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from encounters.log import get_logger
from encounters.models import utcnow
from encounters.models.bridge import LinkRecord
from encounters.models.common import new_id
from encounters.moderation.ratelimit import InProcessRateLimiter
from encounters.storage import LinkWrite, Store, WriteBatch

from .frames import MAX_FRAME_BYTES, CloseCode, Encoding, Frame
from .keys import check_world_key, digest, new_resume_token, same
from .protocol import (
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

log = get_logger(__name__)
EventHandler = Callable[["Connection", Frame], Awaitable[None]]


@dataclass
class Connection:
    """One live adapter connection."""

    ws: ServerConnection
    link: ServerLink
    closed: bool = False
    dirty: bool = False  #: acknowledgements not yet written
    remote: str = ""
    link_id: str | None = None  #: set once identify or resume checks out
    sent_s: int = 0  #: last dispatch sent on this connection
    #: held while dispatches go out (a replay, the pump): they leave in ``s`` order
    send_lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def server_id(self) -> str | None:
        return self.link.link.server_id if self.link.link is not None else None


@dataclass
class _Stored:
    """How far a link's dispatches are handed to the store (``queued``) and durably
    written (``done``: only those may be sent)."""

    queued: int = 0
    done: int = 0


def _s(frame: Frame) -> int:
    return frame.s or 0


@dataclass
class BridgeEdge:
    """Accepts adapter links and routes frames. ``on_event`` handlers receive every new
    adapter event once, in order."""

    store: Store
    heartbeat_interval: float = 15.0
    max_frame_bytes: int = MAX_FRAME_BYTES
    clock: Callable[[], float] = time.monotonic
    on_event: list[EventHandler] = field(default_factory=list)
    sessions_for: Callable[[str, str], Awaitable[list[dict[str, Any]]]] | None = None
    connections: dict[str, Connection] = field(default_factory=dict)  # by link id
    by_server: dict[tuple[str, str], str] = field(default_factory=dict)  # -> link id
    _states: dict[str, LinkState] = field(default_factory=dict)
    _records: dict[str, LinkRecord] = field(default_factory=dict)
    _stored: dict[str, _Stored] = field(default_factory=dict)
    _closing: set[asyncio.Task[None]] = field(default_factory=set)
    #: inbound event budgets per link, kept across its reconnections
    _event_limiter: InProcessRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self._event_limiter = InProcessRateLimiter(clock=self.clock)

    # -- serving ---------------------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 3002) -> Server:
        """Start listening; the caller closes the returned server."""
        return await serve(
            self._handle,
            host,
            port,
            process_request=self._check_request,
            # our own check closes with 4012 up to 16x the limit; beyond, websockets 1009
            max_size=16 * self.max_frame_bytes,
            close_timeout=2,  # a flooding or vanished peer must not hold a close for long
            ping_interval=None,  # the protocol has its own heartbeats
            compression=None,
        )

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
            now=self.clock(),
            limiter=self._event_limiter,
        )
        conn = Connection(ws, link, remote=str(ws.remote_address))
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watchdog, conn)
                try:
                    await self._run(conn, link.connected(self.clock()))
                    async for message in ws:  # after a close, this drains until it ends
                        if not conn.closed:
                            await self._run(conn, link.receive(message, self.clock()))
                except ConnectionClosed:
                    pass
                except Exception as exc:  # a bug must not take down other links
                    log.exception("bridge.connection_failed", remote=conn.remote, error=repr(exc))
                    await self._close(conn, CloseCode.UNKNOWN_ERROR, "internal error")
                finally:
                    tg.cancel_scope.cancel()
        finally:
            await self._forget(conn)

    async def _watchdog(self, conn: Connection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while not conn.closed:
                await anyio.sleep(max(0.05, self.heartbeat_interval / 2))
                if conn.dirty:
                    await self._persist(conn)
                await self._run(conn, conn.link.timed_out(self.clock()))

    # -- effects ---------------------------------------------------------------------

    async def _run(self, conn: Connection, effects: list[Effect]) -> None:
        for effect in effects:
            if conn.closed:
                return
            if isinstance(effect, Send):
                await conn.ws.send(conn.link.encode(effect.frame))
            elif isinstance(effect, Close):
                await self._close(conn, effect.code, effect.reason)
            elif isinstance(effect, Authenticate | ResumeRequest):
                # nothing is pumped until ready/resumed and the replay are out
                async with conn.send_lock:
                    if isinstance(effect, Authenticate):
                        await self._run(conn, await self._authenticate(conn, effect))
                    else:
                        await self._run(conn, await self._resume(conn, effect))
                await self._pump(conn)  # what was committed meanwhile
            elif isinstance(effect, EventIn):
                await self._persist(conn)
                for handler in self.on_event:
                    try:
                        await handler(conn, effect.frame)
                    except Exception as exc:
                        log.exception("bridge.event_handler_failed", error=repr(exc))
            elif isinstance(effect, Processed):
                await self._persist(conn)
            elif isinstance(effect, Acked):
                # Saved lazily (watchdog, close): after a crash a processed dispatch
                # may be sent again, and the adapter ignores it by its s.
                conn.dirty = True

    async def _close(self, conn: Connection, code: CloseCode, reason: str) -> None:
        """Start the close and return: the reader keeps draining, so a peer that is
        still sending (a flood) sees the close at once instead of after a timeout."""
        if conn.closed:
            return
        conn.closed = True
        conn.link.state = "closed"
        task = asyncio.get_running_loop().create_task(self._send_close(conn.ws, code, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _send_close(ws: ServerConnection, code: CloseCode, reason: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.close(int(code), reason)

    async def _authenticate(self, conn: Connection, auth: Authenticate) -> list[Effect]:
        key = await check_world_key(self.store, auth.key, auth.world)
        if key is None:
            log.warning(
                "bridge.auth_failed", world=auth.world, server_id=auth.server_id, remote=conn.remote
            )
            return conn.link.refuse(CloseCode.AUTH_FAILED, "bad or revoked world key")
        token = new_resume_token()
        state = LinkState(new_id("link"), auth.world, auth.server_id, auth.capabilities)
        record = LinkRecord(
            id=state.link_id,
            world=key.world,
            server_id=auth.server_id,
            key_id=key.id,
            token_hash=digest(token),
            capabilities=auth.capabilities,
            adapter={k: str(v)[:64] for k, v in list(auth.adapter.items())[:8]},
        )
        await self._attach(conn, state, record)
        sessions = await self.sessions_for(auth.world, auth.server_id) if self.sessions_for else []
        await self._persist(conn)  # saved before ready goes out: a resume can follow at once
        # dispatches made while we were answering are on the state: the pump sends them
        return conn.link.accept(state, token, sessions)

    async def _resume(self, conn: Connection, req: ResumeRequest) -> list[Effect]:
        record = await self.store.get_link(req.link_id)
        if record is None or not same(req.resume_token, record.token_hash):
            return conn.link.refuse(CloseCode.SESSION_INVALID, "unknown link or bad token")
        key = await self.store.get_world_key(record.key_id)
        if key is None or key.revoked_at is not None:
            return conn.link.refuse(CloseCode.AUTH_FAILED, "world key revoked")
        state = self._states.get(record.id) or self._load(record)
        await self._attach(conn, state, self._records.get(record.id, record))
        # the replay holds what is stored now; anything newer goes out with the pump
        done = conn.sent_s = self._stored[state.link_id].done
        effects = conn.link.resume(state, req.last_s)
        await self._persist(conn)
        return [e for e in effects if not isinstance(e, Send) or _s(e.frame) <= done]

    def _load(self, record: LinkRecord) -> LinkState:
        """A link's state from its stored record (after a daemon restart)."""
        state = LinkState(
            record.id, record.world, record.server_id, list(record.capabilities),
            record.out_s, record.in_s, [_frame(f) for f in record.unacked],
        )  # fmt: skip
        self._states[record.id], self._records[record.id] = state, record
        self._stored[record.id] = _Stored(record.out_s, record.out_s)
        return state

    async def _attach(self, conn: Connection, state: LinkState, record: LinkRecord) -> None:
        """Make ``conn`` the live connection of its link (a newer one wins)."""
        previous = self.connections.get(state.link_id)
        if previous is not None and previous is not conn:
            # the old socket may be half-open: drop it now rather than wait for a handshake
            previous.closed = True
            previous.link.state = "closed"
            previous.ws.transport.abort()
        conn.link_id = state.link_id
        self.connections[state.link_id] = conn
        self._states[state.link_id] = state
        self._records[state.link_id] = record
        self._stored.setdefault(state.link_id, _Stored())
        self.by_server[(state.world, state.server_id)] = state.link_id

    async def _forget(self, conn: Connection) -> None:
        conn.closed = True
        link_id = conn.link_id
        if link_id is not None and link_id in self._records:
            if self.connections.get(link_id) is conn:
                del self.connections[link_id]
            try:
                await self._persist(conn)
            except Exception as exc:  # the store closed first (shutdown): nothing to save
                log.warning("bridge.link_not_saved", link_id=link_id, error=repr(exc))

    async def _persist(self, conn: Connection) -> None:
        conn.dirty = False
        if conn.link_id is not None and conn.link_id in self._records:
            await self._save(conn.link_id)

    async def _save(self, link_id: str, also: WriteBatch | None = None) -> None:
        """Write what changed in a link (with ``also``, in the same transaction): its
        sequence numbers, the dispatches sequenced since the last write, and how far
        the adapter acknowledged."""
        state, stored = self._states[link_id], self._stored[link_id]
        record = self._records[link_id].model_copy(
            update={"out_s": state.out_s, "in_s": state.in_s, "updated_at": utcnow()}
        )
        self._records[link_id] = record
        new = state.unacked[bisect_right(state.unacked, stored.queued, key=_s) :]
        acked = _s(state.unacked[0]) - 1 if state.unacked else state.out_s
        target = stored.queued = state.out_s
        batch = also or WriteBatch()
        batch.links.append(LinkWrite(record, [f.to_wire() for f in new], acked))
        try:
            await self.store.write_batch(batch)
        except BaseException:
            stored.queued = stored.done  # written again by the next save
            raise
        stored.done = max(stored.done, target)

    async def _pump(self, conn: Connection) -> None:
        """Send the link's stored dispatches this connection has not sent, in order.
        When another task holds the send lock (a pump, a replay), it returns at once:
        the holder looks at how far the store got before it lets go."""
        if conn.send_lock.locked():
            return
        async with conn.send_lock:
            state = self._states.get(conn.link_id or "")
            if state is None or conn.link.link is None:  # not ready yet
                return
            done = self._stored[state.link_id].done
            while not conn.closed and conn.sent_s < done:
                start = bisect_right(state.unacked, conn.sent_s, key=_s)
                end = bisect_right(state.unacked, done, key=_s)
                conn.sent_s = done
                for frame in state.unacked[start:end]:
                    await conn.ws.send(conn.link.encode(frame))
                done = self._stored[state.link_id].done

    # -- sending ---------------------------------------------------------------------

    async def dispatch(self, world: str, server_id: str, frame: Frame) -> int | None:
        """Send one dispatch; see :meth:`dispatch_many`."""
        numbers = await self.dispatch_many(world, server_id, [frame])
        return numbers[0] if numbers else None

    async def dispatch_many(
        self, world: str, server_id: str, frames: list[Frame], *, also: WriteBatch | None = None
    ) -> list[int]:
        """Send dispatches to a game server's link, live or not. They are sequenced and
        written to the store (with ``also``, in one transaction) *before* they are
        sent, and kept until acknowledged, so neither a drop nor a daemon restart loses
        one. Returns their ``s``; empty when that server never connected (``also`` is
        written all the same)."""
        link_id = self.by_server.get((world, server_id))
        if link_id is None:
            link_id = await self._known_link(world, server_id)
        if link_id is None:
            if also is not None:
                await self.store.write_batch(also)
            return []
        state = self._states[link_id]
        numbered = [state.sequence(f) for f in frames]
        await self._save(link_id, also)
        conn = self.connections.get(link_id)
        if conn is not None and not conn.closed:
            with contextlib.suppress(ConnectionClosed):  # kept unacked: replayed on resume
                await self._pump(conn)
        return [_s(f) for f in numbered]

    async def _known_link(self, world: str, server_id: str) -> str | None:
        """The latest link of a server from the store (after a daemon restart, before
        the server reconnects), loaded into memory."""
        record = await self.store.find_link(world, server_id)
        if record is None:
            return None
        self._load(record)
        self.by_server[(world, server_id)] = record.id
        return record.id

    def link_state(self, link_id: str) -> LinkState | None:
        """The in-memory state of a link this daemon has seen."""
        return self._states.get(link_id)

    async def close_all(self, code: CloseCode = CloseCode.GOING_AWAY) -> None:
        """Graceful shutdown: save every link and close it with ``code``."""
        for conn in list(self.connections.values()):
            await self._persist(conn)
            await self._close(conn, code, "daemon shutting down")


def settle_heap() -> None:
    """Call once the daemon is built: moves every object made so far (word lists,
    normalisation tables, compiled schemas; they live as long as the process) out of
    reach of the cyclic garbage collector (``gc.freeze``), so a full collection only
    scans what requests create. Without it a full collection walked the moderation
    tables for ~60 ms, a stall every link felt as latency."""
    gc.collect()
    gc.freeze()


def _encoding_of(path: str) -> Encoding:
    return "msgpack" if parse_qs(urlsplit(path).query).get("encoding") == ["msgpack"] else "json"


def _frame(wire: dict[str, Any]) -> Frame:
    return Frame(wire["op"], wire.get("d", {}), wire.get("s"), wire.get("sid"))
