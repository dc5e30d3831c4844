"""Which product photos and keyframes still lack a model's vector (or class scores): reindex's work list."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

_TABLES = {"product_image": "product_images", "frame": "frames"}


@dataclass(frozen=True)
class Pending:
    """An item to (re)embed: its kind, id and stored object."""

    item_kind: str
    item_id: int
    key: str


def _missing_sql(item_kind: str, with_classes: bool) -> str:
    table = _TABLES[item_kind]
    missing = (
        "NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.tenant_id = t.tenant_id AND e.item_kind = %(kind)s"
        " AND e.item_id = t.id AND e.model = %(model)s)"
    )
    if with_classes:
        missing = (
            f"({missing} OR NOT EXISTS (SELECT 1 FROM class_scores c WHERE c.tenant_id = t.tenant_id"
            " AND c.item_kind = %(kind)s AND c.item_id = t.id AND c.model = %(model)s))"
        )
    return f"FROM {table} t WHERE t.tenant_id = %(tenant)s AND {missing}"


def count_missing(conn: psycopg.Connection, tenant: str, item_kind: str, model: str, *, with_classes: bool) -> int:
    """How many items of ``item_kind`` lack ``model``'s vector (or, ``with_classes``, its class scores)."""
    params = {"tenant": tenant, "kind": item_kind, "model": model}
    return int(conn.execute("SELECT count(*) AS n " + _missing_sql(item_kind, with_classes), params).fetchone()["n"])


def next_missing(
    conn: psycopg.Connection, tenant: str, item_kind: str, model: str, *, after_id: int, limit: int, with_classes: bool
) -> list[Pending]:
    """The next ``limit`` items (by id, after ``after_id``) that lack ``model``'s vector or class scores."""
    params = {"tenant": tenant, "kind": item_kind, "model": model, "after": after_id, "limit": limit}
    rows = conn.execute(
        "SELECT t.id, t.object_key " + _missing_sql(item_kind, with_classes) + " AND t.id > %(after)s ORDER BY t.id LIMIT %(limit)s",
        params,
    ).fetchall()
    return [Pending(item_kind, int(r["id"]), r["object_key"]) for r in rows]
