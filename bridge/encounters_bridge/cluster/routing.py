"""Several daemon nodes on one PostgreSQL and one Redis: which node writes a link, and
how a signal made on any node reaches it.

**One writer per link in the cluster.** A link's sequence numbers are handed out by
its :class:`~encounters_bridge.links.LinkOwner`, in memory, by one writer task; that is
what keeps them gapless and ordered on one node. With several nodes the same rule is
kept by a lease (:mod:`.leases`): only the node holding ``(world, server_id)``'s lease
loads that link's owner and writes its dispatches. A dispatch made on another node
(the control API, a companion) is *forwarded* to the holder over the signal bus
(:mod:`.bus`) with its audit entries and counters, and the holder numbers it, writes it
with them in one transaction, sends it on the link it holds and answers with the
numbers. We forward rather than number under a row lock in PostgreSQL because the
latter would give every node a second way to number a link beside the owner's
in-memory one (which batches, and which the connection's pump and resume read):
two allocators would have to agree on every write, and the pump would have to poll
the outbox to learn of the other's. Forwarding keeps one allocator and one outbox
writer, exactly as on one node, so 0 lost and 0 duplicated carry over:

- a forwarded dispatch is written once, by the holder, or not at all; the caller never
  sends it a second time on its own. If the holder dies before taking the request,
  nothing was done and the dispatch is routed again (:class:`~.bus.NotDelivered`); if
  it dies after taking it, the caller is told the outcome is unknown
  (:class:`DispatchUncertain`), as a caller of a single node killed mid-write is;
- the bound on a link's unacknowledged dispatches is the holder's (it alone knows the
  backlog): a forwarded dispatch it refuses comes back to the caller as the same
  :class:`~encounters_bridge.links.LinkBacklogFull` (with how many wait), nothing written;
- a holder that gives a lease up (a hand-over, a lost renewal) first stops its owner
  from starting writes, waits for the write in flight, and fails what is queued with
  :class:`~encounters_bridge.links.LinkMoved` (nothing of it was written: routed again);
  only then does the next holder load the link from PostgreSQL, the source of truth;
- a node taking a lease drops whatever it had cached of the link before loading it,
  and loads it with :meth:`~encounters_bridge.store.LinkStore.take_link`, which bumps the
  game server's epoch in PostgreSQL and stamps the link with it in the same transaction
  (a link it makes for the server carries that epoch too);
- a node that lost its lease without knowing it (paused, or cut from Redis, for longer
  than ``lease_ttl``) is stopped by PostgreSQL: every write of a link carries the
  epoch its writer loaded it with and is refused unless that is still the stored one
  (:class:`~encounters_bridge.links.LinkMoved`, nothing of it stored). The refused owner
  retires itself and this node closes the link's connection (1001) and drops its copy
  (:meth:`Cluster.bind`), so the stale node can neither take an event nor number a
  dispatch of the link again; an event it was given meanwhile is not counted as
  received, and the adapter sends it to the holder.

**Which node holds a link.** The one its adapter is connected to: identify and resume
:meth:`Cluster.claim` the lease. When the holder is another live node, that node is
asked to hand it over: it closes its connection of that game server (with 4014
``replaced`` when a new link identified, the same rule as on one node: the newer
identify wins and the older adapter stops; silently when the same link resumed here)
and passes the lease on. When the holder is dead (SIGKILL), its lease is free once its
liveness key lapses (``lease_ttl``), and the adapter resuming on another node is let in
then, replayed from the outbox. A dispatch for a link no node holds takes the lease on
the node that made it. A node that evicts an idle link from memory releases its lease
(:meth:`Cluster.release`), so no node holds the link until one uses it again.

Limits: a node that loses Redis for longer than ``lease_ttl`` is taken for dead and its
links move (its writes are then refused, see above); what it did outside the store
meanwhile (a frame it sent on a connection it still had) is not undone. The
capabilities a signal is checked against are those of links connected to the node
that moderates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Literal, Protocol

from encounters._util.locks import KeyedLocks
from encounters._util.redis import redis_client
from encounters.errors import ConfigError
from encounters.log import get_logger
from encounters.models.audit import AuditEntry
from encounters.models.deployment import CompanionChange, CompanionSession
from encounters.settings import Settings
from encounters.storage import WriteBatch

from ..frames import Frame
from ..links import LinkBacklogFull, LinkMoved, LinkOwner, frame_of
from .bus import BusError, CalleeDied, CalleeSilent, NotDelivered, SignalBus
from .leases import Leases, Place
from .node import Node

log = get_logger(__name__)
GiveUpReason = Literal["replaced", "resumed", "lost", "stale"]
#: Seconds a forwarded dispatch may wait in a live holder's inbox before the holder
#: refuses to start it (then it was not written, and is routed again).
FORWARD_START = 10.0
#: Seconds a caller waits for a live holder's answer before reporting it unknown.
FORWARD_WAIT = 30.0


class LocalLinks(Protocol):
    """What the cluster needs from this node's edge (:class:`~..server.BridgeEdge`)."""

    async def dispatch_here(
        self,
        world: str,
        server_id: str,
        frames: list[Frame],
        also: WriteBatch | None,
        *,
        bounded: bool = True,
    ) -> list[int]:
        """Write dispatches through this node's owner of the link (the caller holds the
        lease); :class:`LinkMoved` when the lease went meanwhile (nothing written)."""
        ...

    async def give_up(self, place: Place, reason: GiveUpReason) -> None:
        """Close this node's connection of ``place`` and retire its owner: after this
        returns, nothing more of it is written here."""
        ...


