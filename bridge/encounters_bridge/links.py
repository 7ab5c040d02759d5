"""One owner per link: :class:`LinkOwner` holds a link's state (sequence numbers,
acknowledgements, unacknowledged dispatches, its stored record) and is the only thing
in the process that changes or writes it.

Why one owner: concurrent signals for sessions on the same link, the connection's
reader (acks, events) and a resume must all see the same numbers. If two of them held
separate copies (say, both loaded the link from the store after a restart), they would
hand out the same ``s`` twice and one set of dispatches would be lost. So the edge
keeps one ``LinkOwner`` per link id and loads each at most once (see
:class:`~.server.BridgeEdge`).

Writes are serialized per link and batched: callers queue their dispatches (with the
audit entries and counters that must land in the same transaction) and wait; one
writer task numbers everything queued, writes it in one store transaction and only
then wakes the connection's pump. Numbering happens in the writer, so a failed write
gives its numbers back (nothing of it was sent) and its callers get the error: a
dispatch is either durable and will be delivered, or its caller is told it was not.
Only dispatches up to :attr:`LinkOwner.written_s` are ever sent.

The stored record says how far the adapter's events were received (``in_s``), and it
moves only with the write that stores the event (``received``): the in-memory
``in_s`` moves as soon as an event is read (it is how a resent event is told from a
new one), but a write of the link made meanwhile for something else (a signal's
dispatches, acks) stores the ``in_s`` of the events already stored. Were it to store the
in-memory one, a node killed before the event's own write would leave a record
claiming the event, and the next node would take the adapter's resend of it for a
duplicate and drop it: the event would be lost.

With several daemon nodes the rule holds across them: only the node holding the
link's lease keeps its owner (``may_write`` asks, right before each write is queued),
and a node giving the lease up retires it (:meth:`LinkOwner.retire`; see
:mod:`encounters_bridge.cluster.routing`). A node that does not know it lost the lease
(it was paused for longer than the lease) is stopped by the store instead: each write
carries the epoch the link was loaded with, and the store refuses it once another node
has loaded the link since (:class:`LinkMoved`); the owner then retires itself and says
so (``on_fenced``), and nothing of the refused write was stored. A link this process
made (an identify) carries the epoch its game server was taken with, and its writes
are fenced by the server's epoch until one is stored (``new``): another node that took
the server meanwhile may have made a link of its own.

A link keeps at most ``max_unacked`` dispatches waiting for the peer's ack (stored and
unacknowledged, or queued for the writer): beyond, :meth:`LinkOwner.dispatch` refuses
the whole batch with :class:`LinkBacklogFull` before anything is queued or numbered,
and nothing waiting is ever dropped (``bridge/PROTOCOL.md``, "The daemon's queue of
unacknowledged dispatches"). Dispatches carried into a newer link (:meth:`move_into`)
are taken beyond it: they were accepted already. An owner with nothing in flight
(:attr:`LinkOwner.quiet`) has all of its link in the store, which is what lets the edge
drop it from memory and load it again later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from encounters.log import get_logger
from encounters.models import utcnow
from encounters.storage import WriteBatch

from .frames import Frame
from .protocol import LinkState
from .store.models import LinkRecord
from .store.protocols import LinkBatch, LinkStore, LinkWrite
from .store.protocols import LinkMoved as LinkMoved

log = get_logger(__name__)
#: Dispatches a link keeps waiting for the adapter's acknowledgement, by default (the
#: daemon's ``max_unacked_dispatches``). Each waits in memory (``LinkState.unacked``,
#: about 1 KB with its action) and in the store's outbox until acknowledged, and all of
#: them are replayed at once on resume: 10,000 are about 10 MB per link and a replay
#: an adapter takes in a second or two, while a live game server acknowledges within a
#: heartbeat (15 s) and a companion sends a few actions a second, so a link with 10,000
#: waiting has had a game server away for an hour or more (or a peer that never acks).
#: The same bound as the Python adapter's and the Minecraft bridge's event queues.
MAX_UNACKED_DISPATCHES = 10_000
#: Seconds a link with no connection and nothing being written is kept in memory
#: (:meth:`~.server.BridgeEdge.evict_idle`): long enough that a game server reconnecting after a
#: map change or a restart finds it there, short enough that a daemon serving many
#: short-lived game servers holds only those of the last few minutes.
IDLE_LINK_TTL = 300.0


class LinkBacklogFull(Exception):
    """A dispatch was refused because its link already has ``waiting`` dispatches
    the game server has not acknowledged (``limit`` at most): nothing of it was
    written, and nothing queued was dropped. Room comes back as the game server
    acknowledges (it is offline, or not reading its link). A refused batch is refused
    whole, never cut (see :meth:`LinkOwner.dispatch`)."""

    def __init__(self, world: str, server_id: str, waiting: int, limit: int) -> None:
        self.world, self.server_id, self.waiting, self.limit = world, server_id, waiting, limit
        super().__init__(
            f"the {world} server {server_id!r} has not acknowledged the {waiting} dispatches "
            f"waiting for it (at most {limit} wait per link): it is offline or not reading "
            "its link, so nothing more is queued for it; they are kept and sent when it is "
            "back. Try again once it is connected and has caught up (or raise the "
            "daemon's max_unacked_dispatches)"
        )


@dataclass
class _Queued:
    """Dispatches waiting for the writer, with what must be written with them."""

    frames: list[Frame]
    also: LinkBatch | None
    done: asyncio.Future[list[int]] | None = None
    #: the adapter's events up to this ``s`` are received once this is written
    received: int = 0


@dataclass(eq=False)
class LinkOwner:
    """The state of one link in this process, and its only writer."""

    store: LinkStore
    state: LinkState
    record: LinkRecord
    #: dispatches up to this ``s`` are in the store: only those may be sent
    written_s: int = 0
    #: called after each write that made more dispatches sendable
    on_written: Callable[[], None] | None = None
    #: set when the same game server identified again: dispatches go there
    moved_to: LinkOwner | None = None
    _queue: list[_Queued] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None
    _dirty: bool = False
    #: while held, nothing is written (a move into this link is being prepared)
    _held: bool = False
    #: several nodes: asked right before a write is queued whether this process may
    #: still write the link (it holds the lease); False raises :class:`LinkMoved`
    may_write: Callable[[], bool] | None = None
    #: given up for good (:meth:`retire`): nothing more is written
    retired: bool = False
    #: called once when the store refused a write because another process loaded the
    #: link since (the owner has retired itself): the caller stops using it
    on_fenced: Callable[[], None] | None = None
    #: made by this process and not written yet: its writes are fenced by its game
    #: server's epoch (``LinkWrite.new``) until one is stored
    new: bool = True
    #: dispatches waiting for the peer's ack (unacknowledged plus queued for the
    #: writer) beyond which a new one is refused (:class:`LinkBacklogFull`); None: no bound
    max_unacked: int | None = None
    #: called with how many dispatches :meth:`make_room` refused (the edge's count of
    #: refusals since start, which outlives any owner)
    on_refused: Callable[[int], None] | None = None
    #: dispatches refused for the bound in the current episode (since the link last had
    #: room): the first refusal of an episode is logged, not every one
    refusing: int = 0
    #: frames in ``_queue`` (not numbered yet): counted against ``max_unacked``. Kept
    #: beside the queue, not summed from it, because every dispatch reads it (the queue
    #: grows to hundreds of entries while a write is in flight); changed only by
    #: :meth:`_enqueue`, :meth:`_enqueue_first` and :meth:`_take_queue`, the queue's
    #: only writers
    _queued_frames: int = 0

    @classmethod
    def from_record(cls, store: LinkStore, record: LinkRecord) -> LinkOwner:
        """A link's owner from its stored record (after a daemon restart): everything
        stored may have been sent before the restart."""
        state = LinkState(
            record.id,
            record.world,
            record.server_id,
            list(record.capabilities),
            out_s=record.out_s,
            in_s=record.in_s,
            sent_s=record.out_s,
            unacked=[frame_of(f) for f in record.unacked],
        )
        record = record.model_copy(update={"unacked": []})
        return cls(store, state, record, record.out_s, new=False)

    @property
    def link_id(self) -> str:
        return self.state.link_id

    # -- writing -----------------------------------------------------------------------

    async def dispatch(
        self,
        frames: list[Frame],
        also: WriteBatch | None = None,
        *,
        received: int = 0,
        bounded: bool = True,
    ) -> list[int]:
        """Number ``frames``, write them (with ``also``, in one transaction) and return
        their ``s`` once they are durable. ``received``: the adapter's event ``also``
        stores (its ``s``); the stored record counts events received up to it with the
        same transaction, never before. Raises the store's error when the write
        failed: then none of them will ever be sent. A caller that is cancelled while
        waiting does not stop the write: the write is the writer task's, and a
        cancelled caller only cancels its own ``done`` future, which the writer then
        skips (so no shield is needed, and none costs a future and a loop turn).
        ``bounded=False``: taken beyond the bound (a session's despawn, one at most)."""
        if self.moved_to is not None:
            return await self.moved_to.dispatch(frames, also, bounded=bounded)
        if self.retired or (self.may_write is not None and not self.may_write()):
            raise LinkMoved(f"link {self.link_id} is written by another node now")
        if frames and bounded:
            self.make_room(len(frames))
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        batch = LinkBatch(records=also) if also else None
        self._enqueue(_Queued(frames, batch, done, received))
        self._start_writer()
        return await done

    @property
    def quiet(self) -> bool:
        """Nothing queued, being written or waiting to be written (acks), and neither
        moved nor retired: everything of the link is in the store, so the edge may
        drop this owner and load it again later."""
        return (
            not self._queue
            and not self._dirty
            and not self._held
            and (self._writer is None or self._writer.done())
            and self.moved_to is None
            and not self.retired
        )

    @property
    def waiting(self) -> int:
        """Dispatches waiting for the peer's ack: written and unacknowledged, or queued."""
        return len(self.state.unacked) + self._queued_frames

    def make_room(self, count: int) -> None:
        """Refuse ``count`` more dispatches (all of them: a batch is one transaction
        with its audit entries and counters, so it is never cut) when they would take
        the link beyond ``max_unacked``. The first refusal of an episode is logged;
        the first dispatch taken after it logs how many were refused."""
        limit, waiting = self.max_unacked, self.waiting
        if limit is None:
            return
        if waiting + count > limit:
            if self.on_refused is not None:
                self.on_refused(count)
            first = not self.refusing  # of an episode: logged once
            self.refusing += count
            if first:
                log.warning("bridge.link_backlog_full", link_id=self.link_id,
                            world=self.state.world, server_id=self.state.server_id,
                            waiting=waiting, limit=limit)  # fmt: skip
            raise LinkBacklogFull(self.state.world, self.state.server_id, waiting, limit)
        if self.refusing:
            log.info("bridge.link_backlog_room", link_id=self.link_id, world=self.state.world,
                     server_id=self.state.server_id, refused=self.refusing,
                     waiting=waiting)  # fmt: skip
            self.refusing = 0

    async def save(self) -> None:
        """Write the link's record now (sequence numbers, how far the peer acked)."""
        await self.dispatch([])

    async def save_received(self, s: int) -> None:
        """Count the adapter's events up to ``s`` as received in the store, unless a
        write did already (an event handler's, which stored the event with it). For
        an event taken without being stored (refused, invalid): it is not taken again."""
        if self.record.in_s < s:
            await self.dispatch([], received=s)

    def mark_acked(self) -> None:
        """The peer acknowledged dispatches: written with the next write, or by
        :meth:`flush_acks` (after a crash an acked dispatch may be sent again; the
        adapter ignores it by its ``s``)."""
        self._dirty = True

    def flush_acks(self) -> None:
        """Start a write if acknowledgements are waiting and nothing else is."""
        if self._dirty and self.moved_to is None and not self.retired:
            self._enqueue(_Queued([], None))
            self._start_writer()

    def _enqueue(self, queued: _Queued) -> None:
        """Queue ``queued`` for the writer, after what waits already (every dispatch
        comes here: no more than an append and an addition)."""
        self._queue.append(queued)
        self._queued_frames += len(queued.frames)

    def _enqueue_first(self, queued: list[_Queued]) -> None:
        """Queue ``queued`` for the writer ahead of what waits already (a move)."""
        self._queue[:0] = queued
        self._queued_frames += sum(len(q.frames) for q in queued)

    def _take_queue(self) -> list[_Queued]:
        """Everything queued for the writer, taken off the queue."""
        queued, self._queue, self._queued_frames = self._queue, [], 0
        return queued

    def _start_writer(self) -> None:
        if self._held or (self._writer is not None and not self._writer.done()):
            return
        self._writer = writer = asyncio.get_running_loop().create_task(self._write_all())
        writer.add_done_callback(self._writer_done)

    def _writer_done(self, writer: asyncio.Task[None]) -> None:
        """Forget a finished writer (an idle link keeps no task)."""
        if self._writer is writer:
            self._writer = None

    async def _write_all(self) -> None:
        while self._queue and self.moved_to is None and not self._held:
            batch = self._take_queue()
            self._dirty = False
            numbered = [[self.state.sequence(f) for f in q.frames] for q in batch]
            count = sum(map(len, numbered))
            write, record = self._write_of(batch, count)
            try:
                await self.store.write_links(write)
            except LinkMoved as exc:  # another node loaded the link: never write it again
                self.state.unsequence(count)
                self._fenced(batch, exc)
                return
            except BaseException as exc:
                self.state.unsequence(count)  # nothing of it was sent
                self._dirty = True
                for q in batch:
                    if q.done is not None and not q.done.done():
                        q.done.set_exception(exc if isinstance(exc, Exception) else
                                             RuntimeError("the write was cancelled"))  # fmt: skip
                if not isinstance(exc, Exception):
                    raise
                log.warning("bridge.link_write_failed", link_id=self.link_id, error=repr(exc))
                continue
            self.record = record  # only now: a failed write must not count events received
            self.written_s = self.state.out_s
            self.new = False
            for q, frames in zip(batch, numbered, strict=True):
                if q.done is not None and not q.done.done():
                    q.done.set_result([f.s or 0 for f in frames])
            if count and self.on_written is not None:
                self.on_written()

    def _fenced(self, batch: list[_Queued], refused: LinkMoved) -> None:
        """The store refused ``batch`` (none of it stored): this owner's copy of the
        link is stale for good. Retire, fail the batch and what is queued with the
        refusal, and tell ``on_fenced``."""
        log.warning("bridge.link_write_refused", link_id=self.link_id, epoch=self.record.epoch,
                    error=str(refused))  # fmt: skip
        self.retired = self._held = True
        for q in [*batch, *self._take_queue()]:
            if q.done is not None and not q.done.done():
                q.done.set_exception(refused)
        if self.on_fenced is not None:
            self.on_fenced()

    def _write_of(self, batch: list[_Queued], count: int) -> tuple[LinkBatch, LinkRecord]:
        """One transaction: the queued ``also`` writes, the link's record and the
        dispatches numbered for this write; and that record, which the owner keeps once
        the write is stored. Its ``in_s`` is the last one stored, or the ``received``
        of an event written in this batch: not ``state.in_s``, which counts events
        read whose writes may still be to come (see the module's docstring)."""
        state = self.state
        in_s = max([self.record.in_s, *(q.received for q in batch)])
        record = self.record.model_copy(
            update={"out_s": state.out_s, "in_s": in_s, "updated_at": utcnow()}
        )
        appended = state.unacked[len(state.unacked) - count :] if count else []
        acked = (state.unacked[0].s or 1) - 1 if state.unacked else state.out_s
        out = LinkBatch()
        for q in batch:
            if q.also is not None:
                out.links += q.also.links
                out.records.audit += q.also.records.audit
                out.records.companions += q.also.records.companions
                out.records.changes += q.also.records.changes
        wire = [f.to_wire() for f in appended]
        out.links.append(LinkWrite(record, wire, acked, new=self.new))
        return out, record

    async def idle(self) -> None:
        """Wait until nothing is being written (errors are the callers' to see)."""
        while self._writer is not None and not self._writer.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writer)

    async def retire(self) -> None:
        """Stop writing this link here for good (several nodes: its lease goes to
        another node): no new write starts, the one in flight finishes, and what is
        still queued fails with :class:`LinkMoved` (none of it was stored)."""
        self.retired = self._held = True
        await self.idle()
        for q in self._take_queue():
            if q.done is not None and not q.done.done():
                q.done.set_exception(LinkMoved(f"link {self.link_id} moved to another node"))

    # -- moving to a new link of the same game server ------------------------------------

    async def move_into(self, new: LinkOwner) -> None:
        """Hand this link's pending dispatches to ``new``, a newer link of the same
        game server: the unacknowledged ones (renumbered, in order) and those still
        queued, ahead of anything dispatched to ``new``. From now on dispatches to this
        link go to ``new``. The move is written with ``new``'s next write, which also
        retires this link in the store (its resume token stops working and its stored
        dispatches are dropped), in one transaction."""
        new._held = True
        self.moved_to = new
        try:
            await self.idle()
            carried = [Frame(f.op, f.d, None, f.sid) for f in self.state.unacked]
            self.state.unacked.clear()
            self.record = self.record.model_copy(
                update={"token_hash": "", "replaced_by": new.link_id}
            )
            retire = LinkBatch([LinkWrite(self.record, [], replace=True)])
            # carried beyond new's bound if need be: they were accepted already
            new._enqueue_first([_Queued(carried, retire), *self._take_queue()])
        finally:
            new._held = new.retired
            new._start_writer()


def frame_of(wire: dict[str, object]) -> Frame:
    """A frame from its stored wire form."""
    d, s, sid = wire.get("d"), wire.get("s"), wire.get("sid")
    return Frame(
        str(wire["op"]),
        d if isinstance(d, dict) else {},
        s if isinstance(s, int) else None,
        sid if isinstance(sid, str) else None,
    )
