"""match: embedding candidates from pgvector, geometric verification, appearances.

Works in both directions, so upload order never matters: a new keyframe is matched
against indexed product photos, and new product photos against the keyframes indexed
before them, in one pass for all photos that arrive together.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from deeplens.db.catalog import get_frame, matched_frames_around, neighbour_frames
from deeplens.db.index_state import advance_catalog_generation
from deeplens.db.local_features import (
    IndexedFrame,
    WaitingPhoto,
    announce_photos_again,
    claim_waiting_photos,
    frames_indexed_before,
    get_local_features,
    mark_earlier_frames_matched,
    record_earlier_frames_progress,
    waiting_photo_ids,
)
from deeplens.db.matches import (
    DecisionInputs,
    decided_with_newer_catalog,
    forget_decisions,
    lock_frame,
    mark_decided_with,
    replace_frame_matches,
    rolled_up_pairs,
)
from deeplens.db.removal import hold_catalog_generation, removed_since
from deeplens.db.vectors import candidate_photos, get_embedding, nearest
from deeplens.errors import CatalogChanged
from deeplens.matching.catalog_index import CatalogIndex, Generation
from deeplens.matching.overlaps import suppress_overlaps
from deeplens.pipeline.rollup import rollup
from deeplens.pipeline.services import Services
from deeplens.pipeline.verification import Candidate, FramePixels, frame_pixels, verify_among_rivals
from deeplens.vision.local_features import LocalFeatures, from_bytes
from deeplens.vision.verify import Verification
from eventing import types
from eventing.events import Event

SOURCE = "deeplens/match"
LOG = logging.getLogger(__name__)
# Earlier keyframes the product direction reads from the database at a time.
_FRAME_PAGE = 64


def handle(event: Event, services: Services) -> list[Event]:
    """Verify candidates for newly indexed images; emit ``match.found`` for changed appearances.

    A pass of the product direction too long for one call also emits an ``image.indexed``
    event for its photos, which goes on from where this call stopped. A rematch request
    starts such a pass over every keyframe (see :func:`_rematch`).
    """
    if event.type == types.REMATCH_REQUESTED:
        return _rematch(event, services)
    indexed = types.parse_data(types.ImageIndexed, event.data)
    unfinished: _UnfinishedPass | None = None
    if indexed.item_kind == "frame":
        pairs = _match_frames(event.tenant, indexed, services)
    else:
        pairs, unfinished = _match_products(event.tenant, indexed, services)
    outputs = _rolled_up(event, services, pairs)
    if unfinished is not None:
        more = types.ImageIndexed(item_kind="product_image", item_ids=unfinished.photo_ids, model=indexed.model)
        key = f"earlier-frames-after-{unfinished.after_frame_id}"
        outputs.append(event.child(types.IMAGE_INDEXED, more.model_dump(), source=SOURCE, key=key, subject=event.subject))
    return outputs


def _rolled_up(event: Event, services: Services, pairs: Collection[tuple[str, str]]) -> list[Event]:
    """Roll up each (video, product) pair; a ``match.found`` event for the appearances that changed."""
    changed: list[str] = []
    for video_id, sku in sorted(pairs):
        changed.extend(rollup(services, event.tenant, video_id, sku))
    if not changed:
        return []
    found = types.MatchFound(appearance_ids=changed)
    return [event.child(types.MATCH_FOUND, found.model_dump(), source=SOURCE, key=",".join(changed), subject=event.subject)]


def _rematch(event: Event, services: Services) -> list[Event]:
    """Apply the settings as they are now to everything matched before.

    Every appearance is rolled up again (``DEEPLENS_APPEARANCE_*`` and the threshold act
    there), ``DEEPLENS_REMATCH_PAIRS`` pairs a call, the rest in follow-up events. And,
    unless the request says not to, every keyframe is decided again (``DEEPLENS_MATCH_*``
    act there): the first call forgets what each decision saw and makes every product photo
    wait again, as if just indexed, so the pass of the product direction, with its own
    budget and follow-up events, decides every keyframe afresh and rolls up what changes.
    """
    request = types.parse_data(types.RematchRequested, event.data)
    photos: list[int] = []
    limit = services.settings.rematch_pairs
    with services.db.transaction() as conn:
        if request.decide and request.after is None:
            # Photos first: a running pass holds its photos' rows until it ends, and decides
            # keyframes meanwhile; holding every keyframe's row while waiting for it would
            # deadlock with those decisions (across connections, out of PostgreSQL's sight).
            photos = announce_photos_again(conn, event.tenant)
            frames = forget_decisions(conn, event.tenant)
            advance_catalog_generation(conn, event.tenant, photos)
            LOG.info("rematch: %d keyframes to decide again against %d product photos", frames, len(photos))
        pairs = rolled_up_pairs(conn, event.tenant, after=request.after, limit=limit + 1)
    outputs = _rolled_up(event, services, pairs[:limit])
    if len(pairs) > limit:
        video_id, sku = pairs[limit - 1]
        more = types.RematchRequested(decide=request.decide, after=(video_id, sku))
        outputs.append(event.child(types.REMATCH_REQUESTED, more.model_dump(), source=SOURCE, key=f"after/{video_id}/{sku}",
                                   subject=event.subject))
    if photos:
        indexed = types.ImageIndexed(item_kind="product_image", item_ids=photos, model=services.embedder.model_name)
        outputs.append(event.child(types.IMAGE_INDEXED, indexed.model_dump(), source=SOURCE, key="rematch", subject=event.subject))
    return outputs


@dataclass(frozen=True)
class _UnfinishedPass:
    """Photos whose pass over earlier keyframes stopped at its budget, and where it stopped."""

    photo_ids: list[int]
    after_frame_id: int


def _match_record(candidate: Candidate, verification: Verification, score: float) -> dict[str, Any]:
    return {
        "sku": candidate.sku,
        "product_image_id": candidate.product_image_id,
        "inliers": verification.inliers,
        "similarity": candidate.similarity,
        "score": score,
        "box": verification.box,
        "corners": verification.corners.reshape(-1).tolist(),
    }


def frame_candidates(
    services: Services, conn: psycopg.Connection, tenant: str, model: str, frame: LocalFeatures, query: np.ndarray, index: CatalogIndex
) -> list[Candidate]:
    """Product photos worth verifying in a frame, most promising first.

    Local-feature votes against the whole catalog (``index``) find products that fill only
    part of a cluttered frame; the embedding's nearest photos are added for products with
    little texture. Each candidate carries its embedding similarity for the fused score.
    """
    settings = services.settings
    votes = index.vote(frame)
    voted = [v for v in votes if v.votes >= settings.match_min_votes][: settings.match_max_candidates]
    nearest_photos = nearest(conn, tenant, "product_image", model, query, settings.match_top_k) if settings.match_top_k else []
    # The query below looks up sku and similarity of every candidate at once, voted or nearest.
    ids = list(dict.fromkeys([v.product_image_id for v in voted] + [image_id for image_id, _ in nearest_photos]))
    if not ids:
        return []
    found = {row["item_id"]: row for row in candidate_photos(conn, tenant, model, query, ids)}
    return [
        Candidate(i, found[i]["sku"], -1, float(found[i]["similarity"]), found[i]["object_key"], found[i]["sha256"]) for i in ids if i in found
    ]


class _StoredPhotoFeatures:
    """Product photos' local features from the database, each read once (photos recur across keyframes)."""

    def __init__(self, services: Services, tenant: str) -> None:
        self._services = services
        self._tenant = tenant
        self._loaded: dict[int, LocalFeatures] = {}

    def __call__(self, ids: Collection[int]) -> dict[int, LocalFeatures]:
        missing = [i for i in ids if i not in self._loaded]
        if missing:
            with self._services.db.pool.connection() as conn:
                stored = get_local_features(conn, self._tenant, "product_image", missing)
            self._loaded.update({i: from_bytes(b) for i, b in stored.items()})
        return {i: self._loaded[i] for i in ids if i in self._loaded}


