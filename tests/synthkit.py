"""Procedural images and videos with known ground truth, for the tests.

Everything is seeded, so the same call draws the same pixels on every machine. A
"packaging" is a textured box front (background, graphics, brand text); a "scene" is
a cluttered frame with a packaging warped in by a known homography.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))  # type: ignore[return-value]


def draw_random_shapes(img: np.ndarray, rng: np.random.Generator, count: int) -> None:
    """Draw ``count`` random filled/outlined circles, rectangles, polygons and lines."""
    h, w = img.shape[:2]
    for _ in range(count):
        colour = _colour(rng)
        kind = int(rng.integers(0, 4))
        thick = int(rng.choice([-1, 2, 3]))
        if kind == 0:
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.circle(img, centre, int(rng.integers(4, max(5, min(w, h) // 6))), colour, thick)
        elif kind == 1:
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            dx = int(rng.integers(8, max(9, w // 4)))
            dy = int(rng.integers(8, max(9, h // 4)))
            p2 = (p1[0] + dx, p1[1] + dy)
            cv2.rectangle(img, p1, p2, colour, thick)
        elif kind == 2:
            pts = np.stack([rng.integers(0, w, 5), rng.integers(0, h, 5)], axis=1).astype(np.int32)
            cv2.fillPoly(img, [pts], colour)
        else:
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, p1, p2, colour, int(rng.integers(1, 5)))


def make_packaging(
    seed: int,
    *,
    text: str = "CRUNCHY OATS",
    size: tuple[int, int] = (360, 480),
    graphics: int = 40,
) -> np.ndarray:
    """A packaging-like box front, ``size = (width, height)``, BGR ``uint8``.

    The text block (brand, tagline, weight) is drawn at fixed positions from ``text``
    alone, while the background tint and graphics come from ``seed``: two calls with
    the same text and different seeds make look-alikes sharing their text.
    """
    w, h = size
    rng = np.random.default_rng(seed)
    base = np.array(_colour(rng), np.float32)
    # A vertical gradient, like printed packaging.
    ramp = np.linspace(0.6, 1.0, h, dtype=np.float32)[:, None, None]
    img = np.clip(base[None, None, :] * ramp + 40, 0, 255).astype(np.uint8).repeat(w, axis=1)
    draw_random_shapes(img, rng, graphics)
    # Fixed text layout, independent of the seed.
    cv2.rectangle(img, (0, int(h * 0.05)), (w, int(h * 0.22)), (255, 255, 255), -1)
    scale = 0.9 * w / max(200, 22 * len(text))
    cv2.putText(img, text, (int(w * 0.05), int(h * 0.17)), cv2.FONT_HERSHEY_DUPLEX,
                scale, (20, 20, 160), 2, cv2.LINE_AA)
    cv2.putText(img, "whole grain - 500 g", (int(w * 0.08), int(h * 0.92)),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6 * w / 360, (10, 10, 10), 2, cv2.LINE_AA)
    cv2.rectangle(img, (0, 0), (w - 1, h - 1), (0, 0, 0), 3)
    return img


def make_background(seed: int, size: tuple[int, int] = (960, 540), shapes: int = 150) -> np.ndarray:
    """A cluttered background frame, ``size = (width, height)``, BGR ``uint8``."""
    w, h = size
    rng = np.random.default_rng(seed)
    img = rng.integers(60, 200, (h, w, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 6)
    draw_random_shapes(img, rng, shapes)
    for _ in range(8):
        cv2.putText(
            img, f"SALE {int(rng.integers(5, 70))}%",
            (int(rng.integers(0, w - 100)), int(rng.integers(20, h))),
            cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.5, 1.2)), _colour(rng), 2,
        )
    return img


@dataclass(frozen=True)
class Scene:
    """A frame with a product warped in: ``quad`` is the truth outline in the frame."""

    image: np.ndarray
    homography: np.ndarray
    quad: np.ndarray

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Truth ``(x, y, w, h)`` box of the outline, clipped to the frame."""
        h, w = self.image.shape[:2]
        x0, y0 = np.clip(self.quad.min(axis=0), 0, [w, h])
        x1, y1 = np.clip(self.quad.max(axis=0), 0, [w, h])
        return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def place_product(
    background: np.ndarray, product: np.ndarray, quad: Iterable[Iterable[float]]
) -> Scene:
    """Warp ``product`` so its corners land on ``quad`` (TL, TR, BR, BL) in a copy of ``background``."""
    ph, pw = product.shape[:2]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    dst = np.array(list(quad), np.float32).reshape(4, 2)
    H = cv2.getPerspectiveTransform(src, dst)
    h, w = background.shape[:2]
    warped = cv2.warpPerspective(product, H, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), H, (w, h), flags=cv2.INTER_NEAREST)
    out = background.copy()
    out[mask > 0] = warped[mask > 0]
    return Scene(image=out, homography=H, quad=dst)


def write_video(
    path: str | Path, frames: Iterable[np.ndarray], *, fps: float = 25.0, fourcc: str = "mp4v"
) -> Path:
    """Write BGR frames (all the same size) to ``path`` with OpenCV; returns the path."""
    path = Path(path)
    writer: cv2.VideoWriter | None = None
    try:
        for frame in frames:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {fourcc} to {path}")
            writer.write(frame)
    finally:
        if writer is not None:
            writer.release()
    return path


def shot_frames(
    seed: int, count: int, *, size: tuple[int, int] = (320, 180), pan: int = 2
) -> list[np.ndarray]:
    """``count`` frames of one "shot": a textured background panned ``pan`` px per frame."""
    w, h = size
    wide = make_background(seed, (w + pan * count + 1, h), shapes=60)
    return [np.ascontiguousarray(wide[:, i * pan : i * pan + w]) for i in range(count)]


def motion_blurred(image: np.ndarray, length: int) -> np.ndarray:
    """``image`` with horizontal motion blur ``length`` pixels long (a camera jerk)."""
    return cv2.filter2D(image, -1, np.full((1, length), 1 / length, np.float32))
