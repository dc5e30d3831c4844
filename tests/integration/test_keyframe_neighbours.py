"""A keyframe's neighbours are the keyframes just before and after it in its own video."""

from __future__ import annotations

import pytest

from deeplens.db.catalog import VideoRow, neighbour_frames, upsert_frame, upsert_video


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
