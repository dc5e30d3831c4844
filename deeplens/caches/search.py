"""The search cache: query embeddings, query results and thumbnails.

In-process LRU on a laptop, Redis in the cluster (``DEEPLENS_REDIS_URL``), behind one small
interface of byte values. Every key names its tenant, so one tenant's entries are never
another's answer. Entries are never deleted on purpose: keys that depend on the index carry
the tenant's index generation (:mod:`deeplens.db.index_state`), so a change to the index
makes new keys and the old entries age out (LRU order or TTL).

A cache is an optimisation, never a dependency: a Redis that is down or slow counts as a
miss and is logged, the search still answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np

from deeplens import metrics
from deeplens.config import Settings

log = logging.getLogger(__name__)


class Cache(Protocol):
    """Byte values by string key, each with a time to live."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None: ...


class NullCache:
    """Caches nothing (``DEEPLENS_CACHE_ENTRIES=0``; benchmarks of the uncached path)."""

    def get(self, key: str) -> bytes | None:
        """Always a miss."""
        return None

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Forget the value."""


class LRUCache:
    """A thread-safe in-process LRU bounded by entry count and total bytes, with per-entry TTL."""

    def __init__(self, max_entries: int = 4096, max_bytes: int = 64_000_000, ttl: float = 3600.0) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> bytes | None:
        """The live value under ``key`` (now most recently used), else None."""
        now = time.monotonic()
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] < now:
                if found is not None:
                    self._drop(key)
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[1]

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value``; evicts least recently used entries past either bound."""
        if len(value) > self.max_bytes or self.max_entries <= 0:
            return
        expires = time.monotonic() + (self.ttl if ttl is None else ttl)
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (expires, value)
            self._bytes += len(value)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._items)))

    def _drop(self, key: str) -> None:
        _, value = self._items.pop(key)
        self._bytes -= len(value)


class RedisCache:
    """Redis-backed cache shared by every replica of the results service."""

    def __init__(self, url: str, *, ttl: float = 3600.0, prefix: str = "deeplens:", timeout: float = 0.5) -> None:
        import redis  # only the cluster path needs the client

        # Short socket timeouts: a cache that answers slower than the search it saves is useless.
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.ttl = ttl
        self.prefix = prefix

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None (also when Redis is unreachable)."""
        try:
            value = self._redis.get(self.prefix + key)
        except self._errors as exc:
            log.warning("cache get failed (%s); treating as a miss", exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` with a TTL (errors are logged and ignored)."""
        try:
            self._redis.set(self.prefix + key, value, px=max(1, int((self.ttl if ttl is None else ttl) * 1000)))
        except self._errors as exc:
            log.warning("cache set failed (%s); continuing without it", exc)


def open_cache(settings: Settings) -> Cache:
    """Redis when ``DEEPLENS_REDIS_URL`` is set, else an in-process LRU (or nothing with 0 entries)."""
    if settings.redis_url:
        return RedisCache(settings.redis_url, ttl=settings.cache_ttl)
    if settings.cache_entries <= 0:
        return NullCache()
    return LRUCache(settings.cache_entries, settings.cache_bytes, settings.cache_ttl)


def digest(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (bytes hashed as they are), for cache keys."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:32]


def _counted(raw: bytes | None) -> bytes | None:
    """``raw``, counted as a hit or a miss of the search caches."""
    metrics.CACHE_LOOKUPS.labels("miss" if raw is None else "hit").inc()
    return raw


def get_json(cache: Cache, key: str) -> Any | None:
    """A cached JSON value, or None."""
    raw = _counted(cache.get(key))
    return None if raw is None else json.loads(raw)


def set_json(cache: Cache, key: str, value: Any, ttl: float | None = None) -> None:
    """Cache a JSON-able value."""
    cache.set(key, json.dumps(value, separators=(",", ":"), default=str).encode(), ttl)


def get_vector(cache: Cache, key: str) -> np.ndarray | None:
    """A cached float32 vector, or None."""
    raw = _counted(cache.get(key))
    return None if raw is None else np.frombuffer(raw, dtype=np.float32).copy()


def set_vector(cache: Cache, key: str, vector: np.ndarray, ttl: float | None = None) -> None:
    """Cache a float32 vector."""
    cache.set(key, np.ascontiguousarray(vector, dtype=np.float32).tobytes(), ttl)
