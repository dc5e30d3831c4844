"""Where a flat product lands in an image: pose -> quadrilateral -> box.

A product is a flat rectangle in 3-D. Its pose (centre, size, in-plane rotation and
out-of-plane tilt) is projected with a pinhole camera to the four image corners; the
same quad drives the renderer's perspective warp and the ground-truth box, so the two
can never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .truth import Box

# Camera distance in units of the product's larger side. Smaller = stronger perspective;
# 3 is a phone held ~3 product-heights away, which looks natural.
_CAMERA_DISTANCE = 3.0


@dataclass(frozen=True)
class Pose:
    """Pose of a product in an image. Angles in degrees, lengths in pixels."""

    cx: float
    cy: float
    height: float  # on-screen height the product would have without tilt
    rotation: float = 0.0  # in-plane, clockwise on screen
    yaw: float = 0.0  # turn about the vertical axis
    pitch: float = 0.0  # tip about the horizontal axis


def project_quad(art_w: int, art_h: int, pose: Pose) -> np.ndarray:
    """Image corners (TL, TR, BR, BL) of an ``art_w x art_h`` rectangle seen at ``pose``; shape (4, 2)."""
    h = pose.height
    w = h * art_w / art_h
    corners = np.array([[-w / 2, -h / 2, 0.0], [w / 2, -h / 2, 0.0], [w / 2, h / 2, 0.0], [-w / 2, h / 2, 0.0]])
    yaw, pitch = math.radians(pose.yaw), math.radians(pose.pitch)
    ry = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
    rx = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]])
    p = corners @ (ry @ rx).T
    d = _CAMERA_DISTANCE * max(w, h)
    # Focal length == distance keeps the untilted product exactly ``height`` pixels tall.
    xy = p[:, :2] * (d / (d + p[:, 2:3]))
    rot = math.radians(pose.rotation)
    r2 = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
    return xy @ r2.T + np.array([pose.cx, pose.cy])


def quad_extent(quad: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the quad's axis-aligned bounds, unclipped."""
    return float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()), float(quad[:, 1].max())


def box_from_quad(quad: np.ndarray, width: int, height: int) -> Box | None:
    """Integer ``(x, y, w, h)`` covering the quad, clipped to the frame; None if off-frame."""
    x0, y0, x1, y1 = quad_extent(quad)
    ix0, iy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
    ix1, iy1 = min(width, math.ceil(x1)), min(height, math.ceil(y1))
    if ix1 <= ix0 or iy1 <= iy0:
        return None
    return (ix0, iy0, ix1 - ix0, iy1 - iy0)


def overlap_ratio(a: Box, b: Box) -> float:
    """Intersection area over the smaller box's area (1.0 = one box inside the other)."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return (ix * iy) / smaller if smaller > 0 else 0.0


def quad_area(quad: np.ndarray) -> float:
    """Area of a simple polygon (shoelace formula)."""
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
