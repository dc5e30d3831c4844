"""Open, probe and seek video files with OpenCV.

OpenCV's ``VideoCapture`` reports failure by returning ``False``/``-1`` rather than
raising, and it cannot tell "not a video" from "a video whose index is missing". This
module turns those quiet failures into :class:`BadInput` with a reason, using the
container's magic bytes to tell the two apart.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import cv2
import numpy as np

from deeplens.errors import BadInput

FALLBACK_FPS = 25.0
"""Used when the container reports no usable frame rate (0, NaN or absurd)."""

_MAX_SANE_FPS = 1000.0


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, corrected by its first decoded frame."""

    fps: float
    frame_count: int
    """From the container header; may overstate what can be decoded (truncation)."""
    width: int
    height: int
    duration: float
    """``frame_count / fps`` in seconds."""


def sniff_video_container(head: bytes) -> str | None:
    """Name the container from the first bytes of a file, or ``None`` if unrecognised."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"  # ISO base media / QuickTime (mp4, mov, m4v, 3gp)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"  # mkv, webm
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "asf"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg"
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpegts"
    if head[:4] == b"OggS":
        return "ogg"
    return None


def _read_head(path: Path, n: int = 512) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _is_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(("http://", "https://"))


def _sane_fps(fps: float) -> float:
    if not math.isfinite(fps) or fps <= 0 or fps > _MAX_SANE_FPS:
        return FALLBACK_FPS
    return float(fps)


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """A decoded frame as BGR: OpenCV gives some grayscale streams' frames one channel."""
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame


