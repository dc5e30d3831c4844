"""Keyframes are described by SIFT at the configured scale (DEEPLENS_FRAME_FEATURE_MAX_SIDE)."""

from __future__ import annotations

import shutil

import numpy as np

from deeplens.cli.ingest import ingest_folder
from deeplens.db.local_features import get_local_features
from deeplens.vision.images import decode_image
from deeplens.vision.local_features import extract_local_features, from_bytes


def test_keyframes_are_described_at_the_configured_side_in_the_frames_own_pixels(settings, runtime_with, tiny_dataset, tmp_path):
    upload = tmp_path / "upload"
    (upload / "videos").mkdir(parents=True)
    shutil.copy(min((tiny_dataset / "videos").iterdir()), upload / "videos")
    half = settings.model_copy(update={"frame_feature_max_side": 160})  # the tiny preset's frames are 320 x 240
    with runtime_with(half) as runtime:
        services = runtime.services
        assert ingest_folder(runtime, upload, wait=True, timeout=120)
        with services.db.pool.connection() as conn:
            frames = conn.execute(
                "SELECT id, object_key, width, height FROM frames WHERE tenant_id = %s ORDER BY id", (half.tenant,)
            ).fetchall()
            stored = get_local_features(conn, half.tenant, "frame", [f["id"] for f in frames])
        assert frames and set(stored) == {f["id"] for f in frames}
        described_full_size = []
        for frame in frames:
            features = from_bytes(stored[frame["id"]])
            image = decode_image(services.store.get(frame["object_key"]))
            expected = extract_local_features(image, max_side=160)
            assert (features.width, features.height) == (frame["width"], frame["height"]) == (320, 240)
            np.testing.assert_array_equal(features.points, expected.points)
            np.testing.assert_array_equal(features.descriptors, expected.descriptors)
            described_full_size.append(np.array_equal(features.points, extract_local_features(image).points))
        assert not any(described_full_size)
        # Described at 160 px, yet placed in the frame's own 320 x 240 pixels, as verification expects.
        assert max(from_bytes(data).points[:, 0].max() for data in stored.values()) > 200
