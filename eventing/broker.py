"""The in-process broker: routes by the routing table, delivers with Knative's semantics.

It runs the same step handlers the cluster runs behind functions-framework, on worker
threads, over the durable queue in PostgreSQL. Several processes (``deeplens serve`` and
``deeplens ingest --wait``) can work the same queue at once.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg

from deeplens import metrics
from deeplens.backoff import backoff_delay
from deeplens.errors import Undeliverable
from eventing.events import Event
from eventing.queue import Delivery, DeliveryQueue

log = logging.getLogger(__name__)

T = TypeVar("T")

Dispatch = Callable[[str, Event], list[Event]]
"""Run step ``subscriber`` on an event; return the events it emits. Raising means "retry",
except :class:`~deeplens.errors.Undeliverable`, which is dead-lettered at once."""

BatchDispatch = Callable[[str, list[Event]], list[list[Event] | Exception]]
"""Run step ``subscriber`` on several events of one type; each one's output events, or the
exception that :data:`Dispatch` would have raised for it."""

DeadLetterSink = Callable[[Delivery, Exception], None]
"""Receives a delivery that failed its last attempt, with the last error."""


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong, for logs and dead letters."""
    return f"{type(error).__name__}: {error}"


class LocalBroker:
    """Worker threads that claim deliveries, run their step, and complete or retry them."""

    def __init__(
        self,
        queue: DeliveryQueue,
        dispatch: Dispatch,
        *,
        workers: int = 2,
        batch: int = 1,
        dispatch_batch: BatchDispatch | None = None,
        poll_seconds: float = 0.05,
        dead_letter_sink: DeadLetterSink | None = None,
    ) -> None:
        self.queue = queue
        self.dispatch = dispatch
        self.dead_letter_sink = dead_letter_sink or self._record_dead_letter
        self.workers = workers
        self.batch = batch
        self.dispatch_batch = dispatch_batch
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._working = False

    def publish(self, event: Event) -> None:
        """Queue an event for every step subscribed to its type."""
        self.queue.publish([event])

    def process_one(self) -> bool:
        """Claim and process the next due delivery (with, where its route batches, up to
        ``batch - 1`` more like it, handed to ``dispatch_batch`` together); False when none was due."""
        claimed = self.queue.claim_next(self.batch)
        if not claimed:
            return False
        done = []
        for delivery, outcome in zip(claimed, self._run(claimed), strict=True):
            if isinstance(outcome, Exception):
                self._failed(delivery, outcome)
            else:
                done.append((delivery, outcome))
        if done:
            self._settle(done[0][0], lambda: self.queue.succeed_all(done))
        return True

    def _run(self, claimed: list[Delivery]) -> list[list[Event] | Exception]:
        if len(claimed) > 1 and self.dispatch_batch is not None:
            try:
                return self.dispatch_batch(claimed[0].subscriber, [delivery.event for delivery in claimed])
            except Exception as exc:  # noqa: BLE001 - a failed batch is a failure of each of its deliveries
                return [exc] * len(claimed)
        outcomes: list[list[Event] | Exception] = []
        for delivery in claimed:
            try:
                outcomes.append(self.dispatch(delivery.subscriber, delivery.event))
            except Exception as exc:  # noqa: BLE001 - any failure of a step is a failed delivery
                outcomes.append(exc)
        return outcomes

    def _failed(self, delivery: Delivery, exc: Exception) -> None:
        """Schedule a failed delivery's retry, or dead-letter it after its last attempt (at once when undeliverable)."""
        error, final = describe_error(exc), isinstance(exc, Undeliverable)
        dead = self._settle(delivery, lambda: self.queue.fail(delivery, error, final=final))
        log.warning(
            "%s failed on %s (attempt %d): %s%s", delivery.subscriber, delivery.event.type,
            delivery.attempts, error, " — dead-lettered" if dead else "",
        )
        log.debug("%s", "".join(traceback.format_exception(exc)))
        (metrics.DEAD_LETTERS if dead else metrics.DELIVERIES_RETRIED).labels(delivery.subscriber).inc()
        if dead:
            self.dead_letter_sink(delivery, exc)

    def _settle(self, delivery: Delivery, record: Callable[[], T]) -> T:
        """Record a delivery's outcome, retrying while the database is unreachable (restarted, failed over).

        The step's work is done, so waiting for the database beats leaving the row to its
        lease (minutes) and running the step again. It gives up once the lease has run out,
        when another worker may already have claimed the row, or when the broker stops.
        """
        deadline = time.monotonic() + self.queue.lease_seconds
        attempt = 0
        while True:
            try:
                return record()
            except psycopg.OperationalError as exc:
                delay = backoff_delay(attempt, 0.1, cap=5.0, jitter=True)
                if time.monotonic() + delay > deadline or self._stop.is_set():
                    raise
                log.warning("recording the outcome of %s for %s failed (%s); retrying in %.1fs",
                            delivery.event.id, delivery.subscriber, exc, delay)
                self._stop.wait(delay)
                attempt += 1

    def _record_dead_letter(self, delivery: Delivery, error: Exception) -> None:
        self.queue.record_dead_letter(delivery.event, delivery.subscriber, describe_error(error), delivery.attempts)

    def run_until_idle(self, *, tenant: str | None = None, on_tick: Callable[[], None] | None = None, timeout: float | None = None) -> bool:
        """Work the queue until nothing is pending or running; False if ``timeout`` ran out first.

        Deliveries other processes hold are waited for, not taken, until their lease runs out.
        Inside :meth:`working` it waits for the workers already there rather than adding more.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.working():
            try:
                while self.queue.busy(tenant):
                    if on_tick is not None:
                        on_tick()
                    if deadline is not None and time.monotonic() > deadline:
                        return False
                    time.sleep(0.1)
                return True
            finally:
                if on_tick is not None:
                    on_tick()

    @contextmanager
    def working(self) -> Iterator[None]:
        """Workers take deliveries while the block runs (uploads are processed as they arrive,
        not after the last one); they stop after their current delivery when it ends. Nested
        blocks share the outer block's workers."""
        if self._working:
            yield
            return
        stop = threading.Event()
        threads = self._spawn(stop)
        self._working = True
        try:
            yield
        finally:
            self._working = False
            stop.set()
            for thread in threads:
                thread.join()

    def start(self) -> None:
        """Work the queue in the background until :meth:`stop` (the ``serve`` mode)."""
        self._stop.clear()
        self._threads = self._spawn(self._stop)

    def _spawn(self, stop: threading.Event) -> list[threading.Thread]:
        def work() -> None:
            while not stop.is_set():
                try:
                    if not self.process_one():
                        stop.wait(self.poll_seconds)
                except Exception:  # a lost database connection must not kill the worker
                    log.exception("broker worker error; retrying")
                    stop.wait(1.0)

        threads = [threading.Thread(target=work, name=f"deeplens-worker-{i}", daemon=True) for i in range(self.workers)]
        for thread in threads:
            thread.start()
        return threads

    def stop(self) -> None:
        """Stop background workers after their current delivery."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
