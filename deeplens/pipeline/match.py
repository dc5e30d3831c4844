"""match: catalog votes and embedding candidates, geometric verification, appearances.

Works in both directions, so upload order never matters: a new keyframe is matched
against indexed product photos (here), and new product photos against the keyframes
indexed before them, in one pass for all photos that arrive together
(:mod:`~deeplens.pipeline.earlier_frames`). Both take a keyframe's candidates from
:mod:`~deeplens.pipeline.candidates`, verify them (:mod:`~deeplens.pipeline.verification`)
and record the decision (:mod:`~deeplens.pipeline.decisions`); the pairs whose matches
changed are rolled up into appearances.
"""

from __future__ import annotations

import logging
from typing import Any

from deeplens.db.catalog import get_frame, matched_frames_around
from deeplens.db.index_state import advance_catalog_generation
from deeplens.db.local_features import announce_photos_again, get_local_features
from deeplens.db.matches import forget_decisions, rolled_up_pairs
from deeplens.pipeline.candidates import KeyframeCandidates, Neighbours, StoredPhotoFeatures
from deeplens.pipeline.decisions import decide
from deeplens.pipeline.earlier_frames import UnfinishedPass, match_products
from deeplens.pipeline.rollup import rolled_up
from deeplens.pipeline.services import Services
from deeplens.pipeline.verification import Candidate, frame_pixels
from deeplens.vision.local_features import from_bytes
from eventing import types
from eventing.events import Event

SOURCE = "deeplens/match"
LOG = logging.getLogger(__name__)


def handle(event: Event, services: Services) -> list[Event]:
    """Verify candidates for newly indexed images; emit ``match.found`` for changed appearances.

    A pass of the product direction too long for one call also emits an ``image.indexed``
    event for its photos, which goes on from where this call stopped. A rematch request
    starts such a pass over every keyframe (see :func:`_rematch`).
    """
    if event.type == types.REMATCH_REQUESTED:
        return _rematch(event, services)
    indexed = types.parse_data(types.ImageIndexed, event.data)
    unfinished: UnfinishedPass | None = None
    if indexed.item_kind == "frame":
        pairs = _match_frames(event.tenant, indexed, services)
    else:
        pairs, unfinished = match_products(event.tenant, indexed, services)
    outputs = rolled_up(event, services, pairs, source=SOURCE)
    if unfinished is not None:
        more = types.ImageIndexed(item_kind="product_image", item_ids=unfinished.photo_ids, model=indexed.model)
        key = f"earlier-frames-after-{unfinished.after_frame_id}"
        outputs.append(event.child(types.IMAGE_INDEXED, more.model_dump(), source=SOURCE, key=key, subject=event.subject))
    return outputs


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
    outputs = rolled_up(event, services, pairs[:limit], source=SOURCE)
    if len(pairs) > limit:
        video_id, sku = pairs[limit - 1]
        more = types.RematchRequested(decide=request.decide, after=(video_id, sku))
        outputs.append(event.child(types.REMATCH_REQUESTED, more.model_dump(), source=SOURCE, key=f"after/{video_id}/{sku}",
                                   subject=event.subject))
    if photos:
        indexed = types.ImageIndexed(item_kind="product_image", item_ids=photos, model=services.embedder.model_name)
        outputs.append(event.child(types.IMAGE_INDEXED, indexed.model_dump(), source=SOURCE, key="rematch", subject=event.subject))
    return outputs


def _match_frames(tenant: str, indexed: types.ImageIndexed, services: Services) -> set[tuple[str, str]]:
    """Match a batch of new keyframes, and again the matched keyframes just outside it.

    Each keyframe's neighbours' candidates are its rivals, and a keyframe next to the batch
    may have been matched before the batch was indexed, without this side's rivals.
    """
    pairs: set[tuple[str, str]] = set()
    photo_features = StoredPhotoFeatures(services, tenant)
    with services.db.pool.connection() as conn:
        frame_ids = list(indexed.item_ids) + matched_frames_around(conn, tenant, indexed.item_ids)
        frame_features = {i: from_bytes(b) for i, b in get_local_features(conn, tenant, "frame", frame_ids).items()}
        index = services.catalog_indexes.get(conn, tenant)
    keyframes = KeyframeCandidates(services, tenant, indexed.model, index)
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
        pairs.update(decide(
            services, tenant, frame["id"], candidates, photo_features, frame_features[frame["id"]], frame_pixels(services, frame["object_key"]),
            Neighbours(keyframes, frame["video_id"], frame["frame_index"]), index.generation,
        ))
    return pairs
