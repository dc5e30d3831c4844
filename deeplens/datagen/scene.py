"""The scene behind the products: a large textured backdrop seen by a panning camera.

The backdrop is cluttered on purpose (colour blotches, shapes, lines, grain) so that it
produces keypoints of its own, like a real shelf or desk would; a matcher that only
works on blank backgrounds would look better here than it is.
"""

from __future__ import annotations

import cv2
import numpy as np


def make_backdrop(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A BGR ``uint8`` texture of ``height x width``."""
    # Low-frequency colour field: muted, so products (saturated) stand out as they do on shelves.
    coarse = rng.uniform(60, 190, (4, 6, 3)).astype(np.float32)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    mid = rng.normal(0, 14, (max(2, height // 24), max(2, width // 24), 3)).astype(np.float32)
    img += cv2.resize(mid, (width, height), interpolation=cv2.INTER_LINEAR)

    # Clutter: translucent rectangles, discs, lines, polygons.
    overlay = np.clip(img, 0, 255).astype(np.uint8)
    layer = overlay.copy()
    n_shapes = max(12, width * height // 9000)
    for _ in range(n_shapes):
        color = tuple(int(c) for c in rng.uniform(30, 230, 3))
        kind = int(rng.integers(0, 4))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.uniform(0.02, 0.12) * min(width, height)) + 2
        if kind == 0:
            cv2.rectangle(layer, (x, y), (x + int(size * rng.uniform(0.5, 2.5)), y + size), color, -1)
        elif kind == 1:
            cv2.circle(layer, (x, y), size // 2, color, -1, cv2.LINE_AA)
        elif kind == 2:
            end = (x + int(rng.normal(0, size * 2)), y + int(rng.normal(0, size * 2)))
            cv2.line(layer, (x, y), end, color, int(rng.integers(1, 6)), cv2.LINE_AA)
        else:
            pts = (np.array([x, y]) + rng.normal(0, size / 2, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(layer, [pts], color, cv2.LINE_AA)
    overlay = cv2.addWeighted(layer, 0.55, overlay, 0.45, 0)

    # Halfway to grey: real rooms and shelves are far less saturated than random colours.
    grey = cv2.cvtColor(cv2.cvtColor(overlay, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    muted = cv2.addWeighted(overlay, 0.5, grey, 0.5, 0).astype(np.float32)
    grain = rng.normal(0, 4, (height, width, 3)).astype(np.float32)
    return np.clip(muted + grain, 0, 255).astype(np.uint8)


def camera_view(backdrop: np.ndarray, offset: np.ndarray, width: int, height: int) -> np.ndarray:
    """A copy of the ``width x height`` window of ``backdrop`` whose top-left is ``offset``.

    Whole-pixel steps: a sub-pixel warp costs ~20x more and a slow pan of about a pixel
    per frame looks the same either way.
    """
    bh, bw = backdrop.shape[:2]
    x = min(max(0, round(float(offset[0]))), bw - width)
    y = min(max(0, round(float(offset[1]))), bh - height)
    return backdrop[y : y + height, x : x + width].copy()
