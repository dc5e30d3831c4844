"""Removing a product from a tenant's catalog, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from deeplens.db.index_state import advance_catalog_generation, bump_generation
from deeplens.errors import Conflict


@dataclass(frozen=True)
class RemovedProduct:
    """What removing a product took out, and what it leaves to do."""

    sku: str
    photo_keys: list[str]
    """The photos' object keys, to delete from the store."""
    evidence_keys: list[str]
    """Evidence images of the product's appearances, to delete from the store."""
    frame_ids: list[int]
    """Keyframes whose last decision saw one of the photos, as a candidate or a rival: to decide again."""
    appearances: int
    """Appearances of the product deleted."""
    generation: int
    """The catalog generation that removed the photos."""


def remove_product(conn: psycopg.Connection, tenant: str, sku: str) -> RemovedProduct | None:
    """Delete a product, its photos and everything derived from them; None when there is no such product.

    The photos are recorded in ``catalog_removals`` with the catalog generation this
    advances to, so every catalog index drops them as it catches up. Call it in a
    transaction. The generation's row stays locked until it ends, so a keyframe decision
    either ends before (and this lists its keyframe to decide again) or sees the removal
    and is made again (:func:`hold_catalog_generation`). A product whose photos a pass
    over the earlier keyframes is matching just now is :class:`Conflict` ``catalog_busy``:
    the pass's decisions wait for that row, so waiting for the pass would wait forever.
    """
    if conn.execute("SELECT 1 FROM products WHERE tenant_id = %s AND sku = %s FOR UPDATE", (tenant, sku)).fetchone() is None:
        return None
    photos = conn.execute(
        "SELECT id, object_key FROM product_images WHERE tenant_id = %s AND sku = %s ORDER BY id FOR UPDATE", (tenant, sku)
    ).fetchall()
    ids, keys = [row["id"] for row in photos], [row["object_key"] for row in photos]
    try:
        with conn.transaction():
            conn.execute("SELECT 1 FROM local_features WHERE tenant_id = %s AND item_kind = 'product_image' AND item_id = ANY(%s)"
                         " FOR UPDATE NOWAIT", (tenant, ids))
    except psycopg.errors.LockNotAvailable:
        raise Conflict("catalog_busy", f"{sku}'s photos are being matched against the library just now; try again shortly") from None
    generation = advance_catalog_generation(conn, tenant, [])
    frames = conn.execute(
        "SELECT id FROM frames WHERE tenant_id = %(tenant)s AND (decided_candidates && %(ids)s::bigint[] OR decided_rivals && %(ids)s::bigint[]"
        " OR id IN (SELECT frame_id FROM frame_matches WHERE tenant_id = %(tenant)s AND sku = %(sku)s)) ORDER BY id",
        {"tenant": tenant, "ids": ids, "sku": sku},
    ).fetchall()
    evidence = conn.execute(
        "DELETE FROM appearances WHERE tenant_id = %s AND sku = %s RETURNING evidence_key", (tenant, sku)
    ).fetchall()
    conn.execute("DELETE FROM frame_matches WHERE tenant_id = %s AND sku = %s", (tenant, sku))
    for table in ("embeddings", "class_scores", "local_features"):
        conn.execute(f"DELETE FROM {table} WHERE tenant_id = %s AND item_kind = 'product_image' AND item_id = ANY(%s)", (tenant, ids))
    conn.execute("DELETE FROM objects WHERE tenant_id = %s AND key = ANY(%s)", (tenant, keys))
    conn.execute("DELETE FROM product_images WHERE tenant_id = %s AND id = ANY(%s)", (tenant, ids))
    conn.execute("DELETE FROM products WHERE tenant_id = %s AND sku = %s", (tenant, sku))
    conn.execute(
        "INSERT INTO catalog_removals (tenant_id, photo_id, sku, catalog_generation) SELECT %s, id, %s, %s FROM unnest(%s::bigint[]) AS id",
        (tenant, sku, generation, ids),
    )
    bump_generation(conn, tenant)  # the search index lost the photos too
    return RemovedProduct(sku, keys, [row["evidence_key"] for row in evidence if row["evidence_key"]],
                          [row["id"] for row in frames], len(evidence), generation)


def hold_catalog_generation(conn: psycopg.Connection, tenant: str) -> None:
    """Hold the tenant's catalog generation (shared, until the transaction ends): a removal
    waits for the decisions that hold it, and a decision for a removal under way."""
    conn.execute("SELECT 1 FROM index_state WHERE tenant_id = %s FOR SHARE", (tenant,))


def removed_since(conn: psycopg.Connection, tenant: str, generation: int, photo_ids: list[int]) -> bool:
    """Whether any of these photos was removed after catalog ``generation``."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM catalog_removals WHERE tenant_id = %s AND catalog_generation > %s AND photo_id = ANY(%s)) AS removed",
        (tenant, generation, photo_ids),
    ).fetchone()
    return bool(row["removed"])
