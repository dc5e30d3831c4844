"""Probing videos, picking keyframes and handling truncated files."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from synthkit import motion_blurred, shot_frames, write_video

from deeplens.errors import BadInput
from deeplens.vision.keyframes import select_keyframes
from deeplens.vision.video import FrameReader, open_video

FPS = 25.0


def _decode_all(path: Path) -> list[np.ndarray]:
    """Every frame, decoded plainly front to back: the truth to compare with."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int, int]]:
    """ISO-BMFF boxes as (type, offset, header_size, size) between ``start`` and ``end``."""
    end = len(data) if end is None else end
    out, pos = [], start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        out.append((kind, pos, header, size))
        pos += size
    return out


def _faststart(data: bytes) -> bytes:
    """Move the ``moov`` index before ``mdat`` (as web encoders do), fixing chunk offsets."""
    top = _boxes(data)
    moov = next(b for b in top if b[0] == b"moov")
    shift = moov[3]
    moov_bytes = bytearray(data[moov[1] : moov[1] + moov[3]])

    def patch(start: int, end: int) -> None:
        for kind, off, header, size in _boxes(bytes(moov_bytes), start, end):
            body = off + header
            if kind in (b"trak", b"mdia", b"minf", b"stbl"):
                patch(body, off + size)
            elif kind == b"stco":
                (count,) = struct.unpack(">I", moov_bytes[body + 4 : body + 8])
                for i in range(count):
                    p = body + 8 + 4 * i
                    (v,) = struct.unpack(">I", moov_bytes[p : p + 4])
                    moov_bytes[p : p + 4] = struct.pack(">I", v + shift)

    patch(8, len(moov_bytes))
    rest = [data[o : o + s] for k, o, _, s in top if k not in (b"ftyp", b"moov")]
    ftyp = next(data[o : o + s] for k, o, _, s in top if k == b"ftyp")
    return ftyp + bytes(moov_bytes) + b"".join(rest)


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 frames at 25 fps: two unrelated shots with a hard cut at frame 30."""
    path = tmp_path_factory.mktemp("v") / "two_shots.mp4"
    return write_video(path, shot_frames(1, 30, pan=2) + shot_frames(2, 30, pan=2), fps=FPS)


@pytest.fixture(scope="module")
def numbered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v") / "numbered.mp4"
    return write_video(path, shot_frames(4, 60, size=(160, 96), pan=3), fps=FPS)


def _reason(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(BadInput) as err:
        fn(*args)
    return err.value.reason


def test_opening_reports_fps_frames_size_and_duration(two_shots: Path) -> None:
    capture, info, _ = open_video(two_shots)
    capture.release()
    assert info.fps == pytest.approx(FPS)
    assert info.frame_count == 60
    assert (info.width, info.height) == (320, 180)
    assert info.duration == pytest.approx(60 / FPS)


def test_opening_rejects_a_zero_length_file_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert _reason(open_video, path) == "empty"


def test_opening_rejects_a_text_file_renamed_mp4_as_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("these are my notes, not a video\n" * 50)
    assert _reason(open_video, path) == "not_a_video"


def test_opening_rejects_an_mp4_cut_before_its_index_as_corrupt(numbered: Path, tmp_path: Path) -> None:
    data = numbered.read_bytes()  # OpenCV writes the moov index at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    assert _reason(open_video, cut) == "corrupt_video"


def test_keyframes_always_include_the_first_and_the_last_frame(two_shots: Path) -> None:
    frames = list(select_keyframes(two_shots, max_interval=0.7))
    assert frames[0].index == 0 and frames[0].t == 0.0
    assert frames[-1].index == 59
    assert frames[-1].t == pytest.approx(59 / FPS)


def test_keyframes_are_never_further_apart_than_max_interval(two_shots: Path) -> None:
    frames = list(select_keyframes(two_shots, max_interval=0.5))
    gaps = np.diff([k.t for k in frames])
    assert gaps.max() <= 0.5 + 1e-9


def test_keyframes_are_never_closer_than_min_interval_except_the_last(two_shots: Path) -> None:
    # A threshold of 0 makes every frame a "scene change": only min_interval holds them back.
    frames = list(select_keyframes(two_shots, min_interval=0.2, max_interval=1.0, scene_threshold=0.0))
    gaps = np.diff([k.t for k in frames[:-1]])
    assert gaps.min() >= 0.2 - 1e-9
    assert len(frames) >= 10


def test_keyframes_catch_a_hard_cut_on_its_first_frame(two_shots: Path) -> None:
    frames = list(select_keyframes(two_shots, min_interval=0.2, max_interval=10.0))
    assert [(k.index, k.reason) for k in frames] == [(0, "first"), (30, "scene"), (59, "last")]


def test_keyframes_ignore_a_slow_pan_within_one_shot(tmp_path: Path) -> None:
    path = write_video(tmp_path / "pan.mp4", shot_frames(3, 40, pan=2), fps=FPS)
    frames = list(select_keyframes(path, min_interval=0.2, max_interval=10.0))
    assert [k.reason for k in frames] == ["first", "last"]


def _shaken(frames: list[np.ndarray], blurred: range) -> list[np.ndarray]:
    """``frames`` with horizontal motion blur (a camera jerk) over the ``blurred`` ones."""
    return [motion_blurred(f, 15) if i in blurred else f for i, f in enumerate(frames)]


def test_an_interval_keyframe_in_motion_blur_gives_way_to_a_sharp_frame_just_before(tmp_path: Path) -> None:
    # At 25 fps and 0.5 s, frame 12 is due; 11-13 are blurred, and frames 9-10 are in the
    # interval's last third (from 0.33 s).
    path = write_video(tmp_path / "jerk.mp4", _shaken(shot_frames(5, 30, pan=1), range(11, 14)), fps=FPS)
    frames = list(select_keyframes(path, min_interval=0.2, max_interval=0.5, scene_threshold=1.0))
    assert frames[1].reason == "interval" and frames[1].index in (9, 10)
    assert np.diff([k.t for k in frames]).max() <= 0.5 + 1e-9


def test_interval_keyframes_of_a_sharp_shot_are_the_frames_due(tmp_path: Path) -> None:
    path = write_video(tmp_path / "steady.mp4", shot_frames(5, 30, pan=1), fps=FPS)
    frames = list(select_keyframes(path, min_interval=0.2, max_interval=0.5, scene_threshold=1.0))
    assert [k.index for k in frames] == [0, 12, 24, 29]


def test_keyframe_images_are_the_decoded_frames(numbered: Path) -> None:
    truth = _decode_all(numbered)
    for k in select_keyframes(numbered):
        assert np.array_equal(k.image, truth[k.index])


def test_complete_video_scan_reports_no_truncation(numbered: Path) -> None:
    scan = select_keyframes(numbered)
    list(scan)
    assert scan.finished and not scan.truncated
    assert scan.decoded_frames == 60 and scan.missing_frames == 0


def test_truncation_is_unknown_until_the_scan_is_exhausted(numbered: Path) -> None:
    scan = select_keyframes(numbered)
    next(scan)
    with pytest.raises(RuntimeError):
        _ = scan.truncated
    scan.close()


def test_mp4_cut_in_half_yields_its_decodable_frames_then_reports_truncation(
    numbered: Path, tmp_path: Path
) -> None:
    data = _faststart(numbered.read_bytes())  # index first, so the cut keeps it
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    scan = select_keyframes(cut)
    frames = list(scan)
    assert scan.truncated
    assert 0 < scan.decoded_frames < 60
    assert scan.missing_frames == 60 - scan.decoded_frames
    assert frames[0].index == 0 and frames[-1].index == scan.decoded_frames - 1
    assert frames[-1].reason in ("last", "interval", "scene")


def test_mp4_cut_in_half_without_a_leading_index_is_rejected_before_iteration(
    numbered: Path, tmp_path: Path
) -> None:
    data = numbered.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    assert _reason(select_keyframes, cut) == "corrupt_video"


def test_frame_reader_returns_the_frame_with_each_index_in_any_order(numbered: Path) -> None:
    truth = _decode_all(numbered)
    with FrameReader(numbered, max_forward=5) as reader:
        for index in (0, 17, 59, 3, 4, 12, 11, 40, 41, 0):
            assert np.array_equal(reader.read(index), truth[index])


def test_frame_reader_keeping_a_single_frame_returns_the_frame_with_each_index_in_any_order(numbered: Path) -> None:
    truth = _decode_all(numbered)
    with FrameReader(numbered, max_forward=5, cache_bytes=1) as reader:
        for index in (0, 17, 59, 3, 4, 12, 11, 40, 41, 0):
            assert np.array_equal(reader.read(index), truth[index])


def test_frame_reader_steps_back_to_frames_it_decoded_lately_without_seeking(numbered: Path) -> None:
    truth = _decode_all(numbered)
    with FrameReader(numbered, max_forward=5, lead=8) as reader:
        reader.read(40)
        assert reader.seeks == 1
        for index in (36, 33, 38, 40):  # a bisection's steps back: the lead before the seek's target, decoded on the way
            assert np.array_equal(reader.read(index), truth[index])
        assert reader.seeks == 1


def test_frame_reader_decodes_forward_to_a_frame_a_little_ahead(numbered: Path) -> None:
    truth = _decode_all(numbered)
    with FrameReader(numbered, max_forward=5) as reader:
        for index in (2, 6, 11):
            assert np.array_equal(reader.read(index), truth[index])
        assert reader.seeks == 0


def test_frame_reader_with_one_decoder_thread_returns_the_same_frames(numbered: Path) -> None:
    truth = _decode_all(numbered)
    with FrameReader(numbered, threads=1) as reader:
        for index in (0, 30, 7, 59):
            assert np.array_equal(reader.read(index), truth[index])


def test_keyframes_with_one_decoder_thread_are_the_same_frames(two_shots: Path) -> None:
    default = [(k.index, k.image) for k in select_keyframes(two_shots)]
    single = [(k.index, k.image) for k in select_keyframes(two_shots, threads=1)]
    assert [i for i, _ in single] == [i for i, _ in default]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(single, default))


def test_frame_reader_rejects_an_index_past_the_end(numbered: Path) -> None:
    with FrameReader(numbered) as reader:
        assert _reason(reader.read, 60) == "frame_out_of_range"