class _KeyframeCandidates:
    """Keyframes' candidates by frame id, each keyframe voted at most once per call.

    Keyframes the call matches are voted through :meth:`vote` as it reaches them; a
    neighbour outside them is read and voted when first asked for. One not indexed yet has
    no candidates.
    """

    def __init__(self, services: Services, tenant: str, model: str, index: CatalogIndex) -> None:
        self._services = services
        self._tenant = tenant
        self._model = model
        self._index = index
        self._known: dict[int, list[Candidate]] = {}

    def _remember(self, frame_id: int, candidates: list[Candidate]) -> None:
        self._known[frame_id] = candidates

    def vote(
        self, conn: psycopg.Connection, frame_id: int, features: LocalFeatures | None = None, query: np.ndarray | None = None
    ) -> list[Candidate] | None:
        """A keyframe's candidates, remembered; ``features`` and ``query`` (its embedding) save
        reading them again. None when the keyframe has no features or embedding (yet)."""
        if features is None:
            stored = get_local_features(conn, self._tenant, "frame", [frame_id])
            features = from_bytes(stored[frame_id]) if frame_id in stored else None
        if query is None:
            query = get_embedding(conn, self._tenant, "frame", frame_id, self._model)
        if features is None or query is None:
            return None
        candidates = frame_candidates(self._services, conn, self._tenant, self._model, features, query, self._index)
        self._remember(frame_id, candidates)
        return candidates

    def around(self, video_id: str, frame_index: int) -> list[Candidate]:
        """The candidates of the keyframes just before and after a video's frame."""
        with self._services.db.pool.connection() as conn:
            ids = neighbour_frames(conn, self._tenant, video_id, frame_index)
            for frame_id in ids:
                if frame_id not in self._known and self.vote(conn, frame_id) is None:
                    self._remember(frame_id, [])
        return [candidate for frame_id in ids for candidate in self._known[frame_id]]


