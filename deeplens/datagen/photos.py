"""Catalog photos of a product: the flat front, an angled packshot, a colour-shifted shot.

``front.jpg`` is the artwork itself, edge to edge, so its corners *are* the product's
corners (a homography from it maps straight onto the ground-truth outline). The other
two stand in for the extra photos real catalogs have: taken at an angle on a studio
backdrop, or under a different white balance.
"""

from __future__ import annotations

import cv2
import numpy as np

from .compositing import blend, mip_levels, paste_warped
from .geometry import Pose, project_quad


def product_photo(kind: str, art: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo called ``kind`` (``front.jpg``, ``angled.jpg`` or ``shifted.jpg``) of ``art``."""
    if kind == "front.jpg":
        return art.copy()
    if kind == "angled.jpg":
        return angled_photo(art, rng)
    if kind == "shifted.jpg":
        return shifted_photo(art, rng)
    raise ValueError(f"unknown photo kind {kind!r}")


def angled_photo(art: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The product turned 20-35 degrees on a light studio backdrop, with a soft shadow."""
    h, w = art.shape[:2]
    pad = int(0.18 * max(h, w))
    ch, cw = h + 2 * pad, w + 2 * pad
    top, bottom = rng.uniform(215, 245), rng.uniform(170, 205)
    backdrop = np.linspace(top, bottom, ch, dtype=np.float32)[:, None, None] * np.ones((1, cw, 3), np.float32)
    canvas = backdrop.astype(np.uint8)
    pose = Pose(
        cx=cw / 2,
        cy=ch / 2,
        height=h * 0.95,
        rotation=float(rng.uniform(-5, 5)),
        yaw=float(rng.choice([-1, 1]) * rng.uniform(20, 35)),
        pitch=float(rng.uniform(-10, 10)),
    )
    quad = project_quad(w, h, pose)
    # Shadow: the product's silhouette, shifted down-right and blurred, darkens the backdrop.
    shadow = np.zeros((ch, cw), np.uint8)
    cv2.fillConvexPoly(shadow, np.round((quad + [pad * 0.08, pad * 0.12]) * 16).astype(np.int32), 110, cv2.LINE_AA, 4)
    shadow = cv2.GaussianBlur(shadow, (0, 0), pad * 0.15)
    blend(canvas, np.zeros_like(canvas), shadow)
    paste_warped(canvas, mip_levels(art), quad)
    return canvas


def shifted_photo(art: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same face under other light: hue, saturation, exposure and white balance shifted."""
    hsv = cv2.cvtColor(art, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.choice([-1, 1]) * rng.uniform(4, 9)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.7, 1.2), 0, 255)
    hsv[..., 2] = 255.0 * (hsv[..., 2] / 255.0) ** rng.uniform(0.75, 1.3)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    out *= rng.uniform(0.88, 1.12, 3).astype(np.float32)  # white balance, per channel
    return np.clip(out, 0, 255).astype(np.uint8)
