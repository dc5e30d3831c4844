"""Removing a product, or one of its photos, from a tenant's catalog, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from deeplens.db.index_state import advance_catalog_generation, bump_generation
from deeplens.errors import Conflict
from deeplens.storage.keys import product_key


@dataclass(frozen=True)
class RemovedPhotos:
    """What removing a product, or one of its photos, took out, and what it leaves to do."""

    sku: str
    photo_keys: list[str]
    """The photos' object keys (uploads not indexed yet included), to delete from the store."""
    evidence_keys: list[str]
    """Evidence images of the appearances deleted, to delete from the store."""
    frame_ids: list[int]
    """Keyframes whose last decision saw one of the photos, as a candidate or a rival: to decide again."""
    pairs: list[tuple[str, str]]
    """The product's (video, product) pairs, where it keeps other photos: to roll up again."""
    appearances: int
    """Appearances deleted."""
    product_removed: bool
    """Whether the product went too (it had no other photo, or it was the product that was removed)."""


def remove_product(conn: psycopg.Connection, tenant: str, sku: str) -> RemovedPhotos | None:
    """Delete a product, its photos and everything derived from them; None when there is no such product.

    The photos are recorded in ``catalog_removals`` with the catalog generation this
    advances to, so every catalog index drops them as it catches up. Call it in a
    transaction. The generation's row stays locked until it ends, so a keyframe decision
    either ends before (and this lists its keyframe to decide again) or sees the removal
    and is made again (:func:`removed_since`). A product whose photos a pass
    over the earlier keyframes is matching just now is :class:`Conflict` ``catalog_busy``:
    the pass's decisions wait for that row, so waiting for the pass would wait forever.
    """
    uploads = _locked_uploads(conn, tenant, sku)
    photos = _locked_photos(conn, tenant, sku)
    if photos is None:
        return None
    indexed = {row["object_key"] for row in photos}
    return _remove(conn, tenant, sku, photos, whole_product=True, waiting=[key for key in uploads if key not in indexed])


def remove_photo(conn: psycopg.Connection, tenant: str, key: str) -> RemovedPhotos | None:
    """Delete one product photo (by object key) and what was derived from it, as :func:`remove_product`
    does; the product goes with its last photo. None when no photo has that key."""
    # The upload's record first: a features step indexing it now commits before this goes on.
    conn.execute("SELECT 1 FROM objects WHERE tenant_id = %s AND key = %s FOR UPDATE", (tenant, key))
    photo = conn.execute("SELECT id, sku FROM product_images WHERE tenant_id = %s AND object_key = %s", (tenant, key)).fetchone()
    if photo is None:
        # Not indexed yet: without its upload's record, its features step indexes nothing.
        conn.execute("DELETE FROM objects WHERE tenant_id = %s AND key = %s", (tenant, key))
        return None
    photos = _locked_photos(conn, tenant, photo["sku"]) or []
    chosen = [row for row in photos if row["id"] == photo["id"]]
    return _remove(conn, tenant, photo["sku"], chosen, whole_product=len(chosen) == len(photos))


def _locked_uploads(conn: psycopg.Connection, tenant: str, sku: str) -> list[str]:
    """Keys of the product's uploaded photos, indexed or not, their upload records locked.

    Taken before the photos themselves: a features step holds its photo's upload record
    from the start of the transaction that indexes it (:func:`deeplens.db.catalog.hold_upload`),
    so a photo being indexed now is committed, and listed, before the removal goes on, and one
    indexed later finds its record gone and indexes nothing.
    """
    rows = conn.execute(
        "SELECT key FROM objects WHERE tenant_id = %s AND kind = 'product_image' AND starts_with(key, %s) ORDER BY key FOR UPDATE",
        (tenant, product_key(tenant, sku, "")),
    ).fetchall()
    return [row["key"] for row in rows]


def _locked_photos(conn: psycopg.Connection, tenant: str, sku: str) -> list[dict] | None:
    """The product's photos, with the product and its photos locked; None when there is no such product."""
    if conn.execute("SELECT 1 FROM products WHERE tenant_id = %s AND sku = %s FOR UPDATE", (tenant, sku)).fetchone() is None:
        return None
    return conn.execute(
        "SELECT id, object_key FROM product_images WHERE tenant_id = %s AND sku = %s ORDER BY id FOR UPDATE", (tenant, sku)
    ).fetchall()


def _frames_that_saw(conn: psycopg.Connection, tenant: str, ids: list[int]) -> list[int]:
    """Keyframes whose last decision saw one of these photos, as a candidate or a rival, or matched one."""
    rows = conn.execute(
        "SELECT id FROM frames WHERE tenant_id = %(tenant)s AND (decided_candidates && %(ids)s::bigint[]"
        " OR decided_rivals && %(ids)s::bigint[] OR id IN (SELECT frame_id FROM frame_matches"
        " WHERE tenant_id = %(tenant)s AND product_image_id = ANY(%(ids)s))) ORDER BY id",
        {"tenant": tenant, "ids": ids},
    ).fetchall()
    return [row["id"] for row in rows]


