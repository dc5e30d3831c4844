"""The per-tenant index generation: bumped whenever what search can find changes; and the
catalog generation: advanced whenever a product photo's features change.

Search caches key their results by it, so a change invalidates every cached result of the
tenant at once, in every process (the counter lives in PostgreSQL, which every step and the
results service share), without tracking which entries a change touched.

The catalog generation orders photo writes against keyframe writes for matching (see
migration 010): a keyframe's features record the catalog generation their write saw.
"""

from __future__ import annotations

import psycopg


def bump_generation(conn: psycopg.Connection, tenant: str) -> int:
    """Advance the tenant's generation; returns the new one.

    Call it last in the transaction that changed the index: the row lock it takes is then
    held only until commit, and a reader never sees the new generation before the new rows.
    """
    return conn.execute(
        "INSERT INTO index_state (tenant_id, generation) VALUES (%s, 1) ON CONFLICT (tenant_id) DO UPDATE"
        " SET generation = index_state.generation + 1, updated_at = now() RETURNING generation",
        (tenant,),
    ).fetchone()["generation"]


def catalog_generation(conn: psycopg.Connection, tenant: str) -> int:
    """The tenant's catalog generation: how many times its product photos' features changed (0 before any)."""
    row = conn.execute("SELECT catalog_generation FROM index_state WHERE tenant_id = %s", (tenant,)).fetchone()
    return row["catalog_generation"] if row else 0


def advance_catalog_generation(conn: psycopg.Connection, tenant: str, photo_ids: list[int]) -> int:
    """Advance the tenant's catalog generation and give it to these product photos' features; returns it.

    Generations follow commit order: the row lock taken here is held until commit, so the
    next writer gets a higher generation only after this one's photos are visible. Call it
    late in the transaction, as :func:`bump_generation`.
    """
    generation = conn.execute(
        "INSERT INTO index_state (tenant_id, generation, catalog_generation) VALUES (%s, 0, 1) ON CONFLICT (tenant_id)"
        " DO UPDATE SET catalog_generation = index_state.catalog_generation + 1, updated_at = now() RETURNING catalog_generation",
        (tenant,),
    ).fetchone()["catalog_generation"]
    conn.execute(
        "UPDATE local_features SET catalog_generation = %s WHERE tenant_id = %s AND item_kind = 'product_image' AND item_id = ANY(%s)",
        (generation, tenant, photo_ids),
    )
    return generation


def search_state(conn: psycopg.Connection, tenant: str, model: str) -> tuple[int | None, int | None]:
    """The tenant's index generation and the model's stored vector dimension (None where there is none yet)."""
    row = conn.execute(
        "SELECT (SELECT generation FROM index_state WHERE tenant_id = %s) AS generation, (SELECT dim FROM models WHERE model = %s) AS dim",
        (tenant, model),
    ).fetchone()
    return row["generation"], row["dim"]
