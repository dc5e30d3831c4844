"""match: embedding candidates from pgvector, geometric verification, appearances.

Works in both directions, so upload order never matters: a new keyframe is matched
against indexed product photos, a new product photo against indexed keyframes.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

import numpy as np
import psycopg

from deeplens.db.catalog import get_frame
from deeplens.db.local_features import (
    count_frames_indexed_before,
    frames_indexed_before,
    get_local_features,
    indexed_at,
)
from deeplens.db.matches import (
    frame_match_records,
    lock_frame,
    replace_frame_matches,
)
from deeplens.db.vectors import get_embedding, nearest
from deeplens.matching.overlaps import suppress_overlaps
from deeplens.pipeline.rollup import rollup
from deeplens.pipeline.services import Services
from deeplens.pipeline.verification import Candidate, FramePixels, frame_pixels, verify
from deeplens.vision.local_features import LocalFeatures, from_bytes
from deeplens.vision.verify import Verification
from eventing import types
from eventing.events import Event

SOURCE = "deeplens/match"
LOG = logging.getLogger(__name__)
# Features are written in short transactions; a keyframe written up to this long after a
# photo is still checked from the photo's side, in case its own match step ran first.
COMMIT_MARGIN = timedelta(seconds=5)


def handle(event: Event, services: Services) -> list[Event]:
    """Verify candidates for newly indexed images; emit ``match.found`` for changed appearances."""
    indexed = types.parse_data(types.ImageIndexed, event.data)
    if indexed.item_kind == "frame":
        pairs = _match_frames(event.tenant, indexed, services)
    else:
        pairs = _match_products(event.tenant, indexed, services)
    changed: list[str] = []
    for video_id, sku in sorted(pairs):
        changed.extend(rollup(services, event.tenant, video_id, sku))
    if not changed:
        return []
    found = types.MatchFound(appearance_ids=changed)
    return [event.child(types.MATCH_FOUND, found.model_dump(), source=SOURCE, key=",".join(changed), subject=event.subject)]


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
    services: Services, conn: psycopg.Connection, tenant: str, model: str, frame: LocalFeatures, query: np.ndarray
) -> list[Candidate]:
    """Product photos worth verifying in a frame, most promising first.

    Local-feature votes against the whole catalog find products that fill only part of
    a cluttered frame; the embedding's nearest photos are added for products with little
    texture. Each candidate carries its embedding similarity for the fused score.
    """
    settings = services.settings
    votes = services.catalog_indexes.get(conn, tenant).vote(frame)
    voted = [v for v in votes if v.votes >= settings.match_min_votes][: settings.match_max_candidates]
    nearest_photos = nearest(conn, tenant, "product_image", model, query, settings.match_top_k) if settings.match_top_k else []
    # The query below looks up sku and similarity of every candidate at once, voted or nearest.
    ids = list(dict.fromkeys([v.product_image_id for v in voted] + [image_id for image_id, _ in nearest_photos]))
    if not ids:
        return []
    rows = conn.execute(
        "SELECT e.item_id, i.sku, i.object_key, i.sha256, 1 - (e.embedding <=> %s::vector) AS similarity FROM embeddings e"
        " JOIN product_images i ON i.tenant_id = e.tenant_id AND i.id = e.item_id"
        " WHERE e.tenant_id = %s AND e.item_kind = 'product_image' AND e.model = %s AND e.item_id = ANY(%s)",
        (query.astype(np.float32), tenant, model, ids),
    ).fetchall()
    found = {row["item_id"]: row for row in rows}
    return [
        Candidate(i, found[i]["sku"], -1, float(found[i]["similarity"]), found[i]["object_key"], found[i]["sha256"]) for i in ids if i in found
    ]


def _match_frames(tenant: str, indexed: types.ImageIndexed, services: Services) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    product_features: dict[int, LocalFeatures] = {}
    with services.db.pool.connection() as conn:
        frame_features = {i: from_bytes(b) for i, b in get_local_features(conn, tenant, "frame", indexed.item_ids).items()}
    for frame_id in indexed.item_ids:
        with services.db.transaction() as conn:
            frame = get_frame(conn, tenant, frame_id)
            query = get_embedding(conn, tenant, "frame", frame_id, indexed.model)
            if frame is None or query is None or frame_id not in frame_features:
                continue
            candidates = frame_candidates(services, conn, tenant, indexed.model, frame_features[frame_id], query)
            missing = [c.product_image_id for c in candidates if c.product_image_id not in product_features]
            product_features.update({i: from_bytes(b) for i, b in get_local_features(conn, tenant, "product_image", missing).items()})
        best: dict[str, dict[str, Any]] = {}
        pixels = frame_pixels(services, frame["object_key"])
        for candidate in candidates:
            features = product_features.get(candidate.product_image_id)
            result = None if features is None else verify(services, tenant, candidate, features, frame_features[frame_id], pixels)
            if result is not None and result[1] > best.get(candidate.sku, {}).get("score", -1.0):
                best[candidate.sku] = _match_record(candidate, *result)
        checked = {candidate.sku for candidate in candidates}
        with services.db.transaction() as conn:
            lock_frame(conn, tenant, frame_id)
            # Matches of products this pass did not check (added meanwhile by the product
            # direction) stay; the ones it checked are replaced by what it found.
            kept = [m for m in frame_match_records(conn, tenant, frame_id) if m["sku"] not in checked]
            changed = replace_frame_matches(conn, tenant, frame, suppress_overlaps(kept + list(best.values())))
        pairs.update((frame["video_id"], sku) for sku in changed)
    return pairs


def _match_products(tenant: str, indexed: types.ImageIndexed, services: Services) -> set[tuple[str, str]]:
    settings = services.settings
    pairs: set[tuple[str, str]] = set()
    for image_id in indexed.item_ids:
        with services.db.transaction() as conn:
            image = conn.execute(
                "SELECT sku, object_key, sha256 FROM product_images WHERE tenant_id = %s AND id = %s", (tenant, image_id)
            ).fetchone()
            query = get_embedding(conn, tenant, "product_image", image_id, indexed.model)
            product_blob = get_local_features(conn, tenant, "product_image", [image_id]).get(image_id)
            if image is None or query is None or product_blob is None:
                continue
            # Keyframes written after this photo are matched against it by their own match
            # step (the catalog index sees the photo by then); only older ones need a look.
            cutoff = indexed_at(conn, tenant, "product_image", image_id) + COMMIT_MARGIN
            hits = frames_indexed_before(conn, tenant, indexed.model, query, cutoff, settings.match_product_frames)
            if len(hits) == settings.match_product_frames:
                earlier = count_frames_indexed_before(conn, tenant, indexed.model, cutoff)
                if earlier > len(hits):
                    # Not an error, but a silent loss of recall: say what was left unchecked.
                    LOG.warning("product photo %s was verified in the %d of %d earlier keyframes nearest to it by embedding; "
                                "it is not found in the others (raise DEEPLENS_MATCH_PRODUCT_FRAMES to check more)",
                                image["object_key"], len(hits), earlier)
        product = from_bytes(product_blob)
        for start in range(0, len(hits), 64):
            chunk = hits[start:start + 64]
            with services.db.pool.connection() as conn:
                frames = get_local_features(conn, tenant, "frame", [frame_id for frame_id, _ in chunk])
            for frame_id, similarity in chunk:
                if frame_id not in frames:
                    continue
                candidate = Candidate(image_id, image["sku"], frame_id, similarity, image["object_key"], image["sha256"])
                result = verify(services, tenant, candidate, product, from_bytes(frames[frame_id]), _stored_frame_pixels(services, tenant, frame_id))
                if result is None:
                    continue
                with services.db.transaction() as conn:
                    frame = get_frame(conn, tenant, frame_id)
                    lock_frame(conn, tenant, frame_id)
                    current = {m["sku"]: m for m in frame_match_records(conn, tenant, frame_id)}
                    new = _match_record(candidate, *result)
                    if new["score"] > current.get(new["sku"], {}).get("score", -1.0):
                        current[new["sku"]] = new
                    changed = replace_frame_matches(conn, tenant, frame, suppress_overlaps(list(current.values())))
                pairs.update((frame["video_id"], sku) for sku in changed)
    return pairs


def _stored_frame_pixels(services: Services, tenant: str, frame_id: int) -> FramePixels:
    """Like :func:`frame_pixels`, looking the keyframe's object key up first."""

    @functools.cache
    def load() -> np.ndarray | None:
        with services.db.pool.connection() as conn:
            frame = get_frame(conn, tenant, frame_id)
        return None if frame is None else frame_pixels(services, frame["object_key"])()

    return load
