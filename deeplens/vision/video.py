"""Open, probe and seek video files with OpenCV.

OpenCV's ``VideoCapture`` reports failure by returning ``False``/``-1`` rather than
raising, and it cannot tell "not a video" from "a video whose index is missing". This
module turns those quiet failures into :class:`BadInput` with a reason, using the
container's magic bytes to tell the two apart.

Uploads are hostile, so nothing reaches FFmpeg unchecked: a local file must start like an
allowed container (:mod:`deeplens.vision.containers`) and is handed over as a ``file:``
URL, a remote one must be an http(s) URL, FFmpeg is held to the same demuxers and
protocols, and the header's size, frame rate and length are checked against
:class:`VideoLimits` before a single frame is decoded.
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import cv2
import numpy as np

from deeplens.errors import BadInput
from deeplens.vision.containers import FFMPEG_CAPTURE_OPTIONS, admit_container

# OpenCV takes FFmpeg's open options only from this variable, read at every open; it is
# set once, to a constant, so every capture in the process (ours or a library's) gets the
# container and protocol allow-lists, and no caller can open a capture without them.
os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = FFMPEG_CAPTURE_OPTIONS

FALLBACK_FPS = 25.0
"""Used when the container reports no usable frame rate (0, NaN or absurd)."""

_MAX_SANE_FPS = 1000.0

_URL_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class VideoLimits:
    """What a video's header may declare; anything beyond is refused before decoding."""

    max_pixels: int
    """Width x height at most."""
    max_side: int
    """Longer side (px) at most."""
    max_seconds: float
    """Duration at most."""
    min_fps: float
    max_fps: float
    """Frame rate range accepted, where the header declares one (none: FALLBACK_FPS)."""


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


def _read_head(path: Path, n: int = 512) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def ffmpeg_location(location: str | Path) -> tuple[str, str | None]:
    """What FFmpeg is given to open ``location``, and the demuxer its magic bytes call for.

    A presigned http(s) URL (the S3 store's media location) cannot be sniffed without a
    request, so its demuxer is ``None`` (FFmpeg's allow-list still holds); any other URL
    scheme is refused. Anything else is a local path: it must be a regular file starting
    like an allowed container, and goes to FFmpeg as a ``file:`` URL, so a name such as
    ``concat:a|b`` or ``subfile,,…`` is only ever a file name.

    Raises:
        FileNotFoundError: the path does not exist.
        BadInput: ``bad_location`` (not a regular file, or a URL other than http(s));
            the refusals of :func:`~deeplens.vision.containers.admit_container`.
    """
    if isinstance(location, str) and "://" in location:
        if urlsplit(location).scheme.lower() not in _URL_SCHEMES:
            raise BadInput("bad_location", "videos are read from files or http(s) URLs only")
        return location, None
    path = Path(location).absolute()
    if not path.is_file():
        if not path.exists():
            raise FileNotFoundError(path)
        raise BadInput("bad_location", f"{path} is not a regular file")
    return f"file:{path}", admit_container(_read_head(path))


def check_header(width: int, height: int, fps: float, frame_count: int, limits: VideoLimits) -> None:
    """Refuse a video whose header declares a size, frame rate or length beyond ``limits``.

    ``fps`` is what the container reports (0 or NaN: none declared, which is allowed).

    Raises:
        BadInput: ``video_too_large``, ``bad_frame_rate`` or ``video_too_long``.
    """
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise BadInput(
            "video_too_large",
            f"the video is {width}x{height}; at most {limits.max_side} px a side and {limits.max_pixels} pixels are accepted",
        )
    declared = math.isfinite(fps) and fps > 0
    if declared and not limits.min_fps <= fps <= limits.max_fps:
        # A zero timescale in the header (mp4 mdhd) makes FFmpeg count in whole seconds,
        # which shows here as a rate like 0.001 fps.
        why = "; its time base is missing or broken" if fps < limits.min_fps else ""
        raise BadInput(
            "bad_frame_rate", f"the header declares {fps:.4g} fps (accepted: {limits.min_fps:g}-{limits.max_fps:g}){why}"
        )
    seconds = frame_count / (fps if declared else FALLBACK_FPS)
    if seconds > limits.max_seconds:
        raise BadInput(
            "video_too_long", f"the header declares {seconds:.0f} s of video; at most {limits.max_seconds:.0f} s are accepted"
        )


def _sane_fps(fps: float) -> float:
    if not math.isfinite(fps) or fps <= 0 or fps > _MAX_SANE_FPS:
        return FALLBACK_FPS
    return float(fps)


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """A decoded frame as BGR: OpenCV gives some grayscale streams' frames one channel."""
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame


def open_video(
    path: str | Path, *, threads: int = 0, limits: VideoLimits | None = None
) -> tuple[cv2.VideoCapture, VideoInfo, np.ndarray]:
    """Open a video and decode its first frame; the caller owns (and releases) the capture.

    Returns the capture positioned after frame 0, the probed :class:`VideoInfo` and
    frame 0 itself (BGR ``uint8``), so a sequential reader decodes nothing twice.
    ``path`` may also be an ``http(s)://`` URL (a presigned S3 URL), which FFmpeg reads by
    range; its container cannot be sniffed first, so failures to open are ``not_a_video``
    (see :func:`ffmpeg_location` for what is refused before FFmpeg sees anything).
    ``threads`` caps the decoder's threads (0: FFmpeg's choice, one per core). Where
    several videos decode at once, 1 each costs a fifth less CPU per frame than FFmpeg's
    frame threads, and no more CPU per seek. With ``limits``, the header is checked
    (:func:`check_header`) before the first frame is decoded.

    Raises:
        FileNotFoundError: the path does not exist.
        BadInput: ``empty`` (zero-length file); ``not_a_video`` (not an allowed container
            by its magic bytes, OpenCV cannot open it, or it has no video stream);
            ``unsupported_container``; ``bad_location``; ``corrupt_video`` (an allowed
            container whose header or frames cannot be read, e.g. an mp4 cut before its
            ``moov`` index); with ``limits``, those of :func:`check_header`.
    """
    source, container = ffmpeg_location(path)
    cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads] if threads > 0 else [])
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
        if limits is not None:
            check_header(width, height, cap.get(cv2.CAP_PROP_FPS), round(cap.get(cv2.CAP_PROP_FRAME_COUNT)), limits)
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
