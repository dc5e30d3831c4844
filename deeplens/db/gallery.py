"""What the web gallery reads beside the listings: photo ids per product, poster frames, a video's keyframes."""

from __future__ import annotations

from typing import Any

import psycopg


def product_photo_ids(conn: psycopg.Connection, tenant: str, skus: list[str], per_product: int) -> list[dict[str, Any]]:
    """``(sku, id)`` of at most ``per_product`` photos of each product, by object key."""
    return conn.execute(
        "SELECT sku, id FROM ("
        "  SELECT sku, id, row_number() OVER (PARTITION BY sku ORDER BY object_key) AS n"
        "  FROM product_images WHERE tenant_id = %s AND sku = ANY(%s)"
        ") ranked WHERE n <= %s ORDER BY sku, n",
        (tenant, skus, per_product),
    ).fetchall()


def poster_frames(conn: psycopg.Connection, tenant: str, video_ids: list[str]) -> dict[str, int]:
    """A keyframe id per video: its best appearance's frame, else the keyframe nearest the middle."""
    rows = conn.execute(
        "SELECT v.video_id, COALESCE("
        "  (SELECT a.best_frame_id FROM appearances a WHERE a.tenant_id = v.tenant_id AND a.video_id = v.video_id"
        "   ORDER BY a.best_score DESC, a.start_t LIMIT 1),"
        "  (SELECT f.id FROM frames f WHERE f.tenant_id = v.tenant_id AND f.video_id = v.video_id"
        "   ORDER BY abs(f.t - v.duration / 2), f.id LIMIT 1)) AS id"
        " FROM videos v WHERE v.tenant_id = %s AND v.video_id = ANY(%s)",
        (tenant, video_ids),
    ).fetchall()
    return {row["video_id"]: row["id"] for row in rows if row["id"] is not None}


def video_keyframes(conn: psycopg.Connection, tenant: str, video_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A video's duration, fps and size, and its keyframes' ``(id, t)`` in time order (None and [] for no such video)."""
    row = conn.execute(
        "SELECT video_id, duration, fps, width, height FROM videos WHERE tenant_id = %s AND video_id = %s", (tenant, video_id)
    ).fetchone()
    if row is None:
        return None, []
    frames = conn.execute("SELECT id, t FROM frames WHERE tenant_id = %s AND video_id = %s ORDER BY t", (tenant, video_id)).fetchall()
    return row, frames
