"""Pick keyframes while decoding a video once, front to back, skipping the frames no other frame references.

Rule, per decoded frame ``i`` at ``t = i / fps``, measured against the last kept frame:

- frame 0 is always kept (``reason="first"``);
- keep when the next decoded frame (as far ahead as the last step between decoded frames)
  would be more than ``max_interval`` after the last kept one (``"interval"``), so
  consecutive keyframes are never further apart than that. Where that frame is caught in
  a burst of motion blur (a camera jerk), the sharpest decoded frame of the last third of
  the interval stands in for it, as long as the blurred one is clearly less sharp
  (:mod:`deeplens.vision.sharpness`): a blurred keyframe at an appearance's edge cut it
  short by up to a second;
- else keep when ``min_interval`` has passed *and* the scene-change score exceeds
  ``scene_threshold`` (``"scene"``). Comparing with the last *kept* frame (not the
  previous frame) means a cut that happens inside ``min_interval`` is still caught as
  soon as ``min_interval`` has passed, and slow drifts add up until they count;
- the last decoded frame is always kept (``"last"``).

Only reference frames are decoded (:func:`reference_frames`): in an H.264 file with
B-frames that is about half of them, and the keyframes are chosen among those; in a file
without unreferenced frames (the generator's MPEG-4), among all.

Truncation (the chosen contract): decoding stops at the first frame that cannot be
read. :func:`select_keyframes` returns a :class:`KeyframeScan`, an iterator that yields
every keyframe up to that point; once exhausted it tells the caller what happened via
``scan.decoded_frames``, ``scan.missing_frames`` and ``scan.truncated``. Frames already
yielded are real and worth keeping, so truncation is *reported*, not raised. Only when
nothing decodes at all does :func:`select_keyframes` raise ``BadInput`` (eagerly, at the
call, before any iteration): ``empty``, ``not_a_video`` or ``corrupt_video`` - for
instance an mp4 cut before its ``moov`` index cannot be opened at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import av
import cv2
import numpy as np

from deeplens.vision.decoder import StreamDecoder
from deeplens.vision.sharpness import Sharpness, is_blurred, overall, thumbnail_sharpness, thumbnail_size
from deeplens.vision.video import VideoInfo, VideoLimits, ffmpeg_location, open_video

_EPS = 1e-9
# The part of the interval, at its end, whose frames may stand in for a blurred interval keyframe.
LOOKBACK = 1 / 3


@dataclass(frozen=True)
class Keyframe:
    """One kept frame: its 0-based index, time in seconds (``index / fps``) and pixels."""

    index: int
    t: float
    image: np.ndarray
    """BGR ``uint8``, full decoded resolution."""
    reason: str = ""
    """Why it was kept: ``first``, ``interval``, ``scene`` or ``last``."""
    score: float = 0.0
    """Scene-change score against the previous keyframe (0 when not computed)."""


@dataclass(frozen=True)
class _Signature:
    hist: np.ndarray
    thumb: np.ndarray


def frame_signature(frame: av.VideoFrame) -> _Signature:
    """A tiny summary of a decoded frame for scene-change scoring (colour histogram + thumbnail).

    FFmpeg scales the frame straight from its planes to 64x36 (an area average): a fifth of
    the CPU of converting the whole frame to BGR and reducing that, and most scored frames
    are never needed whole.
    """
    small = frame.reformat(width=64, height=36, format="bgr24", interpolation="AREA").to_ndarray()
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256])
    hist = (hist / max(float(hist.sum()), 1.0)).astype(np.float32)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    # The 32x32 area-averaged thumbnail ignores fine texture and small motion, but a cut
    # changes the layout of light and dark, which it does see.
    thumb = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    return _Signature(hist=hist, thumb=thumb)


def frame_sharpness(frame: av.VideoFrame) -> Sharpness:
    """How sharp a decoded frame is (:mod:`deeplens.vision.sharpness`), on a thumbnail FFmpeg scales from its planes."""
    width, height = thumbnail_size(frame.width, frame.height)
    return thumbnail_sharpness(frame.reformat(width=width, height=height, format="gray", interpolation="AREA").to_ndarray())


StandIn = tuple[int, av.VideoFrame, Sharpness]
"""A frame that may stand in for a blurred interval keyframe: its index, the frame, its sharpness."""


def sharper(best: StandIn | None, index: int, frame: av.VideoFrame) -> StandIn:
    """The sharper of ``best`` and this frame (this one on ties: the later)."""
    candidate = (index, frame, frame_sharpness(frame))
    return candidate if best is None or overall(candidate[2]) >= overall(best[2]) else best


def stand_in_for(due: tuple[int, av.VideoFrame], best: StandIn | None) -> tuple[int, av.VideoFrame]:
    """The frame to keep for a due interval keyframe: ``due`` itself unless it is blurred next to
    ``best``, the sharpest earlier frame that may stand in; else that one."""
    if best is None or not is_blurred(frame_sharpness(due[1]), best[2]):
        return due
    return best[0], best[1]


def scene_change_score(a: _Signature, b: _Signature) -> float:
    """Scene-change score in ``[0, 1]``: the larger of two complementary distances.

    The histogram (Bhattacharyya) distance catches a change of palette; the thumbnail
    difference (mean absolute difference / 128) catches a change of layout between shots
    with similar colours (e.g. two products on white). Typical values: same shot with
    camera motion < 0.2, hard cut > 0.4.
    """
    hist_d = float(cv2.compareHist(a.hist, b.hist, cv2.HISTCMP_BHATTACHARYYA))
    thumb_d = float(np.mean(np.abs(a.thumb - b.thumb))) / 128.0
    return min(1.0, max(hist_d, thumb_d))


class KeyframeScan(Iterator[Keyframe]):
    """Iterator over the keyframes of one video, with a report once it is exhausted.

    ``info`` is available at once. ``decoded_frames``, ``reached_frames``,
    ``missing_frames`` and ``truncated`` describe the decode and are final only after
    iteration ends (``finished`` is then true); reading ``truncated`` earlier raises
    ``RuntimeError`` so a caller cannot mistake "not yet known" for "complete". Use it as a
    context manager (or call :meth:`close`) to release the decoder early.
    """

    def __init__(
        self,
        frames: Iterator[tuple[int, av.VideoFrame]],
        info: VideoInfo,
        *,
        end: int,
        min_interval: float,
        max_interval: float,
        scene_threshold: float,
    ) -> None:
        self.info = info
        self.end = end
        """The frame the scan should reach before it stops: the video's frame count, or its segment's end."""
        self.decoded_frames = 0
        """Frames decoded (frames no other frame references are skipped, never decoded)."""
        self.reached_frames = 0
        """Frames up to and including the last one decoded: how far into the video the scan got."""
        self.kept_frames = 0
        self.finished = False
        self._frames = frames
        self._gen = self._run(min_interval, max_interval, scene_threshold)

    @property
    def missing_frames(self) -> int:
        """Frames the header promised (up to the segment's end) but that the scan did not reach (0 if complete)."""
        return max(0, self.end - self.reached_frames)

    @property
    def truncated(self) -> bool:
        """True when decoding stopped clearly short of the header's frame count.

        A small tolerance (``max(2, 1%)`` of the frames, at most one second of them)
        absorbs containers whose frame count is an estimate from the duration, and the
        unreferenced frames at the very end that the scan skips.
        """
        if not self.finished:
            raise RuntimeError("truncation is known only after the scan is exhausted")
        tolerance = min(max(2, math.ceil(0.01 * self.info.frame_count)), max(2, round(self.info.fps)))
        return self.missing_frames > tolerance

    def __iter__(self) -> KeyframeScan:
        return self

    def __next__(self) -> Keyframe:
        return next(self._gen)

    def close(self) -> None:
        """Stop decoding and release the video; later iteration yields nothing."""
        self._gen.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, min_interval: float, max_interval: float, threshold: float) -> Iterator[Keyframe]:
        fps = self.info.fps
        last_index, last_sig = 0, None
        previous = 0  # the index decoded before this one: the last step tells how far the next is
        pending: tuple[int, av.VideoFrame] | None = None  # latest decoded frame not (yet) kept
        # The sharpest frame of the end of the current interval, which may stand in for a
        # blurred interval keyframe; sharpness is measured only there, so few frames ever are.
        best: StandIn | None = None
        lookback_from = max(min_interval, max_interval * (1 - LOOKBACK))

        def kept(index: int, decoded: av.VideoFrame, reason: str, score: float = 0.0) -> Keyframe:
            # Only a kept frame is converted to BGR whole.
            self.kept_frames += 1
            return Keyframe(index=index, t=index / fps, image=decoded.to_ndarray(format="bgr24"), reason=reason, score=score)

        try:
            for index, decoded in self._frames:
                self.decoded_frames += 1
                self.reached_frames = index + 1
                if last_sig is None:
                    last_sig, last_index, previous = frame_signature(decoded), index, index
                    yield kept(index, decoded, "first")
                    continue
                since, step = (index - last_index) / fps, max(1, index - previous) / fps
                previous = index
                reason, score, sig = "", 0.0, None
                chosen = (index, decoded)
                # Keep this frame if waiting for the next decoded one would overshoot, so gaps
                # never exceed max_interval (rather than exceed it by up to one step).
                if since + step > max_interval + _EPS:
                    reason = "interval"
                    chosen = stand_in_for(chosen, best)
                elif since >= min_interval - _EPS:
                    # Only frames past min_interval are scored at all.
                    sig = frame_signature(decoded)
                    score = scene_change_score(last_sig, sig)
                    if score > threshold:
                        reason = "scene"
                if reason:
                    # Where an earlier, sharper frame stands in, this one may still be the video's last.
                    pending = (index, decoded) if chosen[0] != index else None
                    last_sig = sig if sig is not None else frame_signature(chosen[1])
                    last_index, best = chosen[0], None
                    yield kept(*chosen, reason, score)
                else:
                    pending = (index, decoded)
                    if since >= lookback_from - _EPS:
                        best = sharper(best, index, decoded)
            if pending is not None and last_sig is not None:
                index, decoded = pending
                score = scene_change_score(last_sig, frame_signature(decoded))
                keyframe = kept(index, decoded, "last", score)
                self.finished = True  # decoding is over; the report is final already
                yield keyframe
            self.finished = True
        finally:
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()


