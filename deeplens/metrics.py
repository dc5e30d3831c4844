"""Every Prometheus metric DeepLens exports, and the ``/metrics`` exposition.

Counters and histograms live in prometheus_client's default registry: each process
(a step function, the HTTP broker, the results service, ``deeplens serve``) exports one
set of them, and the default registry adds the process and GC collectors for free. What is
read at scrape time from an object a process owns (its delivery queue, its database pool)
is not registered globally: :func:`exposition` takes those collectors per scrape, so
building a second process object (tests do) never registers a duplicate.

Labels are bounded by the code: step and subscriber names, event types (unknown ones read
``other``), reason codes, route templates and status classes; never keys, ids or tenants.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from deeplens.db.status import queue_depth
from deeplens.errors import Undeliverable
from eventing import types

EVENTS_RECEIVED = Counter("deeplens_events_received", "Events a step was handed.", ["step", "type"])
EVENTS_PROCESSED = Counter("deeplens_events_processed", "Events a step completed.", ["step", "type"])
EVENTS_FAILED = Counter(
    "deeplens_events_failed", "Events a step did not complete: a bad-input reason code, undeliverable or transient.",
    ["step", "type", "reason"],
)
DELIVERIES_RETRIED = Counter("deeplens_deliveries_retried", "Failed deliveries the broker will retry.", ["subscriber"])
DEAD_LETTERS = Counter("deeplens_dead_letters", "Deliveries given up on and dead-lettered.", ["subscriber"])
STEP_DURATION = Histogram("deeplens_step_duration_seconds", "Time a step took on one event.", ["step"],
                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
FRAMES_DECODED = Counter("deeplens_frames_decoded", "Video frames decoded by the keyframes step.")
KEYFRAMES = Counter("deeplens_keyframes", "Keyframes stored.")
VERIFICATIONS = Counter("deeplens_verifications", "Geometric verifications of a (photo, frame) pair, by outcome.",
                        ["outcome"])
APPEARANCES = Counter("deeplens_appearances", "Appearances written by a rollup.")
HTTP_REQUEST_DURATION = Histogram("deeplens_http_request_duration_seconds",
                                  "Results-service requests (search latency: the /search routes).",
                                  ["route", "method", "status"])
CACHE_LOOKUPS = Counter("deeplens_cache_lookups", "Search cache lookups (hit ratio: hit / all).", ["result"])

QUEUE_DELIVERIES = "deeplens_queue_deliveries"
QUEUE_OLDEST_PENDING_AGE = "deeplens_queue_oldest_pending_age_seconds"
DB_POOL = "deeplens_db_pool"
SCRAPE_TIME_METRICS = (QUEUE_DELIVERIES, QUEUE_OLDEST_PENDING_AGE, DB_POOL)
"""Families the scrape-time collectors below yield."""

_EVENT_TYPES = frozenset(value for name, value in vars(types).items() if name.isupper() and isinstance(value, str)
                         and value.startswith("dev.deeplens."))
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def event_type(value: str) -> str:
    """``value`` as a label: a type DeepLens defines, else ``other`` (a sender picks the type)."""
    return value if value in _EVENT_TYPES else "other"


def method(value: str) -> str:
    """An HTTP method as a label (a client picks it; unknown ones read ``other``)."""
    return value if value in _METHODS else "other"


def status_class(status: int) -> str:
    """``2xx``, ``4xx``, …: the status label."""
    return f"{status // 100}xx"


def failed(step: str, type_: str, reason: str) -> None:
    """Count an event ``step`` did not complete, for ``reason`` (a reason code the code defines)."""
    EVENTS_FAILED.labels(step, event_type(type_), reason).inc()


class StepOutcome:
    """What :func:`observe_step` counts on exit; a step that recorded bad input sets ``reason``."""

    reason: str | None = None


@contextmanager
def observe_step(step: str, type_: str) -> Iterator[StepOutcome]:
    """Count an event as received, then processed or failed (undeliverable, transient, or a bad-input reason), and time it."""
    label = event_type(type_)
    EVENTS_RECEIVED.labels(step, label).inc()
    outcome = StepOutcome()
    start = time.perf_counter()
    try:
        yield outcome
    except Undeliverable:
        failed(step, label, "undeliverable")
        raise
    except Exception:
        failed(step, label, "transient")
        raise
    else:
        if outcome.reason is None:
            EVENTS_PROCESSED.labels(step, label).inc()
        else:
            failed(step, label, outcome.reason)
    finally:
        STEP_DURATION.labels(step).observe(time.perf_counter() - start)


class QueueCollector(Collector):
    """Depth of the durable delivery queue by status, and the age of its oldest pending delivery, queried at scrape time."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """Two gauges, from one query over every tenant's deliveries."""
        with self.pool.connection() as conn:
            rows = queue_depth(conn)
        depth = GaugeMetricFamily(QUEUE_DELIVERIES, "Deliveries in the queue, by status.", labels=["status"])
        oldest = 0.0
        for row in rows:
            depth.add_metric([row["status"]], row["n"])
            if row["status"] == "pending":
                oldest = float(row["age"] or 0.0)
        yield depth
        yield GaugeMetricFamily(QUEUE_OLDEST_PENDING_AGE, "Age of the oldest pending delivery (0 when none).", value=oldest)


class PoolCollector(Collector):
    """psycopg_pool's ``get_stats()`` as gauges, read at scrape time."""

    STATS = ("pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting")

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """One gauge family, one series per statistic (a fixed set)."""
        stats = self.pool.get_stats()
        family = GaugeMetricFamily(DB_POOL, "Database connection pool statistics (psycopg_pool).", labels=["stat"])
        for name in self.STATS:
            family.add_metric([name], stats.get(name, 0))
        yield family


class _Scrape(Collector):
    """The default registry plus one process's scrape-time collectors."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()
        for collector in self.collectors:
            yield from collector.collect()


def exposition(collectors: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The text exposition (and its content type) of every metric plus ``collectors``."""
    return generate_latest(_Scrape(collectors)), CONTENT_TYPE_LATEST


def process_collectors(pool: Any, *, queue: bool) -> list[Collector]:
    """The scrape-time collectors of a process with a database pool (and a delivery queue over it)."""
    collectors: list[Collector] = [PoolCollector(pool)]
    if queue:
        collectors.append(QueueCollector(pool))
    return collectors

