"""The evidence picture of a verified match: product | frame, outline, correspondences.

It is what a person looks at to trust (or dispute) a match, so it shows exactly what
the verifier used: the projected product outline and a sample of inlier pairs.
"""

from __future__ import annotations

import cv2
import numpy as np

from deeplens.vision.images import check_bgr_image
from deeplens.vision.verify import Verification

CAPTION_HEIGHT = 36
MAX_LINES = 60

_OUTLINE = (0, 255, 0)
_LINE = (0, 200, 255)
_CAPTION_BG = (32, 32, 32)
_CAPTION_FG = (255, 255, 255)


def evidence_size(
    product_shape: tuple[int, ...], frame_shape: tuple[int, ...], height: int = 480
) -> tuple[int, int]:
    """``(height, width)`` of the picture :func:`render_evidence` draws for these inputs."""
    pw = max(1, round(product_shape[1] * height / product_shape[0]))
    fw = max(1, round(frame_shape[1] * height / frame_shape[0]))
    return height + CAPTION_HEIGHT, pw + fw


def _ascii(text: str) -> str:
    # Hershey fonts only draw ASCII; anything else would come out as '?' anyway.
    return text.encode("ascii", "replace").decode("ascii")


def render_evidence(
    product_img: np.ndarray,
    frame_img: np.ndarray,
    verification: Verification,
    *,
    title: str = "",
    score: float | None = None,
    height: int = 480,
) -> np.ndarray:
    """Draw the side-by-side evidence image (BGR ``uint8``).

    Layout: the product (left) and the frame (right) scaled to ``height``; the product
    outline (``verification.corners``) as a green polygon on the frame; up to 60 inlier
    correspondences (an even, deterministic subsample) as lines; a caption bar below
    with ``title``, inliers/matches, coverage and ``score`` (default
    ``verification.score``). The size is :func:`evidence_size`.
    Coordinates in ``verification`` must be in the pixels of these two images.
    """
    check_bgr_image(product_img)
    check_bgr_image(frame_img)
    out_h, out_w = evidence_size(product_img.shape, frame_img.shape, height)
    pw = max(1, round(product_img.shape[1] * height / product_img.shape[0]))
    fw = out_w - pw
    sp = height / product_img.shape[0]
    sf = height / frame_img.shape[0]

    canvas = np.zeros((out_h, out_w, 3), np.uint8)
    canvas[:height, :pw] = cv2.resize(product_img, (pw, height), interpolation=cv2.INTER_AREA)
    canvas[:height, pw:] = cv2.resize(frame_img, (fw, height), interpolation=cv2.INTER_AREA)

    offset = np.array([pw, 0], np.float64)
    corners = verification.corners.astype(np.float64) * sf + offset
    # Sub-pixel drawing (shift=4) keeps thin lines where they belong after scaling.
    outline = np.rint(corners * 16).astype(np.int32)
    cv2.polylines(canvas, [outline], True, _OUTLINE, 2, cv2.LINE_AA, shift=4)

    pts = verification.inlier_points
    if len(pts) > MAX_LINES:
        pts = pts[np.linspace(0, len(pts) - 1, MAX_LINES).round().astype(int)]
    for px, py, fx, fy in pts.astype(np.float64):
        a = (round(px * sp), round(py * sp))
        b = (round(fx * sf + pw), round(fy * sf))
        cv2.line(canvas, a, b, _LINE, 1, cv2.LINE_AA)
        cv2.circle(canvas, a, 3, _LINE, -1, cv2.LINE_AA)
        cv2.circle(canvas, b, 3, _LINE, -1, cv2.LINE_AA)
    cv2.line(canvas, (pw, 0), (pw, height - 1), (255, 255, 255), 1)

    canvas[height:] = _CAPTION_BG
    shown = verification.score if score is None else score
    parts = [_ascii(title)] if title else []
    parts.append(
        f"inliers {verification.inliers}/{verification.matches}"
        f"  coverage {verification.coverage:.2f}  score {shown:.2f}"
    )
    caption = "   ".join(parts)
    font_scale = 0.55
    (text_w, _), _ = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    if text_w > out_w - 16:  # shrink a long caption rather than cut it off
        font_scale = max(0.3, font_scale * (out_w - 16) / text_w)
    cv2.putText(canvas, caption, (8, height + CAPTION_HEIGHT - 12),
                cv2.FONT_HERSHEY_SIMPLEX, font_scale, _CAPTION_FG, 1, cv2.LINE_AA)
    return canvas
