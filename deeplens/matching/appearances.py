"""Roll verified frame matches up into appearances: product P in video V from t1 to t2."""

from __future__ import annotations

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


def segment_hits(hits: Sequence[FrameHit], *, max_gap: float, min_hits: int = 1) -> list[Segment]:
    """Split time-ordered hits into appearances.

    A product absent for at most ``max_gap`` seconds (missed detections, a brief
    occlusion) stays in one appearance; a longer absence starts a new one. Runs with fewer
    than ``min_hits`` hits are dropped as unconfirmed.
    """
    ordered = sorted(hits, key=lambda hit: hit.t)
    runs: list[list[FrameHit]] = []
    for hit in ordered:
        if runs and hit.t - runs[-1][-1].t <= max_gap:
            runs[-1].append(hit)
        else:
            runs.append([hit])
    return [Segment(run[0].t, run[-1].t, tuple(run)) for run in runs if len(run) >= min_hits]
