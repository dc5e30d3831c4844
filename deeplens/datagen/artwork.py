"""Packaging artwork: render a product's front face from a compact, seeded spec.

The matcher downstream relies on SIFT/ORB keypoints + RANSAC homography and on a CNN
embedding, so the artwork is built like real packaging and is deliberately rich in
texture: gradient background, large brand word, product name, a logo of circles and
polygons, stripes, a pattern panel, a barcode and lines of fine print. Every product
gets hundreds of keypoints and a distinctive overall look; a look-alike shares only
some of these choices (see :mod:`deeplens.datagen.catalog`).

Drawing happens at twice the output size and is then area-downsampled, which
anti-aliases the Hershey strokes and polygon edges far better than drawing at 1x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .palette import BGR, Palette, contrasting, luminance

SUPERSAMPLE = 2

LAYOUTS = ("classic", "banner", "window", "split")
LOGOS = ("rings", "star", "polygon", "burst")
PATTERNS = ("dots", "triangles", "waves", "checker", "confetti")
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
NAME_FONTS = FONTS + (cv2.FONT_HERSHEY_SCRIPT_COMPLEX,)

Region = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the canvas

# Where each element goes, per layout. Keys missing from a layout are not drawn.
_REGIONS: dict[str, dict[str, Region]] = {
    "classic": {
        "brand": (0.06, 0.03, 0.94, 0.20),
        "logo": (0.05, 0.23, 0.42, 0.52),
        "pattern": (0.47, 0.24, 0.95, 0.52),
        "stripes": (0.0, 0.55, 1.0, 0.65),
        "name": (0.06, 0.67, 0.94, 0.79),
        "print": (0.05, 0.82, 0.58, 0.97),
        "barcode": (0.62, 0.82, 0.95, 0.97),
        "badge": (0.70, 0.40, 0.96, 0.60),
    },
    "banner": {
        "stripes": (0.0, 0.0, 1.0, 0.36),
        "logo": (0.28, 0.03, 0.72, 0.34),
        "panel": (0.04, 0.38, 0.96, 0.56),
        "brand": (0.07, 0.39, 0.93, 0.55),
        "name": (0.08, 0.58, 0.92, 0.68),
        "pattern": (0.04, 0.70, 0.96, 0.80),
        "barcode": (0.05, 0.83, 0.40, 0.97),
        "print": (0.44, 0.83, 0.95, 0.97),
        "badge": (0.74, 0.18, 0.98, 0.36),
    },
    "window": {
        "brand": (0.05, 0.03, 0.95, 0.17),
        "window": (0.10, 0.19, 0.90, 0.62),
        "pattern": (0.13, 0.21, 0.87, 0.60),
        "logo": (0.32, 0.27, 0.68, 0.54),
        "name": (0.06, 0.65, 0.94, 0.77),
        "stripes": (0.0, 0.78, 1.0, 0.81),
        "print": (0.05, 0.83, 0.60, 0.97),
        "barcode": (0.64, 0.83, 0.95, 0.97),
        "badge": (0.72, 0.12, 0.97, 0.30),
    },
    "split": {
        "column": (0.0, 0.0, 0.36, 1.0),
        "logo": (0.03, 0.03, 0.33, 0.30),
        "pattern": (0.03, 0.34, 0.33, 0.78),
        "stripes": (0.03, 0.80, 0.33, 0.97),
        "brand": (0.40, 0.05, 0.96, 0.22),
        "name": (0.40, 0.26, 0.96, 0.38),
        "print": (0.40, 0.44, 0.96, 0.74),
        "barcode": (0.55, 0.80, 0.95, 0.96),
        "badge": (0.70, 0.60, 0.97, 0.80),
    },
}


@dataclass(frozen=True)
class ArtSpec:
    """Every choice that defines one package face; rendering it is deterministic."""

    brand: str
    name: str
    palette: Palette
    layout: str
    width: int
    height: int
    brand_font: int
    name_font: int
    italic: bool
    logo: str
    logo_sides: int
    pattern: str
    stripe_angle: float  # degrees
    stripe_period: float  # fraction of the canvas width
    tagline: str | None  # text of a round sticker-like badge, or None for no badge
    weight: str
    small_print: tuple[str, ...]
    detail_seed: int  # barcode bars, pattern placement: what makes two similar specs differ


def render_artwork(spec: ArtSpec) -> np.ndarray:
    """Render ``spec`` as a BGR ``uint8`` image of ``spec.height x spec.width``."""
    rng = np.random.default_rng(spec.detail_seed)
    w, h = spec.width * SUPERSAMPLE, spec.height * SUPERSAMPLE
    pal = spec.palette
    img = _vertical_gradient(w, h, pal.bg_top, pal.bg_bottom)
    regions = {k: _to_px(v, w, h) for k, v in _REGIONS[spec.layout].items()}

    # Back to front: plain areas, then texture, then the elements that sit on top.
    if "column" in regions:
        _fill(img, regions["column"], pal.accent2)
    if "window" in regions:
        x0, y0, x1, y1 = regions["window"]
        _rounded_rect(img, regions["window"], radius=min(x1 - x0, y1 - y0) // 8, color=pal.panel)
    if "panel" in regions:
        _fill(img, regions["panel"], pal.panel)
    _stripes(img, regions["stripes"], spec.stripe_angle, spec.stripe_period * w, pal.accent, pal.bg_bottom)
    _pattern(img, regions["pattern"], spec.pattern, pal, rng)
    _logo(img, regions["logo"], spec.logo, spec.logo_sides, spec.brand[0], pal, rng)

    brand_bg = pal.panel if "panel" in regions else pal.bg_top
    _text_fit(img, spec.brand.upper(), regions["brand"], spec.brand_font, _text_color(brand_bg, pal),
              weight=0.13, italic=spec.italic, outline=contrasting(_text_color(brand_bg, pal)))  # fmt: skip
    name_bg = pal.accent2 if spec.layout == "split" else pal.bg_bottom
    _text_fit(img, spec.name, regions["name"], spec.name_font, contrasting(name_bg), weight=0.09)
    _fine_print(img, regions["print"], (spec.weight, *spec.small_print), pal)
    _barcode(img, regions["barcode"], rng)
    if spec.tagline:
        _badge(img, regions["badge"], spec.tagline, pal)
    # A thin frame line: real packages have die-cut edges and borders, and it makes the
    # outline itself a strong structure for the homography.
    inset = max(3, w // 60)
    cv2.rectangle(img, (inset, inset), (w - inset, h - inset), contrasting(pal.bg_top), max(2, w // 150), cv2.LINE_AA)
    return cv2.resize(img, (spec.width, spec.height), interpolation=cv2.INTER_AREA)


# -- helpers ---------------------------------------------------------------------------


def _to_px(r: Region, w: int, h: int) -> tuple[int, int, int, int]:
    return (round(r[0] * w), round(r[1] * h), round(r[2] * w), round(r[3] * h))


def _vertical_gradient(w: int, h: int, top: BGR, bottom: BGR) -> np.ndarray:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    rows = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return np.ascontiguousarray(np.broadcast_to(rows, (h, w, 3)).astype(np.uint8))


def _fill(img: np.ndarray, box: tuple[int, int, int, int], color: BGR) -> None:
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = color


def _rounded_rect(img: np.ndarray, box: tuple[int, int, int, int], radius: int, color: BGR) -> None:
    x0, y0, x1, y1 = box
    cv2.rectangle(img, (x0 + radius, y0), (x1 - radius, y1), color, -1)
    cv2.rectangle(img, (x0, y0 + radius), (x1, y1 - radius), color, -1)
    for cx in (x0 + radius, x1 - radius):
        for cy in (y0 + radius, y1 - radius):
            cv2.circle(img, (cx, cy), radius, color, -1, cv2.LINE_AA)


def _text_color(bg: BGR, pal: Palette) -> BGR:
    """Brand text: the accent when it stands out from ``bg``, else plain contrast."""
    return pal.accent if abs(luminance(pal.accent) - luminance(bg)) > 0.3 else contrasting(bg)


def _text_fit(
    img: np.ndarray,
    text: str,
    box: tuple[int, int, int, int],
    font: int,
    color: BGR,
    weight: float = 0.08,
    italic: bool = False,
    outline: BGR | None = None,
    align: str = "center",
) -> None:
    """Draw ``text`` as large as fits in ``box``; stroke width is ``weight`` x glyph height."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    face = font | (cv2.FONT_ITALIC if italic else 0)
    # Measure at thickness 2: OpenCV 5 renders thickness >= 2 as a wider bold face, so
    # sizing at thickness 1 would overflow the box.
    (tw, th), base = cv2.getTextSize(text, face, 1.0, 2)
    scale = min(bw * 0.94 / max(tw, 1), bh * 0.9 / max(th + base, 1))
    thick = max(1, round(scale * th * weight))
    (tw, th), base = cv2.getTextSize(text, face, scale, thick)
    x = x0 + (bw - tw) // 2 if align == "center" else x0
    y = y0 + (bh + th - base) // 2 + base // 2
    if outline is not None:
        # A halo drawn at offsets (stroke width alone does not thicken OpenCV 5 glyphs).
        o = max(1, round(th * 0.05))
        for dx, dy in ((-o, -o), (o, -o), (-o, o), (o, o), (0, -o), (0, o), (-o, 0), (o, 0)):
            cv2.putText(img, text, (x + dx, y + dy), face, scale, outline, thick, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), face, scale, color, thick, cv2.LINE_AA)


