"""Candidate products for a frame by voting of its local features against the whole catalog.

Whole-frame embeddings rank a product that covers a fraction of a cluttered frame
poorly. Local descriptors do not care about the clutter: every frame descriptor looks
up its nearest catalog descriptors (one approximate k-NN search over all product photos
at once) and, if that neighbour is distinctive, votes for its photo. Distinctive means
Lowe's ratio test against the nearest descriptor of a *different* product, so a
product's several photos do not cancel each other's votes while a brand word shared by
look-alikes does not vote at all. The cost per frame grows with log(catalog size).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from deeplens.vision.local_features import LocalFeatures

# Neighbours looked at per frame descriptor to find the nearest one of another product.
NEIGHBOURS = 4


@dataclass(frozen=True)
class Vote:
    """A product photo and how many frame descriptors voted for it."""

    product_image_id: int
    sku: str
    votes: int


class CatalogIndex:
    """An approximate nearest-neighbour index over every descriptor of every product photo."""

    def __init__(self, features: dict[int, LocalFeatures], skus: dict[int, str]) -> None:
        ids = sorted(i for i in features if len(features[i]) and i in skus)
        self.size = len(ids)
        self._skus = skus
        self._image_of = np.concatenate([np.full(len(features[i]), i, np.int64) for i in ids]) if ids else np.zeros(0, np.int64)
        self._sku_of = np.array([skus[i] for i in self._image_of.tolist()], dtype=object)
        self._matcher = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 48})
        if ids:
            self._matcher.add([np.ascontiguousarray(np.vstack([features[i].descriptors for i in ids]), np.float32)])
            self._matcher.train()

    @property
    def descriptors(self) -> int:
        """Descriptors indexed, over all photos."""
        return len(self._image_of)

    def vote(self, frame: LocalFeatures, *, ratio: float = 0.8) -> list[Vote]:
        """Product photos ranked by the distinctive frame descriptors that point at them."""
        if self.size == 0 or len(frame) == 0:
            return []
        counts: Counter[int] = Counter()
        for neighbours in self._matcher.knnMatch(np.ascontiguousarray(frame.descriptors, np.float32), k=NEIGHBOURS):
            if not neighbours:
                continue
            best = neighbours[0]
            sku = self._sku_of[best.trainIdx]
            rival = next((n for n in neighbours[1:] if self._sku_of[n.trainIdx] != sku), None)
            if rival is None or best.distance < ratio * rival.distance:
                counts[int(self._image_of[best.trainIdx])] += 1
        return [Vote(image_id, self._skus[image_id], votes) for image_id, votes in counts.most_common()]
