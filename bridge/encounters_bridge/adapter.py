"""The adapter side of the protocol in Python: what a game (or the web world, or a
test) runs to hold a link to the daemon.

:class:`AdapterClient` connects, identifies (or resumes), answers heartbeats, hands each
new dispatch to ``on_dispatch`` once (a handler that raises is logged,
``adapter.dispatch_handler_failed``, and the link goes on), keeps events until the
daemon acknowledges them, and reconnects with backoff after a drop, following the close
code (resume, identify again, or stop for good after a bad key). A frame it cannot
read ends that connection (4002), never the client: it resumes.

Events wait in memory until the daemon acknowledges them, at most
``max_unacked_events`` (10,000 by default): refuse new events when full; never drop
queued ones. :meth:`AdapterClient.send_event` then raises :class:`EventQueueFull` and
logs ``adapter.event_queue_full`` once per outage, and ``adapter.event_queue_drained``
(with how many were refused) once the daemon has acknowledged half the queue. An event
the daemon could not read (see ``protocol.check_event``) is refused the same way, with
:class:`InvalidEvent`: queued, it would close the link after every reconnection.

Several daemon nodes: give a list of URLs. The client holds one at a time and moves to
the next (round robin) when a connection cannot be made or ends without a close
handshake (1006: the node died) or with 1001 (the node is stopping, or the link is busy
on another node); it resumes there, and the node it reaches takes the link over (see
``encounters_bridge.cluster``). One load-balanced URL works the same way.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from encounters.log import get_logger

from .frames import DecodeError, Encoding, Frame
from .protocol import (
    ADAPTER_MAX_FRAME_BYTES,
    MAX_UNACKED_EVENTS,
    Acked,
    AdapterLink,
    DispatchIn,
    Effect,
    EventQueueFull,
    InvalidEvent,
    QueueDrained,
    Send,
)

log = get_logger(__name__)
DispatchHandler = Callable[[Frame], Awaitable[None]]
#: Seconds an owed ack waits for the rest of a burst of dispatches.
ACK_DELAY = 0.05
#: Longest sleep of the beat task while the link is not ready.
IDLE_WAKE = 0.5
#: Close codes after which the next URL of the list is tried (the node is gone).
NEXT_NODE = frozenset({1001, 1006})


class AdapterClient:
    """``url`` is the daemon's base, e.g. ``ws://127.0.0.1:3002/ws``, or a list of the
    nodes' bases (tried in order, moving on when a node goes away).
    ``max_unacked_events``: how many events may wait for the daemon's acknowledgement
    before :meth:`send_event` refuses new ones (see
    :data:`~encounters_bridge.protocol.MAX_UNACKED_EVENTS`)."""

    def __init__(
        self,
        url: str | Sequence[str],
        *,
        world: str,
        server_id: str,
        key: str,
        capabilities: list[str],
        encoding: Encoding = "json",
        on_dispatch: DispatchHandler | None = None,
        max_attempts: int | None = None,
        max_backoff: float = 60.0,
        max_unacked_events: int = MAX_UNACKED_EVENTS,
    ) -> None:
        bases = [url] if isinstance(url, str) else list(url)
        if not bases:
            raise ValueError("AdapterClient needs at least one daemon URL")
        self.urls = [f"{u}{'&' if '?' in u else '?'}encoding={encoding}" for u in bases]
        self._at = 0  #: index in urls of the node used now
        self.link = AdapterLink(
            world=world, server_id=server_id, key=key, capabilities=capabilities,
            encoding=encoding, max_unacked_events=max_unacked_events,
        )  # fmt: skip
        self.on_dispatch = on_dispatch
        self.max_attempts = max_attempts
        self.max_backoff = max_backoff  # tests and local tools reconnect quickly
        self.ws: ClientConnection | None = None
        self.ready = anyio.Event()
        self.last_close: int | None = None
        self.connections = 0
        self._stop = False
        self._owed = anyio.Event()  #: set when the beat task has something to do early

    @property
    def url(self) -> str:
        """The URL (with its encoding) of the node in use or tried next."""
        return self.urls[self._at]

    async def run(self) -> None:
        """Hold the link until :meth:`stop` or a close that says stop."""
        attempt = 0
        while not self._stop and not self.link.stopped:
            try:
                async with connect(
                    self.url, ping_interval=None, max_size=ADAPTER_MAX_FRAME_BYTES
                ) as ws:
                    self.ws = ws
                    self.connections += 1
                    attempt = 0
                    await self._session(ws)
            except (OSError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
                log.info("adapter.connect_failed", error=repr(exc))
                self.last_close = 1006
            finally:
                self.ws = None
                self.ready = anyio.Event()
            if self._stop:
                break
            decision = self.link.closed(self.last_close or 1006)
            if decision == "stop":
                log.warning("adapter.stopped", code=self.last_close)
                break
            if self.max_attempts is not None and attempt >= self.max_attempts:
                break
            if (self.last_close or 1006) in NEXT_NODE:
                self._at = (self._at + 1) % len(self.urls)
            delay = self.link.backoff(attempt)
            await anyio.sleep(min(delay, self.max_backoff))
            attempt += 1

    async def _session(self, ws: ClientConnection) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._beat, ws)
            try:
                async for message in ws:
                    try:
                        effects = self.link.receive(message, time.monotonic())
                    except DecodeError as exc:  # the daemon broke the protocol: not the
                        # game's problem; this connection ends, the link resumes
                        log.warning("adapter.bad_frame", url=self.url, error=str(exc)[:200])
                        await ws.close(int(exc.code), "bad frame")
                        break
                    await self._apply(ws, effects)
                    if self.link.ready and not self.ready.is_set():
                        self.ready.set()
                        self._owed.set()  # the heartbeat schedule starts now
                    elif (
                        self.link.owes_ack() or self.link.resend_at is not None
                    ) and not self._owed.is_set():
                        self._owed.set()  # an ack owed, or a resend scheduled
            except ConnectionClosed:
                pass
            finally:
                tg.cancel_scope.cancel()
        self.last_close = ws.close_code if ws.close_code is not None else 1006

    async def _beat(self, ws: ClientConnection) -> None:
        """Heartbeats, resends and owed acks, each when due: the task sleeps until the
        link's next deadline or until a dispatch leaves an ack owed, so an idle link
        costs one wake-up per heartbeat (a fleet of thousands of links in one process
        stays cheap)."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                due = self.link.next_tick()
                delay = IDLE_WAKE if due is None else due - time.monotonic()
                with anyio.move_on_after(max(0.0, delay)):
                    await self._owed.wait()
                if self._owed.is_set():
                    await anyio.sleep(ACK_DELAY)  # one ack covers a burst
                    self._owed = anyio.Event()
                await self._apply(ws, self.link.tick(time.monotonic()))

    async def _apply(self, ws: ClientConnection, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                await ws.send(self.link.encode(effect.frame))
            elif isinstance(effect, DispatchIn):
                try:
                    if self.on_dispatch is not None:
                        await self.on_dispatch(effect.frame)
                except Exception as exc:  # the game's bug (or a dispatch it cannot
                    # read): logged; the link goes on, and the dispatch, which ran, is
                    # processed and not run again
                    log.exception("adapter.dispatch_handler_failed", s=effect.frame.s,
                                  error=repr(exc))  # fmt: skip
                await self._apply(ws, self.link.processed(effect.frame))
            elif isinstance(effect, QueueDrained):
                log.info("adapter.event_queue_drained", refused=effect.refused,
                         waiting=self.link.waiting)  # fmt: skip
            elif isinstance(effect, Acked):
                pass

    async def send_event(self, d: dict[str, Any], sid: str | None = None) -> None:
        """Queue an event; sent now when connected, else after the next resume.

        Raises :class:`InvalidEvent` (nothing is queued; the link goes on) when the
        daemon could not read the event: ``d`` not a dict, ``sid`` not a string of 1
        to 64 characters, a value the encoding cannot carry, nesting deeper than 32, or
        a frame over the daemon's 64 KiB (see ``protocol.check_event``). Raises
        :class:`EventQueueFull` (nothing is queued) when ``max_unacked_events``
        events already wait for the daemon's acknowledgement; those are kept and sent
        when it is back, and new events are taken again as it acknowledges them."""
        try:
            effects = self.link.event(d, sid)
        except EventQueueFull as exc:
            if self.link.refused == 1:  # once per outage, not once per event
                log.warning("adapter.event_queue_full", waiting=exc.waiting,
                            limit=exc.limit)  # fmt: skip
            raise
        if self.ws is not None:
            with contextlib.suppress(ConnectionClosed):  # kept unacked: resent on resume
                await self._apply(self.ws, effects)

    async def drop(self) -> None:
        """Cut the connection without a close handshake (tests: a network failure)."""
        if self.ws is not None:
            self.ws.transport.abort()

    async def stop(self) -> None:
        self._stop = True
        if self.ws is not None:
            await self.ws.close()


__all__ = ["AdapterClient", "EventQueueFull", "InvalidEvent"]
