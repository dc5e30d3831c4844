"""Appearance edges between keyframes, refined by probing the stored video (real store, database, decoder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deeplens.cli.ingest import ingest_folder
from deeplens.datagen import GroundTruth
from deeplens.pipeline.rollup import rollup
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
