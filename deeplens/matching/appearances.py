"""Roll verified frame matches up into appearances: product P in video V from t1 to t2."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class FrameHit:
    """A verified match of one product in one keyframe."""

    frame_id: int
    t: float
    score: float
    box: tuple[int, int, int, int]
    product_image_id: int


@dataclass(frozen=True)
class Segment:
    """One appearance: a run of hits with no gap longer than the allowed one."""

    start: float
    end: float
    hits: tuple[FrameHit, ...]

    @property
    def best(self) -> FrameHit:
        """The hit with the highest score (earliest on ties)."""
        return max(self.hits, key=lambda hit: (hit.score, -hit.t))


def segment_hits(
    hits: Sequence[FrameHit], *, max_gap: float, min_hits: int = 1, strong_score: float = 1.0
) -> list[Segment]:
    """Split time-ordered hits into appearances.

    A product absent for at most ``max_gap`` seconds (missed detections, a brief
    occlusion) stays in one appearance; a longer absence starts a new one. A run needs
    ``min_hits`` hits to be confirmed — one stray frame is more often a look-alike than
    a real appearance — unless one of its hits scores at least ``strong_score``.
    """
    ordered = sorted(hits, key=lambda hit: hit.t)
    runs: list[list[FrameHit]] = []
    for hit in ordered:
        if runs and hit.t - runs[-1][-1].t <= max_gap:
            runs[-1].append(hit)
        else:
            runs.append([hit])
    return [
        Segment(run[0].t, run[-1].t, tuple(run))
        for run in runs
        if len(run) >= min_hits or max(hit.score for hit in run) >= strong_score
    ]


def widen_to_neighbours(segment: Segment, keyframe_times: Sequence[float]) -> Segment:
    """Move each edge halfway towards the neighbouring keyframe where the product was not seen.

    The product entered somewhere between the last keyframe without it and the first
    with it; the midpoint is the estimate with the least expected error, and it halves
    the error of reporting the first keyframe itself.
    """
    times = sorted(keyframe_times)
    start, end = segment.start, segment.end
    before = bisect.bisect_left(times, start) - 1
    if before >= 0:
        start = (times[before] + start) / 2
    after = bisect.bisect_right(times, end)
    if after < len(times):
        end = (end + times[after]) / 2
    return Segment(start, end, segment.hits)
