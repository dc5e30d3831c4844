"""Rolling keyframe hits up into appearances, with edges refined by probing frames in between."""

from collections.abc import Sequence

from deeplens.matching.appearances import (
    FrameHit,
    Segment,
    edge_time,
    find_appearances,
    refine_edge,
)

FPS = 10.0
KEYFRAMES = list(range(0, 201, 10))  # a keyframe every second for 20 s


def hit(index: int, score: float = 0.5) -> FrameHit:
    return FrameHit(frame_id=1000 + index, index=index, t=index / FPS, score=score, box=(0, 0, 1, 1), product_image_id=1)


class Truth:
    """A fake probe: the product is on screen in the given frame ranges (inclusive); records what it was asked."""

    def __init__(self, *stays: tuple[int, int]) -> None:
        self.stays = stays
        self.asked: list[int] = []

    def visible(self, index: int) -> bool:
        return any(first <= index <= last for first, last in self.stays)

    def __call__(self, index: int, guide: FrameHit) -> bool:
        self.asked.append(index)
        return self.visible(index)

    def hits(self) -> list[FrameHit]:
        return [hit(k) for k in KEYFRAMES if self.visible(k)]


def appearances(hits: Sequence[FrameHit], probe, **kw) -> list[Segment]:  # type: ignore[no-untyped-def]
    settings = {"fps": FPS, "probe": probe, "resolution": 1, "max_gap": 0.5, "min_hits": 2, "strong_score": 0.9} | kw
    return find_appearances(hits, KEYFRAMES, **settings)


def test_bisection_finds_the_first_visible_frame_in_log2_probes():
    truth = Truth((37, 200))
    assert refine_edge(30, 40, lambda index: truth(index, hit(40)), 1) == (36, 37, 1)
    assert truth.asked == [35, 37, 36]


def test_bisection_works_towards_an_end_edge_too():
    truth = Truth((0, 44))
    absent, present, _ = refine_edge(50, 40, truth.visible, 1)
    assert (absent, present) == (45, 44)


def test_bisection_stops_at_the_resolution():
    truth = Truth((37, 200))
    absent, present, _ = refine_edge(30, 40, truth.visible, 3)
    assert absent < 37 <= present and present - absent <= 3


def test_bisection_stops_when_the_probe_cannot_tell():
    assert refine_edge(30, 40, lambda index: None, 1) == (30, 40, 0)


def test_an_edge_is_the_visible_frame_once_adjacent_else_the_midpoint():
    assert edge_time(36, 37, FPS) == 3.7
    assert edge_time(45, 44, FPS) == 4.4
    assert edge_time(30, 40, FPS) == 3.5


def test_a_stay_between_keyframes_is_reported_to_the_frame():
    truth = Truth((37, 94))
    [segment] = appearances(truth.hits(), truth)
    assert (segment.start, segment.end) == (3.7, 9.4)
    assert [h.index for h in segment.hits] == [40, 50, 60, 70, 80, 90]


def test_each_edge_costs_a_few_probes_not_a_frame_each():
    truth = Truth((37, 94))
    appearances(truth.hits(), truth)
    assert len(truth.asked) <= 2 * 4


def test_without_a_probe_edges_are_midpoints_between_keyframes():
    truth = Truth((37, 94))
    [segment] = appearances(truth.hits(), None)
    assert (segment.start, segment.end) == (3.5, 9.5)


def test_an_appearance_from_the_first_keyframe_starts_there_without_probing():
    truth = Truth((0, 25))
    [segment] = appearances(truth.hits(), truth)
    assert segment.start == 0.0 and min(truth.asked) > 20


def test_a_product_that_leaves_and_returns_gives_two_appearances():
    truth = Truth((37, 94), (112, 160))
    first, second = appearances(truth.hits(), truth)
    assert (first.start, first.end, second.start, second.end) == (3.7, 9.4, 11.2, 16.0)


def test_a_missed_keyframe_inside_a_stay_is_bridged_when_the_frames_around_it_show_the_product():
    truth = Truth((37, 94))
    hits = [h for h in truth.hits() if h.index != 60]  # e.g. an occluder covered it in that keyframe
    [segment] = appearances(hits, truth)
    assert (segment.start, segment.end) == (3.7, 9.4)


def test_an_absence_longer_than_the_gap_splits_even_when_keyframes_straddle_it():
    truth = Truth((37, 92), (99, 160))  # gone 0.6 s, both edges between the same two keyframes' neighbours
    hits = [h for h in truth.hits() if h.index != 90]
    segments = appearances(hits, truth, max_gap=0.5)
    assert len(segments) == 2


