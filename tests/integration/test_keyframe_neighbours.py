"""A keyframe's neighbours are the keyframes just before and after it in its own video; the matched ones
just outside a batch of keyframes are matched again with it."""

from __future__ import annotations

import numpy as np
import pytest

from deeplens.db.catalog import VideoRow, get_frame, matched_frames_around, neighbour_frames, upsert_frame, upsert_video
from deeplens.db.matches import FrameMatch, replace_frame_matches
from deeplens.vision.local_features import LocalFeatures


@pytest.fixture
def keyframes(services):
    """Stores keyframes at the given frame indexes of a video; returns their ids by index."""
    tenant = services.settings.tenant

    def add(video_id: str, indexes: list[int]) -> dict[int, int]:
        with services.db.transaction() as conn:
            upsert_video(conn, tenant, VideoRow(video_id, f"videos/{video_id}.mp4", f"sha-{video_id}", 15.0, 60, 960, 540, 4.0))
            return {i: upsert_frame(conn, tenant, video_id, i, i / 15.0, f"frames/{video_id}/{i}.jpg", 960, 540) for i in indexes}

    return add


def neighbours(services, video_id: str, frame_index: int) -> list[int]:
    with services.db.pool.connection() as conn:
        return neighbour_frames(conn, services.settings.tenant, video_id, frame_index)


def test_a_keyframe_has_the_one_before_and_the_one_after_it(services, keyframes):
    ids = keyframes("video-1", [30, 0, 45, 15])
    assert neighbours(services, "video-1", 15) == [ids[0], ids[30]]


def test_the_first_and_last_keyframes_have_one_neighbour(services, keyframes):
    ids = keyframes("video-1", [0, 15, 30])
    assert neighbours(services, "video-1", 0) == [ids[15]]
    assert neighbours(services, "video-1", 30) == [ids[15]]


def test_keyframes_of_other_videos_are_not_neighbours(services, keyframes):
    keyframes("video-1", [0, 15, 30])
    keyframes("video-2", [15])
    assert neighbours(services, "video-2", 15) == []


@pytest.fixture
def matched(services, index_front_photo):
    """Gives keyframes (by id) a verified match of one product."""
    features = LocalFeatures(np.zeros((4, 2), np.float32), np.zeros((4, 128), np.float32), 300, 300, "sift")
    image_id = index_front_photo("SKU-A", features)

    def match(*frame_ids: int) -> None:
        record = FrameMatch("SKU-A", image_id, inliers=40, similarity=0.5, score=0.8, box=(10, 10, 100, 100),
                            corners=(10, 10, 110, 10, 110, 110, 10, 110))
        with services.db.transaction() as conn:
            for frame_id in frame_ids:
                replace_frame_matches(conn, services.settings.tenant, get_frame(conn, services.settings.tenant, frame_id), [record])

    return match


def around(services, frame_ids: list[int]) -> list[int]:
    with services.db.pool.connection() as conn:
        return matched_frames_around(conn, services.settings.tenant, frame_ids)


def test_the_matched_keyframes_just_outside_a_batch_are_matched_again(services, keyframes, matched):
    ids = keyframes("video-1", [0, 15, 30, 45, 60, 75])
    matched(ids[0], ids[15], ids[60], ids[75])
    assert around(services, [ids[30], ids[45]]) == [ids[15], ids[60]]


def test_keyframes_outside_a_batch_without_matches_are_left_alone(services, keyframes, matched):
    ids = keyframes("video-1", [0, 15, 30, 45])
    matched(ids[0])
    assert around(services, [ids[30], ids[45]]) == []


def test_a_batch_that_holds_a_whole_video_has_nothing_around_it(services, keyframes, matched):
    ids = keyframes("video-1", [0, 15, 30])
    matched(*ids.values())
    assert around(services, list(ids.values())) == []
