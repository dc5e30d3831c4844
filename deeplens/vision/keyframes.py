"""Pick keyframes while decoding a video once, front to back.

Rule, per decoded frame ``i`` at ``t = i / fps``, measured against the last kept frame:

- frame 0 is always kept (``reason="first"``);
- keep when the next frame would be more than ``max_interval`` after the last kept
  one (``"interval"``), so consecutive keyframes are never further apart than that;
- else keep when ``min_interval`` has passed *and* the scene-change score exceeds
  ``scene_threshold`` (``"scene"``). Comparing with the last *kept* frame (not the
  previous frame) means a cut that happens inside ``min_interval`` is still caught as
  soon as ``min_interval`` has passed, and slow drifts add up until they count;
- the last decodable frame is always kept (``"last"``).

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

import cv2
import numpy as np

from deeplens.vision.video import VideoInfo, VideoLimits, as_bgr, open_video

_EPS = 1e-9


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


def frame_signature(img: np.ndarray) -> _Signature:
    """A tiny summary of a frame for scene-change scoring (colour histogram + thumbnail)."""
    small = cv2.resize(img, (64, 36), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256])
    hist = (hist / max(float(hist.sum()), 1.0)).astype(np.float32)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    # The 32x32 area-averaged thumbnail ignores fine texture and small motion, but a cut
    # changes the layout of light and dark, which it does see.
    thumb = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    return _Signature(hist=hist, thumb=thumb)


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

    ``info`` is available at once. ``decoded_frames``, ``missing_frames`` and
    ``truncated`` describe the decode and are final only after iteration ends
    (``finished`` is then true); reading ``truncated`` earlier raises ``RuntimeError``
    so a caller cannot mistake "not yet known" for "complete". Use it as a context
    manager (or call :meth:`close`) to release the decoder early.
    """

    def __init__(
        self,
        cap: cv2.VideoCapture,
        info: VideoInfo,
        first: np.ndarray,
        *,
        min_interval: float,
        max_interval: float,
        scene_threshold: float,
    ) -> None:
        self.info = info
        self.decoded_frames = 0
        self.kept_frames = 0
        self.finished = False
        self._cap = cap
        self._gen = self._run(first, min_interval, max_interval, scene_threshold)

    @property
    def missing_frames(self) -> int:
        """Frames the header promised but that did not decode (0 if complete)."""
        return max(0, self.info.frame_count - self.decoded_frames)

    @property
    def truncated(self) -> bool:
        """True when decoding stopped clearly short of the header's frame count.

        A small tolerance (``max(2, 1%)`` of the frames, at most one second of them)
        absorbs containers whose frame count is an estimate from the duration.
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
        self._cap.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(
        self, first: np.ndarray, min_interval: float, max_interval: float, threshold: float
    ) -> Iterator[Keyframe]:
        fps = self.info.fps
        try:
            index = 0
            last_index = 0
            last_sig = frame_signature(first)
            pending: np.ndarray | None = None  # latest decoded frame not (yet) kept
            self.decoded_frames = 1
            self.kept_frames = 1
            yield Keyframe(index=0, t=0.0, image=first, reason="first")
            while True:
                ok, frame = self._cap.read()
                if not ok or frame is None:
                    break
                frame = as_bgr(frame)
                index += 1
                self.decoded_frames += 1
                since = (index - last_index) / fps
                reason, score, sig = "", 0.0, None
                # Keep this frame if waiting for the next one would overshoot, so gaps
                # never exceed max_interval (rather than exceed it by up to one frame).
                if since + 1.0 / fps > max_interval + _EPS:
                    reason = "interval"
                elif since >= min_interval - _EPS:
                    sig = frame_signature(frame)
                    score = scene_change_score(last_sig, sig)
                    if score > threshold:
                        reason = "scene"
                if reason:
                    last_sig = sig if sig is not None else frame_signature(frame)
                    last_index, pending = index, None
                    self.kept_frames += 1
                    yield Keyframe(index=index, t=index / fps, image=frame, reason=reason, score=score)
                else:
                    pending = frame
            if pending is not None:
                score = scene_change_score(last_sig, frame_signature(pending))
                self.kept_frames += 1
                self.finished = True  # decoding is over; the report is final already
                yield Keyframe(index=index, t=index / fps, image=pending, reason="last", score=score)
            self.finished = True
        finally:
            self._cap.release()


def select_keyframes(
    path: str | Path,
    *,
    min_interval: float = 0.2,
    max_interval: float = 0.5,
    scene_threshold: float = 0.35,
    threads: int = 0,
    limits: VideoLimits | None = None,
) -> KeyframeScan:
    """Decode ``path`` sequentially and yield its keyframes (see the module docstring).

    Opens the video and decodes frame 0 immediately, so bad input fails here, before
    iteration, with ``BadInput`` (``empty``, ``not_a_video``, ``corrupt_video``, and
    with ``limits`` a header beyond them: see :func:`~deeplens.vision.video.open_video`).
    A file that decodes partly is not an error: iterate the returned
    :class:`KeyframeScan` to the end, then check ``scan.truncated``. ``threads`` caps the
    decoder's threads (see :func:`~deeplens.vision.video.open_video`).
    """
    if not (0 <= min_interval <= max_interval and max_interval > 0):
        raise ValueError(
            f"need 0 <= min_interval <= max_interval and max_interval > 0, "
            f"got {min_interval}, {max_interval}"
        )
    cap, info, first = open_video(path, threads=threads, limits=limits)
    return KeyframeScan(
        cap,
        info,
        first,
        min_interval=min_interval,
        max_interval=max_interval,
        scene_threshold=scene_threshold,
    )
