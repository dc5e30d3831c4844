"""Colour palettes for packaging, built from colour-harmony rules in HSV.

A palette is chosen so that text stays readable (ink contrasts with the background) and
accents stand out, because low-contrast artwork yields few keypoints and would make the
matcher's job artificially hard in the wrong way.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

BGR = tuple[int, int, int]

# Hue offsets of classic harmony schemes (fractions of the colour wheel).
_SCHEMES = {"complementary": 0.5, "triad": 1 / 3, "split": 0.42, "analogous": 0.09}


@dataclass(frozen=True)
class Palette:
    """The colours of one package, in OpenCV's BGR order."""

    bg_top: BGR
    bg_bottom: BGR
    accent: BGR
    accent2: BGR
    panel: BGR  # plain area behind text blocks and the barcode's surround
    ink: BGR  # text on the background


def hsv_to_bgr(h: float, s: float, v: float) -> BGR:
    """HSV (each in [0, 1], hue wraps) to an 8-bit BGR triple."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (round(b * 255), round(g * 255), round(r * 255))


def luminance(c: BGR) -> float:
    """Relative luminance in [0, 1] (Rec. 601 weights are plenty here)."""
    b, g, r = c
    return (0.114 * b + 0.587 * g + 0.299 * r) / 255.0


def contrasting(c: BGR, dark: BGR = (25, 20, 20), light: BGR = (245, 245, 240)) -> BGR:
    """``dark`` on light colours, ``light`` on dark ones."""
    return dark if luminance(c) > 0.55 else light


def random_palette(rng: np.random.Generator) -> Palette:
    """A fresh harmonious palette."""
    hue = float(rng.random())
    offset = _SCHEMES[str(rng.choice(list(_SCHEMES)))]
    sat = float(rng.uniform(0.45, 0.95))
    val = float(rng.uniform(0.45, 0.95))
    bg_top = hsv_to_bgr(hue, sat, val)
    bg_bottom = hsv_to_bgr(hue + rng.uniform(-0.05, 0.05), sat * rng.uniform(0.8, 1.1), val * rng.uniform(0.6, 0.85))
    accent = hsv_to_bgr(hue + offset, rng.uniform(0.7, 1.0), rng.uniform(0.75, 1.0))
    accent2 = hsv_to_bgr(hue - offset * rng.choice([1.0, 2.0]), rng.uniform(0.5, 1.0), rng.uniform(0.35, 1.0))
    # Panels are near-white or near-black, whichever contrasts more with the background.
    panel = hsv_to_bgr(hue, 0.08, 0.97) if luminance(bg_top) < 0.6 else hsv_to_bgr(hue, 0.5, 0.18)
    return Palette(bg_top, bg_bottom, accent, accent2, panel, contrasting(bg_top))
