"""The catalog index grown photo by photo, saved and loaded: votes that depend only on which photos it holds."""

from __future__ import annotations

from dataclasses import replace

import faiss
import numpy as np
import pytest

from deeplens.matching.catalog_index import CatalogIndex, CatalogPhoto
from deeplens.matching.vocabulary import load_vocabulary, vocabulary_of
from deeplens.vision.local_features import LocalFeatures

DIMS = 128


def _features(descriptors: np.ndarray) -> LocalFeatures:
    n = len(descriptors)
    return LocalFeatures(points=np.zeros((n, 2), np.float32), descriptors=descriptors.astype(np.float32),
                         width=240, height=240, kind="sift")


def _random_descriptors(rng: np.random.Generator, n: int) -> np.ndarray:
    # Sparse, non-negative integers, as quantised RootSIFT is.
    values = rng.integers(0, 120, size=(n, DIMS))
    return np.where(rng.random((n, DIMS)) < 0.4, values, 0).astype(np.float32)


@pytest.fixture(scope="module")
def catalog() -> list[CatalogPhoto]:
    """Twelve products of two photos each, every photo with its own descriptors."""
    rng = np.random.default_rng(7)
    return [
        CatalogPhoto(photo_id=10 * product + photo, sku=f"SKU-{product:02d}", object_key=f"products/t/SKU-{product:02d}/{photo}.jpg",
                     features=_features(_random_descriptors(rng, 80)))
        for product in range(12) for photo in range(2)
    ]


def _frame_showing(photo: CatalogPhoto, seed: int) -> LocalFeatures:
    """A frame with half of the photo's descriptors, slightly disturbed, among clutter."""
    rng = np.random.default_rng(seed)
    shown = photo.features.descriptors[::2] + rng.integers(-2, 3, size=(40, DIMS))
    return _features(np.vstack([np.clip(shown, 0, 255), _random_descriptors(rng, 60)]))


def _frames(catalog: list[CatalogPhoto]) -> list[LocalFeatures]:
    return [_frame_showing(photo, seed) for seed, photo in enumerate(catalog[::5])]


def _votes(index, frames: list[LocalFeatures]) -> list[list[tuple[int, str, int]]]:
    return [[(v.product_image_id, v.sku, v.votes) for v in index.vote(frame)] for frame in frames]


def _built(photos: list[CatalogPhoto]) -> CatalogIndex:
    return CatalogIndex.build(photos)


def test_the_photo_a_frame_shows_gets_the_most_votes(catalog):
    index = _built(catalog)
    for seed, photo in enumerate(catalog[::5]):
        assert index.vote(_frame_showing(photo, seed))[0].product_image_id == photo.photo_id


def test_votes_do_not_depend_on_the_order_photos_were_added(catalog):
    at_once = _built(catalog)
    grown = CatalogIndex()
    for start in range(len(catalog) - 1, -1, -5):
        grown = grown.updated(reversed(catalog[max(0, start - 4): start + 1]), generation=grown.generation + 1)
    assert _votes(grown, _frames(catalog)) == _votes(at_once, _frames(catalog))


def test_a_saved_index_gives_the_same_votes_after_a_reload(catalog, tmp_path):
    built = CatalogIndex.build(catalog, generation=42)
    built.save(tmp_path / "catalog.faiss")
    loaded = CatalogIndex.load(tmp_path / "catalog.faiss")
    assert loaded.generation == 42 and loaded.size == built.size and loaded.descriptors == built.descriptors
    assert _votes(loaded, _frames(catalog)) == _votes(built, _frames(catalog))


def test_photos_added_to_a_loaded_index_vote_as_in_one_built_at_once(catalog, tmp_path):
    _built(catalog[:15]).save(tmp_path / "base.faiss")
    loaded = CatalogIndex.load(tmp_path / "base.faiss").updated(catalog[15:], generation=2)
    assert _votes(loaded, _frames(catalog)) == _votes(_built(catalog), _frames(catalog))


def test_a_replaced_photo_votes_with_its_new_descriptors(catalog, tmp_path):
    _built(catalog).save(tmp_path / "base.faiss")
    index = CatalogIndex.load(tmp_path / "base.faiss")
    old = catalog[0]
    reshot = CatalogPhoto(old.photo_id, old.sku, old.object_key, _features(_random_descriptors(np.random.default_rng(99), 80)))
    index = index.updated([reshot], generation=2)
    assert index.size == len(catalog)
    assert old.photo_id not in {v.product_image_id for v in index.vote(_frame_showing(old, 0))}
    assert index.vote(_frame_showing(reshot, 1))[0].product_image_id == old.photo_id


def test_an_index_with_a_product_removed_votes_as_one_built_without_it(catalog, tmp_path):
    _built(catalog).save(tmp_path / "base.faiss")
    gone = [photo for photo in catalog if photo.sku == "SKU-00"]
    kept = [photo for photo in catalog if photo.sku != "SKU-00"]
    for index in (_built(catalog), CatalogIndex.load(tmp_path / "base.faiss")):
        removed = index.updated([], generation=2, removed=[photo.photo_id for photo in gone])
        assert removed.size == len(kept)
        assert _votes(removed, _frames(catalog)) == _votes(_built(kept), _frames(catalog))


