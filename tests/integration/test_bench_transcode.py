"""bench/transcode.py: a dataset's videos as H.264, whose long GOP makes every seek decode from the clip's start."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from deeplens.cli.ingest import ingest_folder
from deeplens.datagen import GroundTruth
from deeplens.results import Results
from deeplens.vision.video import FrameReader

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from transcode import transcode_dataset


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, tiny_dataset) -> tuple[Path, Path]:
    copy = tmp_path_factory.mktemp("transcode") / "h264"
    transcode_dataset(tiny_dataset, copy)
    return tiny_dataset, copy


def frames_of(path: Path) -> list[np.ndarray]:
    capture, frames = cv2.VideoCapture(str(path)), []
    while (frame := capture.read()[1]) is not None:
        frames.append(frame)
    capture.release()
    return frames


def test_an_h264_copy_holds_the_same_frames_the_same_photos_and_the_same_truth(datasets):
    source, copy = datasets
    assert json.loads((copy / "truth.json").read_text()) == json.loads((source / "truth.json").read_text())
    photos = sorted(p.relative_to(source) for p in (source / "products").rglob("*") if p.is_file())
    assert photos and photos == sorted(p.relative_to(copy) for p in (copy / "products").rglob("*") if p.is_file())
    for video in sorted((source / "videos").iterdir()):
        with av.open(str(copy / "videos" / video.name)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert float(stream.average_rate) == pytest.approx(cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS))
        originals, copies = frames_of(video), frames_of(copy / "videos" / video.name)
        assert len(copies) == len(originals)
        # Up to the encoder's loss on the generator's noise: a few grey levels a pixel.
        assert np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(originals, copies)]) < 6


def test_a_frame_reader_returns_the_frames_a_decode_from_the_start_gives_in_any_order_in_an_h264_video(datasets):
    _, copy = datasets
    video = min((copy / "videos").iterdir())
    frames = frames_of(video)
    with FrameReader(video, max_forward=2, lead=2, cache_bytes=4 * frames[0].nbytes) as reader:
        for index in (len(frames) - 1, 5, 3, 20, 18, 0, 11, 12, 7):  # B-frames and one GOP: every seek decodes from frame 0
            assert np.array_equal(reader.read(index), frames[index])
        assert reader.seeks > 0


def test_the_pipeline_finds_every_appearance_in_h264_videos_that_are_one_gop_long(runtime, datasets):
    _, copy = datasets
    assert ingest_folder(runtime, copy, wait=True, timeout=300)
    truth = GroundTruth.from_json(copy / "truth.json")
    expected = {(video, a.product): (a.start, a.end) for video, v in truth.videos.items() for a in v.appearances}
    found = {(a.video, a.product): (a.start, a.end) for a in Results(runtime.services.db, runtime.settings.tenant).all_appearances()}
    assert found.keys() == expected.keys()
    for pair, (start, end) in found.items():
        assert start == pytest.approx(expected[pair][0], abs=0.25) and end == pytest.approx(expected[pair][1], abs=0.25)
