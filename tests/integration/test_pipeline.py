"""The whole pipeline on real components: idempotency, redelivery, dead letters and replay."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
from resultkit import appearance_rows as user_rows

from deeplens.cli.ingest import ingest_folder
from deeplens.db.local_features import claim_waiting_photos
from deeplens.results import Results
from deeplens.runtime import LocalRuntime
from deeplens.vision.images import decode_image
from eventing import types
from eventing.events import Event


def appearance_rows(runtime) -> list[tuple]:
    items = Results(runtime.services.db, runtime.settings.tenant).all_appearances()
    return [(a.video, a.product, a.start, a.end, a.best_frame_id) for a in items]


def delivery_counts_by_step(runtime) -> dict[str, int]:
    with runtime.services.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT subscriber, count(*) AS n FROM deliveries WHERE tenant_id = %s GROUP BY subscriber", (runtime.settings.tenant,)
        ).fetchall()
    return {row["subscriber"]: row["n"] for row in rows}


def match_deliveries(runtime) -> list[dict]:
    with runtime.services.db.pool.connection() as conn:
        return conn.execute(
            "SELECT event FROM deliveries WHERE tenant_id = %s AND subscriber = 'match'", (runtime.settings.tenant,)
        ).fetchall()


def test_reingesting_the_same_folder_changes_nothing(runtime, tiny_dataset):
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    before_rows, before_counts = appearance_rows(runtime), delivery_counts_by_step(runtime)
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    after_counts = delivery_counts_by_step(runtime)
    assert appearance_rows(runtime) == before_rows
    assert {k: v for k, v in after_counts.items() if k != "ingest"} == {k: v for k, v in before_counts.items() if k != "ingest"}


def test_a_redelivered_event_is_a_no_op(runtime, tiny_dataset):
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    with runtime.services.db.pool.connection() as conn:
        row = conn.execute(
            "SELECT event FROM deliveries WHERE tenant_id = %s AND subscriber = 'keyframes' AND status = 'done' LIMIT 1",
            (runtime.settings.tenant,),
        ).fetchone()
    assert runtime.runner.run("keyframes", Event.from_json(row["event"])) == []


def test_a_step_that_keeps_failing_is_dead_lettered_and_replay_completes_it(runtime, tiny_dataset, tmp_path):
    video = next((tiny_dataset / "videos").iterdir())
    key = f"videos/{runtime.settings.tenant}/{video.name}"
    runtime.services.store.put_file(key, video)
    assert runtime.broker.process_one()  # ingest: the upload is recorded, video.uploaded queued
    stored = runtime.services.store.root / key
    hidden = tmp_path / "hidden.mp4"
    shutil.move(stored, hidden)
    stored.mkdir()  # the store's directory is broken where the object was: a fault outside the input
    runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=60)
    [letter] = runtime.queue.dead_letters(runtime.settings.tenant)
    assert (letter.subscriber, letter.event["type"], letter.attempts) == ("keyframes", types.VIDEO_UPLOADED, 3)
    stored.rmdir()
    shutil.move(hidden, stored)  # the fault is gone
    assert runtime.queue.replay(runtime.settings.tenant) == 1
    runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=120)
    results = Results(runtime.services.db, runtime.settings.tenant)
    assert results.videos().items[0].keyframes > 0
    assert results.status(key).status == "done"
    assert runtime.queue.dead_letters(runtime.settings.tenant) == []


def test_a_video_deleted_before_its_keyframes_were_read_is_recorded_not_retried(runtime, tiny_dataset):
    video = next((tiny_dataset / "videos").iterdir())
    key = f"videos/{runtime.settings.tenant}/{video.name}"
    runtime.services.store.put_file(key, video)
    assert runtime.broker.process_one()  # ingest: video.uploaded queued
    runtime.services.store.delete(key)
    runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=60)
    assert runtime.queue.dead_letters(runtime.settings.tenant) == []
    [failure] = Results(runtime.services.db, runtime.settings.tenant).failures().items
    assert (failure.key, failure.step, failure.reason) == (key, "keyframes", "object_missing")


def test_videos_uploaded_before_their_products_are_still_matched(runtime, tiny_dataset, tmp_path):
    videos_first, products_later = tmp_path / "videos-first", tmp_path / "products-later"
    shutil.copytree(tiny_dataset / "videos", videos_first / "videos")
    shutil.copytree(tiny_dataset / "products", products_later / "products")
    assert ingest_folder(runtime, videos_first, wait=True, timeout=300)
    assert appearance_rows(runtime) == []
    assert ingest_folder(runtime, products_later, wait=True, timeout=300)
    from deeplens.datagen import GroundTruth

    truth = GroundTruth.from_json(tiny_dataset / "truth.json")
    expected = {(video, a.product) for video, v in truth.videos.items() for a in v.appearances}
    assert {(video, product) for video, product, *_ in appearance_rows(runtime)} == expected


def test_half_the_catalog_then_the_videos_then_the_other_half_gives_what_one_upload_gives(runtime, tiny_dataset, settings, tmp_path):
    # Both match directions run, and the catalog changes between them.
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    together = sorted(user_rows(runtime))
    products = sorted((tiny_dataset / "products").iterdir())
    uploads = [("products", products[0::2]), ("videos", sorted((tiny_dataset / "videos").iterdir())), ("products", products[1::2])]
    with LocalRuntime(settings.model_copy(update={"tenant": f"{settings.tenant}-halves"})) as halves:
        for i, (part, members) in enumerate(uploads):
            for member in members:
                copy = shutil.copytree if member.is_dir() else shutil.copy
                (tmp_path / f"upload-{i}" / part).mkdir(parents=True, exist_ok=True)
                copy(member, tmp_path / f"upload-{i}" / part / member.name)
            assert ingest_folder(halves, tmp_path / f"upload-{i}", wait=True, timeout=300)
        assert sorted(user_rows(halves)) == together
    assert together


def test_photos_uploaded_together_after_the_videos_share_one_pass_over_the_keyframes(runtime, tiny_dataset, tmp_path):
    videos_first, products_later = tmp_path / "videos-first", tmp_path / "products-later"
    shutil.copytree(tiny_dataset / "videos", videos_first / "videos")
    shutil.copytree(tiny_dataset / "products", products_later / "products")
    assert ingest_folder(runtime, videos_first, wait=True, timeout=300)
    product_matches: list[list[Event]] = []
    dispatch = runtime.broker.dispatch

    def recording(step: str, event: Event) -> list[Event]:
        outputs = dispatch(step, event)
        if step == "match" and event.data["item_kind"] == "product_image":
            product_matches.append(outputs)
        return outputs

    runtime.broker.dispatch = recording
    runtime.broker.batch = 1  # each photo indexed alone, so each has a match event of its own
    assert ingest_folder(runtime, products_later, wait=False)
    while runtime.broker.process_one():  # one at a time, in order: every photo is indexed before any is matched
        pass
    photos = sum(1 for path in (products_later / "products").rglob("*") if path.is_file())
    assert len(product_matches) == photos > 1
    assert product_matches[0] and not any(product_matches[1:])


def test_a_pass_longer_than_one_call_goes_on_in_follow_up_events_and_finds_every_appearance(tiny_dataset, settings, tmp_path):
    videos_first, products_later = tmp_path / "videos-first", tmp_path / "products-later"
    shutil.copytree(tiny_dataset / "videos", videos_first / "videos")
    shutil.copytree(tiny_dataset / "products", products_later / "products")
    with LocalRuntime(settings.model_copy(update={"match_pass_frames": 2})) as runtime:
        assert ingest_folder(runtime, videos_first, wait=True, timeout=300)
        keyframes = sum(v.keyframes for v in Results(runtime.services.db, runtime.settings.tenant).videos().items)
        assert ingest_folder(runtime, products_later, wait=True, timeout=300)
        found = {(video, product) for video, product, *_ in appearance_rows(runtime)}
        follow_ups = sum(Event.from_json(row["event"]).source == "deeplens/match" for row in match_deliveries(runtime))
        with runtime.services.db.transaction() as conn:
            assert claim_waiting_photos(conn, runtime.settings.tenant) == []
    from deeplens.datagen import GroundTruth

    truth = GroundTruth.from_json(tiny_dataset / "truth.json")
    assert found == {(video, a.product) for video, v in truth.videos.items() for a in v.appearances}
    # Each call votes 2 keyframes again, so one pass over them all takes a follow-up per 2.
    assert follow_ups >= keyframes // 2 > 0


def test_the_runtime_gives_each_worker_its_share_of_the_cores_in_opencv_and_blas(runtime):
    import cv2
    from threadpoolctl import threadpool_info

    share = runtime.settings.threads_per_worker
    assert cv2.getNumThreads() == share
    assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} <= {share}


def test_a_video_gives_the_same_appearances_however_its_keyframes_are_batched(runtime, tiny_dataset, settings):
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    whole = sorted((video, product, start, end) for video, product, start, end, _ in appearance_rows(runtime))
    in_pairs = settings.model_copy(update={"frames_per_event": 2, "tenant": f"{settings.tenant}-pairs"})
    with LocalRuntime(in_pairs) as paired:
        assert ingest_folder(paired, tiny_dataset, wait=True, timeout=300)
        assert sorted((video, product, start, end) for video, product, start, end, _ in appearance_rows(paired)) == whole
    assert whole


def twin_uploaded_later(dataset: Path, settings, tmp_path: Path, product: str) -> list[tuple]:
    """The appearances after ``product``'s photos are uploaded again under another sku, once the
    dataset was processed; asserts they equal those of uploading everything together.

    The twin's photos are the same pixels in other bytes (PNG): the very same bytes under a
    second sku are refused at ingest (duplicate_of_other_product) and never reach matching."""
    twin = tmp_path / "twin"
    (twin / "products" / "SKU-TWIN").mkdir(parents=True)
    for photo in sorted((dataset / "products" / product).iterdir()):
        cv2.imwrite(str(twin / "products" / "SKU-TWIN" / f"{photo.stem}.png"), decode_image(photo.read_bytes()))
    with LocalRuntime(settings) as runtime:
        assert ingest_folder(runtime, dataset, wait=True, timeout=300)
        assert product in {p for _, p, *_ in appearance_rows(runtime)}
        assert ingest_folder(runtime, twin, wait=True, timeout=300)
        after = sorted((video, p, start, end) for video, p, start, end, _ in appearance_rows(runtime))
    together = tmp_path / "together"
    shutil.copytree(dataset, together)
    shutil.copytree(twin / "products", together / "products", dirs_exist_ok=True)
    with LocalRuntime(settings.model_copy(update={"tenant": f"{settings.tenant}-together"})) as runtime:
        assert ingest_folder(runtime, together, wait=True, timeout=300)
        assert sorted((video, p, start, end) for video, p, start, end, _ in appearance_rows(runtime)) == after
    return after


def test_a_photo_added_later_takes_a_place_from_a_product_it_explains_as_well(tiny_dataset, settings, tmp_path):
    # Every photo is an embedding candidate of every keyframe, so the twin competes wherever the
    # product was matched; a place two products explain equally goes to neither.
    after = twin_uploaded_later(tiny_dataset, settings.model_copy(update={"match_top_k": 10}), tmp_path, "SKU-1001")
    assert "SKU-1001" not in {p for _, p, *_ in after}


def test_a_photo_added_later_that_takes_every_vote_from_a_product_leaves_what_uploading_both_together_leaves(
    tiny_dataset, settings, tmp_path
):
    # Candidates come from votes alone here. A twin's descriptors are as near as the product's,
    # so the vote's ratio test against the nearest other product gives neither of them a vote:
    # the twin is nobody's candidate, and the product stops being one where it was matched.
    # One worker indexes both twin photos before their first match event, so a single pass
    # sees them together (one photo alone would still be a candidate somewhere).
    after = twin_uploaded_later(tiny_dataset, settings.model_copy(update={"match_top_k": 0, "workers": 1}), tmp_path, "SKU-1001")
    assert not {"SKU-1001", "SKU-TWIN"} & {p for _, p, *_ in after}


def upload_featureless_photo(runtime, tmp_path: Path) -> None:
    """A new product whose photo is one flat colour: it has no local features, so it takes no
    keyframe's votes, yet its match event runs a pass over every earlier keyframe."""
    import cv2
    import numpy as np

    folder = tmp_path / "featureless"
    (folder / "products" / "SKU-FLAT").mkdir(parents=True)
    cv2.imwrite(str(folder / "products" / "SKU-FLAT" / "front.png"), np.full((240, 160, 3), 127, np.uint8))
    assert ingest_folder(runtime, folder, wait=True, timeout=300)


