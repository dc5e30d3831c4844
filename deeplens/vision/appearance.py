"""Photometric agreement: once a homography aligns a product photo with a frame, does the
frame *look like* the product there?

Geometric verification alone trusts any planar structure the two share. Packaging
shares a lot of it across designs: a brand word and logo, a block of fine print, a
barcode, a badge, the border. On the benchmark, a distractor that shares a catalog
product's brand gave 35-48 consistent inliers over 70 % of the product's cells in
frame after frame. Its colours and the rest of its artwork differ, which the aligned
pixels show at once.

The comparison is deliberately coarse (the photo scaled so its longer side is
:data:`COMPARE_SIDE` pixels) so motion blur, noise and small alignment errors barely
matter, and it uses zero-mean normalised cross-correlation per colour
channel, so exposure and white-balance changes (lighting drift, a colour-shifted
catalog photo) cancel out. Only the area inside the convex hull of the inliers is
compared: an angled catalog photo shows the product on a studio backdrop, and the
backdrop is not the product.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deeplens.vision.images import check_bgr_image

COMPARE_SIDE = 64
"""Longer side, in pixels, at which a product photo and the aligned frame are compared."""

_MIN_PIXELS = 24
"""Compared pixels below which agreement is not measurable (reported as 0)."""


@dataclass(frozen=True)
class ProductTemplate:
    """A product photo reduced for photometric comparison."""

    pixels: np.ndarray
    """``(h, w, 3)`` float32 BGR, area-reduced so its longer side is :data:`COMPARE_SIDE`."""
    width: int
    """Width of the original photo (the coordinate frame of homographies and inliers)."""
    height: int
    """Height of the original photo."""


def product_template(photo: np.ndarray) -> ProductTemplate:
    """Reduce a BGR ``uint8`` product photo to a :class:`ProductTemplate`."""
    check_bgr_image(photo)
    height, width = photo.shape[:2]
    size = _compare_size(width, height)
    return ProductTemplate(cv2.resize(photo, size, interpolation=cv2.INTER_AREA).astype(np.float32), width, height)


def appearance_agreement(
    template: ProductTemplate, frame: np.ndarray, homography: np.ndarray, region_points: np.ndarray
) -> float:
    """How much the frame, aligned by ``homography``, looks like the product photo: in [-1, 1].

    ``homography`` maps product photo pixels to frame pixels; ``region_points``
    (``(K, 2)``, photo pixels: the inliers, or the product's outline) bound the compared
    area by their convex hull. The result
    is the mean over the three colour channels of the normalised cross-correlation of
    the aligned pixels inside that hull (and inside the frame): about 0.65-0.9 for the
    product itself, about 0.1-0.55 for a different design that shares parts of it.
    """
    return AlignedFrame(template, frame, homography).agreement(region_points)


class AlignedFrame:
    """A frame aligned on a product photo once, to compare over several regions of it (see :func:`appearance_agreement`)."""

    def __init__(self, template: ProductTemplate, frame: np.ndarray, homography: np.ndarray) -> None:
        check_bgr_image(frame)
        self._template = template
        sh, sw = template.pixels.shape[:2]
        # Photo pixels -> comparison pixels, so sampling the frame at H . S^-1 aligns it.
        scale = np.diag([sw / template.width, sh / template.height, 1.0])
        to_frame = np.asarray(homography, np.float64) @ np.linalg.inv(scale)
        self._aligned = cv2.warpPerspective(frame, to_frame, (sw, sh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP).astype(np.float32)
        self._in_frame = cv2.warpPerspective(
            np.full(frame.shape[:2], 255, np.uint8), to_frame, (sw, sh), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
        ) > 0

    def agreement(self, region_points: np.ndarray) -> float:
        """:func:`appearance_agreement` inside the convex hull of ``region_points`` (photo pixels)."""
        template = self._template
        sh, sw = template.pixels.shape[:2]
        hull_mask = np.zeros((sh, sw), np.uint8)
        if len(region_points) >= 3:
            hull = cv2.convexHull((np.asarray(region_points, np.float32) * [sw / template.width, sh / template.height]).astype(np.float32))
            cv2.fillConvexPoly(hull_mask, np.round(hull).astype(np.int32), 1)
        mask = self._in_frame & (hull_mask > 0)
        if int(mask.sum()) < _MIN_PIXELS:
            return 0.0
        a = template.pixels[mask]
        b = self._aligned[mask]
        return float(np.mean([_zncc(a[:, c], b[:, c]) for c in range(3)]))


def _compare_size(width: int, height: int) -> tuple[int, int]:
    s = COMPARE_SIDE / max(width, height)
    return max(8, round(width * s)), max(8, round(height * s))


def _zncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / norm) if norm > 1e-6 else 0.0
