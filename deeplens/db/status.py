"""What the status and listing routes read: counts of a tenant's rows, uploaded objects, and deliveries in flight."""

from __future__ import annotations

from typing import Any, Literal

import psycopg

CountedTable = Literal["products", "videos", "failures", "objects"]
_COUNTED: frozenset[str] = frozenset(CountedTable.__args__)


def count_rows(conn: psycopg.Connection, table: CountedTable, tenant: str) -> int:
    """How many rows of ``table`` the tenant has (the total of a page)."""
    if table not in _COUNTED:  # the name goes into the statement: only these tables, never input
        raise ValueError(f"not a counted table: {table!r}")
    return conn.execute(f"SELECT count(*) AS n FROM {table} WHERE tenant_id = %s", (tenant,)).fetchone()["n"]


def object_keys(conn: psycopg.Connection, tenant: str, *, limit: int, offset: int) -> list[str]:
    """A page of the tenant's uploaded object keys, in key order."""
    rows = conn.execute("SELECT key FROM objects WHERE tenant_id = %s ORDER BY key LIMIT %s OFFSET %s", (tenant, limit, offset))
    return [row["key"] for row in rows]


def object_kinds(conn: psycopg.Connection, tenant: str, keys: list[str]) -> dict[str, str]:
    """The kind of each of these uploaded objects (keys never seen are left out)."""
    rows = conn.execute("SELECT key, kind FROM objects WHERE tenant_id = %s AND key = ANY(%s)", (tenant, keys))
    return {row["key"]: row["kind"] for row in rows}


def failures_of(conn: psycopg.Connection, tenant: str, keys: list[str]) -> list[dict[str, Any]]:
    """The recorded failures of these objects, oldest first."""
    return conn.execute("SELECT * FROM failures WHERE tenant_id = %s AND object_key = ANY(%s) ORDER BY id", (tenant, keys)).fetchall()


def deliveries_in_flight(conn: psycopg.Connection, tenant: str, keys: list[str]) -> dict[str, int]:
    """Deliveries pending or running for each of these uploads (by the key they descend from)."""
    rows = conn.execute(
        "SELECT root_key, count(*) AS n FROM deliveries WHERE tenant_id = %s AND root_key = ANY(%s)"
        " AND status IN ('pending', 'running') GROUP BY root_key",
        (tenant, keys),
    )
    return {row["root_key"]: row["n"] for row in rows}


def photos_waiting(conn: psycopg.Connection, tenant: str, keys: list[str]) -> dict[str, dict[str, Any] | None]:
    """Which of these uploads are product photos still waiting for their match step's pass over
    earlier keyframes: each with None while that pass is on its way, or the dead letter of the
    pass that was given up on (its ``error`` and ``created_at``).

    Photos stored together go on to the match step as one event, which descends from one
    of them only, so the others have no delivery in flight until that pass has run. A pass
    given up on leaves every photo it would have taken waiting: it is the one dead-lettered
    (and not replayed) after the photo was stored, while no match delivery of the tenant is
    in flight that could take them instead.
    """
    rows = conn.execute(
        "SELECT pi.object_key, dl.error, dl.created_at FROM local_features lf"
        " JOIN product_images pi ON pi.tenant_id = lf.tenant_id AND pi.id = lf.item_id"
        " LEFT JOIN LATERAL (SELECT error, created_at FROM dead_letters d WHERE d.tenant_id = %(tenant)s"
        "   AND d.subscriber = 'match' AND d.replayed_at IS NULL AND d.event->'data'->>'item_kind' = 'product_image'"
        "   AND d.created_at >= pi.created_at"
        # Not tied to the row, so asked once for all of them.
        "   AND NOT EXISTS (SELECT 1 FROM deliveries q WHERE q.tenant_id = %(tenant)s AND q.subscriber = 'match'"
        "                   AND q.status IN ('pending', 'running'))"
        "   ORDER BY d.id DESC LIMIT 1) dl ON true"
        " WHERE lf.tenant_id = %(tenant)s AND lf.item_kind = 'product_image' AND lf.earlier_frames_waiting"
        " AND pi.object_key = ANY(%(keys)s)",
        {"tenant": tenant, "keys": keys},
    )
    return {row["object_key"]: None if row["error"] is None else {"error": row["error"], "created_at": row["created_at"]} for row in rows}


def queue_depth(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Deliveries of every tenant by status, with the age in seconds of the oldest of each (the queue's metrics)."""
    return conn.execute(
        "SELECT status, count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age FROM deliveries GROUP BY status"
    ).fetchall()