def open_video(path: str | Path, *, threads: int = 0) -> tuple[cv2.VideoCapture, VideoInfo, np.ndarray]:
    """Open a video and decode its first frame; the caller owns (and releases) the capture.

    Returns the capture positioned after frame 0, the probed :class:`VideoInfo` and
    frame 0 itself (BGR ``uint8``), so a sequential reader decodes nothing twice.
    ``path`` may also be an ``http(s)://`` URL (a presigned S3 URL), which FFmpeg reads by
    range; its container cannot be sniffed first, so failures to open are ``not_a_video``.
    ``threads`` caps the decoder's threads (0: FFmpeg's choice, one per core). Where
    several videos decode at once, 1 each costs a fifth less CPU per frame than FFmpeg's
    frame threads, and no more CPU per seek.

    Raises:
        FileNotFoundError: the path does not exist.
        BadInput: ``empty`` (zero-length file); ``not_a_video`` (OpenCV cannot open it,
            it has no video stream, or it is not a known container and nothing decodes);
            ``corrupt_video`` (a known container whose header or frames cannot be read,
            e.g. an mp4 cut before its ``moov`` index).
    """
    container = None
    if not _is_url(path):
        path = Path(path)
        if path.stat().st_size == 0:
            raise BadInput("empty", "the video file has zero bytes")
        container = sniff_video_container(_read_head(path))

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads] if threads > 0 else [])
    if not cap.isOpened():
        cap.release()
        if container is None:
            raise BadInput("not_a_video", "the file is not a video OpenCV can open")
        raise BadInput(
            "corrupt_video",
            f"the file looks like {container} but cannot be opened (truncated or damaged header)",
        )
    try:
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        ok, frame = cap.read()
        if not ok or frame is None or frame.size == 0:
            if container is not None and width > 0 and height > 0:
                raise BadInput("corrupt_video", "the video header is readable but no frame decodes")
            raise BadInput("not_a_video", "the file has no decodable video frame")
        fps = _sane_fps(cap.get(cv2.CAP_PROP_FPS))
        # Some streams report 0 or a negative frame count; at least one frame exists.
        frame_count = max(1, round(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    except BaseException:
        cap.release()
        raise
    frame = as_bgr(frame)
    # The decoded frame is the truth for size (rotation metadata may swap the header's).
    h, w = frame.shape[:2]
    info = VideoInfo(
        fps=fps, frame_count=frame_count, width=w, height=h, duration=frame_count / fps
    )
    return cap, info, frame


class FrameReader:
    """Frames of one video by index, in any order, with one open decoder.

    Seeking costs the decoding from the keyframe (I-frame) before the target: a few frames
    in a file with a short GOP, up to hundreds in a typical H.264 file, whose GOP is often
    250 frames or the whole clip. So the reader avoids seeks where it can:

    - the last frames it decoded are kept (within a memory budget), and a seek decodes
      ``lead`` frames before its target as well, since a bisection often steps back next;
    - a frame ahead is reached by decoding forward while that is cheaper than a seek, as
      measured on this very file (decoding a frame, and each seek so far); before the first
      seek, up to ``max_forward`` frames ahead.

    Which way a frame is reached never changes it: decoding is deterministic, and the seek
    is exact for constant-frame-rate files. Frames returned are shared with the reader's
    cache: read them, do not modify them. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self, path: str | Path, *, max_forward: int = 30, threads: int = 0, lead: int = 8, cache_bytes: int = 64 << 20
    ) -> None:
        """Open ``path`` (a file or an http(s) URL) with ``threads`` decoder threads (see
        :func:`open_video`, whose errors it raises). ``cache_bytes`` bounds the frames kept."""
        self._cap, self.info, first = open_video(path, threads=threads)
        self._next = 1  # the index the decoder gives next
        self._kept: OrderedDict[int, np.ndarray] = OrderedDict()
        self._keep = max(1, cache_bytes // max(1, first.nbytes))
        self._lead = max(0, min(lead, self._keep - 1))
        self._max_forward = max_forward
        self._decode = _MeanSeconds()  # one frame decoded forward
        self._seek = _MeanSeconds()  # one seek, up to the frame before its target
        self.seeks = 0
        """How many times the reader has sought so far."""
        self._remember(0, first)

    def read(self, index: int) -> np.ndarray:
        """The frame with 0-based ``index`` (BGR ``uint8``; do not modify it).

        Raises:
            BadInput: ``frame_out_of_range`` for an index outside ``[0, frame_count)``;
                ``corrupt_video`` when the frame exists in the header but cannot be
                decoded (e.g. past the point where a truncated file ends).
        """
        if index < 0 or index >= self.info.frame_count:
            raise BadInput("frame_out_of_range", f"frame {index} is outside the video's {self.info.frame_count} frames")
        if index in self._kept:
            return self._kept[index]
        if not self._next <= index <= self._next + self._forward_limit():
            self._seek_to(max(0, index - self._lead))
        while self._next < index - self._lead:
            started = time.perf_counter()
            if not self._cap.grab():
                raise BadInput("corrupt_video", f"frame {self._next} cannot be decoded")
            self._decode.add(time.perf_counter() - started)
            self._next += 1
        while self._next <= index:
            started = time.perf_counter()
            ok, frame = self._cap.read()
            self._decode.add(time.perf_counter() - started)
            if not ok or frame is None:
                raise BadInput("corrupt_video", f"frame {self._next} cannot be decoded")
            self._remember(self._next, as_bgr(frame))
            self._next += 1
        return self._kept[index]

    def _forward_limit(self) -> int:
        """How far ahead decoding forward is expected to cost no more than a seek."""
        if self._seek.mean is None or not self._decode.mean:
            return self._max_forward
        return max(self._max_forward, int(self._seek.mean / self._decode.mean))

    def _seek_to(self, index: int) -> None:
        started = time.perf_counter()
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, float(index))
        self._seek.add(time.perf_counter() - started)
        self.seeks += 1
        self._next = index

    def _remember(self, index: int, frame: np.ndarray) -> None:
        self._kept[index] = frame
        while len(self._kept) > self._keep:
            self._kept.popitem(last=False)

    def close(self) -> None:
        """Release the decoder and the frames kept."""
        self._cap.release()
        self._kept.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _MeanSeconds:
    """A running mean of durations (seconds); ``None`` until the first."""

    def __init__(self) -> None:
        self._total = 0.0
        self._count = 0

    def add(self, seconds: float) -> None:
        self._total += seconds
        self._count += 1

    @property
    def mean(self) -> float | None:
        return self._total / self._count if self._count else None
