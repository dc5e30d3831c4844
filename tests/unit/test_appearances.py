"""Rolling frame matches up into appearances."""

from deeplens.matching.appearances import FrameHit, segment_hits, widen_to_neighbours


def hit(t: float, score: float = 0.5, frame_id: int | None = None) -> FrameHit:
    return FrameHit(frame_id=frame_id if frame_id is not None else int(t * 100), t=t, score=score, box=(0, 0, 1, 1), product_image_id=1)


def test_consecutive_hits_form_one_appearance_from_first_to_last():
    [segment] = segment_hits([hit(1.0), hit(1.5), hit(2.0)], max_gap=1.0)
    assert (segment.start, segment.end, len(segment.hits)) == (1.0, 2.0, 3)


def test_a_short_gap_is_bridged():
    assert len(segment_hits([hit(1.0), hit(1.9)], max_gap=1.0)) == 1


def test_a_product_that_leaves_for_longer_than_the_gap_starts_a_new_appearance():
    segments = segment_hits([hit(1.0), hit(1.5), hit(4.0), hit(4.5)], max_gap=1.0)
    assert [(s.start, s.end) for s in segments] == [(1.0, 1.5), (4.0, 4.5)]


def test_hits_out_of_order_are_sorted_by_time():
    [segment] = segment_hits([hit(2.0), hit(1.0), hit(1.5)], max_gap=1.0)
    assert segment.start == 1.0


def test_best_frame_is_the_highest_scoring_hit():
    [segment] = segment_hits([hit(1.0, 0.4), hit(1.5, 0.9, frame_id=7), hit(2.0, 0.6)], max_gap=1.0)
    assert segment.best.frame_id == 7


def test_runs_shorter_than_the_minimum_are_dropped():
    segments = segment_hits([hit(1.0), hit(5.0), hit(5.5)], max_gap=1.0, min_hits=2)
    assert [(s.start, s.end) for s in segments] == [(5.0, 5.5)]


def test_a_single_weak_hit_is_not_an_appearance_but_a_single_strong_one_is():
    weak = segment_hits([hit(1.0, 0.4)], max_gap=1.0, min_hits=2, strong_score=0.6)
    strong = segment_hits([hit(1.0, 0.7)], max_gap=1.0, min_hits=2, strong_score=0.6)
    assert (len(weak), len(strong)) == (0, 1)


def test_edges_move_halfway_to_the_neighbouring_keyframes_without_the_product():
    [segment] = segment_hits([hit(1.0), hit(1.5)], max_gap=1.0)
    widened = widen_to_neighbours(segment, [0.0, 0.5, 1.0, 1.5, 2.0])
    assert (widened.start, widened.end) == (0.75, 1.75)


def test_edges_at_the_ends_of_the_video_stay_put():
    [segment] = segment_hits([hit(0.0), hit(0.5)], max_gap=1.0)
    assert widen_to_neighbours(segment, [0.0, 0.5]) == segment
