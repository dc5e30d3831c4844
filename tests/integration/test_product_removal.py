"""Removing a product: it is never matched again, and the library reads as if it had never been in the catalog."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from pathlib import Path

import cv2
import pytest
from fastapi.testclient import TestClient
from resultkit import appearance_rows
from synthkit import make_packaging

from deeplens.api import create_app
from deeplens.cli.ingest import ingest_folder
from deeplens.cli.main import main as deeplens
from deeplens.db.local_features import get_local_features
from deeplens.db.matches import DecisionInputs
from deeplens.errors import CatalogChanged, NotFound
from deeplens.pipeline import decisions, features, ingest
from deeplens.pipeline.ingest import notification_event
from deeplens.removal import remove_product
from deeplens.results import Results
from deeplens.runtime import LocalRuntime
from deeplens.storage.keys import product_key
from deeplens.vision.images import decode_image
from deeplens.vision.local_features import from_bytes

REMOVED = "SKU-1002"  # beside SKU-1003 in video-02 of the tiny dataset: a rival of its place


def removed(runtime: LocalRuntime, sku: str = REMOVED):
    """Remove ``sku`` and let the workers decide the keyframes again."""
    removal = remove_product(runtime.services, runtime.queue, runtime.settings.tenant, sku)
    assert runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=300)
    assert runtime.queue.dead_letters(runtime.settings.tenant) == []
    return removal


def without(dataset: Path, sku: str, target: Path) -> Path:
    """A copy of ``dataset`` whose catalog lacks ``sku``."""
    shutil.copytree(dataset, target)
    shutil.rmtree(target / "products" / sku)
    return target


@pytest.fixture
def processed(runtime: LocalRuntime, tiny_dataset: Path) -> LocalRuntime:
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    assert any(row[1] == REMOVED for row in appearance_rows(runtime))
    return runtime


def test_after_a_removal_the_library_reads_as_with_a_catalog_that_never_had_the_product(processed, runtime_with, tiny_dataset, tmp_path):
    removal = removed(processed)
    assert removal.photos == 2 and removal.appearances >= 1 and removal.keyframes >= 1
    settings = processed.settings.model_copy(update={"tenant": f"t-{uuid.uuid4().hex[:12]}", "home": tmp_path / "other"})
    with runtime_with(settings) as never_had_it:
        assert ingest_folder(never_had_it, without(tiny_dataset, REMOVED, tmp_path / "data"), wait=True, timeout=300)
        assert appearance_rows(processed) == appearance_rows(never_had_it)


def test_removing_a_twin_gives_back_the_places_it_took_from_the_product_it_copies(runtime, runtime_with, tiny_dataset, tmp_path):
    # The twin's photos are SKU-1001's pixels in other bytes; every photo is an embedding
    # candidate of every keyframe, so the twin is a rival wherever SKU-1001 is, and a place two
    # products explain equally goes to neither. Removing it must decide those keyframes again.
    settings = runtime.settings.model_copy(update={"match_top_k": 10})
    with runtime_with(settings) as alone:
        assert ingest_folder(alone, tiny_dataset, wait=True, timeout=300)
        expected = appearance_rows(alone)
    twinned = tmp_path / "twinned"
    shutil.copytree(tiny_dataset, twinned)
    (twinned / "products" / "SKU-TWIN").mkdir()
    for photo in sorted((tiny_dataset / "products" / "SKU-1001").iterdir()):
        cv2.imwrite(str(twinned / "products" / "SKU-TWIN" / f"{photo.stem}.png"), decode_image(photo.read_bytes()))
    with runtime_with(settings.model_copy(update={"tenant": f"t-{uuid.uuid4().hex[:12]}"})) as with_twin:
        assert ingest_folder(with_twin, twinned, wait=True, timeout=300)
        assert "SKU-1001" not in {row[1] for row in appearance_rows(with_twin)}
        removal = removed(with_twin, "SKU-TWIN")
        assert removal.keyframes >= 1
        assert appearance_rows(with_twin) == expected


def test_a_removed_product_gets_no_votes_in_any_keyframe(processed):
    removed(processed)
    tenant = processed.settings.tenant
    with processed.services.db.pool.connection() as conn:
        index = processed.services.catalog_indexes.get(conn, tenant)
        frame_ids = [row["id"] for row in conn.execute("SELECT id FROM frames WHERE tenant_id = %s", (tenant,)).fetchall()]
        frames = get_local_features(conn, tenant, "frame", frame_ids)
    assert frames and all(vote.sku != REMOVED for data in frames.values() for vote in index.vote(from_bytes(data)))


def test_a_video_uploaded_after_a_removal_does_not_show_the_product(processed, tiny_dataset, tmp_path):
    removed(processed)
    (tmp_path / "videos").mkdir()
    shutil.copy(tiny_dataset / "videos" / "video-02.mp4", tmp_path / "videos" / "video-02-again.mp4")
    assert ingest_folder(processed, tmp_path, wait=True, timeout=300)
    shown = {row[1] for row in appearance_rows(processed) if row[0] == "video-02-again"}
    assert shown and REMOVED not in shown


def test_a_removed_products_photos_and_evidence_leave_the_store(processed):
    store = processed.services.store
    evidence = [a.evidence for a in Results(processed.services.db, processed.settings.tenant).all_appearances(product=REMOVED)]
    assert evidence and all(evidence)
    removal = removed(processed)
    assert removal.objects_kept == []
    assert not [info.key for info in store.list(f"products/{REMOVED}/")]
    assert not [key for key in evidence if any(info.key == key for info in store.list(key))]


def test_uploading_a_removed_products_photos_again_brings_its_appearances_back(processed, tiny_dataset):
    before = appearance_rows(processed)
    removed(processed)
    assert ingest_folder(processed, tiny_dataset, wait=True, timeout=300)
    assert appearance_rows(processed) == before


def test_removing_a_product_not_in_the_catalog_is_not_found(processed):
    with pytest.raises(NotFound, match="SKU-0000"):
        remove_product(processed.services, processed.queue, processed.settings.tenant, "SKU-0000")


def test_the_api_removes_a_product_and_tells_what_went(processed):
    client = TestClient(create_app(processed.services, processed.queue))
    response = client.delete(f"/products/{REMOVED}")
    assert response.status_code == 200
    assert response.json() | {"keyframes": None} == {"sku": REMOVED, "photos": 2, "appearances": 1, "keyframes": None, "objects_kept": []}
    assert processed.broker.run_until_idle(tenant=processed.settings.tenant, timeout=300)
    assert REMOVED not in {product["sku"] for product in client.get("/products").json()["items"]}
    assert client.delete(f"/products/{REMOVED}").status_code == 404


def test_a_decision_that_saw_a_removed_photo_is_not_recorded(processed):
    # A match call voted before the removal and decides after it: the step fails, and its
    # retry decides with the catalog as it is now.
    tenant = processed.settings.tenant
    with processed.services.db.pool.connection() as conn:
        photo = conn.execute("SELECT id FROM product_images WHERE tenant_id = %s AND sku = %s", (tenant, REMOVED)).fetchone()["id"]
        frame = conn.execute("SELECT id FROM frames WHERE tenant_id = %s ORDER BY id LIMIT 1", (tenant,)).fetchone()["id"]
        before = processed.services.catalog_indexes.get(conn, tenant).generation
    remove_product(processed.services, processed.queue, tenant, REMOVED)  # its keyframes not decided again yet
    with pytest.raises(CatalogChanged):
        decisions.replace_decision(processed.services, tenant, frame, {}, before, DecisionInputs(frozenset({photo}), None))


def test_deeplens_remove_takes_the_products_out_and_names_those_it_does_not_know(processed, monkeypatch, capsys):
    s = processed.settings
    for name, value in {"DEEPLENS_HOME": s.home, "DATABASE_URL": s.database_url, "DEEPLENS_TENANT": s.tenant}.items():
        monkeypatch.setenv(name, str(value))
    assert deeplens(["remove", REMOVED, "SKU-0000"]) == 1
    out = capsys.readouterr().out
    assert f"Removed {REMOVED}: 2 photo(s), 1 appearance(s)" in out and "no product 'SKU-0000'" in out
    assert REMOVED not in {row[1] for row in appearance_rows(processed)}


def deleted_from_the_bucket(runtime: LocalRuntime, key: str) -> None:
    """Delete an object as a user of the bucket does, and deliver the notification MinIO sends for it."""
    runtime.services.store.delete(key)
    bucket = runtime.services.store.bucket
    record = {"eventVersion": "2.0", "eventSource": "minio:s3", "eventName": "s3:ObjectRemoved:Delete",
              "s3": {"bucket": {"name": bucket}, "object": {"key": key, "sequencer": "17F0A1B2C3D4E5F6"}}}
    runtime.broker.publish(notification_event({"EventName": "s3:ObjectRemoved:Delete", "Key": f"{bucket}/{key}", "Records": [record]},
                                              runtime.settings.tenant))
    assert runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=300)
    assert runtime.queue.dead_letters(runtime.settings.tenant) == []


def photo_keys(runtime: LocalRuntime, sku: str) -> list[str]:
    return sorted(info.key for info in runtime.services.store.list(f"products/{runtime.settings.tenant}/{sku}/"))


def test_a_photo_deleted_from_the_bucket_leaves_the_catalog_and_the_product_keeps_its_other_photos(processed, runtime_with, tiny_dataset,
                                                                                               tmp_path):
    # The photo its appearance was found with, so the appearance must be rolled up again from the other.
    with processed.services.db.pool.connection() as conn:
        first = conn.execute("SELECT pi.object_key FROM appearances a JOIN product_images pi ON pi.id = a.best_product_image_id"
                             " WHERE a.tenant_id = %s AND a.sku = %s", (processed.settings.tenant, REMOVED)).fetchone()["object_key"]
    (second,) = set(photo_keys(processed, REMOVED)) - {first}
    deleted_from_the_bucket(processed, first)
    with processed.services.db.pool.connection() as conn:
        left = conn.execute("SELECT object_key FROM product_images WHERE tenant_id = %s AND sku = %s",
                            (processed.settings.tenant, REMOVED)).fetchall()
    assert [row["object_key"] for row in left] == [second]
    # As a catalog that only ever had the other photo.
    partial = tmp_path / "partial"
    shutil.copytree(tiny_dataset, partial)
    (partial / "products" / REMOVED / Path(first).name).unlink()
    settings = processed.settings.model_copy(update={"tenant": f"t-{uuid.uuid4().hex[:12]}", "home": tmp_path / "other"})
    with runtime_with(settings) as never_had_it:
        assert ingest_folder(never_had_it, partial, wait=True, timeout=300)
        assert appearance_rows(processed) == appearance_rows(never_had_it)


def test_a_products_last_photo_deleted_from_the_bucket_takes_the_product_out(processed):
    for key in photo_keys(processed, REMOVED):
        deleted_from_the_bucket(processed, key)
    assert REMOVED not in {row[1] for row in appearance_rows(processed)}
    assert REMOVED not in {item.sku for item in Results(processed.services.db, processed.settings.tenant).products(limit=50).items}


def test_a_deletion_notified_twice_changes_nothing_the_second_time(processed):
    key = photo_keys(processed, REMOVED)[0]
    deleted_from_the_bucket(processed, key)
    after = appearance_rows(processed)
    deleted_from_the_bucket(processed, key)
    assert appearance_rows(processed) == after


def uploaded_not_indexed(runtime: LocalRuntime, name: str) -> tuple[str, bytes, object]:
    """A new photo of the product, uploaded and ingested: its ``product.uploaded`` event, not yet delivered."""
    key = product_key(runtime.settings.tenant, REMOVED, name)
    data = cv2.imencode(".png", make_packaging(7))[1].tobytes()
    runtime.services.store.put(key, data)
    bucket = runtime.services.store.bucket
    record = {"eventVersion": "2.0", "eventSource": "minio:s3", "eventName": "s3:ObjectCreated:Put",
              "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": len(data), "sequencer": "17F0A1B2C3D4E5F7"}}}
    [uploaded] = ingest.handle(notification_event({"Records": [record]}, runtime.settings.tenant), runtime.services)
    return key, data, uploaded


def catalog_photos(runtime: LocalRuntime, sku: str = REMOVED) -> list[str]:
    with runtime.services.db.pool.connection() as conn:
        rows = conn.execute("SELECT object_key FROM product_images WHERE tenant_id = %s AND sku = %s ORDER BY object_key",
                            (runtime.settings.tenant, sku)).fetchall()
    return [row["object_key"] for row in rows]


def test_a_photo_not_yet_indexed_goes_with_its_product_and_is_never_indexed_after(processed):
    key, data, uploaded = uploaded_not_indexed(processed, "late.png")
    removal = removed(processed)
    assert removal.photos == 3 and processed.services.store.head(key) is None
    # As if its features step had read the photo before the removal and indexed it after.
    processed.services.store.put(key, data)
    assert features.handle(uploaded, processed.services) == []
    assert catalog_photos(processed) == []


def test_a_removal_waits_for_a_photo_being_indexed_and_takes_it_out_too(processed, monkeypatch):
    key, _, uploaded = uploaded_not_indexed(processed, "late.png")
    inside, release = threading.Event(), threading.Event()
    add_photo = features.upsert_product_image

    def held_open(conn, *args):
        # Its transaction has begun, and has written nothing yet.
        inside.set()
        assert release.wait(60)
        return add_photo(conn, *args)

    monkeypatch.setattr(features, "upsert_product_image", held_open)
    indexing = threading.Thread(target=features.handle, args=(uploaded, processed.services))
    indexing.start()
    assert inside.wait(60)
    outcome: list = []
    removing = threading.Thread(target=lambda: outcome.append(removed(processed)))
    removing.start()
    wait_until_a_backend_waits_on_a_lock(processed)
    release.set()
    indexing.join(60)
    removing.join(300)
    assert outcome and outcome[0].photos == 3
    assert catalog_photos(processed) == [] and processed.services.store.head(key) is None


def wait_until_a_backend_waits_on_a_lock(runtime: LocalRuntime) -> None:
    with runtime.services.db.pool.connection() as conn:
        for _ in range(600):
            if conn.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone():
                return
            conn.commit()
            time.sleep(0.05)
    raise AssertionError("no backend ever waited on a lock")
