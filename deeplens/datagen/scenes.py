"""Plan what happens in one video: which items appear, when, where and how they move.

A plan is pure data (intervals and pose keyframes), decided entirely from the rng before
any pixel is drawn; rendering then only samples it. Items get their own horizontal lane,
so products never cover each other heavily, and stay fully inside the frame, so the
truth boxes are the whole product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .geometry import Pose
from .presets import Preset

# A product that leaves comes back after at least this long: well beyond the one-second
# gap a matcher may bridge, so the truth unambiguously has two appearances.
MIN_ABSENCE_S = 2.0


@dataclass(frozen=True)
class Occlusion:
    """A plain shape covering part of an item from ``start`` to ``end`` (seconds)."""

    start: float
    end: float
    offset: tuple[float, float]  # centre, relative to the item's centre, in item heights
    size: tuple[float, float]  # width, height, in item heights
    color: tuple[int, int, int]


@dataclass(frozen=True)
class Placement:
    """One item on screen: its stays, and a pose that drifts smoothly over time."""

    key: str  # SKU or distractor id
    is_product: bool
    stays: tuple[tuple[int, int], ...]  # inclusive frame ranges on screen
    start_pose: Pose
    end_pose: Pose
    wobble_phase: float
    occlusion: Occlusion | None

    def visible(self, index: int) -> bool:
        """Whether the item is on screen in frame ``index``."""
        return any(lo <= index <= hi for lo, hi in self.stays)

    def pose(self, index: int, frame_count: int) -> Pose:
        """The pose at frame ``index``: linear drift plus a slow wobble, like a hand-held shot."""
        u = index / max(1, frame_count - 1)
        a, b = self.start_pose, self.end_pose
        wobble = math.sin(2 * math.pi * (0.35 * u * frame_count / 30 + self.wobble_phase))
        return Pose(
            cx=a.cx + (b.cx - a.cx) * u,
            cy=a.cy + (b.cy - a.cy) * u + 0.01 * a.height * wobble,
            height=a.height + (b.height - a.height) * u,
            rotation=a.rotation + (b.rotation - a.rotation) * u + 0.5 * wobble,
            yaw=a.yaw + (b.yaw - a.yaw) * u,
            pitch=a.pitch + (b.pitch - a.pitch) * u,
        )


def _stays(rng: np.random.Generator, preset: Preset) -> tuple[tuple[int, int], ...]:
    fps, n = preset.fps, preset.frame_count
    min_len = int(math.ceil(preset.min_visible_s * fps))
    gap = int(math.ceil(MIN_ABSENCE_S * fps))
    if rng.random() < preset.leave_and_return and 2 * min_len + gap < n:
        first_len = int(rng.integers(min_len, (n - gap - min_len) + 1))
        first_len = min(first_len, n - gap - min_len)
        start1 = int(rng.integers(0, n - first_len - gap - min_len + 1))
        end1 = start1 + first_len - 1
        start2 = int(rng.integers(end1 + gap + 1, n - min_len + 1))
        end2 = int(rng.integers(start2 + min_len - 1, n))
        return ((start1, end1), (start2, end2))
    length = int(rng.integers(min(min_len, n), n + 1))
    start = int(rng.integers(0, n - length + 1))
    return ((start, start + length - 1),)


def _pose(rng: np.random.Generator, preset: Preset, lane: tuple[float, float], height: float, aspect: float) -> Pose:
    """A pose inside ``lane`` (x range in pixels) that keeps the tilted, rotated product in frame."""
    half_w = 0.5 * height * aspect * 1.15 + 4
    half_h = 0.5 * height * 1.15 + 4
    lo, hi = lane[0] + half_w, lane[1] - half_w
    cx = float(rng.uniform(lo, hi)) if hi > lo else (lane[0] + lane[1]) / 2
    cy = float(rng.uniform(half_h, max(half_h, preset.height - half_h)))
    return Pose(
        cx=cx,
        cy=cy,
        height=height,
        rotation=float(rng.uniform(-preset.rotation, preset.rotation)),
        yaw=float(rng.uniform(-preset.perspective, preset.perspective)),
        pitch=float(rng.uniform(-0.6 * preset.perspective, 0.6 * preset.perspective)),
    )


def plan_video(rng: np.random.Generator, preset: Preset, products: list[tuple[str, float]], distractors: list[tuple[str, float]]) -> list[Placement]:
    """Placements for one video; ``products``/``distractors`` are (key, width/height aspect) pairs to show."""
    items = [(key, aspect, True) for key, aspect in products] + [(key, aspect, False) for key, aspect in distractors]
    if not items:
        return []
    order = rng.permutation(len(items))
    lane_width = preset.width / len(items)
    placements = []
    for lane_index, item_index in enumerate(order):
        key, aspect, is_product = items[int(item_index)]
        lane = (lane_index * lane_width, (lane_index + 1) * lane_width)
        # The product must fit its lane (and the frame height) at every scale it takes.
        fit = min(preset.scale[1] * preset.height, 0.9 * lane_width / (aspect * 1.15), 0.85 * preset.height)
        height = float(rng.uniform(min(preset.scale[0] * preset.height, fit), fit))
        start = _pose(rng, preset, lane, height, aspect)
        # Drift: move up to `drift` of the frame, change scale by up to ±15 %, still in the lane.
        end_height = float(np.clip(height * rng.uniform(0.85, 1.15), preset.scale[0] * preset.height, fit))
        end = _pose(rng, preset, lane, end_height, aspect)
        max_shift = preset.drift * preset.width
        end = Pose(
            cx=float(np.clip(end.cx, start.cx - max_shift, start.cx + max_shift)),
            cy=float(np.clip(end.cy, start.cy - max_shift, start.cy + max_shift)),
            height=end.height, rotation=end.rotation, yaw=end.yaw, pitch=end.pitch,
        )
        stays = _stays(rng, preset)
        occlusion = None
        if rng.random() < preset.occlusion:
            lo, hi = stays[0]
            span = (hi - lo) / preset.fps
            t0 = lo / preset.fps + rng.uniform(0.1, 0.5) * span
            occlusion = Occlusion(
                start=t0,
                end=t0 + rng.uniform(0.2, 0.4) * span,
                offset=(float(rng.uniform(-0.2, 0.2)), float(rng.choice([-0.35, 0.35]))),
                size=(float(rng.uniform(0.3, 0.5) * aspect), float(rng.uniform(0.25, 0.35))),
                color=tuple(int(c) for c in rng.integers(30, 220, 3)),
            )
        placements.append(Placement(key, is_product, stays, start, end, float(rng.random()), occlusion))
    return placements
