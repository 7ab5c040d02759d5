"""The shared pieces: keyed locks forget released keys, caches stay bounded (the TTL
cache is tested with the analytics that use it)."""

from __future__ import annotations

import anyio
import pytest

from encounters._util.cache import LRUCache
from encounters._util.locks import KeyedLocks
from encounters.memory import NPCMemoryManager

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_one_holder_per_key_and_no_lock_kept_after_release() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    inside: list[str] = []
    seen_together: set[tuple[str, ...]] = set()

    async def hold(key: str) -> None:
        async with locks.hold(key):
            inside.append(key)
            for _ in range(3):
                await anyio.sleep(0)
                seen_together.add(tuple(sorted(inside)))
            inside.remove(key)

    async with anyio.create_task_group() as tg:
        for key in "aaab":
            tg.start_soon(hold, key)
    assert ("a", "a") not in seen_together and ("a", "b") in seen_together
    assert len(locks) == 0


async def test_a_key_is_locked_while_held_or_waited_for_even_between_holders() -> None:
    """``locked`` counts waiters too: right after a holder lets go, before its waiter
    has run, the key is still in use (a caller that dropped state for an unlocked key
    then would drop it under the waiter)."""
    locks: KeyedLocks[str] = KeyedLocks(fast_acquire=True)
    waited: list[bool] = []

    async def wait() -> None:
        async with locks.hold("a"):
            waited.append(True)

    assert not locks.locked("a")
    async with anyio.create_task_group() as tg:
        async with locks.hold("a"):  # free: taken without yielding to the waiter
            tg.start_soon(wait)
            await anyio.wait_all_tasks_blocked()
            assert locks.locked("a") and not locks.locked("b")
        assert waited == [] and locks.locked("a")  # released; the waiter has not run
    assert waited == [True] and not locks.locked("a") and len(locks) == 0


async def test_npc_memory_keeps_no_lock_per_pair_it_has_met() -> None:
    manager = NPCMemoryManager.open(None)
    for n in range(200):
        await manager.record_interaction("npc_a", f"player_{n}", {"outcome": "positive"})
    assert len(manager._locks) == 0
    manager.close()


def test_lru_drops_the_least_recently_used() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.set("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)
