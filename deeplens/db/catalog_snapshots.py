"""What a catalog index is built from: the photos' descriptors, what changed since a
generation, and the saved snapshots of the index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class PhotoRow:
    """A product photo's current descriptors (serialised) and where it sits in the catalog."""

    photo_id: int
    sku: str
    object_key: str
    data: bytes
    words: bytes | None
    """Its descriptors' words, where stored for the vocabulary asked for."""


@dataclass(frozen=True)
class CatalogChanges:
    """What changed in a tenant's catalog after a generation, as of one snapshot of the database."""

    generation: int
    """The catalog generation the changes bring an index to."""
    photos: list[PhotoRow]
    """Photos added or replaced (their current descriptors)."""
    removed: list[int]
    """Photos removed from the catalog."""


@dataclass(frozen=True)
class SnapshotRecord:
    """A catalog index saved in the object store."""

    generation: int
    object_key: str
    vocabulary: str
    """What it was built on: the vocabulary and the file layout (:func:`~deeplens.matching.catalog_index.snapshot_name`)."""
    photos: int
    descriptors: int


_GENERATION = "SELECT COALESCE((SELECT catalog_generation FROM index_state WHERE tenant_id = %(tenant)s), 0) AS generation"


def _photo(row: dict) -> PhotoRow:
    return PhotoRow(row["photo_id"], row["sku"], row["object_key"], bytes(row["data"]), None if row["words"] is None else bytes(row["words"]))


def catalog_changes(conn: psycopg.Connection, tenant: str, since: int, vocabulary: str) -> CatalogChanges:
    """Photos written and removed after catalog generation ``since``.

    One statement, so the generation and the changes come from one snapshot: the changes
    are exactly those that bring an index at ``since`` to ``generation``. Photos come in
    key order, which does not follow upload timing.
    """
    rows = conn.execute(
        f"WITH g AS ({_GENERATION})"
        " SELECT 'photo' AS change, lf.item_id AS photo_id, lf.data, pi.sku, pi.object_key, g.generation,"
        " CASE WHEN lf.words_vocabulary = %(vocabulary)s THEN lf.words END AS words"
        " FROM local_features lf JOIN product_images pi ON pi.tenant_id = lf.tenant_id AND pi.id = lf.item_id CROSS JOIN g"
        " WHERE lf.tenant_id = %(tenant)s AND lf.item_kind = 'product_image' AND lf.catalog_generation > %(since)s"
        " UNION ALL SELECT 'removed', r.photo_id, NULL, r.sku, NULL, g.generation, NULL FROM catalog_removals r CROSS JOIN g"
        " WHERE r.tenant_id = %(tenant)s AND r.catalog_generation > %(since)s"
        " UNION ALL SELECT 'generation', NULL, NULL, NULL, NULL, g.generation, NULL FROM g"
        " ORDER BY change, object_key, photo_id",
        {"tenant": tenant, "since": since, "vocabulary": vocabulary},
    ).fetchall()
    return CatalogChanges(generation=rows[0]["generation"], photos=[_photo(r) for r in rows if r["change"] == "photo"],
                          removed=[r["photo_id"] for r in rows if r["change"] == "removed"])


@contextmanager
def catalog_photos(conn: psycopg.Connection, tenant: str, vocabulary: str, *, batch: int = 256) -> Iterator[tuple[int, Iterator[PhotoRow]]]:
    """The catalog generation and every photo of it, streamed in key order (a snapshot's build).

    Read in one repeatable-read transaction, open while the photos are read, so a catalog
    of any size is read from one snapshot without holding it all in memory.
    """
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        generation = conn.execute(_GENERATION, {"tenant": tenant}).fetchone()["generation"]
        with conn.cursor(name="catalog_photos") as cursor:
            cursor.itersize = batch
            cursor.execute(
                "SELECT lf.item_id AS photo_id, lf.data, pi.sku, pi.object_key,"
                " CASE WHEN lf.words_vocabulary = %s THEN lf.words END AS words FROM local_features lf"
                " JOIN product_images pi ON pi.tenant_id = lf.tenant_id AND pi.id = lf.item_id"
                " WHERE lf.tenant_id = %s AND lf.item_kind = 'product_image' ORDER BY pi.object_key, pi.id",
                (vocabulary, tenant),
            )
            yield generation, (_photo(r) for r in cursor)


def changed_photo_count(conn: psycopg.Connection, tenant: str, since: int) -> int:
    """Photos written or removed after catalog generation ``since``."""
    return conn.execute(
        "SELECT (SELECT count(*) FROM local_features WHERE tenant_id = %(tenant)s AND item_kind = 'product_image'"
        " AND catalog_generation > %(since)s) + (SELECT count(*) FROM catalog_removals WHERE tenant_id = %(tenant)s"
        " AND catalog_generation > %(since)s) AS changed",
        {"tenant": tenant, "since": since},
    ).fetchone()["changed"]


def tenants_with_catalogs(conn: psycopg.Connection) -> list[str]:
    """Every tenant that has ever indexed a product photo."""
    rows = conn.execute("SELECT tenant_id FROM index_state WHERE catalog_generation > 0 ORDER BY tenant_id").fetchall()
    return [row["tenant_id"] for row in rows]


def register_snapshot(conn: psycopg.Connection, tenant: str, record: SnapshotRecord) -> None:
    """Record a saved catalog index (saving the same generation again changes nothing)."""
    conn.execute(
        "INSERT INTO catalog_snapshots (tenant_id, catalog_generation, object_key, vocabulary, photos, descriptors)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (tenant, record.generation, record.object_key, record.vocabulary, record.photos, record.descriptors),
    )


def forget_older_snapshots(conn: psycopg.Connection, tenant: str, vocabulary: str, keep: int) -> list[str]:
    """Delete the records of the tenant's snapshots but the newest ``keep`` on ``vocabulary``
    (its older ones, and every one on another vocabulary or layout, which is never loaded
    again once this one is saved); returns their object keys (to delete from the store)."""
    rows = conn.execute(
        "DELETE FROM catalog_snapshots WHERE tenant_id = %(tenant)s AND (vocabulary <> %(vocabulary)s OR catalog_generation < ("
        " SELECT min(catalog_generation) FROM (SELECT catalog_generation FROM catalog_snapshots"
        " WHERE tenant_id = %(tenant)s AND vocabulary = %(vocabulary)s ORDER BY catalog_generation DESC LIMIT %(keep)s) AS newest))"
        " RETURNING object_key",
        {"tenant": tenant, "vocabulary": vocabulary, "keep": keep},
    ).fetchall()
    return sorted(row["object_key"] for row in rows)


def latest_snapshot(conn: psycopg.Connection, tenant: str, vocabulary: str) -> SnapshotRecord | None:
    """The newest saved catalog index of the tenant on this vocabulary and layout, if any."""
    row = conn.execute(
        "SELECT catalog_generation, object_key, vocabulary, photos, descriptors FROM catalog_snapshots"
        " WHERE tenant_id = %s AND vocabulary = %s ORDER BY catalog_generation DESC LIMIT 1",
        (tenant, vocabulary),
    ).fetchone()
    if row is None:
        return None
    return SnapshotRecord(row["catalog_generation"], row["object_key"], row["vocabulary"], row["photos"], row["descriptors"])
