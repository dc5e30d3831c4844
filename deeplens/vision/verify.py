"""Geometric verification: does the product appear in the frame, and where?

Nearest-neighbour descriptor matches are cheap and noisy; what makes a match
trustworthy is that many of them agree on one *plausible* planar mapping. A prior
measurement on real data: RANSAC inliers alone (>= 20, no sanity check) gave precision
0.08; with a strict homography sanity check and >= 30 inliers, precision 1.0. Hence
every check below is strict, and all thresholds are parameters. The sanity and coverage
checks, the photometric check and the rival-product test now do much of what a high inlier
count did: :func:`verify_pair` asks 12 inliers by default, and the pipeline 20
(``DEEPLENS_MATCH_MIN_INLIERS``).

Pipeline: exact brute-force kNN (k=2) matching -> Lowe ratio test -> one-to-one (a frame
keypoint may support only one product keypoint) -> homography by MAGSAC++ -> inliers
re-counted by reprojection error -> sanity checks on the projected product outline ->
coverage check (inliers must spread over the product, not sit only on a logo or text
block that a look-alike shares; on synthetic look-alikes sharing the brand text, that
text alone gave 40-55 consistent inliers, so inlier count alone cannot reject them).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deeplens.vision.local_features import LocalFeatures

REFERENCE_SIDE = 960
"""``ransac_threshold`` is in pixels of a frame whose longer side is this long."""
OUTLIER_SHARE = 0.01
"""Share of a photo's keypoints that may lie beyond the product's outline (a speck on the
backdrop, a shadow's edge) without moving it."""
SNAP_SHARE = 0.08
"""Keypoints this close to any edge of a photo (a share of its side) mean a photo cropped to
the product; a backdrop leaves wider margins (13-27% on the generator's angled photos, where
the crops' nearest edge is at most 6%)."""


@dataclass(frozen=True)
class Verification:
    """A verified product-in-frame match."""

    inliers: int
    """Matches consistent with the homography."""
    matches: int
    """Matches that passed the ratio and one-to-one tests (the RANSAC input)."""
    homography: np.ndarray
    """``3x3`` float64, product pixel coordinates -> frame pixel coordinates."""
    corners: np.ndarray
    """``(4, 2)`` float32: the product outline (TL, TR, BR, BL) projected into the frame;
    may extend past the frame edges."""
    outline: np.ndarray
    """``(4, 2)`` float64: the product outline in its photo (:func:`product_outline`), which ``corners`` projects."""
    box: tuple[int, int, int, int]
    """``(x, y, w, h)`` bounding box of ``corners``, clipped to the frame."""
    inlier_points: np.ndarray
    """``(K, 4)`` float32 rows ``[px, py, fx, fy]``: product point, frame point."""
    inlier_ratio: float
    """``inliers / matches``."""
    coverage: float
    """Share of the product's textured, visible grid cells (4x4 over the product image)
    that hold at least one inlier: near 1 when the whole product matches, about 0.25-0.35
    when only a shared part (brand text, logo) does."""
    support: float
    """Share of the frame keypoints inside the outline that are inliers (informational;
    lower for ORB and for small products)."""

    @property
    def score(self) -> float:
        """A ``[0, 1)`` confidence for ranking and fusion: saturating in the inlier
        count (0.5 at 30 inliers) times ``coverage``. A heuristic, not a probability."""
        return float(self.inliers / (self.inliers + 30.0) * self.coverage)


@dataclass(frozen=True)
class SanityLimits:
    """Bounds a projected product outline must respect to be a plausible view."""

    min_area_fraction: float = 0.005
    max_area_fraction: float = 1.0
    max_opposite_side_ratio: float = 3.0
    """Perspective shortens one side of a pair; more than 3x means a grazing view or a
    degenerate fit."""
    max_aspect_change: float = 3.0
    """Outline aspect ratio vs the product's, either way."""
    min_corner_angle_deg: float = 35.0
    max_anisotropy: float = 4.0
    """Ratio of the singular values of the local affine map at the product centre."""


def _project(H: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project ``(N, 2)`` points; also return the homogeneous denominators."""
    homog = np.hstack([pts, np.ones((len(pts), 1))]) @ H.T
    w = homog[:, 2]
    safe = np.where(np.abs(w) < 1e-12, 1e-12, w)
    return homog[:, :2] / safe[:, None], w


def _turns(quad: np.ndarray) -> np.ndarray:
    """Cross products of consecutive edges (positive = clockwise turn in image coords)."""
    edges = np.roll(quad, -1, axis=0) - quad
    nxt = np.roll(edges, -1, axis=0)
    return edges[:, 0] * nxt[:, 1] - edges[:, 1] * nxt[:, 0]


def _polygon_area(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def product_outline(product: LocalFeatures) -> np.ndarray:
    """The product's outline in its photo, ``(4, 2)`` float64 corners clockwise from the top left.

    A catalog photo is often the product on a plain backdrop, turned or with a margin,
    rather than cropped to it. Projecting the photo's rectangle then boxes the backdrop
    too: such a box overlaps the product beside it in a frame and loses that place to
    it. The backdrop has no texture, so the keypoints outline the product: the outline is
    the smallest rectangle, turned as need be, around them, once the few strays
    :data:`OUTLIER_SHARE` allows are left out. A backdrop leaves a margin without
    keypoints on every side; a photo cropped to the product has keypoints near at least
    one edge (within :data:`SNAP_SHARE`), though its artwork may be plain along another,
    and its outline is its rectangle. ORB finds no keypoints within 31 pixels of an edge
    at each level of its pyramid, too far in to tell a margin from a crop, so an ORB
    photo's outline is its rectangle.
    """
    pw, ph = product.width, product.height
    rectangle = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float64)
    points = product.points.astype(np.float64)
    if product.kind != "sift" or len(points) < 8:
        return rectangle
    low, high = np.quantile(points, [OUTLIER_SHARE, 1 - OUTLIER_SHARE], axis=0)
    margins = np.concatenate([low, np.array([pw, ph]) - high]) / np.array([pw, ph, pw, ph])
    if margins.min() < SNAP_SHARE:
        return rectangle
    kept = points[np.all((points >= low) & (points <= high), axis=1)]
    corners = cv2.boxPoints(cv2.minAreaRect(kept.astype(np.float32))).astype(np.float64)
    centre = corners.mean(axis=0)
    # Clockwise in image coordinates (y down) is increasing angle; start at the top left.
    corners = corners[np.argsort(np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0]))]
    corners = np.roll(corners, -int(np.argmin(corners.sum(axis=1))), axis=0)
    return corners if np.all(_turns(corners) > 0) else rectangle


def check_outline(
    H: np.ndarray,
    outline: np.ndarray,
    frame_size: tuple[int, int],
    limits: SanityLimits = SanityLimits(),
) -> np.ndarray | None:
    """Project ``outline`` by ``H``; return the quad if it is a plausible view, else ``None``.

    ``frame_size`` is ``(width, height)``. Checks: finite; every corner in front of the
    camera (positive homogeneous ``w``, so the quad is not split through infinity);
    convex, not self-intersecting and not mirrored; area within the given fractions of
    the frame; opposite sides, aspect ratio, corner angles and local anisotropy bounded.
    """
    if not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-12:
        return None
    quad, w = _project(H, outline)
    if not np.all(np.isfinite(quad)) or np.any(w <= 1e-9):
        return None

    # Convex and same orientation as the source (the outline turns clockwise): a
    # self-intersecting "bow tie" or a mirror image flips at least one turn.
    if np.any(_turns(quad) <= 0):
        return None

    fw, fh = frame_size
    area = _polygon_area(quad) / float(fw * fh)
    if not limits.min_area_fraction <= area <= limits.max_area_fraction:
        return None

    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)  # top, right, bottom, left
    if np.any(sides < 1.0):
        return None
    for a, b in ((sides[0], sides[2]), (sides[1], sides[3])):
        if max(a, b) / min(a, b) > limits.max_opposite_side_ratio:
            return None
    src_sides = np.linalg.norm(np.roll(outline, -1, axis=0) - outline, axis=1)
    src_aspect = (src_sides[0] + src_sides[2]) / max(src_sides[1] + src_sides[3], 1e-9)
    aspect = (sides[0] + sides[2]) / (sides[1] + sides[3])
    change = aspect / src_aspect
    if not 1.0 / limits.max_aspect_change <= change <= limits.max_aspect_change:
        return None

    edges = np.roll(quad, -1, axis=0) - quad
    prev = -np.roll(edges, 1, axis=0)
    cos = np.sum(edges * prev, axis=1) / (sides * np.roll(sides, 1))
    angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    lo = limits.min_corner_angle_deg
    if np.any(angles < lo) or np.any(angles > 180.0 - lo):
        return None

    # Local affine map (Jacobian of H) at the outline centre: orientation-preserving and
    # not stretched far more in one direction than the other.
    cx, cy = outline.mean(axis=0)
    h = H / H[2, 2] if abs(H[2, 2]) > 1e-12 else H
    den = h[2, 0] * cx + h[2, 1] * cy + h[2, 2]
    u = (h[0, 0] * cx + h[0, 1] * cy + h[0, 2]) / den
    v = (h[1, 0] * cx + h[1, 1] * cy + h[1, 2]) / den
    J = np.array(
        [
            [(h[0, 0] - u * h[2, 0]) / den, (h[0, 1] - u * h[2, 1]) / den],
            [(h[1, 0] - v * h[2, 0]) / den, (h[1, 1] - v * h[2, 1]) / den],
        ]
    )
    if np.linalg.det(J) <= 0:
        return None
    s = np.linalg.svd(J, compute_uv=False)
    if s[1] <= 1e-9 or s[0] / s[1] > limits.max_anisotropy:
        return None
    return quad.astype(np.float32)


def _points_in_convex_quad(points: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Boolean mask of ``points`` inside a clockwise (image coords) convex ``quad``."""
    inside = np.ones(len(points), bool)
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        cross = (b[0] - a[0]) * (points[:, 1] - a[1]) - (b[1] - a[1]) * (points[:, 0] - a[0])
        inside &= cross >= 0
    return inside


def _coverage(
    product: LocalFeatures,
    H: np.ndarray,
    inlier_src: np.ndarray,
    frame_size: tuple[int, int],
    grid: int = 4,
) -> float:
    """Share of eligible product grid cells that contain an inlier.

    A cell is eligible when it has texture (>= 3 product keypoints) and its centre
    projects inside the frame, so a product that is partly out of frame is judged only
    on what the frame can show.
    """
    size = np.array([product.width, product.height], np.float64)

    def cells(points: np.ndarray) -> np.ndarray:
        ij = np.floor(points / size * grid).astype(int)
        ij = np.clip(ij, 0, grid - 1)
        return ij[:, 1] * grid + ij[:, 0]

    textured = np.bincount(cells(product.points.astype(np.float64)), minlength=grid * grid) >= 3
    hit = np.bincount(cells(inlier_src), minlength=grid * grid) > 0
    ij = np.stack(np.meshgrid(np.arange(grid), np.arange(grid)), -1).reshape(-1, 2)
    centres = (ij + 0.5) * size / grid  # row-major, like cells()
    projected, _ = _project(H, centres)
    fw, fh = frame_size
    x, y = projected[:, 0], projected[:, 1]
    visible = (x >= 0) & (x < fw) & (y >= 0) & (y < fh)
    eligible = textured & visible
    if not eligible.any():
        return 0.0
    return float((eligible & hit).sum() / eligible.sum())


_BLOCK = 4_000_000
"""Distance-matrix elements computed at once (16 MB of float32), bounding memory."""


def _knn2_l2(query: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact nearest and second-nearest train neighbour per query row, by squared L2.

    Returns ``(nearest_index, nearest_sq_distance, second_sq_distance)``. One BLAS
    matrix product (``|q-t|^2 = |q|^2 + |t|^2 - 2 q.t``) instead of OpenCV's
    ``BFMatcher``: about 2 ms instead of about 15 ms for 500 x 1000 SIFT descriptors
    on one core, with the same neighbours up to exact ties.
    """
    q = np.ascontiguousarray(query, np.float32)
    t = np.ascontiguousarray(train, np.float32)
    q_norm = np.einsum("ij,ij->i", q, q)
    t_norm = np.einsum("ij,ij->i", t, t)
    n = len(q)
    nearest = np.empty(n, np.int64)
    d1 = np.empty(n, np.float32)
    d2 = np.empty(n, np.float32)
    rows = max(1, _BLOCK // max(1, len(t)))
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        # |t|^2 - 2 q.t ranks neighbours; |q|^2 is added back only to the two kept.
        dist = q[lo:hi] @ t.T
        dist *= -2.0
        dist += t_norm[None, :]
        ar = np.arange(hi - lo)
        first = dist.argmin(axis=1)
        best = dist[ar, first]
        dist[ar, first] = np.inf
        second = dist[ar, dist.argmin(axis=1)]
        nearest[lo:hi] = first
        # Float rounding can dip a tiny distance below zero.
        d1[lo:hi] = np.maximum(best + q_norm[lo:hi], 0.0)
        d2[lo:hi] = np.maximum(second + q_norm[lo:hi], 0.0)
    return nearest, d1, d2


def _knn2_hamming(query: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact 2-NN by Hamming distance (OpenCV's popcount brute force)."""
    knn = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query, train, k=2)
    nearest = np.array([m[0].trainIdx for m in knn], np.int64)
    d1 = np.array([m[0].distance for m in knn], np.float32)
    d2 = np.array([m[1].distance for m in knn], np.float32)
    return nearest, d1, d2


def _match(product: LocalFeatures, frame: LocalFeatures, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches, one-to-one on the frame side: ``(product_idx, frame_idx)``.

    Exact kNN (k=2), never approximate: at ~1000 x 1000 descriptors it is cheap, and an
    approximate index (FLANN) would only lose true matches.
    """
    if product.kind == "sift":
        nearest, d1, d2 = _knn2_l2(product.descriptors, frame.descriptors)
        good = d1 < (ratio * ratio) * d2  # squared distances: compare with ratio squared
    else:
        nearest, d1, d2 = _knn2_hamming(product.descriptors, frame.descriptors)
        good = d1 < ratio * d2
    q_idx = np.flatnonzero(good)
    t_idx = nearest[q_idx]
    # Several product points may pick the same frame point (repeated texture); keep
    # only the closest, or one frame feature would count as many inliers.
    order = np.lexsort((d1[q_idx], t_idx))
    q_idx, t_idx = q_idx[order], t_idx[order]
    first = np.ones(len(t_idx), bool)
    first[1:] = t_idx[1:] != t_idx[:-1]
    return q_idx[first], t_idx[first]


def _bounding_box(quad: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` of whole pixels around ``quad``, clipped to the frame."""
    x0, y0 = np.clip(quad.min(axis=0), 0, [width, height])
    x1, y1 = np.clip(quad.max(axis=0), 0, [width, height])
    bx, by = int(np.floor(x0)), int(np.floor(y0))
    return bx, by, int(np.ceil(x1)) - bx, int(np.ceil(y1)) - by


def verify_pair(
    product: LocalFeatures,
    frame: LocalFeatures,
    *,
    ratio: float = 0.8,
    min_inliers: int = 12,
    ransac_threshold: float = 5.0,
    min_coverage: float = 0.5,
    min_support: float = 0.0,
    limits: SanityLimits = SanityLimits(),
) -> Verification | None:
    """Verify that ``product`` appears in ``frame``; ``None`` when it does not.

    ``ransac_threshold`` is the reprojection tolerance in pixels for a frame whose longer
    side is 960 px; it scales with the frame's size, so the same value works for 540p
    and 4K frames. ``min_inliers`` is the main precision knob (the pipeline asks
    ``DEEPLENS_MATCH_MIN_INLIERS``, 20; see the module docstring).
    ``min_coverage`` rejects look-alikes that share only part of the design (see
    :attr:`Verification.coverage`); ``min_support`` is an optional extra gate (off).
    ``limits`` bounds the shape of the projected outline (see :func:`check_outline`).
    The outline projected is the product's in its photo (:func:`product_outline`), not
    the photo's whole rectangle.
    """
    if product.kind != frame.kind:
        raise ValueError(f"cannot match {product.kind} features against {frame.kind} features")
    if len(product) < max(min_inliers, 4) or len(frame) < max(min_inliers, 4):
        return None
    q_idx, t_idx = _match(product, frame, ratio)
    if len(q_idx) < max(min_inliers, 4):
        return None
    src = product.points[q_idx].astype(np.float64)
    dst = frame.points[t_idx].astype(np.float64)

    threshold = ransac_threshold * max(frame.width, frame.height) / REFERENCE_SIDE
    # MAGSAC++ is less sensitive to the exact threshold than plain RANSAC and refits
    # the model on its inliers; a fixed seed in OpenCV's USAC keeps results repeatable.
    H, _ = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, threshold, maxIters=5000, confidence=0.999)
    if H is None:
        return None

    # Count inliers ourselves with one plain rule (reprojection error), whatever the
    # estimator's internal weighting.
    projected, w = _project(H, src)
    errors = np.linalg.norm(projected - dst, axis=1)
    inlier_mask = (w > 0) & (errors < threshold)
    inliers = int(inlier_mask.sum())
    if inliers < min_inliers:
        return None

    outline = product_outline(product)
    quad = check_outline(H, outline, (frame.width, frame.height), limits)
    if quad is None:
        return None

    coverage = _coverage(product, H, src[inlier_mask], (frame.width, frame.height))
    if coverage < min_coverage:
        return None
    in_quad = _points_in_convex_quad(frame.points, quad.astype(np.float64))
    support = inliers / max(int(in_quad.sum()), inliers)
    if support < min_support:
        return None

    inlier_points = np.hstack([src[inlier_mask], dst[inlier_mask]]).astype(np.float32)
    return Verification(
        inliers=inliers,
        matches=len(q_idx),
        homography=H,
        corners=quad,
        outline=outline,
        box=_bounding_box(quad, frame.width, frame.height),
        inlier_points=inlier_points,
        inlier_ratio=inliers / len(q_idx),
        coverage=coverage,
        support=float(support),
    )
