"""A product is matched in a frame only if it explains its place clearly better than every other product there:
the frame's other candidates, and the candidates of the keyframes next to it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from synthkit import place_product, shot_frames

from deeplens.datagen.artwork import render_artwork
from deeplens.datagen.catalog import brand_sibling_spec, random_spec
from deeplens.pipeline.verification import Candidate, PhotoFeatures, verify_among_rivals
from deeplens.vision.local_features import LocalFeatures, extract_local_features

QUAD = np.array([(300, 120), (520, 140), (510, 430), (290, 400)], np.float32)


@pytest.fixture(scope="module")
def arts() -> tuple[np.ndarray, np.ndarray]:
    spec = random_spec(np.random.default_rng(7), 300, "Zufakai", "Vanilla Coffee")
    return render_artwork(spec), render_artwork(brand_sibling_spec(np.random.default_rng(8), spec, "Zesty Sponges"))


@pytest.fixture
def catalog(services):
    """Stores a photo under a product and returns its candidate and features, as the match step has them."""
    features: dict[int, LocalFeatures] = {}

    def add(image_id: int, sku: str, art: np.ndarray, name: str = "front") -> Candidate:
        key = f"products/{services.settings.tenant}/{sku}/{name}.png"
        services.store.put(key, cv2.imencode(".png", art)[1].tobytes())
        features[image_id] = extract_local_features(art, max_side=services.settings.product_feature_max_side)
        return Candidate(image_id, sku, 0.5, key, f"sha-{sku}-{image_id}")

    return add, features


def stored(features: dict[int, LocalFeatures]) -> PhotoFeatures:
    return lambda ids: {i: features[i] for i in ids if i in features}


def frame_showing(art: np.ndarray) -> np.ndarray:
    return place_product(next(iter(shot_frames(3, 1, size=(960, 540)))), art, QUAD).image


def matched(
    services, candidates: list[Candidate], products: dict[int, LocalFeatures], frame: np.ndarray, neighbours: list[Candidate] = ()
) -> list[str]:
    found = verify_among_rivals(
        services, services.settings.tenant, candidates, stored(products), extract_local_features(frame), lambda: frame,
        neighbours=lambda: list(neighbours),
    )
    return sorted(found)


def test_a_product_is_matched_over_a_look_alike_that_shares_only_its_brand(services, catalog, arts):
    add, features = catalog
    product, sibling = arts
    candidates = [add(1, "SKU-PRODUCT", product), add(2, "SKU-SIBLING", sibling)]
    assert matched(services, candidates, features, frame_showing(product)) == ["SKU-PRODUCT"]


def test_of_two_photos_that_fit_equally_well_the_match_names_the_one_whose_key_sorts_first_in_either_order(
    services, catalog, arts
):
    # A copy of the front under another name fits exactly as well; which one the vote ranks
    # first changes with the catalog, so it must not decide.
    add, features = catalog
    product, _ = arts
    front, copy = add(1, "SKU-A", product, "front"), add(2, "SKU-A", product, "shifted")
    frame = frame_showing(product)
    for candidates in ([front, copy], [copy, front]):
        found = verify_among_rivals(
            services, services.settings.tenant, candidates, stored(features), extract_local_features(frame), lambda: frame
        )
        assert found["SKU-A"][0].photo_key == f"products/{services.settings.tenant}/SKU-A/front.png"


def test_a_place_two_products_explain_equally_well_goes_to_neither(services, catalog, arts):
    # The same artwork listed under two products: the frame cannot say which one it shows.
    add, features = catalog
    product, _ = arts
    candidates = [add(1, "SKU-A", product), add(2, "SKU-B", product)]
    assert matched(services, candidates, features, frame_showing(product)) == []


def test_without_a_rival_the_product_is_matched(services, catalog, arts):
    add, features = catalog
    product, _ = arts
    assert matched(services, [add(1, "SKU-A", product)], features, frame_showing(product)) == ["SKU-A"]


def test_a_candidate_of_a_neighbouring_keyframe_counts_as_a_rival(services, catalog, arts):
    # The same artwork listed under two products, and only one of them voted for here.
    add, features = catalog
    product, _ = arts
    this_keyframe, next_keyframe = add(1, "SKU-A", product), add(2, "SKU-B", product)
    frame = frame_showing(product)
    assert matched(services, [this_keyframe], features, frame) == ["SKU-A"]
    assert matched(services, [this_keyframe], features, frame, neighbours=[next_keyframe]) == []


def test_a_product_is_matched_over_a_neighbouring_keyframes_look_alike_it_clearly_beats(services, catalog, arts):
    add, features = catalog
    product, sibling = arts
    here, next_door = add(1, "SKU-PRODUCT", product), add(2, "SKU-SIBLING", sibling)
    assert matched(services, [here], features, frame_showing(product), neighbours=[next_door]) == ["SKU-PRODUCT"]


def test_neighbours_are_asked_for_once_and_only_where_a_product_would_be_matched(services, catalog, arts):
    add, features = catalog
    product, sibling = arts
    asked = []

    def neighbours() -> list[Candidate]:
        asked.append(1)
        return []

    candidates = [add(1, "SKU-PRODUCT", product), add(2, "SKU-SIBLING", sibling)]
    frame = frame_showing(sibling)
    verify_among_rivals(services, services.settings.tenant, candidates[:1], stored(features), extract_local_features(frame),
                        lambda: frame, neighbours=neighbours)
    assert asked == []
    verify_among_rivals(services, services.settings.tenant, candidates, stored(features), extract_local_features(frame),
                        lambda: frame, neighbours=neighbours)
    assert asked == [1]


def test_a_design_that_shares_only_part_of_the_product_is_not_matched_however_well_that_part_agrees(services, catalog, arts):
    # Another product on the same template: the left five eighths as the catalog product's
    # (they verify and agree in colour), the rest different (here: inverted).
    add, features = catalog
    product, _ = arts
    foreign = product.copy()
    edge = product.shape[1] * 5 // 8
    foreign[:, edge:] = 255 - product[:, edge:]
    assert matched(services, [add(1, "SKU-PRODUCT", product)], features, frame_showing(foreign)) == []
