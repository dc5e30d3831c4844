"""Roll verified frame matches up into appearances: product P in video V from t1 to t2.

Keyframes are sparse (a second or more apart) because each one costs a full feature
extraction and candidate search. Where a product is seen in one keyframe and not in its
neighbour, the frames between them are *probed*: the one product is verified in a frame
halfway, and the bracket halves until it is a few frames wide. Each probe is cheap (the
product's photo against a crop around where it was), so edges come out nearly
frame-exact at a fraction of the cost of dense keyframes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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
through keyframes where something covers part of the product, and out to keyframes next to
it where blur or an occluder leaves the product too few inliers or too little agreement to
match."""


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


@dataclass(frozen=True)
class Edge:
    """Where a stay's first or last keyframe meets the keyframe next to it that does not show the product."""

    absent: int
    """The index of that keyframe."""
    present: int
    """The index of the stay's keyframe at this edge: the bracket's present end (its hit's, or a
    keyframe the product was tracked in beyond it)."""
    hit: FrameHit
    """The stay's hit at this edge: the probes' guide."""


RefinedEdges = Mapping[Edge, tuple[int, int, int]]
"""Each edge's final ``(absent, present, frames found present)``, as :func:`refine_edge` returns it."""


@dataclass(frozen=True)
class Stay:
    """Consecutive keyframes with hits (or tracked between and beside them): one stay on screen, before its edges are refined."""

    hits: tuple[FrameHit, ...]
    first: int
    """The index of its first keyframe (its first hit's, or a keyframe before it the product was tracked in)."""
    last: int
    """The index of its last keyframe."""
    before: Edge | None
    """Its start edge; None when it starts at the video's first keyframe."""
    after: Edge | None
    """Its end edge; None when it ends at the video's last keyframe."""

    def edges(self) -> list[Edge]:
        """Its edges to refine."""
        return [edge for edge in (self.before, self.after) if edge is not None]