class _Neighbours:
    """One keyframe's neighbours' candidates (a ``neighbours`` for :func:`verify_among_rivals`),
    looked up once, remembering whether the verification asked for them."""

    def __init__(self, keyframes: _KeyframeCandidates, video_id: str, frame_index: int) -> None:
        self._lookup = functools.partial(keyframes.around, video_id, frame_index)
        self._found: list[Candidate] | None = None
        self.asked = False

    def candidates(self) -> list[Candidate]:
        """The candidates, without counting as asked."""
        if self._found is None:
            self._found = self._lookup()
        return self._found

    def __call__(self) -> list[Candidate]:
        self.asked = True
        return self.candidates()

    def decision_inputs(self, candidates: list[Candidate]) -> DecisionInputs:
        """What a decision over ``candidates`` that was given these neighbours saw."""
        return DecisionInputs(_photo_ids(candidates), _photo_ids(self.candidates()) if self.asked else None)


def _photo_ids(candidates: list[Candidate]) -> frozenset[int]:
    return frozenset(candidate.product_image_id for candidate in candidates)


def _match_records(found: dict[str, tuple[Candidate, Verification, float]]) -> dict[str, dict[str, Any]]:
    """Match records of what :func:`verify_among_rivals` verified, by sku."""
    return {sku: _match_record(candidate, verification, score) for sku, (candidate, verification, score) in found.items()}


