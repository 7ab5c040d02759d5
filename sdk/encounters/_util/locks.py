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
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

K = TypeVar("K", bound=Hashable)


@dataclass
class _Entry:
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    users: int = 0


class KeyedLocks(Generic[K]):
    """``async with locks.hold(key):`` runs one holder of ``key`` at a time; holders of
    other keys run alongside. Waiters get the lock in arrival order (anyio's lock is
    fair)."""

    def __init__(self) -> None:
        self._entries: dict[K, _Entry] = {}

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    def __len__(self) -> int:
        """How many keys are held or waited for right now."""
        return len(self._entries)