def reference_frames(
    location: str, fps: float, *, threads: int = 0, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, av.VideoFrame]]:
    """The frames of ``location`` that other frames reference, with their 0-based display index, in order.

    The rest (most B-frames of an H.264 stream) are skipped, not decoded: a third to a half
    of the decoding of a typical camera file, and no other frame changes. Every frame of an
    intra-and-P stream (the generator's MPEG-4) is decoded. With ``start`` (an I-frame's
    index) decoding begins there, after a seek; frames from ``end`` on are not decoded. See
    :class:`~deeplens.vision.decoder.StreamDecoder`.
    """
    with StreamDecoder(location, fps, threads=threads, references_only=True) as decoder:
        frames = decoder.frames()
        if start > 0:
            next(frames, None)  # frame 0's timestamp is the origin every index counts from
            decoder.seek(start)
            frames = decoder.frames()
        for index, frame in frames:
            if end is not None and index >= end:
                return
            if index >= start:
                yield index, frame


def segment_bounds(keyframes: list[int], frame_count: int, fps: float, seconds: float) -> list[tuple[int, int]]:
    """``[start, end)`` frame ranges of about ``seconds`` each that tile the video, every start an I-frame.

    A segment starts at the first I-frame at or after each multiple of ``seconds``, so a
    decoder can begin there after a seek and the segments depend on the file alone;
    ``seconds <= 0`` (or a video shorter than that) gives one segment.
    """
    starts = [0]
    if seconds > 0:
        for index in sorted(keyframes):
            if index >= len(starts) * seconds * fps and starts[-1] < index < frame_count:
                starts.append(index)
    return list(zip(starts, [*starts[1:], frame_count], strict=True))


