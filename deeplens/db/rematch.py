"""Whether a tenant's rematch is under way, read from the durable delivery queue."""

from __future__ import annotations

import psycopg

from eventing import types

# Namespaces pg_advisory_xact_lock(int, int) keys: this one is the rematch quota's.
_LOCK_SPACE = 0x0DEE_4E3A


def lock_tenant_rematch(conn: psycopg.Connection, tenant: str) -> None:
    """Hold the tenant's rematch lock until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_SPACE, tenant))


def rematch_pending(conn: psycopg.Connection, tenant: str) -> bool:
    """Whether a ``rematch.requested`` delivery of ``tenant`` (the request or a follow-up) is pending or running."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE tenant_id = %s AND event_type = %s"
        " AND status IN ('pending', 'running')) AS pending",
        (tenant, types.REMATCH_REQUESTED),
    ).fetchone()
    return bool(row["pending"])