def _stripes(img: np.ndarray, box: tuple[int, int, int, int], angle: float, period: float, a: BGR, b: BGR) -> None:
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    rad = math.radians(angle)
    u = xs * math.cos(rad) + ys * math.sin(rad)
    on = (np.floor(u / max(period, 2.0)) % 2 == 0)[..., None]
    img[y0:y1, x0:x1] = np.where(on, np.array(a, np.uint8), np.array(b, np.uint8))


def _pattern(img: np.ndarray, box: tuple[int, int, int, int], kind: str, pal: Palette, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    colors = [pal.accent, pal.accent2, pal.panel, pal.ink, pal.bg_top]
    roi = np.empty((bh, bw, 3), np.uint8)
    roi[:] = pal.bg_bottom

    def pick() -> BGR:
        return colors[int(rng.integers(len(colors)))]

    if kind == "dots":
        cell = max(8, min(bw, bh) // 5)
        for cy in range(cell // 2, bh, cell):
            for cx in range(cell // 2, bw, cell):
                r = int(cell * rng.uniform(0.18, 0.46))
                cv2.circle(roi, (cx + int(rng.integers(-cell // 6, cell // 6 + 1)), cy), r, pick(), -1, cv2.LINE_AA)
    elif kind == "triangles":
        for _ in range(int(rng.integers(18, 34))):
            c = rng.uniform((0, 0), (bw, bh))
            pts = c + rng.normal(0, min(bw, bh) * 0.18, (3, 2))
            cv2.fillPoly(roi, [pts.astype(np.int32)], pick(), cv2.LINE_AA)
    elif kind == "waves":
        xs = np.arange(0, bw, 3, dtype=np.float32)
        for i in range(int(rng.integers(5, 9))):
            base = bh * (i + 0.5) / 8
            amp, freq, phase = bh * rng.uniform(0.03, 0.1), rng.uniform(1.5, 5.0), rng.uniform(0, 2 * np.pi)
            ys = base + amp * np.sin(xs / bw * 2 * np.pi * freq + phase)
            pts = np.stack([xs, ys], axis=1).astype(np.int32)
            cv2.polylines(roi, [pts], False, pick(), int(rng.integers(3, 9)), cv2.LINE_AA)
    elif kind == "checker":
        cell = max(8, min(bw, bh) // 6)
        a, b = pick(), pick()
        for j, cy in enumerate(range(0, bh, cell)):
            for i, cx in enumerate(range(0, bw, cell)):
                color = a if (i + j) % 2 == 0 else b
                if rng.random() < 0.15:
                    color = pick()
                cv2.rectangle(roi, (cx, cy), (cx + cell - 1, cy + cell - 1), color, -1)
                if rng.random() < 0.3:
                    cv2.line(roi, (cx, cy), (cx + cell, cy + cell), pick(), max(2, cell // 8), cv2.LINE_AA)
    else:  # confetti
        for _ in range(int(rng.integers(40, 80))):
            rect = (
                (float(rng.uniform(0, bw)), float(rng.uniform(0, bh))),
                (float(rng.uniform(4, bw * 0.12)), float(rng.uniform(3, bh * 0.08))),
                float(rng.uniform(0, 180)),
            )
            cv2.fillPoly(roi, [cv2.boxPoints(rect).astype(np.int32)], pick(), cv2.LINE_AA)
    img[y0:y1, x0:x1] = roi


def _logo(img: np.ndarray, box: tuple[int, int, int, int], kind: str, sides: int, letter: str, pal: Palette,
          rng: np.random.Generator) -> None:  # fmt: skip
    x0, y0, x1, y1 = box
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    r = min(x1 - x0, y1 - y0) / 2 * 0.92
    rot = float(rng.uniform(0, 2 * np.pi))

    def ngon(n: int, radius: float, phase: float) -> np.ndarray:
        t = phase + np.arange(n) * 2 * np.pi / n
        return (c + radius * np.stack([np.cos(t), np.sin(t)], 1)).astype(np.int32)

    center_color = pal.panel
    if kind == "rings":
        colors = [pal.accent, pal.panel, pal.accent2, pal.ink]
        for i, f in enumerate((1.0, 0.8, 0.62, 0.45)):
            cv2.circle(img, tuple(c.astype(int)), int(r * f), colors[i], -1, cv2.LINE_AA)
        center_color = pal.ink
    elif kind == "star":
        t = rot + np.arange(2 * sides) * np.pi / sides
        radii = np.where(np.arange(2 * sides) % 2 == 0, r, r * 0.5)
        star = (c + radii[:, None] * np.stack([np.cos(t), np.sin(t)], 1)).astype(np.int32)
        cv2.fillPoly(img, [star], pal.accent, cv2.LINE_AA)
        cv2.polylines(img, [star], True, pal.ink, max(2, int(r / 25)), cv2.LINE_AA)
        cv2.circle(img, tuple(c.astype(int)), int(r * 0.42), pal.accent2, -1, cv2.LINE_AA)
        center_color = pal.accent2
    elif kind == "polygon":
        cv2.fillPoly(img, [ngon(sides, r, rot)], pal.accent2, cv2.LINE_AA)
        cv2.fillPoly(img, [ngon(sides, r * 0.7, rot + np.pi / sides)], pal.accent, cv2.LINE_AA)
        cv2.polylines(img, [ngon(sides, r * 0.85, rot)], True, pal.panel, max(2, int(r / 20)), cv2.LINE_AA)
        center_color = pal.accent
    else:  # burst: alternating rays around a disc
        rays = 2 * (sides + 4)
        for i in range(rays):
            t0, t1 = rot + i * 2 * np.pi / rays, rot + (i + 1) * 2 * np.pi / rays
            tri = np.array([c, c + r * np.array([np.cos(t0), np.sin(t0)]), c + r * np.array([np.cos(t1), np.sin(t1)])])
            cv2.fillPoly(img, [tri.astype(np.int32)], pal.accent if i % 2 == 0 else pal.accent2, cv2.LINE_AA)
        cv2.circle(img, tuple(c.astype(int)), int(r * 0.5), pal.panel, -1, cv2.LINE_AA)
        center_color = pal.panel
    s = int(r * 0.6)
    cx, cy = int(c[0]), int(c[1])
    _text_fit(img, letter.upper(), (cx - s // 2, cy - s // 2, cx + s // 2, cy + s // 2), cv2.FONT_HERSHEY_TRIPLEX,
              contrasting(center_color), weight=0.14)  # fmt: skip


def _fine_print(img: np.ndarray, box: tuple[int, int, int, int], lines: tuple[str, ...], pal: Palette) -> None:
    x0, y0, x1, y1 = box
    _fill(img, box, pal.panel)
    ink = contrasting(pal.panel)
    pad = max(2, (x1 - x0) // 30)
    # The first line (net weight) is twice the height of the others.
    weights = [2.0] + [1.0] * (len(lines) - 1)
    unit = (y1 - y0 - 2 * pad) / sum(weights)
    y = y0 + pad
    for text, wgt in zip(lines, weights):
        hgt = unit * wgt
        font = cv2.FONT_HERSHEY_DUPLEX if wgt > 1 else cv2.FONT_HERSHEY_PLAIN
        _text_fit(img, text, (x0 + pad, int(y), x1 - pad, int(y + hgt)), font, ink, weight=0.1, align="left")
        y += hgt


def _barcode(img: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = box
    _fill(img, box, (250, 250, 250))
    pad = max(2, (x1 - x0) // 20)
    digits_h = (y1 - y0) // 4
    unit = max(1, (x1 - x0 - 2 * pad) // 70)
    x, black = x0 + pad, True
    while x < x1 - pad:
        width = unit * int(rng.integers(1, 4))
        if black:
            cv2.rectangle(img, (x, y0 + pad), (min(x + width, x1 - pad) - 1, y1 - digits_h - pad // 2), (15, 15, 15), -1)
        x += width
        black = not black
    digits = "".join(str(d) for d in rng.integers(0, 10, 13))
    _text_fit(img, digits, (x0 + pad, y1 - digits_h - pad // 2, x1 - pad, y1 - 1), cv2.FONT_HERSHEY_PLAIN,
              (15, 15, 15), weight=0.1)  # fmt: skip


def _badge(img: np.ndarray, box: tuple[int, int, int, int], text: str, pal: Palette) -> None:
    x0, y0, x1, y1 = box
    c = ((x0 + x1) // 2, (y0 + y1) // 2)
    r = min(x1 - x0, y1 - y0) // 2
    t = np.arange(32) * np.pi / 16
    radii = np.where(np.arange(32) % 2 == 0, r, r * 0.86)
    pts = (np.array(c) + radii[:, None] * np.stack([np.cos(t), np.sin(t)], 1)).astype(np.int32)
    cv2.fillPoly(img, [pts], pal.accent2, cv2.LINE_AA)
    cv2.circle(img, c, int(r * 0.75), contrasting(pal.accent2), max(2, r // 18), cv2.LINE_AA)
    s = int(r * 1.1)
    _text_fit(img, text, (c[0] - s // 2, c[1] - s // 3, c[0] + s // 2, c[1] + s // 3), cv2.FONT_HERSHEY_DUPLEX,
              contrasting(pal.accent2), weight=0.12)  # fmt: skip
