"""The broker records a delivery's outcome once the database is back, rather than leave it to its lease."""

from __future__ import annotations

import psycopg

from eventing.broker import LocalBroker
from eventing.events import Event
from eventing.queue import Delivery


class UnreachableQueue:
    """A queue whose database refuses the first ``outages`` writes of an outcome, as during a restart."""

    lease_seconds = 600.0

    def __init__(self, outages: int) -> None:
        self.outages = outages
        self.due = [delivery()]
        self.succeeded: list[Delivery] = []
        self.failed: list[tuple[Delivery, str]] = []

    def claim_next(self, batch: int) -> list[Delivery]:
        claimed, self.due = self.due[:batch], self.due[batch:]
        return claimed

    def _write(self) -> None:
        if self.outages:
            self.outages -= 1
            raise psycopg.OperationalError("terminating connection due to administrator command")

    def succeed_all(self, done: list[tuple[Delivery, list[Event]]]) -> None:
        self._write()
        self.succeeded.extend(delivery for delivery, _ in done)

    def fail(self, delivery: Delivery, error: str, *, final: bool = False) -> bool:
        self._write()
        self.failed.append((delivery, error))
        return False


def delivery() -> Delivery:
    event = Event(type="test.a", source="tests", data={}, tenant="t", rootkey="videos/v.mp4")
    return Delivery(id=1, event=event, subscriber="first", attempts=1)


def test_a_done_delivery_is_recorded_once_the_database_answers_again():
    queue = UnreachableQueue(outages=3)
    calls = []
    broker = LocalBroker(queue, lambda subscriber, event: calls.append(subscriber) or [])  # type: ignore[arg-type]
    assert broker.process_one()
    assert (calls, [d.id for d in queue.succeeded]) == (["first"], [1])


def test_a_failed_delivery_is_scheduled_for_retry_once_the_database_answers_again():
    queue = UnreachableQueue(outages=2)

    def failing(subscriber: str, event: Event) -> list[Event]:
        raise ConnectionError("step unreachable")

    broker = LocalBroker(queue, failing)  # type: ignore[arg-type]
    assert broker.process_one()
    assert [(d.id, "step unreachable" in error) for d, error in queue.failed] == [(1, True)]
