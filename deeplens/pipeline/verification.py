"""Verifying product photos in a frame: geometry, photometric agreement, fused score.

The match step verifies a keyframe's candidates together, so that each product must
also beat the other candidates at its place, and those of the keyframes next to it
(:func:`verify_among_rivals`); the roll-up verifies one product in frames between
keyframes, where a keyframe already matched it, to refine an appearance's edges
(:func:`verify`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np

from deeplens import metrics
from deeplens.errors import NotFound
from deeplens.matching.overlaps import box_iou
from deeplens.matching.scoring import AGREEMENT_FLOOR, fused_score
from deeplens.pipeline.services import Services
from deeplens.vision.appearance import AlignedFrame
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
    """A product photo worth verifying in a keyframe, with its embedding similarity to it."""

    product_image_id: int
    sku: str
    similarity: float
    photo_key: str
    photo_sha256: str


FramePixels = Callable[[], "np.ndarray | None"]
"""Loads a keyframe's pixels on first call (only pairs that pass geometry need them); None when gone."""

PhotoFeatures = Callable[[Collection[int]], Mapping[int, LocalFeatures]]
"""Product photos' local features by photo id; photos it cannot find are left out."""


def verify(
    services: Services, tenant: str, candidate: Candidate, product: LocalFeatures, frame: LocalFeatures, load_pixels: FramePixels
) -> tuple[Verification, float] | None:
    """Geometric verification, photometric agreement and the fused score; None unless it passes.

    A pair whose pixels are gone from the store (deleted meanwhile) cannot be confirmed
    and is not matched.
    """
    verification = verify_pair(product, frame, min_inliers=services.settings.match_min_inliers)
    if verification is None:
        metrics.VERIFICATIONS.labels("no_geometry").inc()
        return None
    score = _confirm(services, tenant, candidate, verification, load_pixels)
    metrics.VERIFICATIONS.labels("confirmed" if score is not None else "unconfirmed").inc()
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
    aligned = AlignedFrame(template, pixels, verification.homography)
    score = fused_score(verification.score, aligned.agreement(verification.inlier_points[:, :2]))
    if score < services.settings.match_threshold:
        return None
    # The inliers' hull can be a part that two designs share (a text panel in one font on one
    # packaging template), which agrees however different the rest is; the product must
    # look like itself over all of its outline that the frame shows as well.
    if aligned.agreement(verification.outline) < AGREEMENT_FLOOR:
        return None
    return score


def verify_among_rivals(
    services: Services,
    tenant: str,
    candidates: list[Candidate],
    photos: PhotoFeatures,
    frame: LocalFeatures,
    load_pixels: FramePixels,
    *,
    neighbours: Callable[[], list[Candidate]] = list,
) -> dict[str, tuple[Candidate, Verification, float]]:
    """The best verified match of each product among a frame's candidates, by sku.

    Every candidate's geometry is measured (down to :data:`RIVAL_MIN_INLIERS`), and a
    product is matched only if it explains its place clearly better than every other
    product there: the most inliers any other product has at its place must stay below
    ``DEEPLENS_MATCH_PRODUCT_RATIO`` times its own. This is Lowe's ratio test for whole
    products. A product that is not in the catalog but is built on the same packaging
    template as several that are (the same fine print, barcode and seal in the same
    places) gives each of them a sane homography on what they share, with similar
    inlier counts; the product itself beats a look-alike by its own artwork
    (bench/foreign_videos.py).

    The rivals are the frame's other candidates and, once a product is about to be
    matched, the candidates of the keyframes next to it (``neighbours``, asked for once):
    the vote that picks candidates ignores what products share and varies from keyframe
    to keyframe, so a look-alike that is a candidate a second later is often missing here.
    """
    geometry = _geometry(candidates, photos, frame)
    rivals = [(candidate.sku, verification) for candidate, verification in geometry]
    ratio = services.settings.match_product_ratio
    neighbours_verified = False
    best: dict[str, tuple[Candidate, Verification, float]] = {}
    for candidate, verification in geometry:
        if _outdone(candidate.sku, verification, rivals, ratio):
            continue
        score = _confirm(services, tenant, candidate, verification, load_pixels)
        if score is None:
            continue
        if not neighbours_verified:
            # Each costs a verification, so they are verified only where a product would
            # otherwise be matched.
            looked_at = {c.product_image_id for c in candidates}
            more = list({c.product_image_id: c for c in neighbours() if c.product_image_id not in looked_at}.values())
            rivals += [(other.sku, v) for other, v in _geometry(more, photos, frame)]
            neighbours_verified = True
            if _outdone(candidate.sku, verification, rivals, ratio):
                continue
        if candidate.sku not in best or _better(candidate, score, best[candidate.sku]):
            best[candidate.sku] = (candidate, verification, score)
    return best


def _better(candidate: Candidate, score: float, held: tuple[Candidate, Verification, float]) -> bool:
    """Whether ``candidate`` fits better than the product's photo ``held``; an equal score goes
    to the photo whose key sorts first.

    Photos can tie exactly (a colour-shifted copy of the front fits the same inliers, and the
    photometric agreement is blind to per-channel gain and offset). Candidate order follows the
    vote, which any catalog change may reorder, so taking the first would let upload order
    pick the photo, the box and the evidence.
    """
    held_candidate, _, held_score = held
    return score > held_score or (score == held_score and candidate.photo_key < held_candidate.photo_key)


def _geometry(candidates: list[Candidate], photos: PhotoFeatures, frame: LocalFeatures) -> list[tuple[Candidate, Verification]]:
    """Each candidate's geometry in ``frame``, where it has at least :data:`RIVAL_MIN_INLIERS`."""
    features = photos([candidate.product_image_id for candidate in candidates])
    out = []
    for candidate in candidates:
        if candidate.product_image_id in features:
            verification = verify_pair(features[candidate.product_image_id], frame, min_inliers=RIVAL_MIN_INLIERS)
            if verification is not None:
                out.append((candidate, verification))
    return out


def _outdone(sku: str, verification: Verification, rivals: list[tuple[str, Verification]], ratio: float) -> bool:
    """Whether another product has at least ``ratio`` times ``sku``'s best inliers at ``verification``'s place."""
    there = [(other, v.inliers) for other, v in rivals if box_iou(v.box, verification.box) > SAME_PLACE_IOU]
    own = max((inliers for other, inliers in there if other == sku), default=verification.inliers)
    return max((inliers for other, inliers in there if other != sku), default=0) >= ratio * own


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
