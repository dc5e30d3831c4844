"""Appearance edges between keyframes, refined by probing the stored video (real store, database, decoder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deeplens.cli.ingest import ingest_folder
from deeplens.datagen import GroundTruth
from deeplens.db.catalog import get_video, video_keyframes
from deeplens.db.matches import frame_hits
from deeplens.matching.appearances import FrameHit
from deeplens.pipeline.rollup import EdgeProbe, KeyframeTrack, rollup
from deeplens.pipeline.services import Services
from deeplens.results import Results
from deeplens.storage.keys import video_key

# The tiny preset runs at 10 fps; keyframes are a second apart by default.
FRAME_S = 0.1


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from deeplens.datagen import generate_dataset

    root = tmp_path_factory.mktemp("tiny-edges")
    generate_dataset(root, "tiny", seed=5)
    return root


def edge_errors(runtime, truth: GroundTruth) -> list[tuple[float, float]]:
    """Per found appearance, the start and end error against the true appearance it overlaps most."""
    errors = []
    for found in Results(runtime.services.db, runtime.settings.tenant).all_appearances():
        truths = [a for a in truth.videos[found.video].appearances if a.product == found.product]
        nearest = max(truths, key=lambda a: min(a.end, found.end) - max(a.start, found.start))
        errors.append((abs(nearest.start - found.start), abs(nearest.end - found.end)))
    return errors


def test_edges_between_keyframes_are_found_to_two_frames(runtime, dataset):
    ingest_folder(runtime, dataset, wait=True)
    truth = GroundTruth.from_json(dataset / "truth.json")
    errors = edge_errors(runtime, truth)
    assert len(errors) == sum(len(v.appearances) for v in truth.videos.values())
    assert max(max(pair) for pair in errors) <= 2 * FRAME_S + 1e-6


def test_with_the_video_gone_edges_fall_back_to_keyframe_midpoints(runtime, dataset, settings):
    ingest_folder(runtime, dataset, wait=True)
    truth = GroundTruth.from_json(dataset / "truth.json")
    for video_id in truth.videos:
        runtime.services.store.delete(video_key(settings.tenant, f"{video_id}.mp4"))
    # A fresh process: no probe outcomes remembered.
    services = Services(settings, runtime.services.db, runtime.services.store)
    for found in Results(services.db, settings.tenant).all_appearances():
        rollup(services, settings.tenant, found.video, found.product)
    errors = edge_errors(runtime, truth)
    assert len(errors) == sum(len(v.appearances) for v in truth.videos.values())
    # Half a keyframe interval, the midpoint's worst case, plus a frame.
    assert max(max(pair) for pair in errors) <= settings.keyframe_max_interval / 2 + FRAME_S + 1e-6


def test_a_stay_is_carried_through_keyframes_that_lost_their_match_while_the_product_stayed_in_place(runtime_with, dataset, settings):
    settings = settings.model_copy(update={"keyframe_max_interval": 0.3})  # keyframes inside every stay
    tenant = settings.tenant
    with runtime_with(settings) as runtime:
        ingest_folder(runtime, dataset, wait=True)
        appearance = max(Results(runtime.services.db, tenant).all_appearances(), key=lambda a: a.end - a.start)
        with runtime.services.db.transaction() as conn:
            hits = frame_hits(conn, tenant, appearance.video, appearance.product, settings.match_threshold)
            assert len(hits) >= 4, "the longest appearance needs two keyframes inside it"
            # As an occluder over part of the product does: two keyframes in the middle do not match.
            lost = [hit.frame_id for hit in hits[1:3]]
            conn.execute("DELETE FROM frame_matches WHERE tenant_id = %s AND frame_id = ANY(%s) AND sku = %s",
                         (tenant, lost, appearance.product))
        # Nor can probes tell (the video is gone): only the keyframes' own features carry the stay.
        runtime.services.store.delete(video_key(tenant, f"{appearance.video}.mp4"))
        services = Services(settings, runtime.services.db, runtime.services.store)
        rollup(services, tenant, appearance.video, appearance.product)
        [carried] = Results(services.db, tenant).all_appearances(video=appearance.video, product=appearance.product)
    assert carried.start <= hits[0].t and carried.end >= hits[-1].t


def test_a_keyframe_tracks_a_product_only_where_its_geometry_is_at_the_hits_place(runtime, dataset, settings):
    ingest_folder(runtime, dataset, wait=True)
    tenant = settings.tenant
    truth = GroundTruth.from_json(dataset / "truth.json")
    appearance = Results(runtime.services.db, tenant).all_appearances()[0]
    services = Services(settings, runtime.services.db, runtime.services.store)
    with services.db.transaction() as conn:
        [guide, *_] = frame_hits(conn, tenant, appearance.video, appearance.product, settings.match_threshold)
        keyframes = video_keyframes(conn, tenant, appearance.video)
        fps = truth.videos[appearance.video].fps
        elsewhere = next(i for i in keyframes if appearance.product not in truth.visible(appearance.video, i / fps))
        with EdgeProbe(services, conn, tenant, get_video(conn, tenant, appearance.video)) as photos:
            track = KeyframeTrack(conn, tenant, keyframes, photos)
            moved = FrameHit(guide.frame_id, guide.index, guide.t, guide.score, (0, 0, 8, 8), guide.product_image_id)
            assert track(guide.index, guide)
            assert not track(guide.index, moved)
            assert not track(elsewhere, guide)
