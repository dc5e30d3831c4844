"""Keypoints and descriptors of indexed images, for geometric verification."""

from __future__ import annotations

import psycopg


def put_local_features(conn: psycopg.Connection, tenant: str, item_kind: str, item_id: int, kind: str, count: int, data: bytes) -> None:
    """Store an item's serialized local features (replacing older ones)."""
    conn.execute(
        "INSERT INTO local_features (tenant_id, item_kind, item_id, kind, count, data) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, item_kind, item_id) DO UPDATE SET kind = EXCLUDED.kind, count = EXCLUDED.count, data = EXCLUDED.data",
        (tenant, item_kind, item_id, kind, count, data),
    )


def get_local_features(conn: psycopg.Connection, tenant: str, item_kind: str, item_ids: list[int]) -> dict[int, bytes]:
    """Serialized local features of several items, by id (absent items are left out)."""
    rows = conn.execute(
        "SELECT item_id, data FROM local_features WHERE tenant_id = %s AND item_kind = %s AND item_id = ANY(%s)",
        (tenant, item_kind, item_ids),
    ).fetchall()
    return {row["item_id"]: bytes(row["data"]) for row in rows}
