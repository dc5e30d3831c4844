"""The in-process broker over the durable PostgreSQL queue: Knative delivery semantics."""

from __future__ import annotations

import threading
import time

import pytest

from deeplens.db import Database
from eventing.broker import LocalBroker
from eventing.delivery import DeliverySpec
from eventing.events import Event
from eventing.queue import DeliveryQueue
from eventing.routing import Route

ROUTES = (
    Route("a-to-first", "test.a", "first"),
    Route("a-to-second", "test.a", "second"),
    Route("b-to-second", "test.b", "second"),
    Route("c-to-first", "test.c", "first", batches=True),
)


@pytest.fixture
def db(database_url):
    database = Database(database_url, max_size=4)
    yield database
    database.close()


def make_queue(db, retry=2, lease_seconds=600.0, tenant=None):
    return DeliveryQueue(
        db.pool, DeliverySpec(retry=retry, backoff_delay=0.01), routes=ROUTES, lease_seconds=lease_seconds, tenant=tenant
    )


def event(tenant, type_="test.a", **data):
    return Event(type=type_, source="tests", data=data, tenant=tenant, rootkey="videos/v.mp4")


class Recorder:
    """A dispatch that records calls and can fail a given number of times."""

    def __init__(self, failures: int = 0, outputs=None):
        self.calls: list[tuple[str, str]] = []
        self.failures = failures
        self.outputs = outputs or {}
        self.lock = threading.Lock()

    def __call__(self, subscriber: str, ev: Event) -> list[Event]:
        with self.lock:
            self.calls.append((subscriber, ev.type))
            if self.failures > 0:
                self.failures -= 1
                raise ConnectionError("transient fault")
        return self.outputs.get((subscriber, ev.type), [])


def test_each_subscriber_of_a_type_gets_its_own_delivery(db, settings):
    recorder = Recorder()
    broker = LocalBroker(make_queue(db, tenant=settings.tenant), recorder)
    broker.publish(event(settings.tenant))
    assert broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert sorted(recorder.calls) == [("first", "test.a"), ("second", "test.a")]


def test_publishing_the_same_event_twice_delivers_it_once(db, settings):
    recorder = Recorder()
    broker = LocalBroker(make_queue(db, tenant=settings.tenant), recorder)
    ev = event(settings.tenant)
    broker.publish(ev)
    broker.publish(ev)
    broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert len(recorder.calls) == 2


def test_outputs_of_a_step_are_routed_on(db, settings):
    follow_up = event(settings.tenant, "test.b")
    recorder = Recorder(outputs={("first", "test.a"): [follow_up]})
    broker = LocalBroker(make_queue(db, tenant=settings.tenant), recorder)
    broker.publish(event(settings.tenant))
    broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert ("second", "test.b") in recorder.calls


def test_a_transient_failure_is_retried_until_it_succeeds(db, settings):
    recorder = Recorder(failures=2)
    queue = make_queue(db, retry=3, tenant=settings.tenant)
    broker = LocalBroker(queue, recorder, workers=1)
    broker.publish(event(settings.tenant, "test.b"))
    broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert len(recorder.calls) == 3
    assert queue.counts(settings.tenant) == {"done": 1}
    assert queue.dead_letters(settings.tenant) == []


def test_after_the_last_retry_the_event_lands_in_the_dead_letter_store(db, settings):
    recorder = Recorder(failures=100)
    queue = make_queue(db, retry=2, tenant=settings.tenant)
    broker = LocalBroker(queue, recorder, workers=1)
    broker.publish(event(settings.tenant, "test.b", n=1))
    broker.run_until_idle(tenant=settings.tenant, timeout=30)
    [letter] = queue.dead_letters(settings.tenant)
    assert (letter.subscriber, letter.attempts, letter.event["data"]) == ("second", 3, {"n": 1})
    assert "transient fault" in letter.error


def test_replay_delivers_a_dead_letter_again_once_the_fault_is_gone(db, settings):
    recorder = Recorder(failures=3)
    queue = make_queue(db, retry=2, tenant=settings.tenant)
    broker = LocalBroker(queue, recorder, workers=1)
    broker.publish(event(settings.tenant, "test.b"))
    broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert queue.replay(settings.tenant) == 1
    broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert queue.counts(settings.tenant) == {"done": 1}
    assert queue.dead_letters(settings.tenant) == []
    assert len(queue.dead_letters(settings.tenant, include_replayed=True)) == 1


