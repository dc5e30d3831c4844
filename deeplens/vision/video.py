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
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import av
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
    """Frames of one video by index, in any order, with one open decoder (PyAV).

    Seeking costs the decoding from the I-frame before the target: a few frames in a file
    with a short GOP, up to hundreds in a typical H.264 file, whose GOP is often 250 frames
    or the whole clip. So the reader avoids seeks where it can:

    - the last frames it decoded are kept (within a memory budget), and a seek decodes
      ``lead`` frames before its target as well, since a bisection often steps back next;
    - a frame ahead is reached by decoding forward while that decodes no more frames than
      a seek has cost on this very file so far (counted, not timed, so the way each frame
      is reached depends on the file and the requests only); before the first seek, up to
      ``max_forward`` frames ahead.

    With ``references_only`` the frames no other frame references are never decoded, and
    :meth:`read` answers with the first decoded frame at or after the index asked for (in
    an H.264 file with B-frames, at most a few frames later; :attr:`last_index` says which):
    half the decoding, for callers that need a frame *about* there, such as the probes of
    an appearance's edges. Otherwise every frame is decoded and :meth:`read` gives exactly
    the frame asked for. Frames returned are shared with the reader's cache: read them, do
    not modify them. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self, path: str | Path, *, max_forward: int = 30, threads: int = 0, lead: int = 8, cache_bytes: int = 64 << 20,
        references_only: bool = False,
    ) -> None:
        """Open ``path`` (a file or an http(s) URL) with ``threads`` decoder threads (see
        :func:`open_video`, whose errors it raises). ``cache_bytes`` bounds the frames kept."""
        cap, self.info, first = open_video(path, threads=threads)
        cap.release()  # OpenCV checked the header and frame 0; PyAV decodes (and seeks by timestamp)
        from deeplens.vision.decoder import StreamDecoder  # the decoder imports this module's neighbours

        self._decoder = StreamDecoder(ffmpeg_location(path)[0], self.info.fps, threads=threads, references_only=references_only)
        self._slack = 16 if references_only else 0  # at most a B-frame run between reference frames
        self._kept: OrderedDict[int, np.ndarray | av.VideoFrame] = OrderedDict()
        self._before: dict[int, int] = {}  # kept frame → the frame decoded just before it (itself after a seek)
        self._last_decoded = -1
        self._keep = max(1, cache_bytes // max(1, first.nbytes))
        self._lead = max(0, min(lead, self._keep - 1))
        self._max_forward = max_forward
        self._seek_decoded = 0  # frames decoded after seeks, up to their targets
        self._decoded = 0  # frames decoded in all
        self._passed = 0  # frames passed in all, decoded or skipped
        self._frames = self._decoder.frames()
        # Frame 0 first: its timestamp is the origin every index (and seek) counts from.
        self._next = 0  # the lowest index the decoder can give next without a seek
        self._decode_until(0, seeking=False)
        self.seeks = 0
        """How many times the reader has sought so far."""
        self.last_index = -1
        """The index of the frame :meth:`read` returned last (with ``references_only``, maybe past the one asked for)."""

    def read(self, index: int) -> np.ndarray:
        """The frame with 0-based ``index`` (BGR ``uint8``; do not modify it), or with ``references_only`` the first
        decoded one at or after it (the last decoded one, past the last reference frame).

        Raises:
            BadInput: ``frame_out_of_range`` for an index outside ``[0, frame_count)``;
                ``corrupt_video`` when no frame at or after ``index`` can be decoded, as
                past the point where a truncated file ends.
        """
        if index < 0 or index >= self.info.frame_count:
            raise BadInput("frame_out_of_range", f"frame {index} is outside the video's {self.info.frame_count} frames")
        kept = self._kept_for(index)
        if kept is None:
            seeking = not self._next <= index <= self._next + self._forward_limit()
            if seeking:
                self._decoder.seek(max(0, index - self._lead))
                self._frames = self._decoder.frames()
                self.seeks += 1
            kept = self._decode_until(index, seeking=seeking)
        self.last_index = kept
        frame = self._kept[kept]
        if not isinstance(frame, np.ndarray):
            # Kept as decoded (YUV, half the bytes) until asked for: most lead frames never are.
            frame = self._kept[kept] = frame.to_ndarray(format="bgr24")
        return frame

    def _kept_for(self, index: int) -> int | None:
        """The kept frame that answers for ``index``: itself, or with references only the first decoded after it."""
        if index in self._kept:
            return index
        # Frames decoded one after the other have nothing decodable between them.
        return next((i for i in self._kept if self._before.get(i, i) < index < i), None)

    def _decode_until(self, index: int, *, seeking: bool) -> int:
        """Decode forward to the first frame at or after ``index``; keep the ``lead`` before it; return its index."""
        previous, last = None, None
        for found, frame in self._frames:
            self._decoded += 1
            self._seek_decoded += seeking
            self._passed += 1 if previous is None else found - previous
            previous_decoded = found if previous is None and seeking else (previous if previous is not None else self._last_decoded)
            previous, self._next, self._last_decoded = found, found + 1, found
            if found >= index - self._lead:
                self._remember(found, frame, previous_decoded)
                last = found
            if found >= index:
                return found
        self._next = self.info.frame_count  # the stream ended: only a seek goes back
        if last is not None and last >= index - self._slack:
            return last
        raise BadInput("corrupt_video", f"frame {index} cannot be decoded")

    def _forward_limit(self) -> int:
        """How far ahead decoding forward decodes no more frames than a seek has cost on average (counted, not timed)."""
        if not self.seeks:
            return self._max_forward
        per_seek = self._seek_decoded / self.seeks
        decoded_share = self._decoded / max(1, self._passed)
        return max(self._max_forward, int(per_seek / max(decoded_share, 1e-3)))

    def _remember(self, index: int, frame: np.ndarray | av.VideoFrame, before: int) -> None:
        self._kept[index] = frame
        self._kept.move_to_end(index)
        self._before[index] = before
        while len(self._kept) > self._keep:
            dropped, _ = self._kept.popitem(last=False)
            self._before.pop(dropped, None)

    def close(self) -> None:
        """Release the decoder and the frames kept."""
        self._decoder.close()
        self._kept.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
