"""One fused, bounded score per verified (frame, product) pair.

Geometry is the evidence a user can check (inliers of a sane homography covering the
product), so it carries most of the weight; embedding similarity separates near-ties.
The single threshold ``DEEPLENS_MATCH_THRESHOLD`` applies to this score.
"""

from __future__ import annotations

GEOMETRY_WEIGHT = 0.8
# Cosine similarities of MobileNet embeddings between unrelated images sit around 0.2-0.4.
SIMILARITY_FLOOR = 0.2
SIMILARITY_CEIL = 0.8


def fused_score(geometry: float, similarity: float) -> float:
    """Combine a verification score in [0, 1) and a cosine similarity into [0, 1]."""
    appearance = min(1.0, max(0.0, (similarity - SIMILARITY_FLOOR) / (SIMILARITY_CEIL - SIMILARITY_FLOOR)))
    return GEOMETRY_WEIGHT * geometry + (1.0 - GEOMETRY_WEIGHT) * appearance
