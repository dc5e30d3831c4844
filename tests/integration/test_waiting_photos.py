"""Product photos wait for one pass over the keyframes indexed before them, and each pass owns its photos."""

from __future__ import annotations

import pytest
from featurekit import random_features

from deeplens.db.local_features import (
    claim_waiting_photos,
    mark_earlier_frames_matched,
    record_earlier_frames_progress,
)
from deeplens.vision.local_features import LocalFeatures


def features() -> LocalFeatures:
    return random_features(seed=1)


@pytest.fixture
def index_photo(index_front_photo):
    """Indexes (or re-indexes) a product's front photo in this test's tenant; returns its id."""
    return lambda sku: index_front_photo(sku, features())


def waiting(services) -> list[str]:
    with services.db.transaction() as conn:
        return [photo.sku for photo in claim_waiting_photos(conn, services.settings.tenant)]


def test_a_new_photo_waits_until_a_pass_marks_it_matched(services, index_photo):
    image_id = index_photo("SKU-A")
    assert waiting(services) == ["SKU-A"]
    with services.db.transaction() as conn:
        mark_earlier_frames_matched(conn, services.settings.tenant, [image_id])
    assert waiting(services) == []


def test_a_pass_takes_every_waiting_photo_at_once(services, index_photo):
    index_photo("SKU-B")
    index_photo("SKU-A")
    assert waiting(services) == ["SKU-A", "SKU-B"]


def test_photos_held_by_one_pass_are_skipped_by_another(services, index_photo):
    index_photo("SKU-A")
    with services.db.transaction() as first:
        assert [p.sku for p in claim_waiting_photos(first, services.settings.tenant)] == ["SKU-A"]
        index_photo("SKU-B")
        assert waiting(services) == ["SKU-B"]


def test_a_pass_that_fails_leaves_its_photos_waiting(services, index_photo):
    index_photo("SKU-A")
    with pytest.raises(RuntimeError), services.db.transaction() as conn:
        claim_waiting_photos(conn, services.settings.tenant)
        raise RuntimeError("the pass failed")
    assert waiting(services) == ["SKU-A"]


def test_a_replaced_photo_waits_again(services, index_photo):
    image_id = index_photo("SKU-A")
    with services.db.transaction() as conn:
        mark_earlier_frames_matched(conn, services.settings.tenant, [image_id])
    assert index_photo("SKU-A") == image_id
    assert waiting(services) == ["SKU-A"]


def progress(services) -> dict[str, int]:
    with services.db.transaction() as conn:
        return {photo.sku: photo.through for photo in claim_waiting_photos(conn, services.settings.tenant)}


def record_progress(services, image_id: int, *throughs: int) -> None:
    """Records, one after the other in one transaction, that a pass got through these keyframe ids for the photo."""
    with services.db.transaction() as conn:
        for through in throughs:
            record_earlier_frames_progress(conn, services.settings.tenant, [image_id], through)


def test_a_pass_that_stops_early_keeps_its_photos_waiting_with_their_progress(services, index_photo):
    record_progress(services, index_photo("SKU-A"), 120)
    assert progress(services) == {"SKU-A": 120}


def test_progress_never_goes_back(services, index_photo):
    record_progress(services, index_photo("SKU-A"), 120, 60)
    assert progress(services) == {"SKU-A": 120}


def test_a_replaced_photo_starts_its_pass_again(services, index_photo):
    record_progress(services, index_photo("SKU-A"), 120)
    index_photo("SKU-A")
    assert progress(services) == {"SKU-A": 0}


class _Explaining:
    """A connection stand-in that plans each query instead of running it, keeping the plans."""

    def __init__(self, conn) -> None:
        self.conn, self.plans = conn, []

    def execute(self, sql, params=()):
        rows = self.conn.execute("EXPLAIN " + sql, params).fetchall()
        self.plans.append("\n".join(next(iter(row.values())) for row in rows))
        return self

    def fetchall(self) -> list:
        return []


def test_finding_the_waiting_photos_of_a_large_catalog_reads_the_waiting_index_not_the_table(services):
    tenant = services.settings.tenant
    with services.db.transaction() as conn:
        conn.execute("INSERT INTO products (tenant_id, sku) SELECT %s, 'SKU-' || n FROM generate_series(1, 5000) n", (tenant,))
        conn.execute(
            "INSERT INTO product_images (tenant_id, sku, object_key, sha256, width, height)"
            " SELECT %s, 'SKU-' || n, 'products/SKU-' || n || '/front.jpg', md5(n::text), 64, 64 FROM generate_series(1, 5000) n",
            (tenant,),
        )
        # Every photo matched already, as in a catalog onboarded before.
        conn.execute(
            "INSERT INTO local_features (tenant_id, item_kind, item_id, kind, count, data, indexed_at, earlier_frames_matched_at)"
            " SELECT tenant_id, 'product_image', id, 'sift', 0, '', now(), now() FROM product_images WHERE tenant_id = %s",
            (tenant,),
        )
    with services.db.transaction() as conn:
        # The statistics autovacuum keeps of a catalog this size (other tests' tenants share the tables).
        conn.execute("ANALYZE local_features, product_images")
        explaining = _Explaining(conn)
        claim_waiting_photos(explaining, tenant)
    assert "local_features_photos_waiting" in explaining.plans[0]