def find_stays(hits: Sequence[FrameHit], keyframes: Sequence[int], *, track: Track | None = None) -> list[Stay]:
    """One product's stays on screen in one video, from its keyframe hits.

    ``keyframes`` are the frame indexes of all the video's keyframes. A run of consecutive
    keyframes with hits is one stay; runs are joined into one where ``track`` follows the
    product through every keyframe between them (each judged with the nearer run's hit as
    the guide): an occluder over part of the product lowers its photometric agreement below
    what a match needs, often for longer than the gap :func:`join_stays` bridges, while its
    geometry stays in place. A stay then reaches out over the keyframes next to it that
    ``track`` follows its edge hit into (a blurred product entering or leaving keeps its
    geometry in place with too few inliers to match), leaving at least one keyframe between
    two stays. Those keyframes place its edges, and add no hits.
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

    known: dict[tuple[int, FrameHit], bool] = {}

    def follows(index: int, guide: FrameHit) -> bool:
        """``track``'s answer for a keyframe and guide, asked once: joining runs and reaching out from
        them both ask of the keyframe next to a run that did not join."""
        if track is None:
            return False
        if (index, guide) not in known:
            known[index, guide] = track(index, guide)
        return known[index, guide]

    def tracked(earlier: int, later: int) -> bool:
        """Whether ``track`` follows the product through every keyframe between positions ``earlier`` and ``later``."""
        before, after = by_index[order[earlier]], by_index[order[later]]
        return all(
            follows(order[p], before if order[p] - before.index <= after.index - order[p] else after) for p in range(earlier + 1, later)
        )

    joined: list[tuple[int, int]] = []
    for first, last in runs:
        if joined and tracked(joined[-1][1], first):
            joined[-1] = (joined[-1][0], last)
        else:
            joined.append((first, last))

    def reach(position: int, step: int, bound: int, guide: FrameHit) -> int:
        """How far from ``position`` towards ``bound`` (exclusive) ``track`` follows ``guide``, a keyframe at a time."""
        while position + step != bound and follows(order[position + step], guide):
            position += step
        return position

    def edge(absent_position: int, present_position: int, hit: FrameHit) -> Edge | None:
        return Edge(order[absent_position], order[present_position], hit) if 0 <= absent_position < len(order) else None

    stays = []
    reached = -2  # the position of the previous stay's last keyframe
    for number, (first, last) in enumerate(joined):
        first_hit, last_hit = by_index[order[first]], by_index[order[last]]
        stay_hits = tuple(by_index[order[p]] for p in range(first, last + 1) if order[p] in by_index)
        following = joined[number + 1][0] - 1 if number + 1 < len(joined) else len(order)
        start, end = reach(first, -1, reached + 1, first_hit), reach(last, 1, following, last_hit)
        reached = end
        stays.append(Stay(stay_hits, order[start], order[end], edge(start - 1, start, first_hit), edge(end + 1, end, last_hit)))
    return stays


def refine_edges(edges: Iterable[Edge], probe: Probe | None, resolution: int) -> dict[Edge, tuple[int, int, int]]:
    """Bisect each edge with ``probe`` (see :func:`refine_edge`), in the order of the frames they probe.

    Each edge's probes stay between its two keyframes, so taking the edges front to back
    (of one product or several) lets a decoder reach them all in one pass through the
    video instead of going back for each. ``probe`` None leaves every bracket as it is.
    """
    refined: dict[Edge, tuple[int, int, int]] = {}
    for edge in sorted(set(edges), key=lambda e: (min(e.absent, e.present), e.present, e.hit.product_image_id)):
        if probe is None:
            refined[edge] = (edge.absent, edge.present, 0)
        else:
            refined[edge] = refine_edge(edge.absent, edge.present, _guided_by(probe, edge.hit), resolution)
    return refined


def _guided_by(probe: Probe, hit: FrameHit) -> Callable[[int], bool | None]:
    return lambda index: probe(index, hit)


def join_stays(
    stays: Sequence[Stay],
    refined: RefinedEdges,
    *,
    fps: float,
    max_gap: float,
    min_hits: int = 1,
    strong_score: float = 1.0,
) -> list[Segment]:
    """Turn stays with refined edges into appearances.

    A stay starts and ends at its refined edges (at its first or last hit where it has no
    edge there). Stays whose refined absence in between is at most ``max_gap`` seconds (a
    missed detection, a brief occlusion) are one appearance; a longer absence starts a new
    one. An appearance needs ``min_hits`` verified frames, probed ones included, to be
    confirmed — one stray frame is more often a look-alike than a real appearance — unless
    one of its hits scores at least ``strong_score``.
    """

    def edge_at(edge: Edge | None, index: int) -> tuple[float, int]:
        if edge is None:
            return index / fps, 0
        absent, present, found = refined[edge]
        return edge_time(absent, present, fps), found

    segments: list[Segment] = []
    for stay in stays:
        start, found_before = edge_at(stay.before, stay.first)
        end, found_after = edge_at(stay.after, stay.last)
        run = Segment(start, end, stay.hits, found_before + found_after)
        if segments and run.start - segments[-1].end <= max_gap:
            previous = segments.pop()
            run = Segment(previous.start, run.end, previous.hits + run.hits, previous.probed + run.probed)
        segments.append(run)
    return [
        segment
        for segment in segments
        if len(segment.hits) + segment.probed >= min_hits or max(hit.score for hit in segment.hits) >= strong_score
    ]


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
    """Turn one product's keyframe hits in one video into appearances: :func:`find_stays`, their
    edges refined with ``probe`` (:func:`refine_edges`; ``None``: the midpoint between the two
    keyframes), then :func:`join_stays`."""
    stays = find_stays(hits, keyframes, track=track)
    refined = refine_edges((edge for stay in stays for edge in stay.edges()), probe, resolution)
    return join_stays(stays, refined, fps=fps, max_gap=max_gap, min_hits=min_hits, strong_score=strong_score)
