"""Paste a flat image into another one through a perspective warp, with soft edges.

Used for products and distractors in video frames and for the angled catalog photo.
Only the quad's bounding box is warped (not the whole frame), which is what keeps
generation fast.
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import quad_extent


def mip_levels(image: np.ndarray, min_side: int = 24) -> list[np.ndarray]:
    """``image`` and its successive halvings, down to ``min_side`` pixels.

    Warping a 400-px artwork straight down to 60 px aliases badly (shimmering text,
    spurious keypoints); warping from the level just above the target size does not.
    """
    levels = [image]
    while min(levels[-1].shape[:2]) // 2 >= min_side:
        levels.append(cv2.pyrDown(levels[-1]))
    return levels


def paste_warped(dst: np.ndarray, levels: list[np.ndarray], quad: np.ndarray) -> None:
    """Draw ``levels[0]`` (via the best mip level) into ``dst`` so its corners land on ``quad`` (TL, TR, BR, BL)."""
    height, width = dst.shape[:2]
    x0, y0, x1, y1 = quad_extent(quad)
    ix0, iy0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    ix1, iy1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
    if ix1 <= ix0 or iy1 <= iy0:
        return
    # The longest edge of the quad says how many source pixels the warp really needs.
    edges = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    src = levels[0]
    for level in levels:
        if max(level.shape[:2]) >= edges.max():
            src = level
    sh, sw = src.shape[:2]
    # Pixel centres sit at integer coordinates in OpenCV; corners at -0.5 / size - 0.5.
    src_pts = np.float32([[-0.5, -0.5], [sw - 0.5, -0.5], [sw - 0.5, sh - 0.5], [-0.5, sh - 0.5]])
    dst_pts = (quad - [ix0 + 0.5, iy0 + 0.5]).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src_pts, dst_pts)
    rw, rh = ix1 - ix0, iy1 - iy0
    # Replicated borders keep the anti-aliased rim from blending with black.
    patch = cv2.warpPerspective(src, matrix, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = np.zeros((rh, rw), np.uint8)
    cv2.fillConvexPoly(mask, np.round(dst_pts * 16).astype(np.int32), 255, cv2.LINE_AA, shift=4)
    blend(dst[iy0:iy1, ix0:ix1], patch, mask)


def blend(roi: np.ndarray, patch: np.ndarray, mask: np.ndarray) -> None:
    """In place: ``roi = patch * a + roi * (1 - a)`` with ``a = mask / 255``."""
    alpha = mask.astype(np.float32) * (1.0 / 255.0)
    roi[:] = cv2.blendLinear(patch, roi, alpha, 1.0 - alpha)
