"""The pipeline reports the product, not another product of its brand that geometry alone would take for it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from synthkit import place_product, shot_frames, write_video

from deeplens.cli.ingest import ingest_folder
from deeplens.datagen.artwork import render_artwork
from deeplens.datagen.catalog import brand_sibling_spec, random_spec
from deeplens.results import Results
from deeplens.vision.local_features import extract_local_features
from deeplens.vision.verify import verify_pair

QUAD = np.array([(300, 120), (520, 140), (510, 430), (290, 400)], np.float32)
FRAMES = 40  # 4 s at 10 fps


def clip_showing(art: np.ndarray, seed: int) -> list[np.ndarray]:
    """A panning shot with ``art`` drifting slowly across it."""
    return [place_product(frame, art, QUAD + [i, 0]).image for i, frame in enumerate(shot_frames(seed, FRAMES, size=(960, 540)))]


@pytest.fixture(scope="module")
def arts() -> tuple[np.ndarray, np.ndarray]:
    spec = random_spec(np.random.default_rng(7), 300, "Zufakai", "Vanilla Coffee")
    return render_artwork(spec), render_artwork(brand_sibling_spec(np.random.default_rng(8), spec, "Zesty Sponges"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, arts) -> Path:
    product, sibling = arts
    root = tmp_path_factory.mktemp("siblings")
    (root / "products" / "SKU-7").mkdir(parents=True)
    cv2.imwrite(str(root / "products" / "SKU-7" / "front.png"), product)
    (root / "videos").mkdir()
    write_video(root / "videos" / "the-product.mp4", clip_showing(product, 1), fps=10)
    write_video(root / "videos" / "its-sibling.mp4", clip_showing(sibling, 2), fps=10)
    return root


def test_geometry_alone_would_take_the_sibling_for_the_product(arts) -> None:
    product, sibling = arts
    frame = clip_showing(sibling, 2)[0]
    assert verify_pair(extract_local_features(product), extract_local_features(frame)) is not None


def test_only_the_product_itself_is_reported(runtime, dataset) -> None:
    assert ingest_folder(runtime, dataset, wait=True, timeout=300)
    appearances = Results(runtime.services.db, runtime.settings.tenant).all_appearances()
    assert [(a.video, a.product) for a in appearances] == [("the-product", "SKU-7")]