def _match_frames(tenant: str, indexed: types.ImageIndexed, services: Services) -> set[tuple[str, str]]:
    """Match a batch of new keyframes, and again the matched keyframes just outside it.

    Each keyframe's neighbours' candidates are its rivals, and a keyframe next to the batch
    may have been matched before the batch was indexed, without this side's rivals.
    """
    pairs: set[tuple[str, str]] = set()
    photo_features = _StoredPhotoFeatures(services, tenant)
    with services.db.pool.connection() as conn:
        frame_ids = list(indexed.item_ids) + matched_frames_around(conn, tenant, indexed.item_ids)
        frame_features = {i: from_bytes(b) for i, b in get_local_features(conn, tenant, "frame", frame_ids).items()}
        index = services.catalog_indexes.get(conn, tenant)
    keyframes = _KeyframeCandidates(services, tenant, indexed.model, index)
    # Every keyframe is voted before any is verified: each one's neighbours are rivals too.
    voted: list[tuple[dict[str, Any], list[Candidate]]] = []
    for frame_id in frame_ids:
        with services.db.pool.connection() as conn:
            frame = get_frame(conn, tenant, frame_id)
            if frame is None or frame_id not in frame_features:
                continue
            candidates = keyframes.vote(conn, frame_id, frame_features[frame_id])
        if candidates is not None:
            voted.append((frame, candidates))
    for frame, candidates in voted:
        pairs.update(_decide(
            services, tenant, frame["id"], candidates, photo_features, frame_features[frame["id"]], frame_pixels(services, frame["object_key"]),
            _Neighbours(keyframes, frame["video_id"], frame["frame_index"]), index.generation,
        ))
    return pairs


def _decide(
    services: Services,
    tenant: str,
    frame_id: int,
    candidates: list[Candidate],
    photos: _StoredPhotoFeatures,
    features: LocalFeatures,
    pixels: FramePixels,
    neighbours: _Neighbours,
    generation: Generation,
) -> set[tuple[str, str]]:
    """Decide a keyframe's matches among ``candidates`` and its neighbours' candidates, and
    record the decision; returns the changed (video, product) pairs."""
    found = verify_among_rivals(services, tenant, candidates, photos, features, pixels, neighbours=neighbours)
    return _replace_decision(services, tenant, frame_id, _match_records(found), generation, neighbours.decision_inputs(candidates))


def _replace_decision(
    services: Services, tenant: str, frame_id: int, found: dict[str, dict[str, Any]], generation: Generation, inputs: DecisionInputs
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
        hold_catalog_generation(conn, tenant)
        if removed_since(conn, tenant, generation, sorted(inputs.candidates | (inputs.rivals or frozenset()))):
            raise CatalogChanged(f"a photo keyframe {frame_id} was decided with was removed from the catalog")
    return {(frame["video_id"], sku) for sku in changed}


def _match_products(
    tenant: str, indexed: types.ImageIndexed, services: Services
) -> tuple[set[tuple[str, str]], _UnfinishedPass | None]:
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
    return pairs, _UnfinishedPass(ids, stopped_after)


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
        photo_features = _StoredPhotoFeatures(services, tenant)
        keyframes = _KeyframeCandidates(services, tenant, model, index)
        voted: list[tuple[IndexedFrame, LocalFeatures, list[Candidate]]] = []
        for frame in page:
            scanned += 1
            features = from_bytes(frame.features)
            with services.db.pool.connection() as conn:
                candidates = keyframes.vote(conn, frame.frame_id, features, frame.embedding) or []
            voted.append((frame, features, candidates))
        for frame, features, candidates in voted:
            neighbours = _Neighbours(keyframes, frame.video_id, frame.frame_index)
            if not _may_decide_otherwise(frame, candidates, neighbours, _waiting_in(frame, generations, through), later):
                continue
            verified += len(candidates)
            pairs.update(_decide(
                services, tenant, frame.frame_id, candidates, photo_features, features,
                _stored_frame_pixels(services, tenant, frame.frame_id), neighbours, index.generation,
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
    neighbours: _Neighbours,
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
    own = _photo_ids(candidates)
    if decided is None or (own ^ decided.candidates) - later or any(map(waiting, candidates)):
        return True
    if decided.rivals is None:
        return False
    nearby = neighbours.candidates()
    if decided.rivals - _photo_ids(nearby) - later or any(waiting(c) for c in nearby if c.product_image_id in decided.rivals):
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


def _stored_frame_pixels(services: Services, tenant: str, frame_id: int) -> FramePixels:
    """Like :func:`frame_pixels`, looking the keyframe's object key up first."""

    @functools.cache
    def load() -> np.ndarray | None:
        with services.db.pool.connection() as conn:
            frame = get_frame(conn, tenant, frame_id)
        return None if frame is None else frame_pixels(services, frame["object_key"])()

    return load
