"""The catalog index: frame descriptors vote for the catalog photos they match distinctively."""

from __future__ import annotations

import numpy as np

from deeplens.matching.catalog_index import CatalogIndex, CatalogPhoto
from deeplens.vision.local_features import LocalFeatures

RNG = np.random.default_rng(11)


def descriptors(n: int) -> np.ndarray:
    """Random descriptors holding integers, like quantised RootSIFT."""
    return RNG.integers(0, 64, size=(n, 128)).astype(np.float32)


def features(desc: np.ndarray) -> LocalFeatures:
    points = RNG.uniform(0, 400, size=(len(desc), 2)).astype(np.float32)
    return LocalFeatures(points=points, descriptors=desc, width=400, height=400, kind="sift")


def index_of(*photos: tuple[int, str, LocalFeatures]) -> CatalogIndex:
    """An index of ``(photo id, sku, features)``, each photo under its own key."""
    return CatalogIndex.build(CatalogPhoto(photo_id, sku, f"products/t/{sku}/{photo_id}.jpg", feats) for photo_id, sku, feats in photos)


def seen(desc: np.ndarray) -> LocalFeatures:
    """The same descriptors as a frame would show them: slightly perturbed."""
    return features(np.clip(desc + RNG.integers(-2, 3, size=desc.shape), 0, 255).astype(np.float32))


def test_a_frame_votes_for_the_photo_whose_descriptors_it_shows():
    a, b = descriptors(60), descriptors(60)
    index = index_of((1, "SKU-A", features(a)), (2, "SKU-B", features(b)))
    votes = index.vote(seen(a[:30]))
    assert [(v.product_image_id, v.sku) for v in votes] == [(1, "SKU-A")]
    assert votes[0].votes >= 25


def test_photos_are_ranked_by_their_votes():
    a, b = descriptors(60), descriptors(60)
    index = index_of((1, "SKU-A", features(a)), (2, "SKU-B", features(b)))
    votes = index.vote(seen(np.vstack([a[:10], b[:40]])))
    assert [v.sku for v in votes] == ["SKU-B", "SKU-A"]
    assert votes[0].votes > votes[1].votes


def test_descriptors_that_two_products_share_do_not_vote():
    shared = descriptors(40)
    index = index_of(
        (1, "SKU-A", features(np.vstack([shared, descriptors(40)]))),
        (2, "SKU-LOOKALIKE", features(np.vstack([shared, descriptors(40)]))),
    )
    assert index.vote(seen(shared)) == []


def test_two_photos_of_one_product_do_not_cancel_each_others_votes():
    front = descriptors(60)
    index = index_of((1, "SKU-A", features(front)), (2, "SKU-A", features(front.copy())), (3, "SKU-B", features(descriptors(60))))
    votes = index.vote(seen(front[:30]))
    assert {v.sku for v in votes} == {"SKU-A"}
    assert sum(v.votes for v in votes) >= 25


def test_an_empty_catalog_or_an_empty_frame_gets_no_votes():
    assert index_of().vote(seen(descriptors(10))) == []
    assert index_of((1, "SKU-A", features(descriptors(0)))).vote(seen(descriptors(10))) == []
    assert index_of((1, "SKU-A", features(descriptors(20)))).vote(features(descriptors(0))) == []


def test_a_catalog_smaller_than_the_neighbours_looked_at_still_votes():
    for size in (1, 2):
        a = descriptors(size)
        assert [v.sku for v in index_of((1, "SKU-A", features(a))).vote(seen(a))] == ["SKU-A"]


def test_the_index_counts_the_photos_and_descriptors_it_holds():
    index = index_of((1, "SKU-A", features(descriptors(30))), (2, "SKU-B", features(descriptors(12))), (3, "SKU-C", features(descriptors(0))))
    assert (index.size, index.descriptors) == (2, 42)


def test_the_same_catalog_always_gives_the_same_votes():
    # Enough descriptors, and frame descriptors far enough from theirs, that the
    # approximate search depends on which lists it probes.
    photos = [(i, f"SKU-{i}", features(descriptors(400))) for i in range(40)]
    shown = np.vstack([photo.descriptors[:60] for _, _, photo in photos])
    frame = features(np.clip(shown + RNG.integers(-14, 15, size=shown.shape), 0, 255).astype(np.float32))
    assert index_of(*photos).vote(frame) == index_of(*reversed(photos)).vote(frame)


def _shifted(desc: np.ndarray, dims: slice) -> np.ndarray:
    moved = desc.copy()
    moved[:, dims] += 2
    return moved


def test_a_descriptor_votes_by_the_exact_distances_of_its_photo_and_the_rival_product():
    # Squared distances 16 to SKU-A's photo, against 64 (clearly farther: votes) or 20 (within
    # Lowe's ratio 0.8: does not) to SKU-B's: only exact distances tell the two apart.
    shown = descriptors(50)
    photo = (1, "SKU-A", features(_shifted(shown, slice(0, 4))))
    far_rival, near_rival = (2, "SKU-B", features(_shifted(shown, slice(8, 24)))), (2, "SKU-B", features(_shifted(shown, slice(8, 13))))
    assert [(v.sku, v.votes) for v in index_of(photo, far_rival).vote(features(shown))] == [("SKU-A", 50)]
    assert index_of(photo, near_rival).vote(features(shown)) == []
