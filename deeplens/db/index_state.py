"""The per-tenant index generation: bumped whenever what search can find changes.

Search caches key their results by it, so a change invalidates every cached result of the
tenant at once, in every process (the counter lives in PostgreSQL, which every step and the
results service share), without tracking which entries a change touched.
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
