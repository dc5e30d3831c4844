"""Roll verified frame matches up into appearances: product P in video V from t1 to t2.

Keyframes are sparse (a second or more apart) because each one costs a full feature
extraction and candidate search. Where a product is seen in one keyframe and not in its
neighbour, the frames between them are *probed*: the one product is verified in a frame
halfway, and the bracket halves until it is a few frames wide. Each probe is cheap (the
product's photo against a crop around where it was), so edges come out nearly
frame-exact at a fraction of the cost of dense keyframes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FrameHit:
    """A verified match of one product in one keyframe."""

    frame_id: int
    index: int
    """The keyframe's 0-based frame index in its video."""
    t: float
    score: float
    box: tuple[int, int, int, int]
    product_image_id: int


@dataclass(frozen=True)
class Segment:
    """One appearance: runs of hits whose absences in between are short enough to bridge."""

    start: float
    end: float
    hits: tuple[FrameHit, ...]
    probed: int = 0
    """Frames between keyframes in which probing the edges verified the product."""

    @property
    def best(self) -> FrameHit:
        """The hit with the highest score (earliest on ties)."""
        return max(self.hits, key=lambda hit: (hit.score, -hit.t))


Probe = Callable[[int, FrameHit], "bool | None"]
"""Whether the product is visible in the frame with this index, judged with the nearest
verified keyframe's hit as a guide (its photo and box); ``None`` when it cannot tell
(the video is gone or does not decode), which stops the refinement."""

Track = Callable[[int, FrameHit], bool]
"""Whether the guiding hit's product is still at its place in the keyframe with this index
(its geometry, without the photometric agreement a match also needs): what carries a stay
through keyframes where something covers part of the product."""


def refine_edge(absent: int, present: int, probe: Callable[[int], bool | None], resolution: int) -> tuple[int, int, int]:
    """Bisect the frames between an ``absent`` and a ``present`` frame index.

    Works in either direction (an appearance's start: ``absent < present``; its end:
    ``absent > present``) and assumes one change in between. Stops once the two are at
    most ``resolution`` frames apart, or when the probe cannot tell. Returns the final
    ``(absent, present, frames found present)``.
    """
    found = 0
    while abs(present - absent) > max(1, resolution):
        middle = (absent + present) // 2
        visible = probe(middle)
        if visible is None:
            break
        if visible:
            present, found = middle, found + 1
        else:
            absent = middle
    return absent, present, found


def edge_time(absent: int, present: int, fps: float) -> float:
    """The time of an edge bracketed by two frame indexes: the present frame once they are
    adjacent (appearances count their first and last visible frames), else the midpoint,
    the estimate with the least expected error."""
    if abs(present - absent) == 1:
        return present / fps
    return (absent + present) / 2 / fps


def find_appearances(
    hits: Sequence[FrameHit],
    keyframes: Sequence[int],
    *,
    fps: float,
    probe: Probe | None,
    resolution: int,
    max_gap: float,
    min_hits: int = 1,
    strong_score: float = 1.0,
    track: Track | None = None,
) -> list[Segment]:
    """Turn one product's keyframe hits in one video into appearances.

    ``keyframes`` are the frame indexes of all the video's keyframes. A run of
    consecutive keyframes with hits is one stay on screen; its edges towards keyframes
    without a hit are refined with ``probe`` (``None``: the midpoint between the two
    keyframes). Stays whose refined absence in between is at most ``max_gap`` seconds
    (a missed detection, a brief occlusion) are one appearance; a longer absence starts
    a new one. An appearance needs ``min_hits`` verified frames, probed ones included,
    to be confirmed — one stray frame is more often a look-alike than a real
    appearance — unless one of its hits scores at least ``strong_score``.

    Stays are first joined where ``track`` follows the product through every keyframe
    between them (each judged with the nearer stay's hit as the guide): an occluder over
    part of the product lowers its photometric agreement below what a match needs, often
    for longer than ``max_gap``, while its geometry stays in place. The edges inside a
    joined stay are not probed.
    """
    by_index = {hit.index: hit for hit in hits}
    order = sorted(set(keyframes) | set(by_index))
    runs: list[tuple[int, int]] = []  # positions in ``order`` of each run's first and last keyframe
    for position, index in enumerate(order):
        if index not in by_index:
            continue
        if runs and runs[-1][1] == position - 1:
            runs[-1] = (runs[-1][0], position)
        else:
            runs.append((position, position))

    def edge(absent_position: int, hit: FrameHit) -> tuple[float, int]:
        if not 0 <= absent_position < len(order):
            return hit.t, 0
        absent = order[absent_position]
        if probe is None:
            return (absent + hit.index) / 2 / fps, 0
        absent, present, found = refine_edge(absent, hit.index, lambda index: probe(index, hit), resolution)
        return edge_time(absent, present, fps), found

    def tracked(earlier: int, later: int) -> bool:
        """Whether ``track`` follows the product through every keyframe between positions ``earlier`` and ``later``."""
        before, after = by_index[order[earlier]], by_index[order[later]]
        return track is not None and all(
            track(order[p], before if order[p] - before.index <= after.index - order[p] else after) for p in range(earlier + 1, later)
        )

    stays: list[tuple[int, int]] = []
    for first, last in runs:
        if stays and tracked(stays[-1][1], first):
            stays[-1] = (stays[-1][0], last)
        else:
            stays.append((first, last))

    segments: list[Segment] = []
    for first, last in stays:
        start, found_before = edge(first - 1, by_index[order[first]])
        end, found_after = edge(last + 1, by_index[order[last]])
        hits_in = tuple(by_index[order[p]] for p in range(first, last + 1) if order[p] in by_index)
        run = Segment(start, end, hits_in, found_before + found_after)
        if segments and run.start - segments[-1].end <= max_gap:
            previous = segments.pop()
            run = Segment(previous.start, run.end, previous.hits + run.hits, previous.probed + run.probed)
        segments.append(run)
    return [
        segment
        for segment in segments
        if len(segment.hits) + segment.probed >= min_hits or max(hit.score for hit in segment.hits) >= strong_score
    ]
