"""Product photos taken in a batch: described one by one, stored together, each event's fault its own."""

from __future__ import annotations

import shutil

from deeplens.cli.ingest import ingest_folder
from deeplens.pipeline import match
from deeplens.pipeline.batching import Batched
from deeplens.pipeline.runner import StepRunner
from deeplens.results import Results
from eventing import types
from eventing.events import Event


def photo_event(tenant: str, n: int) -> Event:
    return Event(type="test.photo", source="tests", data={"n": n}, tenant=tenant, rootkey=f"products/{tenant}/P/{n}.jpg")


def stored_as(items: list[int]) -> list[list[Event]]:
    return [[Event(type="test.stored", source="tests", data={"n": n})] for n in items]


def batch_runner(services, prepare, store) -> StepRunner:
    return StepRunner(services, steps={"step": lambda event, _: []}, batched={("step", "test.photo"): Batched(prepare, store)})


def stored(outcomes) -> list:
    return [outcome if isinstance(outcome, Exception) else [event.data["n"] for event in outcome] for outcome in outcomes]


def test_photos_uploaded_together_are_indexed_and_matched_as_one_batch(runtime, tiny_dataset, tmp_path):
    shutil.copytree(tiny_dataset / "products", tmp_path / "catalog" / "products")
    photos = sum(1 for path in (tmp_path / "catalog" / "products").rglob("*") if path.is_file())
    assert 1 < photos <= runtime.settings.delivery_batch
    runtime.broker.workers = 1  # one worker: it takes every queued photo at once
    assert ingest_folder(runtime, tmp_path / "catalog", wait=False)
    assert runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=120)
    with runtime.services.db.pool.connection() as conn:
        matched = conn.execute(
            "SELECT event FROM deliveries WHERE tenant_id = %s AND subscriber = 'match' AND status = 'done'", (runtime.settings.tenant,)
        ).fetchall()
        described = conn.execute(
            "SELECT count(*) AS n FROM local_features WHERE tenant_id = %s AND item_kind = 'product_image'", (runtime.settings.tenant,)
        ).fetchone()["n"]
    [indexed] = [types.parse_data(types.ImageIndexed, row["event"]["data"]) for row in matched]
    assert len(indexed.item_ids) == described == photos


def test_events_of_a_batch_are_prepared_alone_and_stored_together(services):
    tenant = services.settings.tenant
    batches: list[list[int]] = []

    def store(items: list[int], _) -> list[list[Event]]:
        batches.append(items)
        return stored_as(items)

    runner = batch_runner(services, lambda event, _: event.data["n"], store)
    outcomes = runner.run_batch("step", [photo_event(tenant, n) for n in range(3)])
    assert (stored(outcomes), batches) == ([[0], [1], [2]], [[0, 1, 2]])


def test_an_event_that_fails_to_prepare_is_retried_alone_and_the_rest_are_stored(services):
    tenant = services.settings.tenant

    def prepare(event: Event, _) -> int:
        if event.data["n"] == 1:
            raise ConnectionError("store unreachable")
        return event.data["n"]

    outcomes = batch_runner(services, prepare, lambda items, _: stored_as(items)).run_batch("step", [photo_event(tenant, n) for n in range(3)])
    assert stored(outcomes)[0::2] == [[0], [2]]
    assert isinstance(outcomes[1], ConnectionError)


def test_a_batch_that_cannot_be_stored_together_is_stored_event_by_event(services):
    tenant = services.settings.tenant

    def store(items: list[int], _) -> list[list[Event]]:
        if 1 in items:
            raise ValueError("item 1 cannot be stored")
        return stored_as(items)

    outcomes = batch_runner(services, lambda event, _: event.data["n"], store).run_batch("step", [photo_event(tenant, n) for n in range(3)])
    assert stored(outcomes)[0::2] == [[0], [2]]
    assert isinstance(outcomes[1], ValueError)


def test_every_photo_of_a_batch_is_processing_until_the_batchs_match_step_has_run(runtime, tiny_dataset, tmp_path):
    tenant = _catalog_before_its_match_pass(runtime, tiny_dataset, tmp_path)
    results = Results(runtime.services.db, tenant)
    keys = [item.key for item in results.statuses().items]
    assert len(keys) > 1
    # The batch's one image.indexed event descends from one photo only.
    assert {results.status(key).status for key in keys} == {"processing"}
    assert runtime.broker.run_until_idle(tenant=tenant, timeout=120)
    assert {results.status(key).status for key in keys} == {"done"}


def test_photos_whose_match_pass_was_dead_lettered_are_failed_until_it_is_replayed(runtime, tiny_dataset, tmp_path, monkeypatch):
    tenant = _catalog_before_its_match_pass(runtime, tiny_dataset, tmp_path)

    def fault(*args, **kwargs):
        raise OSError("the database went away")

    monkeypatch.setattr(match, "match_products", fault)
    assert runtime.broker.run_until_idle(tenant=tenant, timeout=120)
    results = Results(runtime.services.db, tenant)
    keys = [item.key for item in results.statuses().items]
    assert {results.status(key).status for key in keys} == {"failed"}
    assert all(any(f.reason == "dead_lettered" for f in results.status(key).failures) for key in keys)
    monkeypatch.undo()
    assert runtime.queue.replay(tenant) == 1
    assert {results.status(key).status for key in keys} == {"processing"}
    assert runtime.broker.run_until_idle(tenant=tenant, timeout=120)
    assert {results.status(key).status for key in keys} == {"done"}


def _catalog_before_its_match_pass(runtime, tiny_dataset, tmp_path) -> str:
    """Upload the tiny catalog and work its deliveries up to its photos' match pass (not run); returns the tenant."""
    shutil.copytree(tiny_dataset / "products", tmp_path / "catalog" / "products")
    runtime.broker.workers = 1
    assert ingest_folder(runtime, tmp_path / "catalog", wait=False)
    while not _pending(runtime, "match"):
        assert runtime.broker.process_one(), "the photos' match delivery never came"
    return runtime.settings.tenant


def _pending(runtime, subscriber: str) -> bool:
    with runtime.services.db.pool.connection() as conn:
        return conn.execute(
            "SELECT count(*) AS n FROM deliveries WHERE tenant_id = %s AND subscriber = %s AND status = 'pending'",
            (runtime.settings.tenant, subscriber),
        ).fetchone()["n"] > 0
