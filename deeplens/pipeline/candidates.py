"""A keyframe's candidates: the photos the catalog index votes for, the embedding's nearest
photos, and its neighbouring keyframes' candidates as rivals."""

from __future__ import annotations

import functools
from collections.abc import Collection

import numpy as np
import psycopg

from deeplens.db.catalog import neighbour_frames
from deeplens.db.local_features import get_local_features
from deeplens.db.matches import DecisionInputs
from deeplens.db.vectors import candidate_photos, get_embedding, nearest
from deeplens.matching.catalog_index import CatalogIndex
from deeplens.pipeline.services import Services
from deeplens.pipeline.verification import Candidate
from deeplens.vision.local_features import LocalFeatures, from_bytes


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
        Candidate(i, found[i]["sku"], float(found[i]["similarity"]), found[i]["object_key"], found[i]["sha256"]) for i in ids if i in found
    ]


class StoredPhotoFeatures:
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


class KeyframeCandidates:
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


class Neighbours:
    """One keyframe's neighbours' candidates (a ``neighbours`` for :func:`verify_among_rivals`),
    looked up once, remembering whether the verification asked for them."""

    def __init__(self, keyframes: KeyframeCandidates, video_id: str, frame_index: int) -> None:
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
        return DecisionInputs(photo_ids(candidates), photo_ids(self.candidates()) if self.asked else None)


def photo_ids(candidates: list[Candidate]) -> frozenset[int]:
    return frozenset(candidate.product_image_id for candidate in candidates)
