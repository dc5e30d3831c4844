"""How sharp a frame is, to tell a frame caught in motion blur (a camera jerk) from its neighbours.

In a blurred frame SIFT finds few of a product's keypoints: a product there matches with
too few inliers, or not at all. Keyframe selection lets a sharper frame stand in for a
blurred one (:mod:`deeplens.vision.keyframes`).

Sharpness is measured per tile of a grey thumbnail (the variance of its Laplacian), and a
frame is blurred next to another of the same shot when most of the other's detailed tiles
lost most of their detail. Per tile, because the detail of a frame is often in a few
places: a sharp product leaving a soft scene takes a frame's overall sharpness down as much
as a jerk does, but only in the tiles it was in, while motion blur takes every tile down.
"""

from __future__ import annotations

import cv2
import numpy as np

BLURRED = 0.7
"""A frame is blurred when its detailed tiles keep (in the median) less than this share of a
sharp frame's detail. Sharp frames of one shot keep within about 20% of each other; the motion
blur of a camera jerk takes a frame to a quarter to a half."""

THUMBNAIL_SIDE = 320
"""The longer side of the grey thumbnail: motion blur of 5 to 13 pixels at 960 wide is 2 to 4
pixels there, enough to take most of a tile's detail away, and it costs a fraction of a millisecond."""

GRID = (8, 4)
"""Tiles across and down the thumbnail."""

Sharpness = np.ndarray
"""Each tile's detail, ``(rows, columns)`` float: see :func:`thumbnail_sharpness`."""


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The ``(width, height)`` of the thumbnail of a ``width`` x ``height`` frame."""
    scale = THUMBNAIL_SIDE / max(width, height)
    return max(4 * GRID[0], round(width * scale)), max(4 * GRID[1], round(height * scale))


def thumbnail_sharpness(grey: np.ndarray) -> Sharpness:
    """Each tile's variance of the Laplacian of a grey thumbnail (see :func:`thumbnail_size`)."""
    laplacian = cv2.Laplacian(grey, cv2.CV_32F)
    columns, rows = GRID
    tile_h, tile_w = laplacian.shape[0] // rows, laplacian.shape[1] // columns
    tiles = laplacian[: rows * tile_h, : columns * tile_w].reshape(rows, tile_h, columns, tile_w)
    return tiles.var(axis=(1, 3))


def overall(sharpness: Sharpness) -> float:
    """One figure for a frame's sharpness, to rank frames of one shot: its tiles' mean."""
    return float(sharpness.mean())


def is_blurred(sharpness: Sharpness, reference: Sharpness) -> bool:
    """Whether a frame is blurred next to a sharp frame of the same shot (``reference``): its tiles
    keep less than :data:`BLURRED` of the detail of the reference's more detailed half, in the median."""
    detailed = reference >= np.median(reference)
    kept = sharpness[detailed] / np.maximum(reference[detailed], 1e-6)
    return bool(np.median(kept) < BLURRED)
