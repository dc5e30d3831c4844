"""The product direction: new product photos against the keyframes indexed before them, in one
pass for every photo waiting, within a budget of keyframes a call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from deeplens.db.local_features import (
    IndexedFrame,
    WaitingPhoto,
    claim_waiting_photos,
    frames_indexed_before,
    mark_earlier_frames_matched,
    record_earlier_frames_progress,
    waiting_photo_ids,
)
from deeplens.pipeline.candidates import KeyframeCandidates, Neighbours, StoredPhotoFeatures, photo_ids
from deeplens.pipeline.decisions import decide, stored_frame_pixels
from deeplens.pipeline.services import Services
from deeplens.pipeline.verification import Candidate
from deeplens.vision.local_features import LocalFeatures, from_bytes
from eventing import types

LOG = logging.getLogger(__name__)
# Earlier keyframes the product direction reads from the database at a time.
_FRAME_PAGE = 64


@dataclass(frozen=True)
class UnfinishedPass:
    """Photos whose pass over earlier keyframes stopped at its budget, and where it stopped."""

    photo_ids: list[int]
    after_frame_id: int


def match_products(
    tenant: str, indexed: types.ImageIndexed, services: Services
) -> tuple[set[tuple[str, str]], UnfinishedPass | None]:
    """Match the keyframes indexed before new product photos against every photo still waiting.

    Whichever event comes first takes every waiting photo, so photos uploaded together
    share one pass over the earlier keyframes and the events of the rest find nothing to
    do. Returns the changed (video, product) pairs and, where the pass did not finish
    within ``DEEPLENS_MATCH_PASS_FRAMES`` keyframes, where a follow-up event goes on.
    """
    with services.db.transaction() as claim:
        photos = claim_waiting_photos(claim, tenant)
        if not photos:
            return set(), None
        ids = [photo.image_id for photo in photos]
        pairs, stopped_after = _match_earlier_frames(tenant, indexed.model, photos, services)
        if stopped_after is None:
            mark_earlier_frames_matched(claim, tenant, ids)
            return pairs, None
        record_earlier_frames_progress(claim, tenant, ids, stopped_after)
    return pairs, UnfinishedPass(ids, stopped_after)


def _match_earlier_frames(
    tenant: str, model: str, photos: list[WaitingPhoto], services: Services
) -> tuple[set[tuple[str, str]], int | None]:
    """Give each earlier keyframe the candidates its own match step would give it now, among ``photos``.

    The catalog index holds the new photos by now, so each keyframe is voted exactly as a
    keyframe arriving after them would be: the same candidates, the same rivals. Where
    they differ from what its last decision saw, or hold a waiting photo, the keyframe is
    decided again as its own match step would decide it now (:func:`_may_decide_otherwise`),
    so a new photo can also take a place from a product matched there before (it explains
    the place as well or better, or it shares what the product was recognised by). The cost
    is one vote per earlier keyframe for the whole batch of photos, not one verification per
    photo and keyframe.

    Returns the changed (video, product) pairs and the id of the last keyframe looked at
    when the pass stopped at its budget of keyframes (None when it finished).
    """
    # A keyframe whose write saw a photo's catalog generation was matched against the photo
    # by its own match step, which began after that write; only the others need this pass.
    generations = {photo.image_id: photo.generation for photo in photos}
    through = {photo.image_id: photo.through for photo in photos}
    budget = services.settings.match_pass_frames
    started = time.perf_counter()
    pairs: set[tuple[str, str]] = set()
    scanned = verified = 0
    after_id = first_id = min(through.values())
    with services.db.pool.connection() as conn:
        if not frames_indexed_before(conn, tenant, model, max(generations.values()), after_id=after_id, limit=1):
            return pairs, None  # no earlier keyframe (a catalog uploaded before any video): nothing to vote
        index = services.catalog_indexes.get(conn, tenant)
        # Photos indexed since this pass claimed its own: a later pass checks them, as waiting photos.
        later = frozenset(waiting_photo_ids(conn, tenant) - generations.keys())
    finished = False
    while not finished and scanned < budget:
        asked = min(_FRAME_PAGE, budget - scanned)
        with services.db.pool.connection() as conn:
            page = frames_indexed_before(conn, tenant, model, max(generations.values()), after_id=after_id, limit=asked)
        finished = len(page) < asked
        # Photos recur across neighbouring keyframes; held per page, not per pass, since
        # rivals can be any catalog photo (0.2 MB each).
        photo_features = StoredPhotoFeatures(services, tenant)
        keyframes = KeyframeCandidates(services, tenant, model, index)
        voted: list[tuple[IndexedFrame, LocalFeatures, list[Candidate]]] = []
        for frame in page:
            scanned += 1
            features = from_bytes(frame.features)
            with services.db.pool.connection() as conn:
                candidates = keyframes.vote(conn, frame.frame_id, features, frame.embedding) or []
            voted.append((frame, features, candidates))
        for frame, features, candidates in voted:
            neighbours = Neighbours(keyframes, frame.video_id, frame.frame_index)
            if not _may_decide_otherwise(frame, candidates, neighbours, _waiting_in(frame, generations, through), later):
                continue
            verified += len(candidates)
            pairs.update(decide(
                services, tenant, frame.frame_id, candidates, photo_features, features,
                stored_frame_pixels(services, tenant, frame.frame_id), neighbours, index.generation,
            ))
        if page:
            after_id = page[-1].frame_id
    if scanned:
        LOG.info("matched %d earlier keyframes (ids after %d, up to %d) against %d new product photo(s) in %.1f s: %d pairs verified, "
                 "%d (video, product) pairs changed%s", scanned, first_id, after_id, len(photos), time.perf_counter() - started,
                 verified, len(pairs), "" if finished else "; the rest follows in a new event")
    return pairs, None if finished else after_id


def _may_decide_otherwise(
    frame: IndexedFrame,
    candidates: list[Candidate],
    neighbours: Neighbours,
    waiting: Callable[[Candidate], bool],
    later: frozenset[int],
) -> bool:
    """Whether deciding ``frame`` now could differ from its last decision.

    A decision depends on the photos it verified and on their features: the keyframe's
    candidates and, where a product was about to be matched, its neighbours' candidates as
    rivals. So it stands unless its candidates changed (a new photo joined them, or took a
    product's votes: the vote drops what two products share) or hold a photo with new
    features, or a rival that could matter changed. Rivals only take places, except that
    another photo of a product counts for it: a rival gone, or one with new features, may
    change the decision; a new one only where the keyframe holds a match, or where it is a
    photo of one of the keyframe's candidate products. Changes made by photos ``later``
    passes check are left to them: each would decide the keyframe again.
    """
    decided = frame.decided
    own = photo_ids(candidates)
    if decided is None or (own ^ decided.candidates) - later or any(map(waiting, candidates)):
        return True
    if decided.rivals is None:
        return False
    nearby = neighbours.candidates()
    if decided.rivals - photo_ids(nearby) - later or any(waiting(c) for c in nearby if c.product_image_id in decided.rivals):
        return True
    gained = [c for c in nearby if c.product_image_id not in decided.rivals and c.product_image_id not in later]
    own_products = {candidate.sku for candidate in candidates}
    return bool(gained) and (frame.matched or any(c.sku in own_products for c in gained))


def _waiting_in(frame: IndexedFrame, generations: dict[int, int], through: dict[int, int]) -> Callable[[Candidate], bool]:
    """Whether a candidate is a waiting photo that ``frame`` is to be matched against now."""

    def waiting(candidate: Candidate) -> bool:
        image_id = candidate.product_image_id
        return image_id in generations and through[image_id] < frame.frame_id and frame.catalog_generation < generations[image_id]

    return waiting
