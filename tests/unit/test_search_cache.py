"""The search cache: in-process LRU, Redis (when a server can be started here), and value codecs."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import numpy as np
import pytest

from deeplens.caches.search import LRUCache, NullCache, RedisCache, digest, get_json, get_vector, open_cache, set_json, set_vector
from deeplens.config import Settings


def test_lru_returns_what_was_set():
    cache = LRUCache(max_entries=4)
    cache.set("a", b"1")
    assert cache.get("a") == b"1"


def test_lru_misses_an_unknown_key():
    assert LRUCache().get("nothing") is None


def test_lru_evicts_the_least_recently_used_entry_past_its_entry_bound():
    cache = LRUCache(max_entries=2)
    cache.set("a", b"1")
    cache.set("b", b"2")
    cache.get("a")  # a is now more recent than b
    cache.set("c", b"3")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1", None, b"3")


def test_lru_evicts_past_its_byte_bound():
    cache = LRUCache(max_entries=100, max_bytes=10)
    cache.set("a", b"12345")
    cache.set("b", b"12345")
    cache.set("c", b"12345")
    assert cache.get("a") is None and cache.get("c") == b"12345"


def test_lru_does_not_keep_a_value_larger_than_its_byte_bound():
    cache = LRUCache(max_bytes=4)
    cache.set("big", b"12345")
    assert cache.get("big") is None


def test_lru_entry_past_its_ttl_is_a_miss():
    cache = LRUCache()
    cache.set("a", b"1", ttl=-1)
    assert cache.get("a") is None


def test_null_cache_keeps_nothing():
    cache = NullCache()
    cache.set("a", b"1")
    assert cache.get("a") is None


def test_json_values_round_trip():
    cache = LRUCache()
    set_json(cache, "k", [{"id": 1, "score": 0.5}])
    assert get_json(cache, "k") == [{"id": 1, "score": 0.5}]


def test_vectors_round_trip_as_float32():
    cache = LRUCache()
    set_vector(cache, "v", np.array([0.25, -1.0, 3.5], dtype=np.float64))
    vector = get_vector(cache, "v")
    assert vector.dtype == np.float32 and vector.tolist() == [0.25, -1.0, 3.5]


def test_digest_is_stable_and_tells_different_parts_apart():
    assert digest("a", {"x": 1, "y": 2}) == digest("a", {"y": 2, "x": 1})
    assert digest("a", "b") != digest("ab")


def test_settings_without_redis_url_give_an_lru(tmp_path):
    assert isinstance(open_cache(Settings(home=tmp_path)), LRUCache)


def test_zero_cache_entries_disable_caching(tmp_path):
    assert isinstance(open_cache(Settings(home=tmp_path, cache_entries=0)), NullCache)


def test_an_unreachable_redis_counts_as_a_miss_and_never_raises():
    port = _free_port()  # nothing listens there
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    cache.set("a", b"1")
    assert cache.get("a") is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real redis-server on loopback (skips where none is installed: apt-get install redis-server)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # wait for it to accept connections (a readiness poll, not a timed assertion)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_returns_what_was_set(redis_url):
    cache = RedisCache(redis_url)
    cache.set("a", b"\x00\x01binary")
    assert cache.get("a") == b"\x00\x01binary"


def test_redis_is_shared_by_two_clients_like_two_replicas(redis_url):
    RedisCache(redis_url, prefix="t2:").set("k", b"v")
    assert RedisCache(redis_url, prefix="t2:").get("k") == b"v"


def test_redis_keys_are_namespaced_by_prefix(redis_url):
    RedisCache(redis_url, prefix="one:").set("k", b"v")
    assert RedisCache(redis_url, prefix="two:").get("k") is None


def test_settings_with_a_redis_url_give_a_redis_cache(tmp_path, redis_url):
    cache = open_cache(Settings(home=tmp_path, redis_url=redis_url))
    set_vector(cache, "v", np.ones(3))
    assert isinstance(cache, RedisCache) and get_vector(cache, "v").tolist() == [1.0, 1.0, 1.0]
