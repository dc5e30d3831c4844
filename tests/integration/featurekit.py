"""Random local features for tests that store photos and keyframes without images."""

from __future__ import annotations

import numpy as np

from deeplens.vision.local_features import LocalFeatures


def random_features(seed: int, count: int = 20) -> LocalFeatures:
    """``count`` SIFT-shaped keypoints and descriptors on a 300×300 image, the same for one seed."""
    rng = np.random.default_rng(seed)
    return LocalFeatures(
        points=rng.uniform(0, 300, size=(count, 2)).astype(np.float32),
        descriptors=rng.integers(0, 64, size=(count, 128)).astype(np.float32),
        width=300,
        height=300,
        kind="sift",
    )
