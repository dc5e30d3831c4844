"""Bad input, recorded with its reason so the API and CLI can show it."""

from __future__ import annotations

from typing import Any

import psycopg


def record_failure(conn: psycopg.Connection, tenant: str, object_key: str, step: str, reason: str, message: str, event_id: str | None = None) -> None:
    """Record (or update) why ``step`` could not process ``object_key``."""
    conn.execute(
        "INSERT INTO failures (tenant_id, object_key, step, reason, message, event_id) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, object_key, step) DO UPDATE SET reason = EXCLUDED.reason, message = EXCLUDED.message,"
        " event_id = EXCLUDED.event_id, created_at = now()",
        (tenant, object_key, step, reason, message, event_id),
    )


def clear_failures(conn: psycopg.Connection, tenant: str, object_key: str) -> None:
    """Forget the failures of an object (its content changed, so it gets a fresh try)."""
    conn.execute("DELETE FROM failures WHERE tenant_id = %s AND object_key = %s", (tenant, object_key))


def list_failures(conn: psycopg.Connection, tenant: str, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Failures, newest first."""
    return conn.execute(
        "SELECT object_key, step, reason, message, event_id, created_at FROM failures WHERE tenant_id = %s"
        " ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
        (tenant, limit, offset),
    ).fetchall()
