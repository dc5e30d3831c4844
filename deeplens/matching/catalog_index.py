"""Candidate products for a frame by voting of its local features against the whole catalog.

Whole-frame embeddings rank a product that covers a fraction of a cluttered frame
poorly. Local descriptors do not care about the clutter: every frame descriptor looks
up its nearest catalog descriptors (one approximate k-NN search over all product photos
at once) and, if that neighbour is distinctive, votes for its photo. Distinctive means
Lowe's ratio test against the nearest descriptor of a *different* product, so a
product's several photos do not cancel each other's votes while a brand word shared by
look-alikes does not vote at all. The cost per frame grows slowly with the catalog
(``bench/catalog_scale.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from deeplens.vision.local_features import LocalFeatures

# Neighbours looked at per frame descriptor to find the nearest one of another product.
NEIGHBOURS = 4
# FLANN randomised k-d trees, and the leaves one search visits across them: the search
# is approximate, which the vote tolerates (a product needs several votes, not all).
# Against 4 trees, 2 build in half the time (4.6 s instead of 10 s for 900k descriptors,
# 1,040 products) and vote 15-20% faster, with as many votes for the true product
# (mean 57 vs 58 at 1,040 products, 96 vs 96 at 40; bench/catalog_scale.py homes).
_TREES = 2
_CHECKS = 48
# FLANN draws its random trees from OpenCV's RNG of the building thread. A fixed seed makes
# one catalog give one index, so a frame gets the same votes in every process and run,
# whatever else that thread drew before.
_SEED = 0x5EED


Generation = int
"""A tenant's catalog generation (:func:`deeplens.db.index_state.catalog_generation`): it
advances whenever a photo is added or replaced, in commit order."""


@dataclass(frozen=True)
class Vote:
    """A product photo and how many frame descriptors voted for it."""

    product_image_id: int
    sku: str
    votes: int


class CatalogIndex:
    """An approximate nearest-neighbour index over every descriptor of every product photo.

    FLANN keeps one float32 copy of the descriptors and its trees (about 0.9 KB per
    descriptor in all, ``bench/catalog_scale.py``); besides them the index holds only each
    descriptor's photo and product number.
    """

    def __init__(self, photos: Iterable[tuple[int, str, LocalFeatures]], *, generation: Generation = 0) -> None:
        """Index ``(photo id, sku, features)`` of every catalog photo; the iterable is read once.

        The index (its random trees, and which of two equally voted photos ranks first)
        follows the order of ``photos``: give them in an order that does not depend on
        upload timing, such as by object key. Each photo's descriptors wait as uint8 (their
        values are integers 0..255) until all are read, so building holds a quarter of
        what float32 copies of every photo would.
        """
        self.generation = generation
        """The catalog generation this index was built from."""
        kept = [(photo_id, sku, features.descriptors.astype(np.uint8)) for photo_id, sku, features in photos if len(features)]
        self.size = len(kept)
        self._photo_ids = np.array([photo_id for photo_id, _, _ in kept], np.int64)
        self._photo_skus = [sku for _, sku, _ in kept]
        self._photo_of = np.repeat(np.arange(self.size, dtype=np.int32), [len(block) for _, _, block in kept])
        # Products as small integers, so the ratio test compares arrays, not strings.
        _, product_numbers = np.unique(np.array(self._photo_skus, dtype=object), return_inverse=True)
        self._product_of = product_numbers.astype(np.int32)[self._photo_of]
        self._index = None
        if kept:
            # FLANN copies the float32 matrix it is given; this one is freed on return.
            data = np.vstack([block for _, _, block in kept], dtype=np.float32)
            cv2.setRNGSeed(_SEED)
            self._index = cv2.flann_Index(data, {"algorithm": 1, "trees": _TREES})  # 1: randomised k-d trees

    @property
    def descriptors(self) -> int:
        """Descriptors indexed, over all photos."""
        return len(self._photo_of)

    def vote(self, frame: LocalFeatures, *, ratio: float = 0.8) -> list[Vote]:
        """Product photos ranked by the distinctive frame descriptors that point at them."""
        if self._index is None or len(frame) == 0:
            return []
        k = min(NEIGHBOURS, self.descriptors)
        nearest, sq_dist = self._index.knnSearch(np.ascontiguousarray(frame.descriptors, np.float32), k, params={"checks": _CHECKS})
        nearest = nearest.reshape(len(frame), k)
        found = nearest[:, 0] >= 0
        nearest, sq_dist = nearest[found], sq_dist.reshape(len(frame), k)[found]
        products = self._product_of[nearest]
        # The first neighbour of another product is the rival; a descriptor without one
        # among its neighbours (every neighbour is of its own product) is distinctive.
        other = (products[:, 1:] != products[:, :1]) & (nearest[:, 1:] >= 0)
        has_rival = other.any(axis=1)
        rival_sq = sq_dist[np.arange(len(nearest)), 1 + other.argmax(axis=1)] if k > 1 else np.zeros(len(nearest))
        # FLANN's L2 distances are squared: compare them with the squared ratio.
        distinctive = ~has_rival | (sq_dist[:, 0] < ratio * ratio * rival_sq)
        counts = np.bincount(self._photo_of[nearest[distinctive, 0]], minlength=self.size)
        # Most votes first; ties in the order the photos were given.
        order = np.argsort(-counts, kind="stable")
        return [Vote(int(self._photo_ids[p]), self._photo_skus[p], int(counts[p])) for p in order if counts[p] > 0]