def test_a_removed_photo_stays_out_of_the_index_saved_after_it(catalog, tmp_path):
    removed = _built(catalog).updated([], generation=2, removed=[catalog[0].photo_id])
    removed.save(tmp_path / "after.faiss")
    loaded = CatalogIndex.load(tmp_path / "after.faiss")
    assert loaded.descriptors == removed.descriptors == sum(len(photo.features) for photo in catalog[1:])
    assert _votes(loaded, _frames(catalog)) == _votes(_built(catalog[1:]), _frames(catalog))


def test_a_loaded_index_is_not_saved_again(catalog, tmp_path):
    _built(catalog).save(tmp_path / "base.faiss")
    with pytest.raises(ValueError, match="loaded index"):
        CatalogIndex.load(tmp_path / "base.faiss").save(tmp_path / "again.faiss")


def test_an_empty_index_votes_for_nothing(catalog):
    assert CatalogIndex().vote(_frames(catalog)[0]) == []


def test_an_update_leaves_the_index_it_came_from_as_it_was(catalog):
    before = _built(catalog[:10])
    votes = _votes(before, _frames(catalog))
    after = before.updated(catalog[10:], generation=1)
    assert (before.size, after.size) == (10, len(catalog))
    assert _votes(before, _frames(catalog)) == votes


def test_a_photo_given_twice_in_one_update_is_refused(catalog):
    with pytest.raises(ValueError, match="twice"):
        CatalogIndex.build([catalog[0], catalog[0]])


def test_many_small_updates_keep_few_segments(catalog):
    index = CatalogIndex()
    for n, photo in enumerate(catalog):
        index = index.updated([photo], generation=n + 1)
    assert len(index._segments) <= 5  # log2 of 24 photos, rounded up
    assert _votes(index, _frames(catalog)) == _votes(_built(catalog), _frames(catalog))


def test_photos_with_their_words_found_beforehand_vote_as_photos_without(catalog):
    vocabulary = load_vocabulary()
    with_words = [replace(p, words=vocabulary.assign(p.features.descriptors)) for p in catalog]
    assert _votes(CatalogIndex.build(with_words), _frames(catalog)) == _votes(_built(catalog), _frames(catalog))


def test_words_that_do_not_fit_the_descriptors_are_refused(catalog):
    with pytest.raises(ValueError, match="words"):
        CatalogIndex.build([replace(catalog[0], words=np.zeros(3, np.int64))])


def test_a_descriptors_word_is_its_nearest_centre():
    vocabulary = load_vocabulary()
    descriptors = np.random.default_rng(5).integers(0, 90, (300, vocabulary.dims)).astype(np.float32)
    distances = ((descriptors[:, None, :] - vocabulary.centres[None, :, :]) ** 2).sum(axis=2)
    assert np.array_equal(vocabulary.assign(descriptors), distances.argmin(axis=1))


def test_a_descriptors_nearest_words_are_its_nearest_centres_nearest_first():
    vocabulary = load_vocabulary()
    descriptors = np.random.default_rng(6).integers(0, 90, (700, vocabulary.dims)).astype(np.float32)  # more than one chunk
    distances = ((descriptors[:, None, :] - vocabulary.centres[None, :, :]) ** 2).sum(axis=2)
    sq_dist, words = vocabulary.nearest(descriptors, 4)
    # Float rounding may order near-equal words either way, so distances are compared, not word numbers.
    assert np.allclose(np.take_along_axis(distances, words, axis=1), np.sort(distances, axis=1)[:, :4], rtol=1e-4)
    assert np.allclose(sq_dist, np.take_along_axis(distances, words, axis=1), rtol=1e-4)
    assert np.mean(words[:, 0] == vocabulary.assign(descriptors)) > 0.99


def test_equally_near_words_come_in_word_order():
    centres = np.array([[9, 0], [4, 0], [4, 0], [0, 0], [4, 0]], np.float32)
    sq_dist, words = vocabulary_of(centres).nearest(np.array([[4, 0], [1, 0]], np.float32), 4)
    assert words.tolist() == [[1, 2, 4, 3], [3, 1, 2, 4]]
    assert sq_dist.tolist() == [[0, 0, 0, 16], [1, 9, 9, 9]]


def test_an_index_saved_in_the_residual_layout_is_not_loaded(catalog, tmp_path):
    index = _built(catalog)
    path = tmp_path / "catalog.faiss"
    index.save(path)
    lists = faiss.read_index(str(path))
    faiss.downcast_index(lists).by_residual = True  # layout 1 coded residuals, whose distances were wrong
    faiss.write_index(lists, str(path))
    with pytest.raises(ValueError, match="residuals"):
        CatalogIndex.load(path)
