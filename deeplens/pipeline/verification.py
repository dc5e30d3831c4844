"""Verifying one product photo in one frame: geometry, photometric agreement, fused score.

Shared by the match step (keyframes against candidate photos) and the roll-up (frames
between keyframes, probed to refine an appearance's edges).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deeplens.errors import NotFound
from deeplens.matching.scoring import fused_score
from deeplens.pipeline.services import Services
from deeplens.vision.appearance import appearance_agreement
from deeplens.vision.images import decode_image
from deeplens.vision.local_features import LocalFeatures
from deeplens.vision.verify import Verification, verify_pair

LOG = logging.getLogger(__name__)


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
    return verification, score


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
