"""The daemon's WebSocket edge: ``ws://HOST:3002/ws?encoding=json|msgpack``.

A thin asyncio layer over the sans-I/O :class:`~.protocol.ServerLink`: it moves frames
between the socket and the state machine and carries out the effects that need the
store (checking world keys, loading a link to resume, keeping link state). A link's
state is written to the store whenever it changes, so a daemon restart loses no
sequence number and no unacknowledged dispatch.

One bad connection never hurts the others: every error in a connection's handler ends
that connection only (with a close code when one applies).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
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
from encounters.storage import Store

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
    record: LinkRecord | None = None
    closed: bool = False
    dirty: bool = False  #: acknowledgements not yet written
    remote: str = ""


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
    _closing: set[asyncio.Task[None]] = field(default_factory=set)

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
            elif isinstance(effect, Authenticate):
                await self._run(conn, await self._authenticate(conn, effect))
            elif isinstance(effect, ResumeRequest):
                await self._run(conn, await self._resume(conn, effect))
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
        conn.record = LinkRecord(
            id=state.link_id,
            world=key.world,
            server_id=auth.server_id,
            key_id=key.id,
            token_hash=digest(token),
            capabilities=auth.capabilities,
            adapter={k: str(v)[:64] for k, v in list(auth.adapter.items())[:8]},
        )
        await self._attach(conn, state)
        sessions = await self.sessions_for(auth.world, auth.server_id) if self.sessions_for else []
        # dispatches made while we were answering were queued on the state: send them now
        effects = [*conn.link.accept(state, token, sessions), *map(Send, state.unacked)]
        await self._persist(conn)  # saved before ready goes out: a resume can follow at once
        return effects

    async def _resume(self, conn: Connection, req: ResumeRequest) -> list[Effect]:
        record = await self.store.get_link(req.link_id)
        if record is None or not same(req.resume_token, record.token_hash):
            return conn.link.refuse(CloseCode.SESSION_INVALID, "unknown link or bad token")
        key = await self.store.get_world_key(record.key_id)
        if key is None or key.revoked_at is not None:
            return conn.link.refuse(CloseCode.AUTH_FAILED, "world key revoked")
        state = self._states.get(record.id) or LinkState(
            record.id, record.world, record.server_id, list(record.capabilities),
            record.out_s, record.in_s, [_frame(f) for f in record.unacked],
        )  # fmt: skip
        conn.record = record
        await self._attach(conn, state)
        effects = conn.link.resume(state, req.last_s)
        await self._persist(conn)
        return effects

    async def _attach(self, conn: Connection, state: LinkState) -> None:
        """Make ``conn`` the live connection of its link (a newer one wins)."""
        previous = self.connections.get(state.link_id)
        if previous is not None and previous is not conn:
            # the old socket may be half-open: drop it now rather than wait for a handshake
            previous.closed = True
            previous.link.state = "closed"
            previous.ws.transport.abort()
        self.connections[state.link_id] = conn
        self._states[state.link_id] = state
        self.by_server[(state.world, state.server_id)] = state.link_id
        await self._persist(conn)

    async def _forget(self, conn: Connection) -> None:
        conn.closed = True
        if conn.record is not None:
            if self.connections.get(conn.record.id) is conn:
                del self.connections[conn.record.id]
            try:
                await self._persist(conn)
            except Exception as exc:  # the store closed first (shutdown): nothing to save
                log.warning("bridge.link_not_saved", link_id=conn.record.id, error=repr(exc))

    async def _persist(self, conn: Connection) -> None:
        conn.dirty = False
        if conn.record is None or conn.link.link is None:
            return
        state = conn.link.link
        conn.record = conn.record.model_copy(update={
            "out_s": state.out_s, "in_s": state.in_s, "updated_at": utcnow(),
            "unacked": [f.to_wire() for f in state.unacked],
        })  # fmt: skip
        await self.store.save_link(conn.record)

    # -- sending ---------------------------------------------------------------------

    async def dispatch(self, world: str, server_id: str, frame: Frame) -> int | None:
        """Send one dispatch; see :meth:`dispatch_many`."""
        numbers = await self.dispatch_many(world, server_id, [frame])
        return numbers[0] if numbers else None

    async def dispatch_many(self, world: str, server_id: str, frames: list[Frame]) -> list[int]:
        """Send dispatches to a game server's link, live or not. They are sequenced and
        written to the store (one write for the batch) *before* they are sent, and kept
        until acknowledged, so neither a drop nor a daemon restart loses one. Returns
        their ``s``; empty when that server never connected."""
        link_id = self.by_server.get((world, server_id))
        if link_id is None:
            link_id = await self._known_link(world, server_id)
        if link_id is None or not frames:
            return []
        conn = self.connections.get(link_id)
        if conn is not None and not conn.closed and conn.link.link is not None:
            effects = [e for f in frames for e in conn.link.dispatch(f)]
            await self._persist(conn)
            with contextlib.suppress(ConnectionClosed):  # kept unacked: replayed on resume
                await self._run(conn, effects)
            return [e.frame.s for e in effects if isinstance(e, Send) and e.frame.s]
        state = self._states[link_id]
        numbered = [state.sequence(f) for f in frames]
        record = await self.store.get_link(link_id)
        if record is not None:
            await self.store.save_link(record.model_copy(update={
                "out_s": state.out_s, "unacked": [f.to_wire() for f in state.unacked],
            }))  # fmt: skip
        return [f.s for f in numbered if f.s]

    async def _known_link(self, world: str, server_id: str) -> str | None:
        """The latest link of a server from the store (after a daemon restart, before
        the server reconnects), loaded into memory."""
        record = await self.store.find_link(world, server_id)
        if record is None:
            return None
        self._states[record.id] = LinkState(
            record.id, record.world, record.server_id, list(record.capabilities),
            record.out_s, record.in_s, [_frame(f) for f in record.unacked],
        )  # fmt: skip
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


def _encoding_of(path: str) -> Encoding:
    return "msgpack" if parse_qs(urlsplit(path).query).get("encoding") == ["msgpack"] else "json"


def _frame(wire: dict[str, Any]) -> Frame:
    return Frame(wire["op"], wire.get("d", {}), wire.get("s"), wire.get("sid"))
