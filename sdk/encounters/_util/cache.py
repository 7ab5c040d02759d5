"""Bounded in-process caches: :class:`LRUCache` (at most ``maxsize`` values, the least
recently used goes first) and :class:`TTLCache` (the same, and each value expires
``ttl`` seconds after it was set).

Memory is bounded by ``maxsize`` values plus one dict entry each. Neither is
thread-safe; both are meant for one event loop or one thread.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """At most ``maxsize`` values; setting one more drops the least recently used."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value (now the most recently used), or None."""
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def set(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def pop(self, key: K) -> V | None:
        """Remove and return the value, or None."""
        return self._items.pop(key, None)

    def discard(self, key: K) -> None:
        self._items.pop(key, None)

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        for key in [k for k in self._items if predicate(k)]:
            del self._items[key]

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        """Is the key cached? Asking does not make it recently used."""
        return key in self._items

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._items))


class TTLCache(Generic[K, V]):
    """Values that expire ``ttl`` seconds after they are set, at most ``maxsize`` of
    them (the least recently used goes first). ``ttl=0`` caches nothing. An expired
    value is dropped when it is next asked for, or pushed out by newer ones."""

    def __init__(
        self, ttl: float, *, maxsize: int = 1024, timer: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl < 0 or maxsize < 1:
            raise ValueError("ttl must be >= 0 and maxsize >= 1")
        self.ttl = ttl
        self.maxsize = maxsize
        self._timer = timer
        self._items: LRUCache[K, tuple[float, V]] = LRUCache(maxsize)

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if self._timer() >= item[0]:
            self._items.discard(key)
            return None
        return item[1]

    def set(self, key: K, value: V) -> None:
        if self.ttl <= 0:
            return
        self._items.set(key, (self._timer() + self.ttl, value))

    def discard(self, key: K) -> None:
        self._items.discard(key)

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        self._items.discard_where(predicate)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
