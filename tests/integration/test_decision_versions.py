"""A keyframe's matches remember the catalog they were decided with; an older catalog's decision comes second."""

from __future__ import annotations

import pytest

from deeplens.db.catalog import VideoRow, upsert_frame, upsert_video
from deeplens.db.matches import DecisionInputs, decided_with_newer_catalog, mark_decided_with


@pytest.fixture
def keyframe(services) -> int:
    with services.db.transaction() as conn:
        upsert_video(conn, services.settings.tenant, VideoRow("video-1", "videos/video-1.mp4", "sha-1", 15.0, 30, 960, 540, 2.0))
        return upsert_frame(conn, services.settings.tenant, "video-1", 0, 0.0, "frames/video-1/0.jpg", 960, 540)


def newer(services, frame_id: int, generation: int) -> bool:
    with services.db.pool.connection() as conn:
        return decided_with_newer_catalog(conn, services.settings.tenant, frame_id, generation)


def decide(services, frame_id: int, generation: int) -> None:
    with services.db.transaction() as conn:
        mark_decided_with(conn, services.settings.tenant, frame_id, generation, DecisionInputs(frozenset(), None))


def test_an_undecided_keyframe_takes_any_decision(services, keyframe):
    assert not newer(services, keyframe, 5)


def test_a_decision_with_an_older_catalog_comes_second(services, keyframe):
    decide(services, keyframe, 5)
    assert newer(services, keyframe, 4)


def test_a_decision_with_the_same_or_a_newer_catalog_replaces_it(services, keyframe):
    decide(services, keyframe, 5)
    assert not newer(services, keyframe, 5)
    assert not newer(services, keyframe, 6)
