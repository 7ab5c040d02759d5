"""Where NPC memories are kept: the protocol the manager talks to.

Two backends implement it: :class:`~.store.MemoryFile` (a SQLite file per process, the
default, and in memory for ``AE_STORE=memory``) and :class:`~.postgres.PostgresMemory`
(tables in the PostgreSQL store's database, shared by every node using that store).
Both seal rows the same way (:mod:`.crypto`, the same associated data), so a blob
copied from ``memory.db`` opens in PostgreSQL with the same key.

Read-modify-writes of one pair (a profile after a new memory, a fold) run inside
:meth:`MemoryBackend.locked`: in PostgreSQL one transaction holding the pair's lock, so
two nodes writing one pair at once never lose a memory or an update of the profile.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from .crypto import MemoryCipher
from .models import MemoryKind, NPCMemory

#: The sealed check value's plaintext (in ``meta`` under ``check``, sealed with
#: ``b"meta"`` as associated data): a wrong key fails when memory is opened.
CHECK_VALUE = b"ai-encounters npc memory v1"


@dataclass(frozen=True)
class Row:
    """A memory's metadata (what ranking needs before anything is decrypted)."""

    id: int
    kind: MemoryKind
    at: float
    importance: float


def profile_context(pair: str) -> bytes:
    """Associated data of a pair's sealed profile."""
    return pair.encode() + b"/profile"


def memory_context(pair: str, kind: str, row_id: int) -> bytes:
    """Associated data of one sealed memory: moved to another pair, kind or id, it
    fails to open."""
    return f"{pair}/{kind}/{row_id}".encode()


class MemoryBackend(Protocol):
    """The NPC memory store. ``shared``: other processes write the same memories (the
    manager then reads profiles through instead of trusting its cache)."""

    cipher: MemoryCipher
    shared: bool

    async def open(self) -> None:
        """Create the tables and check the key (:class:`~.crypto.MemoryKeyError` for
        another key than the one the memories were written with); idempotent. The
        other methods open on first use."""
        ...

    def close(self) -> None: ...

    def pair(self, npc_id: str, player_id: str) -> str:
        """The pair's blind id (nothing of the ids in the clear)."""
        ...

    def locked(self, pair: str) -> AbstractAsyncContextManager[MemoryBackend]:
        """A view of the backend on which calls run as one transaction holding the
        pair's lock against other processes (committed on leaving, rolled back on an
        error). Callers in one process also hold their own lock of the pair."""
        ...

    async def load_profile(self, pair: str) -> NPCMemory | None: ...

    async def profiles_of(self, player_id: str, limit: int) -> list[NPCMemory]:
        """The player's profiles, most recently met first."""
        ...

    async def save_profile(self, pair: str, profile: NPCMemory) -> None: ...

    async def add(
        self, pair: str, kind: MemoryKind, at: float, importance: float, text: str, payload: bytes
    ) -> int:
        """Store one memory (``payload`` sealed) and index the blind tokens of ``text``."""
        ...

    async def count(self, pair: str) -> int: ...

    async def rows(self, pair: str, kind: MemoryKind | None = None) -> list[Row]:
        """Every memory of a pair, oldest first (a pair holds at most its budget)."""
        ...

    async def relevance(self, pair: str, query: str, limit: int) -> dict[int, float]:
        """BM25 relevance (higher is better) of the pair's memories to ``query``; only
        memories sharing a word with it are in the result."""
        ...

    async def payloads(self, pair: str, ids: list[int]) -> dict[int, tuple[MemoryKind, bytes]]:
        """The opened payloads of the pair's memories ``ids`` (those that exist)."""
        ...

    async def replace(
        self, pair: str, drop: list[int], summary_at: float, summary: str, importance: float
    ) -> bool:
        """Swap memories for their summary in one transaction; False (nothing changed)
        when one of ``drop`` is gone already (another process folded them)."""
        ...
