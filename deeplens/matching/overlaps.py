"""One product per place in a frame: the stronger of two overlapping matches wins.

Look-alikes (a shared brand word, logo or template) verify partially against each
other's packaging; where two products' matches cover the same region of a frame, only
one of them can really be there, and it is the one with the stronger evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

# Share of the smaller box covered by the larger one beyond which two matches compete.
OVERLAP_LIMIT = 0.5


def overlap_of_smaller(a: Sequence[int], b: Sequence[int]) -> float:
    """Intersection area over the smaller box's area; boxes are (x, y, w, h)."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / smaller if smaller > 0 else 0.0


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection area over union area; boxes are (x, y, w, h)."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - ix * iy
    return ix * iy / union if union > 0 else 0.0


class Placed(Protocol):
    """A match with a place in a frame, and the evidence for it."""

    @property
    def sku(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def inliers(self) -> int: ...
    @property
    def box(self) -> Sequence[int]: ...


M = TypeVar("M", bound=Placed)


def suppress_overlaps(matches: Sequence[M], limit: float = OVERLAP_LIMIT) -> list[M]:
    """Keep matches strongest first, dropping any that overlaps a kept one by more than ``limit``."""
    kept: list[M] = []
    for match in sorted(matches, key=lambda m: (-m.score, -m.inliers, m.sku)):
        if all(overlap_of_smaller(match.box, other.box) <= limit for other in kept):
            kept.append(match)
    return kept
