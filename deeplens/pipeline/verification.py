"""Verifying product photos in a frame: geometry, photometric agreement, fused score.

The match step verifies a keyframe's candidates together, so that each product must
also beat the other candidates at its place (:func:`verify_among_rivals`); the roll-up
verifies one product in frames between keyframes, where a keyframe already matched it,
to refine an appearance's edges (:func:`verify`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deeplens.errors import NotFound
from deeplens.matching.overlaps import box_iou
from deeplens.matching.scoring import fused_score
from deeplens.pipeline.services import Services
from deeplens.vision.appearance import appearance_agreement
from deeplens.vision.images import decode_image
from deeplens.vision.local_features import LocalFeatures
from deeplens.vision.verify import Verification, verify_pair

LOG = logging.getLogger(__name__)
# Inliers at which another product's geometry counts as a rival for a place: well below
# what a match needs, so a rival that shares only part of the design still counts.
RIVAL_MIN_INLIERS = 8
# Outlines overlapping this much (intersection over union) claim one place. Not a share of
# the smaller box: a small product in front of a large one is in a place of its own.
SAME_PLACE_IOU = 0.3


@dataclass(frozen=True)
class Candidate:
    """A product photo / keyframe pair worth verifying, with its embedding similarity."""

    product_image_id: int
    sku: str
    frame_id: int  # -1 until paired with a frame
    similarity: float
    photo_key: str
    photo_sha256: str


FramePixels = Callable[[], "np.ndarray | None"]
"""Loads a keyframe's pixels on first call (only pairs that pass geometry need them); None when gone."""


def verify(
    services: Services, tenant: str, candidate: Candidate, product: LocalFeatures, frame: LocalFeatures, load_pixels: FramePixels
) -> tuple[Verification, float] | None:
    """Geometric verification, photometric agreement and the fused score; None unless it passes.

    A pair whose pixels are gone from the store (deleted meanwhile) cannot be confirmed
    and is not matched.
    """
    verification = verify_pair(product, frame, min_inliers=services.settings.match_min_inliers)
    if verification is None:
        return None
    score = _confirm(services, tenant, candidate, verification, load_pixels)
    return None if score is None else (verification, score)


def _confirm(services: Services, tenant: str, candidate: Candidate, verification: Verification, load_pixels: FramePixels) -> float | None:
    """The fused score of a geometric verification, when it has the inliers and the score a match needs."""
    if verification.inliers < services.settings.match_min_inliers:
        return None
    try:
        template = services.product_templates.get(
            services.store, tenant, candidate.product_image_id, candidate.photo_key, candidate.photo_sha256,
            max_bytes=services.settings.max_image_bytes,
        )
    except NotFound:
        LOG.warning("product photo %s is gone from the store; not matched", candidate.photo_key)
        return None
    pixels = load_pixels()
    if pixels is None:
        return None
    # Features were extracted from these very stored images (in their pixel coordinates), so
    # the homography and inliers apply to the decoded pixels as they are.
    agreement = appearance_agreement(template, pixels, verification.homography, verification.inlier_points[:, :2])
    score = fused_score(verification.score, agreement)
    if score < services.settings.match_threshold:
        return None
    return score


def verify_among_rivals(
    services: Services,
    tenant: str,
    candidates: list[Candidate],
    products: dict[int, LocalFeatures],
    frame: LocalFeatures,
    load_pixels: FramePixels,
    *,
    keep: Callable[[Candidate], bool] = lambda candidate: True,
) -> dict[str, tuple[Candidate, Verification, float]]:
    """The best verified match of each product among a frame's candidates, by sku.

    Every candidate's geometry is measured (down to :data:`RIVAL_MIN_INLIERS`), and a
    product is matched only if it explains its place clearly better than every other
    candidate product: the most inliers any other product has there must stay below
    ``DEEPLENS_MATCH_PRODUCT_RATIO`` times its own. This is Lowe's ratio test for whole
    products. A product that is not in the catalog but is built on the same packaging
    template as several that are (the same fine print, barcode and seal in the same
    places) gives each of them a sane homography on what they share, with similar
    inlier counts; the product itself beats a look-alike by its own artwork
    (bench/foreign_videos.py). Only candidates that ``keep`` accepts can be matched; the
    others still count as rivals.
    """
    geometry: list[tuple[Candidate, Verification]] = []
    for candidate in candidates:
        features = products.get(candidate.product_image_id)
        if features is not None:
            verification = verify_pair(features, frame, min_inliers=RIVAL_MIN_INLIERS)
            if verification is not None:
                geometry.append((candidate, verification))
    best: dict[str, tuple[Candidate, Verification, float]] = {}
    for candidate, verification in geometry:
        if not keep(candidate):
            continue
        there = [(other, v.inliers) for other, v in geometry if box_iou(v.box, verification.box) > SAME_PLACE_IOU]
        own = max(inliers for other, inliers in there if other.sku == candidate.sku)
        rival = max((inliers for other, inliers in there if other.sku != candidate.sku), default=0)
        if rival >= services.settings.match_product_ratio * own:
            continue
        score = _confirm(services, tenant, candidate, verification, load_pixels)
        if score is not None and (candidate.sku not in best or score > best[candidate.sku][2]):
            best[candidate.sku] = (candidate, verification, score)
    return best


def frame_pixels(services: Services, object_key: str) -> FramePixels:
    """A loader of one keyframe's pixels, reading the store at most once."""

    @functools.cache
    def load() -> np.ndarray | None:
        try:
            return decode_image(services.store.get(object_key))
        except NotFound:
            LOG.warning("keyframe %s is gone from the store; not matched", object_key)
            return None

    return load
