"""Recording a keyframe's decision: its verified matches, replacing every earlier one, with what it saw."""

from __future__ import annotations

import functools

import numpy as np

from deeplens.db.catalog import get_frame
from deeplens.db.matches import DecisionInputs, FrameMatch, decided_with_newer_catalog, lock_frame, mark_decided_with, replace_frame_matches
from deeplens.db.removal import removed_since
from deeplens.errors import CatalogChanged
from deeplens.matching.catalog_index import Generation
from deeplens.matching.overlaps import suppress_overlaps
from deeplens.pipeline.candidates import Neighbours, StoredPhotoFeatures
from deeplens.pipeline.services import Services
from deeplens.pipeline.verification import Candidate, FramePixels, frame_pixels, verify_among_rivals
from deeplens.vision.local_features import LocalFeatures
from deeplens.vision.verify import Verification


def _frame_match(candidate: Candidate, verification: Verification, score: float) -> FrameMatch:
    return FrameMatch(candidate.sku, candidate.product_image_id, verification.inliers, candidate.similarity, score,
                      verification.box, tuple(float(v) for v in verification.corners.reshape(-1)))


def match_records(found: dict[str, tuple[Candidate, Verification, float]]) -> dict[str, FrameMatch]:
    """Match records of what :func:`verify_among_rivals` verified, by sku."""
    return {sku: _frame_match(candidate, verification, score) for sku, (candidate, verification, score) in found.items()}


def decide(
    services: Services,
    tenant: str,
    frame_id: int,
    candidates: list[Candidate],
    photos: StoredPhotoFeatures,
    features: LocalFeatures,
    pixels: FramePixels,
    neighbours: Neighbours,
    generation: Generation,
) -> set[tuple[str, str]]:
    """Decide a keyframe's matches among ``candidates`` and its neighbours' candidates, and
    record the decision; returns the changed (video, product) pairs."""
    found = verify_among_rivals(services, tenant, candidates, photos, features, pixels, neighbours=neighbours)
    return replace_decision(services, tenant, frame_id, match_records(found), generation, neighbours.decision_inputs(candidates))


def replace_decision(
    services: Services, tenant: str, frame_id: int, found: dict[str, FrameMatch], generation: Generation, inputs: DecisionInputs
) -> set[tuple[str, str]]:
    """Make ``found`` a keyframe's matches, as decided with the catalog ``generation`` from
    ``inputs``; returns the changed (video, product) pairs.

    A decision is whole: it replaces every earlier match of the keyframe, since it saw every
    candidate the catalog gives the keyframe now. Two calls holding different catalog
    snapshots may decide one keyframe in either order: a decision made with an older catalog
    than the keyframe's last one is dropped, and one that saw a photo removed since is
    :class:`~deeplens.errors.CatalogChanged` (the removal decides the keyframe again, and
    so does the step's retry).
    """
    with services.db.transaction() as conn:
        frame = get_frame(conn, tenant, frame_id)
        if frame is None:
            return set()
        lock_frame(conn, tenant, frame_id)
        if decided_with_newer_catalog(conn, tenant, frame_id, generation):
            return set()
        changed = replace_frame_matches(conn, tenant, frame, suppress_overlaps(list(found.values())))
        mark_decided_with(conn, tenant, frame_id, generation, inputs)
        # Last, after the keyframe's rows, in the order a rematch takes them too.
        if removed_since(conn, tenant, generation, sorted(inputs.candidates | (inputs.rivals or frozenset()))):
            raise CatalogChanged(f"a photo keyframe {frame_id} was decided with was removed from the catalog")
    return {(frame["video_id"], sku) for sku in changed}


def stored_frame_pixels(services: Services, tenant: str, frame_id: int) -> FramePixels:
    """Like :func:`frame_pixels`, looking the keyframe's object key up first."""

    @functools.cache
    def load() -> np.ndarray | None:
        with services.db.pool.connection() as conn:
            frame = get_frame(conn, tenant, frame_id)
        return None if frame is None else frame_pixels(services, frame["object_key"])()

    return load
