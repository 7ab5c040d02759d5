"""Where NPC memories are kept: the protocol the manager talks to.

Two backends implement it: :class:`~.store.MemoryFile` (a SQLite file per process, the
default, and in memory for ``AE_STORE=memory``) and :class:`~.postgres.PostgresMemory`
(tables in the PostgreSQL store's database, shared by every node using that store).
Both seal rows the same way (:mod:`.crypto`, the same associated data), so a blob
copied from ``memory.db`` opens in PostgreSQL with the same key.

Scopes: memories may be kept in a ``scope`` (the control API gives each game server
its own, so one tenant cannot read or claim another's memories of the same NPC and
player ids). A scoped pair's blind id is the blind of scope, NPC and player together,
and its profile's player column the blind of scope and player, so
:meth:`MemoryBackend.profiles_of` in one scope never sees another's profiles. No scope
(None) is the namespace memories always had: data written before scopes existed is
read as it was. Rows are sealed with the pair's blind id as associated data either way.

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


#: Separates the scope from the ids in what is blinded (no id or scope holds it).
_SCOPE_SEP = "\x1e"


def check_scope(scope: str | None) -> None:
    """``ValueError`` for a scope that is empty, longer than 200 characters or holds a
    control character (the blinds' separators)."""
    if scope is not None and (
        not scope or len(scope) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in scope)
    ):
        raise ValueError(f"an NPC memory scope must be 1..200 printable characters, not {scope!r}")


def pair_id(cipher: MemoryCipher, npc_id: str, player_id: str, scope: str | None = None) -> str:
    """The pair's blind id in ``scope`` (None: the unscoped namespace)."""
    check_scope(scope)
    ids = f"{npc_id}\x1f{player_id}"
    return "p" + cipher.blind(ids if scope is None else f"{scope}{_SCOPE_SEP}{ids}")


def player_id_blind(cipher: MemoryCipher, player_id: str, scope: str | None = None) -> str:
    """The blind of the player in ``scope``: the profiles' player column."""
    check_scope(scope)
    return cipher.blind(player_id if scope is None else f"{scope}{_SCOPE_SEP}{player_id}")


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

    def pair(self, npc_id: str, player_id: str, scope: str | None = None) -> str:
        """The pair's blind id in ``scope`` (nothing of the ids in the clear; see
        :func:`pair_id`)."""
        ...

    def locked(self, pair: str) -> AbstractAsyncContextManager[MemoryBackend]:
        """A view of the backend on which calls run as one transaction holding the
        pair's lock against other processes (committed on leaving, rolled back on an
        error). Callers in one process also hold their own lock of the pair."""
        ...

    async def load_profile(self, pair: str) -> NPCMemory | None: ...

    async def profiles_of(
        self, player_id: str, limit: int, scope: str | None = None
    ) -> list[NPCMemory]:
        """The player's profiles in ``scope``, most recently met first."""
        ...

    async def save_profile(self, pair: str, profile: NPCMemory, scope: str | None = None) -> None:
        """Store the profile of ``pair``, which is in ``scope`` (its player column is
        :func:`player_id_blind` of the scope)."""
        ...

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
