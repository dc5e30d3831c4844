"""Per-item top-k class probabilities (text search on classifier models such as mobilenet_v2)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg


def top_k_classes(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most probable classes of each row: ``(N, k)`` class ids and ``(N, k)`` probabilities, best first."""
    k = max(1, min(int(k), probs.shape[1]))
    ids = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    taken = np.take_along_axis(probs, ids, axis=1)
    order = np.argsort(-taken, axis=1)
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(taken, order, axis=1)


def upsert_class_scores(
    conn: psycopg.Connection, tenant: str, item_kind: str, item_ids: Sequence[int], model: str, probs: np.ndarray, k: int
) -> None:
    """Store the top-``k`` class probabilities of each item for ``model`` (replacing older ones)."""
    ids, taken = top_k_classes(np.asarray(probs, dtype=np.float32), k)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO class_scores (tenant_id, item_kind, item_id, model, class_ids, probs) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (tenant_id, item_kind, item_id, model) DO UPDATE SET class_ids = EXCLUDED.class_ids,"
            " probs = EXCLUDED.probs, created_at = now()",
            [
                (tenant, item_kind, int(item_id), model, [int(c) for c in row_ids], [float(p) for p in row_probs])
                for item_id, row_ids, row_probs in zip(item_ids, ids, taken)
            ],
        )


def has_class_scores(conn: psycopg.Connection, tenant: str, model: str) -> bool:
    """Whether any item of the tenant has class scores under ``model``."""
    row = conn.execute(
        "SELECT 1 FROM class_scores WHERE tenant_id = %s AND model = %s LIMIT 1", (tenant, model)
    ).fetchone()
    return row is not None