def a_matched_keyframe(runtime) -> int:
    with runtime.services.db.pool.connection() as conn:
        return conn.execute(
            "SELECT min(frame_id) AS id FROM frame_matches WHERE tenant_id = %s", (runtime.settings.tenant,)
        ).fetchone()["id"]


def keyframe_matches(runtime, frame_id: int) -> list[str]:
    with runtime.services.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT sku FROM frame_matches WHERE tenant_id = %s AND frame_id = %s ORDER BY sku", (runtime.settings.tenant, frame_id)
        ).fetchall()
    return [row["sku"] for row in rows]


def tamper(runtime, sql: str, frame_id: int) -> None:
    with runtime.services.db.transaction() as conn:
        conn.execute(sql, (runtime.settings.tenant, frame_id))


def test_a_pass_for_new_photos_leaves_a_keyframe_alone_while_what_its_decision_saw_is_unchanged(tiny_dataset, settings, tmp_path):
    # Its matches are taken away behind the pipeline's back: only a new decision would bring them back.
    with LocalRuntime(settings.model_copy(update={"match_top_k": 0})) as runtime:
        assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
        frame_id = a_matched_keyframe(runtime)
        tamper(runtime, "DELETE FROM frame_matches WHERE tenant_id = %s AND frame_id = %s", frame_id)
        upload_featureless_photo(runtime, tmp_path)
        assert keyframe_matches(runtime, frame_id) == []


def test_a_pass_for_new_photos_decides_a_keyframe_again_when_its_candidates_differ_from_what_its_decision_saw(
    tiny_dataset, settings, tmp_path
):
    with LocalRuntime(settings.model_copy(update={"match_top_k": 0})) as runtime:
        assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
        frame_id = a_matched_keyframe(runtime)
        held = keyframe_matches(runtime, frame_id)
        tamper(runtime, "DELETE FROM frame_matches WHERE tenant_id = %s AND frame_id = %s", frame_id)
        tamper(runtime, "UPDATE frames SET decided_candidates = '{}' WHERE tenant_id = %s AND id = %s", frame_id)
        upload_featureless_photo(runtime, tmp_path)
        assert keyframe_matches(runtime, frame_id) == held
