"""A long video is scanned in segments that start at I-frames, one event each, and its appearances join across the cuts."""

from __future__ import annotations

import uuid
from itertools import pairwise

import pytest

from deeplens.cli.ingest import ingest_folder
from deeplens.config import Settings
from deeplens.datagen import GroundTruth
from deeplens.results import Results
from deeplens.vision.keyframes import segment_bounds, video_keyframes
from deeplens.vision.video import open_video

# The tiny preset's 3 s videos have an I-frame every 12 frames (1.2 s): segments of 1 s cut
# each video at frames 12 and 24, inside its appearances.
SEGMENT_SECONDS = 1.0


def run(runtime_with, database_url, tmp_path, dataset, *, segments: float, workers: int) -> tuple[list[tuple], Settings]:
    settings = Settings(home=tmp_path / f"home-{uuid.uuid4().hex[:6]}", database_url=database_url,
                        tenant=f"segments-{uuid.uuid4().hex[:8]}", backoff_delay=0.01, workers=workers,
                        video_segment_seconds=segments)
    with runtime_with(settings) as runtime:
        assert ingest_folder(runtime, dataset, wait=True, timeout=600)
        found = Results(runtime.services.db, settings.tenant).all_appearances()
        videos = {v.video: v.keyframes for v in Results(runtime.services.db, settings.tenant).videos(limit=100).items}
    return sorted((a.video, a.product, a.start, a.end, a.score, a.frames, tuple(a.box)) for a in found), videos


def test_segments_start_at_i_frames_and_tile_the_video(tiny_dataset):
    video = next(iter(sorted((tiny_dataset / "videos").glob("*.mp4"))))
    capture, info, _ = open_video(video)
    capture.release()
    keyframes = video_keyframes(f"file:{video}", info.fps)
    bounds = segment_bounds(keyframes, info.frame_count, info.fps, SEGMENT_SECONDS)
    assert len(bounds) > 1 and bounds[0][0] == 0 and bounds[-1][1] == info.frame_count
    assert all(end == start for (_, end), (start, _) in pairwise(bounds))
    assert all(start in keyframes for start, _ in bounds)


def test_a_video_cut_into_segments_gives_the_same_appearances_with_one_worker_and_with_four(
    runtime_with, database_url, tmp_path, tiny_dataset,
):
    alone, videos = run(runtime_with, database_url, tmp_path, tiny_dataset, segments=SEGMENT_SECONDS, workers=1)
    together, _ = run(runtime_with, database_url, tmp_path, tiny_dataset, segments=SEGMENT_SECONDS, workers=4)
    assert alone and together == alone
    assert all(count and count > 3 for count in videos.values())  # every segment's keyframes were counted


def test_an_appearance_across_a_cut_is_one_appearance_where_the_whole_video_has_it(runtime_with, database_url, tmp_path, tiny_dataset):
    whole, _ = run(runtime_with, database_url, tmp_path, tiny_dataset, segments=0, workers=2)
    cut, _ = run(runtime_with, database_url, tmp_path, tiny_dataset, segments=SEGMENT_SECONDS, workers=2)
    assert [f[:2] for f in cut] == [f[:2] for f in whole]  # one appearance per pair, as in the whole video: none split
    for (_, _, start, end, *_), (_, _, whole_start, whole_end, *_) in zip(cut, whole, strict=True):
        # A segment's first frame is a keyframe the whole scan may not have: edges move by a frame or so.
        assert start == pytest.approx(whole_start, abs=0.2) and end == pytest.approx(whole_end, abs=0.2)
    truth = GroundTruth.from_json(tiny_dataset / "truth.json")
    cuts = {video: cut_times(tiny_dataset / "videos" / f"{video}.mp4") for video in truth.videos}
    assert any(start < at < end for video, _, start, end, *_ in cut for at in cuts[video])  # the cuts fall inside appearances


def cut_times(video) -> list[float]:
    capture, info, _ = open_video(video)
    capture.release()
    bounds = segment_bounds(video_keyframes(f"file:{video}", info.fps), info.frame_count, info.fps, SEGMENT_SECONDS)
    return [start / info.fps for start, _ in bounds[1:]]
