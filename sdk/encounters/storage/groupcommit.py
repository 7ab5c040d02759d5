"""Group commit: writes queued by many tasks land in one transaction.

Whoever takes the write lock commits every write queued meanwhile, so a busy event
loop pays one commit for many writes instead of one each. A write is accepted (its
caller's ``await`` returns) only after its transaction committed; when the transaction
fails, every write in it gets the error and none of them was stored. The flush is
shielded from cancellation: a caller that times out never fails the writes of others
queued with it.

Limits: one queue per store object (one event loop); writes of one process are
ordered, other processes are kept in order by the backend's own locks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio


@dataclass
class Write:
    """One queued write: a row ``params`` for the statement of ``table`` (an upsert for
    most tables), or, when ``change`` is set, a read-modify-write of the row
    ``params["id"]`` of ``table`` (a session: ``change`` mutates it; a companion
    session: ``change`` returns the changed copy). ``error`` is this write's own
    failure; ``result`` what the flush gives back (a ``seq``, the changed record).
    ``call``: which :meth:`GroupCommit.write` queued it (set there), so a flush can
    refuse one caller's writes together and commit the others'."""

    table: str
    params: dict[str, Any]
    change: Callable[[Any], Any] | None = None
    done: bool = False
    error: BaseException | None = None
    result: Any = None
    call: int = 0


@contextmanager
def _released(lock: anyio.Lock) -> Iterator[None]:
    try:
        yield
    finally:
        lock.release()


class GroupCommit:
    """The queue. ``flush`` commits a batch (already sorted, stably, by ``order``:
    writes that compare equal keep their order) in one transaction,
    setting ``error`` on writes that fail alone (a ``change`` that raised) and raising
    when the whole transaction failed; ``translate`` turns that exception into what
    callers see."""

    def __init__(
        self,
        flush: Callable[[list[Write]], Awaitable[None]],
        order: Callable[[Write], Any],
        translate: Callable[[BaseException], BaseException],
    ) -> None:
        self._flush = flush
        self._order = order
        self._translate = translate
        self._lock = anyio.Lock()
        self._pending: list[Write] = []
        self._calls = 0

    @property
    def lock(self) -> anyio.Lock:
        """Held while a batch commits (hold it to wait for writes in flight)."""
        return self._lock

    async def write(self, writes: list[Write]) -> None:
        """Commit ``writes`` with whatever else is queued; raise the first write's own
        error, or the translated error of a failed transaction."""
        self._calls += 1
        for w in writes:
            w.call = self._calls
        self._pending.extend(writes)
        try:
            await self._lock.acquire()
        except BaseException:  # cancelled while waiting: these writes never happen
            mine = {id(w) for w in writes}
            self._pending = [w for w in self._pending if id(w) not in mine]
            raise
        with _released(self._lock):
            if not all(w.done for w in writes):
                batch, self._pending = self._pending, []
                batch.sort(key=self._order)
                with anyio.CancelScope(shield=True):
                    try:
                        await self._flush(batch)
                    except BaseException as exc:  # the transaction was rolled back
                        error = self._translate(exc)
                        for w in batch:
                            w.error = w.error or error
                    for w in batch:
                        w.done = True
        for w in writes:
            if w.error is not None:
                raise w.error
