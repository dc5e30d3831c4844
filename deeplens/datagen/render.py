"""Turn a :class:`~deeplens.datagen.plan.VideoPlan` into frames.

Per frame, in the order a real camera would produce them: the backdrop seen through the
panning camera, the items warped into place, occluders in front of them, then the
camera's own effects on the whole picture (motion blur, exposure / white-balance drift
with a vignette, sensor noise).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache

import cv2
import numpy as np

from .compositing import paste_warped
from .geometry import quad_area
from .plan import Occluder, VideoPlan
from .scene import camera_view, make_backdrop

_NOISE_TILES = 4  # pre-drawn noise fields, cropped at random offsets: per-frame randn is the slowest step
_NOISE_PAD = 16


class VideoRenderer:
    """Renders the frames of one plan; ``arts`` maps item keys to the artwork's mip levels."""

    def __init__(self, plan: VideoPlan, arts: dict[str, list[np.ndarray]]) -> None:
        self.plan = plan
        self.arts = arts
        rng = np.random.default_rng(plan.render_seed)
        self.backdrop = make_backdrop(rng, *plan.backdrop_size)
        h, w = plan.height, plan.width
        # Noise is kept as its positive and negative parts in uint8, so that applying it
        # is two saturating OpenCV ops instead of a float round trip of the whole frame.
        self.noise_tiles: list[tuple[np.ndarray, np.ndarray]] = []
        if plan.noise > 0:
            for _ in range(_NOISE_TILES):
                field = np.round(rng.normal(0, plan.noise, (h + _NOISE_PAD, w + _NOISE_PAD, 3)))
                plus, minus = np.clip(field, 0, 255), np.clip(-field, 0, 255)
                self.noise_tiles.append((plus.astype(np.uint8), minus.astype(np.uint8)))
        self.noise_pick = rng.integers(0, [_NOISE_TILES, _NOISE_PAD, _NOISE_PAD], (plan.frame_count, 3))
        self.vignette: np.ndarray | None = None
        if plan.vignette > 0:
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
            falloff = np.round(255.0 * (1.0 - plan.vignette * r2 / 2)).astype(np.uint8)
            self.vignette = cv2.merge([falloff, falloff, falloff])

    def frames(self) -> Iterator[np.ndarray]:
        """All frames, in order."""
        for index in range(self.plan.frame_count):
            yield self.render(index)

    def render(self, index: int) -> np.ndarray:
        """Frame ``index`` as a BGR ``uint8`` image; the same every time it is asked for."""
        plan = self.plan
        frame = camera_view(self.backdrop, plan.camera[index], plan.width, plan.height)
        occluders: list[tuple[Occluder, np.ndarray]] = []
        for track in plan.tracks:
            for seg in track.segments:
                quad = seg.quad_at(index)
                if quad is None:
                    continue
                paste_warped(frame, self.arts[track.item.key], quad)
                occ = seg.occluder
                if occ is not None and occ.start <= index <= occ.end:
                    occluders.append((occ, quad))
        # Occluders last: a hand in front of one product is in front of everything.
        for occ, quad in occluders:
            _draw_occluder(frame, occ, quad)
        if plan.blur_length[index] >= 2:
            kernel = _line_kernel(int(plan.blur_length[index]), round(float(plan.blur_angle[index])))
            frame = cv2.filter2D(frame, -1, kernel)
        return self._expose(frame, index)

    def _expose(self, frame: np.ndarray, index: int) -> np.ndarray:
        """Vignette, exposure / white balance, then sensor noise (all saturating uint8 ops)."""
        if self.vignette is not None:
            frame = cv2.multiply(frame, self.vignette, scale=1.0 / 255.0)
        frame = cv2.transform(frame, np.diag(self.plan.gains[index]).astype(np.float32))
        if self.noise_tiles:
            tile, dy, dx = self.noise_pick[index]
            plus, minus = self.noise_tiles[tile]
            window = (slice(dy, dy + self.plan.height), slice(dx, dx + self.plan.width))
            frame = cv2.subtract(cv2.add(frame, plus[window]), minus[window])
        return frame


def _draw_occluder(frame: np.ndarray, occ: Occluder, quad: np.ndarray) -> None:
    """A shaded ellipse on side ``occ.edge`` of ``quad``, sized to ``occ.area_frac`` of it."""
    a, b = quad[occ.edge], quad[(occ.edge + 1) % 4]
    center = a + (b - a) * occ.along
    center = center + (quad.mean(axis=0) - center) * occ.inward
    area = quad_area(quad) * occ.area_frac
    major = math.sqrt(area / (math.pi * occ.aspect))
    minor = major * occ.aspect
    angle = math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])) + occ.angle
    c16 = (round(center[0] * 16), round(center[1] * 16))
    cv2.ellipse(frame, c16, (int(major * 16), int(minor * 16)), angle, 0, 360, occ.color, -1, cv2.LINE_AA, 4)
    # A lighter inner patch gives it some shading instead of a flat cut-out look.
    light = tuple(min(255, int(c * 1.15) + 8) for c in occ.color)
    cv2.ellipse(frame, c16, (int(major * 9), int(minor * 9)), angle, 0, 360, light, -1, cv2.LINE_AA, 4)


@lru_cache(maxsize=256)
def _line_kernel(length: int, angle_deg: int) -> np.ndarray:
    """Normalised linear motion-blur kernel."""
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = math.cos(math.radians(angle_deg)) * c, math.sin(math.radians(angle_deg)) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return k / max(float(k.sum()), 1e-6)