def video_keyframes(location: str, fps: float) -> list[int]:
    """The display indexes of ``location``'s I-frames, from its packets (nothing is decoded)."""
    with StreamDecoder(location, fps) as decoder:
        return decoder.keyframe_indexes()


def select_keyframes(
    path: str | Path,
    *,
    min_interval: float = 0.2,
    max_interval: float = 0.5,
    scene_threshold: float = 0.35,
    threads: int = 0,
    limits: VideoLimits | None = None,
    segment: tuple[int, int] | None = None,
) -> KeyframeScan:
    """Decode ``path`` sequentially and yield its keyframes (see the module docstring).

    Opens the video and decodes frame 0 immediately, so bad input fails here, before
    iteration, with ``BadInput`` (``empty``, ``not_a_video``, ``corrupt_video``, and
    with ``limits`` a header beyond them: see :func:`~deeplens.vision.video.open_video`).
    A file that decodes partly is not an error: iterate the returned
    :class:`KeyframeScan` to the end, then check ``scan.truncated``. ``threads`` caps the
    decoder's threads (see :func:`~deeplens.vision.video.open_video`). With ``segment``
    (``start, end`` from :func:`segment_bounds`) only that part is scanned, as if it were
    the whole video: its first frame is kept, and so is its last.
    """
    if not (0 <= min_interval <= max_interval and max_interval > 0):
        raise ValueError(
            f"need 0 <= min_interval <= max_interval and max_interval > 0, "
            f"got {min_interval}, {max_interval}"
        )
    cap, info, _ = open_video(path, threads=threads, limits=limits)
    cap.release()  # OpenCV checked the header and frame 0; PyAV decodes, skipping what no frame needs
    location, _ = ffmpeg_location(path)
    start, end = segment or (0, info.frame_count)
    return KeyframeScan(
        reference_frames(location, info.fps, threads=threads, start=start, end=end if segment else None),
        info,
        end=end,
        min_interval=min_interval,
        max_interval=max_interval,
        scene_threshold=scene_threshold,
    )
