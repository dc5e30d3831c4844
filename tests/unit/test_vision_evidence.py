"""The evidence picture: layout, outline and caption."""

from __future__ import annotations

import numpy as np
import pytest
from synthkit import Scene, make_background, make_packaging, place_product

from deeplens.vision.evidence import CAPTION_HEIGHT, evidence_size, render_evidence
from deeplens.vision.local_features import extract_local_features
from deeplens.vision.verify import Verification, verify_pair


@pytest.fixture(scope="module")
def case() -> tuple[np.ndarray, Scene, Verification]:
    product = make_packaging(0)
    scene = place_product(make_background(1000), product, [(300, 120), (520, 140), (510, 430), (290, 400)])
    v = verify_pair(extract_local_features(product), extract_local_features(scene.image))
    assert v is not None
    return product, scene, v


def test_evidence_is_product_beside_frame_at_a_common_height_plus_caption(case) -> None:  # type: ignore[no-untyped-def]
    product, scene, v = case
    img = render_evidence(product, scene.image, v, title="SKU-1")
    # 360x480 product -> 360 wide at 480 high; 960x540 frame -> 853 wide.
    assert img.shape == (480 + CAPTION_HEIGHT, 360 + 853, 3) and img.dtype == np.uint8
    assert img.shape[:2] == evidence_size(product.shape, scene.image.shape)


def test_evidence_height_is_a_parameter(case) -> None:  # type: ignore[no-untyped-def]
    product, scene, v = case
    assert render_evidence(product, scene.image, v, height=240).shape[0] == 240 + CAPTION_HEIGHT


def test_evidence_draws_the_outline_on_the_frame_side(case) -> None:  # type: ignore[no-untyped-def]
    product, scene, v = case
    img = render_evidence(product, scene.image, v)
    scale = 480 / 540
    x, y = (v.corners[0] * scale).round().astype(int)  # top-left corner of the outline
    patch = img[y - 2 : y + 3, 360 + x - 2 : 360 + x + 3]
    green = (patch[..., 1] > 200) & (patch[..., 0] < 80) & (patch[..., 2] < 80)
    assert green.any()


def test_evidence_caption_bar_is_drawn_below_the_images(case) -> None:  # type: ignore[no-untyped-def]
    product, scene, v = case
    caption = render_evidence(product, scene.image, v, title="a title")[480:]
    assert (caption == 32).mean() > 0.5  # dark bar...
    assert (caption > 200).any()  # ...with white text


def test_evidence_accepts_a_non_ascii_title_and_an_explicit_score(case) -> None:  # type: ignore[no-untyped-def]
    product, scene, v = case
    img = render_evidence(product, scene.image, v, title="Crème brûlée — 12.4 s", score=0.93)
    assert img.shape[0] == 480 + CAPTION_HEIGHT
