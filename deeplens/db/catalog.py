"""Uploaded objects, products and their photos, videos and their keyframes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg


def record_object(conn: psycopg.Connection, tenant: str, key: str, kind: str, sha256: str, size: int) -> bool:
    """Remember an uploaded object; False when the same content was already recorded (a no-op re-upload)."""
    row = conn.execute(
        "INSERT INTO objects (tenant_id, key, kind, sha256, size) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, key) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size, updated_at = now()"
        " WHERE objects.sha256 <> EXCLUDED.sha256"
        " RETURNING key",
        (tenant, key, kind, sha256, size),
    ).fetchone()
    return row is not None


def hold_upload(conn: psycopg.Connection, tenant: str, key: str, sha256: str) -> bool:
    """Whether this content is still what was uploaded under ``key``, holding the upload's
    record until the transaction ends; False once the photo was removed (or replaced).

    A removal locks the record to delete it: it waits for a transaction that holds it, and
    a transaction that asks after the removal finds nothing to hold.
    """
    row = conn.execute(
        "SELECT 1 FROM objects WHERE tenant_id = %s AND key = %s AND sha256 = %s FOR SHARE", (tenant, key, sha256)
    ).fetchone()
    return row is not None


def upsert_product_image(conn: psycopg.Connection, tenant: str, sku: str, key: str, sha256: str, width: int, height: int) -> int:
    """Add (or refresh) a product photo; returns its id."""
    conn.execute("INSERT INTO products (tenant_id, sku) VALUES (%s, %s) ON CONFLICT DO NOTHING", (tenant, sku))
    return conn.execute(
        "INSERT INTO product_images (tenant_id, sku, object_key, sha256, width, height) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, object_key) DO UPDATE SET sha256 = EXCLUDED.sha256, width = EXCLUDED.width,"
        " height = EXCLUDED.height RETURNING id",
        (tenant, sku, key, sha256, width, height),
    ).fetchone()["id"]


@dataclass(frozen=True)
class VideoRow:
    """A video's decoded properties."""

    video_id: str
    object_key: str
    sha256: str
    fps: float
    frame_count: int
    width: int
    height: int
    duration: float


def upsert_video(conn: psycopg.Connection, tenant: str, video: VideoRow) -> None:
    """Add (or refresh) a video's row; new contents (another sha256) are not truncated until their scan says so."""
    conn.execute(
        "INSERT INTO videos (tenant_id, video_id, object_key, sha256, fps, frame_count, width, height, duration)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, video_id) DO UPDATE SET"
        " object_key = EXCLUDED.object_key, sha256 = EXCLUDED.sha256, fps = EXCLUDED.fps,"
        " frame_count = EXCLUDED.frame_count, width = EXCLUDED.width, height = EXCLUDED.height, duration = EXCLUDED.duration,"
        " truncated = videos.truncated AND videos.sha256 = EXCLUDED.sha256",
        (tenant, video.video_id, video.object_key, video.sha256, video.fps, video.frame_count, video.width, video.height, video.duration),
    )


def finish_video(conn: psycopg.Connection, tenant: str, video_id: str, truncated: bool) -> None:
    """Record, once a scan of the video (or of a segment of it) is done, how many keyframes it has and whether it ended early.

    The count is of the keyframes stored, so segments finishing in any order, or scanned
    again, leave the total right: each counts after its own keyframes are committed.
    """
    conn.execute(
        "UPDATE videos SET keyframes = (SELECT count(*) FROM frames f WHERE f.tenant_id = %s AND f.video_id = %s),"
        " truncated = truncated OR %s WHERE tenant_id = %s AND video_id = %s",
        (tenant, video_id, truncated, tenant, video_id),
    )


def upsert_frame(conn: psycopg.Connection, tenant: str, video_id: str, index: int, t: float, key: str, width: int, height: int) -> int:
    """Add (or refresh) a keyframe; returns its id."""
    return conn.execute(
        "INSERT INTO frames (tenant_id, video_id, frame_index, t, object_key, width, height) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, video_id, frame_index) DO UPDATE SET t = EXCLUDED.t, object_key = EXCLUDED.object_key"
        " RETURNING id",
        (tenant, video_id, index, t, key, width, height),
    ).fetchone()["id"]


def get_product_image(conn: psycopg.Connection, tenant: str, image_id: int) -> dict[str, Any] | None:
    """One product photo's row."""
    return conn.execute("SELECT * FROM product_images WHERE tenant_id = %s AND id = %s", (tenant, image_id)).fetchone()


def get_frame(conn: psycopg.Connection, tenant: str, frame_id: int) -> dict[str, Any] | None:
    """One keyframe's row."""
    return conn.execute("SELECT * FROM frames WHERE tenant_id = %s AND id = %s", (tenant, frame_id)).fetchone()


