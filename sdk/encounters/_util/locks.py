"""One lock per key (a player, an NPC-player pair, a campaign run, a webhook), for the
tasks of one event loop.

A key's lock exists only while a task holds or waits for it, so memory follows the
number of concurrent holders, never the number of keys ever seen: a server that meets
a million players keeps no lock for the ones not being written right now. The cost is
one small dict entry per key in use. Not thread-safe (anyio locks belong to one loop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

K = TypeVar("K", bound=Hashable)


@dataclass
class _Entry:
    lock: anyio.Lock
    users: int = 0


class KeyedLocks(Generic[K]):
    """``async with locks.hold(key):`` runs one holder of ``key`` at a time; holders of
    other keys run alongside. Waiters get the lock in arrival order (anyio's lock is
    fair).

    ``fast_acquire``: a hold of a free key does not yield to the event loop (as with
    :class:`asyncio.Lock`), for callers whose other tasks must not run in between
    (anyio's default yields once, so a cancellation is seen at every hold)."""

    def __init__(self, *, fast_acquire: bool = False) -> None:
        self._entries: dict[K, _Entry] = {}
        self._fast = fast_acquire

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(anyio.Lock(fast_acquire=self._fast))
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    def locked(self, key: K) -> bool:
        """Whether a task holds or waits for ``key``'s lock. (Unlike the lock's own
        ``locked()``, true as well in the moment between a holder's release and its
        first waiter's run.)"""
        return key in self._entries

    def __len__(self) -> int:
        """How many keys are held or waited for right now."""
        return len(self._entries)
