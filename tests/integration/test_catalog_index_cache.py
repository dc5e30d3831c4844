"""The per-process catalog index cache: current with the database photo by photo, starting from a saved snapshot."""

from __future__ import annotations

import numpy as np
import pytest

from deeplens.caches.catalog_indexes import CatalogIndexCache
from deeplens.db.catalog_snapshots import SnapshotRecord, register_snapshot
from deeplens.matching import snapshots
from deeplens.matching.snapshots import build_snapshot
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


def new_cache(services, tmp_path) -> CatalogIndexCache:
    """A cache as a freshly started match process holds it (nothing loaded yet)."""
    return CatalogIndexCache(services.store, tmp_path / "cache")


def test_an_unchanged_catalog_gets_the_same_index(services, catalog, tmp_path):
    catalog("SKU-A")
    cache = new_cache(services, tmp_path)
    assert current(services, cache) is current(services, cache)


def test_a_photo_added_a_moment_ago_is_voted_for_at_once(services, catalog, tmp_path):
    catalog("SKU-A")
    cache = new_cache(services, tmp_path)
    assert current(services, cache).size == 1
    added = catalog("SKU-B")
    votes = current(services, cache).vote(added)
    assert votes and votes[0].sku == "SKU-B"


def test_a_photo_replaced_under_the_same_key_votes_with_its_new_features(services, catalog, tmp_path):
    catalog("SKU-A")
    old = catalog("SKU-B")
    cache = new_cache(services, tmp_path)
    assert current(services, cache).vote(old)[0].sku == "SKU-B"
    new = catalog("SKU-B", sha256="sha-SKU-B-reshot")
    index = current(services, cache)
    assert (index.size, index.vote(new)[0].sku) == (2, "SKU-B")
    # The old features find SKU-B no more than chance would (they found it with all 50).
    assert sum(v.votes for v in index.vote(old) if v.sku == "SKU-B") < 10


def test_a_change_reads_only_the_photos_it_touched(services, catalog, tmp_path, monkeypatch):
    for sku in ("SKU-A", "SKU-B", "SKU-C"):
        catalog(sku)
    cache = new_cache(services, tmp_path)
    assert current(services, cache).size == 3
    decoded: list[bytes] = []
    decode = snapshots.from_bytes
    monkeypatch.setattr(snapshots, "from_bytes", lambda data: decoded.append(data) or decode(data))
    catalog("SKU-D")
    assert current(services, cache).size == 4
    assert len(decoded) == 1


def test_a_cold_start_loads_the_newest_snapshot_and_adds_what_changed_since(services, catalog, tmp_path, monkeypatch):
    for sku in ("SKU-A", "SKU-B"):
        catalog(sku)
    record = build_snapshot(services.db, services.store, services.settings.tenant)
    assert (record.photos, record.descriptors) == (2, 100)
    added = catalog("SKU-C")
    decoded: list[bytes] = []
    decode = snapshots.from_bytes
    monkeypatch.setattr(snapshots, "from_bytes", lambda data: decoded.append(data) or decode(data))
    index = current(services, new_cache(services, tmp_path))
    assert (index.size, len(decoded)) == (3, 1)  # two photos from the snapshot, one from the database
    assert index.vote(added)[0].sku == "SKU-C"


def test_an_index_from_a_snapshot_gives_the_candidates_of_one_built_from_the_database(services, catalog, tmp_path):
    photos = [catalog(f"SKU-{n}") for n in range(6)]
    built = current(services, new_cache(services, tmp_path / "built"))
    build_snapshot(services.db, services.store, services.settings.tenant)
    loaded = current(services, new_cache(services, tmp_path / "loaded"))
    assert [loaded.vote(p) for p in photos] == [built.vote(p) for p in photos]


def test_an_unchanged_catalog_is_not_saved_twice(services, catalog):
    catalog("SKU-A")
    first = build_snapshot(services.db, services.store, services.settings.tenant)
    assert build_snapshot(services.db, services.store, services.settings.tenant) == first
    catalog("SKU-B")
    assert build_snapshot(services.db, services.store, services.settings.tenant, min_changed=2) is None
    assert build_snapshot(services.db, services.store, services.settings.tenant, min_changed=1).generation > first.generation


def test_the_index_knows_the_catalog_generation_it_was_built_from(services, catalog, tmp_path):
    cache = new_cache(services, tmp_path)
    catalog("SKU-A")
    first = current(services, cache).generation
    catalog("SKU-A", sha256="sha-SKU-A-reshot")  # a replaced photo is a new catalog too
    replaced = current(services, cache).generation
    catalog("SKU-B")
    second = current(services, cache).generation
    assert first < replaced < second


def test_a_newer_snapshot_takes_the_place_of_the_older_in_a_process_cache(services, catalog, tmp_path):
    catalog("SKU-A")
    build_snapshot(services.db, services.store, services.settings.tenant)
    current(services, new_cache(services, tmp_path))
    catalog("SKU-B")
    newer = build_snapshot(services.db, services.store, services.settings.tenant)
    assert current(services, new_cache(services, tmp_path)).size == 2
    cached = sorted(p.name for p in (tmp_path / "cache").rglob("catalog-*"))
    name = newer.object_key.rsplit("/", 1)[1]
    assert cached == [name, f"{name}.photos.npz"]


def test_the_store_keeps_the_newest_two_snapshots_of_a_tenant(services, catalog):
    records = []
    for sku in ("SKU-A", "SKU-B", "SKU-C"):
        catalog(sku)
        records.append(build_snapshot(services.db, services.store, services.settings.tenant))
    kept = [r for r in records if services.store.head(r.object_key) is not None]
    assert kept == records[1:]
    assert services.store.head(records[0].object_key + ".photos.npz") is None
    with services.db.pool.connection() as conn:
        rows = conn.execute("SELECT catalog_generation FROM catalog_snapshots WHERE tenant_id = %s ORDER BY 1",
                            (services.settings.tenant,)).fetchall()
    assert [row["catalog_generation"] for row in rows] == [r.generation for r in records[1:]]


def test_saving_a_snapshot_deletes_those_of_another_vocabulary_or_layout(services, catalog):
    catalog("SKU-A")
    tenant = services.settings.tenant
    stale = SnapshotRecord(1, f"indexes/{tenant}/catalog-old-layout.faiss", "rootsift-words-4096", 1, 50)
    services.store.put(stale.object_key, b"an index no version loads any more", "application/octet-stream")
    with services.db.transaction() as conn:
        register_snapshot(conn, tenant, stale)
    saved = build_snapshot(services.db, services.store, tenant)
    assert services.store.head(stale.object_key) is None
    with services.db.pool.connection() as conn:
        rows = conn.execute("SELECT object_key FROM catalog_snapshots WHERE tenant_id = %s", (tenant,)).fetchall()
    assert [row["object_key"] for row in rows] == [saved.object_key]
