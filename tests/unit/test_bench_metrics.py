"""The accuracy benchmark's metrics."""

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from metrics import interval_iou, percentile, presence, segments_per_truth, union_iou

from deeplens.matching.overlaps import box_iou


def test_identical_intervals_have_iou_one():
    assert interval_iou((1.0, 3.0), (1.0, 3.0)) == 1.0


def test_half_overlapping_intervals_have_iou_one_third():
    assert math.isclose(interval_iou((0.0, 2.0), (1.0, 3.0)), 1 / 3)


def test_a_split_appearance_scores_the_union_of_its_pieces():
    assert math.isclose(union_iou((0.0, 4.0), [(0.0, 1.5), (2.5, 4.0)]), 3.0 / 4.0)


def test_a_missed_appearance_has_iou_zero():
    assert union_iou((0.0, 4.0), [(5.0, 6.0)]) == 0.0


def test_segments_count_the_pieces_overlapping_the_truth():
    assert segments_per_truth((0.0, 4.0), [(0.0, 1.5), (2.5, 4.0), (9.0, 10.0)]) == 2


def test_box_iou_of_a_box_with_its_half_is_one_half():
    assert math.isclose(box_iou((0, 0, 10, 10), (0, 0, 5, 10)), 0.5)


def test_presence_counts_false_and_missed_pairs():
    result = presence({("v", "a"), ("v", "b")}, {("v", "a"), ("v", "c")})
    assert (result.precision, result.recall, result.false_pairs, result.missed_pairs) == (0.5, 0.5, [("v", "c")], [("v", "b")])


def test_no_findings_on_no_truth_is_perfect_precision():
    assert presence(set(), set()).precision == 1.0


def test_percentile_interpolates():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
