"""Hostile videos are refused before FFmpeg reads anything they point at, or decodes a frame."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from synthkit import shot_frames, write_video

from deeplens.errors import BadInput
from deeplens.vision.containers import admit_container
from deeplens.vision.video import VideoLimits, open_video

LIMITS = VideoLimits(max_pixels=3840 * 2160, max_side=4096, max_seconds=3 * 3600.0, min_fps=1.0, max_fps=240.0)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A valid 2 s mp4 (mpeg4 in mov) at 10 fps."""
    return write_video(tmp_path / "clip.mp4", shot_frames(1, 20, size=(64, 48)), fps=10)


@pytest.fixture
def requests_seen() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server's base URL and the paths requested from it."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def _playlist(tmp_path: Path, segment: str) -> Path:
    path = tmp_path / "playlist.m3u8"
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{segment}\n#EXT-X-ENDLIST\n")
    return path


def _zero_timescale(data: bytes, box: bytes) -> bytes:
    """``data`` with the timescale of its (first) ``box`` (mvhd or mdhd) set to 0."""
    at = data.index(box)
    version = data[at + 4]
    timescale = at + 8 + (16 if version == 1 else 8)  # after version/flags and the two dates
    return data[:timescale] + struct.pack(">I", 0) + data[timescale + 4 :]


def test_a_playlist_is_refused_before_ffmpeg_opens_it(tmp_path, clip):
    with pytest.raises(BadInput) as refused:
        open_video(_playlist(tmp_path, str(clip)))
    assert refused.value.reason == "not_a_video"
    assert "playlist" in refused.value.message


def test_ffmpeg_itself_refuses_a_playlist_so_its_segment_is_never_requested(tmp_path, requests_seen):
    base, seen = requests_seen
    playlist = _playlist(tmp_path, f"{base}/outside.ts")
    # Straight to OpenCV, past every check of ours: FFmpeg's own allow-list must hold.
    cap = cv2.VideoCapture(str(playlist), cv2.CAP_FFMPEG)
    opened = cap.isOpened()
    cap.release()
    assert not opened
    assert seen == []


def test_a_url_other_than_http_is_refused(tmp_path, clip):
    with pytest.raises(BadInput) as refused:
        open_video(f"ftp://127.0.0.1/{clip.name}")
    assert refused.value.reason == "bad_location"


def test_a_file_named_like_an_ffmpeg_protocol_is_opened_as_that_file(tmp_path, clip):
    named = tmp_path / "concat:clip.mp4"
    named.write_bytes(clip.read_bytes())
    cap, info, _ = open_video(named)
    cap.release()
    assert info.frame_count == 20


def test_a_container_off_the_allow_list_is_unsupported():
    with pytest.raises(BadInput) as refused:
        admit_container(b"FLV\x01\x05\x00\x00\x00\x09" + bytes(100))
    assert refused.value.reason == "unsupported_container"


@pytest.mark.parametrize(
    "head",
    [b"these are my notes\n" * 30, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100), b"\x00\x00\x00\x18ftypheic" + bytes(100)],
    ids=["text", "jpeg", "heic"],
)
def test_text_or_an_image_is_not_a_video(head):
    with pytest.raises(BadInput) as refused:
        admit_container(head)
    assert refused.value.reason == "not_a_video"


@pytest.mark.parametrize("boxes", [(b"mdhd",), (b"mdhd", b"mvhd")], ids=["track", "track-and-movie"])
def test_a_zero_timescale_in_the_header_is_a_bad_frame_rate(tmp_path, clip, boxes):
    data = clip.read_bytes()
    for box in boxes:
        data = _zero_timescale(data, box)
    broken = tmp_path / "zero.mp4"
    broken.write_bytes(data)
    with pytest.raises(BadInput) as refused:
        open_video(broken, limits=LIMITS)
    assert refused.value.reason == "bad_frame_rate"


def test_a_side_beyond_the_limit_is_too_large(tmp_path):
    wide = write_video(tmp_path / "wide.mp4", [np.zeros((16, 4112, 3), np.uint8)] * 2, fps=10)
    with pytest.raises(BadInput) as refused:
        open_video(wide, limits=LIMITS)
    assert refused.value.reason == "video_too_large"


def test_pixels_beyond_the_limit_are_too_large(clip):
    with pytest.raises(BadInput) as refused:
        open_video(clip, limits=VideoLimits(64 * 48 - 1, 4096, 3600.0, 1.0, 240.0))
    assert refused.value.reason == "video_too_large"


def test_a_duration_beyond_the_limit_is_too_long(clip):
    with pytest.raises(BadInput) as refused:
        open_video(clip, limits=VideoLimits(3840 * 2160, 4096, 1.5, 1.0, 240.0))
    assert refused.value.reason == "video_too_long"


def test_a_video_within_the_limits_opens(clip):
    cap, info, frame = open_video(clip, limits=LIMITS)
    cap.release()
    assert (info.width, info.height, info.frame_count) == (64, 48, 20)
    assert frame.shape == (48, 64, 3)


@pytest.mark.parametrize(
    ("fmt", "codec"),
    [("mp4", "mpeg4"), ("mov", "mpeg4"), ("matroska", "mpeg4"), ("webm", "libvpx"), ("avi", "mpeg4"),
     ("mpegts", "mpeg2video"), ("vob", "mpeg2video")],
)
def test_every_allowed_container_opens_without_an_extension_to_hint_at_it(tmp_path, fmt, codec):
    path = tmp_path / "clip"  # as the keyframes step names its copy
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for level in range(0, 200, 20):
            image = np.full((48, 64, 3), level, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())
    cap, info, _ = open_video(path, limits=LIMITS)
    cap.release()
    assert (info.width, info.height) == (64, 48)
