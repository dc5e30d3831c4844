"""The per-process catalog index cache: current with the database, and never two indexes of a tenant."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from deeplens.matching import index_cache
from deeplens.matching.index_cache import CatalogIndexCache
from deeplens.vision.local_features import LocalFeatures

RNG = np.random.default_rng(5)


def features(n: int = 50) -> LocalFeatures:
    return LocalFeatures(
        points=RNG.uniform(0, 300, size=(n, 2)).astype(np.float32),
        descriptors=RNG.integers(0, 64, size=(n, 128)).astype(np.float32),
        width=300,
        height=300,
        kind="sift",
    )


@pytest.fixture
def catalog(index_front_photo):
    """Adds (or replaces) a product's front photo with new features in this test's tenant; returns them."""

    def add(sku: str, sha256: str = "") -> LocalFeatures:
        photo = features()
        index_front_photo(sku, photo, sha256)
        return photo

    return add


def current(services, cache: CatalogIndexCache):
    with services.db.pool.connection() as conn:
        return cache.get(conn, services.settings.tenant)


def test_an_unchanged_catalog_gets_the_same_index(services, catalog):
    catalog("SKU-A")
    cache = CatalogIndexCache()
    assert current(services, cache) is current(services, cache)


def test_a_photo_added_a_moment_ago_is_voted_for_at_once(services, catalog):
    catalog("SKU-A")
    cache = CatalogIndexCache()
    assert current(services, cache).size == 1
    added = catalog("SKU-B")
    votes = current(services, cache).vote(added)
    assert votes and votes[0].sku == "SKU-B"


def test_a_photo_replaced_under_the_same_key_votes_with_its_new_features(services, catalog):
    catalog("SKU-A")
    old = catalog("SKU-B")
    cache = CatalogIndexCache()
    assert current(services, cache).vote(old)[0].sku == "SKU-B"
    new = catalog("SKU-B", sha256="sha-SKU-B-reshot")
    index = current(services, cache)
    assert (index.size, index.vote(new)[0].sku) == (2, "SKU-B")
    # The old features find SKU-B no more than chance would (they found it with all 50).
    assert sum(v.votes for v in index.vote(old) if v.sku == "SKU-B") < 10


def test_the_stale_index_is_let_go_before_the_new_one_is_built(services, catalog, monkeypatch):
    # A thousand products index in about 0.8 GB: holding the old index while building
    # the new one would double the pod's memory at every catalog change.
    catalog("SKU-A")
    cache = CatalogIndexCache()
    stale = weakref.ref(current(services, cache))
    catalog("SKU-B")
    alive_at_build: list[bool] = []
    build = index_cache.CatalogIndex

    def observed_build(photos, **kwargs):
        gc.collect()
        alive_at_build.append(stale() is not None)
        return build(photos, **kwargs)

    monkeypatch.setattr(index_cache, "CatalogIndex", observed_build)
    assert current(services, cache).size == 2
    assert alive_at_build == [False]


def test_the_index_knows_the_catalog_generation_it_was_built_from(services, catalog):
    cache = CatalogIndexCache()
    catalog("SKU-A")
    first = current(services, cache).generation
    catalog("SKU-A", sha256="sha-SKU-A-reshot")  # a replaced photo is a new catalog too
    replaced = current(services, cache).generation
    catalog("SKU-B")
    second = current(services, cache).generation
    assert first < replaced < second
