"""One fused, bounded score per verified (frame, product) pair.

Two independent kinds of evidence, equally weighted: geometry (inliers of a sane
homography covering the product: *where* it is) and photometric agreement (the frame,
aligned by that homography, looks like the product photo: *whether* it is the
product). Packaging designs share a lot of structure (brand word, logo, fine print,
barcode), so geometry alone cannot tell a look-alike from the product; the aligned
colours can. Whole-frame embedding similarity is not used: on cluttered frames it
hardly separates the product from the rest of the catalog.

Calibration on the benchmark (seeds 0 and 1, every verified frame/product pair, best
photo per product): true pairs score 0.51-0.98 (1st percentile 0.61), false ones at
most 0.55, and 0.40 or less once same-place look-alikes are left to overlap
suppression; the distractor that fooled geometry alone scores at most 0.32. The single
threshold ``DEEPLENS_MATCH_THRESHOLD`` (default 0.45) applies to this score.
"""

from __future__ import annotations

GEOMETRY_WEIGHT = 0.5
# Agreement (per-channel normalised cross-correlation inside the inlier hull) of
# different designs that share parts sits at 0.1-0.55; of the product itself at 0.55-0.95.
AGREEMENT_FLOOR = 0.5
AGREEMENT_CEIL = 0.8


def fused_score(geometry: float, agreement: float) -> float:
    """Combine a verification score in [0, 1) and a photometric agreement in [-1, 1] into [0, 1]."""
    appearance = min(1.0, max(0.0, (agreement - AGREEMENT_FLOOR) / (AGREEMENT_CEIL - AGREEMENT_FLOOR)))
    return GEOMETRY_WEIGHT * geometry + (1.0 - GEOMETRY_WEIGHT) * appearance
