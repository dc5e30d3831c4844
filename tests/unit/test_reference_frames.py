"""The keyframe scan decodes only the frames other frames reference, and those exactly as a full decode gives them."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from deeplens.vision.keyframes import reference_frames, select_keyframes
from deeplens.vision.video import FrameReader

FPS = 30


@pytest.fixture(scope="module")
def h264_with_b_frames(tmp_path_factory) -> Path:
    """Two seconds of a texture panning past, as libx264 writes it: one GOP, three B-frames between references."""
    path = tmp_path_factory.mktemp("h264") / "clip.mp4"
    texture = np.random.default_rng(0).integers(0, 255, (180 + 64, 320 + 64, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.options = {"crf": "23", "x264-params": "bframes=3:b-adapt=0"}
        for i in range(2 * FPS):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(texture[i:i + 180, i:i + 320]), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    capture, frames = cv2.VideoCapture(str(path)), []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    return frames


def test_frames_no_other_frame_references_are_skipped(h264_with_b_frames):
    decoded = [index for index, _ in reference_frames(f"file:{h264_with_b_frames}", FPS)]
    assert decoded[0] == 0 and decoded == sorted(set(decoded))
    assert len(decoded) < len(decode_all(h264_with_b_frames))


def test_each_frame_decoded_is_the_frame_of_its_index_in_a_full_decode(h264_with_b_frames):
    truth = decode_all(h264_with_b_frames)
    for index, frame in reference_frames(f"file:{h264_with_b_frames}", FPS):
        assert np.array_equal(frame.to_ndarray(format="bgr24"), truth[index]), index


def test_keyframes_of_an_h264_file_are_its_frames_and_never_further_apart_than_the_interval(h264_with_b_frames):
    truth = decode_all(h264_with_b_frames)
    scan = select_keyframes(h264_with_b_frames, min_interval=0.2, max_interval=0.5)
    keyframes = list(scan)
    assert all(np.array_equal(k.image, truth[k.index]) for k in keyframes)
    assert all(b.t - a.t <= 0.5 + 1e-9 for a, b in pairwise(keyframes))
    assert not scan.truncated and scan.decoded_frames < scan.reached_frames


def test_a_reader_of_reference_frames_answers_with_the_first_decoded_frame_at_or_after_each_index(h264_with_b_frames):
    truth = decode_all(h264_with_b_frames)
    with FrameReader(h264_with_b_frames, references_only=True, max_forward=2, lead=2) as reader:
        for index in (50, 7, 31, 2, 45, 13, 0):
            frame = reader.read(index)
            assert 0 <= reader.last_index - index <= 3, (index, reader.last_index)
            assert np.array_equal(frame, truth[reader.last_index])
        assert reader.seeks > 0


def test_an_exact_reader_of_an_h264_file_with_b_frames_gives_each_frame_asked_for(h264_with_b_frames):
    truth = decode_all(h264_with_b_frames)
    with FrameReader(h264_with_b_frames, max_forward=2, lead=2) as reader:
        for index in (50, 7, 31, 2, 45, 13, 0, 59):
            assert np.array_equal(reader.read(index), truth[index]) and reader.last_index == index
