"""Generate a whole dataset: catalog photos, videos, and their ground truth.

Randomness is split with :class:`numpy.random.SeedSequence`: the catalog, the photos,
the product-to-video assignment and every video draw from their own stream, so a change
in one (a new knob, a fix in the renderer) does not reshuffle the others, and the same
preset and seed always give the same dataset.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from .artwork import render_artwork
from .catalog import CatalogItem, build_catalog
from .compositing import mip_levels
from .photos import product_photo
from .plan import assign_items, plan_video, video_truth
from .presets import Preset, resolve_preset
from .render import VideoRenderer
from .truth import GroundTruth, ProductTruth, VideoTruth
from .video_io import verify_video, write_video

Progress = Callable[[str, int, int], None]

# Fixed stream indices: never renumber, or every dataset ever generated changes.
_CATALOG, _PHOTOS, _ASSIGN, _FIRST_VIDEO = 0, 1, 2, 3


def generate_dataset(
    out_dir: Path, preset: str | Preset = "demo", seed: int = 0, progress: Progress | None = None
) -> GroundTruth:
    """Write ``products/``, ``videos/`` and ``truth.json`` under ``out_dir``; return the truth.

    ``progress(stage, done, total)`` is called with stage ``"products"`` after each
    product's photos and ``"videos"`` after each video (and with ``done=0`` first).
    ``truth.json`` is written last, so its presence means the dataset is complete. An
    ``out_dir`` that holds an earlier dataset (it has a ``truth.json``) is regenerated in
    place; one that holds other files under ``products/`` or ``videos/`` is refused.
    """
    spec = resolve_preset(preset)
    out = Path(out_dir)
    _prepare(out)
    streams = np.random.SeedSequence(seed).spawn(_FIRST_VIDEO + spec.n_videos)
    products, distractors = build_catalog(np.random.default_rng(streams[_CATALOG]), spec)
    artwork = {item.key: render_artwork(item.spec) for item in (*products, *distractors)}

    _write_photos(out / "products", products, artwork, spec, np.random.default_rng(streams[_PHOTOS]), progress)

    assignment = assign_items(np.random.default_rng(streams[_ASSIGN]), spec, products, distractors)
    levels: dict[str, list[np.ndarray]] = {}
    videos: dict[str, VideoTruth] = {}
    (out / "videos").mkdir(parents=True, exist_ok=True)
    if progress:
        progress("videos", 0, spec.n_videos)
    for v, (shown, extras) in enumerate(assignment):
        video_id = f"video-{v + 1:02d}"
        plan = plan_video(np.random.default_rng(streams[_FIRST_VIDEO + v]), spec, video_id, shown, extras)
        for track in plan.tracks:
            if track.item.key not in levels:
                levels[track.item.key] = mip_levels(artwork[track.item.key])
        path = out / "videos" / f"{video_id}.mp4"
        written = write_video(path, VideoRenderer(plan, levels).frames(), spec.fps, spec.width, spec.height)
        verify_video(path, written, spec.width, spec.height)
        videos[video_id] = video_truth(plan)
        if progress:
            progress("videos", v + 1, spec.n_videos)

    truth = GroundTruth(
        preset=spec.name,
        seed=seed,
        products={item.key: ProductTruth(list(item.photos), item.lookalike_of) for item in products},
        distractors=[item.key for item in distractors],
        videos=videos,
    )
    truth.to_json(out / "truth.json")
    return truth


def generate_catalog(
    products_dir: Path, preset: str | Preset = "bench", seed: int = 0, *, sku_prefix: str = "SKU", progress: Progress | None = None
) -> dict[str, ProductTruth]:
    """Write only the catalog of a dataset: ``products_dir/<sku>/<photo>``, no videos.

    The products and photos are those :func:`generate_dataset` writes for the same preset
    and seed, with ``SKU`` in their names replaced by ``sku_prefix``, so a catalog can be
    grown with products that no video shows (the catalog-size benchmark). Existing files
    of the same names are overwritten; nothing else in ``products_dir`` is touched.
    """
    spec = resolve_preset(preset)
    streams = np.random.SeedSequence(seed).spawn(_FIRST_VIDEO)
    products, _ = build_catalog(np.random.default_rng(streams[_CATALOG]), spec)

    def renamed(key: str | None) -> str | None:
        return None if key is None else sku_prefix + key.removeprefix("SKU")

    items = [replace(item, key=renamed(item.key), lookalike_of=renamed(item.lookalike_of)) for item in products]
    artwork = {item.key: render_artwork(item.spec) for item in items}
    _write_photos(Path(products_dir), items, artwork, spec, np.random.default_rng(streams[_PHOTOS]), progress)
    return {item.key: ProductTruth(list(item.photos), item.lookalike_of) for item in items}


def _prepare(out: Path) -> None:
    """Make ``out`` ready: clear an earlier generated dataset, never anything else."""
    owned = (out / "products", out / "videos")
    if (out / "truth.json").exists():
        for folder in owned:
            if folder.is_dir():
                shutil.rmtree(folder)
        (out / "truth.json").unlink()
    else:
        for folder in owned:
            if folder.is_dir() and any(folder.iterdir()):
                raise FileExistsError(f"{folder} is not empty and {out} holds no generated dataset (no truth.json)")
    out.mkdir(parents=True, exist_ok=True)


def _write_photos(
    folder: Path,
    products: list[CatalogItem],
    artwork: dict[str, np.ndarray],
    spec: Preset,
    rng: np.random.Generator,
    progress: Progress | None,
) -> None:
    if progress:
        progress("products", 0, len(products))
    for i, item in enumerate(products):
        target = folder / item.key
        target.mkdir(parents=True, exist_ok=True)
        for photo in item.photos:
            image = product_photo(photo, artwork[item.key], rng)
            if not cv2.imwrite(str(target / photo), image, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality]):
                raise OSError(f"cannot write {target / photo}")
        if progress:
            progress("products", i + 1, len(products))
