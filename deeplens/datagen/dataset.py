"""Generate a whole dataset: catalog photos, videos, and their ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .artwork import render_artwork
from .catalog import build_catalog
from .photos import product_photo
from .presets import Preset, resolve_preset
from .render import prepare_item, render_video
from .scenes import plan_video
from .truth import Appearance, DistractorAppearance, GroundTruth, ProductTruth, VideoTruth

Progress = Callable[[str, int, int], None]


def _stays_to_intervals(stays, boxes: dict[int, tuple[int, int, int, int]], fps: int) -> list[tuple[float, float, dict]]:
    intervals = []
    for lo, hi in stays:
        frames = {i: b for i, b in boxes.items() if lo <= i <= hi}
        if frames:
            intervals.append((min(frames) / fps, max(frames) / fps, frames))
    return intervals


def generate_dataset(out_dir: Path, preset: str | Preset = "demo", seed: int = 0, progress: Progress | None = None) -> GroundTruth:
    """Write ``products/``, ``videos/`` and ``truth.json`` under ``out_dir``; returns the truth.

    The same preset and seed always give the same dataset.
    """
    preset = resolve_preset(preset)
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    products, distractors = build_catalog(rng, preset)
    artwork = {item.key: render_artwork(item.spec) for item in (*products, *distractors)}

    for i, item in enumerate(products):
        folder = out_dir / "products" / item.key
        folder.mkdir(parents=True, exist_ok=True)
        for photo in item.photos:
            image = product_photo(photo, artwork[item.key], rng)
            cv2.imwrite(str(folder / photo), image, [cv2.IMWRITE_JPEG_QUALITY, preset.jpeg_quality])
        if progress:
            progress("products", i + 1, len(products))

    items = {key: prepare_item(image) for key, image in artwork.items()}
    aspect = {key: item.width / item.height for key, item in items.items()}
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    videos: dict[str, VideoTruth] = {}
    for v in range(preset.n_videos):
        video_id = f"video-{v + 1:02d}"
        shown = rng.choice(len(products), int(rng.integers(preset.products_per_video[0], preset.products_per_video[1] + 1)), replace=False)
        lo, hi = preset.distractors_per_video
        extra = rng.choice(len(distractors), min(len(distractors), int(rng.integers(lo, hi + 1))), replace=False) if distractors else []
        placements = plan_video(
            rng, preset,
            [(products[int(i)].key, aspect[products[int(i)].key]) for i in sorted(shown)],
            [(distractors[int(i)].key, aspect[distractors[int(i)].key]) for i in sorted(extra)],
        )
        boxes = render_video(out_dir / "videos" / f"{video_id}.mp4", rng, preset, placements, items)
        truth = VideoTruth(preset.frame_count / preset.fps, preset.fps, preset.width, preset.height, preset.frame_count)
        for placement in sorted(placements, key=lambda p: p.key):
            for start, end, frames in _stays_to_intervals(placement.stays, boxes[placement.key], preset.fps):
                if placement.is_product:
                    truth.appearances.append(Appearance(placement.key, start, end, frames))
                else:
                    truth.distractor_appearances.append(DistractorAppearance(placement.key, start, end, frames))
        truth.appearances.sort(key=lambda a: (a.start, a.product))
        videos[video_id] = truth
        if progress:
            progress("videos", v + 1, preset.n_videos)

    truth = GroundTruth(
        preset=preset.name,
        seed=seed,
        products={item.key: ProductTruth(list(item.photos), item.lookalike_of) for item in products},
        distractors=[item.key for item in distractors],
        videos=videos,
    )
    truth.to_json(out_dir / "truth.json")
    return truth
