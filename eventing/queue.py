"""The durable delivery queue behind the local broker, kept in PostgreSQL.

One row per (event, subscriber). Claiming takes a lease, so a worker that dies mid-step
leaves a row that another worker picks up when the lease runs out: nothing is lost.
A step's output events are enqueued in the same transaction that marks its delivery
done, so an event is never half-processed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from eventing.delivery import DeliverySpec
from eventing.events import Event
from eventing.routing import ROUTES, Route, subscribers_for

_REVIVE = "status = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL, updated_at = now()"


@dataclass(frozen=True)
class Delivery:
    """One claimed delivery of ``event`` to ``subscriber``; ``attempts`` includes this one."""

    id: int
    subscriber: str
    event: Event
    attempts: int


@dataclass(frozen=True)
class DeadLetter:
    """An event a subscriber could not process after every retry."""

    id: int
    tenant: str
    subscriber: str
    event: dict[str, Any]
    error: str
    attempts: int
    created_at: str
    replayed_at: str | None


class DeliveryQueue:
    """Enqueue, claim, complete, retry and dead-letter deliveries."""

    def __init__(
        self,
        pool: ConnectionPool,
        spec: DeliverySpec,
        *,
        routes: tuple[Route, ...] = ROUTES,
        lease_seconds: float = 600.0,
        tenant: str | None = None,
    ) -> None:
        self.pool = pool
        self.spec = spec
        self.routes = routes
        self.lease_seconds = lease_seconds
        # A laptop process serves one tenant (its store and settings are that tenant's), so
        # it claims only that tenant's work; the cluster's HTTP broker serves them all.
        self.tenant = tenant
        self._subscribers = sorted({route.subscriber for route in routes})

    def enqueue(self, conn: psycopg.Connection, events: Iterable[Event]) -> int:
        """Add one delivery per (event, subscribed step); an event already queued is a no-op unless it died."""
        rows = [
            (event.tenant, event.id, event.type, subscriber, event.rootkey, Jsonb(event.to_json()))
            for event in events
            for subscriber in subscribers_for(event.type, self.routes)
        ]
        if not rows:
            return 0
        with conn.cursor() as cur:
            # An event already queued is a no-op, unless it died: publishing it again is a
            # replay (what re-posting a dead letter to a Knative Broker does).
            cur.executemany(
                "INSERT INTO deliveries (tenant_id, event_id, event_type, subscriber, root_key, event)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_id, subscriber) DO UPDATE"
                f" SET {_REVIVE} WHERE deliveries.status = 'dead'",
                rows,
            )
        return len(rows)

    def publish(self, events: Iterable[Event]) -> int:
        """Enqueue events in a transaction of their own."""
        with self.pool.connection() as conn, conn.transaction():
            return self.enqueue(conn, events)

    @contextmanager
    def _bookkeeping(self) -> Iterator[psycopg.Connection]:
        """A transaction that records a delivery's progress (a lease, an outcome), committed
        without waiting for the disk.

        Losing its commit to a crash of the machine loses no work: the delivery is still
        pending (or leased, or running) as before and is delivered again, which every step
        takes (deliveries are at least once, as in Knative); the log keeps commits in order,
        so none survives without those before it. Waiting for the disk here was a sixth of
        a catalog's onboarding time: six such commits a photo. Publishing keeps waiting, as
        an upload's event lost to a crash would never be delivered.
        """
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = off")
            yield conn

    def claim(self, limit: int = 1) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries (or ones whose lease ran out) for subscribers this queue routes to."""
        with self._bookkeeping() as conn:
            return self._lease(conn, limit)

    def claim_next(self, batch: int) -> list[Delivery]:
        """Lease the oldest due delivery and, where its route batches, up to ``batch - 1`` more
        due deliveries of the same subscriber, event type and tenant, in one transaction."""
        with self._bookkeeping() as conn:
            claimed = self._lease(conn, 1)
            if claimed and batch > 1 and self._batches(claimed[0]):
                first = claimed[0]
                claimed += self._lease(conn, batch - 1, like=(first.subscriber, first.event.type, first.event.tenant))
            return claimed

    def _batches(self, delivery: Delivery) -> bool:
        return any(route.batches for route in self.routes
                   if route.subscriber == delivery.subscriber and route.event_type == delivery.event.type)

    def _lease(self, conn: psycopg.Connection, limit: int, *, like: tuple[str, str, str | None] | None = None) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries, oldest first; ``like``: only of this (subscriber, event type, tenant)."""
        subscribers, event_type, tenant = ([like[0]], like[1], like[2]) if like else (self._subscribers, None, self.tenant)
        rows = conn.execute(
            "UPDATE deliveries SET status = 'running', attempts = attempts + 1, updated_at = now(),"
            " lease_until = now() + make_interval(secs => %s)"
            " WHERE id IN (SELECT id FROM deliveries"
            "   WHERE ((status = 'pending' AND next_attempt_at <= now())"
            "      OR (status = 'running' AND lease_until < now()))"
            "     AND subscriber = ANY(%s) AND (%s::text IS NULL OR tenant_id = %s)"
            "     AND (%s::text IS NULL OR event_type = %s)"
            "   ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING id, subscriber, event, attempts, next_attempt_at",
            (self.lease_seconds, subscribers, tenant, tenant, event_type, event_type, limit),
        ).fetchall()
        # RETURNING follows no order; the claim's order is the queue's.
        rows.sort(key=lambda r: (r["next_attempt_at"], r["id"]))
        return [Delivery(r["id"], r["subscriber"], Event.from_json(r["event"]), r["attempts"]) for r in rows]

    def succeed(self, delivery: Delivery, outputs: list[Event]) -> None:
        """Mark done (and the event processed by its subscriber) and enqueue the outputs, atomically."""
        self.succeed_all([(delivery, outputs)])

    def succeed_all(self, done: list[tuple[Delivery, list[Event]]]) -> None:
        """:meth:`succeed` for several deliveries, in one transaction."""
        with self._bookkeeping() as conn:
            self.enqueue(conn, [event for _, outputs in done for event in outputs])
            with conn.cursor() as cur:
                cur.execute(
                    "UPDATE deliveries SET status = 'done', lease_until = NULL, last_error = NULL, updated_at = now() WHERE id = ANY(%s)",
                    ([delivery.id for delivery, _ in done],),
                )
                cur.executemany(
                    "INSERT INTO processed_events (subscriber, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    [(delivery.subscriber, delivery.event.id) for delivery, _ in done],
                )

    def fail(self, delivery: Delivery, error: str, *, final: bool = False) -> bool:
        """Schedule a retry with backoff; after the last attempt (or at once, when ``final``)
        mark it dead and return True.

        The caller hands a dead delivery to its dead-letter sink.
        """
        with self._bookkeeping() as conn:
            dead = final or delivery.attempts >= self.spec.max_attempts
            conn.execute(
                "UPDATE deliveries SET status = %s, lease_until = NULL, last_error = %s, updated_at = now(),"
                " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                ("dead" if dead else "pending", error, 0 if dead else self.spec.delay(delivery.attempts), delivery.id),
            )
        return dead

    def busy(self, tenant: str | None = None) -> bool:
        """Whether any delivery (optionally of one tenant) is not yet done, failed or dead.

        Asked ten times a second while a process waits for idle, so it stops at the first
        row: a count read every queued delivery (10,000 and more while a catalog uploads).
        """
        sql = "SELECT EXISTS (SELECT 1 FROM deliveries WHERE status IN ('pending', 'running')"
        params: list[Any] = []
        if tenant is not None:
            sql += " AND tenant_id = %s"
            params.append(tenant)
        with self.pool.connection() as conn:
            return conn.execute(sql + ") AS busy", params).fetchone()["busy"]

    def counts(self, tenant: str | None = None) -> dict[str, int]:
        """Number of deliveries per status."""
        sql = "SELECT status, count(*) AS n FROM deliveries"
        params: list[Any] = []
        if tenant is not None:
            sql += " WHERE tenant_id = %s"
            params.append(tenant)
        with self.pool.connection() as conn:
            rows = conn.execute(sql + " GROUP BY status", params).fetchall()
        return {row["status"]: row["n"] for row in rows}

    def record_dead_letter(self, event: Event, subscriber: str, error: str, attempts: int) -> int:
        """Keep an event that failed every retry, for listing and replay."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "INSERT INTO dead_letters (tenant_id, event_id, subscriber, event, error, attempts)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (event.tenant, event.id, subscriber, Jsonb(event.to_json()), error, attempts),
            ).fetchone()
        return row["id"]

    def dead_letters(self, tenant: str, *, include_replayed: bool = False) -> list[DeadLetter]:
        """Dead letters of a tenant, oldest first."""
        sql = "SELECT * FROM dead_letters WHERE tenant_id = %s"
        if not include_replayed:
            sql += " AND replayed_at IS NULL"
        with self.pool.connection() as conn:
            rows = conn.execute(sql + " ORDER BY id", (tenant,)).fetchall()
        return [
            DeadLetter(
                r["id"], r["tenant_id"], r["subscriber"], r["event"], r["error"], r["attempts"],
                r["created_at"].isoformat(), r["replayed_at"].isoformat() if r["replayed_at"] else None,
            )
            for r in rows
        ]

    def replay(self, tenant: str, ids: list[int] | None = None, *, republish: Callable[[Event], None] | None = None) -> int:
        """Deliver dead-lettered events again (all of the tenant's, or ``ids``); returns how many.

        By default each goes back on this queue for the subscriber that gave up on it; with
        ``republish`` (in the cluster: POST to the Broker) it is handed to that instead.
        """
        with self.pool.connection() as conn, conn.transaction():
            sql = "SELECT * FROM dead_letters WHERE tenant_id = %s AND replayed_at IS NULL"
            params: list[Any] = [tenant]
            if ids is not None:
                sql += " AND id = ANY(%s)"
                params.append(ids)
            letters = conn.execute(sql + " FOR UPDATE", params).fetchall()
            for letter in letters:
                event = Event.from_json(letter["event"])
                conn.execute("UPDATE dead_letters SET replayed_at = now() WHERE id = %s", (letter["id"],))
                if republish is not None:
                    republish(event)
                    continue
                conn.execute(
                    "INSERT INTO deliveries (tenant_id, event_id, event_type, subscriber, root_key, event)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_id, subscriber) DO UPDATE"
                    f" SET {_REVIVE}",
                    (event.tenant, event.id, event.type, letter["subscriber"], event.rootkey, Jsonb(letter["event"])),
                )
        return len(letters)
