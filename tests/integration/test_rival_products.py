"""A product is matched in a frame only if it explains its place clearly better than every other candidate product."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deeplens.datagen.artwork import render_artwork
from deeplens.datagen.catalog import brand_sibling_spec, random_spec
from deeplens.pipeline.verification import Candidate, verify_among_rivals
from deeplens.vision.local_features import LocalFeatures, extract_local_features
from deeplens.vision.synthetic import place_product, shot_frames

QUAD = np.array([(300, 120), (520, 140), (510, 430), (290, 400)], np.float32)


@pytest.fixture(scope="module")
def arts() -> tuple[np.ndarray, np.ndarray]:
    spec = random_spec(np.random.default_rng(7), 300, "Zufakai", "Vanilla Coffee")
    return render_artwork(spec), render_artwork(brand_sibling_spec(np.random.default_rng(8), spec, "Zesty Sponges"))


@pytest.fixture
def catalog(services):
    """Stores a photo under a product and returns its candidate and features, as the match step has them."""
    features: dict[int, LocalFeatures] = {}

    def add(image_id: int, sku: str, art: np.ndarray) -> Candidate:
        key = f"products/{sku}/front.png"
        services.store.put(key, cv2.imencode(".png", art)[1].tobytes())
        features[image_id] = extract_local_features(art, max_side=services.settings.product_feature_max_side)
        return Candidate(image_id, sku, -1, 0.5, key, f"sha-{sku}-{image_id}")

    return add, features


def frame_showing(art: np.ndarray) -> np.ndarray:
    return place_product(next(iter(shot_frames(3, 1, size=(960, 540)))), art, QUAD).image


def matched(services, candidates: list[Candidate], products: dict[int, LocalFeatures], frame: np.ndarray) -> list[str]:
    found = verify_among_rivals(services, services.settings.tenant, candidates, products, extract_local_features(frame), lambda: frame)
    return sorted(found)


def test_a_product_is_matched_over_a_look_alike_that_shares_only_its_brand(services, catalog, arts):
    add, features = catalog
    product, sibling = arts
    candidates = [add(1, "SKU-PRODUCT", product), add(2, "SKU-SIBLING", sibling)]
    assert matched(services, candidates, features, frame_showing(product)) == ["SKU-PRODUCT"]


def test_a_place_two_products_explain_equally_well_goes_to_neither(services, catalog, arts):
    # The same artwork listed under two products: the frame cannot say which one it shows.
    add, features = catalog
    product, _ = arts
    candidates = [add(1, "SKU-A", product), add(2, "SKU-B", product)]
    assert matched(services, candidates, features, frame_showing(product)) == []


def test_a_rival_still_counts_when_it_cannot_be_matched_itself(services, catalog, arts):
    add, features = catalog
    product, _ = arts
    candidates = [add(1, "SKU-A", product), add(2, "SKU-B", product)]
    found = verify_among_rivals(
        services, services.settings.tenant, candidates, features, extract_local_features(frame_showing(product)),
        lambda: frame_showing(product), keep=lambda candidate: candidate.sku == "SKU-A",
    )
    assert found == {}


def test_without_a_rival_the_product_is_matched(services, catalog, arts):
    add, features = catalog
    product, _ = arts
    assert matched(services, [add(1, "SKU-A", product)], features, frame_showing(product)) == ["SKU-A"]
