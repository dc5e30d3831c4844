"""Which earlier keyframes a new photo's pass checks follows the order the database commits
writes in, not clocks: however long a photo's write takes to commit, a keyframe whose own
match step could not see the photo is in the photo's pass."""

from __future__ import annotations

import time

import numpy as np
from featurekit import random_features

from deeplens.db.catalog import VideoRow, upsert_frame, upsert_product_image, upsert_video
from deeplens.db.index_state import advance_catalog_generation, bump_generation
from deeplens.db.local_features import claim_waiting_photos, frames_indexed_before, put_local_features
from deeplens.db.vectors import upsert_embeddings
from deeplens.vision.local_features import LocalFeatures, to_bytes

MODEL = "test-model"
# Longer than the 5 s clock margin that once decided which keyframes a photo's pass took.
SLOW_COMMIT_SECONDS = 6


def features() -> LocalFeatures:
    return random_features(seed=2)


def index_keyframe(services, tenant: str) -> int:
    """Writes and commits a keyframe's features as the features step does; returns its id."""
    local = features()
    with services.db.transaction() as conn:
        upsert_video(conn, tenant, VideoRow("video-1", "videos/t/video-1.mp4", "sha-v", 15.0, 30, 960, 540, 2.0))
        frame_id = upsert_frame(conn, tenant, "video-1", 0, 0.0, "frames/t/video-1/0.jpg", 960, 540)
        upsert_embeddings(conn, tenant, "frame", [frame_id], MODEL, np.ones((1, 8), np.float32))
        put_local_features(conn, tenant, "frame", frame_id, local.kind, len(local), to_bytes(local))
        bump_generation(conn, tenant)
    return frame_id


def pass_frames(services, tenant: str) -> list[int]:
    """The keyframes the pass of the photos waiting now would check."""
    with services.db.transaction() as conn:
        photos = claim_waiting_photos(conn, tenant)
        newest = max(photo.generation for photo in photos)
        return [f.frame_id for f in frames_indexed_before(conn, tenant, MODEL, newest, after_id=0, limit=100)]


def test_a_keyframe_committed_while_a_photo_write_was_open_is_in_the_photos_pass(services):
    tenant = services.settings.tenant
    local = features()
    with services.db.transaction() as photo:
        image_id = upsert_product_image(photo, tenant, "SKU-A", "products/t/SKU-A/front.jpg", "sha-a", 300, 300)
        put_local_features(photo, tenant, "product_image", image_id, local.kind, len(local), to_bytes(local))
        time.sleep(SLOW_COMMIT_SECONDS)  # a loaded machine: the photo's commit is slow
        # Committed before the photo, so the keyframe's own match step cannot see the photo.
        frame_id = index_keyframe(services, tenant)
        advance_catalog_generation(photo, tenant, [image_id])
    assert pass_frames(services, tenant) == [frame_id]


def test_a_keyframe_written_after_a_photo_committed_is_left_to_its_own_match_step(services, index_front_photo):
    tenant = services.settings.tenant
    index_front_photo("SKU-A", features())
    index_keyframe(services, tenant)
    assert pass_frames(services, tenant) == []