def test_a_delivery_whose_worker_died_is_picked_up_when_its_lease_runs_out(db, settings):
    queue = make_queue(db, lease_seconds=0.2, tenant=settings.tenant)
    queue.publish([event(settings.tenant, "test.b")])
    [abandoned] = queue.claim(1)  # a worker takes it, then "dies"
    recorder = Recorder()
    LocalBroker(queue, recorder, workers=1).run_until_idle(tenant=settings.tenant, timeout=30)
    assert recorder.calls == [("second", "test.b")]
    assert abandoned.attempts == 1


def test_tenants_do_not_wait_for_each_other(db, settings):
    queue = make_queue(db, tenant=settings.tenant)
    queue.publish([event("someone-else", "test.b")])
    broker = LocalBroker(queue, Recorder(), workers=1)
    assert broker.run_until_idle(tenant=settings.tenant, timeout=5)


def test_a_tenants_queue_claims_only_that_tenants_deliveries(db, settings):
    make_queue(db).publish([event(f"{settings.tenant}-other", "test.b"), event(settings.tenant, "test.b")])
    claimed = make_queue(db, tenant=settings.tenant).claim(10)
    assert [d.event.tenant for d in claimed] == [settings.tenant]



def test_publishing_a_dead_event_again_replays_it(db, settings):
    recorder = Recorder(failures=3)
    queue = make_queue(db, retry=2, tenant=settings.tenant)
    broker = LocalBroker(queue, recorder, workers=1)
    ev = event(settings.tenant, "test.b")
    broker.publish(ev)
    broker.run_until_idle(tenant=settings.tenant, timeout=30)
    broker.publish(ev)
    broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert queue.counts(settings.tenant) == {"done": 1}


def test_events_published_while_working_are_processed_before_the_block_ends(db, settings):
    recorder = Recorder()
    broker = LocalBroker(make_queue(db, tenant=settings.tenant), recorder, workers=2)
    with broker.working():
        for n in range(3):
            broker.publish(event(settings.tenant, n=n))
        assert broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert sorted(recorder.calls) == [("first", "test.a")] * 3 + [("second", "test.a")] * 3


def test_waiting_inside_a_working_block_adds_no_workers(db, settings):
    workers: set[int] = set()

    def dispatch(subscriber: str, ev: Event) -> list[Event]:
        workers.add(threading.get_ident())
        time.sleep(0.05)  # long enough that a second worker, were there one, would take some
        return []

    broker = LocalBroker(make_queue(db, tenant=settings.tenant), dispatch, workers=1)
    with broker.working():
        for n in range(8):
            broker.publish(event(settings.tenant, n=n))
        assert broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert len(workers) == 1


def test_due_deliveries_of_a_batching_route_are_claimed_together_oldest_first(db, settings):
    queue = make_queue(db, tenant=settings.tenant)
    for n in range(3):
        queue.publish([event(settings.tenant, "test.c", n=n)])
    queue.publish([event(settings.tenant, "test.b")])
    assert [d.event.data["n"] for d in queue.claim_next(2)] == [0, 1]
    assert [d.event.data["n"] for d in queue.claim_next(10)] == [2]  # only deliveries like the first
    assert [d.event.type for d in queue.claim_next(10)] == ["test.b"]


def test_a_route_that_does_not_batch_is_claimed_one_delivery_at_a_time(db, settings):
    queue = make_queue(db, tenant=settings.tenant)
    queue.publish([event(settings.tenant, "test.b", n=n) for n in range(3)])
    assert len(queue.claim_next(10)) == 1


def test_a_batch_holds_only_its_first_deliverys_tenant(db, settings):
    others = f"{settings.tenant}-other"
    queue = make_queue(db)  # the cluster's: every tenant's work
    queue.publish([event(settings.tenant, "test.c", n=0), event(others, "test.c", n=1), event(settings.tenant, "test.c", n=2)])
    first = queue.claim_next(10)
    assert {d.event.tenant for d in first} == {first[0].event.tenant}


def test_an_event_that_fails_in_a_batch_is_retried_alone(db, settings):
    calls: list[tuple[int, ...]] = []

    def dispatch_batch(subscriber: str, events: list[Event]) -> list[list[Event] | Exception]:
        calls.append(tuple(ev.data["n"] for ev in events))
        return [ConnectionError("transient fault") if ev.data["n"] == 1 and len(calls) == 1 else [] for ev in events]

    queue = make_queue(db, tenant=settings.tenant)
    queue.publish([event(settings.tenant, "test.c", n=n) for n in range(3)])
    alone = Recorder()
    broker = LocalBroker(queue, alone, workers=1, batch=8, dispatch_batch=dispatch_batch)
    assert broker.run_until_idle(tenant=settings.tenant, timeout=30)
    assert (calls, alone.calls) == ([(0, 1, 2)], [("first", "test.c")])
    assert queue.counts(settings.tenant) == {"done": 3}
