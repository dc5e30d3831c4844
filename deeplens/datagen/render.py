"""Render a planned video frame by frame: moving background, items, occluders, camera effects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .compositing import mip_levels, paste_warped
from .geometry import box_from_quad, project_quad
from .presets import Preset
from .scenes import Placement
from .truth import Box


def make_backdrop(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A wide shelf-like scene: soft colour fields, blurred clutter and some lettering.

    Blurred clutter gives the background texture without the crisp, repeatable corners
    that product artwork has, as out-of-focus backgrounds do in real footage.
    """
    small = rng.integers(40, 215, (max(2, height // 60), max(2, width // 60), 3), dtype=np.uint8)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(width * height // 9000):
        color = tuple(int(c) for c in rng.integers(20, 235, 3))
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if rng.random() < 0.5:
            axes = (int(rng.integers(8, 60)), int(rng.integers(8, 60)))
            cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
        else:
            size = (int(rng.integers(10, 90)), int(rng.integers(10, 90)))
            cv2.rectangle(img, center, (center[0] + size[0], center[1] + size[1]), color, -1, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), 2.5)
    for _ in range(max(2, width // 250)):
        cv2.putText(img, str(rng.choice(["SALE", "NEW", "-30%", "OFFER", "2 FOR 1"])),
                    (int(rng.integers(0, width - 80)), int(rng.integers(30, height))),
                    cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.6, 1.4)),
                    tuple(int(c) for c in rng.integers(0, 255, 3)), 2, cv2.LINE_AA)
    return img


@dataclass
class RenderedItem:
    """An item's artwork, ready to warp at any size."""

    levels: list[np.ndarray]
    width: int
    height: int


def _motion_blur(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    length = int(rng.integers(5, 13))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    angle = float(rng.uniform(0, 180))
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(frame, -1, kernel / max(kernel.sum(), 1e-6))


def render_video(
    path: Path,
    rng: np.random.Generator,
    preset: Preset,
    placements: list[Placement],
    art: dict[str, RenderedItem],
    progress: Callable[[], None] | None = None,
) -> dict[str, dict[int, Box]]:
    """Write the video to ``path`` (mp4v) and return each item's box per visible frame."""
    w, h, n = preset.width, preset.height, preset.frame_count
    pan = int(preset.camera_pan * w)
    backdrop = make_backdrop(rng, w + pan + 1, h)
    blurred = {int(i) for i in np.flatnonzero(rng.random(n) < preset.motion_blur)}
    light_phase = rng.uniform(0, 2 * math.pi, 4)
    noise_rng = np.random.default_rng(int(rng.integers(2**31)))
    boxes: dict[str, dict[int, Box]] = {p.key: {} for p in placements}
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), preset.fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v video to {path}")
    try:
        for index in range(n):
            x = int(round(pan * index / max(1, n - 1)))
            frame = backdrop[:, x : x + w].copy()
            for placement in placements:
                if not placement.visible(index):
                    continue
                item = art[placement.key]
                quad = project_quad(item.width, item.height, placement.pose(index, n))
                paste_warped(frame, item.levels, quad)
                box = box_from_quad(quad, w, h)
                if box is not None:
                    boxes[placement.key][index] = box
                occ = placement.occlusion
                if occ is not None and occ.start <= index / preset.fps <= occ.end:
                    pose = placement.pose(index, n)
                    cx, cy = pose.cx + occ.offset[0] * pose.height, pose.cy + occ.offset[1] * pose.height
                    half = (occ.size[0] * pose.height / 2, occ.size[1] * pose.height / 2)
                    cv2.rectangle(frame, (int(cx - half[0]), int(cy - half[1])), (int(cx + half[0]), int(cy + half[1])),
                                  occ.color, -1, cv2.LINE_AA)
            if preset.lighting_drift:
                t = index / max(1, n - 1) * 2 * math.pi
                gain = 1.0 + preset.lighting_drift * math.sin(t + light_phase[0])
                cast = np.array([math.sin(t + p) for p in light_phase[1:]], np.float32) * preset.lighting_drift * 0.3
                frame = np.clip(frame.astype(np.float32) * (gain * (1.0 + cast)), 0, 255).astype(np.uint8)
            if index in blurred:
                frame = _motion_blur(frame, rng)
            if preset.noise:
                frame = np.clip(frame + noise_rng.normal(0, preset.noise, frame.shape).astype(np.float32), 0, 255).astype(np.uint8)
            writer.write(frame)
            if progress is not None:
                progress()
    finally:
        writer.release()
    return boxes


def prepare_item(image: np.ndarray) -> RenderedItem:
    """Mip levels of an item's artwork, for aliasing-free warps at any size."""
    return RenderedItem(mip_levels(image), image.shape[1], image.shape[0])
