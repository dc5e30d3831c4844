"""A small thread-safe LRU map for per-process caches of derived data."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most ``max_entries`` values; the least recently used one goes first."""

    def __init__(self, max_entries: int) -> None:
        self._lock = threading.Lock()
        self._values: OrderedDict[K, V] = OrderedDict()
        self._max_entries = max_entries

    def get(self, key: K) -> V | None:
        """The value under ``key`` (now the most recently used), or None."""
        with self._lock:
            if key not in self._values:
                return None
            self._values.move_to_end(key)
            return self._values[key]

    def put(self, key: K, value: V) -> None:
        """Store ``value``, evicting the least recently used entries beyond the bound."""
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._max_entries:
                self._values.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