def _remove(
    conn: psycopg.Connection, tenant: str, sku: str, photos: list[dict], *, whole_product: bool, waiting: Sequence[str] = ()
) -> RemovedPhotos:
    """Delete ``photos`` and what was derived from them; ``waiting`` are uploads of the product
    not indexed yet, whose records go too (their objects are deleted with the photos')."""
    ids, keys = [row["id"] for row in photos], [row["object_key"] for row in photos]
    try:
        with conn.transaction():
            conn.execute("SELECT 1 FROM local_features WHERE tenant_id = %s AND item_kind = 'product_image' AND item_id = ANY(%s)"
                         " FOR UPDATE NOWAIT", (tenant, ids))
    except psycopg.errors.LockNotAvailable:
        raise Conflict("catalog_busy", f"{sku}'s photos are being matched against the library just now; try again shortly") from None
    generation = advance_catalog_generation(conn, tenant, [])
    frames = _frames_that_saw(conn, tenant, ids)
    args = {"tenant": tenant, "ids": ids, "sku": sku}
    evidence = conn.execute(
        "DELETE FROM appearances WHERE tenant_id = %(tenant)s AND (best_product_image_id = ANY(%(ids)s)"
        + (" OR sku = %(sku)s" if whole_product else "") + ") RETURNING evidence_key", args,
    ).fetchall()
    conn.execute("DELETE FROM frame_matches WHERE tenant_id = %(tenant)s AND product_image_id = ANY(%(ids)s)", args)
    for table in ("embeddings", "class_scores", "local_features"):
        conn.execute(f"DELETE FROM {table} WHERE tenant_id = %s AND item_kind = 'product_image' AND item_id = ANY(%s)", (tenant, ids))
    conn.execute("DELETE FROM objects WHERE tenant_id = %s AND key = ANY(%s)", (tenant, keys + list(waiting)))
    conn.execute("DELETE FROM product_images WHERE tenant_id = %s AND id = ANY(%s)", (tenant, ids))
    if whole_product:
        conn.execute("DELETE FROM products WHERE tenant_id = %s AND sku = %s", (tenant, sku))
    conn.execute(
        "INSERT INTO catalog_removals (tenant_id, photo_id, sku, object_key, catalog_generation)"
        " SELECT %s, id, %s, key, %s FROM unnest(%s::bigint[], %s::text[]) AS r(id, key)",
        (tenant, sku, generation, ids, keys),
    )
    bump_generation(conn, tenant)  # the search index lost the photos too
    return RemovedPhotos(sku, keys + list(waiting), [row["evidence_key"] for row in evidence if row["evidence_key"]], frames,
                         [] if whole_product else product_pairs(conn, tenant, sku), len(evidence), whole_product)


def removed_photo(conn: psycopg.Connection, tenant: str, key: str) -> RemovedPhotos | None:
    """What is left to do for a photo removed before under ``key`` (a removal run again): the
    keyframes whose decision still saw it, and every pair of its product; None if none was."""
    rows = conn.execute("SELECT photo_id, sku FROM catalog_removals WHERE tenant_id = %s AND object_key = %s", (tenant, key)).fetchall()
    if not rows:
        return None
    ids, sku = [row["photo_id"] for row in rows], rows[0]["sku"]
    frames = _frames_that_saw(conn, tenant, ids)
    kept = conn.execute("SELECT 1 FROM products WHERE tenant_id = %s AND sku = %s", (tenant, sku)).fetchone() is not None
    return RemovedPhotos(sku, [key], [], frames, product_pairs(conn, tenant, sku) if kept else [], 0, not kept)


def product_pairs(conn: psycopg.Connection, tenant: str, sku: str) -> list[tuple[str, str]]:
    """Every (video, product) pair of ``sku`` that has keyframe matches or appearances."""
    rows = conn.execute(
        "SELECT video_id FROM frame_matches WHERE tenant_id = %(tenant)s AND sku = %(sku)s"
        " UNION SELECT video_id FROM appearances WHERE tenant_id = %(tenant)s AND sku = %(sku)s ORDER BY video_id",
        {"tenant": tenant, "sku": sku},
    ).fetchall()
    return [(row["video_id"], sku) for row in rows]


def removed_since(conn: psycopg.Connection, tenant: str, generation: int, photo_ids: list[int]) -> bool:
    """Whether any of these photos was removed after catalog ``generation``, holding the tenant's
    catalog generation (shared, until the transaction ends) while it asks: a removal waits for
    the decisions that asked, and a decision that asks during a removal waits for its end."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM catalog_removals WHERE tenant_id = %(tenant)s AND catalog_generation > %(generation)s"
        " AND photo_id = ANY(%(ids)s)) AS removed FROM index_state WHERE tenant_id = %(tenant)s FOR SHARE",
        {"tenant": tenant, "generation": generation, "ids": photo_ids},
    ).fetchone()
    return row is not None and bool(row["removed"])