def neighbour_frames(conn: psycopg.Connection, tenant: str, video_id: str, frame_index: int) -> list[int]:
    """The ids of the keyframes just before and just after a video's frame ``frame_index``, where there are such."""
    rows = conn.execute(
        "(SELECT id FROM frames WHERE tenant_id = %(t)s AND video_id = %(v)s AND frame_index < %(i)s ORDER BY frame_index DESC LIMIT 1)"
        " UNION ALL"
        " (SELECT id FROM frames WHERE tenant_id = %(t)s AND video_id = %(v)s AND frame_index > %(i)s ORDER BY frame_index LIMIT 1)",
        {"t": tenant, "v": video_id, "i": frame_index},
    ).fetchall()
    return [row["id"] for row in rows]


def matched_frames_around(conn: psycopg.Connection, tenant: str, frame_ids: Sequence[int]) -> list[int]:
    """The keyframes just before and just after each video's run of ``frame_ids`` that already have matches."""
    rows = conn.execute(
        "WITH run AS (SELECT video_id, min(frame_index) AS first, max(frame_index) AS last FROM frames"
        "             WHERE tenant_id = %(t)s AND id = ANY(%(ids)s) GROUP BY video_id)"
        " SELECT n.id FROM run CROSS JOIN LATERAL ("
        "   (SELECT id FROM frames WHERE tenant_id = %(t)s AND video_id = run.video_id AND frame_index < run.first"
        "    ORDER BY frame_index DESC LIMIT 1)"
        "   UNION ALL"
        "   (SELECT id FROM frames WHERE tenant_id = %(t)s AND video_id = run.video_id AND frame_index > run.last"
        "    ORDER BY frame_index LIMIT 1)"
        " ) n"
        " WHERE EXISTS (SELECT 1 FROM frame_matches m WHERE m.tenant_id = %(t)s AND m.frame_id = n.id)"
        " ORDER BY n.id",
        {"t": tenant, "ids": list(frame_ids)},
    ).fetchall()
    return [row["id"] for row in rows]


def list_products(conn: psycopg.Connection, tenant: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Products with their photo count and appearance count, by sku."""
    return conn.execute(
        "SELECT p.sku, p.created_at,"
        " (SELECT count(*) FROM product_images i WHERE i.tenant_id = p.tenant_id AND i.sku = p.sku) AS images,"
        " (SELECT count(*) FROM appearances a WHERE a.tenant_id = p.tenant_id AND a.sku = p.sku) AS appearances"
        " FROM products p WHERE p.tenant_id = %s ORDER BY p.sku LIMIT %s OFFSET %s",
        (tenant, limit, offset),
    ).fetchall()


def product_images(conn: psycopg.Connection, tenant: str, sku: str) -> list[dict[str, Any]]:
    """A product's photos."""
    return conn.execute(
        "SELECT id, object_key, width, height FROM product_images WHERE tenant_id = %s AND sku = %s ORDER BY object_key",
        (tenant, sku),
    ).fetchall()


def list_videos(conn: psycopg.Connection, tenant: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Videos with their properties and appearance count, by id."""
    return conn.execute(
        "SELECT v.video_id, v.object_key, v.fps, v.frame_count, v.width, v.height, v.duration, v.keyframes, v.truncated,"
        " (SELECT count(*) FROM appearances a WHERE a.tenant_id = v.tenant_id AND a.video_id = v.video_id) AS appearances"
        " FROM videos v WHERE v.tenant_id = %s ORDER BY v.video_id LIMIT %s OFFSET %s",
        (tenant, limit, offset),
    ).fetchall()


def get_video(conn: psycopg.Connection, tenant: str, video_id: str) -> dict[str, Any] | None:
    """A video's row (object key, sha256, fps, size, ...), or None."""
    return conn.execute("SELECT * FROM videos WHERE tenant_id = %s AND video_id = %s", (tenant, video_id)).fetchone()


def video_keyframes(conn: psycopg.Connection, tenant: str, video_id: str) -> dict[int, int]:
    """A video's keyframes: frame index to frame id, in frame order."""
    rows = conn.execute(
        "SELECT frame_index, id FROM frames WHERE tenant_id = %s AND video_id = %s ORDER BY frame_index", (tenant, video_id)
    ).fetchall()
    return {row["frame_index"]: row["id"] for row in rows}


def objects_with_content(conn: psycopg.Connection, tenant: str, kind: str, sha256: str) -> list[str]:
    """Keys of a tenant's uploaded objects of ``kind`` holding exactly this content, oldest first.

    Takes a transaction-scoped lock on the content first, so two uploads of the same bytes
    are admitted one after the other and the second sees the first.
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{tenant}/content/{sha256}",))
    rows = conn.execute(
        "SELECT key FROM objects WHERE tenant_id = %s AND kind = %s AND sha256 = %s ORDER BY created_at, key",
        (tenant, kind, sha256),
    ).fetchall()
    return [row["key"] for row in rows]