def test_a_single_keyframe_is_confirmed_by_probed_frames_around_it():
    truth = Truth((75, 88))
    [segment] = appearances(truth.hits(), truth)
    assert len(segment.hits) == 1 and segment.probed >= 1
    assert (segment.start, segment.end) == (7.5, 8.8)


def test_a_lone_weak_hit_that_the_frames_around_it_do_not_confirm_is_dropped():
    probe = Truth()  # nothing is really there: a look-alike verified in one keyframe only
    assert appearances([hit(80)], probe) == []


def test_a_lone_strong_hit_is_kept():
    [segment] = appearances([hit(80, score=0.95)], Truth())
    assert len(segment.hits) == 1


def test_the_best_hit_is_the_highest_score_earliest_on_ties():
    hits = [hit(40, 0.6), hit(50, 0.8), hit(60, 0.8)]
    [segment] = appearances(hits, Truth((40, 60)))
    assert segment.best.index == 50


class Still:
    """A fake track: the product's geometry is in place in the given keyframes; records the guides it was asked with."""

    def __init__(self, *indexes: int) -> None:
        self.indexes = set(indexes)
        self.guides: dict[int, int] = {}

    def __call__(self, index: int, guide: FrameHit) -> bool:
        self.guides[index] = guide.index
        return index in self.indexes


def test_a_stay_is_carried_through_keyframes_where_its_product_is_tracked_however_long_the_absence_of_matches():
    truth = Truth((37, 59), (81, 140))  # no match from 6 s to 8 s: an occluder over part of the product
    [segment] = appearances(truth.hits(), truth, track=Still(60, 70, 80))
    assert (segment.start, segment.end) == (3.7, 14.0)
    assert [h.index for h in segment.hits] == [40, 50, 90, 100, 110, 120, 130, 140]


def test_the_edges_inside_a_tracked_stay_are_not_probed():
    truth = Truth((37, 59), (81, 140))
    appearances(truth.hits(), truth, track=Still(60, 70, 80))
    assert all(index < 40 or index > 140 for index in truth.asked)


def test_a_stay_is_not_carried_where_one_keyframe_between_does_not_track_its_product():
    truth = Truth((37, 59), (81, 140))
    segments = appearances(truth.hits(), truth, track=Still(60, 80))
    # Each stay still reaches out to the keyframe next to it that tracks the product.
    assert [(s.start, s.end) for s in segments] == [(3.7, 6.0), (8.0, 14.0)]


def test_each_keyframe_between_two_stays_is_tracked_with_the_nearer_stays_hit_as_its_guide():
    truth = Truth((37, 59), (81, 140))
    still = Still(60, 70, 80)
    appearances(truth.hits(), truth, track=still)
    assert {index: still.guides[index] for index in (60, 70, 80)} == {60: 50, 70: 50, 80: 90}


def test_a_stay_reaches_out_to_the_keyframes_next_to_it_where_its_product_is_tracked():
    truth = Truth((75, 128))  # what a probe verifies: the product is blurred as it enters and as it leaves
    [segment] = appearances(truth.hits(), truth, track=Still(60, 70, 130, 140))
    assert (segment.start, segment.end) == (6.0, 14.0)
    assert [h.index for h in segment.hits] == [80, 90, 100, 110, 120]


def test_reaching_out_adds_no_hits_so_a_lone_weak_hit_is_still_dropped():
    truth = Truth((100, 100))
    assert appearances(truth.hits(), truth, track=Still(90, 110)) == []


class StillWith:
    """A fake track that follows the product into a keyframe only with the given guide (keyframe index → guide index)."""

    def __init__(self, guides: dict[int, int]) -> None:
        self.guides = guides

    def __call__(self, index: int, guide: FrameHit) -> bool:
        return self.guides.get(index) == guide.index


def test_two_stays_reaching_out_towards_each_other_keep_a_keyframe_between_them():
    truth = Truth((37, 59), (91, 140))
    # The first stay's last hit is tracked up to the second stay's first; the keyframe before that one stays between them.
    segments = appearances(truth.hits(), truth, track=StillWith({60: 50, 70: 50, 80: 50, 90: 50}))
    assert [(s.start, s.end) for s in segments] == [(3.7, 8.0), (9.1, 14.0)]


def test_the_track_is_asked_once_of_each_keyframe_and_guide():
    truth = Truth((37, 59), (81, 140))
    asked: list[tuple[int, int]] = []

    def track(index: int, guide: FrameHit) -> bool:
        asked.append((index, guide.index))
        return index in (60, 80)

    appearances(truth.hits(), truth, track=track)
    assert (60, 50) in asked and len(asked) == len(set(asked))
