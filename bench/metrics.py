"""Accuracy metrics of product-in-video results against generated ground truth.

Pure functions over plain data, so the benchmark and its tests share one definition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Interval = tuple[float, float]


def interval_iou(a: Interval, b: Interval) -> float:
    """Temporal IoU of two closed intervals (seconds)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else float(a == b)


def union_iou(truth: Interval, found: Iterable[Interval]) -> float:
    """IoU of a true interval with the union of the found intervals that overlap it."""
    overlapping = [f for f in found if f[1] >= truth[0] and f[0] <= truth[1]]
    if not overlapping:
        return 0.0
    start, end = min(f[0] for f in overlapping), max(f[1] for f in overlapping)
    covered = sum(max(0.0, min(f[1], truth[1]) - max(f[0], truth[0])) for f in overlapping)
    union = max(end, truth[1]) - min(start, truth[0])
    return covered / union if union > 0 else 1.0


@dataclass
class Presence:
    """Precision / recall / F1 of (video, product) pairs."""

    true_positives: int
    false_positives: int
    false_negatives: int
    false_pairs: list[tuple[str, str]] = field(default_factory=list)
    missed_pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positives + self.false_negatives
        return self.true_positives / real if real else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def presence(truth_pairs: set[tuple[str, str]], found_pairs: set[tuple[str, str]]) -> Presence:
    """Compare the sets of (video, product) pairs."""
    return Presence(
        true_positives=len(truth_pairs & found_pairs),
        false_positives=len(found_pairs - truth_pairs),
        false_negatives=len(truth_pairs - found_pairs),
        false_pairs=sorted(found_pairs - truth_pairs),
        missed_pairs=sorted(truth_pairs - found_pairs),
    )


def segments_per_truth(truth: Interval, found: Iterable[Interval]) -> int:
    """How many found intervals one true appearance is split into (0 = missed)."""
    return sum(1 for f in found if f[1] >= truth[0] and f[0] <= truth[1])


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
