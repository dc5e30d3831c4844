"""Keypoints and descriptors of indexed images, for geometric verification."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import psycopg


def put_local_features(conn: psycopg.Connection, tenant: str, item_kind: str, item_id: int, kind: str, count: int, data: bytes) -> None:
    """Store an item's serialized local features (replacing older ones)."""
    conn.execute(
        "INSERT INTO local_features (tenant_id, item_kind, item_id, kind, count, data) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, item_kind, item_id) DO UPDATE SET kind = EXCLUDED.kind, count = EXCLUDED.count,"
        " data = EXCLUDED.data, indexed_at = clock_timestamp()",
        (tenant, item_kind, item_id, kind, count, data),
    )


def get_local_features(conn: psycopg.Connection, tenant: str, item_kind: str, item_ids: list[int]) -> dict[int, bytes]:
    """Serialized local features of several items, by id (absent items are left out)."""
    rows = conn.execute(
        "SELECT item_id, data FROM local_features WHERE tenant_id = %s AND item_kind = %s AND item_id = ANY(%s)",
        (tenant, item_kind, item_ids),
    ).fetchall()
    return {row["item_id"]: bytes(row["data"]) for row in rows}


def indexed_at(conn: psycopg.Connection, tenant: str, item_kind: str, item_id: int) -> datetime | None:
    """When an item's local features were (last) written."""
    row = conn.execute(
        "SELECT indexed_at FROM local_features WHERE tenant_id = %s AND item_kind = %s AND item_id = %s",
        (tenant, item_kind, item_id),
    ).fetchone()
    return None if row is None else row["indexed_at"]


# Keyframes of a model whose features were written before a time (params: tenant, model,
# before): what a newly indexed product photo is checked against, and what it could be.
_FRAMES_INDEXED_BEFORE = (
    " FROM embeddings e"
    " JOIN local_features lf ON lf.tenant_id = e.tenant_id AND lf.item_kind = e.item_kind AND lf.item_id = e.item_id"
    " WHERE e.tenant_id = %s AND e.item_kind = 'frame' AND e.model = %s AND lf.indexed_at < %s"
)


def frames_indexed_before(
    conn: psycopg.Connection, tenant: str, model: str, query: np.ndarray, before: datetime, limit: int
) -> list[tuple[int, float]]:
    """Keyframes whose features were written before ``before``, most similar to ``query`` first."""
    rows = conn.execute(
        "SELECT e.item_id, 1 - (e.embedding <=> %s::vector) AS similarity" + _FRAMES_INDEXED_BEFORE
        + " ORDER BY e.embedding <=> %s::vector LIMIT %s",
        (query.astype(np.float32), tenant, model, before, query.astype(np.float32), limit),
    ).fetchall()
    return [(row["item_id"], float(row["similarity"])) for row in rows]


def count_frames_indexed_before(conn: psycopg.Connection, tenant: str, model: str, before: datetime) -> int:
    """How many keyframes :func:`frames_indexed_before` chooses from."""
    row = conn.execute("SELECT count(*) AS n" + _FRAMES_INDEXED_BEFORE, (tenant, model, before)).fetchone()
    return int(row["n"])