class ClusterBusy(Exception):
    """No node could take a link in time (its holder is alive and does not let go, or
    Redis is unreachable); nothing was written."""


class DispatchUncertain(Exception):
    """The node holding the link took the dispatch and died (or fell silent) before
    answering: it may have been stored, and then it will be delivered once."""


class Cluster:
    """This node in the cluster: its liveness, its leases and its inbox."""

    def __init__(self, settings: Settings, *, lease_ttl: float, redis: Any = None) -> None:
        if not settings.redis and redis is None:
            raise ConfigError("several nodes need AE_REDIS (a Redis URL)")
        self.redis = redis if redis is not None else redis_client(settings)
        #: the deployment's key prefix (``AE_REDIS_PREFIX``), for keys kept elsewhere
        self.prefix = settings.redis_prefix
        self.lease_ttl = lease_ttl
        self.node = Node(self.redis, settings, lease_ttl)
        self.leases = Leases(self.redis, settings, self.node.id, lease_ttl)
        self.bus = SignalBus(self.redis, settings, self.node, self._answer)
        self.links: LocalLinks | None = None
        #: places held whose stale cache was dropped: only these may be written here
        self._ready: set[Place] = set()
        #: per place, while a take or a drop of it is at work (an entry lives as long
        #: as its holders and waiters)
        self._locks: KeyedLocks[Place] = KeyedLocks(fast_acquire=True)
        #: per place, the takes at work here (from before the lease is acquired until
        #: the place is ready): :meth:`release` leaves such a place's lease alone
        self._taking: dict[Place, int] = {}
        #: places being handed to another node or released: not taken back meanwhile
        self._leaving: set[Place] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._dropping: set[asyncio.Task[None]] = set()

    @property
    def node_id(self) -> str:
        return self.node.id

    @property
    def claim_timeout(self) -> float:
        """Seconds a claim or dispatch waits for a lease: a dead holder's lapses
        within ``lease_ttl``."""
        return 2 * self.lease_ttl + 10.0

    async def start(self, links: LocalLinks) -> None:
        """Join the cluster: Redis must answer (a clear error otherwise)."""
        self.links = links
        try:
            await self.redis.ping()
        except Exception as exc:
            raise ConfigError(
                f"AE_REDIS is set but Redis does not answer ({exc}); start it or unset "
                "AE_REDIS to run one node"
            ) from None
        await self.node.beat()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._heartbeat()), loop.create_task(self.bus.serve())]
        log.info("cluster.joined", node=self.node.id, lease_ttl=self.lease_ttl)

    async def close(self) -> None:
        """Leave: leases are freed and the node is dead for the others at once (call
        after the edge saved and closed its links)."""
        for task in self._tasks:
            task.cancel()
        for task in [*self._tasks, *self._dropping]:  # releases and drops finish first
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.bus.close()
            await self.leases.release_all()
            await self.node.leave()
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    def holds(self, place: Place) -> bool:
        """Whether this node may write ``place``'s link now (no await: check it right
        before queueing a write)."""
        return place in self._ready and place in self.leases.held

    def bind(self, owner: LinkOwner, place: Place) -> None:
        """Make ``owner`` (of ``place``'s link, loaded here) write only while this node
        holds the lease, and stop using it when the store refuses its write."""
        owner.may_write = lambda: self.holds(place)
        owner.on_fenced = lambda: self._fenced(place)

    def _fenced(self, place: Place) -> None:
        """The store refused a write of ``place``'s link: another node loaded it since
        (this node's lease lapsed while it was paused or cut off). Nothing of the link
        is written here until the lease is taken again, which loads it afresh; its
        connection here closes (1001) and the retired owner is dropped. The lease, if
        still this node's, is left to the heartbeat."""
        self._ready.discard(place)
        task = asyncio.get_running_loop().create_task(self._drop_fenced(place))
        self._dropping.add(task)
        task.add_done_callback(self._dropping.discard)

    async def _drop_fenced(self, place: Place) -> None:
        async with self._locks.hold(place):
            if place not in self._ready:  # not taken again meanwhile (that dropped it)
                assert self.links is not None
                await self.links.give_up(place, "lost")

    # -- leases ------------------------------------------------------------------------

    def release(self, place: Place) -> None:
        """This node evicted ``place``'s idle link from memory (nothing of it queued
        or being written, see ``BridgeEdge.evict_idle``): stop renewing its lease and
        free it in Redis, so the node the game server comes back to takes it without
        asking this one. No await (the eviction sweep has none):
        the free is a compare-and-delete (:meth:`~.leases.Leases.hand_to`) in a task,
        and until it is done a take of the place here waits (``_leaving``), so it
        never frees a lease this node took again meanwhile. A write of the link here
        takes the lease again first, and loads the link with a new epoch (the store's
        fence holds whoever wrote it meanwhile). When Redis is away the lease is not
        renewed any more and lapses within ``lease_ttl``.

        A take of the place at work here (:meth:`_take`, from before its acquire until
        the place is ready) keeps the lease: nothing is released then (freed under it,
        the take would mark the place ready without holding it). The link the take is
        for is then in use, and released when next idle."""
        if self._taking.get(place):
            return
        self._ready.discard(place)
        if place not in self.leases.held or place in self._leaving:
            return
        self.leases.held.discard(place)
        self._leaving.add(place)
        task = asyncio.get_running_loop().create_task(self._release(place))
        self._dropping.add(task)
        task.add_done_callback(self._dropping.discard)

    async def _release(self, place: Place) -> None:
        try:
            await self.leases.hand_to(place, None)
        except Exception as exc:  # not renewed any more: it lapses within lease_ttl
            log.warning("cluster.lease_not_released", world=place[0], server_id=place[1],
                        error=repr(exc))  # fmt: skip
        finally:
            self._leaving.discard(place)

    async def _take(self, place: Place) -> str:
        """The holder of ``place`` after trying to take it; when this node took it
        just now, what it cached of the link is dropped first. Counted in ``_taking``
        meanwhile, so :meth:`release` does not free the lease under it; a lease given
        up meanwhile all the same (handed over, found lost) is acquired again rather
        than the place marked ready without it."""
        while True:
            if self.holds(place):  # renewed by the heartbeat: no round trip per dispatch
                return self.node.id
            while place in self._leaving:  # the lease names this node until passed on
                await asyncio.sleep(0.02)
            self._taking[place] = self._taking.get(place, 0) + 1
            try:
                holder = await self.leases.acquire(place)
                if holder != self.node.id or place in self._ready:
                    return holder
                async with self._locks.hold(place):
                    if place not in self._ready:
                        assert self.links is not None
                        await self.links.give_up(place, "stale")
                        if place not in self.leases.held:
                            continue  # given up meanwhile: acquire again
                        self._ready.add(place)
                return holder
            finally:
                left = self._taking[place] - 1
                if left:
                    self._taking[place] = left
                else:
                    del self._taking[place]

    async def _lose(self, place: Place, reason: GiveUpReason) -> None:
        self._ready.discard(place)
        self.leases.held.discard(place)
        assert self.links is not None
        await self.links.give_up(place, reason)

    async def claim(self, place: Place, reason: Literal["replaced", "resumed"]) -> None:
        """Make this node the holder of ``place`` for a connection that identified
        (``replaced``) or resumed here: a live holder is asked to hand over (and closes
        its connection), a dead one's lease is taken once it lapsed. Raises
        :class:`ClusterBusy` after :attr:`claim_timeout`."""
        give_up = time.monotonic() + self.claim_timeout
        while True:
            holder = await self._take(place)
            if holder == self.node.id:
                return
            request = {"op": "handover", "world": place[0], "server_id": place[1],
                       "to": self.node.id, "reason": reason}  # fmt: skip
            try:
                await self.bus.call(holder, request, wait=self.claim_timeout)
            except BusError as exc:  # the holder died or is stuck: its lease lapses
                log.info("cluster.handover_failed", holder=holder, error=str(exc))
            if time.monotonic() > give_up:
                raise ClusterBusy(f"node {holder} holds {place[0]}/{place[1]} and did not let go")
            await asyncio.sleep(min(0.2, self.lease_ttl / 4))

    # -- dispatches --------------------------------------------------------------------

    async def dispatch(
        self,
        world: str,
        server_id: str,
        frames: list[Frame],
        also: WriteBatch | None,
        *,
        bounded: bool = True,
    ) -> list[int]:
        """Write dispatches through the link's holder (this node, or another one over
        the bus); see the module's docstring for what each error means."""
        place = (world, server_id)
        give_up = time.monotonic() + self.claim_timeout
        assert self.links is not None
        while True:
            holder = await self._take(place)
            if holder == self.node.id:
                try:
                    return await self.links.dispatch_here(
                        world, server_id, frames, also, bounded=bounded
                    )
                except LinkMoved:
                    pass  # handed over meanwhile: nothing written, route again
            else:
                try:
                    answer = await self.bus.call(
                        holder, _dispatch_request(world, server_id, frames, also, bounded),
                        wait=FORWARD_WAIT,
                    )  # fmt: skip
                except NotDelivered:
                    answer = {"error": "moved"}
                except (CalleeDied, CalleeSilent) as exc:
                    raise DispatchUncertain(str(exc)) from exc
                if "s" in answer:
                    return [int(s) for s in answer["s"]]
                if answer.get("error") == "backlog":  # the holder's bound: the same error
                    raise LinkBacklogFull(world, server_id, int(answer.get("waiting", 0)),
                                          int(answer.get("limit", 0)))  # fmt: skip
                if answer.get("error") not in ("moved", "late"):
                    raise RuntimeError(str(answer.get("message", "the holder failed")))
            if time.monotonic() > give_up:
                raise ClusterBusy(f"no node could take {world}/{server_id}; nothing was stored")
            await asyncio.sleep(min(0.1, self.lease_ttl / 10))

    # -- requests from other nodes -----------------------------------------------------

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        place = (str(request["world"]), str(request["server_id"]))
        assert self.links is not None
        if request.get("op") == "handover":
            if place in self.leases.held and place not in self._leaving:
                self._leaving.add(place)
                try:
                    resumed = request.get("reason") == "resumed"
                    await self._lose(place, "resumed" if resumed else "replaced")
                    await self.leases.hand_to(place, str(request["to"]))
                finally:
                    self._leaving.discard(place)
            return {"ok": True}
        if request.get("op") == "dispatch":
            if time.time() > float(request.get("start_by", 0)):
                return {"error": "late"}
            if not self.holds(place):
                return {"error": "moved"}
            try:
                also = request.get("also")
                numbers = await self.links.dispatch_here(
                    place[0], place[1], [frame_of(f) for f in request["frames"]],
                    _batch_of(also) if isinstance(also, dict) else None,
                    bounded=request.get("bounded") is not False,
                )  # fmt: skip
            except LinkMoved:
                return {"error": "moved"}
            except LinkBacklogFull as exc:  # refused by this node's bound: nothing written
                return {"error": "backlog", "waiting": exc.waiting, "limit": exc.limit}
            except Exception as exc:  # not written: the caller's caller hears of it
                return {"error": "failed", "message": f"the dispatch was not stored: {exc}"}
            return {"s": numbers}
        return {"error": "failed", "message": f"unknown request {request.get('op')!r}"}

    async def _heartbeat(self) -> None:
        """Keep this node alive and its leases renewed, every third of ``lease_ttl``;
        a lease found to be someone else's is given up (its connection closes)."""
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            try:
                await self.node.beat()
                lost = await self.leases.renew()
            except Exception as exc:  # Redis is away: the next beat tries again
                log.warning("cluster.heartbeat_failed", error=repr(exc))
                continue
            for place in lost:
                log.warning("cluster.lease_lost", world=place[0], server_id=place[1])
                with contextlib.suppress(Exception):
                    await self._lose(place, "lost")


def _dispatch_request(
    world: str, server_id: str, frames: list[Frame], also: WriteBatch | None, bounded: bool
) -> dict[str, Any]:
    batch = None
    if also is not None:
        batch = {"audit": [e.model_dump(mode="json") for e in also.audit],
                 "companions": [c.model_dump(mode="json") for c in also.companions],
                 "changes": [c.model_dump(mode="json") for c in also.changes]}  # fmt: skip
    return {"op": "dispatch", "world": world, "server_id": server_id,
            "frames": [f.to_wire() for f in frames], "also": batch, "bounded": bounded,
            "start_by": time.time() + FORWARD_START}  # fmt: skip


def _batch_of(data: dict[str, Any]) -> WriteBatch:
    return WriteBatch(
        audit=[AuditEntry.model_validate(e) for e in data.get("audit") or []],
        companions=[CompanionSession.model_validate(c) for c in data.get("companions") or []],
        changes=[CompanionChange.model_validate(c) for c in data.get("changes") or []],
    )
