"""Photometric agreement: once aligned, the frame looks like the product, not like a look-alike of it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from synthkit import make_background, place_product

from deeplens.datagen.artwork import ArtSpec, render_artwork
from deeplens.datagen.catalog import brand_sibling_spec, random_spec
from deeplens.datagen.photos import angled_photo
from deeplens.vision.appearance import appearance_agreement, product_template
from deeplens.vision.local_features import extract_local_features
from deeplens.vision.verify import verify_pair

QUAD = np.array([(300, 120), (520, 140), (510, 430), (290, 400)], np.float32)


@pytest.fixture(scope="module")
def spec() -> ArtSpec:
    return random_spec(np.random.default_rng(7), 300, "Zufakai", "Vanilla Coffee")


@pytest.fixture(scope="module")
def art(spec: ArtSpec) -> np.ndarray:
    return render_artwork(spec)


@pytest.fixture(scope="module")
def lookalike(spec: ArtSpec) -> np.ndarray:
    """The distractor that fooled geometry: same brand, fonts, logo and layout, other colours and artwork."""
    return render_artwork(brand_sibling_spec(np.random.default_rng(8), spec, "Zesty Sponges"))


def corners(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)


def whole(img: np.ndarray) -> np.ndarray:
    """Points spread over the whole product: the hull is the product."""
    h, w = img.shape[:2]
    xs, ys = np.meshgrid(np.linspace(1, w - 2, 8), np.linspace(1, h - 2, 8))
    return np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)


def in_frame(img: np.ndarray) -> np.ndarray:
    return place_product(make_background(1000), img, QUAD).image


def agreement(photo: np.ndarray, frame: np.ndarray, points: np.ndarray | None = None) -> float:
    H = cv2.getPerspectiveTransform(corners(photo), QUAD)
    return appearance_agreement(product_template(photo), frame, H, whole(photo) if points is None else points)


def test_the_product_itself_agrees_strongly(art: np.ndarray) -> None:
    assert agreement(art, in_frame(art)) > 0.65


def test_a_look_alike_sharing_brand_logo_and_layout_agrees_weakly(art: np.ndarray, lookalike: np.ndarray) -> None:
    assert agreement(art, in_frame(lookalike)) < 0.5


def test_exposure_and_white_balance_changes_barely_matter(art: np.ndarray) -> None:
    frame = in_frame(art)
    relit = np.clip(frame.astype(np.float32) * [0.8, 1.0, 1.15] + 20, 0, 255).astype(np.uint8)
    assert agreement(art, relit) == pytest.approx(agreement(art, frame), abs=0.05)


def test_an_angled_catalog_photo_is_compared_on_the_product_not_its_backdrop(art: np.ndarray) -> None:
    photo = angled_photo(art, np.random.default_rng(3))
    frame = in_frame(art)
    found = verify_pair(extract_local_features(photo), extract_local_features(frame))
    assert found is not None
    template = product_template(photo)
    on_inliers = appearance_agreement(template, frame, found.homography, found.inlier_points[:, :2])
    on_whole_photo = appearance_agreement(template, frame, found.homography, whole(photo))
    assert on_inliers > 0.6
    assert on_inliers > on_whole_photo + 0.1


def test_fewer_than_three_inliers_give_no_agreement(art: np.ndarray) -> None:
    assert agreement(art, in_frame(art), whole(art)[:2]) == 0.0


def test_a_product_mapped_outside_the_frame_gives_no_agreement(art: np.ndarray) -> None:
    frame = in_frame(art)
    H = cv2.getPerspectiveTransform(corners(art), (QUAD + [5000, 0]).astype(np.float32))
    assert appearance_agreement(product_template(art), frame, H, whole(art)) == 0.0
